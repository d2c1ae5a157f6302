"""PyTorch's torch.nn.modules.fold path: the classes live in chainrule.nn.fold."""

from chainrule.nn.fold import *  # noqa: F403
