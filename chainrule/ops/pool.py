"""Pooling: max and average over sliding windows, adaptive average and max pooling to a fixed
output size, and max unpooling, each over the last 1, 2 or 3 dims (one N-d implementation, thin
1-d, 2-d and 3-d faces). Max and average pooling loop over the kernel's offsets, each step a
strided slice of the whole input; nothing loops over samples or positions. Average pooling is a
linear map, and so is max pooling's backward (the gradient routed to each window's maximum);
adaptive max pooling picks one element per window (a gather) and max unpooling puts them back
(its adjoint). Each is a ``LinearMap`` whose rule is its adjoint, so all differentiate to any
order."""

import itertools
import math

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import OUTPUT, needs_graph, record
from chainrule.ops.conv import _pad_axes, _tuple
from chainrule.ops.either import values
from chainrule.ops.linear_map import LinearMap, linear_map
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


def _nan_windows(out):
    """Where a window's maximum is nan (its last nan takes the gradient, as in PyTorch, whose
    kernels let every nan replace the running maximum), or None when there is none (the usual
    case, at the cost of one scan of the output)."""
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


def _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, op):
    d = _spatial_input(x, nd, op)
    geo = max_pool_geometry(d.shape[-nd:], kernel_size, stride, padding, dilation, ceil_mode, nd, op)
    padded = _pad_axes(d, geo.padding, geo.highs, value=-xp.inf)
    if geo.tiled:
        out, parts = _tiled_max(padded, geo.slices)
    else:
        out, parts = padded[geo.slices[0]].copy(), None
        for index in geo.slices[1:]:
            xp.maximum(out, padded[index], out=out)
    indices = None
    if return_indices:
        # Each maximum's position in the flattened (unpadded) input plane, as PyTorch returns it.
        hits = _MaxRouting(geo, padded, parts, out, d.shape)._hits()
        arg = sum(j * hit for j, (_, hit) in enumerate(hits))
        offset = xp.unravel_index(arg, geo.kernel)
        position = xp.indices(geo.outs)
        coords = [position[i] * geo.stride[i] + offset[i] * geo.dilation[i] - geo.padding[i] for i in range(nd)]
        indices = wrap(xp.ravel_multi_index(coords, geo.sizes, mode="clip"))
    if needs_graph(x):
        result = record(f"MaxPool{nd}d", out, (x,), _max_pool_vjp, (x, OUTPUT, geo, padded, parts))
    else:
        result = wrap(out)
    return (result, indices) if return_indices else result


def _max_pool_vjp(g, x, out, geo, padded, parts):
    # The maxima are found from padded (x padded with -inf, or x itself) and out; both x and out
    # are saved so that modifying either in place raises at backward instead of misrouting.
    return (linear_map(g, _MaxRouting(geo, padded, parts, values(out), values(x).shape)),)


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


