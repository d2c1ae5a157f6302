"""PyTorch's torch.nn.modules.linear path: the classes live in chainrule.nn.linear."""

from chainrule.nn.linear import *  # noqa: F403
