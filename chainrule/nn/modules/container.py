"""PyTorch's torch.nn.modules.container path: the classes live in chainrule.nn.containers."""

from chainrule.nn.containers import *  # noqa: F403
