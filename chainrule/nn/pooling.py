"""Pooling and upsampling layers: summarise each window of a feature map by its maximum or mean
(MaxPool, AvgPool, AdaptiveAvgPool to a fixed size), or repeat each element (Upsample). They hold
no parameters; the functions they call are in chainrule.ops.pool and chainrule.ops.conv."""

from chainrule._arguments import int_arg, number_arg
from chainrule.nn.module import Module
from chainrule.ops.conv import interpolate
from chainrule.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    pool_args,
)


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


class AvgPool2d(Module):
    """Mean over windows of the last two dims of (N, C, H, W) or (C, H, W) inputs;
    ``divisor_override`` replaces the window size as the divisor.

    >>> import chainrule as cr
    >>> AvgPool2d(2)(cr.zeros(4, 3, 28, 28)).shape
    (4, 3, 14, 14)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        pool_args(kernel_size, stride, padding, 1, 2, "AvgPool2d")
        if divisor_override is not None:
            int_arg(divisor_override, "divisor_override", "AvgPool2d")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


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


class Upsample(Module):
    """Nearest-neighbour upsampling of (N, C, L) or (N, C, H, W) inputs by an integer
    ``scale_factor`` (or to a ``size`` that is an integer multiple of the input's).

    >>> import chainrule as cr
    >>> Upsample(scale_factor=2)(cr.zeros(1, 8, 7, 7)).shape
    (1, 8, 14, 14)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
        super().__init__()
        if mode != "nearest":
            raise ValueError(f"Upsample: only mode='nearest' is supported, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: pass exactly one of size and scale_factor")
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(number_arg(s, "scale_factor", "Upsample", 0, low_open=True)
                                      for s in scale_factor)
        elif scale_factor is not None:
            self.scale_factor = number_arg(scale_factor, "scale_factor", "Upsample", 0, low_open=True)
        else:
            self.scale_factor = None
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x):
        return interpolate(x, self.size, self.scale_factor, self.mode)

    def extra_repr(self):
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor!r}, mode={self.mode!r}"
        return f"size={self.size!r}, mode={self.mode!r}"
