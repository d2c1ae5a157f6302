"""Padding layers: the border added around the last 1, 2 or 3 dims of a batch, by F.pad (zeros, a
constant, a mirror image, the edge repeated, or the other side wrapped round); negative widths crop."""

from chainrule._arguments import int_arg, number_arg
from chainrule.nn.module import Module
from chainrule.ops.operands import tensor_input
from chainrule.ops.shape import pad


class _Pad(Module):
    """One N-d padding layer; the classes below fix its mode and number of dims."""

    mode = "constant"
    nd = 1

    def __init__(self, padding, value=None):
        super().__init__()
        name = type(self).__name__
        if isinstance(padding, (tuple, list)):
            if len(padding) != 2 * self.nd:
                raise ValueError(f"{name}: padding must be an int or {2 * self.nd} ints, got {tuple(padding)}")
            self.padding = tuple(int_arg(p, "padding", name, None) for p in padding)
        else:
            self.padding = (int_arg(padding, "padding", name, None),) * (2 * self.nd)
        self.value = None if value is None else number_arg(value, "value", name)

    def forward(self, x):
        x = tensor_input(x, type(self).__name__)
        if self.mode == "constant":
            return pad(x, self.padding, value=self.value or 0.0)
        return pad(x, self.padding, mode=self.mode)

    def extra_repr(self):
        return f"{self.padding}" if self.value is None else f"padding={self.padding}, value={self.value}"


def _face(name, mode, nd, doc, constant=False):
    if constant:

        def __init__(self, padding, value: float):
            _Pad.__init__(self, padding, value)

    else:

        def __init__(self, padding):
            _Pad.__init__(self, padding)

    return type(name, (_Pad,), {"mode": mode, "nd": nd, "__init__": __init__, "__doc__": doc,
                                "__module__": __name__})


_SHAPES = {1: "(N, C, W) or (C, W)", 2: "(N, C, H, W) or (C, H, W)", 3: "(N, C, D, H, W) or (C, D, H, W)"}
_ORDER = {1: "(left, right)", 2: "(left, right, top, bottom)", 3: "(left, right, top, bottom, front, back)"}


def _doc(what, nd):
    return (f"Pad the last {nd} dim(s) of a {_SHAPES[nd]} input with {what}; ``padding`` is one int for "
            f"every side or {_ORDER[nd]}.")


ZeroPad1d = _face("ZeroPad1d", "constant", 1, _doc("zeros", 1))
ZeroPad2d = _face("ZeroPad2d", "constant", 2, _doc("zeros", 2))
ZeroPad3d = _face("ZeroPad3d", "constant", 3, _doc("zeros", 3))
ConstantPad1d = _face("ConstantPad1d", "constant", 1, _doc("``value``", 1), constant=True)
ConstantPad2d = _face("ConstantPad2d", "constant", 2, _doc("``value``", 2), constant=True)
ConstantPad3d = _face("ConstantPad3d", "constant", 3, _doc("``value``", 3), constant=True)
ReflectionPad1d = _face("ReflectionPad1d", "reflect", 1, _doc("its mirror image (edge not repeated)", 1))
ReflectionPad2d = _face("ReflectionPad2d", "reflect", 2, _doc("its mirror image (edge not repeated)", 2))
ReflectionPad3d = _face("ReflectionPad3d", "reflect", 3, _doc("its mirror image (edge not repeated)", 3))
ReplicationPad1d = _face("ReplicationPad1d", "replicate", 1, _doc("copies of the edge", 1))
ReplicationPad2d = _face("ReplicationPad2d", "replicate", 2, _doc("copies of the edge", 2))
ReplicationPad3d = _face("ReplicationPad3d", "replicate", 3, _doc("copies of the edge", 3))
CircularPad1d = _face("CircularPad1d", "circular", 1, _doc("the other side, wrapped round", 1))
CircularPad2d = _face("CircularPad2d", "circular", 2, _doc("the other side, wrapped round", 2))
CircularPad3d = _face("CircularPad3d", "circular", 3, _doc("the other side, wrapped round", 3))
