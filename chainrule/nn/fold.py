"""Sliding blocks as layers: Unfold cuts an image into its (overlapping) kernel-sized blocks, one
column each ("im2col"), Fold adds such columns back into an image ("col2im"); each is the
other's adjoint. With them a convolution is a matrix product, and any blockwise operation can be
written by hand."""

from chainrule._tensor import Tensor
from chainrule.nn.module import Module
from chainrule.ops.conv import _block_settings, _fold, _tuple, _unfold


class Fold(Module):
    """Sums columns (N, C * prod(kernel_size), L) of sliding blocks into an image (N, C,
    *output_size) (see ``F.fold``; errors name the layer); the adjoint of ``Unfold`` with the same settings. No
    parameters.

    >>> import chainrule as cr
    >>> Fold((4, 5), 2)(cr.ones(1, 3 * 4, 12)).shape
    (1, 3, 4, 5)
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        _tuple(output_size, 2, "output_size", "Fold", 1)
        _block_settings(kernel_size, dilation, padding, stride, "Fold")
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x) -> Tensor:
        return _fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride, "Fold")

    def extra_repr(self):
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"padding={self.padding}, stride={self.stride}"
        )


class Unfold(Module):
    """The sliding blocks of an image (N, C, H, W) as columns (N, C * prod(kernel_size), L)
    (see ``F.unfold``). No parameters.

    >>> import chainrule as cr
    >>> Unfold(2, stride=2)(cr.zeros(1, 3, 4, 6)).shape
    (1, 12, 6)
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        _block_settings(kernel_size, dilation, padding, stride, "Unfold")
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, x) -> Tensor:
        return _unfold(x, self.kernel_size, self.dilation, self.padding, self.stride, "Unfold")

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, stride={self.stride}"
