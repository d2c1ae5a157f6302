"""PyTorch's torch.nn.modules.pixelshuffle path: the classes live in chainrule.nn.pixelshuffle."""

from chainrule.nn.pixelshuffle import *  # noqa: F403
