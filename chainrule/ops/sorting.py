"""Sorting along a dim: sort, argsort, msort, topk, kthvalue. The values are the input read at the
sorting indices (``take_along``), so their gradient goes back to where each value came from,
and differentiates again; the indices carry none."""

from collections import namedtuple

from chainrule._arguments import int_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.ops.indexing import take_along
from chainrule.ops.operands import dims, tensor_input, wrap

sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])
kthvalue_result = namedtuple("kthvalue", ["values", "indices"])


def _axis(x, dim, op):
    return dims(dim, x._data.ndim, op)[0] if x._data.ndim else None


def _order(d, axis, descending, stable):
    """Indices that sort ``d`` along ``axis``; NaN counts as the largest value (PyTorch's and
    NumPy's order). Descending keeps equal values in their original order when ``stable``."""
    if axis is None:
        return xp.zeros((), dtype=xp.int64)
    if not descending:
        return xp.argsort(d, axis=axis, kind="stable" if stable else None).astype(xp.int64)
    # A stable ascending sort of the reversed values, reversed, lists equal values last-first in
    # reversed order, that is first-first in the original order.
    n = d.shape[axis]
    backwards = xp.flip(d, axis)
    order = xp.flip(xp.argsort(backwards, axis=axis, kind="stable"), axis)
    return (n - 1 - order).astype(xp.int64)


def _pick(x, order, axis):
    if axis is None:
        return x
    return take_along(x, order, axis)


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False):
    """``(values, indices)``: input sorted along ``dim`` and where each value came from.

    >>> from chainrule import tensor
    >>> sort(tensor([3., 1., 2.]))
    sort(values=tensor([1., 2., 3.]), indices=tensor([1, 2, 0]))
    """
    x = tensor_input(input, "sort")
    axis = _axis(x, dim, "sort")
    order = _order(x._data, axis, descending, stable)
    return sort_result(_pick(x, order, axis), wrap(order))


def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort input along ``dim`` (int64; no gradient)."""
    x = tensor_input(input, "argsort")
    return wrap(_order(x._data, _axis(x, dim, "argsort"), descending, stable))


def msort(input) -> Tensor:
    """input's values sorted along dim 0."""
    return sort(input, 0).values


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """``(values, indices)`` of the ``k`` largest (smallest with ``largest=False``) elements along
    ``dim``, in order (also when ``sorted=False``, whose order PyTorch leaves open)."""
    x = tensor_input(input, "topk")
    axis = _axis(x, dim, "topk")
    n = 1 if axis is None else x._data.shape[axis]
    k = int_arg(k, "k", "topk", 0, n)
    order = _order(x._data, axis, largest, stable=True)
    if axis is not None:
        order = order[(slice(None),) * axis + (slice(0, k),)]
    return topk_result(_pick(x, order, axis), wrap(order))


def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False):
    """``(values, indices)`` of the ``k``-th smallest element (counting from 1) along ``dim``."""
    x = tensor_input(input, "kthvalue")
    axis = _axis(x, dim, "kthvalue")
    n = 1 if axis is None else x._data.shape[axis]
    k = int_arg(k, "k", "kthvalue", 1, n)
    order = _order(x._data, axis, False, stable=True)
    if axis is None:
        return kthvalue_result(x, wrap(order))
    order = order[(slice(None),) * axis + (slice(k - 1, k),)]
    values = take_along(x, order, axis)
    if not keepdim:
        values, order = values.squeeze(axis), order.squeeze(axis)
    return kthvalue_result(values, wrap(order))
