"""Pooling: max and average over sliding windows, and adaptive average pooling to a fixed output
size, each over the last 1 or 2 dims (one N-d implementation, thin 1-d and 2-d faces). Max and
average pooling loop over the kernel's offsets, each step a strided slice of the whole input;
nothing loops over samples or positions."""

import itertools
import math

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import record
from chainrule.autograd.mode import state
from chainrule.ops.conv import _pad_axes, _tuple
from chainrule.ops.operands import wrap


def _spatial_input(x, nd, op):
    """The input's data, checked: floating, with nd spatial dims after (C,) or (N, C)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    d = x._data
    if d.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating input, got dtype {d.dtype}")
    if d.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{op}: expected a {nd + 1}-d (unbatched) or {nd + 2}-d (batched) input, got shape {d.shape}"
        )
    return d


def _geometry(sizes, kernel, stride, padding, dilation, ceil_mode, op):
    """Output sizes and the (low, high) padding that makes the windows tile exactly (PyTorch's
    rule: with ceil_mode a last, partial window is kept only if it starts inside the input or
    the left padding; a negative high means the last elements are in no window)."""
    outs, highs = [], []
    for n, k, s, p, d in zip(sizes, kernel, stride, padding, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        if span < 0:
            raise ValueError(
                f"{op}: input of spatial size {tuple(sizes)} (padded by {padding}) is smaller than "
                f"the kernel's extent {tuple(d_ * (k_ - 1) + 1 for k_, d_ in zip(kernel, dilation))}"
            )
        o = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        outs.append(o)
        highs.append((o - 1) * s + d * (k - 1) + 1 - n - p)
    return outs, highs


def pool_args(kernel_size, stride, padding, dilation, nd, op):
    """The window's settings as nd-tuples, checked (a pooling layer checks them when it is built):
    kernel, stride and dilation at least 1, padding at least 0 and at most half the kernel."""
    kernel = _tuple(kernel_size, nd, "kernel_size", op, 1)
    stride = kernel if stride is None else _tuple(stride, nd, "stride", op, 1)
    padding = _tuple(padding, nd, "padding", op, 0)
    dilation = _tuple(dilation, nd, "dilation", op, 1)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    return kernel, stride, padding, dilation


def _offsets(kernel, stride, dilation, outs):
    """One index per kernel offset (in window order): the strided slice of the padded input that
    holds that offset's element of every window. Pooling loops over these prod(kernel) slices,
    each a whole-tensor NumPy operation (reductions over small strided window axes are many
    times slower)."""
    return [
        (..., *(slice(j * d, j * d + (o - 1) * s + 1, s) for j, d, o, s in zip(k, dilation, outs, stride)))
        for k in itertools.product(*map(range, kernel))
    ]


def _first_hits(padded, out, slices):
    """Per kernel offset, where it holds its window's first maximum (PyTorch's rule for ties)."""
    unclaimed = xp.ones(out.shape, dtype=bool)
    nan_out = _nan_windows(out)
    for index in slices:
        hit = padded[index] == out
        if nan_out is not None:
            hit |= xp.isnan(padded[index]) & nan_out
        hit &= unclaimed
        unclaimed ^= hit
        yield index, hit


def _nan_windows(out):
    """Where a window's maximum is nan (its first nan takes the gradient, as in PyTorch), or
    None when there is none (the usual case, at the cost of one scan of the output)."""
    nan_out = xp.isnan(out)
    return nan_out if nan_out.any() else None


# ---------------------------------------------------------------------------- max pooling


class PoolGeometry:
    """A max-pooling's settings, checked against one input's spatial sizes (``max_pool_geometry``)."""

    __slots__ = ("dilation", "highs", "kernel", "outs", "padding", "sizes", "slices", "stride", "tiled")

    def __init__(self, kernel, stride, padding, dilation, sizes, outs, highs):
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        self.sizes, self.outs, self.highs = sizes, outs, highs
        self.slices = _offsets(kernel, stride, dilation, outs)
        # Windows that tile the input (stride == kernel, no padding, nothing past the end): each
        # input element is in one window at most.
        self.tiled = (stride == kernel and not any(padding) and all(v == 1 for v in dilation)
                      and all(h <= 0 for h in highs))


def max_pool_geometry(sizes, kernel_size, stride, padding, dilation, ceil_mode, nd, op) -> PoolGeometry:
    kernel, stride, padding, dilation = pool_args(kernel_size, stride, padding, dilation, nd, op)
    outs, highs = _geometry(sizes, kernel, stride, padding, dilation, ceil_mode, op)
    return PoolGeometry(kernel, stride, padding, dilation, sizes, outs, highs)


def max_pool_forward(d, geo):
    """The pooled maxima of data d and what ``max_pool_backward`` needs."""
    padded = _pad_axes(d, geo.padding, geo.highs, value=-xp.inf)
    if geo.tiled:
        out, parts = _tiled_max(padded, geo.slices)
        return out, (padded, parts)
    out = padded[geo.slices[0]].copy()
    for index in geo.slices[1:]:
        xp.maximum(out, padded[index], out=out)
    return out, (padded, None)


def max_pool_backward(g, out, saved, geo, shape):
    """The input gradient (input of ``shape``): each window's gradient to its first maximum."""
    padded, parts = saved
    if geo.tiled:
        return _tiled_max_vjp(g, out, parts, geo.slices, shape, padded.shape)
    spread = xp.zeros(padded.shape, dtype=g.dtype)
    for index, hit in _first_hits(padded, out, geo.slices):
        spread[index] += g * hit
    # contiguous, as the input was: the layer below then computes the same numbers whatever
    # came between (a conv's bias gradient takes a BLAS path on contiguous gradients only)
    return xp.ascontiguousarray(_pad_axes(spread, [-p for p in geo.padding], [-h for h in geo.highs]))