class _MaxRouting(LinearMap):
    """Max pooling's backward as a linear map fixed by where the maxima are: each window's
    gradient goes to its first maximum (PyTorch's rule for ties); the adjoint picks, for each
    window, the element at its first maximum. ``parts``: the tiled forward's contiguous copies."""

    def __init__(self, geo, padded, parts, out, shape):
        self.geo, self.padded, self.parts, self.out, self.shape = geo, padded, parts, out, shape
        nd = len(geo.kernel)
        self.names = (f"MaxPool{nd}dBackward", f"MaxPool{nd}dBackwardBackward")

    def _hits(self):
        """(index, hit) per kernel offset: where that offset holds its window's first maximum
        (``hit`` is one buffer, rewritten for each offset)."""
        out, slices = self.out, self.geo.slices
        unclaimed = xp.ones(out.shape, dtype=bool)
        hit = xp.empty(out.shape, dtype=bool)
        nan_out = _nan_windows(out)
        parts = self.parts if self.parts is not None else [self.padded[index] for index in slices]
        if nan_out is not None:  # a window holding a nan: its last nan, found first
            last_nan = xp.full(out.shape, -1)
            for k, part in enumerate(parts):
                last_nan[xp.isnan(part)] = k
        for k, (part, index) in enumerate(zip(parts, slices)):
            xp.equal(part, out, out=hit)
            hit &= unclaimed
            unclaimed ^= hit
            if nan_out is not None:
                hit |= last_nan == k
            yield index, hit

    def apply(self, g):
        covered = self.padded.shape
        if self.geo.tiled:
            # written once into the input's place; elements cropped off the end (in no window) get zeros
            grad = xp.empty(self.shape, dtype=g.dtype)
            lead = grad.ndim - len(covered)
            region = grad[(..., *(slice(0, n) for n in covered[lead:]))]
            if region.shape != grad.shape:
                grad[...] = 0
            for index, hit in self._hits():
                xp.multiply(g, hit, out=region[index])
            return grad
        spread = xp.zeros(covered, dtype=g.dtype)
        for index, hit in self._hits():
            spread[index] += g * hit
        # contiguous, as the input was: the layer below then computes the same numbers whatever
        # came between (a conv's bias gradient takes a BLAS path on contiguous gradients only)
        geo = self.geo
        return xp.ascontiguousarray(_pad_axes(spread, [-p for p in geo.padding], [-h for h in geo.highs]))

    def adjoint(self, h):
        framed = _pad_axes(h, self.geo.padding, self.geo.highs)
        picked = xp.zeros(self.out.shape, dtype=h.dtype)
        for index, hit in self._hits():
            picked += framed[index] * hit
        return picked


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


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over windows of the last three dims (PyTorch's F.max_pool3d): input (N, C, D, H, W) or
    (C, D, H, W); with ``return_indices`` also returns each maximum's index in the flattened
    D * H * W input volume.

    >>> import chainrule as cr
    >>> max_pool3d(cr.ones(2, 3, 4, 6, 6), 2).shape
    (2, 3, 2, 3, 3)
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 3,
                     "max_pool3d")


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
    if divisor_override is not None:
        div = xp.asarray(divisor_override, dtype=d.dtype)
    else:
        div = _divisors(sizes, outs, kernel, stride, padding, count_include_pad, d.dtype)
    return linear_map(x, _WindowMean(kernel, stride, padding, highs, outs, div))


class _WindowMean(LinearMap):
    """Average pooling: each window's sum over the zero-padded input, divided by ``div``; its
    adjoint spreads each window's share back over the window."""

    def __init__(self, kernel, stride, padding, highs, outs, div):
        nd = len(kernel)
        self.names = (f"AvgPool{nd}d", f"AvgPool{nd}dBackward")
        self.padding, self.highs, self.div = padding, highs, div
        self.slices = _offsets(kernel, stride, (1,) * nd, outs)
        self.frame = [(o - 1) * s + k for o, s, k in zip(outs, stride, kernel)]  # the padded input's size
        self.tiled = stride == kernel and not any(padding)  # disjoint windows: write, do not accumulate

    def apply(self, a):
        padded = _pad_axes(a, self.padding, self.highs)
        sums = padded[self.slices[0]].copy()
        for index in self.slices[1:]:
            sums += padded[index]
        sums /= self.div
        return sums

    def adjoint(self, b):
        share = b / self.div
        nd = len(self.frame)
        spread = (xp.empty if self.tiled else xp.zeros)((*b.shape[:-nd], *self.frame), dtype=b.dtype)
        for index in self.slices:
            if self.tiled:
                spread[index] = share
            else:
                spread[index] += share
        return _pad_axes(spread, [-p for p in self.padding], [-h for h in self.highs])


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


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over windows of the last three dims (PyTorch's F.avg_pool3d): input (N, C, D, H, W) or
    (C, D, H, W); ``divisor_override`` replaces the window size as the divisor.

    >>> import chainrule as cr
    >>> avg_pool3d(cr.ones(1, 1, 2, 4, 4), 2).tolist()
    [[[[[1.0, 1.0], [1.0, 1.0]]]]]
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                     3, "avg_pool3d")


# ---------------------------------------------------------------------------- adaptive average pooling


