"""Convolution layers: Conv1d, Conv2d and Conv3d slide a learned kernel over the input (one set
of weights shared across positions), ConvTranspose1d/2d/3d are their adjoints (learned
upsampling). One N-d class each, with thin 1-d, 2-d and 3-d faces."""

import math

from chainrule import _backend
from chainrule._arguments import int_arg
from chainrule._backend import xp
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.ops.conv import (
    _tuple,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from chainrule.ops.operands import tensor_input
from chainrule.ops.shape import pad

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What the convolution layers share: arguments, parameters, PyTorch's default initialisation,
    the input check and the repr. Subclasses set ``_nd`` and ``forward``."""

    _nd = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                 output_padding, groups, bias, padding_mode, dtype):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        in_channels = int_arg(in_channels, "in_channels", name)
        out_channels = int_arg(out_channels, "out_channels", name)
        groups = int_arg(groups, "groups", name)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                f"divisible by groups ({groups})"
            )
        if not isinstance(padding_mode, str) or padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported (as PyTorch), got {padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _tuple(kernel_size, nd, "kernel_size", name, 1)
        self.stride = _tuple(stride, nd, "stride", name, 1)
        if isinstance(padding, str):
            if transposed:
                raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
            if padding not in ("valid", "same"):
                raise ValueError(
                    f"{name}: padding must be an int, a tuple of ints, 'valid' or 'same', got {padding!r}"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = _tuple(padding, nd, "padding", name, 0)
        self.dilation = _tuple(dilation, nd, "dilation", name, 1)
        self.transposed = transposed
        self.output_padding = _tuple(output_padding, nd, "output_padding", name, 0)
        self.groups = groups
        self.padding_mode = padding_mode
        self._reversed_padding_repeated_twice = self._pad_widths()
        dtype = dtype or _backend.get_default_dtype()
        if transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(xp.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(xp.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _pad_widths(self):
        """F.pad's widths (last dim first) that padding_mode != 'zeros' pads with before a
        convolution without padding (PyTorch's ``_reversed_padding_repeated_twice``)."""
        if self.padding == "valid":
            pairs = [(0, 0)] * self._nd
        elif self.padding == "same":  # the odd element of d (k - 1) at the end, as F.conv's 'same'
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            pairs = [(t // 2, t - t // 2) for t in totals]
        else:
            pairs = [(p, p) for p in self.padding]
        return [w for pair in reversed(pairs) for w in pair]

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight (U(+-1/sqrt(fan_in)))
        and U(+-1/sqrt(fan_in)) for the bias, fan_in = weight.shape[1] * prod(kernel_size)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x):
        """The layer's own error for inputs that do not fit, naming its settings."""
        nd = self._nd
        label = (
            f"{type(self).__name__}({self.in_channels} -> {self.out_channels}, "
            f"kernel {'x'.join(str(k) for k in self.kernel_size)})"
        )
        shape = tensor_input(x, label)._data.shape
        if len(shape) not in (nd + 1, nd + 2):
            raise ValueError(
                f"{label}: expected a {nd + 1}-d (unbatched) or {nd + 2}-d (batched) input, got shape {shape}"
            )
        channels = shape[-nd - 1]
        if channels != self.in_channels:
            raise ValueError(
                f"{label}: input has {channels} channels (shape {shape}), expected {self.in_channels}"
            )

    def _conv_forward(self, x, function):
        """``function`` (F.conv1d, 2d or 3d) of x by the layer's parameters; other padding modes
        than zeros pad x first (F.pad) and convolve without padding, as PyTorch."""
        self._check_input(x)
        if self.padding_mode == "zeros":
            return function(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        padded = pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return function(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """What Conv1d, Conv2d and Conv3d share: PyTorch's arguments and the forward. Subclasses set
    ``_nd`` and ``_function``."""

    _function = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None):
        _backend.as_device(device, type(self).__name__)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0,
                         groups, bias, padding_mode, dtype)

    def forward(self, x):
        return self._conv_forward(x, self._function)


class Conv1d(_Conv):
    """1-d convolution (cross-correlation) over (N, C_in, L) or (C_in, L) inputs.

    weight: (out_channels, in_channels/groups, kernel_size); bias: (out_channels,). Output length
    floor((L + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1. ``padding_mode``
    'zeros', 'reflect', 'replicate' or 'circular' says what the padding holds.

    >>> import chainrule as cr
    >>> Conv1d(4, 8, 3, padding=1)(cr.zeros(2, 4, 10)).shape
    (2, 8, 10)
    """

    _nd = 1
    _function = staticmethod(conv1d)


class Conv2d(_Conv):
    """2-d convolution (cross-correlation) over (N, C_in, H, W) or (C_in, H, W) inputs.

    weight: (out_channels, in_channels/groups, kh, kw); bias: (out_channels,). kernel_size,
    stride, padding (or "valid"/"same") and dilation are ints or pairs; ``padding_mode`` 'zeros',
    'reflect', 'replicate' or 'circular'.

    >>> import chainrule as cr
    >>> Conv2d(1, 16, 3)(cr.zeros(8, 1, 28, 28)).shape
    (8, 16, 26, 26)
    """

    _nd = 2
    _function = staticmethod(conv2d)


class Conv3d(_Conv):
    """3-d convolution (cross-correlation) over (N, C_in, D, H, W) or (C_in, D, H, W) inputs
    (video, volumes).

    weight: (out_channels, in_channels/groups, kd, kh, kw); bias: (out_channels,). kernel_size,
    stride, padding (or "valid"/"same") and dilation are ints or triples; ``padding_mode``
    'zeros', 'reflect', 'replicate' or 'circular'.

    >>> import chainrule as cr
    >>> Conv3d(2, 4, 3, padding=1)(cr.zeros(1, 2, 5, 6, 7)).shape
    (1, 4, 5, 6, 7)
    """

    _nd = 3
    _function = staticmethod(conv3d)


class _ConvTransposeNd(_ConvNd):
    """What the transposed convolutions share: their arguments (PyTorch's order, output_padding
    before groups), the output_size rule and the forward. Subclasses set ``_nd`` and
    ``_function``."""

    _function = None

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                 dilation, padding_mode, device, dtype):
        _backend.as_device(device, type(self).__name__)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True,
                         output_padding, groups, bias, padding_mode, dtype)

    def _output_padding(self, x, output_size):
        """PyTorch's rule: the output_padding (each below the stride) that reaches output_size."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        output_size = tuple(output_size)
        if len(output_size) == nd + 2 or (len(output_size) == nd + 1 and x._data.ndim == nd + 1):
            output_size = output_size[-nd:]
        if len(output_size) != nd:
            raise ValueError(f"{type(self).__name__}: output_size must have {nd} or {nd + 2} elements, "
                             f"got {output_size}")
        sizes = x._data.shape[-nd:]
        paddings = []
        for i in range(nd):
            least = ((sizes[i] - 1) * self.stride[i] - 2 * self.padding[i]
                     + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            most = least + self.stride[i] - 1
            if not least <= output_size[i] <= most:
                raise ValueError(
                    f"{type(self).__name__}: requested output_size {output_size} is not reachable from "
                    f"input of shape {x._data.shape}: dim {i} must lie in [{least}, {most}]"
                )
            paddings.append(output_size[i] - least)
        return tuple(paddings)

    def forward(self, x, output_size=None):
        self._check_input(x)
        output_padding = self._output_padding(x, output_size)
        return self._function(x, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                              self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-d transposed convolution (the adjoint of Conv1d), over (N, C_in, L) or (C_in, L) inputs:
    output length (L - 1) stride - 2 padding + dilation (kernel_size - 1) + output_padding + 1.

    weight: (in_channels, out_channels/groups, kernel_size); bias: (out_channels,).
    ``forward(x, output_size)`` picks the output_padding that gives that size.

    >>> import chainrule as cr
    >>> ConvTranspose1d(8, 4, 4, stride=2, padding=1)(cr.zeros(2, 8, 10)).shape
    (2, 4, 20)
    """

    _nd = 1
    _function = staticmethod(conv_transpose1d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                         dilation, padding_mode, device, dtype)


class ConvTranspose2d(_ConvTransposeNd):
    """2-d transposed convolution (the adjoint of Conv2d; "deconvolution"), over (N, C_in, H, W)
    or (C_in, H, W) inputs: output height (H - 1) stride - 2 padding + dilation (kh - 1) +
    output_padding + 1, likewise for the width.

    weight: (in_channels, out_channels/groups, kh, kw); bias: (out_channels,).
    ``forward(x, output_size)`` picks the output_padding that gives that size.

    >>> import chainrule as cr
    >>> ConvTranspose2d(16, 8, 2, stride=2)(cr.zeros(4, 16, 7, 7)).shape
    (4, 8, 14, 14)
    """

    _nd = 2
    _function = staticmethod(conv_transpose2d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                         dilation, padding_mode, device, dtype)


class ConvTranspose3d(_ConvTransposeNd):
    """3-d transposed convolution (the adjoint of Conv3d), over (N, C_in, D, H, W) or
    (C_in, D, H, W) inputs; each output size as ConvTranspose1d's length.

    weight: (in_channels, out_channels/groups, kd, kh, kw); bias: (out_channels,).
    ``forward(x, output_size)`` picks the output_padding that gives that size.

    >>> import chainrule as cr
    >>> ConvTranspose3d(4, 2, 2, stride=2)(cr.zeros(1, 4, 3, 4, 5)).shape
    (1, 2, 6, 8, 10)
    """

    _nd = 3
    _function = staticmethod(conv_transpose3d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                         dilation, padding_mode, device, dtype)
