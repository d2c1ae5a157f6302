"""PyTorch's torch.nn.modules.conv path: the classes live in chainrule.nn.conv."""

from chainrule.nn.conv import *  # noqa: F403
from chainrule.nn.conv import _ConvNd  # noqa: F401  (subclassed by some scripts, as in PyTorch)