def _averaging_matrix(n, o, dtype):
    """(o, n): row i averages PyTorch's window [floor(i n / o), ceil((i + 1) n / o))."""
    i = xp.arange(o)
    start = (i * n) // o
    end = -((-(i + 1) * n) // o)
    cols = xp.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_outs(sizes, output_size, nd, op):
    """The output sizes: an int, or nd ints or Nones (None keeps that dim's size)."""
    items = (output_size,) * nd if output_size is None or isinstance(output_size, int) else tuple(output_size)
    if len(items) != nd:
        raise ValueError(
            f"{op}: output_size must be an int or a tuple of {nd} ints or None, got {output_size!r}"
        )
    return _tuple(tuple(n if o is None else o for o, n in zip(items, sizes)), nd, "output_size", op, 1)


def _adaptive_avg_pool(x, output_size, nd, op):
    d = _spatial_input(x, nd, op)
    sizes = d.shape[-nd:]
    outs = _adaptive_outs(sizes, output_size, nd, op)
    if all(o == 1 for o in outs):
        return linear_map(x, _GlobalMean(sizes))
    return linear_map(x, _AxisAverages([_averaging_matrix(n, o, d.dtype) for n, o in zip(sizes, outs)]))


class _GlobalMean(LinearMap):
    """Global average pooling (one mean over contiguous memory) and its adjoint (each mean's
    gradient spread evenly)."""

    def __init__(self, sizes):
        self.sizes = sizes
        self.names = (f"AdaptiveAvgPool{len(sizes)}d", f"AdaptiveAvgPool{len(sizes)}dBackward")

    def apply(self, a):
        return a.mean(axis=tuple(range(-len(self.sizes), 0)), keepdims=True)

    def adjoint(self, b):
        spread = xp.empty((*b.shape[:-len(self.sizes)], *self.sizes), dtype=b.dtype)
        spread[...] = b / math.prod(self.sizes)
        return spread


class _AxisAverages(LinearMap):
    """Adaptive average pooling as one small matrix product per axis (averaging is separable by
    axis), and its adjoint, the transposed products. Measured faster than reshape-and-mean even
    when the windows tile the input (NumPy's reductions over small strided axes are slow)."""

    def __init__(self, mats):
        self.mats = mats
        self.names = (f"AdaptiveAvgPool{len(mats)}d", f"AdaptiveAvgPool{len(mats)}dBackward")

    def apply(self, a):
        return _apply_per_axis(a, self.mats, transpose=False)

    def adjoint(self, b):
        return _apply_per_axis(b, self.mats, transpose=True)


def _apply_per_axis(a, mats, transpose):
    nd = len(mats)
    finite = xp.isfinite(a).all()
    for i, m in enumerate(mats):
        axis = a.ndim - nd + i
        if finite:
            a = xp.moveaxis(xp.tensordot(a, m, axes=([axis], [0 if transpose else 1])), -1, axis)
        else:
            a = _window_by_window(a, m.T if transpose else m, axis)
    return xp.ascontiguousarray(a)


def _window_by_window(a, m, axis):
    """``m`` (n_out, n_in) applied along ``axis``, each output from the non-zero entries of its
    row only: an inf or a nan then reaches just the windows that hold it (in the full product,
    0 * inf would put nan in every window)."""
    a = xp.moveaxis(a, axis, -1)
    out = xp.empty((*a.shape[:-1], m.shape[0]), dtype=a.dtype)
    for i, row in enumerate(m):
        inside = xp.flatnonzero(row)
        out[..., i] = a[..., inside] @ row[inside]
    return xp.moveaxis(out, -1, axis)


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


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Average pooling to an ``output_size`` (int, triple, None keeps a dim) grid over the last
    three dims (PyTorch's F.adaptive_avg_pool3d).

    >>> import chainrule as cr
    >>> adaptive_avg_pool3d(cr.ones(2, 3, 5, 7, 5), (1, 2, 3)).shape
    (2, 3, 1, 2, 3)
    """
    return _adaptive_avg_pool(input, output_size, 3, "adaptive_avg_pool3d")


# ---------------------------------------------------------------------------- adaptive max pooling


def _adaptive_taps(n, o):
    """(o, k) indices along one axis: row i lists PyTorch's window [floor(i n / o),
    ceil((i + 1) n / o)), padded to the longest window's length k by repeating its last element
    (a repeat never changes a maximum, and comes after the element it repeats)."""
    i = xp.arange(o)
    start = (i * n) // o
    end = -((-(i + 1) * n) // o)
    k = int((end - start).max())
    return xp.minimum(start[:, None] + xp.arange(k), (end - 1)[:, None])


def _adaptive_argmax(d, outs):
    """Each adaptive window's first maximum (in window order; a window holding nans: its last
    nan) as an index into the flattened input plane: an int64 array of the output's shape."""
    nd = len(outs)
    sizes = d.shape[-nd:]
    taps = [_adaptive_taps(n, o) for n, o in zip(sizes, outs)]
    # windows as (..., o1, k1, o2, k2, ...) by broadcasting each axis's (o, k) indices
    grids = []
    for i, t in enumerate(taps):
        shape = [1] * (2 * nd)
        shape[2 * i: 2 * i + 2] = t.shape
        grids.append(t.reshape(shape))
    windows = d[(..., *grids)]
    lead = windows.ndim - 2 * nd
    order = (*range(lead), *(lead + 2 * i for i in range(nd)), *(lead + 2 * i + 1 for i in range(nd)))
    windows = windows.transpose(order).reshape(*d.shape[:-nd], *outs, -1)
    first = windows.argmax(axis=-1)
    nan = xp.isnan(windows)
    if nan.any():  # PyTorch's kernel lets every nan replace the running maximum: the last one wins
        last_nan = windows.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)
        first = xp.where(nan.any(axis=-1), last_nan, first)
    within = xp.unravel_index(first, tuple(t.shape[1] for t in taps))
    position = xp.indices(outs, sparse=True)
    coords = [t[p, w] for t, p, w in zip(taps, position, within)]
    return xp.ravel_multi_index(coords, sizes).astype(xp.int64)


