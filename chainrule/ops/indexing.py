"""Indexing: x[index] with ints, slices, None, Ellipsis, integer arrays and boolean masks.

The VJP scatters the gradient back into zeros of the input's shape; with integer arrays the same
element may be picked twice, so those gradients are added (np.add.at), never overwritten.
PyTorch's gather/scatter/index_*/masked_* family is written with these (no rule of its own), and
the integer helpers (nonzero, unique, bincount, searchsorted) compute indices without gradient.
"""

import weakref

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph, record
from chainrule.ops.operands import constant, dims, operand, tensor_input, wrap

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
        if result.grad_fn is None:  # a view outside the graph: remember where it sits, so that an
            _remember_view(result, x, parts)  # in-place op bringing it in can bring x in too
    return result


# id(view) -> (weak reference to the view, base, index parts) for basic-index views taken while
# the base was outside the graph, as ``forces = zeros_like(x); forces[i] += f`` does
# (chainrule.ops.inplace.modify reads it; tensors compare elementwise, so ids are the keys)
PLAIN_VIEWS = {}


def _remember_view(view, base, parts):
    key = id(view)
    PLAIN_VIEWS[key] = (weakref.ref(view, lambda _, key=key: PLAIN_VIEWS.pop(key, None)), base, parts)


def plain_view_base(view):
    """(base, parts) if ``view`` was taken by basic indexing from a base outside the graph."""
    entry = PLAIN_VIEWS.get(id(view))
    if entry is None or entry[0]() is not view:
        return None
    return entry[1], entry[2]


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


def index_put(x, index, value, accumulate: bool = False) -> Tensor:
    """A copy of ``x`` with ``x[index]`` replaced by ``value`` (broadcast): what ``x[index] = value``
    computes (``Tensor.__setitem__`` writes it back in place). With ``accumulate``, value is
    added there instead, repeated indices adding up."""
    parts = _parts(index)
    x = tensor_input(x, "index_put")
    if not isinstance(value, Tensor):
        value = constant(xp.asarray(value, dtype=x._data.dtype))
    if accumulate:
        from chainrule.ops.shape import broadcast_to

        selected = xp.empty(x._data.shape, dtype=bool)[parts].shape  # (no copy of x's values)
        return x + index_scatter(broadcast_to(operand(value, x._data.dtype), selected), parts, x._data.shape)
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


# ---------------------------------------------------------------------------- gather and scatter
# PyTorch's gather/scatter family picks or writes ``index[i][j][k]`` along one dim at every other
# position (i, j, k). Spelled as one integer-array index per dim (``_along``), each is indexing,
# ``index_scatter`` or ``index_put`` above, so their rules (and second derivatives) come with them.


def _index_tensor(index, op: str, name: str = "index"):
    """An integer index given as a tensor, array or list, as an int64 array."""
    array = xp.asarray(index._data if isinstance(index, Tensor) else index)
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise TypeError(f"{op}: {name} must be an integer tensor, got dtype {array.dtype}")
    return array.astype(xp.int64, copy=False)


def _along(x, dim, index, op: str, src=None):
    """The integer-array index that reaches ``x[..., index[i,j,k], ...]`` (index along ``dim``,
    the other dims at the index's own position), after PyTorch's checks: the index has x's
    number of dims, is no larger than x outside ``dim`` (nor than ``src`` anywhere) and lies in
    [0, size of dim)."""
    index = _index_tensor(index, op)
    d = x._data
    if not d.ndim:
        raise ValueError(f"{op}: expected an input with at least 1 dim, got a 0-d tensor (reshape it to (1,))")
    if index.ndim != d.ndim:
        raise ValueError(f"{op}: index has {index.ndim} dims, but the input has {d.ndim}; they must agree")
    (axis,) = dims(dim, d.ndim, op)
    for i, n in enumerate(index.shape):
        if i != axis and n > d.shape[i]:
            raise ValueError(f"{op}: index of shape {index.shape} is larger than the input {d.shape} in dim {i}")
        if src is not None and src.ndim == d.ndim and n > src.shape[i]:
            raise ValueError(f"{op}: index of shape {index.shape} is larger than src {src.shape} in dim {i}")
    if index.size and (index.min() < 0 or index.max() >= d.shape[axis]):
        raise IndexError(
            f"{op}: index values must lie in [0, {d.shape[axis]}) along dim {dim}, got {index.min()}..{index.max()}"
        )
    parts = list(xp.indices(index.shape, sparse=True))
    parts[axis] = index
    return tuple(parts), index.shape


