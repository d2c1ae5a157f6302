"""Elementwise functions of one tensor (math and activations), each forward above its VJP."""

import math

import numpy as np

from chainrule._arguments import number_arg
from chainrule._backend import get_default_dtype, scalar_like, shared_zeros_like, xp
from chainrule.autograd.engine import record
from chainrule.autograd.mode import state
from chainrule.ops.operands import constant, floating, wrap
from chainrule.tensor import Tensor


def _unary(name, x, out, vjp):
    if state.grad_enabled and x.requires_grad:
        return record(name, out, (x,), vjp)
    return wrap(out)


def _float_input(x, op):
    """A floating tensor; a Python number or array is lifted to one first (``cr.exp(1.0)``)."""
    return floating(x if isinstance(x, Tensor) else constant(x), op)


def _math_input(x, op):
    """As ``_float_input``, but integer and bool tensors become the default floating dtype, as
    PyTorch's exp, log, sqrt, sin, cos, tanh and sigmoid of an int64 tensor give float32."""
    if isinstance(x, Tensor):
        kind = x.data.dtype.kind
        if kind == "f":  # the usual case first: one call fewer on every activation
            return x
        if kind in "biu":
            return wrap(x.data.astype(get_default_dtype()))
    return _float_input(x, op)


def exp(x) -> Tensor:
    x = _math_input(x, "exp")
    out = xp.exp(x.data)
    return _unary("Exp", x, out, lambda g: (g * out,))


def log(x) -> Tensor:
    x = _math_input(x, "log")
    d = x.data
    return _unary("Log", x, xp.log(d), lambda g: (g / d,))


def log1p(x) -> Tensor:
    x = _math_input(x, "log1p")
    d = x.data
    return _unary("Log1p", x, xp.log1p(d), lambda g: (g / (1 + d),))


def sqrt(x) -> Tensor:
    x = _math_input(x, "sqrt")
    out = xp.sqrt(x.data)
    return _unary("Sqrt", x, out, lambda g: (g / (2 * out),))


def abs(x) -> Tensor:
    """|x|; the gradient at 0 (and at nan) is 0, PyTorch's sgn."""
    x = _float_input(x, "abs")
    d = x.data
    return _unary("Abs", x, xp.abs(d), lambda g: (g * xp.where(d == d, xp.sign(d), 0),))


def sin(x) -> Tensor:
    x = _math_input(x, "sin")
    d = x.data
    return _unary("Sin", x, xp.sin(d), lambda g: (g * xp.cos(d),))


def cos(x) -> Tensor:
    x = _math_input(x, "cos")
    d = x.data
    return _unary("Cos", x, xp.cos(d), lambda g: (-g * xp.sin(d),))


def tanh(x) -> Tensor:
    x = _math_input(x, "tanh")
    out = xp.tanh(x.data)
    return _unary("Tanh", x, out, lambda g: (tanh_grad(g, out),))


def tanh_grad(g, out):
    return g * (scalar_like(1, out) - out * out)


def sigmoid(x) -> Tensor:
    """1 / (1 + e^-x), computed without overflow for large |x|."""
    x = _math_input(x, "sigmoid")
    out = sigmoid_values(x.data)
    return _unary("Sigmoid", x, out, lambda g: (sigmoid_grad(g, out),))


def sigmoid_values(d):
    # e^min(x, 0) / (1 + e^-|x|): only exponents <= 0, so nothing overflows; as accurate as the
    # two-branch form (3 ulp in float32) and without its where(), which made the XOR
    # network's sigmoid cost 53k instructions instead of 23k.
    # (0-d constants: see scalar_like)
    return xp.exp(xp.minimum(d, scalar_like(0, d))) / (scalar_like(1, d) + xp.exp(-xp.abs(d)))


def sigmoid_grad(g, out):
    return g * out * (scalar_like(1, out) - out)


def relu(x) -> Tensor:
    """max(x, 0); the gradient at 0 is 0."""
    x = _float_input(x, "relu")
    out = relu_values(x.data)
    return _unary("Relu", x, out, lambda g: (relu_grad(g, out),))


def relu_values(d):
    return xp.maximum(d, shared_zeros_like(d))


