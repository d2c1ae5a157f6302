"""Containers: Sequential runs modules in order; ModuleList and ModuleDict hold modules so that
their parameters are registered."""

import itertools
from collections import OrderedDict

from chainrule._tensor import Tensor
from chainrule.nn.activation import ReLU
from chainrule.nn.module import Module
from chainrule.nn.pooling import MaxPool1d, MaxPool2d

_MODULE_CALL = Module.__call__
_MAX_POOLS = (MaxPool1d, MaxPool2d)


class Sequential(Module):
    """Modules applied one after another: ``Sequential(a, b)(x) == b(a(x))``.

    >>> from chainrule import nn
    >>> nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    Sequential(  # 15 parameters
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): ReLU()
    )
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)
        self._refresh()

    def _refresh(self):
        layers = tuple(m for m in self._modules.values() if m is not None)
        object.__setattr__(self, "_layers", layers)
        object.__setattr__(self, "_relu_then_max_pool", any(
            type(a) is ReLU and type(b) in _MAX_POOLS for a, b in itertools.pairwise(layers)))

    def add_module(self, name, module):
        super().add_module(name, module)
        if "_layers" in self.__dict__:
            self._refresh()

    def append(self, module) -> "Sequential":
        self.add_module(str(len(self._modules)), module)
        return self

    def forward(self, x):
        if self._relu_then_max_pool:
            return self._forward_pool_first(x)
        for layer in self._layers:
            # A layer without forward hooks is its forward: calling that directly skips
            # Module.__call__'s frame and argument packing (~2k instructions a layer).
            x = layer.forward(x) if not layer._hooked and type(layer).__call__ is _MODULE_CALL else layer(x)
        return x

    def _forward_pool_first(self, x):
        """forward, with each ReLU that max-pools follow run after them, on the 4x smaller pooled
        tensor. Exact: max commutes with the monotone ReLU, so the values are the same (but for
        the sign of a zero: a window of non-positive values holding -0.0 may give -0.0 for 0.0),
        and so are the gradients (a window whose maximum is positive sends it to the same first
        maximum; any other sends 0 either way; a nan maximum passes in both orders). Invisible:
        done only where no hook could see the other order (none on the ReLU or the pools), the
        pools return no indices (an all-negative window's first maximum is not its ReLU's), and
        the ReLU's input is a floating tensor (anything else gets the plain order's error)."""
        layers, i = self._layers, 0
        while i < len(layers):
            layer, j = layers[i], i + 1
            if type(layer) is ReLU and not layer._hooked and isinstance(x, Tensor) and x.dtype.kind == "f":
                while j < len(layers) and type(layers[j]) in _MAX_POOLS and not layers[j]._hooked \
                        and not layers[j].return_indices:
                    x = layers[j].forward(x)
                    j += 1
            x = _run(layer, x)
            i = j
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*list(self._modules.values())[index])
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


def _run(layer, x):
    """``layer(x)``, as Sequential.forward calls it (the forward itself when no hook waits)."""
    return layer.forward(x) if not layer._hooked and type(layer).__call__ is _MODULE_CALL else layer(x)


class ModuleList(Module):
    """A list of modules whose parameters belong to the owner."""

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module) -> "ModuleList":
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules whose parameters belong to the owner."""

    def __init__(self, modules=None):
        super().__init__()
        for name, module in (modules or {}).items():
            self[name] = module

    def __getitem__(self, name):
        return self._modules[name]

    def __setitem__(self, name, module):
        self.add_module(name, module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, name):
        return name in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()