def _source(src, x, shape, op):
    """``src`` (a tensor or a number) cut to the index's ``shape``, in x's dtype."""
    if not isinstance(src, Tensor):
        return constant(xp.asarray(src, dtype=x._data.dtype))
    if src._data.ndim != len(shape):
        raise ValueError(f"{op}: src has {src._data.ndim} dims, but the index has {len(shape)}")
    if src._data.shape != shape:
        src = getitem(src, tuple(slice(0, n) for n in shape))
    return operand(src, x._data.dtype)


def gather(input, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` for dim=1 (likewise for other dims); out
    has the index's shape.

    >>> from chainrule import tensor
    >>> gather(tensor([[1., 2.], [3., 4.]]), 1, tensor([[0, 0], [1, 0]]))
    tensor([[1., 1.],
            [4., 3.]])
    """
    x = tensor_input(input, "gather")
    parts, _ = _along(x, dim, index, "gather")
    return getitem(x, parts)


def take_along_dim(input, indices, dim=None) -> Tensor:
    """input read at ``indices`` along ``dim`` (as ``np.take_along_axis``), the two broadcast
    outside it; with dim None, of the flattened input."""
    x = tensor_input(input, "take_along_dim")
    index = _index_tensor(indices, "take_along_dim", "indices")
    if dim is None:
        return take(x, index.reshape(-1))
    (axis,) = dims(dim, x._data.ndim, "take_along_dim")
    if index.ndim != x._data.ndim:
        raise ValueError(f"take_along_dim: indices have {index.ndim} dims, but the input has {x._data.ndim}")
    def at(shape, size):  # shape with dim ``axis`` of ``size``
        return (*shape[:axis], size, *shape[axis + 1 :])

    n = x._data.shape[axis]
    try:
        outside = xp.broadcast_shapes(at(x._data.shape, 1), at(index.shape, 1))
    except ValueError:
        shapes = f"{x.shape} and {index.shape}"
        raise ValueError(f"take_along_dim: shapes {shapes} do not broadcast outside dim {dim}") from None
    if at(x._data.shape, 1) != outside:
        from chainrule.ops.shape import broadcast_to

        x = broadcast_to(x, at(outside, n))
    index = xp.broadcast_to(index, at(outside, index.shape[axis]))
    return gather(x, axis, xp.where(index < 0, index + n, index))


def scatter_add(input, dim: int, index, src) -> Tensor:
    """A copy of input with ``src[i][j][k]`` added at ``[i][index[i][j][k]][k]`` (dim=1), repeated
    indices adding up."""
    x = tensor_input(input, "scatter_add")
    src = tensor_input(src, "scatter_add")
    parts, shape = _along(x, dim, index, "scatter_add", src._data)
    src = _source(src, x, shape, "scatter_add")
    return x + index_scatter(src, parts, x._data.shape)


def scatter(input, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """A copy of input with ``src[i][j][k]`` (or the number ``value``) written at
    ``[i][index[i][j][k]][k]`` (dim=1); where an index repeats, which write wins is unspecified,
    as in PyTorch. ``reduce='add'|'multiply'`` is the older spelling of ``scatter_reduce``."""
    x = tensor_input(input, "scatter")
    if src is None and value is None:
        raise TypeError("scatter: expected src (a tensor) or value (a number)")
    if src is None or not isinstance(src, Tensor):
        src = value if src is None else src
        parts, shape = _along(x, dim, index, "scatter")
        src = xp.asarray(src, dtype=x._data.dtype)
    else:
        parts, shape = _along(x, dim, index, "scatter", src._data)
    if reduce is not None:
        modes = {"add": "sum", "multiply": "prod"}
        if reduce not in modes:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        src = src if isinstance(src, Tensor) else constant(xp.broadcast_to(src, shape))
        return scatter_reduce(x, dim, index, src, modes[reduce])
    if isinstance(src, Tensor):
        src = _source(src, x, shape, "scatter")
    return index_put(x, parts, src)


_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(input, dim: int, index, src, reduce: str, *, include_self: bool = True) -> Tensor:
    """A copy of input where each position hit by the index holds the reduction (``'sum'``,
    ``'prod'``, ``'mean'``, ``'amax'``, ``'amin'``) of the src values sent there, and of its own
    value when ``include_self``. Gradients as PyTorch's: amax/amin share them evenly among the
    values equal to the result; 'prod' has none here.

    >>> from chainrule import tensor
    >>> scatter_reduce(tensor([0., 0.]), 0, tensor([0, 0, 1]), tensor([1., 3., 2.]), "amax")
    tensor([3., 2.])
    """
    x = tensor_input(input, "scatter_reduce")
    src = tensor_input(src, "scatter_reduce")
    if reduce not in _REDUCTIONS:
        raise ValueError(f"scatter_reduce: reduce must be one of {_REDUCTIONS}, got {reduce!r}")
    parts, shape = _along(x, dim, index, "scatter_reduce", src._data)
    src = _source(src, x, shape, "scatter_reduce")
    d = x._data
    if d.dtype.kind != "f" or not needs_graph(x, src):
        return wrap(_scatter_reduce_array(d, parts, src._data, reduce, include_self))
    hits = _scatter_array(xp.ones(shape, dtype=d.dtype), parts, d.shape)
    hit = hits > 0
    if reduce == "prod":
        return _scatter_prod(x, src, parts, hit, include_self)
    base = x if include_self else index_put(x, hit, xp.zeros((), d.dtype))
    total = base + index_scatter(src, parts, d.shape)
    if reduce == "sum":
        return total
    if reduce == "mean":
        count = hits + (1 if include_self else 0)
        return index_put(x, hit, (total / xp.maximum(count, 1))[hit])
    values = _scatter_reduce_array(d, parts, src._data, reduce, include_self)
    # Each value equal to the result gets an equal share of its gradient (PyTorch's rule): the
    # result as (sum of the tied values) / (their number), which equals it.
    mine = (d == values) & (~hit if not include_self else True)
    theirs = src._data == values[parts]
    ties = mine + _scatter_array(theirs.astype(d.dtype), parts, d.shape)
    return (x * mine + index_scatter(src * theirs, parts, d.shape)) / ties


def _scatter_prod(x, src, parts, hit, include_self):
    """The product at each hit position, its gradient PyTorch's: the product of the other factors
    (for a factor that is the only zero too; where two are zero, none). Written as
    sign * exp(sum of log|factor|) over the non-zero factors, times the zero factor where there
    is one, whose values equal the exact product up to rounding: the exact product plus that
    expression minus its own values keeps both the exact values and its derivatives."""
    from chainrule.ops.arithmetic import where
    from chainrule.ops.unary import abs, exp, log

    d, shape = x._data, x._data.shape
    factors = [(src, parts)] + ([(x, ...)] if include_self else [])
    zeros = xp.zeros((), d.dtype)
    logs = count = picked = 0
    sign = 1
    for f, at in factors:
        is_zero = f._data == 0
        signs = xp.where(f._data < 0, -1.0, 1.0).astype(d.dtype)
        if at is ...:
            logs, count, sign = logs + log(abs(where(is_zero, 1.0, f))), count + is_zero, sign * signs
            picked = picked + where(is_zero, f, zeros)
        else:
            logs = logs + index_scatter(log(abs(where(is_zero, 1.0, f))), at, shape)
            count = count + _scatter_array(is_zero.astype(d.dtype), at, shape)
            product = xp.ones(shape, d.dtype)
            xp.multiply.at(product, at, signs)
            sign = sign * product
            picked = picked + index_scatter(where(is_zero, f, zeros), at, shape)
    nonzero = exp(logs) * sign
    expr = where(count == 0, nonzero, zeros) + where(count == 1, nonzero * picked, zeros)
    exact = _scatter_reduce_array(d, parts, src._data, "prod", include_self)
    return where(hit, (expr - expr._data) + exact, x)


def _scatter_reduce_array(d, parts, src, reduce, include_self):
    """scatter_reduce's values, on arrays (integer means round down, as PyTorch's)."""
    values = d.copy()
    hit = _scatter_array(xp.ones(src.shape, dtype=xp.int64), parts, d.shape)
    if not include_self:
        if reduce in ("amax", "amin") and d.dtype.kind == "f":
            fill = -xp.inf if reduce == "amax" else xp.inf
        elif reduce in ("amax", "amin"):
            fill = xp.iinfo(d.dtype).min if reduce == "amax" else xp.iinfo(d.dtype).max
        else:
            fill = 1 if reduce == "prod" else 0
        values[hit > 0] = fill
    ufunc = {"sum": xp.add, "mean": xp.add, "prod": xp.multiply, "amax": xp.maximum, "amin": xp.minimum}[reduce]
    ufunc.at(values, parts, src)
    if reduce == "mean":
        count = xp.maximum(hit + (1 if include_self else 0), 1)
        values = values // count if d.dtype.kind != "f" else values / count
        values = xp.where(hit > 0, values, d).astype(d.dtype)
    return values


def index_select(input, dim: int, index) -> Tensor:
    """The slices of input at ``index`` (a 1-D integer tensor) along ``dim``."""
    x = tensor_input(input, "index_select")
    index = _index_tensor(index, "index_select")
    if index.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {index.shape}")
    (axis,) = dims(dim, x._data.ndim, "index_select") if x._data.ndim else (0,)
    if not x._data.ndim:
        return getitem(x.reshape(1), index.reshape(-1)).reshape(index.shape)
    return getitem(x, (slice(None),) * axis + (index.reshape(-1),))


def index_add(input, dim: int, index, source, *, alpha=1) -> Tensor:
    """A copy of input with ``alpha * source`` slices added at ``index`` along ``dim`` (repeated
    indices add up)."""
    x = tensor_input(input, "index_add")
    index = _index_tensor(index, "index_add").reshape(-1)
    (axis,) = dims(dim, x._data.ndim, "index_add")
    parts = (slice(None),) * axis + (index,)
    expected = (*x._data.shape[:axis], index.size, *x._data.shape[axis + 1 :])
    if not isinstance(source, Tensor) or source._data.shape != expected:
        shown = source.shape if isinstance(source, Tensor) else type(source).__name__
        raise ValueError(f"index_add: source must be a tensor of shape {expected}, got {shown}")
    return x + index_scatter(source * alpha if alpha != 1 else source, parts, x._data.shape)


def index_fill(input, dim: int, index, value) -> Tensor:
    """A copy of input with the slices at ``index`` along ``dim`` set to ``value``."""
    x = tensor_input(input, "index_fill")
    index = _index_tensor(index, "index_fill").reshape(-1)
    (axis,) = dims(dim, x._data.ndim, "index_fill") if x._data.ndim else (0,)
    if not x._data.ndim:
        return index_put(x, ..., value) if index.size else x
    return index_put(x, (slice(None),) * axis + (index,), value)


def _mask(mask, x, op):
    m = xp.asarray(mask._data if isinstance(mask, Tensor) else mask)
    if m.dtype != bool:
        raise TypeError(f"{op}: mask must be a boolean tensor, got dtype {m.dtype}")
    return m


def masked_fill(input, mask, value) -> Tensor:
    """A copy of input with ``value`` (a number or 0-d tensor) where ``mask`` (broadcast to the
    input's shape) is True."""
    from chainrule.ops.arithmetic import where

    x = tensor_input(input, "masked_fill")
    m = _mask(mask, x, "masked_fill")
    if isinstance(value, Tensor) and value._data.ndim:
        raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
    if not isinstance(value, Tensor):
        value = constant(xp.asarray(value, dtype=x._data.dtype))
    try:
        xp.broadcast_to(m, x._data.shape)
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {m.shape} does not broadcast to {x.shape}") from None
    if value._data.dtype != x._data.dtype:
        value = operand(value, x._data.dtype)
    return where(m, value, x)


def masked_select(input, mask) -> Tensor:
    """The 1-D tensor of input's elements where ``mask`` is True (the two broadcast together)."""
    from chainrule.ops.shape import broadcast_to

    x = tensor_input(input, "masked_select")
    m = _mask(mask, x, "masked_select")
    try:
        shape = xp.broadcast_shapes(m.shape, x._data.shape)
    except ValueError:
        raise ValueError(f"masked_select: mask of shape {m.shape} does not broadcast with {x.shape}") from None
    if x._data.shape != shape:
        x = broadcast_to(x, shape)
    return getitem(x, xp.broadcast_to(m, shape))


def take(input, index) -> Tensor:
    """Elements of input, read as 1-D, at ``index``; the result has the index's shape."""
    x = tensor_input(input, "take")
    index = _index_tensor(index, "take")
    n = x._data.size
    if index.size and (index.min() < -n or index.max() >= n):
        raise IndexError(f"take: index out of range for a tensor of {n} elements")
    return getitem(x.reshape(-1), index)


def nonzero(input, *, as_tuple: bool = False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or with ``as_tuple`` one 1-D
    tensor per dim (what ``x[x.nonzero(as_tuple=True)]`` indexes with)."""
    d = tensor_input(input, "nonzero")._data
    if as_tuple:
        return tuple(wrap(i.astype(xp.int64)) for i in xp.nonzero(d if d.ndim else d.reshape(1)))
    return wrap(xp.argwhere(d).astype(xp.int64))


def argwhere(input) -> Tensor:
    """As ``nonzero(input)``: an (n, ndim) int64 tensor of the non-zero elements' indices."""
    return nonzero(input)


def select(input, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, that dim removed (``x.select(1, 2) == x[:, 2]``): a view."""
    x = tensor_input(input, "select")
    (axis,) = dims(dim, x._data.ndim, "select")
    n = x._data.shape[axis]
    if not -n <= int(index) < n:
        raise IndexError(f"select: index {index} is out of range for dim {dim} of size {n}")
    return getitem(x, (slice(None),) * axis + (int(index),))


# ---------------------------------------------------------------------------- index helpers
# Integer results computed from values: no gradient.


def unique(input, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The distinct values (sorted), and optionally, for each input element, the index of its
    value among them (``return_inverse``) and how often each occurs (``return_counts``); with
    ``dim``, the distinct slices along it."""
    d = tensor_input(input, "unique")._data
    axis = None if dim is None else dims(dim, d.ndim, "unique")[0]
    values, inverse, counts = xp.unique(d, return_inverse=True, return_counts=True, axis=axis)
    inverse = inverse.reshape(d.shape if axis is None else -1).astype(xp.int64)
    out = (wrap(values),)
    if return_inverse:
        out += (wrap(inverse),)
    if return_counts:
        out += (wrap(counts.astype(xp.int64)),)
    return out[0] if len(out) == 1 else out


def bincount(input, weights=None, minlength: int = 0) -> Tensor:
    """How often each value 0, 1, ... occurs in a 1-D non-negative integer tensor (or the sum of
    ``weights`` at each): length ``max(input) + 1``, at least ``minlength``."""
    d = _index_tensor(input, "bincount", "input")
    if d.ndim != 1 or (d.size and d.min() < 0):
        raise ValueError(f"bincount: expected a 1-D tensor of non-negative integers, got shape {d.shape}")
    w = None if weights is None else xp.asarray(weights._data if isinstance(weights, Tensor) else weights)
    out = xp.bincount(d, w, minlength=minlength)
    return wrap(out if w is not None else out.astype(xp.int64))


def searchsorted(sorted_sequence, input, *, out_int32: bool = False, right: bool = False, side=None,
                 sorter=None) -> Tensor:
    """Where each value of ``input`` would go in ``sorted_sequence`` (along its last dim) to keep
    it sorted: the first such place, or the last with ``right=True`` / ``side='right'``."""
    seq = sorted_sequence._data if isinstance(sorted_sequence, Tensor) else xp.asarray(sorted_sequence)
    values = input._data if isinstance(input, Tensor) else xp.asarray(input)
    side = side or ("right" if right else "left")
    if sorter is not None:
        order = xp.asarray(sorter._data if isinstance(sorter, Tensor) else sorter)
        seq = xp.take_along_axis(seq, order, -1)
    if seq.ndim <= 1:
        out = xp.searchsorted(seq, values, side=side)
    else:
        if seq.shape[:-1] != values.shape[:-1]:
            raise ValueError(f"searchsorted: leading dims of {seq.shape} and {values.shape} differ")
        rows = [xp.searchsorted(s, v, side=side) for s, v in zip(seq.reshape(-1, seq.shape[-1]),
                                                                 values.reshape(-1, values.shape[-1]))]
        out = xp.stack(rows).reshape(values.shape)
    return wrap(out.astype(xp.int32 if out_int32 else xp.int64))


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket of each value between 1-D sorted ``boundaries``: i with
    ``boundaries[i-1] < x <= boundaries[i]`` (``<=`` and ``<`` swapped with ``right=True``)."""
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None) -> Tensor:
    """The (2, n) int64 row and column indices of a row x col matrix's lower triangle."""
    return wrap(xp.stack(xp.tril_indices(row, offset, col)).astype(dtype or xp.int64))


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None) -> Tensor:
    """The (2, n) int64 row and column indices of a row x col matrix's upper triangle."""
    return wrap(xp.stack(xp.triu_indices(row, offset, col)).astype(dtype or xp.int64))
