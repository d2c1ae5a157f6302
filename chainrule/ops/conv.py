"""Convolution: one N-d cross-correlation (PyTorch's conv), computed as a single matrix product
over a strided view of the sliding windows; its transpose (conv_transpose2d), which is also the
input gradient of a convolution; the weight gradient; the sliding blocks as columns (unfold,
"im2col") and back (fold, its adjoint). The derivatives of each
of the three convolution ops are the other two, so they differentiate to any order. The 1-d, 2-d
and 3-d functions are thin faces over the N-d code; pooling shares the argument and padding
helpers."""

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph, record
from chainrule.ops.either import values
from chainrule.ops.linalg import product
from chainrule.ops.linear_map import LinearMap, linear_map
from chainrule.ops.operands import constant, same_dtype, wrap

# ---------------------------------------------------------------------------- window helpers


def _tuple(value, n: int, what: str, op: str, minimum: int) -> tuple:
    """An int or a sequence of n ints as a tuple of n ints, each at least ``minimum``."""
    items = (value,) * n if isinstance(value, (int, np.integer)) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    if (
        items is None or len(items) != n
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items)
    ):
        raise TypeError(f"{op}: {what} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in items):
        raise ValueError(f"{op}: {what} must be at least {minimum}, got {value!r}")
    return tuple(int(v) for v in items)


def _windows(a, kernel, stride, dilation):
    """A read-only view (..., *out, *kernel) of the windows over the last len(kernel) axes of
    ``a`` (no copy): ``view[..., o, k] == a[..., o * stride + k * dilation]``."""
    nd = len(kernel)
    lead, sizes, steps = a.shape[:-nd], a.shape[-nd:], a.strides[-nd:]
    out = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(sizes, kernel, stride, dilation))
    moves = (*(t * s for t, s in zip(steps, stride)), *(t * d for t, d in zip(steps, dilation)))
    strides = (*a.strides[:-nd], *moves)
    return as_strided(a, (*lead, *out, *kernel), strides, writeable=False)


def _pad_axes(a, lows, highs, value=0.0):
    """``a`` padded with ``value`` on its last len(lows) axes; negative widths crop instead."""
    if not any(lows) and not any(highs):
        return a
    nd = len(lows)
    crop = (..., *(slice(max(-lo, 0), n - max(-hi, 0)) for lo, hi, n in zip(lows, highs, a.shape[-nd:])))
    a = a[crop]
    if any(lo > 0 for lo in lows) or any(hi > 0 for hi in highs):
        widths = [(0, 0)] * (a.ndim - nd) + [(max(lo, 0), max(hi, 0)) for lo, hi in zip(lows, highs)]
        a = xp.pad(a, widths, constant_values=value)
    return a


# ---------------------------------------------------------------------------- the N-d core


