"""Dropout: during training each unit is zeroed with probability p and the survivors scaled by
1/(1-p) (inverted dropout), so evaluation needs no rescaling."""

import numpy as np

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.ops.operands import tensor_input


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode; the identity in eval mode
    (``chainrule.nn.functional.dropout``)."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"Dropout: p must be a number in [0, 1], got {type(p).__name__} {p!r}")
        if not 0 <= p <= 1:  # nan too
            raise ValueError(f"Dropout: p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.inplace = inplace

    def forward(self, x):
        return F.dropout(tensor_input(x, "Dropout"), self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
