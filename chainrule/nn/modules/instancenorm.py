"""PyTorch's torch.nn.modules.instancenorm path: the classes live in chainrule.nn.normalization."""

from chainrule.nn.normalization import (  # noqa: F401  (re-exports, _InstanceNorm as PyTorch's)
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    _InstanceNorm,
)