def _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, op):
    d = _spatial_input(x, nd, op)
    geo = max_pool_geometry(d.shape[-nd:], kernel_size, stride, padding, dilation, ceil_mode, nd, op)
    out, saved = max_pool_forward(d, geo)
    indices = None
    if return_indices:
        # Each maximum's position in the flattened (unpadded) input plane, as PyTorch returns it.
        arg = sum(j * hit for j, (_, hit) in enumerate(_first_hits(saved[0], out, geo.slices)))
        offset = xp.unravel_index(arg, geo.kernel)
        position = xp.indices(geo.outs)
        coords = [position[i] * geo.stride[i] + offset[i] * geo.dilation[i] - geo.padding[i] for i in range(nd)]
        indices = wrap(xp.ravel_multi_index(coords, geo.sizes, mode="clip"))
    if not (state.grad_enabled and x.requires_grad):
        return (wrap(out), indices) if return_indices else wrap(out)
    shape = d.shape

    def max_pool_vjp(g):
        return (max_pool_backward(g, out, saved, geo, shape),)

    result = record(f"MaxPool{nd}d", out, (x,), max_pool_vjp)
    return (result, indices) if return_indices else result


def _tiled_max(a, slices):
    """Max over disjoint windows: each kernel offset's elements first copied into a contiguous
    part (a strided copy is ~3x cheaper than a strided comparison), then every comparison,
    here and in the backward, runs on contiguous memory: 2.2 -> 0.9 ms for the pooling of the
    benchmark CNN (benchmarks/NOTES.md)."""
    parts = xp.empty((len(slices), *a[slices[0]].shape), dtype=a.dtype)
    for part, index in zip(parts, slices):
        xp.copyto(part, a[index])
    out = parts[0].copy()
    for part in parts[1:]:
        xp.maximum(out, part, out=out)
    return out, parts


def _tiled_max_vjp(g, out, parts, slices, shape, covered):
    """Each window's gradient to its first maximum (PyTorch's rule for ties), written once into
    the input's place; elements cropped off the end (in no window) get zeros."""
    grad = xp.empty(shape, dtype=g.dtype)
    lead = grad.ndim - len(covered)
    region = grad[(..., *(slice(0, n) for n in covered[lead:]))]
    if region.shape != grad.shape:
        grad[...] = 0
    unclaimed = xp.ones(out.shape, dtype=bool)
    hit = xp.empty(out.shape, dtype=bool)
    nan_out = _nan_windows(out)
    for part, index in zip(parts, slices):
        xp.equal(part, out, out=hit)
        if nan_out is not None:
            hit |= xp.isnan(part) & nan_out
        hit &= unclaimed
        unclaimed ^= hit
        xp.multiply(g, hit, out=region[index])
    return grad


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over windows of the last dim (PyTorch's F.max_pool1d): input (N, C, L) or (C, L); padding
    counts as -inf; stride defaults to kernel_size. The gradient goes to each window's (first) maximum.

    >>> import chainrule as cr
    >>> max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[3.0, 2.0]]]
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1,
                     "max_pool1d")


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over windows of the last two dims (PyTorch's F.max_pool2d): input (N, C, H, W) or
    (C, H, W); kernel_size, stride, padding, dilation are ints or pairs. With ``return_indices``
    also returns each maximum's index in the flattened H * W input plane.

    >>> import chainrule as cr
    >>> max_pool2d(cr.ones(2, 3, 8, 8), 2).shape
    (2, 3, 4, 4)
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2,
                     "max_pool2d")


# ---------------------------------------------------------------------------- average pooling


def _divisors(sizes, outs, kernel, stride, padding, count_include_pad, dtype):
    """How many elements each window averages, as an array over the output positions: a product of
    per-axis counts (windows are boxes). The padding counts unless count_include_pad is False;
    what ceil_mode adds past the padding never counts (PyTorch's rule)."""
    div = xp.ones((), dtype=dtype)
    for i, (n, o, k, s, p) in enumerate(zip(sizes, outs, kernel, stride, padding)):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, n)
        shape = [1] * len(sizes)
        shape[i] = o
        div = div * (end - start).astype(dtype).reshape(shape)
    return div


