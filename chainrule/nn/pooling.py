"""Pooling and upsampling layers: summarise each window of a feature map by its maximum or mean
(MaxPool, AvgPool, AdaptiveAvgPool to a fixed size), or repeat each element (Upsample). They hold
no parameters; the functions they call are in chainrule.ops.pool and chainrule.ops.conv."""

from chainrule.nn.module import Module
from chainrule.ops.conv import interpolate
from chainrule.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
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


class AdaptiveAvgPool1d(Module):
    """Average pooling of (N, C, L) or (C, L) inputs to ``output_size`` positions, whatever L is.

    >>> import chainrule as cr
    >>> AdaptiveAvgPool1d(4)(cr.zeros(2, 3, 10)).shape
    (2, 3, 4)
    """

    def __init__(self, output_size):
        super().__init__()
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
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x):
        return interpolate(x, self.size, self.scale_factor, self.mode)

    def extra_repr(self):
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor!r}, mode={self.mode!r}"
        return f"size={self.size!r}, mode={self.mode!r}"
