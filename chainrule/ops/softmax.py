"""softmax and log_softmax along one dim, shifted by the maximum so that they never overflow."""

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import OUTPUT, needs_graph, record
from chainrule.ops import either
from chainrule.ops.operands import dims, wrap
from chainrule.ops.reduce import last_axis_max, last_axis_sum


def _axis(x, dim, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor, got dtype {x._data.dtype}")
    return dims(dim, x._data.ndim, op)[0] if x._data.ndim else None


def softmax(x, dim: int = -1) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along ``dim``; VJP: y * (g - sum(g * y))."""
    axis = _axis(x, dim, "softmax")
    d = x._data
    if axis == d.ndim - 1:
        e = xp.exp(d - last_axis_max(d))
        out = e / last_axis_sum(e)
    else:
        e = xp.exp(d - d.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
    if needs_graph(x):
        return record("Softmax", out, (x,), _softmax_vjp, (OUTPUT, axis))
    return wrap(out)


def _softmax_vjp(g, out, axis):
    return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)


def log_softmax(x, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along ``dim``; VJP: g - softmax(x) * sum(g)."""
    axis = _axis(x, dim, "log_softmax")
    out = log_softmax_values(x._data, axis)
    if needs_graph(x):
        return record("LogSoftmax", out, (x,), _log_softmax_vjp, (OUTPUT, axis))
    return wrap(out)


def _log_softmax_vjp(g, out, axis):
    return (g - either.exp(out) * g.sum(axis=axis, keepdims=True),)


def log_softmax_values(d, axis):
    """log_softmax of an array along ``axis``."""
    if axis == d.ndim - 1:
        shifted = d - last_axis_max(d)
        return shifted - xp.log(last_axis_sum(xp.exp(shifted)))
    shifted = d - d.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
