"""PyTorch's torch.nn.modules.transformer path: the classes live in chainrule.nn.transformer."""

from chainrule.nn.transformer import *  # noqa: F403
