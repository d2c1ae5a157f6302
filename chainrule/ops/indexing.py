"""Indexing: x[index] with ints, slices, None, Ellipsis, integer arrays and boolean masks.

The VJP scatters the gradient back into zeros of the input's shape; with integer arrays the same
element may be picked twice, so those gradients are added (np.add.at), never overwritten.
"""

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph, record
from chainrule.ops.operands import constant, tensor_input, wrap

_BASIC = (int, slice, type(None), type(Ellipsis))


def _index_part(part):
    if isinstance(part, Tensor):
        part = part._data
    elif isinstance(part, list):
        part = xp.asarray(part)
        if part.size == 0:  # [] reads as float64; as an index it selects nothing
            part = part.astype(xp.intp)
    if isinstance(part, xp.ndarray) and part.dtype.kind not in "biu":
        raise IndexError(f"index: arrays used as indices must be integer or boolean, got dtype {part.dtype}")
    return part


def _parts(index):
    parts = index if isinstance(index, tuple) else (index,)
    return tuple(_index_part(p) for p in parts)


def getitem(x, index) -> Tensor:
    """``x[index]`` as NumPy indexes; basic indexing returns a view."""
    parts = _parts(index)
    d = x._data
    try:
        out = d[parts]
    except IndexError as err:
        raise IndexError(f"index: {err} (tensor of shape {d.shape})") from None
    if needs_graph(x):
        return record("Index", out, (x,), _getitem_vjp, (parts, d.shape))
    return wrap(out)


def _getitem_vjp(g, parts, shape):
    return (index_scatter(g, parts, shape),)


def index_scatter(values, parts, shape) -> Tensor:
    """Zeros of ``shape`` with ``values`` added at ``parts`` (twice-picked elements add up): the
    gradient of ``x[parts]``; linear in ``values``, so its own gradient is indexing again."""
    if isinstance(values, Tensor):
        out = _scatter_array(values._data, parts, shape)
        if needs_graph(values):
            return record("IndexScatter", out, (values,), _index_scatter_vjp, (parts,))
        return wrap(out)
    return _scatter_array(values, parts, shape)


def _index_scatter_vjp(g, parts):
    return (g[parts],)


def _scatter_array(values, parts, shape):
    grad = xp.zeros(shape, dtype=values.dtype)
    if all(isinstance(p, _BASIC) and not isinstance(p, bool) for p in parts):
        grad[parts] = values  # basic indexing picks each element once
    else:
        xp.add.at(grad, parts, values)
    return grad


def index_put(x, index, value) -> Tensor:
    """A copy of ``x`` with ``x[index]`` replaced by ``value`` (broadcast): what ``x[index] = value``
    computes (``Tensor.__setitem__`` writes it back in place)."""
    parts = _parts(index)
    x = tensor_input(x, "index_put")
    if not isinstance(value, Tensor):
        value = constant(xp.asarray(value, dtype=x._data.dtype))
    out = x._data.copy()
    try:
        out[parts] = value._data
    except (IndexError, ValueError) as err:
        raise type(err)(f"index_put: {err} (tensor of shape {x.shape}, value of shape {value.shape})") from None
    if needs_graph(x, value):
        return record("IndexPut", out, (x, value), _index_put_vjp, (parts,))
    return wrap(out)


def _index_put_vjp(g, parts):
    zero = xp.zeros((), dtype=g.dtype)
    if isinstance(g, Tensor):
        cleared = index_put(g, parts, zero)
    else:
        cleared = g.copy()
        cleared[parts] = zero
    return cleared, g[parts]