class _PlanePick(LinearMap):
    """``apply``: each output takes the input element at its index in the flattened plane (the
    last nd dims), where ``keep`` (when given) is True, else 0; ``adjoint``: each value where
    ``keep`` is True added back at its index. Adaptive max pooling picks each window's maximum;
    max unpooling is the adjoint, with ``keep`` marking the last of the values sent to one place
    (the one that stays when later ones overwrite earlier ones, as PyTorch's unpooling writes)."""

    def __init__(self, index, plane, names, keep=None):
        self.index, self.plane, self.names, self.keep = index, tuple(plane), names, keep
        self.rows = math.prod(index.shape[: index.ndim - len(self.plane)])

    def apply(self, a):
        flat = a.reshape(self.rows, -1)
        picked = xp.take_along_axis(flat, self.index.reshape(self.rows, -1), axis=-1).reshape(self.index.shape)
        return picked if self.keep is None else xp.where(self.keep, picked, 0)  # (0 * inf would be nan)

    def adjoint(self, b):
        size = math.prod(self.plane)
        values = b if self.keep is None else xp.where(self.keep, b, 0)
        where = self.index.reshape(self.rows, -1) + (xp.arange(self.rows) * size)[:, None]
        sums = xp.bincount(where.ravel(), weights=values.ravel(), minlength=self.rows * size)
        return sums.astype(b.dtype, copy=False).reshape(*self.index.shape[: -len(self.plane)], *self.plane)


