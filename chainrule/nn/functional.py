"""Functional forms of the layers and losses (PyTorch's torch.nn.functional). Functions with
their own backward rule live in chainrule.ops and are re-exported here; the rest are composed
from ops and need no rule."""

from chainrule import random
from chainrule.ops import (
    elu,
    gelu,
    leaky_relu,
    linear,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from chainrule.ops.arithmetic import mul
from chainrule.ops.operands import wrap
from chainrule.tensor import Tensor


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    d = x.data
    keep = random.get_generator().random(d.shape, dtype=d.dtype) >= p
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return mul(x, wrap((keep * scale).astype(d.dtype, copy=False)))


__all__ = [
    "dropout", "elu", "gelu", "leaky_relu", "linear", "log_softmax", "relu", "sigmoid",
    "softmax", "softplus", "tanh",
]  # fmt: skip
