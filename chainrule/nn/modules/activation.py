"""PyTorch's torch.nn.modules.activation path: the classes live in chainrule.nn.activation."""

from chainrule.nn.activation import *  # noqa: F403
from chainrule.nn.attention import MultiheadAttention  # noqa: F401  (PyTorch keeps it here)
