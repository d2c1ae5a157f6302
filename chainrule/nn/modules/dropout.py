"""PyTorch's torch.nn.modules.dropout path: the classes live in chainrule.nn.dropout."""

from chainrule.nn.dropout import *  # noqa: F403
