"""Pooling and upsampling layers: summarise each window of a feature map by its maximum, mean or
p-norm (MaxPool, AvgPool, LPPool; AdaptiveAvgPool and AdaptiveMaxPool to a fixed size), put pooled
maxima back (MaxUnpool), or resize (Upsample). They hold no parameters; the functions they call
are in chainrule.ops.pool, chainrule.ops.resample and chainrule.nn.functional."""

from chainrule._arguments import bool_arg, int_arg, number_arg
from chainrule.nn.functional import lp_pool1d, lp_pool2d, lp_pool3d
from chainrule.nn.module import Module
from chainrule.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
    pool_args,
)
from chainrule.ops.resample import MODES, _interpolate


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        pool_args(kernel_size, stride, padding, dilation, self._nd, type(self).__name__)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over windows of the last dim of (N, C, L) or (C, L) inputs; stride defaults to
    kernel_size; padding counts as -inf.

    >>> import chainrule as cr
    >>> MaxPool1d(2)(cr.zeros(4, 3, 10)).shape
    (4, 3, 5)
    """

    _nd = 1

    def forward(self, x):
        return max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """Max over windows of the last two dims of (N, C, H, W) or (C, H, W) inputs; stride defaults
    to kernel_size; padding counts as -inf.

    >>> import chainrule as cr
    >>> MaxPool2d(2)(cr.zeros(4, 3, 28, 28)).shape
    (4, 3, 14, 14)
    """

    _nd = 2

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)


class MaxPool3d(_MaxPoolNd):
    """Max over windows of the last three dims of (N, C, D, H, W) or (C, D, H, W) inputs; stride
    defaults to kernel_size; padding counts as -inf.

    >>> import chainrule as cr
    >>> MaxPool3d(2)(cr.zeros(2, 3, 4, 8, 8)).shape
    (2, 3, 2, 4, 4)
    """

    _nd = 3

    def forward(self, x):
        return max_pool3d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)


class AvgPool1d(Module):
    """Mean over windows of the last dim of (N, C, L) or (C, L) inputs; zero padding counts in the
    mean unless count_include_pad=False.

    >>> import chainrule as cr
    >>> AvgPool1d(3, stride=2)(cr.zeros(4, 3, 9)).shape
    (4, 3, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        pool_args(kernel_size, stride, padding, 1, 1, "AvgPool1d")
        # As PyTorch, AvgPool1d keeps its arguments as 1-tuples.
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _single(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


class _AvgPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        pool_args(kernel_size, stride, padding, 1, self._nd, type(self).__name__)
        if divisor_override is not None:
            int_arg(divisor_override, "divisor_override", type(self).__name__)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        return self._pool(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """Mean over windows of the last two dims of (N, C, H, W) or (C, H, W) inputs;
    ``divisor_override`` replaces the window size as the divisor.

    >>> import chainrule as cr
    >>> AvgPool2d(2)(cr.zeros(4, 3, 28, 28)).shape
    (4, 3, 14, 14)
    """

    _nd, _pool = 2, staticmethod(avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """Mean over windows of the last three dims of (N, C, D, H, W) or (C, D, H, W) inputs;
    ``divisor_override`` replaces the window size as the divisor.

    >>> import chainrule as cr
    >>> AvgPool3d(2, stride=(1, 2, 2))(cr.zeros(2, 3, 4, 8, 8)).shape
    (2, 3, 3, 4, 4)
    """

    _nd, _pool = 3, staticmethod(avg_pool3d)


class _LPPoolNd(Module):
    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        name = type(self).__name__
        if norm_type not in (float("inf"), -float("inf")):
            number_arg(norm_type, "norm_type", name)
        pool_args(kernel_size, stride, 0, 1, self._nd, name)
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, x):
        return self._pool(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling over windows of the last dim: (sum of x^p over the window)^(1/p);
    p = 1 is sum pooling, p = inf max pooling of |x|.

    >>> import chainrule as cr
    >>> LPPool1d(2, 3, stride=2)(cr.ones(4, 3, 9)).shape
    (4, 3, 4)
    """

    _nd, _pool = 1, staticmethod(lp_pool1d)


class LPPool2d(_LPPoolNd):
    """Power-average pooling over windows of the last two dims.

    >>> import chainrule as cr
    >>> LPPool2d(2, 2)(cr.ones(4, 3, 8, 8))[0, 0, 0].tolist()
    [2.0, 2.0, 2.0, 2.0]
    """

    _nd, _pool = 2, staticmethod(lp_pool2d)


class LPPool3d(_LPPoolNd):
    """Power-average pooling over windows of the last three dims.

    >>> import chainrule as cr
    >>> LPPool3d(1.5, 2)(cr.ones(2, 4, 4, 4)).shape
    (2, 2, 2, 2)
    """

    _nd, _pool = 3, staticmethod(lp_pool3d)


def _check_output_size(output_size, nd, name):
    """An int, or nd ints or Nones (None keeps that dim's size), each at least 1."""
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    if len(items) != nd:
        raise ValueError(f"{name}: output_size must be an int or a tuple of {nd} ints or None, got {output_size!r}")
    for item in items:
        if item is not None:
            int_arg(item, "output_size", name)


class AdaptiveAvgPool1d(Module):
    """Average pooling of (N, C, L) or (C, L) inputs to ``output_size`` positions, whatever L is.

    >>> import chainrule as cr
    >>> AdaptiveAvgPool1d(4)(cr.zeros(2, 3, 10)).shape
    (2, 3, 4)
    """

    def __init__(self, output_size):
        super().__init__()
        _check_output_size(output_size, 1, "AdaptiveAvgPool1d")
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(Module):
    """Average pooling of (N, C, H, W) or (C, H, W) inputs to an ``output_size`` grid (an int, a
    pair, None keeps that dim); ``AdaptiveAvgPool2d(1)`` is global average pooling.

    >>> import chainrule as cr
    >>> AdaptiveAvgPool2d((1, 1))(cr.zeros(2, 3, 7, 7)).shape
    (2, 3, 1, 1)
    """

    def __init__(self, output_size):
        super().__init__()
        _check_output_size(output_size, 2, "AdaptiveAvgPool2d")
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool3d(Module):
    """Average pooling of (N, C, D, H, W) or (C, D, H, W) inputs to an ``output_size`` grid (an
    int, a triple, None keeps that dim).

    >>> import chainrule as cr
    >>> AdaptiveAvgPool3d((1, 2, 2))(cr.zeros(2, 3, 5, 7, 7)).shape
    (2, 3, 1, 2, 2)
    """

    def __init__(self, output_size):
        super().__init__()
        _check_output_size(output_size, 3, "AdaptiveAvgPool3d")
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool3d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class _AdaptiveMaxPoolNd(Module):
    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        _check_output_size(output_size, self._nd, type(self).__name__)
        self.output_size = output_size
        self.return_indices = bool_arg(return_indices, "return_indices", type(self).__name__)

    def forward(self, x):
        return self._pool(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, L) or (C, L) inputs to ``output_size`` positions, whatever L is:
    window i covers [floor(i L / out), ceil((i + 1) L / out)).

    >>> import chainrule as cr
    >>> AdaptiveMaxPool1d(4)(cr.zeros(2, 3, 10)).shape
    (2, 3, 4)
    """

    _nd, _pool = 1, staticmethod(adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, H, W) or (C, H, W) inputs to an ``output_size`` grid (an int, a pair,
    None keeps that dim); with ``return_indices`` also each maximum's index in the H * W plane.

    >>> import chainrule as cr
    >>> AdaptiveMaxPool2d((2, None))(cr.zeros(2, 3, 7, 5)).shape
    (2, 3, 2, 5)
    """

    _nd, _pool = 2, staticmethod(adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, D, H, W) or (C, D, H, W) inputs to an ``output_size`` grid.

    >>> import chainrule as cr
    >>> AdaptiveMaxPool3d(2)(cr.zeros(2, 3, 5, 7, 5)).shape
    (2, 3, 2, 2, 2)
    """

    _nd, _pool = 3, staticmethod(adaptive_max_pool3d)


class _MaxUnpoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        pool_args(kernel_size, stride, padding, 1, self._nd, type(self).__name__)
        # As PyTorch, the arguments are kept as nd-tuples.
        self.kernel_size = _ntuple(kernel_size, self._nd)
        self.stride = _ntuple(stride if stride is not None else kernel_size, self._nd)
        self.padding = _ntuple(padding, self._nd)

    def forward(self, input, indices, output_size=None):
        return self._unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _ntuple(value, nd):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd


class MaxUnpool1d(_MaxUnpoolNd):
    """The inverse of MaxPool1d: each pooled value put back at the index ``MaxPool1d(...,
    return_indices=True)`` gave it, zeros elsewhere; ``output_size`` picks among the lengths
    that pool to the input's.

    >>> import chainrule as cr
    >>> pool, unpool = cr.nn.MaxPool1d(2, return_indices=True), MaxUnpool1d(2)
    >>> unpool(*pool(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]))).tolist()
    [[[0.0, 3.0, 2.0, 0.0]]]
    """

    _nd, _unpool = 1, staticmethod(max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    """The inverse of MaxPool2d: (N, C, H, W) or (C, H, W) values and their indices in the
    output's H * W plane, of size (H_in - 1) stride - 2 padding + kernel_size per dim (or
    ``output_size``).

    >>> import chainrule as cr
    >>> pool, unpool = cr.nn.MaxPool2d(2, return_indices=True), MaxUnpool2d(2)
    >>> unpool(*pool(cr.randn(1, 3, 8, 8))).shape
    (1, 3, 8, 8)
    """

    _nd, _unpool = 2, staticmethod(max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    """The inverse of MaxPool3d.

    >>> import chainrule as cr
    >>> pool, unpool = cr.nn.MaxPool3d(2, return_indices=True), MaxUnpool3d(2)
    >>> unpool(*pool(cr.randn(1, 2, 4, 4, 4))).shape
    (1, 2, 4, 4, 4)
    """

    _nd, _unpool = 3, staticmethod(max_unpool3d)


class Upsample(Module):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs to ``size`` or by ``scale_factor``
    (any sizes, non-integer factors) with F.interpolate's modes: 'nearest', 'nearest-exact',
    'linear', 'bilinear', 'bicubic', 'trilinear', 'area'; ``align_corners`` for the interpolating
    ones.

    >>> import chainrule as cr
    >>> Upsample(scale_factor=2)(cr.zeros(1, 8, 7, 7)).shape
    (1, 8, 14, 14)
    >>> Upsample(size=(5, 9), mode="bilinear")(cr.zeros(1, 8, 7, 7)).shape
    (1, 8, 5, 9)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        name = type(self).__name__
        if mode not in MODES:
            raise ValueError(f"{name}: mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{name}: pass exactly one of size and scale_factor")
        if align_corners is not None and mode in ("nearest", "nearest-exact", "area"):
            raise ValueError(f"{name}: align_corners option can only be set with the interpolating modes: "
                             f"linear | bilinear | bicubic | trilinear (got mode {mode!r})")
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(number_arg(s, "scale_factor", name, 0, low_open=True)
                                      for s in scale_factor)
        elif scale_factor is not None:
            self.scale_factor = number_arg(scale_factor, "scale_factor", name, 0, low_open=True)
        else:
            self.scale_factor = None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        return _interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                            self.recompute_scale_factor, False, type(self).__name__)

    def extra_repr(self):
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor!r}, mode={self.mode!r}"
        return f"size={self.size!r}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` (PyTorch's older layer).

    >>> import chainrule as cr
    >>> UpsamplingNearest2d(scale_factor=2)(cr.zeros(1, 3, 4, 5)).shape
    (1, 3, 8, 10)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` (PyTorch's older layer).

    >>> import chainrule as cr
    >>> UpsamplingBilinear2d(size=(3, 3))(cr.tensor([[[[0.0, 2.0], [4.0, 6.0]]]]))[0, 0].tolist()
    [[0.0, 1.0, 2.0], [2.0, 3.0, 4.0], [4.0, 5.0, 6.0]]
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
