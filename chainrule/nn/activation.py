"""Activation layers: the nonlinearity applied to each neuron's weighted sum.

Each layer takes a Tensor (a list or array is refused with a TypeError naming the layer, as
PyTorch's are; the functions in chainrule.ops also accept numbers), and checks its arguments when
it is built.
"""

import warnings

from chainrule import _backend, ops
from chainrule._arguments import int_arg, number_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.nn import functional as F
from chainrule.nn.module import Module, Parameter
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


class _Elementwise(Module):
    """A parameterless activation: ``forward`` applies ``_function`` (a chainrule.ops or
    nn.functional function of x alone); ``inplace`` is accepted (the result is a new tensor)."""

    _function = None

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, type(self).__name__)
        return type(self)._function(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class SiLU(_Elementwise):
    """x * sigmoid(x) (also called swish).

    >>> import chainrule as cr
    >>> SiLU()(cr.tensor([0.0])).tolist()
    [0.0]
    """

    _function = staticmethod(ops.silu)


class Mish(_Elementwise):
    """x * tanh(softplus(x))."""

    _function = staticmethod(ops.mish)


class Hardswish(_Elementwise):
    """x * relu6(x + 3) / 6: a cheap SiLU (MobileNetV3)."""

    _function = staticmethod(ops.hardswish)

    def extra_repr(self):
        return ""  # PyTorch's shows no inplace for this one


class Hardsigmoid(_Elementwise):
    """relu6(x + 3) / 6: a cheap sigmoid, 0 below -3 and 1 above 3."""

    _function = staticmethod(ops.hardsigmoid)

    def extra_repr(self):
        return ""  # PyTorch's shows no inplace for this one


class SELU(_Elementwise):
    """scale * elu(x, alpha) with PyTorch's constants alpha = 1.6733, scale = 1.0507."""

    _function = staticmethod(ops.selu)


class _Plain(Module):
    """An activation without arguments: ``forward`` applies ``_function``."""

    _function = None

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, type(self).__name__)
        return type(self)._function(x)


class LogSigmoid(_Plain):
    """log(sigmoid(x)), computed without overflow."""

    _function = staticmethod(ops.logsigmoid)


class Softsign(_Plain):
    """x / (1 + |x|)."""

    _function = staticmethod(F.softsign)


class Tanhshrink(_Plain):
    """x - tanh(x)."""

    _function = staticmethod(F.tanhshrink)


class Hardtanh(Module):
    """x clipped to [min_val, max_val] (no gradient on the bounds, as PyTorch).

    >>> import chainrule as cr
    >>> Hardtanh(-1.0, 2.0)(cr.tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 2.0]
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None):
        super().__init__()
        name = type(self).__name__
        for old, new, value in (("min_value", "min_val", min_value), ("max_value", "max_val", max_value)):
            if value is not None:
                warnings.warn(f"{name}: keyword argument `{old}` is deprecated and renamed to `{new}`",
                              FutureWarning, stacklevel=2)
        min_val = min_val if min_value is None else min_value
        max_val = max_val if max_value is None else max_value
        self.min_val = number_arg(min_val, "min_val", name)
        self.max_val = number_arg(max_val, "max_val", name)
        if self.max_val <= self.min_val:
            raise ValueError(f"{name}: max_val ({self.max_val}) must be greater than min_val ({self.min_val})")
        self.inplace = inplace

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, type(self).__name__)
        return ops.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """min(max(x, 0), 6): ``Hardtanh(0, 6)``."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class CELU(Module):
    """max(0, x) + min(0, alpha (e^(x / alpha) - 1))."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = number_arg(alpha, "alpha", "CELU")
        if self.alpha == 0:
            raise ValueError("CELU: alpha must not be 0 (x is divided by it), got 0.0")
        self.inplace = inplace

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "CELU")
        return ops.celu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Threshold(Module):
    """x where x > threshold, else ``value``.

    >>> import chainrule as cr
    >>> Threshold(0.1, 20.0)(cr.tensor([0.0, 1.0])).tolist()
    [20.0, 1.0]
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = number_arg(threshold, "threshold", "Threshold")
        self.value = number_arg(value, "value", "Threshold")
        self.inplace = inplace

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "Threshold")
        return ops.threshold(x, self.threshold, self.value)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class Softshrink(Module):
    """x - lambd above lambd, x + lambd below -lambd, 0 between (lambd >= 0)."""

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = number_arg(lambd, "lambd", "Softshrink", 0)

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "Softshrink")
        return ops.softshrink(x, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Hardshrink(Module):
    """x where |x| > lambd, else 0."""

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = number_arg(lambd, "lambd", "Hardshrink")

    def forward(self, x):
        if not isinstance(x, Tensor):
            tensor_input(x, "Hardshrink")
        return ops.hardshrink(x, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class GLU(Module):
    """The gated linear unit ``a * sigmoid(b)``, a and b the halves of the input along ``dim``.

    >>> import chainrule as cr
    >>> GLU()(cr.randn(4, 6)).shape
    (4, 3)
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = int_arg(dim, "dim", "GLU", None)

    def forward(self, x):
        return F.glu(tensor_input(x, "GLU"), self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmin(Module):
    """softmax(-x) along ``dim`` (None: PyTorch's implicit choice, with its warning)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = None if dim is None else int_arg(dim, "dim", "Softmin", None)

    def forward(self, x):
        return F.softmin(tensor_input(x, "Softmin"), self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


class PReLU(Module):
    """x for x > 0, weight * x otherwise, the slopes learned: one for all channels
    (``num_parameters=1``) or one per channel (dim 1 of the input). weight: (num_parameters,),
    filled with ``init``.

    >>> import chainrule as cr
    >>> layer = PReLU(3)
    >>> layer.weight.shape, layer(cr.randn(2, 3, 5)).shape
    ((3,), (2, 3, 5))
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        _backend.as_device(device, "PReLU")
        self.num_parameters = int_arg(num_parameters, "num_parameters", "PReLU")
        self.init = number_arg(init, "init", "PReLU")
        self.weight = Parameter(xp.full(self.num_parameters, self.init, dtype=dtype or _backend.get_default_dtype()))

    def reset_parameters(self) -> None:
        self.weight._data[...] = self.init

    def forward(self, x):
        return ops.prelu(tensor_input(x, "PReLU"), self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
