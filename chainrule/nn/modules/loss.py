"""PyTorch's torch.nn.modules.loss path: the classes live in chainrule.nn.loss."""

from chainrule.nn.loss import *  # noqa: F403
from chainrule.nn.loss import _Loss  # noqa: F401  (the base custom losses subclass, as in PyTorch)
