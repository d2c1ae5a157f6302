"""Comparisons: elementwise tests returning boolean tensors that carry no gradient."""

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.ops.operands import pair, wrap


def _compare(a, b, test, op):
    a, b = pair(a, b)
    return _broadcast(test, a._data, b._data, op)


def _broadcast(test, a, b, op):
    """``test(a, b)`` on arrays, as a tensor; shapes that do not broadcast are named."""
    try:
        return wrap(test(a, b))
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


# ---------------------------------------------------------------------------- tests of values


def _values(x, op):
    if isinstance(x, Tensor):
        return x._data
    raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")


def isnan(x) -> Tensor:
    """Where x is nan (never for integer and bool tensors)."""
    return wrap(xp.isnan(_values(x, "isnan")))


def isinf(x) -> Tensor:
    """Where x is +inf or -inf."""
    return wrap(xp.isinf(_values(x, "isinf")))


def isfinite(x) -> Tensor:
    """Where x is neither nan nor infinite."""
    return wrap(xp.isfinite(_values(x, "isfinite")))


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """Where |input - other| <= atol + rtol * |other| (equal infinities count as close; nans
    only with ``equal_nan``)."""
    a, b = pair(input, other)
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"isclose: {name} must be a non-negative number, got {value!r}")
    try:
        return wrap(xp.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=bool(equal_nan)))
    except ValueError as err:
        raise ValueError(f"isclose: shapes {a.shape} and {b.shape} do not broadcast ({err})") from None


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether every element of ``input`` is close to ``other`` (see isclose), as a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input, other) -> bool:
    """Whether the two tensors have the same shape and the same values, as a Python bool."""
    a, b = _values(input, "equal"), _values(other, "equal")
    return a.shape == b.shape and bool((a == b).all())


def _logical(a, b, test, op):
    # no promotion, unlike _compare: truth values do not depend on the dtype
    a = a._data if isinstance(a, Tensor) else xp.asarray(a)
    b = b._data if isinstance(b, Tensor) else xp.asarray(b)
    return _broadcast(test, a, b, op)


def logical_and(input, other) -> Tensor:
    """Where both are non-zero (true)."""
    return _logical(input, other, xp.logical_and, "logical_and")


def logical_or(input, other) -> Tensor:
    """Where either is non-zero (true)."""
    return _logical(input, other, xp.logical_or, "logical_or")


def logical_xor(input, other) -> Tensor:
    """Where exactly one is non-zero (true)."""
    return _logical(input, other, xp.logical_xor, "logical_xor")


def logical_not(input) -> Tensor:
    """Where input is zero (false)."""
    return wrap(xp.logical_not(_values(input, "logical_not")))
