"""Resampling (PyTorch's F.interpolate): along each spatial axis every output position reads a
few input positions with fixed weights (nearest: 1, linear: 2, cubic: 4, antialiased: as many
as the widened filter covers), so resizing is a separable linear map, applied one axis at a
time; its rule is the adjoint map (each output's gradient spread back over the positions it
read), which differentiates to any order. The source positions follow PyTorch's formulas
(aten's UpSample.h), float32 rounding of the nearest modes included. Mode 'area' is adaptive
average pooling."""

import math

import numpy as np

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.ops.linear_map import LinearMap, linear_map

MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
_SPATIAL_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}  # modes tied to one rank
_NAMES = {
    "nearest": "UpsampleNearest",
    "nearest-exact": "UpsampleNearestExact",
    "linear": "UpsampleLinear",
    "bilinear": "UpsampleBilinear",
    "trilinear": "UpsampleTrilinear",
    "bicubic": "UpsampleBicubic",
}

# ---------------------------------------------------------------------------- source positions


def _ratio(n_in, n_out, scale, align_corners):
    """Input positions per output position (PyTorch's area_pixel_compute_scale): (n_in - 1) /
    (n_out - 1) with align_corners, else 1 / scale_factor when one was given, else n_in / n_out."""
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return 1.0 / scale if scale else n_in / n_out


def _nearest_taps(n_in, n_out, scale, exact, nd, dtype):
    """One tap per output: floor(o * ratio) ('nearest', OpenCV's rule, kept by PyTorch) or
    floor((o + 0.5) * ratio) ('nearest-exact'), clipped to the input, rounded as PyTorch's CPU
    kernels round (measured): the ratio in float32 for 2-d inputs and in the input's precision
    otherwise, the product rounded to float32 before the floor, so that borderline positions
    land where PyTorch's do. PyTorch's 2-d 'nearest' also copies when n_out == n_in and takes
    o // 2 when n_out == 2 n_in, whatever the scale factor (its 1-d and 3-d forwards do not)."""
    o = np.arange(n_out)
    if nd == 2 and not exact and n_out == n_in:
        return None
    if nd == 2 and not exact and n_out == 2 * n_in:
        return [(o >> 1, None)]
    ratio = 1.0 / scale if scale else n_in / n_out
    if nd == 2 or dtype == np.float32:
        ratio = float(np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out))
    source = np.floor(((o + 0.5 if exact else o) * ratio).astype(np.float32))
    return [(np.minimum(source.astype(np.int64), n_in - 1), None)]


def _linear_taps(n_in, n_out, scale, align_corners):
    """Two taps per output: the input positions around its source position and the weights
    (1 - t, t); the source is clamped at 0 (PyTorch's rule; beyond the last input the second tap
    repeats the first)."""
    if n_out == n_in:
        return None
    o = np.arange(n_out)
    ratio = _ratio(n_in, n_out, scale, align_corners)
    source = ratio * o if align_corners else np.maximum(ratio * (o + 0.5) - 0.5, 0.0)
    first = np.minimum(np.floor(source).astype(np.int64), n_in - 1)
    t = np.clip(source - first, 0.0, 1.0)
    second = first + (first < n_in - 1)
    return [(first, 1.0 - t), (second, t)]


def _cubic_taps(n_in, n_out, scale, align_corners, a=-0.75):
    """Four taps per output: positions floor(source) - 1 ... + 2 (clipped to the input, so edges
    repeat) with Keys' cubic convolution weights (a = -0.75, PyTorch's and OpenCV's choice)."""
    o = np.arange(n_out)
    ratio = _ratio(n_in, n_out, scale, align_corners)
    source = ratio * o if align_corners else ratio * (o + 0.5) - 0.5  # not clamped: cubic reads left of 0
    base = np.floor(source).astype(np.int64)
    t = source - base

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    return [(np.clip(base - 1 + j, 0, n_in - 1), w) for j, w in enumerate(weights)]


