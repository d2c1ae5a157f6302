"""Op-table cases for the shape, indexing, sorting and product ops PyTorch scripts use (flip, roll,
gather, scatter_reduce, sort, topk, einsum, pad modes ...), each against a NumPy reference. Most
are compositions of ops with rules, checked here as PyTorch's names; einsum has its own rule."""

import numpy as np
from hypothesis import strategies as st
from op_table import Case, Drawn, shapes, values

import chainrule as cr
import chainrule.nn.functional as F


def one(name, make, min_dims=1, max_side=4):
    """``make(draw, shape, rng) -> (op, reference)`` for an op of one tensor."""

    def draw(d):
        shape = d(shapes(min_dims=min_dims, max_side=max_side))
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        op, ref = make(d, shape, rng)
        return Drawn([values(d, shape)], op, ref)

    return Case(name, draw)


def _dim(d, shape):
    return d(st.integers(-len(shape), len(shape) - 1))


def _matrix_shape(d, shape):
    return (*shape[:-1], d(st.integers(1, 4)), shape[-1]) if len(shape) >= 2 else (2, *shape)


# ---------------------------------------------------------------------------- moves


def _t(d, shape, rng):
    return (lambda x: cr.t(x.reshape(-1, shape[-1])) * 2), (lambda a: a.reshape(-1, shape[-1]).T * 2)


def _as(name):
    def make(d, shape, rng):
        if name == "expand_as":
            other = cr.zeros(2, *shape)
            return (lambda x: x.expand_as(other) * 1), (lambda a: np.broadcast_to(a, (2, *shape)))
        other = cr.zeros(int(np.prod(shape)))
        return (lambda x: getattr(x, name)(other) * 1), (lambda a: a.reshape(-1))

    return make


def _movedim(d, shape, rng):
    src = _dim(d, shape)
    dst = _dim(d, shape)
    return (lambda x: cr.movedim(x, src, dst) * 1), (lambda a: np.moveaxis(a, src, dst))


def _unflatten(d, shape, rng):
    dim = _dim(d, shape)
    sizes = (1, shape[dim], 1)
    target = (*shape[: dim % len(shape)], *sizes, *shape[dim % len(shape) + 1 :])
    return (lambda x: cr.unflatten(x, dim, (1, -1, 1)) * 1), (lambda a: a.reshape(target))


def _narrow(d, shape, rng):
    dim = _dim(d, shape)
    n = shape[dim]
    start = int(rng.integers(-n, n))
    length = int(rng.integers(1, n - start % n + 1))  # (an empty result leaves nothing to check)
    lead = (slice(None),) * (dim % len(shape))
    return (lambda x: x.narrow(dim, start, length) * 2), (
        lambda a: a[(*lead, slice(start % n, start % n + length))] * 2
    )


