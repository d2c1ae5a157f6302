"""In-place operations (``add_``, ``mul_``, ``zero_``, ``copy_``, ``x[i] = v`` ...): each is its
out-of-place op, written back into the tensor's own memory, so views and detached copies see it.

Every modification bumps the tensor's version counter: a node that saved the tensor for backward
then refuses to run on the changed values (``engine._check_versions``), as PyTorch's does. Under
no_grad (initialisation, manual updates) that is all. In a recorded graph the tensor also takes
the op's node as its ``grad_fn``; its earlier value moves to a fresh tensor (``node.previous``)
that the ops which used it before the modification still send their gradients to. A leaf that
requires grad cannot be modified in a recorded graph: its gradient would have nowhere to go.
"""

import sys

import numpy as np

from chainrule import random
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph
from chainrule.autograd.mode import no_grad, state
from chainrule.ops import arithmetic
from chainrule.ops.indexing import PLAIN_VIEWS, _parts, getitem, index_put, plain_view_base
from chainrule.ops.operands import constant
from chainrule.ops.shape import cast
from chainrule.ops.unary import clip


def modify(target, op, name, *operands):
    """``target <- op(target, *operands)`` in place; returns target."""
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(target).__name__}")
    recording = needs_graph(target, *(o for o in operands if isinstance(o, Tensor)))
    if not recording:  # nothing requires grad, or grad mode is off: the op records nothing either
        result = op(target, *operands)
        _write(target, result._data, name)
        target._bump_version()
        return target
    if target.grad_fn is None and target.requires_grad:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad (shape {tuple(target.shape)}) is being used in "
            "an in-place operation; modify it under no_grad(), or out of place"
        )
    views = _view_chain(target, name)
    if not views and target.grad_fn is None and _is_shared(target):
        plain = _plain_view(target)
        if plain is not None:
            return _modify_plain_view(target, op, name, operands, *plain)
        raise RuntimeError(
            f"{name}: the tensor (shape {tuple(target.shape)}) shares its memory with another tensor (a view, "
            "its base or a detach()) that is not in the graph, so the gradient of the value written here "
            "could not reach the other's later uses; clone it first, or write into the base itself"
        )
    # The value before the change, for the ops that used it already and for this op's rule.
    previous = Tensor._make(target._data.copy(), target.requires_grad, target.grad_fn)
    operands = tuple(previous if o is target else o for o in operands)  # x.add_(x) reads the old x
    target._bump_version()
    target._version.append(state.inplace_ops)  # views taken before this see their node go stale
    # previous's own node may hold the modified memory as its output: a count of its own, already
    # past what that node expects, makes backward refuse it (later changes of target are not its)
    previous._version = target._version[:2]
    result = op(previous, *operands)
    _write(target, result._data, name)
    node = result.grad_fn
    if node is None:  # the new value does not depend on anything that requires grad
        target.grad_fn, target.requires_grad = None, False
    else:
        node.previous = previous
        target.grad_fn, target.requires_grad = node, True
    view = target
    for view_node, inside in views:
        previous = _rebase(view, view_node, inside, previous)
        view = view_node.parents[0]
    return target


def _plain_view(tensor):
    """(base, index parts) when ``tensor`` is a basic-index view of a base outside the graph, and
    nothing else shares their memory (another view would miss the gradient): PyTorch's
    ``forces = zeros_like(x); forces[i] += f``, where the base joins the graph through the view."""
    found = plain_view_base(tensor)
    if found is None:
        return None
    base, parts = found
    alone = sys.getrefcount(tensor._version) == 3  # the base's slot, the view's, the argument
    if base._version is not tensor._version or base.grad_fn is not None or base.requires_grad or not alone:
        return None
    return base, parts


def _modify_plain_view(target, op, name, operands, base, parts):
    """The in-place op on a view whose base was outside the graph: the base becomes
    ``index_put(base_before, parts, new view value)`` and the view is indexed from it again, as
    PyTorch's CopySlices does, so later uses of either (and later in-place ops) reach the operands."""
    base_before = Tensor._make(base._data.copy(), False, None)
    previous = Tensor._make(target._data.copy(), False, None)
    operands = tuple(previous if o is target else o for o in operands)
    target._bump_version()
    target._version.append(state.inplace_ops)
    value = op(previous, *operands)
    rebased = index_put(base_before, parts, value)
    _write(base, rebased._data, name)
    if rebased.grad_fn is None:  # the new value does not depend on anything that requires grad
        return target
    rebased.grad_fn.previous = base_before
    base.grad_fn, base.requires_grad = rebased.grad_fn, True
    view = getitem(base, parts)
    view.grad_fn.previous = previous
    target.grad_fn, target.requires_grad = view.grad_fn, True
    PLAIN_VIEWS.pop(id(target), None)
    return target


