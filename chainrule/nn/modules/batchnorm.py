"""PyTorch's torch.nn.modules.batchnorm path: the classes live in chainrule.nn.normalization."""

from chainrule.nn.normalization import *  # noqa: F403
from chainrule.nn.normalization import _BatchNorm  # noqa: F401  (as PyTorch's)
