"""PyTorch's torch.nn.modules.dropout path: the classes live in chainrule.nn.dropout."""

from chainrule.nn.dropout import *  # noqa: F403
from chainrule.nn.dropout import _DropoutNd  # noqa: F401  (as PyTorch's)
