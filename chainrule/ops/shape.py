"""Ops that move elements without changing them: reshape, transpose, permute, squeeze, expand,
flatten, concatenate, stack, split, pad (and clone, cast). Forwards return NumPy views where
possible, and a view shares its input's version counter (PyTorch's views do), so modifying one in
place is seen by every node that saved the other. Each VJP undoes the move with reshape,
transpose or indexing, which are ops themselves: every rule here differentiates to any order.
PyTorch's other moves (flip, roll, repeat, unfold, diagonal, tril, meshgrid ...) are written with
these and indexing, at the end of the file."""

import itertools

import numpy as np

from chainrule._arguments import int_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor, as_dtype
from chainrule.autograd.engine import needs_graph, record
from chainrule.ops import either
from chainrule.ops.operands import dims, operand, result_type, wrap


def _moved(name, x, out, vjp, saved):
    if needs_graph(x):
        return record(name, out, (x,), vjp, saved)
    return wrap(out)


def _view(name, x, out, vjp, saved):
    """As ``_moved``, for an ``out`` that views x's memory: the two share a version counter."""
    result = _moved(name, x, out, vjp, saved)
    result._version = x._shared_version()
    return result


def _shape_arg(shape):
    """Accept f(x, 2, 3) and f(x, (2, 3)) as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def reshape(x, *shape) -> Tensor:
    """The same elements in a new shape (one dim may be -1); a view when NumPy allows."""
    shape = _shape_arg(shape)
    d = x._data
    try:
        out = d.reshape(shape)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {d.shape} ({d.size} elements) into {shape}"
        ) from None
    moved = _view if xp.may_share_memory(out, d) else _moved  # NumPy copies what it cannot view
    return moved("Reshape", x, out, _reshape_vjp, (d.shape,))


def _reshape_vjp(g, shape):
    return (g.reshape(shape),)


view = reshape


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one."""
    shape = x._data.shape
    if not shape:
        return reshape(x, 1)
    start, end = dims(start_dim, len(shape), "flatten")[0], dims(end_dim, len(shape), "flatten")[0]
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, (*shape[:start], -1, *shape[end + 1:]))


