"""PyTorch's torch.nn.modules.sparse path: the classes live in chainrule.nn.embedding."""

from chainrule.nn.embedding import *  # noqa: F403
