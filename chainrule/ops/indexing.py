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
    """``x[index]`` as NumPy indexes; basic indexing returns a view (sharing x's version counter,
    so an in-place change through either is seen by nodes that saved the other)."""
    parts = _parts(index)
    d = x._data
    try:
        out = d[parts]
        if type(out) is not xp.ndarray and not any(p is Ellipsis for p in parts):
            # one element: NumPy gives a scalar copy; a 0-d view keeps x[0] *= 3 writing into x
            parts += (Ellipsis,)
            out = d[parts]
    except IndexError as err:
        raise IndexError(f"index: {err} (tensor of shape {d.shape})") from None
    if needs_graph(x):
        result = record("Index", out, (x,), _getitem_vjp, (parts, d.shape))
    else:
        result = wrap(out)
    if xp.may_share_memory(out, d):
        result._version = x._shared_version()
    return result


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
    try:
        out = _put_array(x._data, parts, value._data)
    except (IndexError, ValueError) as err:
        raise type(err)(f"index_put: {err} (tensor of shape {x.shape}, value of shape {value.shape})") from None
    if needs_graph(x, value):
        return record("IndexPut", out, (x, value), _index_put_vjp, (parts,))
    return wrap(out)


def _index_put_vjp(g, parts):
    zero = xp.zeros((), dtype=g.dtype)
    cleared = index_put(g, parts, zero) if isinstance(g, Tensor) else _put_array(g, parts, zero)
    return cleared, g[parts]


def _put_array(d, parts, value):
    out = d.copy()
    out[parts] = value
    return out


def take_along(x, indices, axis: int):
    """``np.take_along_axis`` of an array, or of a tensor (recorded): picks ``indices`` along
    ``axis``. Linear, with ``scatter_along`` as its gradient and the reverse."""
    if not isinstance(x, Tensor):
        return xp.take_along_axis(x, indices, axis)
    out = xp.take_along_axis(x._data, indices, axis)
    if needs_graph(x):
        return record("TakeAlong", out, (x,), _take_along_vjp, (indices, axis, x._data.shape))
    return wrap(out)


def _take_along_vjp(g, indices, axis, shape):
    return (scatter_along(g, indices, axis, shape),)


def scatter_along(values, indices, axis: int, shape):
    """Zeros of ``shape`` with ``values`` put at ``indices`` along ``axis`` (an array, or a tensor,
    recorded): the gradient of ``take_along``. The indices must not repeat along a line (those of
    argmax with keepdims never do), since a repeated one is overwritten, not added."""
    if not isinstance(values, Tensor):
        return _scatter_along_array(values, indices, axis, shape)
    out = _scatter_along_array(values._data, indices, axis, shape)
    if needs_graph(values):
        return record("ScatterAlong", out, (values,), _scatter_along_vjp, (indices, axis))
    return wrap(out)


def _scatter_along_vjp(g, indices, axis):
    return (take_along(g, indices, axis),)


def _scatter_along_array(values, indices, axis, shape):
    out = xp.zeros(shape, dtype=values.dtype)
    xp.put_along_axis(out, indices, values, axis)
    return out
