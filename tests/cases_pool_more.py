"""Op-table cases for 3-d pooling, adaptive max pooling, max unpooling and interpolate's modes
(random small shapes, sizes, scale factors, align_corners), and the plain-loop references they
are checked against (tests/test_pool_more.py reuses them)."""

import itertools
import math

import numpy as np
from cases_conv import _expand, avg_pool_reference, distinct, max_pool_reference
from hypothesis import strategies as st
from op_table import Case, Drawn, values

import chainrule as cr
from chainrule.ops.pool import (
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool3d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from chainrule.ops.resample import interpolate

# ---------------------------------------------------------------------------- loop references


def _positions(shape):
    return itertools.product(*map(range, shape))


def _window(i, n, o):
    """PyTorch's adaptive window i of o over n positions: [floor(i n / o), ceil((i + 1) n / o))."""
    return range(i * n // o, -(-(i + 1) * n // o))


def adaptive_max_pool_reference(x, nd, output_size):
    """(values, indices): each adaptive window's first maximum (row-major window order) and its
    index in the flattened input plane."""
    sizes = x.shape[-nd:]
    outs = [n if o is None else o for o, n in zip(_expand(output_size, nd), sizes)]
    planes = x.reshape(-1, *sizes)
    vals = np.empty((len(planes), *outs))
    indices = np.empty((len(planes), *outs), dtype=np.int64)
    for r, o in itertools.product(range(len(planes)), _positions(outs)):
        best, where = None, None
        for at in itertools.product(*(_window(i, n, m) for i, n, m in zip(o, sizes, outs))):
            if best is None or planes[(r, *at)] > best:
                best, where = planes[(r, *at)], at
        vals[(r, *o)] = best
        indices[(r, *o)] = np.ravel_multi_index(where, sizes)
    lead = x.shape[:-nd]
    return vals.reshape(*lead, *outs), indices.reshape(*lead, *outs)


def max_unpool_reference(x, indices, plane):
    """Zeros of the ``plane`` shape; each value written at its flat index, in order (a later
    write to one place replaces an earlier one)."""
    nd = len(plane)
    rows = x.reshape(-1, math.prod(x.shape[-nd:]))
    out = np.zeros((len(rows), math.prod(plane)))
    for r, (row, at) in enumerate(zip(rows, indices.reshape(len(rows), -1))):
        for value, i in zip(row, at):
            out[r, i] = value
    return out.reshape(*x.shape[:-nd], *plane)


def _keys_cubic(s, a=-0.75):
    """Keys' cubic convolution kernel at distance s."""
    s = abs(s)
    if s >= 2:
        return 0.0
    return ((a + 2) * s - (a + 3)) * s * s + 1 if s <= 1 else ((a * s - 5 * a) * s + 8 * a) * s - 4 * a


def _antialias_source_taps(n_in, n_out, scale, align_corners, cubic):
    """PIL's antialiasing filter as PyTorch applies it: output o averages the inputs around its
    centre ratio * (o + 0.5) with a triangle (or Keys' cubic, a = -0.5) widened by the ratio
    when shrinking, normalised; an axis of unchanged size is copied."""
    if n_out == n_in:
        return [[(o, 1.0)] for o in range(n_out)]
    if align_corners:
        ratio = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
        ratio = 1.0 / scale if scale else n_in / n_out
    half = 2.0 if cubic else 1.0
    support, stretch = (half * ratio, 1.0 / ratio) if ratio >= 1 else (half, 1.0)
    taps = []
    for o in range(n_out):
        centre = ratio * (o + 0.5)
        inputs = range(max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), n_in))
        weights = [
            _keys_cubic((i - centre + 0.5) * stretch, -0.5)
            if cubic
            else max(0.0, 1.0 - abs(i - centre + 0.5) * stretch)
            for i in inputs
        ]
        total = sum(weights)
        taps.append([(i, w / total if total else 0.0) for i, w in zip(inputs, weights)])
    return taps


