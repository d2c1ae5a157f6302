"""Pixel shuffle: PixelShuffle trades channels for resolution (r^2 channels become an r x r block
of pixels: sub-pixel convolution's upsampling), PixelUnshuffle is its inverse. Both are a reshape
and a permutation, so their gradients come from those ops."""

from chainrule._arguments import int_arg
from chainrule._tensor import Tensor
from chainrule.nn.module import Module
from chainrule.ops.operands import tensor_input


def _planes(x, op):
    shape = tensor_input(x, op)._data.shape
    if len(shape) < 3:
        raise ValueError(f"{op}: expected an input of at least 3 dims (*, C, H, W), got shape {shape}")
    return shape


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r) (PyTorch's F.pixel_shuffle):
    ``out[..., c, h r + i, w r + j] = input[..., c r^2 + i r + j, h, w]``.

    >>> import chainrule as cr
    >>> pixel_shuffle(cr.arange(4.0).reshape(4, 1, 1), 2).tolist()
    [[[0.0, 1.0], [2.0, 3.0]]]
    """
    return _pixel_shuffle(input, upscale_factor, "pixel_shuffle")


def _pixel_shuffle(input, upscale_factor, op):
    r = int_arg(upscale_factor, "upscale_factor", op)
    shape = _planes(input, op)
    *lead, c, h, w = shape
    if c % (r * r):
        raise ValueError(
            f"{op}: the channel dim (dim -3) of an input of shape {shape} must be divisible by "
            f"upscale_factor^2 = {r * r}, got {c}"
        )
    n = len(lead)
    blocks = input.reshape(*lead, c // (r * r), r, r, h, w)
    return blocks.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2).reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of ``pixel_shuffle`` (PyTorch's
    F.pixel_unshuffle): ``out[..., c r^2 + i r + j, h, w] = input[..., c, h r + i, w r + j]``.

    >>> import chainrule as cr
    >>> pixel_unshuffle(cr.arange(4.0).reshape(1, 2, 2), 2).flatten().tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    return _pixel_unshuffle(input, downscale_factor, "pixel_unshuffle")


def _pixel_unshuffle(input, downscale_factor, op):
    r = int_arg(downscale_factor, "downscale_factor", op)
    shape = _planes(input, op)
    *lead, c, h, w = shape
    if h % r or w % r:
        raise ValueError(
            f"{op}: height and width (dims -2, -1) of an input of shape {shape} must be divisible by "
            f"downscale_factor {r}"
        )
    n = len(lead)
    blocks = input.reshape(*lead, c, h // r, r, w // r, r)
    return blocks.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3).reshape(*lead, c * r * r, h // r, w // r)


class PixelShuffle(Module):
    """Rearranges (*, C r^2, H, W) into (*, C, H r, W r), r = upscale_factor (see
    ``pixel_shuffle``); no parameters.

    >>> import chainrule as cr
    >>> PixelShuffle(3)(cr.zeros(1, 9, 4, 4)).shape
    (1, 1, 12, 12)
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = int_arg(upscale_factor, "upscale_factor", "PixelShuffle")

    def forward(self, x):
        return _pixel_shuffle(x, self.upscale_factor, "PixelShuffle")

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """Rearranges (*, C, H r, W r) into (*, C r^2, H, W), r = downscale_factor: PixelShuffle's
    inverse (see ``pixel_unshuffle``); no parameters.

    >>> import chainrule as cr
    >>> PixelUnshuffle(3)(cr.zeros(1, 1, 12, 12)).shape
    (1, 9, 4, 4)
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = int_arg(downscale_factor, "downscale_factor", "PixelUnshuffle")

    def forward(self, x):
        return _pixel_unshuffle(x, self.downscale_factor, "PixelUnshuffle")

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"