def _adaptive_max_pool(x, output_size, return_indices, nd, op):
    d = _spatial_input(x, nd, op)
    outs = _adaptive_outs(d.shape[-nd:], output_size, nd, op)
    index = _adaptive_argmax(d, outs)
    names = (f"AdaptiveMaxPool{nd}d", f"AdaptiveMaxPool{nd}dBackward")
    out = linear_map(x, _PlanePick(index, d.shape[-nd:], names))
    return (out, wrap(index)) if return_indices else out


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to ``output_size`` positions (PyTorch's F.adaptive_max_pool1d): window i covers
    [floor(i L / out), ceil((i + 1) L / out)); the gradient goes to each window's first maximum.
    With ``return_indices`` also returns the maxima's positions along L.

    >>> import chainrule as cr
    >>> adaptive_max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0, 5.0]]]), 2).tolist()
    [[[3.0, 5.0]]]
    """
    return _adaptive_max_pool(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to an ``output_size`` (int, pair, None keeps a dim) grid (PyTorch's
    F.adaptive_max_pool2d); indices are positions in the flattened H * W input plane.

    >>> import chainrule as cr
    >>> adaptive_max_pool2d(cr.ones(2, 3, 7, 5), (3, 2)).shape
    (2, 3, 3, 2)
    """
    return _adaptive_max_pool(input, output_size, return_indices, 2, "adaptive_max_pool2d")


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to an ``output_size`` (int, triple, None keeps a dim) grid over the last three
    dims (PyTorch's F.adaptive_max_pool3d); indices are positions in the flattened D * H * W volume.

    >>> import chainrule as cr
    >>> adaptive_max_pool3d(cr.ones(3, 4, 5, 6), 2).shape
    (3, 2, 2, 2)
    """
    return _adaptive_max_pool(input, output_size, return_indices, 3, "adaptive_max_pool3d")


# ---------------------------------------------------------------------------- max unpooling


def _unpool_sizes(sizes, kernel, stride, padding, output_size, op):
    """PyTorch's rule: (n - 1) stride - 2 padding + kernel per dim, or ``output_size`` (nd sizes,
    or nd + 2 with N and C first) within one stride of that."""
    default = [(n - 1) * s - 2 * p + k for n, k, s, p in zip(sizes, kernel, stride, padding)]
    if output_size is None:
        outs = default
    else:
        outs = list(output_size)
        nd = len(kernel)
        if len(outs) == nd + 2:
            outs = outs[2:]
        if len(outs) != nd:
            raise ValueError(f"{op}: output_size must hold {nd} or {nd + 2} sizes, got {tuple(output_size)}")
        for i, (o, d, s) in enumerate(zip(outs, default, stride)):
            if not d - s < o < d + s:
                raise ValueError(
                    f"{op}: output_size {tuple(output_size)} is invalid: dim {i} must be between "
                    f"{d - s} and {d + s} (exclusive), got {o}"
                )
    if any(o < 1 for o in outs):
        raise ValueError(f"{op}: the output's spatial size {tuple(outs)} must be positive")
    return tuple(int(o) for o in outs)


def _max_unpool(x, indices, kernel_size, stride, padding, output_size, nd, op):
    d = _spatial_input(x, nd, op)
    if not isinstance(indices, Tensor) or indices._data.dtype.kind not in "iu":
        got = indices._data.dtype if isinstance(indices, Tensor) else type(indices).__name__
        raise TypeError(f"{op}: indices must be an integer Tensor (as max_pool{nd}d returns), got {got}")
    index = indices._data
    if index.shape != d.shape:
        raise ValueError(f"{op}: indices must have the input's shape {d.shape}, got {index.shape}")
    kernel, stride, padding, _ = pool_args(kernel_size, stride, padding, 1, nd, op)
    plane = _unpool_sizes(d.shape[-nd:], kernel, stride, padding, output_size, op)
    size = math.prod(plane)
    if index.size and (index.min() < 0 or index.max() >= size):
        bad = index.min() if index.min() < 0 else index.max()
        raise ValueError(
            f"{op}: index {int(bad)} in indices is outside the output plane of size {plane} "
            f"({size} elements)"
        )
    keep = _last_of_each(index.reshape(-1, math.prod(d.shape[-nd:])), size).reshape(d.shape)
    pick = _PlanePick(index.astype(xp.int64), plane, (f"MaxUnpool{nd}dBackward", f"MaxUnpool{nd}d"), keep)
    return linear_map(x, pick, adjoint=True)


def _last_of_each(flat, size):
    """For (rows, n) indices, whether each is the last in its row to name its position."""
    where = (flat + (xp.arange(len(flat)) * size)[:, None]).ravel()
    _, first_from_end = xp.unique(where[::-1], return_index=True)
    last = xp.zeros(where.size, dtype=bool)
    last[where.size - 1 - first_from_end] = True
    return last


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The inverse of max_pool1d with ``return_indices`` (PyTorch's F.max_unpool1d): zeros of the
    pooled input's length, each value put back at its index. Where several values name one
    position the last stays (as PyTorch) and alone gets that position's gradient.

    >>> import chainrule as cr
    >>> out, idx = max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2, return_indices=True)
    >>> max_unpool1d(out, idx, 2).tolist()
    [[[0.0, 3.0, 2.0, 0.0]]]
    """
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1, "max_unpool1d")


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The inverse of max_pool2d with ``return_indices`` (PyTorch's F.max_unpool2d): each value
    put back at its index in a zero H * W plane of size ``(H_in - 1) stride - 2 padding +
    kernel_size`` (or ``output_size``).

    >>> import chainrule as cr
    >>> out, idx = max_pool2d(cr.tensor([[[[1.0, 5.0], [7.0, 2.0]]]]), 2, return_indices=True)
    >>> max_unpool2d(out, idx, 2).tolist()
    [[[[0.0, 0.0], [7.0, 0.0]]]]
    """
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2, "max_unpool2d")


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The inverse of max_pool3d with ``return_indices`` (PyTorch's F.max_unpool3d).

    >>> import chainrule as cr
    >>> out, idx = max_pool3d(cr.ones(1, 2, 4, 4, 4), 2, return_indices=True)
    >>> max_unpool3d(out, idx, 2).shape
    (1, 2, 4, 4, 4)
    """
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3, "max_unpool3d")
