"""PyTorch's torch.nn.modules.activation path: the classes live in chainrule.nn.activation."""

from chainrule.nn.activation import *  # noqa: F403