def _source_taps(n_in, n_out, scale, mode, align_corners, nd):
    """[(input index, weight), ...] for each output position along one axis, from PyTorch's
    formulas written out per position (scale: the given scale factor or None)."""
    taps = []
    for o in range(n_out):
        if mode in ("nearest", "nearest-exact"):
            if mode == "nearest" and nd == 2 and n_out in (n_in, 2 * n_in):  # PyTorch's 2-d shortcuts
                taps.append([(o * n_in // n_out, 1.0)])
                continue
            # float64 input: PyTorch's ratio is float32 for 2-d input, float64 otherwise; the
            # product is rounded to float32 before the floor
            ratio = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
            if nd != 2:
                ratio = 1.0 / scale if scale else n_in / n_out
            source = np.floor(np.float32((o + 0.5 if mode == "nearest-exact" else o) * float(ratio)))
            taps.append([(min(int(source), n_in - 1), 1.0)])
            continue
        if align_corners:
            ratio = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
            source = ratio * o
        else:
            ratio = 1.0 / scale if scale else n_in / n_out
            source = ratio * (o + 0.5) - 0.5
        if mode == "bicubic":
            base = math.floor(source)
            t = source - base
            taps.append([(min(max(base + j, 0), n_in - 1), _keys_cubic(t - j)) for j in (-1, 0, 1, 2)])
        elif n_out == n_in:
            taps.append([(o, 1.0)])
        else:
            source = max(source, 0.0)
            first = min(math.floor(source), n_in - 1)
            t = min(max(source - first, 0.0), 1.0)
            taps.append([(first, 1.0 - t), (min(first + 1, n_in - 1), t)])
    return taps


def interpolate_reference(
    x, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None, antialias=False
):
    """Each output element as the sum over its per-axis taps' products of weights (loops)."""
    nd = x.ndim - 2
    sizes = x.shape[2:]
    if size is not None:
        outs, scales = _expand(size, nd), (None,) * nd
    else:
        scales = _expand(scale_factor, nd)
        outs = tuple(int(n * s) for n, s in zip(sizes, scales))
        if recompute_scale_factor:
            scales = (None,) * nd
    if mode == "area":
        out = np.empty((*x.shape[:2], *outs))
        for o in _positions(outs):
            box = tuple(slice(w.start, w.stop) for w in map(_window, o, sizes, outs))
            out[(..., *o)] = x[(..., *box)].mean(axis=tuple(range(2, 2 + nd)))
        return out
    if antialias:
        cubic = mode == "bicubic"
        taps = [_antialias_source_taps(n, m, s, align_corners, cubic) for n, m, s in zip(sizes, outs, scales)]
    else:
        taps = [_source_taps(n, m, s, mode, align_corners, nd) for n, m, s in zip(sizes, outs, scales)]
    out = np.zeros((*x.shape[:2], *outs))
    for o in _positions(outs):
        for combo in itertools.product(*(t[i] for t, i in zip(taps, o))):
            weight = math.prod(w for _, w in combo)
            out[(..., *o)] += weight * x[(..., *(i for i, _ in combo))]
    return out


# ---------------------------------------------------------------------------- cases


def _lead(d):
    """(C,) or (N, C), small: 3-d inputs grow fast."""
    return ((d(st.integers(1, 2)),), (d(st.integers(1, 2)), d(st.integers(1, 2))))[d(st.integers(0, 1))]


def _max_pool3d_case():
    def draw(d):
        kernel = tuple(d(st.integers(1, 2)) for _ in range(3))
        stride = d(st.sampled_from([None, 1, 2, (1, 2, 1)]))
        padding = tuple(d(st.integers(0, k // 2)) for k in kernel)
        dilation = d(st.sampled_from([1, (1, 2, 1)]))
        extents = [dd * (k - 1) + 1 for k, dd in zip(kernel, _expand(dilation, 3))]
        kw = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=d(st.booleans()))
        x = distinct(d, (*_lead(d), *(e + d(st.integers(0, 1)) for e in extents)))
        return Drawn([x], lambda t: max_pool3d(t, **kw), lambda a: max_pool_reference(a, 3, **kw)[0])

    return Case("max_pool3d", draw)


def _avg_pool3d_case():
    def draw(d):
        kernel = tuple(d(st.integers(1, 2)) for _ in range(3))
        stride = d(st.sampled_from([None, 1, (2, 1, 2)]))
        padding = tuple(d(st.integers(0, k // 2)) for k in kernel)
        kw = dict(
            kernel_size=kernel,
            stride=stride,
            padding=padding,
            ceil_mode=d(st.booleans()),
            count_include_pad=d(st.booleans()),
            divisor_override=d(st.sampled_from([None, None, 3])),
        )
        x = values(d, (*_lead(d), *(k + d(st.integers(0, 1)) for k in kernel)))
        return Drawn([x], lambda t: avg_pool3d(t, **kw), lambda a: avg_pool_reference(a, 3, **kw))

    return Case("avg_pool3d", draw)


def _adaptive_avg3d_case():
    def draw(d):
        sizes = tuple(d(st.integers(1, 3)) for _ in range(3))
        outs = tuple(d(st.sampled_from([None, 1, 2, 3])) for _ in sizes)
        x = values(d, (*_lead(d), *sizes))
        return Drawn(
            [x],
            lambda t: adaptive_avg_pool3d(t, outs),
            lambda a: interpolate_reference(a.reshape(-1, 1, *sizes), outs_of(sizes, outs), mode="area").reshape(
                *a.shape[:-3], *outs_of(sizes, outs)
            ),
        )

    return Case("adaptive_avg_pool3d", draw)


def outs_of(sizes, output_size):
    return tuple(n if o is None else o for o, n in zip(_expand(output_size, len(sizes)), sizes))


def _adaptive_max_case(nd, name, op):
    def draw(d):
        sizes = tuple(d(st.integers(1, 5 if nd < 3 else 3)) for _ in range(nd))
        outs = tuple(d(st.integers(1, n + 1)) for n in sizes)
        if d(st.booleans()):
            outs = (None, *outs[1:])
        output_size = outs[0] if nd == 1 and d(st.booleans()) else outs
        x = distinct(d, (*_lead(d), *sizes))
        pick = d(st.booleans())  # through return_indices or not
        return Drawn(
            [x],
            lambda t: op(t, output_size, return_indices=True)[0] if pick else op(t, output_size),
            lambda a: adaptive_max_pool_reference(a, nd, output_size)[0],
        )

    return Case(name, draw)


def _max_unpool_case(nd, name, op):
    """Unpooling a max pool's output with its indices: overlapping windows (stride < kernel) may
    send one index twice, where the last value stays. Sizes k + j s (and paddings that keep the
    default output size equal to the source's) so that every index fits the output plane."""

    def draw(d):
        kernel = tuple(d(st.integers(1, 3 if nd < 3 else 2)) for _ in range(nd))
        stride = tuple(d(st.integers(1, k)) for k in kernel)
        padding = tuple(p if 2 * p % s == 0 else 0 for p, s in zip((d(st.integers(0, k // 2)) for k in kernel), stride))
        sizes = tuple(k + s * d(st.integers(0, 2 if nd < 3 else 1)) for k, s in zip(kernel, stride))
        source = distinct(d, (*_lead(d), *sizes))
        pooled, indices = max_pool_reference(source, nd, kernel, stride, padding)
        output_size, plane = None, sizes
        if d(st.booleans()):  # another size that pools alike: up to stride - 1 more per dim
            plane = tuple(n + d(st.integers(0, s - 1)) for n, s in zip(sizes, stride))
            batched = source.ndim == nd + 2  # then (N, C, *plane) is accepted too
            output_size = (*source.shape[:2], *plane) if batched and d(st.booleans()) else plane
        x = values(d, pooled.shape)
        idx = cr.tensor(indices)
        kw = dict(kernel_size=kernel, stride=stride, padding=padding, output_size=output_size)
        return Drawn([x], lambda t: op(t, idx, **kw), lambda a: max_unpool_reference(a, indices, plane))

    return Case(name, draw)


def _interpolate_case():
    """Every mode, sizes up and down, integer and non-integer scale factors, align_corners."""

    def draw(d):
        mode = d(st.sampled_from(["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"]))
        nd = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode) or d(st.integers(1, 3))
        top = 4 if nd < 3 else 2
        shape = (d(st.integers(1, 2)), d(st.integers(1, 2)), *(d(st.integers(1, top)) for _ in range(nd)))
        kw = {"mode": mode}
        if mode not in ("nearest", "nearest-exact", "area"):
            kw["align_corners"] = d(st.sampled_from([None, False, True]))
        if d(st.booleans()):
            kw["size"] = tuple(d(st.integers(1, 2 * top)) for _ in range(nd))
        else:
            factors = [d(st.sampled_from([0.5, 1.0, 1.5, 2.0, 2.5, 1 / 3, 1.7])) for _ in range(nd)]
            factors = [f if int(n * f) >= 1 else 1.0 for f, n in zip(factors, shape[2:])]  # an output
            kw["scale_factor"] = factors[0] if len(set(factors)) == 1 and d(st.booleans()) else tuple(factors)
            kw["recompute_scale_factor"] = d(st.sampled_from([None, True]))
        if mode in ("bilinear", "bicubic"):
            kw["antialias"] = d(st.booleans())
        ref_kw = dict(kw, align_corners=kw.get("align_corners") or False)
        return Drawn([values(d, shape)], lambda t: interpolate(t, **kw), lambda a: interpolate_reference(a, **ref_kw))

    return Case("interpolate", draw)


CASES = [
    _max_pool3d_case(),
    _avg_pool3d_case(),
    _adaptive_avg3d_case(),
    _adaptive_max_case(1, "adaptive_max_pool1d", adaptive_max_pool1d),
    _adaptive_max_case(2, "adaptive_max_pool2d", adaptive_max_pool2d),
    _adaptive_max_case(3, "adaptive_max_pool3d", adaptive_max_pool3d),
    _max_unpool_case(1, "max_unpool1d", max_unpool1d),
    _max_unpool_case(2, "max_unpool2d", max_unpool2d),
    _max_unpool_case(3, "max_unpool3d", max_unpool3d),
    _interpolate_case(),
]