def transpose(x, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (PyTorch's transpose; NumPy calls it swapaxes)."""
    a, b = dims(dim0, x._data.ndim, "transpose")[0], dims(dim1, x._data.ndim, "transpose")[0]
    out = x._data.swapaxes(a, b)
    return _view("Transpose", x, out, _transpose_vjp, (a, b))


def _transpose_vjp(g, a, b):
    return (g.swapaxes(a, b),)


swapaxes = transpose


def permute(x, *order) -> Tensor:
    """Reorder all dims: ``out.shape[i] == x.shape[order[i]]``."""
    order = _shape_arg(order)
    ndim = x._data.ndim
    if sorted(o % ndim if ndim else o for o in order) != list(range(ndim)):
        raise ValueError(f"permute: {order} is not a permutation of the {ndim} dims of shape {x._data.shape}")
    order = tuple(o % ndim for o in order)
    inverse = tuple(int(i) for i in np.argsort(order))
    out = x._data.transpose(order)
    return _view("Permute", x, out, _permute_vjp, (inverse,))


def _permute_vjp(g, inverse):
    return (either.permute(g, inverse),)


def squeeze(x, dim=None) -> Tensor:
    """Drop size-1 dims (all of them, or those in ``dim`` that have size 1, as in PyTorch)."""
    d = x._data
    axes = dims(dim, d.ndim, "squeeze")
    out = d.squeeze(tuple(a for a in axes if d.shape[a] == 1))
    return _view("Squeeze", x, out, _reshape_vjp, (d.shape,))


def unsqueeze(x, dim: int) -> Tensor:
    """Insert a size-1 dim at position ``dim`` (negative counts from the end of the result)."""
    d = x._data
    (axis,) = dims(dim, d.ndim + 1, "unsqueeze")
    out = xp.expand_dims(d, axis)
    return _view("Unsqueeze", x, out, _reshape_vjp, (d.shape,))


def broadcast_to(x, *shape) -> Tensor:
    """A read-only broadcast view of ``shape``; the engine sums the gradient back."""
    shape = _shape_arg(shape)
    try:
        out = xp.broadcast_to(x._data, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x._data.shape} to {shape}") from None
    return _view("Expand", x, out, _identity_vjp, ())


def _identity_vjp(g):
    # (broadcast_to: the engine sums the gradient back to the input's shape; cast: it casts it)
    return (g,)


def expand(x, *sizes) -> Tensor:
    """As broadcast_to, where -1 keeps a dim's size (PyTorch's expand)."""
    sizes = _shape_arg(sizes)
    shape = x._data.shape
    offset = len(sizes) - len(shape)
    if offset < 0:
        raise ValueError(f"expand: {sizes} has fewer dims than the tensor's shape {shape}")
    target = tuple(shape[i - offset] if n == -1 and i >= offset else n for i, n in enumerate(sizes))
    return broadcast_to(x, target)


def concatenate(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dim (dtypes promoted as by ``+``); 0-d tensors have none."""
    tensors = _tensor_list(tensors, "concatenate")
    for i, t in enumerate(tensors):
        if not t._data.ndim:
            raise ValueError(f"concatenate: zero-dimensional tensor (at position {i}) cannot be concatenated")
    (axis,) = dims(dim, tensors[0]._data.ndim, "concatenate")
    try:
        out = xp.concatenate([t._data for t in tensors], axis=axis)
    except ValueError:
        shapes = [t._data.shape for t in tensors]
        raise ValueError(f"concatenate: shapes {shapes} differ outside dim {dim}") from None
    if needs_graph(*tensors):
        lead = (slice(None),) * axis
        ends = np.cumsum([t._data.shape[axis] for t in tensors]).tolist()
        pieces = tuple((*lead, slice(start, end)) for start, end in zip([0, *ends], ends))
        return record("Concatenate", out, tensors, _pieces_vjp, (pieces,))
    return wrap(out)


def _pieces_vjp(g, pieces):
    """The gradient of a join: each input's piece of g (``pieces`` index it)."""
    return tuple(g[piece] for piece in pieces)


cat = concatenate


def stack(tensors, dim: int = 0) -> Tensor:
    """Join equally shaped tensors along a new dim (dtypes promoted as by ``+``)."""
    tensors = _tensor_list(tensors, "stack")
    (axis,) = dims(dim, tensors[0]._data.ndim + 1, "stack")
    shapes = {t._data.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors need the same shape, got {[t._data.shape for t in tensors]}")
    out = xp.stack([t._data for t in tensors], axis=axis)
    if needs_graph(*tensors):
        lead = (slice(None),) * axis
        pieces = tuple((*lead, i) for i in range(len(tensors)))
        return record("Stack", out, tensors, _pieces_vjp, (pieces,))
    return wrap(out)


def _tensor_list(tensors, op):
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    if not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"{op}: expected a sequence of Tensors, got {[type(t).__name__ for t in tensors]}")
    dtype = tensors[0]._data.dtype
    if any(t._data.dtype != dtype for t in tensors):
        dtype = result_type(*tensors)
        tensors = tuple(operand(t, dtype) for t in tensors)
    return tensors


def split(x, split_size_or_sections, dim: int = 0) -> tuple:
    """Cut into pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of the
    listed sizes. Each piece is a slice of ``x``, so its gradient comes from indexing."""
    from chainrule.ops.indexing import getitem

    (axis,) = dims(dim, x._data.ndim, "split")
    length = x._data.shape[axis]
    if not isinstance(split_size_or_sections, (list, tuple)):
        split_size_or_sections = int_arg(split_size_or_sections, "split_size", "split")
        sizes = [split_size_or_sections] * (length // split_size_or_sections)
        if length % split_size_or_sections:
            sizes.append(length % split_size_or_sections)
    else:
        sizes = [int_arg(s, "sections", "split", 0) for s in split_size_or_sections]
        if sum(sizes) != length:
            raise ValueError(
                f"split: sizes {sizes} add up to {sum(sizes)}, but dim {dim} has length {length}"
            )
    lead = (slice(None),) * axis
    pieces, start = [], 0
    for size in sizes:
        pieces.append(getitem(x, (*lead, slice(start, start + size))))
        start += size
    return tuple(pieces)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(x, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad (or, with negative widths, crop), PyTorch's convention: ``pad = (left, right)`` for the
    last dim, then ``(top, bottom)`` for the one before, and so on.

    ``mode='constant'`` fills with ``value`` (default 0) and pads any number of dims; ``'reflect'``
    (mirror, without repeating the edge), ``'replicate'`` (repeat the edge) and ``'circular'``
    (wrap around) pad the last 1, 2 or 3 dims of an input with one or two more (batch, channel).
    Their gradients send each output's gradient back to the element it copies (summed).

    >>> from chainrule import tensor
    >>> pad(tensor([[1., 2., 3.]]), (2, 1), mode="reflect")
    tensor([[3., 2., 1., 2., 3., 2.]])
    """
    d = x._data
    pad = tuple(int_arg(p, "pad", "pad", None) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > d.ndim:
        raise ValueError(f"pad: expected pairs for at most {d.ndim} dims, got {pad}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    widths = [(0, 0)] * d.ndim
    for i in range(len(pad) // 2):
        widths[d.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode != "constant":
        return _pad_by_index(x, widths, len(pad) // 2, mode, value)
    if any(lo < 0 or hi < 0 for lo, hi in widths):  # negative widths crop first
        from chainrule.ops.indexing import getitem

        x = getitem(x, tuple(slice(-min(lo, 0), n + min(hi, 0)) for (lo, hi), n in zip(widths, d.shape)))
        d = x._data
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if not any(lo or hi for lo, hi in widths):
        return x
    out = xp.pad(d, widths, constant_values=0.0 if value is None else value)
    region = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, d.shape))
    return _moved("Pad", x, out, _pad_vjp, (region,))


def _pad_vjp(g, region):
    return (g[region],)


def _pad_by_index(x, widths, padded, mode, value):
    """reflect/replicate/circular: x read at integer positions along each padded dim (indexing,
    whose gradient adds up the copies)."""
    from chainrule.ops.indexing import getitem

    d = x._data
    if value is not None and value != 0:
        raise ValueError(f"pad: mode {mode!r} takes no value, got value={value!r}")
    if d.ndim not in (padded + 1, padded + 2):
        raise ValueError(
            f"pad: mode {mode!r} pads the last {padded} dim(s) of a {padded + 1}-d or {padded + 2}-d input, "
            f"got shape {d.shape}"
        )
    for axis, (lo, hi) in enumerate(widths):
        if not lo and not hi:
            continue
        n = d.shape[axis]
        if lo < 0 or hi < 0:
            raise ValueError(f"pad: negative padding {(lo, hi)} needs mode='constant'")
        limit = n - 1 if mode == "reflect" else n if mode == "circular" else None
        if limit is not None and (lo > limit or hi > limit):
            raise ValueError(
                f"pad: {mode} padding {(lo, hi)} of dim {axis} must be at most {limit} for its size {n}"
            )
        if mode == "replicate" and not n:
            raise ValueError(f"pad: cannot replicate-pad dim {axis} of size 0")
        at = np.arange(-lo, n + hi)
        if mode == "reflect":
            period = max(2 * n - 2, 1)
            at = at % period
            at = np.where(at < n, at, period - at)
        elif mode == "replicate":
            at = np.clip(at, 0, n - 1)
        else:
            at = at % n
        x = getitem(x, (slice(None),) * axis + (at,))
    return x


def clone(x) -> Tensor:
    """A copy that stays in the graph."""
    return _moved("Clone", x, x._data.copy(), _identity_vjp, ())


def cast(x, dtype) -> Tensor:
    """x converted to ``dtype``; gradients flow back (converted) between floating dtypes."""
    dtype = as_dtype(dtype, "to")
    d = x._data
    if d.dtype == dtype:
        return x
    out = d.astype(dtype)
    if dtype.kind != "f":
        return wrap(out)
    return _moved("Cast", x, out, _identity_vjp, ())


# ---------------------------------------------------------------------------- composed moves
# PyTorch's other ways of moving elements, each written with the ops above or indexing: their
# gradients (and second derivatives) are those ops' rules.


_axes = dims  # (flip and roll take an argument named dims)


def _index(x, index):
    from chainrule.ops.indexing import getitem

    return getitem(x, index)


def _axis(dim, ndim, op):
    return dims(dim, ndim, op)[0]


def t(input) -> Tensor:
    """The transpose of a matrix (0-d and 1-d tensors come back as they are)."""
    if input._data.ndim > 2:
        raise ValueError(f"t: expected a tensor with at most 2 dims, got shape {input._data.shape}")
    return transpose(input, 0, 1) if input._data.ndim == 2 else input


def view_as(input, other) -> Tensor:
    """``input.view(other.shape)``."""
    return view(input, other._data.shape)


def reshape_as(input, other) -> Tensor:
    """``input.reshape(other.shape)``."""
    return reshape(input, other._data.shape)


def expand_as(input, other) -> Tensor:
    """``input.expand(other.shape)``."""
    return expand(input, other._data.shape)


def movedim(input, source, destination) -> Tensor:
    """Move the dim(s) ``source`` to position(s) ``destination``, the others keeping their order."""
    ndim = input._data.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {source} and destination {destination} differ in length")
    src = [_axis(s, ndim, "movedim") for s in src]
    dst = [_axis(s, ndim, "movedim") for s in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dims in source {source} or destination {destination}")
    order = [None] * ndim
    for s, dd in zip(src, dst):
        order[dd] = s
    rest = iter(a for a in range(ndim) if a not in src)
    order = [next(rest) if o is None else o for o in order]
    return permute(input, order)


moveaxis = movedim


def unflatten(input, dim: int, sizes) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one may be -1)."""
    shape = input._data.shape
    axis = _axis(dim, len(shape), "unflatten")
    return reshape(input, (*shape[:axis], *sizes, *shape[axis + 1:]))


def narrow(input, dim: int, start: int, length: int) -> Tensor:
    """The ``length`` elements from ``start`` (negative counts from the end) along ``dim``: a view."""
    shape = input._data.shape
    axis = _axis(dim, len(shape), "narrow")
    start = int_arg(int(start) if isinstance(start, Tensor) else start, "start", "narrow", -shape[axis], shape[axis])
    start %= shape[axis] if shape[axis] else 1
    length = int_arg(length, "length", "narrow", 0, shape[axis] - start)
    return _index(input, (slice(None),) * axis + (slice(start, start + length),))


def chunk(input, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` pieces along ``dim``, each of ``ceil(size / chunks)`` (the last smaller)."""
    chunks = int_arg(chunks, "chunks", "chunk")
    size = input._data.shape[_axis(dim, input._data.ndim, "chunk")]
    return split(input, max(-(-size // chunks), 1), dim)


def tensor_split(input, indices_or_sections, dim: int = 0) -> tuple:
    """Pieces along ``dim``: ``n`` nearly equal ones (the first ``size % n`` one longer) for an int,
    or cut before each listed index."""
    axis = _axis(dim, input._data.ndim, "tensor_split")
    size = input._data.shape[axis]
    if isinstance(indices_or_sections, int):
        n = int_arg(indices_or_sections, "sections", "tensor_split")
        lengths = [size // n + (1 if i < size % n else 0) for i in range(n)]
        cuts = np.cumsum([0, *lengths]).tolist()
    else:
        cuts = [0, *(int(i) for i in indices_or_sections), size]
    lead = (slice(None),) * axis
    return tuple(_index(input, (*lead, slice(a, max(a, b)))) for a, b in itertools.pairwise(cuts))


def unbind(input, dim: int = 0) -> tuple:
    """The slices along ``dim``, that dim removed."""
    axis = _axis(dim, input._data.ndim, "unbind")
    return tuple(_index(input, (slice(None),) * axis + (i,)) for i in range(input._data.shape[axis]))


def flip(input, dims, *more) -> Tensor:
    """The order of elements reversed along each of ``dims`` (``x.flip(0, 1)`` also reads so)."""
    axes = _axes((dims, *more) if more else dims, input._data.ndim, "flip")
    return _index(input, tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(input._data.ndim)))


def fliplr(input) -> Tensor:
    """Columns (dim 1) reversed; needs at least 2 dims."""
    if input._data.ndim < 2:
        raise ValueError(f"fliplr: expected at least 2 dims, got shape {input._data.shape}")
    return flip(input, 1)


def flipud(input) -> Tensor:
    """Rows (dim 0) reversed; needs at least 1 dim."""
    if input._data.ndim < 1:
        raise ValueError("fliplr: expected at least 1 dim, got a 0-d tensor")
    return flip(input, 0)


def roll(input, shifts, dims=None) -> Tensor:
    """Elements shifted by ``shifts`` along ``dims`` (flattened when dims is None), wrapping round:
    ``out[(i + shift) % n] = input[i]``."""
    if dims is None:
        if not isinstance(shifts, int):
            raise ValueError("roll: with dims=None, shifts must be one int")
        return reshape(roll(flatten(input), shifts, 0), input._data.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    axes = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} differ in length")
    out = input
    for shift, dim in zip(shifts, axes):
        axis = _axis(dim, input._data.ndim, "roll")
        n = input._data.shape[axis]
        out = _index(out, (slice(None),) * axis + ((np.arange(n) - shift) % max(n, 1),))
    return out


def repeat(input, *sizes) -> Tensor:
    """Tile: ``sizes[i]`` copies along each dim (more sizes than dims add leading dims)."""
    sizes = _shape_arg(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise ValueError(f"repeat: {len(sizes)} repeat counts for a tensor with {len(shape)} dims")
    shape = (1,) * (len(sizes) - len(shape)) + shape
    # Each dim becomes (copies, size): a broadcast that reshapes to the tiled tensor.
    paired = reshape(input, tuple(n for s in shape for n in (1, s)))
    tiled = broadcast_to(paired, tuple(n for r, s in zip(sizes, shape) for n in (r, s)))
    return reshape(tiled, tuple(r * s for r, s in zip(sizes, shape)))


def repeat_interleave(input, repeats, dim=None, *, output_size=None) -> Tensor:
    """Each element (or slice along ``dim``) repeated ``repeats`` times (an int, or a tensor of one
    count per element); flattened first when dim is None."""
    if dim is None:
        input, dim = flatten(input), 0
    axis = _axis(dim, input._data.ndim, "repeat_interleave")
    n = input._data.shape[axis]
    counts = xp.asarray(repeats._data if isinstance(repeats, Tensor) else repeats)
    if counts.dtype.kind not in "iu" or (counts.ndim and counts.shape != (n,)) or (counts < 0).any():
        raise ValueError(
            f"repeat_interleave: repeats must be a non-negative int or {n} of them, got {counts.tolist()}"
        )
    return _index(input, (slice(None),) * axis + (np.repeat(np.arange(n), counts),))


def unfold(input, dimension: int, size: int, step: int) -> Tensor:
    """Windows of ``size`` elements every ``step`` along ``dimension``, as a new last dim:
    ``out[..., i, ..., j] = input[..., i * step + j, ...]``."""
    shape = input._data.shape
    axis = _axis(dimension, max(len(shape), 1), "unfold") if shape else 0
    n = shape[axis] if shape else 1
    size = int_arg(size, "size", "unfold", 0, n)
    step = int_arg(step, "step", "unfold")
    starts = np.arange(0, n - size + 1, step)
    windows = starts[:, None] + np.arange(size)
    if not shape:  # a 0-d tensor unfolds as one element
        return _index(reshape(input, 1), windows[0])
    out = _index(input, (slice(None),) * axis + (windows,))
    return movedim(out, axis + 1, -1)


def tril(input, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (on and below ``diagonal``), zeros elsewhere."""
    return _triangle(input, diagonal, xp.tril, "tril")


def triu(input, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (on and above ``diagonal``), zeros elsewhere."""
    return _triangle(input, diagonal, xp.triu, "triu")


def _triangle(input, diagonal, keep, op):
    from chainrule.ops.arithmetic import where

    d = input._data
    if d.ndim < 2:
        raise ValueError(f"{op}: expected at least 2 dims, got shape {d.shape}")
    mask = keep(xp.ones(d.shape[-2:], dtype=bool), int_arg(diagonal, "diagonal", op, None))
    return where(mask, input, xp.zeros((), dtype=d.dtype))


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of the (dim1, dim2) planes (above the main one for offset > 0), as a new last dim."""
    d = input._data
    a, b = _axis(dim1, d.ndim, "diagonal"), _axis(dim2, d.ndim, "diagonal")
    if a == b:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
    offset = int_arg(offset, "offset", "diagonal", None)
    moved = movedim(input, (a, b), (-2, -1))
    rows, cols = d.shape[a], d.shape[b]
    start_r, start_c = max(-offset, 0), max(offset, 0)
    length = max(min(rows - start_r, cols - start_c), 0)
    return _index(moved, (Ellipsis, np.arange(length) + start_r, np.arange(length) + start_c))


_diagonal = diagonal  # (diag's argument is named diagonal)


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices (in dims dim1, dim2 of the result) whose ``offset`` diagonal holds the last dim."""
    from chainrule.ops.indexing import index_scatter

    d = input._data
    offset = int_arg(offset, "offset", "diag_embed", None)
    n = d.shape[-1] if d.ndim else 1
    side = n + abs(offset)
    at = np.arange(n)
    rows, cols = at + max(-offset, 0), at + max(offset, 0)
    out = index_scatter(input, (Ellipsis, rows, cols), (*d.shape[:-1], side, side))
    ndim = d.ndim + 1
    a, b = _axis(dim1, ndim, "diag_embed"), _axis(dim2, ndim, "diag_embed")
    if a == b:
        raise ValueError(f"diag_embed: dim1 and dim2 must differ, got {dim1} and {dim2}")
    return movedim(out, (-2, -1), (a, b))


def diag(input, diagonal: int = 0) -> Tensor:
    """For a vector, the square matrix with it on the ``diagonal``-th diagonal; for a matrix, that
    diagonal as a vector."""
    ndim = input._data.ndim
    if ndim == 1:
        return diag_embed(input, diagonal)
    if ndim == 2:
        return _diagonal(input, diagonal)
    raise ValueError(f"diag: expected a 1-d or 2-d tensor, got shape {input._data.shape}")


def trace(input) -> Tensor:
    """The sum of a matrix's main diagonal."""
    if input._data.ndim != 2:
        raise ValueError(f"trace: expected a 2-d tensor, got shape {input._data.shape}")
    return diagonal(input).sum()


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids of 1-D tensors: the i-th varies along dim i (``'ij'``), or with the first
    two dims swapped (``'xy'``, as NumPy's default)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t_ in tensors:
        if t_._data.ndim > 1:
            raise ValueError(f"meshgrid: expected 0-d or 1-d tensors, got shape {t_._data.shape}")
    sizes = [t_._data.size for t_ in tensors]
    if indexing == "xy" and len(tensors) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for i, t_ in enumerate(tensors):
        at = i if indexing == "ij" or len(tensors) < 2 or i > 1 else 1 - i
        shape = [1] * len(tensors)
        shape[at] = -1
        grids.append(broadcast_to(reshape(t_, shape), sizes))
    return tuple(grids)


def hstack(tensors) -> Tensor:
    """Join along dim 1 (dim 0 for 1-d tensors)."""
    tensors = [reshape(t_, 1) if not t_._data.ndim else t_ for t_ in tensors]
    return concatenate(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Join along dim 0, 1-d tensors (length n) taken as rows (1, n)."""
    return concatenate([reshape(t_, (1, -1)) if t_._data.ndim <= 1 else t_ for t_ in tensors], 0)


row_stack = vstack


def column_stack(tensors) -> Tensor:
    """Join along dim 1, 0-d and 1-d tensors (length n) taken as columns (n, 1)."""
    columns = [reshape(t_, (-1, 1)) if t_._data.ndim <= 1 else t_ for t_ in tensors]
    return concatenate(columns, 1)


swapdims = transpose


def rot90(input, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first towards the second."""
    a, b = (_axis(d_, input._data.ndim, "rot90") for d_ in dims)
    if a == b or len(dims) != 2:
        raise ValueError(f"rot90: dims must be two different dims, got {dims}")
    k %= 4
    if k == 0:
        return input
    if k == 2:
        return flip(input, (a, b))
    if k == 1:
        return transpose(flip(input, b), a, b)
    return flip(transpose(input, a, b), b)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (0-d ones reshaped to (1,)); one result for one tensor."""
    return _at_least(tensors, 1)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims (leading size-1 dims added)."""
    return _at_least(tensors, 2)


def _at_least(tensors, ndim):
    def make(t_):
        shape = t_._data.shape
        return t_ if len(shape) >= ndim else reshape(t_, (1,) * (ndim - len(shape)) + shape)

    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(make(t_) for t_ in tensors[0])
    out = tuple(make(t_) for t_ in tensors)
    return out[0] if len(out) == 1 else out


def cartesian_prod(*tensors) -> Tensor:
    """Every combination of one element from each 1-D tensor, as rows (the first varying slowest);
    one tensor comes back as it is."""
    if len(tensors) == 1:
        return tensors[0]
    return stack([reshape(g, -1) for g in meshgrid(*tensors, indexing="ij")], 1)


def block_diag(*tensors) -> Tensor:
    """The 2-D tensors (0-d and 1-d ones read as 1 x 1 and 1 x n) along the diagonal of one
    matrix, zeros elsewhere."""
    blocks = [reshape(t_, (1, -1)) if t_._data.ndim < 2 else t_ for t_ in tensors]
    for b in blocks:
        if b._data.ndim != 2:
            raise ValueError(f"block_diag: expected tensors with at most 2 dims, got shape {b._data.shape}")
    width = sum(b._data.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        cols = b._data.shape[1]
        rows.append(pad(b, (left, width - left - cols)))
        left += cols
    return concatenate(rows, 0)
