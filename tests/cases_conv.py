"""Op-table cases for convolution, upsampling and pooling (random small shapes, strides, paddings,
dilations, groups), and the plain nested-loop references they are checked against (the layer
tests reuse them)."""

import itertools
import math

import numpy as np
from hypothesis import strategies as st
from op_table import Case, Drawn, values

import chainrule as cr
from chainrule.ops.conv import conv1d, conv2d, conv_transpose2d
from chainrule.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from chainrule.ops.resample import interpolate, upsample

# ---------------------------------------------------------------------------- loop references


def _expand(value, nd):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd


def _positions(shape):
    return itertools.product(*map(range, shape))


def conv_reference(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Convolution by its definition, one output element at a time; ``padding`` is an int, a tuple
    or a list of (low, high) pairs per spatial dim."""
    nd = w.ndim - 2
    stride, dilation = _expand(stride, nd), _expand(dilation, nd)
    pads = [p if isinstance(p, tuple) else (p, p) for p in _expand(padding, nd)]
    n, _, *sizes = x.shape
    f, cg, *kernel = w.shape
    fg = f // groups
    outs = [(s + lo + hi - d * (k - 1) - 1) // st_ + 1
            for s, (lo, hi), k, d, st_ in zip(sizes, pads, kernel, dilation, stride)]
    out = np.zeros((n, f, *outs))
    for i, fo, o in itertools.product(range(n), range(f), _positions(outs)):
        total = 0.0 if b is None else b[fo]
        for ci, k in itertools.product(range(cg), _positions(kernel)):
            at = [oo * s + kk * d - lo for oo, s, kk, d, (lo, _) in zip(o, stride, k, dilation, pads)]
            if all(0 <= a < size for a, size in zip(at, sizes)):
                total += x[(i, fo // fg * cg + ci, *at)] * w[(fo, ci, *k)]
        out[(i, fo, *o)] = total
    return out


def conv_transpose_reference(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution by its definition: every input element scatters x * w into the
    output at o * stride + k * dilation - padding."""
    nd = w.ndim - 2
    stride, padding = _expand(stride, nd), _expand(padding, nd)
    output_padding, dilation = _expand(output_padding, nd), _expand(dilation, nd)
    n, c, *sizes = x.shape
    _, fg, *kernel = w.shape
    cg = c // groups
    outs = [(s - 1) * st_ - 2 * p + d * (k - 1) + op + 1
            for s, st_, p, d, k, op in zip(sizes, stride, padding, dilation, kernel, output_padding)]
    out = np.zeros((n, fg * groups, *outs))
    for i, ci, o in itertools.product(range(n), range(c), _positions(sizes)):
        for fo, k in itertools.product(range(fg), _positions(kernel)):
            at = [oo * s + kk * d - p for oo, s, kk, d, p in zip(o, stride, k, dilation, padding)]
            if all(0 <= a < size for a, size in zip(at, outs)):
                out[(i, ci // cg * fg + fo, *at)] += x[(i, ci, *o)] * w[(ci, fo, *k)]
    if b is not None:
        out += b.reshape(-1, *(1,) * nd)
    return out


def _pool_outs(sizes, kernel, stride, padding, dilation, ceil_mode):
    outs = []
    for s, k, st_, p, d in zip(sizes, kernel, stride, padding, dilation):
        span = s + 2 * p - d * (k - 1) - 1
        o = (-(-span // st_) if ceil_mode else span // st_) + 1
        if ceil_mode and (o - 1) * st_ >= s + p:  # the last window must start inside
            o -= 1
        outs.append(o)
    return outs


def _pool_args(nd, kernel_size, stride, padding, dilation):
    kernel = _expand(kernel_size, nd)
    stride = kernel if stride is None else _expand(stride, nd)
    return kernel, stride, _expand(padding, nd), _expand(dilation, nd)


def max_pool_reference(x, nd, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(values, indices): each window's maximum and the flat index in its input plane of the
    first maximum (window order), PyTorch's return_indices."""
    kernel, stride, padding, dilation = _pool_args(nd, kernel_size, stride, padding, dilation)
    sizes = x.shape[-nd:]
    outs = _pool_outs(sizes, kernel, stride, padding, dilation, ceil_mode)
    planes = x.reshape(-1, *sizes)
    vals = np.empty((len(planes), *outs))
    indices = np.empty((len(planes), *outs), dtype=np.int64)
    for r, o in itertools.product(range(len(planes)), _positions(outs)):
        best, where = None, None
        for k in _positions(kernel):
            at = tuple(oo * s + kk * d - p for oo, s, kk, d, p in zip(o, stride, k, dilation, padding))
            if all(0 <= a < size for a, size in zip(at, sizes)):
                if best is None or planes[(r, *at)] > best:
                    best, where = planes[(r, *at)], at
        vals[(r, *o)] = best
        indices[(r, *o)] = np.ravel_multi_index(where, sizes)
    lead = x.shape[:-nd]
    return vals.reshape(*lead, *outs), indices.reshape(*lead, *outs)


def avg_pool_reference(x, nd, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                       divisor_override=None):
    """Each window's sum over the input it covers, divided by the padded window's size (clipped to
    input + padding), by the input part's size (count_include_pad=False) or by divisor_override."""
    kernel, stride, padding, _ = _pool_args(nd, kernel_size, stride, padding, 1)
    sizes = x.shape[-nd:]
    outs = _pool_outs(sizes, kernel, stride, padding, (1,) * nd, ceil_mode)
    planes = x.reshape(-1, *sizes)
    out = np.empty((len(planes), *outs))
    for r, o in itertools.product(range(len(planes)), _positions(outs)):
        starts = [oo * s - p for oo, s, p in zip(o, stride, padding)]
        ends = [min(a + k, size + p) for a, k, size, p in zip(starts, kernel, sizes, padding)]
        padded_count = math.prod(e - a for a, e in zip(starts, ends))
        starts = [max(a, 0) for a in starts]
        ends = [min(e, size) for e, size in zip(ends, sizes)]
        inner_count = math.prod(e - a for a, e in zip(starts, ends))
        total = planes[(r, *(slice(a, e) for a, e in zip(starts, ends)))].sum()
        if divisor_override is not None:
            out[(r, *o)] = total / divisor_override
        else:
            out[(r, *o)] = total / (padded_count if count_include_pad else inner_count)
    return out.reshape(*x.shape[:-nd], *outs)


def adaptive_avg_pool_reference(x, nd, output_size):
    """Window i covers [floor(i L / out), ceil((i + 1) L / out)) on each axis."""
    sizes = x.shape[-nd:]
    outs = [s if o is None else o for o, s in zip(_expand(output_size, nd), sizes)]
    planes = x.reshape(-1, *sizes)
    out = np.empty((len(planes), *outs))
    for r, o in itertools.product(range(len(planes)), _positions(outs)):
        box = tuple(slice(i * s // n, -(-(i + 1) * s // n)) for i, s, n in zip(o, sizes, outs))
        out[(r, *o)] = planes[(r, *box)].mean()
    return out.reshape(*x.shape[:-nd], *outs)


def nearest_reference(x, scale):
    """Nearest-neighbour upsampling of the spatial dims: out[..., i, j] = x[..., i // s, j // t]."""
    out = np.empty((*x.shape[:2], *(n * s for n, s in zip(x.shape[2:], scale))))
    for o in _positions(out.shape[2:]):
        out[(..., *o)] = x[(..., *(i // s for i, s in zip(o, scale)))]
    return out


def first_derivative(op, inputs, seed=0):
    """inputs -> the gradient of <v, op(inputs)> (v fixed, random), recorded with create_graph:
    gradgradcheck of it checks op's third derivatives (the rules' rules' rules)."""
    v = cr.tensor(np.random.default_rng(seed).standard_normal(op(*inputs).shape), dtype=cr.float64)

    def gradient(*xs):
        return cr.autograd.grad(op(*xs), xs, v, create_graph=True, allow_unused=True, materialize_grads=True)

    return gradient


# ---------------------------------------------------------------------------- drawing helpers


def distinct(d, shape):
    """Values at least 0.06 apart (a permutation of a grid plus small noise), so that max pooling
    has no ties and finite differences never cross a window's argmax."""
    rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
    n = math.prod(shape)
    return (rng.permutation(n) - n / 2).reshape(shape) * 0.1 + rng.uniform(-0.02, 0.02, shape)


def _ints(d, nd, low, high):
    """An int or a tuple of nd ints (the two spellings the ops accept)."""
    items = tuple(d(st.integers(low, high)) for _ in range(nd))
    return items[0] if d(st.booleans()) and len(set(items)) == 1 else items


def _conv_case(nd, name, op):
    def draw(d):
        groups = d(st.sampled_from([1, 1, 2]))
        cg, fg, n = d(st.integers(1, 2)), d(st.integers(1, 2)), d(st.integers(1, 2))
        kernel = tuple(d(st.integers(1, 3)) for _ in range(nd))
        stride, dilation = _ints(d, nd, 1, 2), _ints(d, nd, 1, 2)
        form = d(st.sampled_from(["int", "tuple", "same", "valid"] if _expand(stride, nd) == (1,) * nd
                                 else ["int", "tuple"]))
        if form == "int":
            padding = d(st.integers(0, 2))
        elif form == "tuple":
            padding = tuple(d(st.integers(0, 2)) for _ in range(nd))
        else:
            padding = form
        if form == "same":
            totals = [dd * (k - 1) for k, dd in zip(kernel, _expand(dilation, nd))]
            pads = [(t // 2, t - t // 2) for t in totals]
        else:
            pads = [(p, p) for p in _expand(0 if form == "valid" else padding, nd)]
        extents = [dd * (k - 1) + 1 for k, dd in zip(kernel, _expand(dilation, nd))]
        sizes = [max(1, e - lo - hi) + d(st.integers(0, 2)) for e, (lo, hi) in zip(extents, pads)]
        arrays = [values(d, (n, groups * cg, *sizes)), values(d, (groups * fg, cg, *kernel))]
        if d(st.booleans()):
            arrays.append(values(d, (groups * fg,)))
        kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        ref_kw = dict(kw, padding=pads)
        return Drawn(arrays, lambda *t: op(*t, **kw), lambda *a: conv_reference(*a, **ref_kw))

    return Case(name, draw)


def _conv_transpose_case():
    def draw(d):
        groups = d(st.sampled_from([1, 1, 2]))
        cg, fg, n = d(st.integers(1, 2)), d(st.integers(1, 2)), d(st.integers(1, 2))
        kernel = (d(st.integers(1, 3)), d(st.integers(1, 3)))
        sizes = (d(st.integers(1, 3)), d(st.integers(1, 3)))
        stride, dilation = _ints(d, 2, 1, 3), _ints(d, 2, 1, 2)
        strides, dilations = _expand(stride, 2), _expand(dilation, 2)
        output_padding = tuple(d(st.integers(0, max(s, dd) - 1)) for s, dd in zip(strides, dilations))
        # Padding may trim the output, but must leave at least one element.
        padding = tuple(
            min(d(st.integers(0, 2)), ((n_ - 1) * s + dd * (k - 1) + op) // 2)
            for n_, s, dd, k, op in zip(sizes, strides, dilations, kernel, output_padding)
        )
        arrays = [values(d, (n, groups * cg, *sizes)), values(d, (groups * cg, fg, *kernel))]
        if d(st.booleans()):
            arrays.append(values(d, (groups * fg,)))
        kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                  dilation=dilation)
        return Drawn(arrays, lambda *t: conv_transpose2d(*t, **kw),
                     lambda *a: conv_transpose_reference(*a, **kw))

    return Case("conv_transpose2d", draw)


def _upsample_case(name, op):
    def draw(d):
        nd = d(st.integers(1, 2))
        shape = (d(st.integers(1, 2)), d(st.integers(1, 3)), *(d(st.integers(1, 3)) for _ in range(nd)))
        scale = tuple(d(st.integers(1, 3)) for _ in range(nd))
        if d(st.booleans()):
            kw = dict(size=tuple(n * s for n, s in zip(shape[2:], scale)))
        else:
            kw = dict(scale_factor=scale[0] if len(set(scale)) == 1 else scale)
        return Drawn([values(d, shape)], lambda t: op(t, **kw), lambda a: nearest_reference(a, scale))

    return Case(name, draw)


def _pool_shape(d, extents):
    """(C, *sizes) or (N, C, *sizes), each size at least the window's extent, so that every
    window holds some input (never only padding)."""
    lead = (d(st.integers(1, 2)), d(st.integers(1, 2)))[: d(st.sampled_from([1, 2, 2]))]
    return (*lead, *(e + d(st.integers(0, 3)) for e in extents))


def _pool_stride(d, nd, kernel):
    """None (meaning kernel_size), the kernel itself (the tiled fast path) or any stride."""
    form = d(st.sampled_from(["default", "kernel", "drawn"]))
    if form == "drawn":
        return _ints(d, nd, 1, 3)
    return None if form == "default" else kernel


def _max_pool_case(nd, name, op):
    def draw(d):
        kernel = _ints(d, nd, 1, 3)
        kernels = _expand(kernel, nd)
        stride = _pool_stride(d, nd, kernel)
        padding = tuple(d(st.integers(0, k // 2)) for k in kernels)
        dilation = _ints(d, nd, 1, 2)
        extents = [dd * (k - 1) + 1 for k, dd in zip(kernels, _expand(dilation, nd))]
        kw = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                  ceil_mode=d(st.booleans()))
        x = distinct(d, _pool_shape(d, extents))
        if d(st.booleans()):
            return Drawn([x], lambda t: op(t, **kw, return_indices=True)[0],
                         lambda a: max_pool_reference(a, nd, **kw)[0])
        return Drawn([x], lambda t: op(t, **kw), lambda a: max_pool_reference(a, nd, **kw)[0])

    return Case(name, draw)


def _avg_pool_case(nd, name, op):
    def draw(d):
        kernel = _ints(d, nd, 1, 3)
        kernels = _expand(kernel, nd)
        stride = _pool_stride(d, nd, kernel)
        padding = tuple(d(st.integers(0, k // 2)) for k in kernels)
        kw = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=d(st.booleans()),
                  count_include_pad=d(st.booleans()))
        if nd == 2 and d(st.booleans()):
            kw["divisor_override"] = d(st.integers(1, 5))
        x = values(d, _pool_shape(d, kernels))
        return Drawn([x], lambda t: op(t, **kw), lambda a: avg_pool_reference(a, nd, **kw))

    return Case(name, draw)


def _adaptive_case(nd, name, op):
    def draw(d):
        shape = _pool_shape(d, (1,) * nd)
        sizes = shape[-nd:]
        # Any size (uneven windows) or a divisor of the input's (the tiled path).
        outs = tuple(
            d(st.one_of(st.integers(1, n + 1), st.sampled_from([k for k in (1, 2, 3) if n % k == 0])))
            for n in sizes
        )
        if nd == 2 and d(st.booleans()):
            outs = (None, outs[1])
        output_size = outs[0] if nd == 1 and d(st.booleans()) else outs
        return Drawn([values(d, shape)], lambda t: op(t, output_size),
                     lambda a: adaptive_avg_pool_reference(a, nd, output_size))

    return Case(name, draw)


CONV_CASES = [
    _conv_case(1, "conv1d", conv1d),
    _conv_case(2, "conv2d", conv2d),
    _conv_transpose_case(),
    _upsample_case("interpolate", interpolate),
    _upsample_case("upsample", upsample),
]

POOL_CASES = [
    _max_pool_case(1, "max_pool1d", max_pool1d),
    _max_pool_case(2, "max_pool2d", max_pool2d),
    _avg_pool_case(1, "avg_pool1d", avg_pool1d),
    _avg_pool_case(2, "avg_pool2d", avg_pool2d),
    _adaptive_case(1, "adaptive_avg_pool1d", adaptive_avg_pool1d),
    _adaptive_case(2, "adaptive_avg_pool2d", adaptive_avg_pool2d),
]

CASES = CONV_CASES + POOL_CASES