def _im2col(x, kernel, stride, dilation, groups, channel_major):
    """The windows of (already padded) x (N, C, *S) as a matrix (the one copy of the forward),
    and the output's spatial shape: (groups, C/groups * prod(kernel), N * prod(out)) if
    ``channel_major``, else (N, groups, C/groups * prod(kernel), prod(out))."""
    n, c = x.shape[:2]
    nd = len(kernel)
    win = _windows(x, kernel, stride, dilation)  # (N, C, *out, *kernel)
    out = win.shape[2:2 + nd]
    rows = c // groups * math.prod(kernel)
    if channel_major:
        order = (1, *range(2 + nd, 2 + 2 * nd), 0, *range(2, 2 + nd))
        return win.transpose(order).reshape(groups, rows, n * math.prod(out)), out
    order = (0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
    return win.transpose(order).reshape(n, groups, rows, math.prod(out)), out


def _channel_major(w_shape):
    """Whether a convolution with a weight of shape (F, C/groups, *K) lays its window matrix out channel-
    major: one product over all samples, but the output and, for the weight gradient, the output
    gradient then need a transpose to and from sample-major order. That pays when the windows
    are at least as many values per position as the output (C/groups * prod(K) >= F: the
    benchmark CNN's 16->32 3x3 layer, forward 2.1 -> 1.6 ms, weight gradient 1.05 -> 0.65 ms),
    not for a 1->16 first layer (forward +0.2 ms, weight gradient 0.31 -> 0.98 ms)."""
    return math.prod(w_shape[1:]) >= w_shape[0]


def _correlate(x, w, stride, dilation, groups):
    """Cross-correlation of padded x (N, C, *S) with w (F, C/groups, *K) -> (N, F, *out)
    (sample-major, as x), and the window matrix (see ``_channel_major``)."""
    f, n = w.shape[0], x.shape[0]
    channel_major = _channel_major(w.shape)
    cols, out = _im2col(x, w.shape[2:], stride, dilation, groups, channel_major)
    y = w.reshape(groups, f // groups, -1) @ cols
    if channel_major:  # (groups, F/groups, N * P)
        return xp.ascontiguousarray(y.reshape(f, n, *out).swapaxes(0, 1)), cols
    return y.reshape(n, f, *out), cols  # (N, groups, F/groups, P): already sample-major


def _weight_grad(g, cols, w_shape, groups):
    """d(conv)/d(weight) for output gradient g (N, F, *out) and the forward's window matrix.
    Channel-major windows (3-d): one product per group, g transposed to (F, N * P) to meet them.
    Sample-major windows: one batched product per sample, summed over samples (measured faster
    than transposing both operands into one large product), each oriented as ``linalg.product``
    explains: (C/G * prod K, P) @ (P, F/G) when that has more rows (955 -> 603 us for a 16->32 3x3
    layer)."""
    n, f = g.shape[:2]
    positions = math.prod(g.shape[2:])  # not -1 in the reshapes: an empty batch (n = 0) has no size to infer
    if cols.ndim == 3:
        per_group = xp.ascontiguousarray(g.reshape(n, f, positions).swapaxes(0, 1)).reshape(
            groups, f // groups, n * positions)
        if groups == 1:
            return product(per_group[0], cols[0].T).reshape(w_shape)
        return (per_group @ cols.swapaxes(1, 2)).reshape(w_shape)
    g = g.reshape(n, groups, f // groups, positions)
    if cols.shape[-2] > g.shape[-2]:
        per_sample = (cols @ g.swapaxes(-1, -2)).sum(axis=0).swapaxes(-1, -2)
    else:
        per_sample = (g @ cols.swapaxes(-1, -2)).sum(axis=0)
    return per_sample.reshape(w_shape)


def _input_grad(g, w, stride, dilation, groups):
    """The adjoint of ``_correlate(., w, stride, dilation, groups)`` applied to g (N, F, *out),
    over the whole padded input frame ((out - 1) * stride + dilation * (K - 1) + 1 per axis), as
    col2im: one product W^T g per group over every sample and position, then each kernel offset's
    share added back in place (prod(kernel) adds, no scatter). Conv's input gradient and
    conv_transpose's forward are this. Measured about 2x faster than correlating the dilated g
    with the flipped kernel (benchmarks/NOTES.md)."""
    n, f, *out = g.shape
    cg, kernel = w.shape[1], w.shape[2:]
    frame = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out, stride, dilation, kernel)]
    if all(s == 1 for s in stride):
        return _input_grad_unit_stride(g, w, dilation, groups, frame)
    per_group = g.swapaxes(0, 1).reshape(groups, f // groups, -1)  # (G, F/G, N*P)
    cols = w.reshape(groups, f // groups, -1).swapaxes(1, 2) @ per_group  # (G, Cg*prod(K), N*P)
    cols = cols.reshape(groups * cg, *kernel, n, *out)
    gx = xp.zeros((groups * cg, n, *frame), dtype=g.dtype)
    for offsets in itertools.product(*map(range, kernel)):
        region = tuple(slice(k * d, k * d + s * (o - 1) + 1, s) for k, d, s, o in zip(offsets, dilation, stride, out))
        gx[(slice(None), slice(None), *region)] += cols[(slice(None), *offsets)]
    return gx.swapaxes(0, 1)


def _input_grad_unit_stride(g, w, dilation, groups, frame):
    """``_input_grad`` for stride 1. With g laid out at the frame's pitch (each sample's outputs
    at their flat positions in its frame, zeros between), every kernel offset moves all the
    contributions by one flat distance, so its share is ONE contiguous add per channel over all
    samples, instead of a strided add per row (benchmarks/NOTES.md). Contributions of the zeros
    land as zeros, also where they cross into the next sample's frame."""
    n, f, *out = g.shape
    cg, kernel = w.shape[1], w.shape[2:]
    pitch = [math.prod(frame[i + 1:]) for i in range(len(frame))]
    size = math.prod(frame)
    shifts = [sum(k * d * p for k, d, p in zip(offsets, dilation, pitch))
              for offsets in itertools.product(*map(range, kernel))]
    laid = xp.zeros((f, n, size), dtype=g.dtype)
    item = laid.itemsize
    as_strided(laid, (f, n, *out), (*laid.strides[:2], *(p * item for p in pitch)))[...] = g.swapaxes(0, 1)
    total = n * size
    cols = w.reshape(groups, f // groups, -1).swapaxes(1, 2) @ laid.reshape(groups, f // groups, total)
    cols = cols.reshape(groups * cg, len(shifts), total)
    gx = cols[:, 0].copy()  # the first shift is 0
    for j, shift in enumerate(shifts[1:], 1):
        gx[:, shift:] += cols[:, j, :total - shift]
    return gx.reshape(groups * cg, n, *frame).swapaxes(0, 1)


def _check_operands(x, weight, bias, nd, op, out_channels):
    """Check the operands at the boundary; returns whether the input is unbatched.
    ``out_channels(weight_shape)`` gives the bias length expected."""
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        if not isinstance(t, Tensor) and (t is not None or name != "bias"):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    xd, wd = x._data, weight._data
    if xd.dtype.kind != "f" or wd.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating input and weight, got {xd.dtype} and {wd.dtype}")
    if xd.dtype != wd.dtype or (bias is not None and bias._data.dtype != wd.dtype):
        same_dtype(op, x, weight, bias)
    if wd.ndim != nd + 2:
        raise ValueError(f"{op}: weight must have {nd + 2} dims, got shape {wd.shape}")
    if xd.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{op}: expected a {nd + 1}-d (unbatched) or {nd + 2}-d (batched) input, got shape {xd.shape}"
        )
    if bias is not None and bias._data.shape != (out_channels(wd.shape),):
        raise ValueError(f"{op}: bias must have shape ({out_channels(wd.shape)},), got {bias._data.shape}")
    return xd.ndim == nd + 1


def _groups(value, op):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {value!r}")
    return int(value)


def _conv_padding(padding, kernel, stride, dilation, op):
    """Per-axis (low, high) zero padding from an int, a tuple or "valid"/"same" (PyTorch's rule:
    "same" puts the odd element of the total d * (k - 1) at the end; it needs stride 1)."""
    nd = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return [(t // 2, t - t // 2) for t in totals]
        raise ValueError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    return [(p, p) for p in _tuple(padding, nd, "padding", op, 0)]


class ConvGeometry:
    """A convolution's settings, checked against one input and weight shape (``conv_geometry``)."""

    __slots__ = ("dilation", "groups", "highs", "lows", "sizes", "stride")

    def __init__(self, stride, dilation, groups, lows, highs, sizes):
        self.stride, self.dilation, self.groups = stride, dilation, groups
        self.lows, self.highs, self.sizes = lows, highs, sizes


def conv_geometry(x_shape, w_shape, stride, padding, dilation, groups, nd, op) -> ConvGeometry:
    """Check a convolution of an input of ``x_shape`` (with or without the batch axis) by a weight
    of ``w_shape``; raise naming ``op`` and the shapes when they do not fit."""
    stride = _tuple(stride, nd, "stride", op, 1)
    dilation = _tuple(dilation, nd, "dilation", op, 1)
    groups = _groups(groups, op)
    kernel = w_shape[2:]
    pads = _conv_padding(padding, kernel, stride, dilation, op)
    c, *sizes = x_shape[-nd - 1:]
    f = w_shape[0]
    if c % groups or f % groups or w_shape[1] * groups != c:
        raise ValueError(
            f"{op}: input has {c} channels (shape {x_shape}) but weight of shape {w_shape} "
            f"with groups={groups} expects {w_shape[1] * groups}"
            + ("" if f % groups == 0 else f"; out channels {f} are not divisible by groups")
        )
    padded = [s + lo + hi for s, (lo, hi) in zip(sizes, pads)]
    if any(p < d * (k - 1) + 1 for p, k, d in zip(padded, kernel, dilation)):
        raise ValueError(
            f"{op}: input of spatial size {tuple(sizes)} (padded {tuple(padded)}) is smaller than the "
            f"kernel's extent {tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))}"
        )
    return ConvGeometry(stride, dilation, groups, [lo for lo, _ in pads], [hi for _, hi in pads], sizes)


# ---------------------------------------------------------------------------- the three ops
# A convolution, its transpose and its weight gradient are bilinear, and each one's derivatives
# are the other two (as in PyTorch's double backward for convolutions). Each function below takes
# arrays (a rule's first-order path: the kernels above and nothing else) or tensors (recorded, so
# the gradient it computes can be differentiated again).


def _operands(a, b):
    """Whether a pair of operands are tensors, and the pair with an array among tensors made a
    constant tensor."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return True, constant(a), constant(b)
    return False, a, b


def _parents(a, b, bias):
    return (a, b) if bias is None else (a, b, bias)


def convolve(x, w, bias, geo):
    """The convolution of batched x (N, C, *S) by w (F, C/groups, *K), plus bias (F,) unless
    None, with ``geo``'s padding, stride, dilation and groups; returns the output and the window
    matrix of x (which the weight gradient reuses)."""
    tensors, x, w = _operands(x, w)
    out, cols = _correlate(_pad_axes(values(x), geo.lows, geo.highs), values(w), geo.stride, geo.dilation,
                           geo.groups)
    if bias is not None:
        out += values(bias).reshape(-1, *(1,) * len(geo.sizes))
    if not tensors:
        return out, cols
    if needs_graph(x, w, bias):
        flags = (x.requires_grad, w.requires_grad, bias is not None and bias.requires_grad)
        kept = cols if flags[1] else None  # the windows serve the weight gradient only
        out = record(f"Conv{len(geo.sizes)}d", out, _parents(x, w, bias), _convolve_vjp, (x, w, geo, kept, *flags))
        return out, cols
    return wrap(out), cols


def _convolve_vjp(g, x, w, geo, cols, need_x, need_w, need_b):
    # ``cols``, x's windows from the forward, spare the weight gradient an im2col; x is saved as
    # well, so that modifying x in place (which would make them stale) raises at backward.
    return (
        convolve_transpose(g, w, None, geo) if need_x else None,
        convolve_weight(x, g, geo, w.shape, cols) if need_w else None,
        _channel_sums(g) if need_b else None,
    )


def convolve_transpose(y, w, bias, geo):
    """The adjoint of ``convolve(., w, None, geo)`` applied to y (N, F, *out), plus bias (C,)
    unless None: an (N, C, *geo.sizes) result. A convolution's input gradient, and a transposed
    convolution's forward."""
    tensors, y, w = _operands(y, w)
    yd = values(y)
    full = _input_grad(yd, values(w), geo.stride, geo.dilation, geo.groups)
    highs = [lo + s - t for lo, s, t in zip(geo.lows, geo.sizes, full.shape[2:])]
    # sample-major, as the input: the layer below reads it contiguously (the max-pooling
    # backward took 40% longer on the channel-major array col2im produces)
    out = xp.ascontiguousarray(_pad_axes(full, [-lo for lo in geo.lows], highs))
    if bias is not None:
        out += values(bias).reshape(-1, *(1,) * len(geo.sizes))
    if not tensors:
        return out
    if needs_graph(y, w, bias):
        flags = (y.requires_grad, w.requires_grad, bias is not None and bias.requires_grad)
        return record(f"ConvTranspose{len(geo.sizes)}d", out, _parents(y, w, bias), _convolve_transpose_vjp,
                      (y, w, geo, *flags))
    return wrap(out)


def _convolve_transpose_vjp(g, y, w, geo, need_y, need_w, need_b):
    gy = gw = cols = None
    if need_y:
        gy, cols = convolve(g, w, None, geo)
    if need_w:
        gw = convolve_weight(g, y, geo, w.shape, cols)
    return gy, gw, _channel_sums(g) if need_b else None


def convolve_weight(x, g, geo, w_shape, cols=None):
    """The weight gradient of ``convolve(x, w, ., geo)`` (w of ``w_shape``) for output gradient g:
    the correlation of x's windows with g. ``cols``: x's window matrix if the caller has it."""
    tensors, x, g = _operands(x, g)
    if cols is None:
        padded = _pad_axes(values(x), geo.lows, geo.highs)
        cols, _ = _im2col(padded, w_shape[2:], geo.stride, geo.dilation, geo.groups, _channel_major(w_shape))
    out = _weight_grad(values(g), cols, w_shape, geo.groups)
    if not tensors:
        return out
    if needs_graph(x, g):
        return record(f"Conv{len(geo.sizes)}dWeight", out, (x, g), _convolve_weight_vjp,
                      (x, g, geo, x.requires_grad, g.requires_grad))
    return wrap(out)


def _convolve_weight_vjp(u, x, g, geo, need_x, need_g):
    # <u, weight_grad(x, g)> = <convolve(x, u), g> = <x, convolve_transpose(g, u)>
    return (
        convolve_transpose(g, u, None, geo) if need_x else None,
        convolve(x, u, None, geo)[0] if need_g else None,
    )


def _channel_sums(g):
    """g (N, C, *S) summed over every axis but the channels (a bias gradient): for contiguous
    arrays as two BLAS matrix-vector products, ~6x faster than NumPy's reduction over several
    axes; for tensors the (recorded) sum."""
    axes = (0, *range(2, g.ndim))
    if isinstance(g, Tensor) or not g.flags.c_contiguous or not g.size:
        return g.sum(axis=axes)
    n, c = g.shape[:2]
    per_row = g.reshape(n * c, -1) @ xp.ones(g.size // (n * c), dtype=g.dtype)
    return xp.ones(n, dtype=g.dtype) @ per_row.reshape(n, c)


def _conv(x, weight, bias, stride, padding, dilation, groups, nd, op):
    unbatched = _check_operands(x, weight, bias, nd, op, lambda shape: shape[0])
    geo = conv_geometry(x._data.shape, weight._data.shape, stride, padding, dilation, groups, nd, op)
    if unbatched:  # a batch of one, through indexing (which differentiates to any order)
        return convolve(x[None], weight, bias, geo)[0][0]
    return convolve(x, weight, bias, geo)[0]


def _conv_transpose(x, weight, bias, stride, padding, output_padding, dilation, groups, nd, op):
    groups = _groups(groups, op)
    unbatched = _check_operands(x, weight, bias, nd, op, lambda shape: shape[1] * groups)
    geo = _transpose_geometry(x._data.shape, weight._data.shape, stride, padding, output_padding, dilation,
                              groups, nd, op)
    if unbatched:
        return convolve_transpose(x[None], weight, bias, geo)[0]
    return convolve_transpose(x, weight, bias, geo)


def _transpose_geometry(x_shape, w_shape, stride, padding, output_padding, dilation, groups, nd, op):
    """A transposed convolution's settings as the geometry of the convolution it is the adjoint
    of: weight (C_in, C_out/groups, *K) maps C_out channels of the output's size to C_in; the
    padding crops the output, and output_padding adds rows at its end. ``x_shape`` with or
    without the batch axis."""
    stride = _tuple(stride, nd, "stride", op, 1)
    dilation = _tuple(dilation, nd, "dilation", op, 1)
    padding = _tuple(padding, nd, "padding", op, 0)
    output_padding = _tuple(output_padding, nd, "output_padding", op, 0)
    c = x_shape[-nd - 1]
    if c != w_shape[0] or c % groups:
        raise ValueError(
            f"{op}: input has {c} channels (shape {x_shape}), but weight of shape {w_shape} "
            f"expects {w_shape[0]}" + ("" if c % groups == 0 else f", divisible by groups={groups}")
        )
    if any(o >= max(s, d) for o, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(
            f"{op}: output_padding {output_padding} must be smaller than stride {stride} "
            f"or dilation {dilation}"
        )
    sizes = [(n - 1) * s - 2 * p + d * (k - 1) + o + 1
             for n, s, p, d, k, o in zip(x_shape[-nd:], stride, padding, dilation, w_shape[2:], output_padding)]
    if any(t <= 0 for t in sizes):
        raise ValueError(f"{op}: padding {padding} leaves no output for input of shape {x_shape}")
    return ConvGeometry(stride, dilation, groups, list(padding), [p - o for p, o in zip(padding, output_padding)],
                        sizes)


# ---------------------------------------------------------------------------- public faces


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-d cross-correlation (PyTorch's F.conv1d): input (N, C_in, L) or (C_in, L), weight
    (C_out, C_in/groups, k), bias (C_out,); output length floor((L + 2p - d(k-1) - 1)/s) + 1.
    ``padding`` may also be "valid" or "same".

    >>> import chainrule as cr
    >>> conv1d(cr.ones(1, 1, 5), cr.ones(1, 1, 3), padding=1).tolist()
    [[[2.0, 3.0, 3.0, 3.0, 2.0]]]
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-d cross-correlation (PyTorch's F.conv2d): input (N, C_in, H, W) or (C_in, H, W), weight
    (C_out, C_in/groups, kh, kw), bias (C_out,); stride, padding and dilation are ints or pairs
    (padding also "valid"/"same"). With padding applied to x:
    out[n, f, y, x] = bias[f] + sum_{c,i,j} w[f, c, i, j] x[n, c, s*y + d*i, s*x + d*j]
    (c running over the channels of f's group).

    >>> import chainrule as cr
    >>> conv2d(cr.ones(2, 3, 8, 8), cr.ones(4, 3, 3, 3), stride=2).shape
    (2, 4, 3, 3)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-d cross-correlation (PyTorch's F.conv3d): input (N, C_in, D, H, W) or (C_in, D, H, W),
    weight (C_out, C_in/groups, kd, kh, kw), bias (C_out,); stride, padding (also "valid"/"same")
    and dilation are ints or triples; each output size as conv1d's length.

    >>> import chainrule as cr
    >>> conv3d(cr.ones(1, 2, 4, 5, 6), cr.ones(3, 2, 3, 3, 3), padding=(1, 0, 0)).shape
    (1, 3, 4, 3, 4)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-d transposed convolution (PyTorch's F.conv_transpose1d), the adjoint of conv1d: input
    (N, C_in, L) or (C_in, L), weight (C_in, C_out/groups, k), bias (C_out,); output length
    (L - 1) * s - 2p + d(k - 1) + output_padding + 1.

    >>> import chainrule as cr
    >>> conv_transpose1d(cr.ones(1, 1, 3), cr.ones(1, 1, 2), stride=2).tolist()
    [[[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]]
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, dilation, groups, 1,
                           "conv_transpose1d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-d transposed convolution (PyTorch's F.conv_transpose2d), the adjoint of conv2d: input
    (N, C_in, H, W), weight (C_in, C_out/groups, kh, kw), bias (C_out,); output height
    (H - 1) * s - 2p + d(kh - 1) + output_padding + 1, likewise for the width.

    >>> import chainrule as cr
    >>> conv_transpose2d(cr.ones(1, 2, 4, 4), cr.ones(2, 3, 2, 2), stride=2).shape
    (1, 3, 8, 8)
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, dilation, groups, 2,
                           "conv_transpose2d")


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """3-d transposed convolution (PyTorch's F.conv_transpose3d), the adjoint of conv3d: input
    (N, C_in, D, H, W) or (C_in, D, H, W), weight (C_in, C_out/groups, kd, kh, kw), bias (C_out,);
    each output size as conv_transpose1d's length.

    >>> import chainrule as cr
    >>> conv_transpose3d(cr.ones(1, 2, 2, 3, 4), cr.ones(2, 5, 2, 2, 2), stride=2).shape
    (1, 5, 4, 6, 8)
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, dilation, groups, 3,
                           "conv_transpose3d")


# ---------------------------------------------------------------------------- sliding blocks


class _Blocks(LinearMap):
    """im2col and its adjoint col2im, on the last len(kernel) axes of a batch (N, C, *sizes):
    ``apply`` gives (N, C * prod(kernel), L), one column per block (zero padded), rows ordered
    channel first, then kernel offset (PyTorch's F.unfold); ``adjoint`` adds each column back
    where it was read (F.fold). ``batched=False``: the same without the N axis."""

    names = ("Unfold", "Fold")

    def __init__(self, sizes, kernel, dilation, padding, stride, batched):
        self.sizes, self.kernel, self.dilation = sizes, kernel, dilation
        self.padding, self.stride, self.batched = padding, stride, batched
        self.blocks = _block_counts(sizes, kernel, dilation, padding, stride)

    def apply(self, a):
        a = a if self.batched else a[None]
        n, c = a.shape[:2]
        nd = len(self.kernel)
        padded = _pad_axes(a, self.padding, self.padding)
        win = _windows(padded, self.kernel, self.stride, self.dilation)  # (N, C, *blocks, *kernel)
        order = (0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
        out = win.transpose(order).reshape(n, c * math.prod(self.kernel), math.prod(self.blocks))
        if xp.may_share_memory(out, a):  # the reshape found a view (1x1 blocks): the output owns its data
            out = out.copy()
        return out if self.batched else out[0]

    def adjoint(self, b):
        b = b if self.batched else b[None]
        n = b.shape[0]
        c = b.shape[1] // math.prod(self.kernel)
        cols = b.reshape(n, c, *self.kernel, *self.blocks)
        frame = [s + 2 * p for s, p in zip(self.sizes, self.padding)]
        out = xp.zeros((n, c, *frame), dtype=b.dtype)
        # one strided add per kernel offset, over every sample, channel and block at once
        for offsets in itertools.product(*map(range, self.kernel)):
            region = tuple(slice(k * d, k * d + s * (o - 1) + 1, s)
                           for k, d, s, o in zip(offsets, self.dilation, self.stride, self.blocks))
            out[(slice(None), slice(None), *region)] += cols[(slice(None), slice(None), *offsets)]
        out = xp.ascontiguousarray(_pad_axes(out, [-p for p in self.padding], [-p for p in self.padding]))
        return out if self.batched else out[0]


def _block_counts(sizes, kernel, dilation, padding, stride):
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, d, p, s in zip(sizes, kernel, dilation, padding, stride))


def _block_settings(kernel_size, dilation, padding, stride, op):
    nd = 2  # PyTorch's fold and unfold take 2 spatial dims; _Blocks takes any number
    return (_tuple(kernel_size, nd, "kernel_size", op, 1), _tuple(dilation, nd, "dilation", op, 1),
            _tuple(padding, nd, "padding", op, 0), _tuple(stride, nd, "stride", op, 1))


def _describe_blocks(kernel, dilation, padding, stride):
    return f"kernel_size={kernel}, dilation={dilation}, padding={padding}, stride={stride}"


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """The sliding blocks of a batched (N, C, H, W) or unbatched (C, H, W) input as columns
    (PyTorch's F.unfold, "im2col"): output (N, C * kh * kw, L), L the number of blocks,
    prod_i floor((S_i + 2 padding_i - dilation_i (k_i - 1) - 1) / stride_i) + 1;
    ``out[n, (c * kh + i) * kw + j, y * Lw + x] = x_padded[n, c, y s + i d, x s + j d]``.
    Its adjoint is ``fold``; a convolution is ``weight.view(F, -1) @ unfold(x)``.

    >>> import chainrule as cr
    >>> unfold(cr.arange(9.0).reshape(1, 1, 3, 3), 2).tolist()
    [[[0.0, 1.0, 3.0, 4.0], [1.0, 2.0, 4.0, 5.0], [3.0, 4.0, 6.0, 7.0], [4.0, 5.0, 7.0, 8.0]]]
    """
    return _unfold(input, kernel_size, dilation, padding, stride, "unfold")


def _unfold(input, kernel_size, dilation, padding, stride, op):
    """``unfold``, its errors naming ``op`` (the function or the layer)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    kernel, dilation, padding, stride = _block_settings(kernel_size, dilation, padding, stride, op)
    shape = input._data.shape
    if len(shape) not in (3, 4):
        raise ValueError(f"{op}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got shape {shape}")
    plan = _Blocks(shape[-2:], kernel, dilation, padding, stride, len(shape) == 4)
    if any(b < 1 for b in plan.blocks):
        raise ValueError(
            f"{op}: input of spatial size {shape[-2:]} with {_describe_blocks(kernel, dilation, padding, stride)} "
            f"has {plan.blocks} sliding blocks; expected at least one along each dim"
        )
    return linear_map(input, plan)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Columns of sliding blocks summed back into a batched (N, C, H, W) or unbatched (C, H, W)
    image of ``output_size`` (H, W) (PyTorch's F.fold, "col2im"): the adjoint of ``unfold`` with
    the same settings, so where blocks overlap their values add up. input (N, C * kh * kw, L) or
    (C * kh * kw, L), L the number of blocks ``unfold`` makes of an (H, W) image.

    >>> import chainrule as cr
    >>> fold(cr.ones(1, 4, 4), (3, 3), 2).tolist()
    [[[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]]
    """
    return _fold(input, output_size, kernel_size, dilation, padding, stride, "fold")


def _fold(input, output_size, kernel_size, dilation, padding, stride, op):
    """``fold``, its errors naming ``op`` (the function or the layer)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    output_size = _tuple(output_size, 2, "output_size", op, 1)
    kernel, dilation, padding, stride = _block_settings(kernel_size, dilation, padding, stride, op)
    shape = input._data.shape
    if len(shape) not in (2, 3):
        raise ValueError(
            f"{op}: expected a 2-d (C * kh * kw, L) or 3-d (N, C * kh * kw, L) input, got shape {shape}"
        )
    plan = _Blocks(output_size, kernel, dilation, padding, stride, len(shape) == 3)
    settings = f"output_size={output_size}, {_describe_blocks(kernel, dilation, padding, stride)}"
    if shape[-2] % math.prod(kernel):
        raise ValueError(
            f"{op}: input's dim {len(shape) - 2} ({shape[-2]}, shape {shape}) must be divisible by the "
            f"product of kernel_size {kernel}"
        )
    if any(b < 1 for b in plan.blocks) or shape[-1] != math.prod(plan.blocks):
        raise ValueError(
            f"{op}: with {settings} there are {' * '.join(map(str, plan.blocks))} sliding blocks, so "
            f"input's last dim must be {math.prod(plan.blocks)}, got shape {shape}"
        )
    return linear_map(input, plan, adjoint=True)
