"""softmax and log_softmax along one dim, shifted by the maximum so that they never overflow."""

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import record
from chainrule.autograd.mode import state
from chainrule.ops.operands import dims, wrap


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
    e = xp.exp(d - d.max(axis=axis, keepdims=True))
    out = e / e.sum(axis=axis, keepdims=True)
    if state.grad_enabled and x.requires_grad:
        return record(
            "Softmax", out, (x,),
            lambda g: (out * (g - (g * out).sum(axis=axis, keepdims=True)),),
        )
    return wrap(out)


def log_softmax(x, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along ``dim``; VJP: g - softmax(x) * sum(g)."""
    axis = _axis(x, dim, "log_softmax")
    d = x._data
    shifted = d - d.max(axis=axis, keepdims=True)
    out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    if state.grad_enabled and x.requires_grad:
        return record(
            "LogSoftmax", out, (x,),
            lambda g: (g - xp.exp(out) * g.sum(axis=axis, keepdims=True),),
        )
    return wrap(out)
