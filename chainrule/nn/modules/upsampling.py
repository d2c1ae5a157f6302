"""PyTorch's torch.nn.modules.upsampling path: the classes live in chainrule.nn.pooling."""

from chainrule.nn.pooling import *  # noqa: F403