def _antialias_taps(n_in, n_out, scale, align_corners, cubic):
    """Antialiased resizing (PIL's, as PyTorch's antialias=True): output o averages the inputs
    within the filter's support around its centre ratio * (o + 0.5), the filter (a triangle, or
    Keys' cubic with a = -0.5) stretched by the ratio when shrinking, so that every input
    contributes; each output's weights are normalised to sum to 1. Padded to one tap count with
    zero weights (indices repeated, so that they never decrease). An axis whose size does not
    change is copied, whatever the scale factor, as PyTorch's forward does."""
    if n_out == n_in:
        return None
    ratio = _ratio(n_in, n_out, scale, align_corners)
    half = 2.0 if cubic else 1.0
    support = half * ratio if ratio >= 1.0 else half
    stretch = 1.0 / ratio if ratio >= 1.0 else 1.0
    o = np.arange(n_out)
    centre = ratio * (o + 0.5)
    first = np.maximum((centre - support + 0.5).astype(np.int64), 0)
    last = np.minimum((centre + support + 0.5).astype(np.int64), n_in)  # one past
    count = int((last - first).max())
    j = np.arange(count)[None, :]
    x = np.abs((first[:, None] + j - centre[:, None] + 0.5) * stretch)
    if cubic:
        a = -0.5
        w = np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1, np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0))
    else:
        w = np.maximum(1.0 - x, 0.0)
    w = np.where(j < (last - first)[:, None], w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    w = np.divide(w, total, out=np.zeros_like(w), where=total != 0)
    index = np.minimum(first[:, None] + j, (last - 1)[:, None])
    return [(index[:, k], w[:, k]) for k in range(count)]


# ---------------------------------------------------------------------------- the linear map


def _along(axis, ndim, values):
    """``values`` (one per position on ``axis``) shaped to broadcast against an ndim array."""
    return values.reshape([-1 if i == axis else 1 for i in range(ndim)])


def _segment_sums(b, index, axis, n):
    """Sums of b's slices along ``axis`` that share an ``index`` (non-decreasing), placed at
    that index in an array with n positions on the axis: the adjoint of ``take(a, index, axis)``."""
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    sums = xp.add.reduceat(b, starts, axis=axis)
    targets = index[starts]
    if len(targets) == n:  # every input position read (upsampling): no zeros to fill
        return sums
    shape = list(b.shape)
    shape[axis] = n
    out = xp.zeros(shape, dtype=b.dtype)
    out[(slice(None),) * axis + (targets,)] = sums
    return out


# An axis whose map has at most this many entries (n_out * n_in) is applied as a dense matrix
# product: BLAS beats take-and-weigh and, far more, the segment sums of the adjoint for the small
# feature maps of networks (benchmarks/NOTES.md: 2x bilinear of (32, 64, 28, 28) float32, forward
# and backward 425 -> 27 ms); larger axes keep the taps (a dense map grows as n_out * n_in), and
# so do arrays holding an inf or a nan (0 * inf in a product would spread nan along the axis).
_DENSE_ENTRIES = 128 * 128


def _dense(taps, n_in):
    """The (n_out, n_in) matrix of one axis's taps."""
    n_out = len(taps[0][0])
    m = np.zeros((n_out, n_in))
    for index, weight in taps:
        np.add.at(m, (np.arange(n_out), index), 1.0 if weight is None else weight)
    return m


def _product_along(a, m, axis):
    """``m`` (n_out, n_in) applied along ``axis`` of ``a``: one (batched) matrix product."""
    if axis == a.ndim - 1:
        return a @ m.T
    lead, rest = a.shape[:axis], a.shape[axis + 1 :]
    out = xp.matmul(m, a.reshape(math.prod(lead), a.shape[axis], math.prod(rest)))
    return out.reshape(*lead, m.shape[0], *rest)


class _Resample(LinearMap):
    """Resizing as one tap list per spatial axis (None: that axis is copied): apply sums each
    tap's weighted ``take`` along the axis; the adjoint sums each tap's weighted gradient back
    onto the input positions it read (the taps' indices never decrease, so these are segment
    sums, not scatters). Small axes use the dense matrix of their taps instead."""

    def __init__(self, taps, sizes, names):
        self.taps, self.sizes, self.names = taps, sizes, names
        self.dense = [
            None if t is None or len(t[0][0]) * n > _DENSE_ENTRIES else _dense(t, n) for t, n in zip(taps, sizes)
        ]

    def _dense_for(self, a):
        """The dense matrices, or Nones where ``a`` holds a non-finite value."""
        if any(m is not None for m in self.dense) and not xp.isfinite(a).all():
            return [None] * len(self.dense)
        return self.dense

    def apply(self, a):
        if all(taps is None for taps in self.taps):
            return a.copy()  # a new array, as PyTorch returns a new tensor
        nd = len(self.taps)
        for i, (taps, dense) in enumerate(zip(self.taps, self._dense_for(a))):
            axis = a.ndim - nd + i
            if dense is not None:
                a = _product_along(a, dense.astype(a.dtype, copy=False), axis)
            elif taps is not None:
                out = None
                for index, weight in taps:
                    part = xp.take(a, index, axis=axis)
                    if weight is not None:
                        part *= _along(axis, a.ndim, weight.astype(a.dtype))
                    out = part if out is None else out + part
                a = out
        return xp.ascontiguousarray(a)

    def adjoint(self, b):
        if all(taps is None for taps in self.taps):
            return b.copy()
        nd = len(self.taps)
        denses = self._dense_for(b)
        for i in reversed(range(nd)):
            taps, dense = self.taps[i], denses[i]
            axis = b.ndim - nd + i
            if dense is not None:
                b = _product_along(b, dense.T.astype(b.dtype), axis)
            elif taps is not None:
                out = None
                for index, weight in taps:
                    part = b if weight is None else b * _along(axis, b.ndim, weight.astype(b.dtype))
                    part = _segment_sums(part, index, axis, self.sizes[i])
                    out = part if out is None else out + part
                b = out
        return xp.ascontiguousarray(b)


# ---------------------------------------------------------------------------- arguments


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _per_axis(value, nd, what, sizes, check, expected, op):
    """``value`` as nd items (a single value repeats), each passing ``check``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd
    if len(items) != nd:
        raise ValueError(
            f"{op}: the input has {nd} spatial dims {tuple(sizes)}, but {what} has {len(items)}: "
            f"{value!r}; pass {nd} values (or one for all)"
        )
    if not all(check(v) for v in items):
        raise TypeError(f"{op}: {what} must be {expected}, got {value!r}")
    return items


def _output_sizes(sizes, size, scale_factor, recompute_scale_factor, op):
    """(output sizes, scale factors or Nones): PyTorch's rules. A given scale factor sets the size
    floor(n * s) and, unless ``recompute_scale_factor``, also the ratio of positions (1 / s)."""
    nd = len(sizes)
    if (size is None) == (scale_factor is None):
        raise ValueError(
            f"{op}: pass exactly one of size and scale_factor, got size={size!r}, scale_factor={scale_factor!r}"
        )
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
        outs = tuple(int(v) for v in _per_axis(size, nd, "size", sizes, _is_int, "an int or a tuple of ints", op))
        scales = (None,) * nd
    else:
        scales = _per_axis(scale_factor, nd, "scale_factor", sizes, _is_number, "a number or a tuple of numbers", op)
        if not all(math.isfinite(s) and s > 0 for s in scales):
            raise ValueError(f"{op}: scale_factor must be positive and finite, got {scale_factor!r}")
        outs = tuple(int(n * float(s)) for n, s in zip(sizes, scales))
        scales = (None,) * nd if recompute_scale_factor else tuple(float(s) for s in scales)
    if any(o < 1 for o in outs):
        raise ValueError(f"{op}: input and output sizes must be positive, got input {tuple(sizes)} and output {outs}")
    return outs, scales


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims of (N, C, L), (N, C, H, W) or (N, C, D, H, W) input to ``size``
    or by ``scale_factor`` (PyTorch's F.interpolate; any sizes, non-integer factors).

    ``mode``: 'nearest' (input index floor(o * in / out)), 'nearest-exact' (floor((o + 0.5) * in
    / out)), 'linear' (3-d input), 'bilinear' (4-d), 'bicubic' (4-d, a = -0.75), 'trilinear'
    (5-d), 'area' (adaptive average pooling). The interpolating modes read output position o at
    input position (o + 0.5) * ratio - 0.5, ratio = in / out or 1 / scale_factor; with
    ``align_corners=True`` at o * (in - 1) / (out - 1), so that the corner elements line up.
    ``antialias=True`` (bilinear, bicubic) widens the filter by the ratio when shrinking, as PIL.

    >>> import chainrule as cr
    >>> interpolate(cr.tensor([[[1.0, 2.0]]]), scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    >>> interpolate(cr.tensor([[[1.0, 2.0]]]), size=3, mode="linear", align_corners=True).tolist()
    [[[1.0, 1.5, 2.0]]]
    """
    return _interpolate(
        input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias, "interpolate"
    )


def _interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias, op):
    """interpolate, its errors naming ``op`` (the function, or the layer that calls it)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    d = input._data
    if d.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating input, got dtype {d.dtype}")
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(
                f"{op}: align_corners option can only be set with the interpolating modes: "
                f"linear | bilinear | bicubic | trilinear (got mode {mode!r})"
            )
    elif align_corners is None:
        align_corners = False
    if d.ndim not in (3, 4, 5):
        raise ValueError(
            f"{op}: expected a 3-d (N, C, L), 4-d (N, C, H, W) or 5-d (N, C, D, H, W) input, got shape {d.shape}"
        )
    nd = d.ndim - 2
    if mode in _SPATIAL_DIMS and _SPATIAL_DIMS[mode] != nd:
        raise ValueError(f"{op}: mode {mode!r} needs a {_SPATIAL_DIMS[mode] + 2}-d input, got shape {d.shape}")
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ValueError(f"{op}: antialias=True is restricted to the bilinear and bicubic modes, got {mode!r}")
    sizes = d.shape[2:]
    if mode == "area":  # PyTorch always recomputes the ratio from the sizes here
        recompute_scale_factor = recompute_scale_factor or scale_factor is not None
    outs, scales = _output_sizes(sizes, size, scale_factor, recompute_scale_factor, op)
    if mode == "area":
        from chainrule.ops.pool import _adaptive_avg_pool  # pool imports conv, which re-exports this module

        return _adaptive_avg_pool(input, outs, nd, op)
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        taps = [_nearest_taps(n, o, s, exact, nd, d.dtype) for n, o, s in zip(sizes, outs, scales)]
    elif antialias:
        taps = [_antialias_taps(n, o, s, align_corners, mode == "bicubic") for n, o, s in zip(sizes, outs, scales)]
    elif mode == "bicubic":
        taps = [_cubic_taps(n, o, s, align_corners) for n, o, s in zip(sizes, outs, scales)]
    else:
        taps = [_linear_taps(n, o, s, align_corners) for n, o, s in zip(sizes, outs, scales)]
    name = f"{_NAMES[mode]}{nd}d{'Aa' if antialias else ''}"
    return linear_map(input, _Resample(taps, sizes, (name, f"{name}Backward")))


def upsample(
    input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None, recompute_scale_factor=None
) -> Tensor:
    """PyTorch's older name for ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """``interpolate(input, size, scale_factor, mode='nearest')`` (PyTorch's F.upsample_nearest)."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """``interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)`` (PyTorch's
    F.upsample_bilinear)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
