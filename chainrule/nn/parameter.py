"""PyTorch's torch.nn.parameter path: Parameter lives in chainrule.nn.module."""

from chainrule.nn.module import Parameter  # noqa: F401
