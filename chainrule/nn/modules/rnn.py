"""PyTorch's torch.nn.modules.rnn path: the classes live in chainrule.nn.recurrent."""

from chainrule.nn.recurrent import *  # noqa: F403
