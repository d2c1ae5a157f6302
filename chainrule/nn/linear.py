"""Fully connected layers: Linear (the weighted sum of a layer of neurons), Identity, Flatten, Unflatten."""

import math

from chainrule import _backend
from chainrule._arguments import int_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.ops.linalg import fast_layout, linear
from chainrule.ops.operands import tensor_input
from chainrule.ops.shape import flatten, unflatten


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for an optional layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Linear(Module):
    """y = x W^T + b: ``in_features`` inputs to ``out_features`` outputs.

    weight: (out_features, in_features); bias: (out_features,). Both start U(-k, k) with
    k = 1/sqrt(in_features), as in PyTorch. Input (..., in_features), output (..., out_features).

    >>> import chainrule as cr
    >>> layer = Linear(3, 2)
    >>> layer(cr.ones(5, 3)).shape
    (5, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        _backend.as_device(device, "Linear")
        self.in_features = int_arg(in_features, "in_features", "Linear")
        self.out_features = int_arg(out_features, "out_features", "Linear")
        dtype = dtype or _backend.get_default_dtype()
        # PyTorch's shape (out, in); the memory order is the one whose gradient products run fastest
        shape = (out_features, in_features)
        self.weight = Parameter(xp.empty(shape, dtype=dtype, order=fast_layout(shape)))
        self.bias = Parameter(xp.empty(out_features, dtype=dtype)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight, so U(+-1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, f"Linear({self.in_features} -> {self.out_features})")
        shape = x._data.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features} -> {self.out_features}): input has "
                f"{shape[-1] if shape else 0} features (shape {shape}), expected {self.in_features}"
            )
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"


class Flatten(Module):
    """Merge dims start_dim..end_dim (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = int_arg(start_dim, "start_dim", "Flatten", None)
        self.end_dim = int_arg(end_dim, "end_dim", "Flatten", None)

    def forward(self, x):
        return flatten(tensor_input(x, "Flatten"), self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (Flatten's inverse): ``Unflatten(1, (1, 28, 28))``
    turns (N, 784) into (N, 1, 28, 28)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim = int_arg(dim, "dim", "Unflatten", None)
        self.unflattened_size = tuple(int_arg(n, "unflattened_size", "Unflatten", -1) for n in unflattened_size)

    def forward(self, x):
        return unflatten(tensor_input(x, "Unflatten"), self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
