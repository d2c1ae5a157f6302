"""Dropout: during training each unit is zeroed with probability p and the survivors scaled by
1/(1-p) (inverted dropout), so evaluation needs no rescaling."""

from chainrule.nn.functional import dropout
from chainrule.nn.module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode; the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
