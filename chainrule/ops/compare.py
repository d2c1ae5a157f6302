"""Comparisons: elementwise tests returning boolean tensors that carry no gradient."""

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.ops.operands import pair, wrap


def _compare(a, b, test, op):
    a, b = pair(a, b)
    try:
        return wrap(test(a._data, b._data))
    except ValueError as err:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast ({err})") from None


def eq(a, b) -> Tensor:
    return _compare(a, b, xp.equal, "eq")


def ne(a, b) -> Tensor:
    return _compare(a, b, xp.not_equal, "ne")


def lt(a, b) -> Tensor:
    return _compare(a, b, xp.less, "lt")


def le(a, b) -> Tensor:
    return _compare(a, b, xp.less_equal, "le")


def gt(a, b) -> Tensor:
    return _compare(a, b, xp.greater, "gt")


def ge(a, b) -> Tensor:
    return _compare(a, b, xp.greater_equal, "ge")