def _view_chain(tensor, name):
    """For a tensor that views another in the graph (view ops share their input's version
    counter), and so on up to the first base: [(view node, the region it covers in its base)],
    checked before anything is written."""
    chain = []
    node = tensor.grad_fn
    while node is not None and len(node.parents) == 1 and node.parents[0]._version is tensor._version is not None:
        base = node.parents[0]
        if node.vjp is None:
            raise RuntimeError(
                f"{name}: the tensor is a view whose graph was already released by backward(); modify it "
                "before backward, or clone it first"
            )
        if node.saved is None:
            raise RuntimeError(
                f"{name}: the tensor is a view made by {node.name}, whose rule cannot be differentiated "
                "again, so its base cannot take the change: clone the view first"
            )
        if base.grad_fn is None and base.requires_grad:
            raise RuntimeError(
                f"{name}: a view of a leaf tensor that requires grad (shape {tuple(base.shape)}) is being "
                "used in an in-place operation; modify it under no_grad(), or out of place"
            )
        with no_grad():
            region = _placed(node, xp.ones_like(tensor._data), False)
        if region.shape != base._data.shape or (region > 1).any():
            raise RuntimeError(
                f"{name}: the tensor is an expanded view (shape {tuple(tensor.shape)} of a tensor of shape "
                f"{tuple(base.shape)}): several of its elements share one memory location; clone it first"
            )
        chain.append((node, region != 0))
        tensor, node = base, base.grad_fn
    return chain


def _is_shared(tensor):
    """Whether another tensor (a view, its base or a detach()) holds this tensor's version counter."""
    return tensor._version is not None and sys.getrefcount(tensor._version) > 2  # the slot and the argument


def _rebase(view, view_node, inside, previous):
    """After ``view`` (in the graph) was modified in place, give its base the new value too, as
    PyTorch's CopySlices does: ``base = where(inside, V(view), base_before)``, where V is the view
    op's own backward rule (it puts a view-shaped tensor where the view sits in its base), so the
    base's later uses send their gradient through the modification. Returns base_before."""
    base = view_node.parents[0]
    with no_grad():
        before = xp.where(inside, _placed(view_node, previous._data, False), base._data)
    base_before = Tensor._make(before, base.requires_grad, base.grad_fn)
    rebased = arithmetic.where(inside, _placed(view_node, view, True), base_before)
    rebased.grad_fn.previous = base_before
    base.grad_fn, base.requires_grad = rebased.grad_fn, True
    return base_before


def _placed(view_node, values, as_tensor):
    """``values`` (the view's shape) placed where the view sits in its base, zeros elsewhere: the
    view op's backward rule, on arrays or (recorded) on tensors."""
    if as_tensor:
        saved = view_node.remake(*view_node.parents) if view_node.remake is not None else view_node.saved
        return view_node.vjp(values, *saved)[0]
    return view_node.vjp(values, *view_node.arrays)[0]


def _write(target, values, name):
    data = target._data
    if values.shape != data.shape:
        try:
            values = xp.broadcast_to(values, data.shape)
        except ValueError:
            raise RuntimeError(
                f"{name}: the result has shape {values.shape}, which does not fit the tensor's shape "
                f"{data.shape} (an in-place op cannot change the shape)"
            ) from None
    if values.dtype != data.dtype and not xp.can_cast(values.dtype, data.dtype, "same_kind"):
        raise RuntimeError(
            f"{name}: the result type {values.dtype} can't be cast to the tensor's dtype {data.dtype}"
        )
    if not data.flags.writeable:
        raise RuntimeError(f"{name}: the tensor's memory is read-only (shape {data.shape})")
    data[...] = values


def _replaced(old, values):
    """``values`` in old's place: the result of fill_/zero_/copy_/normal_ (no gradient to old)."""
    keep = xp.zeros((), dtype=bool)
    return arithmetic.where(keep, old, values)


def _scaled(other, alpha):
    if alpha == 1:
        return other
    return arithmetic.mul(other, alpha)


def _updated(target, other, ufunc):
    """The manual update (``p.data -= lr * p.grad`` under no_grad) made short: outside a recorded
    graph, a floating tensor and an operand of its own dtype (a tensor, or a Python number) give
    exactly the out-of-place op's values, so one NumPy ufunc writes them into the tensor's memory.
    None where the general path is needed (it also explains what does not fit)."""
    d = target._data
    if d.dtype.kind != "f" or needs_graph(target, other if isinstance(other, Tensor) else None):
        return None
    if isinstance(other, Tensor):
        if other._data.dtype != d.dtype:
            return None
        other = other._data
    elif type(other) is not float and type(other) is not int:
        return None
    try:
        ufunc(d, other, out=d)
    except ValueError:  # a shape that does not fit, read-only memory
        return None
    target._bump_version()
    return target


