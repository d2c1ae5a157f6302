"""Dropout: during training each unit is zeroed with probability p and the survivors scaled by
1/(1-p) (inverted dropout), so evaluation needs no rescaling. Dropout1d/2d/3d zero whole
channels; AlphaDropout keeps the mean and variance that SELU networks rely on."""

import numpy as np

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.ops.operands import tensor_input


class _DropoutNd(Module):
    """The dropout layers' shared settings (PyTorch's base of the same name: as there, Dropout2d
    is not a Dropout). ``inplace`` is accepted for PyTorch's signature; the result is a new
    tensor either way (the values are the same)."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"{type(self).__name__}: p must be a number in [0, 1], got {type(p).__name__} {p!r}")
        if not 0 <= p <= 1:  # nan too
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` in training mode; the identity in eval mode
    (``chainrule.nn.functional.dropout``)."""

    def forward(self, x):
        return F.dropout(tensor_input(x, "Dropout"), self.p, self.training)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p`` (one draw per
    sample and channel), scale the rest by 1/(1-p); the identity in eval mode.

    >>> import chainrule as cr
    >>> out = Dropout1d(0.5)(cr.ones(4, 3, 5)).numpy()
    >>> bool(((out == 0).all(-1) | (out == 2).all(-1)).all())  # each channel all zero or all kept
    True
    """

    def forward(self, x):
        return F.dropout1d(tensor_input(x, "Dropout1d"), self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) input with probability ``p``, as Dropout1d. As in
    PyTorch, a 3-d input is taken as (N, C, L) with a warning (use Dropout1d for that), and
    inputs of other ranks warn too."""

    def forward(self, x):
        return F.dropout2d(tensor_input(x, "Dropout2d"), self.p, self.training)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""

    def forward(self, x):
        return F.dropout3d(tensor_input(x, "Dropout3d"), self.p, self.training)


class AlphaDropout(_DropoutNd):
    """Dropout for self-normalising (SELU) networks: dropped units are set to SELU's negative
    saturation and the result is scaled and shifted so that inputs of zero mean and unit variance
    keep them (``chainrule.nn.functional.alpha_dropout``)."""

    def forward(self, x):
        return F.alpha_dropout(tensor_input(x, "AlphaDropout"), self.p, self.training)
