"""Dropout: during training each unit is zeroed with probability p and the survivors scaled by
1/(1-p) (inverted dropout), so evaluation needs no rescaling."""

import numpy as np

from chainrule import random
from chainrule.nn.module import Module
from chainrule.ops.arithmetic import mul
from chainrule.ops.operands import wrap


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode; the identity in eval mode.

    The mask comes from ``chainrule.random.batch_random``: under data-parallel training each
    sample gets the mask it gets in one process, whatever the number of ranks.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"Dropout: p must be a number in [0, 1], got {type(p).__name__} {p!r}")
        if not 0 <= p <= 1:  # nan too
            raise ValueError(f"Dropout: p must be in [0, 1], got {p!r}")
        self.p = float(p)

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        d = x.data
        keep = random.batch_random(d.shape, d.dtype) >= self.p
        scale = 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)
        return mul(x, wrap((keep * scale).astype(d.dtype, copy=False)))

    def extra_repr(self):
        return f"p={self.p}"