def relu_grad(g, out):
    # out is positive, 0 (for x <= 0) or nan (for x = nan): != 0 passes the gradient where
    # PyTorch's threshold_backward does (also at nan), for the cost of > 0
    return g * (out != 0)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    x = _float_input(x, "leaky_relu")
    if type(negative_slope) is not float:  # (the usual float costs one test)
        negative_slope = number_arg(negative_slope, "negative_slope", "leaky_relu")
    d = x.data
    positive = d > 0
    out = xp.where(positive, d, d * negative_slope)
    return _unary("LeakyRelu", x, out, lambda g: (xp.where(positive, g, g * negative_slope),))


def elu(x, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise."""
    x = _float_input(x, "elu")
    if type(alpha) is not float:
        alpha = number_arg(alpha, "alpha", "elu")
    d = x.data
    positive = d > 0
    negative_part = alpha * xp.expm1(xp.minimum(d, 0))
    out = xp.where(positive, d, negative_part)
    return _unary("Elu", x, out, lambda g: (xp.where(positive, g, g * (negative_part + alpha)),))


def _erf(values):
    try:
        from scipy.special import erf  # optional: vectorised and exact
    except ImportError:
        erf = np.vectorize(math.erf, otypes=[values.dtype])
    return erf(values).astype(values.dtype, copy=False)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def gelu(x, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi: the standard normal CDF); ``approximate="tanh"`` uses PyTorch's tanh form."""
    x = _float_input(x, "gelu")
    d = x.data
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (d + 0.044715 * d**3)
        t = xp.tanh(inner)
        out = 0.5 * d * (1 + t)

        def gelu_tanh_vjp(g):
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * d * d)
            return (g * (0.5 * (1 + t) + 0.5 * d * (1 - t * t) * d_inner),)

        return _unary("Gelu", x, out, gelu_tanh_vjp)
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    cdf = 0.5 * (1 + _erf(d * (1 / math.sqrt(2))))
    out = d * cdf
    return _unary("Gelu", x, out, lambda g: (g * (cdf + d * _INV_SQRT_2PI * xp.exp(-0.5 * d * d)),))


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch's definition)."""
    x = _float_input(x, "softplus")
    if type(beta) is not float or type(threshold) is not float or beta == 0:
        beta = softplus_beta(beta, "softplus")
        threshold = number_arg(threshold, "threshold", "softplus")
    d = x.data
    scaled = d * beta
    linear = scaled > threshold
    # logaddexp(0, s) = log(1 + e^s) without overflow.
    out = xp.where(linear, d, xp.logaddexp(0, scaled) / beta).astype(d.dtype, copy=False)

    def softplus_vjp(g):
        e = xp.exp(-xp.abs(scaled))
        slope = xp.where(scaled >= 0, 1 / (1 + e), e / (1 + e))
        return (xp.where(linear, g, g * slope),)

    return _unary("Softplus", x, out, softplus_vjp)


def softplus_beta(beta, owner):
    beta = number_arg(beta, "beta", owner)
    if beta == 0:
        raise ValueError(f"{owner}: beta must be a non-zero finite number (the result is divided by it), got 0")
    return beta


def clip(x, min=None, max=None) -> Tensor:
    """x limited to [min, max] (either may be None); the gradient passes where min <= x <= max."""
    x = _float_input(x, "clip")
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    for name, bound in (("min", min), ("max", max)):
        if not isinstance(bound, (type(None), int, float, np.number, Tensor, np.ndarray)) or isinstance(bound, bool):
            raise TypeError(f"clip: {name} must be a number or a tensor, got {type(bound).__name__} {bound!r}")
    d = x.data
    lo = None if min is None else xp.asarray(getattr(min, "data", min), dtype=d.dtype)
    hi = None if max is None else xp.asarray(getattr(max, "data", max), dtype=d.dtype)
    out = xp.clip(d, lo, hi)

    def clip_vjp(g):
        inside = xp.ones(d.shape, dtype=bool)
        if lo is not None:
            inside &= d >= lo
        if hi is not None:
            inside &= d <= hi
        return (g * inside,)

    return _unary("Clip", x, out, clip_vjp)