def _avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, nd, op):
    d = _spatial_input(x, nd, op)
    kernel, stride, padding, ones = pool_args(kernel_size, stride, padding, 1, nd, op)
    if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override <= 0):
        raise ValueError(f"{op}: divisor_override must be a positive number, got {divisor_override!r}")
    sizes = d.shape[-nd:]
    outs, highs = _geometry(sizes, kernel, stride, padding, ones, ceil_mode, op)
    padded = _pad_axes(d, padding, highs)
    slices = _offsets(kernel, stride, ones, outs)
    sums = padded[slices[0]].copy()
    for index in slices[1:]:
        sums += padded[index]
    if divisor_override is not None:
        div = xp.asarray(divisor_override, dtype=d.dtype)
    else:
        div = _divisors(sizes, outs, kernel, stride, padding, count_include_pad, d.dtype)
    out = sums / div
    if not (state.grad_enabled and x.requires_grad):
        return wrap(out)
    tiled = stride == kernel and not any(padding)  # disjoint windows: write, do not accumulate
    padded_shape = padded.shape

    def avg_pool_vjp(g):
        share = g / div
        spread = (xp.empty if tiled else xp.zeros)(padded_shape, dtype=g.dtype)
        for index in slices:
            if tiled:
                spread[index] = share
            else:
                spread[index] += share
        return (_pad_axes(spread, [-p for p in padding], [-h for h in highs]),)

    return record(f"AvgPool{nd}d", out, (x,), avg_pool_vjp)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of the last dim (PyTorch's F.avg_pool1d): input (N, C, L) or (C, L);
    zero padding counts in the mean unless ``count_include_pad=False``.

    >>> import chainrule as cr
    >>> avg_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[2.0, 1.0]]]
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over windows of the last two dims (PyTorch's F.avg_pool2d): input (N, C, H, W) or
    (C, H, W); ``divisor_override`` replaces the window size as the divisor.

    >>> import chainrule as cr
    >>> avg_pool2d(cr.ones(1, 1, 4, 4), 2, padding=1)[0, 0].tolist()
    [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                     2, "avg_pool2d")


# ---------------------------------------------------------------------------- adaptive average pooling


def _averaging_matrix(n, o, dtype):
    """(o, n): row i averages PyTorch's window [floor(i n / o), ceil((i + 1) n / o))."""
    i = xp.arange(o)
    start = (i * n) // o
    end = -((-(i + 1) * n) // o)
    cols = xp.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_avg_pool(x, output_size, nd, op):
    d = _spatial_input(x, nd, op)
    sizes = d.shape[-nd:]
    items = (output_size,) * nd if output_size is None or isinstance(output_size, int) else tuple(output_size)
    if len(items) != nd:
        raise ValueError(
            f"{op}: output_size must be an int or a tuple of {nd} ints or None, got {output_size!r}"
        )
    outs = _tuple(tuple(n if o is None else o for o, n in zip(items, sizes)), nd, "output_size", op, 1)
    axes = tuple(range(-nd, 0))
    if all(o == 1 for o in outs):
        # Global average pooling: one mean over contiguous memory.
        out = d.mean(axis=axes, keepdims=True)
        shape, count = d.shape, math.prod(sizes)

        def vjp(g):
            spread = xp.empty(shape, dtype=g.dtype)
            spread[...] = g / count
            return (spread,)

    else:
        # Averaging is separable by axis: one small matrix product per axis (transposed in the
        # backward). Measured faster than reshape-and-mean even when the windows tile the input
        # (NumPy's reductions over small strided axes are slow).
        mats = [_averaging_matrix(n, o, d.dtype) for n, o in zip(sizes, outs)]
        out = _apply_per_axis(d, mats, transpose=False)
        vjp = lambda g: (_apply_per_axis(g, mats, transpose=True),)
    if not (state.grad_enabled and x.requires_grad):
        return wrap(out)
    return record(f"AdaptiveAvgPool{nd}d", out, (x,), vjp)


def _apply_per_axis(a, mats, transpose):
    nd = len(mats)
    for i, m in enumerate(mats):
        axis = a.ndim - nd + i
        a = xp.moveaxis(xp.tensordot(a, m, axes=([axis], [0 if transpose else 1])), -1, axis)
    return xp.ascontiguousarray(a)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling to ``output_size`` positions (PyTorch's F.adaptive_avg_pool1d): window i
    covers [floor(i L / out), ceil((i + 1) L / out)).

    >>> import chainrule as cr
    >>> adaptive_avg_pool1d(cr.tensor([[[1.0, 2.0, 3.0]]]), 2).tolist()
    [[[1.5, 2.5]]]
    """
    return _adaptive_avg_pool(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to an ``output_size`` (int, pair, None keeps a dim) grid (PyTorch's
    F.adaptive_avg_pool2d); ``output_size=1`` is global average pooling.

    >>> import chainrule as cr
    >>> adaptive_avg_pool2d(cr.ones(2, 3, 7, 5), 1).shape
    (2, 3, 1, 1)
    """
    return _adaptive_avg_pool(input, output_size, 2, "adaptive_avg_pool2d")
