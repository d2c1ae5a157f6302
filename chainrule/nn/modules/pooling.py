"""PyTorch's torch.nn.modules.pooling path: the classes live in chainrule.nn.pooling."""

from chainrule.nn.pooling import *  # noqa: F403
from chainrule.nn.pooling import _MaxPoolNd  # noqa: F401  (as PyTorch's)