def _chunk(d, shape, rng):
    dim = _dim(d, shape)
    chunks = d(st.integers(1, 4))
    size = -(-shape[dim] // chunks)
    pieces = np.array_split(np.empty(shape), range(size, shape[dim], size), axis=dim)
    pick = int(rng.integers(0, len(pieces)))

    def ref(a):
        return np.split(a, range(size, shape[dim], size), axis=dim)[pick] * 2

    return (lambda x: x.chunk(chunks, dim)[pick] * 2), ref


def _tensor_split(d, shape, rng):
    dim = _dim(d, shape)
    cuts = sorted(int(c) for c in rng.integers(0, shape[dim] + 1, size=2))
    return (lambda x: cr.cat(x.tensor_split(cuts, dim)[::-1], dim)), (
        lambda a: np.concatenate(np.split(a, cuts, axis=dim)[::-1], axis=dim)
    )


def _unbind(d, shape, rng):
    dim = _dim(d, shape)
    return (lambda x: cr.stack(x.unbind(dim)[::-1], -1)), (
        lambda a: np.stack([np.take(a, i, axis=dim) for i in range(shape[dim])][::-1], -1)
    )


def _flip(d, shape, rng):
    axes = tuple(int(a) for a in rng.permutation(len(shape))[: int(rng.integers(1, len(shape) + 1))])
    return (lambda x: x.flip(axes) * 2), (lambda a: np.flip(a, axes) * 2)


def _roll(d, shape, rng):
    if d(st.booleans()):
        shift = int(rng.integers(-5, 6))
        return (lambda x: x.roll(shift) * 2), (lambda a: np.roll(a, shift) * 2)
    axes = tuple(int(a) for a in rng.permutation(len(shape))[: int(rng.integers(1, len(shape) + 1))])
    shifts = tuple(int(s) for s in rng.integers(-5, 6, size=len(axes)))
    return (lambda x: x.roll(shifts, axes) * 2), (lambda a: np.roll(a, shifts, axes) * 2)


def _repeat(d, shape, rng):
    sizes = tuple(int(s) for s in rng.integers(1, 3, size=len(shape) + int(rng.integers(0, 2))))
    return (lambda x: x.repeat(*sizes)), (lambda a: np.tile(a, sizes))


def _repeat_interleave(d, shape, rng):
    form = d(st.sampled_from(["int", "tensor", "flat"]))
    dim = _dim(d, shape)
    if form == "flat":
        return (lambda x: x.repeat_interleave(2)), (lambda a: np.repeat(a, 2))
    if form == "int":
        return (lambda x: x.repeat_interleave(3, dim)), (lambda a: np.repeat(a, 3, dim))
    counts = rng.integers(0, 3, size=shape[dim])
    counts[0] = 1  # (an empty result leaves nothing to check)
    return (lambda x: x.repeat_interleave(cr.tensor(counts), dim)), (lambda a: np.repeat(a, counts, dim))


def _unfold(d, shape, rng):
    dim = _dim(d, shape)
    size = int(rng.integers(1, shape[dim] + 1))
    step = int(rng.integers(1, 3))

    def ref(a):
        starts = range(0, shape[dim] - size + 1, step)
        windows = [np.moveaxis(np.take(a, np.arange(s, s + size), axis=dim), dim, -1) for s in starts]
        return np.stack(windows, axis=dim % len(shape))

    return (lambda x: x.unfold(dim, size, step) * 2), (lambda a: ref(a) * 2)


def _triangle(name):
    def make(d, shape, rng):
        k = int(rng.integers(-3, 4))
        return (lambda x: getattr(x, name)(k) * 2), (lambda a: getattr(np, name)(a, k) * 2)

    return make


def _diagonal(d, shape, rng):
    a1, a2 = (int(a) for a in rng.permutation(len(shape))[:2])
    offset = int(rng.integers(1 - shape[a1], shape[a2]))  # a diagonal that is not empty
    return (lambda x: x.diagonal(offset, a1, a2) * 2), (lambda a: np.diagonal(a, offset, a1, a2) * 2)


def _diag_embed(d, shape, rng):
    offset = int(rng.integers(-2, 3))
    a1, a2 = (int(a) for a in rng.permutation(len(shape) + 1)[:2])

    def ref(a):
        n = a.shape[-1] + abs(offset)
        out = np.zeros((*a.shape[:-1], n, n))
        i = np.arange(a.shape[-1])
        out[..., i + max(-offset, 0), i + max(offset, 0)] = a
        return np.moveaxis(out, (-2, -1), (a1, a2))

    return (lambda x: cr.diag_embed(x, offset, a1, a2)), ref


def _diag(d, shape, rng):
    k = int(rng.integers(-2, 3))
    if len(shape) > 1:
        k = int(rng.integers(1 - shape[0], int(np.prod(shape[1:]))))
    if len(shape) == 1:
        return (lambda x: x.diag(k)), (lambda a: np.diag(a, k))
    return (lambda x: x.reshape(shape[0], -1).diag(k) * 2), (lambda a: np.diag(a.reshape(shape[0], -1), k) * 2)


def _trace(d, shape, rng):
    return (lambda x: x.reshape(shape[0], -1).trace()), (lambda a: np.trace(a.reshape(shape[0], -1)))


def _pad_mode(d, shape, rng):
    mode = d(st.sampled_from(["reflect", "replicate", "circular", "crop"]))
    padded = min(len(shape) - 1, 3) if mode != "crop" else len(shape)
    if padded < 1:
        return (lambda x: F.pad(x, (1, 2), value=0.5)), (lambda a: np.pad(a, (1, 2), constant_values=0.5))
    pad, widths = [], [(0, 0)] * len(shape)
    for i in range(padded):
        n = shape[-1 - i]
        limit = {"reflect": n - 1, "circular": n}.get(mode, 3)
        lo, hi = (int(w) for w in rng.integers(-n if mode == "crop" else 0, limit + 1, size=2))
        if mode == "crop":
            lo, hi = max(lo, -(n // 2)), max(hi, -((n - 1) // 2))  # one element stays
        pad += [lo, hi]
        widths[len(shape) - 1 - i] = (lo, hi)

    def ref(a):
        if mode == "crop":
            a = a[tuple(slice(-min(lo, 0), a.shape[k] + min(hi, 0)) for k, (lo, hi) in enumerate(widths))]
            return np.pad(a, [(max(lo, 0), max(hi, 0)) for lo, hi in widths], constant_values=0.5)
        return np.pad(a, widths, mode={"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode])

    if mode == "crop":
        return (lambda x: F.pad(x, pad, value=0.5)), ref
    return (lambda x: F.pad(x, pad, mode=mode) * 2), (lambda a: ref(a) * 2)


def _select(d, shape, rng):
    dim = _dim(d, shape)
    i = int(rng.integers(-shape[dim], shape[dim]))
    return (lambda x: x.select(dim, i) * 2), (lambda a: np.take(a, i, axis=dim) * 2)


def _rot90(d, shape, rng):
    k = int(rng.integers(-1, 5))
    axes = tuple(int(a) for a in rng.permutation(len(shape))[:2])
    return (lambda x: cr.rot90(x, k, axes) * 2), (lambda a: np.rot90(a, k, axes) * 2)


def _atleast(n):
    def make(d, shape, rng):
        op = cr.atleast_1d if n == 1 else cr.atleast_2d
        ref = np.atleast_1d if n == 1 else np.atleast_2d
        return (lambda x: op(x) * 2), (lambda a: ref(a) * 2)

    return make


MOVES = [
    one("select", _select),
    one("rot90", _rot90, min_dims=2),
    one("atleast_1d", _atleast(1), min_dims=0),
    one("atleast_2d", _atleast(2), min_dims=0),
    one("t", _t),
    one("view_as", _as("view_as")),
    one("reshape_as", _as("reshape_as")),
    one("expand_as", _as("expand_as")),
    one("movedim", _movedim),
    one("unflatten", _unflatten),
    one("narrow", _narrow),
    one("chunk", _chunk),
    one("tensor_split", _tensor_split),
    one("unbind", _unbind),
    one("flip", _flip),
    one("fliplr", lambda d, s, r: ((lambda x: x.fliplr() * 2), (lambda a: np.fliplr(a) * 2)), min_dims=2),
    one("flipud", lambda d, s, r: ((lambda x: x.flipud() * 2), (lambda a: np.flipud(a) * 2))),
    one("roll", _roll),
    one("repeat", _repeat),
    one("repeat_interleave", _repeat_interleave),
    one("unfold", _unfold),
    one("tril", _triangle("tril"), min_dims=2),
    one("triu", _triangle("triu"), min_dims=2),
    one("diagonal", _diagonal, min_dims=2),
    one("diag_embed", _diag_embed),
    one("diag", _diag),
    one("trace", _trace),
    one("pad", _pad_mode),
]


def _joined(name, op, ref):
    def draw(d):
        n = d(st.integers(1, 4))
        form = d(st.sampled_from([0, 1, 2]))
        shape = [(), (n,), (n, d(st.integers(1, 3)))][form]
        if name == "hstack" and form == 0:
            shape = (n,)
        arrays = [values(d, shape) for _ in range(d(st.integers(1, 3)))]
        return Drawn(arrays, lambda *ts: op(ts), lambda *xs: ref(xs))

    return Case(name, draw)


def _meshgrid_case():
    def draw(d):
        arrays = [values(d, (d(st.integers(1, 3)),)) for _ in range(d(st.integers(1, 3)))]
        indexing = d(st.sampled_from(["ij", "xy"]))
        pick = d(st.integers(0, len(arrays) - 1))
        return Drawn(arrays, lambda *ts: cr.meshgrid(*ts, indexing=indexing)[pick] * sum(t.sum() for t in ts),
                     lambda *xs: np.meshgrid(*xs, indexing=indexing)[pick] * sum(x.sum() for x in xs))

    return Case("meshgrid", draw)


def _several(name, op, ref, shape_of):
    def draw(d):
        arrays = [values(d, shape_of(d)) for _ in range(d(st.integers(1, 3)))]
        return Drawn(arrays, lambda *ts: op(*ts) * 2, lambda *xs: ref(*xs) * 2)

    return Case(name, draw)


def _cartesian_ref(*xs):
    if len(xs) == 1:
        return xs[0]
    return np.stack([g.reshape(-1) for g in np.meshgrid(*xs, indexing="ij")], 1)


def _block_diag_ref(*xs):
    blocks = [np.atleast_2d(x) for x in xs]
    out = np.zeros((sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)))
    r = c = 0
    for b in blocks:
        out[r : r + b.shape[0], c : c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    return out


JOINS = [
    _several("cartesian_prod", cr.cartesian_prod, _cartesian_ref, lambda d: (d(st.integers(1, 3)),)),
    _several("block_diag", cr.block_diag, _block_diag_ref, lambda d: d(shapes(min_dims=0, max_dims=2, max_side=3))),
    _joined("hstack", cr.hstack, np.hstack),
    _joined("vstack", cr.vstack, np.vstack),
    _joined("column_stack", cr.column_stack, np.column_stack),
    _meshgrid_case(),
]

# ---------------------------------------------------------------------------- indexing


def _along_index(d, shape, rng, dim, full=False):
    """A gather/scatter index: at most x's size outside ``dim``, any size along it."""
    sizes = tuple(n if full or i == dim % len(shape) else int(rng.integers(1, n + 1)) for i, n in enumerate(shape))
    sizes = tuple(int(rng.integers(1, 5)) if i == dim % len(shape) and not full else n for i, n in enumerate(sizes))
    return rng.integers(0, shape[dim], size=sizes)


def _np_along(index, dim):
    parts = list(np.indices(index.shape, sparse=True))
    parts[dim % index.ndim] = index
    return tuple(parts)


def _gather(d, shape, rng):
    dim = _dim(d, shape)
    index = _along_index(d, shape, rng, dim)
    return (lambda x: x.gather(dim, cr.tensor(index)) * 2), (lambda a: a[_np_along(index, dim)] * 2)


def _source_case(name):
    """scatter, scatter_add, scatter_reduce: input and src both differentiated."""

    def draw(d):
        shape = d(shapes(min_dims=1))
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        dim = _dim(d, shape)
        axis = dim % len(shape)
        # scatter writes one value per target (which of two writes wins is unspecified), so its
        # index is a distinct permutation prefix along dim; the reductions may repeat
        if name == "scatter":
            picked = np.argsort(rng.random(shape), axis=axis)
            cut = int(rng.integers(1, shape[axis] + 1))
            index = np.take(picked, np.arange(cut), axis=axis)
        else:
            index = _along_index(d, shape, rng, dim)
        src_shape = tuple(n + int(rng.integers(0, 2)) for n in index.shape)
        parts = _np_along(index, dim)
        cut = tuple(slice(0, n) for n in index.shape)
        reduce = d(st.sampled_from(["sum", "mean", "amax", "amin", "prod"]))
        include_self = d(st.booleans())

        def ref(a, s):
            out = a.copy()
            s = s[cut]
            if name == "scatter":
                out[parts] = s
            elif name == "scatter_add":
                np.add.at(out, parts, s)
            else:
                hit = np.zeros(shape, bool)
                hit[parts] = True
                if reduce == "prod":
                    if not include_self:
                        out[hit] = 1
                    np.multiply.at(out, parts, s)
                elif reduce in ("sum", "mean"):
                    if not include_self:
                        out[hit] = 0
                    np.add.at(out, parts, s)
                    if reduce == "mean":
                        count = np.zeros(shape)
                        np.add.at(count, parts, 1)
                        out = np.where(hit, out / np.maximum(count + include_self, 1), out)
                else:
                    if not include_self:
                        out[hit] = -np.inf if reduce == "amax" else np.inf
                    (np.maximum if reduce == "amax" else np.minimum).at(out, parts, s)
            return out * 2

        def op(x, s):
            if name == "scatter_reduce":
                return x.scatter_reduce(dim, cr.tensor(index), s, reduce, include_self=include_self) * 2
            return getattr(x, name)(dim, cr.tensor(index), s) * 2

        return Drawn([values(d, shape), values(d, src_shape)], op, ref)

    return Case(name, draw)


def _index_select(d, shape, rng):
    dim = _dim(d, shape)
    index = rng.integers(0, shape[dim], size=int(rng.integers(1, 5)))
    return (lambda x: x.index_select(dim, cr.tensor(index)) * 2), (lambda a: np.take(a, index, axis=dim) * 2)


def _index_add_case():
    def draw(d):
        shape = d(shapes(min_dims=1))
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        dim = _dim(d, shape)
        index = rng.integers(0, shape[dim], size=int(rng.integers(1, 5)))
        source_shape = list(shape)
        source_shape[dim] = index.size

        def ref(a, s):
            out = a.copy()
            np.add.at(out, (slice(None),) * (dim % len(shape)) + (index,), 0.5 * s)
            return out

        return Drawn([values(d, shape), values(d, tuple(source_shape))],
                     lambda x, s: x.index_add(dim, cr.tensor(index), s, alpha=0.5), ref)

    return Case("index_add", draw)


def _index_fill(d, shape, rng):
    dim = _dim(d, shape)
    index = rng.integers(0, shape[dim], size=int(rng.integers(0, 4)))

    def ref(a):
        out = a.copy()
        out[(slice(None),) * (dim % len(shape)) + (index,)] = -1.5
        return out * 2

    return (lambda x: x.index_fill(dim, cr.tensor(index), -1.5) * 2), ref


def _masked_fill_case():
    def draw(d):
        shape = d(shapes(min_dims=0))
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        mask = np.array(rng.random(shape[d(st.integers(0, len(shape))) :]) > 0.5)
        return Drawn([values(d, shape), values(d, ())],
                     lambda x, v: x.masked_fill(cr.tensor(mask), v) * 2, lambda a, v: np.where(mask, v, a) * 2)

    return Case("masked_fill", draw)


def _masked_select(d, shape, rng):
    mask = np.array(rng.random(d(st.sampled_from([shape, shape[1:], (2, *shape)]))) > 0.4)  # broadcast either way
    mask.flat[0] = True  # (an empty selection leaves nothing to check)
    full = np.broadcast_shapes(mask.shape, shape)

    def ref(a):
        return np.broadcast_to(a, full)[np.broadcast_to(mask, full)] * 2

    return (lambda x: x.masked_select(cr.tensor(mask)) * 2), ref


def _take(d, shape, rng):
    n = int(np.prod(shape))
    index = rng.integers(-n, n, size=tuple(int(s) for s in rng.integers(1, 3, size=int(rng.integers(0, 3)))))
    return (lambda x: x.take(cr.tensor(index)) * 2), (lambda a: np.take(a, index) * 2)


def _take_along_dim(d, shape, rng):
    if d(st.booleans()):
        index = rng.integers(-int(np.prod(shape)), int(np.prod(shape)), size=4)
        return (lambda x: cr.take_along_dim(x, cr.tensor(index)) * 2), (lambda a: np.take(a, index) * 2)
    dim = _dim(d, shape)
    sizes = tuple(int(rng.integers(1, 4)) if i == dim % len(shape) else d(st.sampled_from([1, n]))
                  for i, n in enumerate(shape))  # broadcasts against the input outside dim
    index = rng.integers(0, shape[dim], size=sizes)

    def ref(a):
        outside = np.broadcast_shapes(tuple(1 if i == dim % a.ndim else n for i, n in enumerate(a.shape)), sizes)
        full = tuple(a.shape[i] if i == dim % a.ndim else n for i, n in enumerate(outside))
        return np.take_along_axis(np.broadcast_to(a, full), np.broadcast_to(index, tuple(
            sizes[i] if i == dim % a.ndim else n for i, n in enumerate(outside))), dim) * 2

    return (lambda x: x.take_along_dim(cr.tensor(index), dim) * 2), ref


def _index_put_accumulate_case():
    def draw(d):
        shape = d(shapes(min_dims=1))
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        index = (rng.integers(-shape[0], shape[0], size=5),)  # repeats add up
        selected = np.empty(shape)[index].shape
        value_shape = selected[d(st.integers(0, len(selected))) :]

        def ref(a, v):
            out = a.copy()
            np.add.at(out, index, np.broadcast_to(v, selected))
            return out

        return Drawn([values(d, shape), values(d, value_shape)],
                     lambda t, v: cr.index_put(t, index, v, accumulate=True), ref)

    return Case("index_put", draw)


INDEXING = [
    _index_put_accumulate_case(),
    one("take_along_dim", _take_along_dim),
    one("gather", _gather),
    _source_case("scatter"),
    _source_case("scatter_add"),
    _source_case("scatter_reduce"),
    one("index_select", _index_select),
    _index_add_case(),
    one("index_fill", _index_fill),
    _masked_fill_case(),
    one("masked_select", _masked_select),
    one("take", _take, min_dims=0),
]

# ---------------------------------------------------------------------------- sorting
# Distinct values (a permutation of spaced-out numbers): where two tie, the sorted order and so
# the derivative jump.


def _distinct(name, make):
    def draw(d):
        shape = d(shapes(min_dims=0))
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        x = (rng.permutation(int(np.prod(shape))) * 0.3 + rng.uniform(0, 0.1)).reshape(shape) - 1.0
        op, ref = make(d, shape, rng)
        return Drawn([x], op, ref)

    return Case(name, draw)


def _sort(d, shape, rng):
    dim = _dim(d, shape) if shape else -1
    descending = d(st.booleans())

    def ref(a):
        if not shape:
            return a * 2
        out = np.sort(a, axis=dim)
        return (np.flip(out, dim) if descending else out) * 2

    return (lambda x: x.sort(dim, descending).values * 2), ref


def _topk(d, shape, rng):
    dim = _dim(d, shape) if shape else -1
    k = int(rng.integers(1, (shape[dim] if shape else 1) + 1))
    largest = d(st.booleans())

    def ref(a):
        if not shape:
            return a[()] * np.ones(()) * 2 if k else np.zeros(0)
        out = np.flip(np.sort(a, axis=dim), dim) if largest else np.sort(a, axis=dim)
        return np.take(out, np.arange(k), axis=dim) * 2

    if not shape:
        return (lambda x: x.topk(k, largest=largest).values * 2), (lambda a: a * 2)
    return (lambda x: x.topk(k, dim, largest).values * 2), ref


def _kthvalue(d, shape, rng):
    dim = _dim(d, shape) if shape else -1
    k = int(rng.integers(1, (shape[dim] if shape else 1) + 1))
    keepdim = d(st.booleans())

    def ref(a):
        if not shape:
            return a * 2
        return np.take(np.sort(a, axis=dim), [k - 1] if keepdim else k - 1, axis=dim) * 2

    return (lambda x: x.kthvalue(k, dim, keepdim).values * 2), ref


def _msort(d, shape, rng):
    return (lambda x: x.msort() * 2), (lambda a: np.sort(a, axis=0) * 2)


SORTING = [
    _distinct("sort", _sort),
    _distinct("topk", _topk),
    _distinct("kthvalue", _kthvalue),
    _distinct("msort", lambda d, s, r: _msort(d, s, r) if s else ((lambda x: x * 2), (lambda a: a * 2))),
]

# ---------------------------------------------------------------------------- products


def _einsum_case():
    forms = {
        "ij,jk->ik": ((2, 3), (3, 4)),
        "bij,bjk->bik": ((2, 2, 3), (2, 3, 1)),
        "ii->i": ((3, 3),),
        "ii": ((3, 3),),
        "ij->": ((2, 3),),
        "...ij,...jk->...ik": ((2, 1, 2, 3), (4, 3, 2)),
        "i,i": ((3,), (3,)),
        "i,j->ij": ((2,), (3,)),
        "iij,jk->ki": ((2, 2, 3), (3, 2)),
        "ijk->kji": ((2, 3, 4),),
        "ab,bc,cd->ad": ((2, 3), (3, 4), (4, 2)),
        "...i->...": ((2, 3, 4),),
        "bi,bj->b": ((1, 3), (4, 3)),
        "ij,kj": ((2, 3), (4, 3)),
    }

    def draw(d):
        equation = d(st.sampled_from(sorted(forms)))
        arrays = [values(d, s) for s in forms[equation]]
        return Drawn(arrays, lambda *ts: cr.einsum(equation, *ts), lambda *xs: np.einsum(equation, *xs))

    return Case("einsum", draw)


def _pair_case(name, op, ref, shapes_of):
    def draw(d):
        n, k, m, b = (d(st.integers(1, 4)) for _ in range(4))
        return Drawn([values(d, s) for s in shapes_of(n, k, m, b)], op, ref)

    return Case(name, draw)


def _cross_case():
    def draw(d):
        lead = d(shapes(min_dims=0, max_dims=2, max_side=3))
        at = d(st.integers(0, len(lead)))
        shape = (*lead[:at], 3, *lead[at:])
        other = shape[d(st.integers(0, at)) :]  # a trailing part that holds the 3 broadcasts
        return Drawn([values(d, shape), values(d, other)], lambda a, c: cr.cross(a, c, dim=at - len(shape)),
                     lambda a, c: np.cross(a, c, axis=at - len(shape)))

    return Case("cross", draw)


def _add_case(name, op, ref, shapes_of):
    def draw(d):
        n, k, m, b = (d(st.integers(1, 4)) for _ in range(4))
        beta, alpha = d(st.sampled_from([(1, 1), (0.5, 2.0), (0, -1.0)]))
        arrays = [values(d, s) for s in shapes_of(n, k, m, b)]
        if beta == 0:  # input is then ignored: give it no part, but a gradient of zero
            return Drawn(arrays, lambda i, *ts: op(i, *ts, beta=0, alpha=alpha) + 0 * i.sum(),
                         lambda i, *xs: ref(0 * i, *xs, alpha))
        return Drawn(arrays, lambda *ts: op(*ts, beta=beta, alpha=alpha),
                     lambda i, *xs: beta * i + ref(0 * i, *xs, alpha))

    return Case(name, draw)


def _pointwise_case(name, op, ref):
    def draw(d):
        shape = d(shapes(min_dims=0, max_dims=2, max_side=3))
        value = d(st.sampled_from([1, 0.5]))
        arrays = [values(d, shape), values(d, shape[1:]), values(d, shape, away_from=0.0)]
        return Drawn(arrays, lambda *ts: op(*ts, value=value), lambda a, b, c: a + value * ref(b, c))

    return Case(name, draw)


def _tensordot_case():
    forms = {2: ((2, 3, 4), (3, 4, 2)), 0: ((2,), (3, 1)), 1: ((3, 2), (2, 4)), ((1, 0), (0, 2)): ((2, 3), (3, 4, 2))}

    def draw(d):
        dims = d(st.sampled_from(list(forms)))
        arrays = [values(d, s) for s in forms[dims]]
        return Drawn(arrays, lambda a, b: cr.tensordot(a, b, dims), lambda a, b: np.tensordot(a, b, dims))

    return Case("tensordot", draw)


PRODUCTS = [
    _tensordot_case(),
    _pair_case("kron", cr.kron, np.kron, lambda n, k, m, b: [(n, k)[: b % 3], (m, b)]),
    _einsum_case(),
    _pair_case("mm", cr.mm, np.matmul, lambda n, k, m, b: [(n, k), (k, m)]),
    _pair_case("bmm", cr.bmm, np.matmul, lambda n, k, m, b: [(b, n, k), (b, k, m)]),
    _pair_case("mv", cr.mv, np.matmul, lambda n, k, m, b: [(n, k), (k,)]),
    _pair_case("dot", cr.dot, np.dot, lambda n, k, m, b: [(k,), (k,)]),
    _pair_case("outer", cr.outer, np.outer, lambda n, k, m, b: [(n,), (m,)]),
    _pair_case("inner", cr.inner, np.inner, lambda n, k, m, b: [[(k,), (m, k)], [(n, k), (k,)], [(n, k), (m, b, k)],
                                                                 [(), (m, k)]][b - 1]),
    _cross_case(),
    _add_case("addmm", cr.addmm, lambda i, a, b, alpha: i + alpha * (a @ b), lambda n, k, m, b: [(m,), (n, k), (k, m)]),
    _add_case("addmv", cr.addmv, lambda i, a, b, alpha: i + alpha * (a @ b), lambda n, k, m, b: [(n,), (n, k), (k,)]),
    _add_case("baddbmm", cr.baddbmm, lambda i, a, c, alpha: i + alpha * (a @ c),
              lambda n, k, m, b: [(1, n, m), (b, n, k), (b, k, m)]),
    _pointwise_case("addcmul", cr.addcmul, np.multiply),
    _pointwise_case("addcdiv", cr.addcdiv, np.divide),
]

CASES = MOVES + JOINS + INDEXING + SORTING + PRODUCTS
