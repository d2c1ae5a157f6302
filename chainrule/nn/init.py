"""Weight initialisers (in place, drawing from chainrule's seeded generator): Xavier/Glorot and
Kaiming/He keep activations and gradients at a steady scale through depth, the classic remedy
for vanishing and exploding gradients. Formulas and defaults as PyTorch's torch.nn.init."""

import math
import warnings

import numpy as np

from chainrule import random
from chainrule._arguments import number_arg
from chainrule._tensor import Tensor


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended scale for weights followed by ``nonlinearity``.

    >>> round(calculate_gain("relu"), 4), calculate_gain("tanh")
    (1.4142, 1.6666666666666667)
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid", "identity")  # fmt: skip
    if not isinstance(nonlinearity, str):
        raise TypeError(f"calculate_gain: nonlinearity must be a name such as 'relu', got {nonlinearity!r}")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        slope = number_arg(slope, "negative_slope", "calculate_gain")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    shape = tensor._data.shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dims, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor, mode, op):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(_target(tensor, op))
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")


def _target(tensor, op):
    """The tensor to fill: a floating Tensor (an integer one would truncate every value)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor to fill, got {type(tensor).__name__}")
    if tensor._data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor, got dtype {tensor._data.dtype}")
    return tensor


def _fill(tensor, values):
    tensor._data[...] = values
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """U(a, b) draws; a <= b finite."""
    _target(tensor, "uniform_")
    a, b = number_arg(a, "a", "uniform_"), number_arg(b, "b", "uniform_")
    if a > b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _fill(tensor, random.get_generator().uniform(a, b, tensor._data.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """N(mean, std^2) draws; std >= 0."""
    _target(tensor, "normal_")
    mean, std = number_arg(mean, "mean", "normal_"), number_arg(std, "std", "normal_", 0)
    return _fill(tensor, random.get_generator().normal(mean, std, tensor._data.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Every element set to ``val`` (a number: nan and inf too, as PyTorch allows)."""
    _target(tensor, "constant_")
    if isinstance(val, bool) or not isinstance(val, (int, float, np.integer, np.floating)):
        raise TypeError(f"constant_: val must be a number, got {type(val).__name__} {val!r}")
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(_target(tensor, "zeros_"), 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(_target(tensor, "ones_"), 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(_target(tensor, "xavier_uniform_"))
    bound = number_arg(gain, "gain", "xavier_uniform_") * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(_target(tensor, "xavier_normal_"))
    gain = number_arg(gain, "gain", "xavier_normal_", 0)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode, "kaiming_uniform_"))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode, "kaiming_normal_")))


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix (Saxe et al., 2013): rows or columns orthonormal, times gain."""
    shape = _target(tensor, "orthogonal_")._data.shape
    gain = number_arg(gain, "gain", "orthogonal_")
    if len(shape) < 2:
        raise ValueError(f"orthogonal_: needs a tensor with at least 2 dims, got shape {shape}")
    rows, cols = shape[0], int(np.prod(shape[1:]))
    flat = random.get_generator().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(shape))


def _deprecated(new):
    """PyTorch's old names without the trailing underscore (``xavier_uniform``): the same function,
    with PyTorch's FutureWarning naming the new one (older scripts such as siamese_network use them)."""
    old = new.__name__[:-1]

    def deprecated(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.", FutureWarning, 2)
        return new(*args, **kwargs)

    deprecated.__name__ = deprecated.__qualname__ = old
    deprecated.__doc__ = f"Deprecated: ``{new.__name__}`` (with a FutureWarning, as PyTorch)."
    return deprecated


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
