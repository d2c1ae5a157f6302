"""PyTorch's torch.nn.modules.module path: the classes live in chainrule.nn.module."""

from chainrule.nn.module import *  # noqa: F403
