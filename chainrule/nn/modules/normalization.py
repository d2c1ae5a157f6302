"""PyTorch's torch.nn.modules.normalization path: the classes live in chainrule.nn.normalization."""

from chainrule.nn.normalization import *  # noqa: F403
