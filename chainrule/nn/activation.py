"""Activation layers: the nonlinearity applied to each neuron's weighted sum.

Each layer takes a Tensor (a list or array is refused with a TypeError naming the layer, as
PyTorch's are; the functions in chainrule.ops also accept numbers), and checks its arguments when
it is built.
"""

from chainrule import ops
from chainrule._arguments import int_arg, number_arg
from chainrule._tensor import Tensor
from chainrule.nn.module import Module
from chainrule.ops.operands import tensor_input
from chainrule.ops.unary import softplus_beta


class ReLU(Module):
    """max(x, 0): no vanishing gradient for positive inputs."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace  # shown as PyTorch shows it; the result is a new tensor either way

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "ReLU")
        return ops.relu(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise: a small gradient keeps units from dying."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = number_arg(negative_slope, "negative_slope", "LeakyReLU")
        self.inplace = inplace

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "LeakyReLU")
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x for x > 0, alpha (e^x - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = number_arg(alpha, "alpha", "ELU")
        self.inplace = inplace

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "ELU")
        return ops.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """x * Phi(x); ``approximate="tanh"`` for the tanh approximation."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "GELU")
        return ops.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """1 / (1 + e^-x)."""

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "Sigmoid")
        return ops.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "Tanh")
        return ops.tanh(x)


class Softplus(Module):
    """log(1 + e^(beta x)) / beta, linear above ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = softplus_beta(beta, "Softplus")
        self.threshold = number_arg(threshold, "threshold", "Softplus")

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "Softplus")
        return ops.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """Probabilities along ``dim`` (default: the last)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = int_arg(dim, "dim", "Softmax", None)

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "Softmax")
        return ops.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-probabilities along ``dim`` (default: the last)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = int_arg(dim, "dim", "LogSoftmax", None)

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "LogSoftmax")
        return ops.log_softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
