"""softmax and log_softmax along one dim, shifted by the maximum so that they never overflow."""

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import OUTPUT, needs_graph, record
from chainrule.ops import either
from chainrule.ops.operands import dims, wrap


def _axis(x, dim, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor, got dtype {x._data.dtype}")
    return dims(dim, x._data.ndim, op)[0] if x._data.ndim else None


# NumPy reduces over a short last axis with one slow loop per row: for scores (32, 4, 64, 64),
# max 0.73 ms and sum 0.19 ms; halving with maximum takes 0.46 ms, a BLAS product with ones 0.04.
_FAST_REDUCTION_SIZE = 4096


def last_axis_max(d):
    """The maximum of an array over its last axis (keepdims; nan propagates), by halving."""
    n = d.shape[-1] if d.ndim else 0
    if n < 8 or d.size < _FAST_REDUCTION_SIZE:
        return d.max(axis=-1, keepdims=True)
    top = xp.maximum(d[..., : n // 2], d[..., n // 2 : 2 * (n // 2)])
    if n % 2:
        xp.maximum(top[..., :1], d[..., -1:], out=top[..., :1])
    while top.shape[-1] > 1:
        n = top.shape[-1]
        half = xp.maximum(top[..., : n // 2], top[..., n // 2 : 2 * (n // 2)])
        if n % 2:
            xp.maximum(half[..., :1], top[..., -1:], out=half[..., :1])
        top = half
    return top


def last_axis_sum(d):
    """The sum of an array over its last axis (keepdims): a product with ones where BLAS can."""
    if d.size < _FAST_REDUCTION_SIZE or d.dtype not in (xp.float32, xp.float64) or not d.flags.c_contiguous:
        return d.sum(axis=-1, keepdims=True)
    n = d.shape[-1]
    return (d.reshape(-1, n) @ xp.ones(n, d.dtype)).reshape(*d.shape[:-1], 1)


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