def _old_overload(name, other, deprecated, alpha):
    """PyTorch still takes ``x.add_(alpha, other)`` (its old order, kept by older scripts such as
    ``p.data.add_(-lr, p.grad.data)``): (other, alpha) in either order."""
    if not deprecated:
        return other, alpha
    if len(deprecated) > 1 or isinstance(other, Tensor) or not isinstance(deprecated[0], Tensor) or alpha != 1:
        raise TypeError(
            f"{name}: expected ({name}(other, *, alpha=1) or the old {name}(alpha, other) with a number "
            f"and a tensor), got the positional arguments {(other, *deprecated)!r}"
        )
    return deprecated[0], other


def add_(self, other, *deprecated, alpha=1) -> Tensor:
    other, alpha = _old_overload("add_", other, deprecated, alpha)
    if alpha == 1 and _updated(self, other, xp.add) is not None:
        return self
    return modify(self, lambda old, o: arithmetic.add(old, _scaled(o, alpha)), "add_", other)


def sub_(self, other, *deprecated, alpha=1) -> Tensor:
    other, alpha = _old_overload("sub_", other, deprecated, alpha)
    if alpha == 1 and _updated(self, other, xp.subtract) is not None:
        return self
    return modify(self, lambda old, o: arithmetic.sub(old, _scaled(o, alpha)), "sub_", other)


def mul_(self, other) -> Tensor:
    if _updated(self, other, xp.multiply) is not None:
        return self
    return modify(self, arithmetic.mul, "mul_", other)


def div_(self, other) -> Tensor:
    if _updated(self, other, xp.divide) is not None:
        return self
    return modify(self, arithmetic.div, "div_", other)


def pow_(self, exponent) -> Tensor:
    return modify(self, arithmetic.pow, "pow_", exponent)


def neg_(self) -> Tensor:
    return modify(self, arithmetic.neg, "neg_")


def clamp_(self, min=None, max=None) -> Tensor:
    return modify(self, lambda old: clip(old, min, max), "clamp_")


def fill_(self, value) -> Tensor:
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"fill_: only a 0-d tensor fills, got one of shape {value.shape}")
        return modify(self, _replaced, "fill_", value)
    return modify(self, lambda old: _replaced(old, constant(xp.asarray(value, dtype=old._data.dtype))), "fill_")


def zero_(self) -> Tensor:
    return fill_(self, 0)


def copy_(self, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast to this tensor's shape, cast to its dtype) into this tensor."""
    if not isinstance(src, Tensor):
        src = constant(xp.asarray(src))

    def copied(old, s):
        return _replaced(old, s if s._data.dtype == old._data.dtype else cast(s, old._data.dtype))

    return modify(self, copied, "copy_", src)


def _random_fill(self, draw, name):
    def drawn(old):
        values = draw(old._data.shape).astype(old._data.dtype, copy=False)
        return _replaced(old, constant(values))

    return modify(self, drawn, name)


def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    rng = generator if generator is not None else random.get_generator()
    return _random_fill(self, lambda shape: rng.normal(mean, std, size=shape), "normal_")


def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    rng = generator if generator is not None else random.get_generator()
    return _random_fill(self, lambda shape: rng.uniform(a, b, size=shape), "uniform_")


def setitem(self, index, value) -> None:
    """``self[index] = value`` (value a number, array or tensor, broadcast to the selection)."""
    if not isinstance(value, Tensor):
        value = constant(np.asarray(value))
    elif value._version is not None and value._version is self._version and _is_region(self, index, value):
        return  # ``x[i] *= 2``: Python's x[i].__imul__(2) already wrote through the view; this is x[i] = x[i]
    modify(self, lambda old, v: index_put(old, index, v), "__setitem__", value)


def _is_region(tensor, index, view):
    """Whether ``view`` is exactly ``tensor[index]``'s memory (same start, shape and strides)."""
    parts = _parts(index)
    try:
        region = tensor._data[parts]
        if type(region) is not xp.ndarray:  # one element: its 0-d view, as getitem takes it
            region = tensor._data[(*parts, Ellipsis)]
    except IndexError:
        return False
    data = view._data
    return (region.shape == data.shape and region.strides == data.strides
            and region.__array_interface__["data"][0] == data.__array_interface__["data"][0])
