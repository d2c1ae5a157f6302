"""Indexing: x[index] with ints, slices, None, Ellipsis, integer arrays and boolean masks.

The VJP scatters the gradient back into zeros of the input's shape; with integer arrays the same
element may be picked twice, so those gradients are added (np.add.at), never overwritten.
"""

from chainrule._backend import xp
from chainrule.autograd.engine import record
from chainrule.autograd.mode import state
from chainrule.ops.operands import wrap
from chainrule.tensor import Tensor

_BASIC = (int, slice, type(None), type(Ellipsis))


def _index_part(part):
    if isinstance(part, Tensor):
        part = part.data
    elif isinstance(part, list):
        part = xp.asarray(part)
        if part.size == 0:  # [] reads as float64; as an index it selects nothing
            part = part.astype(xp.intp)
    if isinstance(part, xp.ndarray) and part.dtype.kind not in "biu":
        raise IndexError(f"index: arrays used as indices must be integer or boolean, got dtype {part.dtype}")
    return part


def getitem(x, index) -> Tensor:
    """``x[index]`` as NumPy indexes; basic indexing returns a view."""
    parts = index if isinstance(index, tuple) else (index,)
    parts = tuple(_index_part(p) for p in parts)
    d = x.data
    try:
        out = d[parts]
    except IndexError as err:
        raise IndexError(f"index: {err} (tensor of shape {d.shape})") from None
    if not (state.grad_enabled and x.requires_grad):
        return wrap(out)
    shape, dtype = d.shape, d.dtype
    if all(isinstance(p, _BASIC) and not isinstance(p, bool) for p in parts):

        def basic_index_vjp(g):
            grad = xp.zeros(shape, dtype=dtype)
            grad[parts] = g
            return (grad,)

        return record("Index", out, (x,), basic_index_vjp)

    def advanced_index_vjp(g):
        grad = xp.zeros(shape, dtype=dtype)
        xp.add.at(grad, parts, g)
        return (grad,)

    return record("Index", out, (x,), advanced_index_vjp)
