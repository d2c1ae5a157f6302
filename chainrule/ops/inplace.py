"""In-place operations (``add_``, ``mul_``, ``zero_``, ``copy_``, ``x[i] = v`` ...): each is its
out-of-place op, written back into the tensor's own memory, so views and detached copies see it.

Every modification bumps the tensor's version counter: a node that saved the tensor for backward
then refuses to run on the changed values (``engine._check_versions``), as PyTorch's does. Under
no_grad (initialisation, manual updates) that is all. In a recorded graph the tensor also takes
the op's node as its ``grad_fn``; its earlier value moves to a fresh tensor (``node.previous``)
that the ops which used it before the modification still send their gradients to. A leaf that
requires grad cannot be modified in a recorded graph: its gradient would have nowhere to go.
"""

import numpy as np

from chainrule import random
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import OUTPUT
from chainrule.autograd.mode import no_grad, state
from chainrule.ops.operands import constant


def modify(target, op, name, *operands):
    """``target <- op(target, *operands)`` in place; returns target."""
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(target).__name__}")
    recording = state.grad_enabled and (
        target.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in operands)
    )
    if not recording:
        with no_grad():
            result = op(target, *operands)
        _write(target, result._data, name)
        target._bump_version()
        return target
    if target.grad_fn is None and target.requires_grad:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad (shape {tuple(target.shape)}) is being used in "
            "an in-place operation; modify it under no_grad(), or out of place"
        )
    # The value before the change, for the ops that used it already and for this op's rule.
    previous = Tensor._make(target._data.copy(), target.requires_grad, target.grad_fn)
    previous._version = target._shared_version()
    target._bump_version()
    result = op(previous, *operands)
    _write(target, result._data, name)
    node = result.grad_fn
    if node is None:  # the new value does not depend on anything that requires grad
        target.grad_fn, target.requires_grad = None, False
        return target
    node.previous = previous
    if node.saved is not None and any(s is OUTPUT for s in node.saved):
        node.versions = {**(node.versions or {}), OUTPUT: target._version[0]}
    target.grad_fn, target.requires_grad = node, True
    return target


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
    from chainrule.ops.arithmetic import where

    keep = xp.zeros((), dtype=bool)
    return where(keep, old, values)


def _scaled(other, alpha):
    if alpha == 1:
        return other
    from chainrule.ops.arithmetic import mul

    return mul(other, alpha)


def add_(self, other, *, alpha=1) -> Tensor:
    from chainrule.ops.arithmetic import add

    return modify(self, lambda old, o: add(old, _scaled(o, alpha)), "add_", other)


def sub_(self, other, *, alpha=1) -> Tensor:
    from chainrule.ops.arithmetic import sub

    return modify(self, lambda old, o: sub(old, _scaled(o, alpha)), "sub_", other)


def mul_(self, other) -> Tensor:
    from chainrule.ops.arithmetic import mul

    return modify(self, mul, "mul_", other)


def div_(self, other) -> Tensor:
    from chainrule.ops.arithmetic import div

    return modify(self, div, "div_", other)


def pow_(self, exponent) -> Tensor:
    from chainrule.ops.arithmetic import pow

    return modify(self, pow, "pow_", exponent)


def neg_(self) -> Tensor:
    from chainrule.ops.arithmetic import neg

    return modify(self, neg, "neg_")


def clamp_(self, min=None, max=None) -> Tensor:
    from chainrule.ops.unary import clip

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
    from chainrule.ops.shape import cast

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
    from chainrule.ops.indexing import index_put

    if not isinstance(value, Tensor):
        value = constant(np.asarray(value))
    modify(self, lambda old, v: index_put(old, index, v), "__setitem__", value)
