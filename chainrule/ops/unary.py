"""Elementwise functions of one tensor (math and activations), each forward above its VJP."""

import math

import numpy as np

from chainrule._arguments import number_arg
from chainrule._backend import get_default_dtype, scalar_like, shared_zeros_like, xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import OUTPUT, needs_graph, record
from chainrule.ops import either
from chainrule.ops.operands import constant, floating, operand, result_type, same_dtype, wrap


def _unary(name, x, out, vjp, saved):
    if needs_graph(x):
        return record(name, out, (x,), vjp, saved)
    return wrap(out)


def _float_input(x, op):
    """A floating tensor; a Python number or array is lifted to one first (``cr.exp(1.0)``)."""
    return floating(x if isinstance(x, Tensor) else constant(x), op)


def _math_input(x, op):
    """As ``_float_input``, but integer and bool tensors become the default floating dtype, as
    PyTorch's exp, log, sqrt, sin, cos, tanh and sigmoid of an int64 tensor give float32."""
    if isinstance(x, Tensor):
        kind = x._data.dtype.kind
        if kind == "f":  # the usual case first: one call fewer on every activation
            return x
        if kind in "biu":
            return wrap(x._data.astype(get_default_dtype()))
    return _float_input(x, op)


def exp(x) -> Tensor:
    x = _math_input(x, "exp")
    return _unary("Exp", x, xp.exp(x._data), _exp_vjp, (OUTPUT,))


def _exp_vjp(g, out):
    return (g * out,)


def log(x) -> Tensor:
    x = _math_input(x, "log")
    return _unary("Log", x, xp.log(x._data), _log_vjp, (x,))


def _log_vjp(g, x):
    return (g / x,)


def log1p(x) -> Tensor:
    x = _math_input(x, "log1p")
    return _unary("Log1p", x, xp.log1p(x._data), _log1p_vjp, (x,))


def _log1p_vjp(g, x):
    return (g / (1 + x),)


def sqrt(x) -> Tensor:
    x = _math_input(x, "sqrt")
    return _unary("Sqrt", x, xp.sqrt(x._data), _sqrt_vjp, (OUTPUT,))


def _sqrt_vjp(g, out):
    return (g / (2 * out),)


def abs(x) -> Tensor:
    """|x|; the gradient at 0 (and at nan) is 0, PyTorch's sgn. Integer tensors stay integer."""
    if isinstance(x, Tensor) and x._data.dtype.kind in "iu":
        return wrap(xp.abs(x._data))
    x = _float_input(x, "abs")
    return _unary("Abs", x, xp.abs(x._data), _abs_vjp, (either.sign(x._data),))


def _abs_vjp(g, sign):
    return (g * sign,)


def sin(x) -> Tensor:
    x = _math_input(x, "sin")
    return _unary("Sin", x, xp.sin(x._data), _sin_vjp, (x,))


def _sin_vjp(g, x):
    return (g * either.cos(x),)


def cos(x) -> Tensor:
    x = _math_input(x, "cos")
    return _unary("Cos", x, xp.cos(x._data), _cos_vjp, (x,))


def _cos_vjp(g, x):
    return (-g * either.sin(x),)


def tanh(x) -> Tensor:
    x = _math_input(x, "tanh")
    return _unary("Tanh", x, xp.tanh(x._data), _tanh_vjp, (OUTPUT,))


def _tanh_vjp(g, out):
    return (tanh_grad(g, out),)


def tanh_grad(g, out):
    return g * (scalar_like(1, out) - out * out)


def sigmoid(x) -> Tensor:
    """1 / (1 + e^-x), computed without overflow for large |x|."""
    x = _math_input(x, "sigmoid")
    return _unary("Sigmoid", x, sigmoid_values(x._data), _sigmoid_vjp, (OUTPUT,))


def _sigmoid_vjp(g, out):
    return (sigmoid_grad(g, out),)


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
    return _unary("Relu", x, relu_values(x._data), _relu_vjp, (OUTPUT,))


def _relu_vjp(g, out):
    return (relu_grad(g, out),)


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
    d = x._data
    positive = d > 0
    out = xp.where(positive, d, d * negative_slope)
    return _unary("LeakyRelu", x, out, _leaky_relu_vjp, (positive, negative_slope))


def _leaky_relu_vjp(g, positive, negative_slope):
    return (either.where(positive, g, g * negative_slope),)


def elu(x, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise."""
    x = _float_input(x, "elu")
    if type(alpha) is not float:
        alpha = number_arg(alpha, "alpha", "elu")
    d = x._data
    positive = d > 0
    negative_part = alpha * xp.expm1(xp.minimum(d, 0))
    out = xp.where(positive, d, negative_part)
    return _unary("Elu", x, out, _elu_vjp, (OUTPUT, positive, alpha))


def _elu_vjp(g, out, positive, alpha):
    # on the negative side out = alpha (e^x - 1), whose derivative is out + alpha
    return (either.where(positive, g, g * (out + alpha)),)


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
    d = x._data
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (d + 0.044715 * d**3)
        out = 0.5 * d * (1 + xp.tanh(inner))
        return _unary("Gelu", x, out, _gelu_tanh_vjp, (x,))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    out = d * _normal_cdf(d)
    return _unary("Gelu", x, out, _gelu_vjp, (x,))


def _gelu_tanh_vjp(g, x):
    t = either.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
    d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
    return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner),)


def _gelu_vjp(g, x):
    return (g * gelu_slope(x),)


def _normal_cdf(d):
    return 0.5 * (1 + _erf(d * (1 / math.sqrt(2))))


def _normal_pdf(x):
    return _INV_SQRT_2PI * either.exp(-0.5 * x * x)


def gelu_slope(x):
    """d gelu / dx = Phi(x) + x phi(x): an op of its own, because Phi (erf) is not one; its
    derivative phi(x) (2 - x^2) is written with ops, so gelu differentiates to any order."""
    if not isinstance(x, Tensor):
        return _normal_cdf(x) + x * _normal_pdf(x)
    out = _normal_cdf(x._data) + x._data * _normal_pdf(x._data)
    if needs_graph(x):
        return record("GeluSlope", out, (x,), _gelu_slope_vjp, (x,))
    return wrap(out)


def _gelu_slope_vjp(g, x):
    return (g * _normal_pdf(x) * (2 - x * x),)


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch's definition)."""
    x = _float_input(x, "softplus")
    if type(beta) is not float or type(threshold) is not float or beta == 0:
        beta = softplus_beta(beta, "softplus")
        threshold = number_arg(threshold, "threshold", "softplus")
    d = x._data
    scaled = d * beta
    linear = scaled > threshold
    # logaddexp(0, s) = log(1 + e^s) without overflow.
    out = xp.where(linear, d, xp.logaddexp(0, scaled) / beta).astype(d.dtype, copy=False)
    return _unary("Softplus", x, out, _softplus_vjp, (x, beta, linear))


def _softplus_vjp(g, x, beta, linear):
    # the slope is sigmoid(beta x) below the threshold, 1 above it
    return (either.where(linear, g, g * either.sigmoid(x * beta)),)


def softplus_beta(beta, owner):
    beta = number_arg(beta, "beta", owner)
    if beta == 0:
        raise ValueError(f"{owner}: beta must be a non-zero finite number (the result is divided by it), got 0")
    return beta


def clip(x, min=None, max=None) -> Tensor:
    """x limited to [min, max]: each None, a number or a tensor (broadcasting); where min > max
    the result is max, as PyTorch's clamp. The gradient passes to x where min <= x <= max, to a
    tensor min where x < min and to a tensor max where x > max. An integer x stays integer with
    integer bounds (a floating bound makes the result floating, as PyTorch's)."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    for name, bound in (("min", min), ("max", max)):
        if not isinstance(bound, (type(None), int, float, np.number, Tensor, np.ndarray)) or isinstance(bound, bool):
            raise TypeError(f"clip: {name} must be a number or a tensor, got {type(bound).__name__} {bound!r}")
    if isinstance(x, Tensor) and x._data.dtype.kind in "iu":
        x = operand(x, result_type(x, *(b for b in (min, max) if b is not None)))
        if x._data.dtype.kind != "f":
            return wrap(xp.clip(x._data, *(None if b is None else getattr(b, "_data", b) for b in (min, max))))
    x = _float_input(x, "clip")
    d = x._data
    lo = None if min is None else xp.asarray(getattr(min, "_data", min), dtype=d.dtype)
    hi = None if max is None else xp.asarray(getattr(max, "_data", max), dtype=d.dtype)
    out = xp.clip(d, lo, hi)
    bounds = [b for b in (min, max) if isinstance(b, Tensor) and b.requires_grad]
    if not needs_graph(x, *bounds):
        return wrap(out)
    inside = xp.ones(out.shape, dtype=bool)
    if lo is not None:
        inside &= d >= lo
    if hi is not None:
        inside &= d <= hi
    masks = []  # where each bound tensor that requires grad is the result (PyTorch's rule)
    if isinstance(min, Tensor) and min.requires_grad:
        masks.append((d < lo) & (lo < hi) if hi is not None else d < lo)
    if isinstance(max, Tensor) and max.requires_grad:
        masks.append((d > hi) | (hi < lo) if lo is not None else d > hi)
    return record("Clip", out, (x, *bounds), _clip_vjp, (inside, *masks))


def _clip_vjp(g, inside, *bound_masks):
    return (g * inside, *(g * mask for mask in bound_masks))


clamp = clip


def clamp_min(x, min) -> Tensor:
    """max(x, min): ``clamp(x, min=min)``."""
    return clip(x, min=min)


def clamp_max(x, max) -> Tensor:
    """min(x, max): ``clamp(x, max=max)``."""
    return clip(x, max=max)


# ---------------------------------------------------------------------------- rounding and sign
# Piecewise constant: PyTorch records them and gives a zero gradient, so ``round(x).sum()``
# backpropagates zeros instead of failing. Integer and bool tensors come back as copies.


def _zero_slope(name, x, out):
    return _unary(name, x, out, _zero_slope_vjp, ())


def _zero_slope_vjp(g):
    return (either.zeros_like(g),)


def _rounded(x, rounder, name):
    x = x if isinstance(x, Tensor) else constant(x)
    if x._data.dtype.kind != "f":
        return wrap(x._data.copy())
    return _zero_slope(name, x, rounder(x._data))


def floor(x) -> Tensor:
    """The largest integer <= x (elementwise); the gradient is 0."""
    return _rounded(x, xp.floor, "Floor")


def ceil(x) -> Tensor:
    """The smallest integer >= x (elementwise); the gradient is 0."""
    return _rounded(x, xp.ceil, "Ceil")


def trunc(x) -> Tensor:
    """x rounded towards 0 (elementwise); the gradient is 0."""
    return _rounded(x, xp.trunc, "Trunc")


def round(x, *, decimals: int = 0) -> Tensor:
    """x rounded to ``decimals`` decimal places, halves to even as PyTorch (``round(2.5) == 2``);
    negative ``decimals`` round to tens, hundreds... The gradient is 0.

    >>> import chainrule as cr
    >>> round(cr.tensor([0.5, 1.5, 2.5, 1234.5])).tolist()
    [0.0, 2.0, 2.0, 1234.0]
    >>> round(cr.tensor([1234.5], dtype=cr.float64), decimals=-2).tolist()
    [1200.0]
    """
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__} {decimals!r}")
    return _rounded(x, lambda d: xp.round(d, int(decimals)), "Round")


def sign(x) -> Tensor:
    """-1, 0 or 1 by the sign of x (0 at nan, as PyTorch); the gradient is 0."""
    x = x if isinstance(x, Tensor) else constant(x)
    if x._data.dtype.kind == "b":
        return wrap(x._data.copy())
    if x._data.dtype.kind != "f":
        return wrap(xp.sign(x._data))
    return _zero_slope("Sign", x, either.sign(x._data))


sgn = sign  # PyTorch's name that also covers complex numbers, which chainrule has not


def frac(x) -> Tensor:
    """The fractional part x - trunc(x), with x's sign; the gradient is 1."""
    x = _float_input(x, "frac")
    return x - trunc(x)


# ---------------------------------------------------------------------------- more math


def tan(x) -> Tensor:
    x = _math_input(x, "tan")
    return _unary("Tan", x, xp.tan(x._data), _tan_vjp, (OUTPUT,))


def _tan_vjp(g, out):
    return (g * (1 + out * out),)


def asin(x) -> Tensor:
    x = _math_input(x, "asin")
    return _unary("Asin", x, xp.arcsin(x._data), _asin_vjp, (x,))


def _asin_vjp(g, x):
    return (g / either.sqrt(1 - x * x),)


def acos(x) -> Tensor:
    x = _math_input(x, "acos")
    return _unary("Acos", x, xp.arccos(x._data), _acos_vjp, (x,))


def _acos_vjp(g, x):
    return (-g / either.sqrt(1 - x * x),)


def atan(x) -> Tensor:
    x = _math_input(x, "atan")
    return _unary("Atan", x, xp.arctan(x._data), _atan_vjp, (x,))


def _atan_vjp(g, x):
    return (g / (1 + x * x),)


def sinh(x) -> Tensor:
    x = _math_input(x, "sinh")
    return _unary("Sinh", x, xp.sinh(x._data), _sinh_vjp, (x,))


def _sinh_vjp(g, x):
    return (g * either.cosh(x),)


def cosh(x) -> Tensor:
    x = _math_input(x, "cosh")
    return _unary("Cosh", x, xp.cosh(x._data), _cosh_vjp, (x,))


def _cosh_vjp(g, x):
    return (g * either.sinh(x),)


def asinh(x) -> Tensor:
    x = _math_input(x, "asinh")
    return _unary("Asinh", x, xp.arcsinh(x._data), _asinh_vjp, (x,))


def _asinh_vjp(g, x):
    return (g / either.sqrt(x * x + 1),)


def acosh(x) -> Tensor:
    x = _math_input(x, "acosh")
    return _unary("Acosh", x, xp.arccosh(x._data), _acosh_vjp, (x,))


def _acosh_vjp(g, x):
    return (g / either.sqrt((x - 1) * (x + 1)),)


def atanh(x) -> Tensor:
    x = _math_input(x, "atanh")
    return _unary("Atanh", x, xp.arctanh(x._data), _atanh_vjp, (x,))


def _atanh_vjp(g, x):
    return (g / (1 - x * x),)


# NumPy's names, which PyTorch accepts too
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
fix = trunc


_LN2 = math.log(2)
_LN10 = math.log(10)


def log2(x) -> Tensor:
    x = _math_input(x, "log2")
    return _unary("Log2", x, xp.log2(x._data), _log2_vjp, (x,))


def _log2_vjp(g, x):
    return (g / (x * _LN2),)


def log10(x) -> Tensor:
    x = _math_input(x, "log10")
    return _unary("Log10", x, xp.log10(x._data), _log10_vjp, (x,))


def _log10_vjp(g, x):
    return (g / (x * _LN10),)


def exp2(x) -> Tensor:
    """2^x."""
    x = _math_input(x, "exp2")
    return _unary("Exp2", x, xp.exp2(x._data), _exp2_vjp, (OUTPUT,))


def _exp2_vjp(g, out):
    return (g * out * _LN2,)


def expm1(x) -> Tensor:
    """e^x - 1, accurate near 0."""
    x = _math_input(x, "expm1")
    return _unary("Expm1", x, xp.expm1(x._data), _expm1_vjp, (OUTPUT,))


def _expm1_vjp(g, out):
    return (g * (out + 1),)


def rsqrt(x) -> Tensor:
    """1 / sqrt(x)."""
    x = _math_input(x, "rsqrt")
    with xp.errstate(divide="ignore"):  # rsqrt(0) = inf, as PyTorch
        out = 1 / xp.sqrt(x._data)
    return _unary("Rsqrt", x, out, _rsqrt_vjp, (OUTPUT,))


def _rsqrt_vjp(g, out):
    return (-0.5 * g * out * out * out,)


def reciprocal(x) -> Tensor:
    """1 / x (integer tensors give the default floating dtype)."""
    x = _math_input(x, "reciprocal")
    with xp.errstate(divide="ignore"):
        out = 1 / x._data
    return _unary("Reciprocal", x, out, _reciprocal_vjp, (OUTPUT,))


def _reciprocal_vjp(g, out):
    return (-g * out * out,)


def square(x) -> Tensor:
    """x * x (an integer tensor stays integer, as PyTorch's)."""
    x = x if isinstance(x, Tensor) else constant(x)
    return x * x


def erf(x) -> Tensor:
    """The error function 2/sqrt(pi) * integral_0^x e^(-t^2) dt."""
    x = _math_input(x, "erf")
    return _unary("Erf", x, _erf(x._data), _erf_vjp, (x,))


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def _erf_vjp(g, x):
    return (g * _TWO_OVER_SQRT_PI * either.exp(-x * x),)


def erfc(x) -> Tensor:
    """1 - erf(x), accurate where erf(x) is close to 1."""
    x = _math_input(x, "erfc")
    return _unary("Erfc", x, _erfc(x._data), _erfc_vjp, (x,))


def _erfc_vjp(g, x):
    return (-g * _TWO_OVER_SQRT_PI * either.exp(-x * x),)


def _erfc(values):
    try:
        from scipy.special import erfc  # optional, as for erf
    except ImportError:
        erfc = np.vectorize(math.erfc, otypes=[values.dtype])
    return erfc(values).astype(values.dtype, copy=False)


def erfinv(x) -> Tensor:
    """The inverse of erf on (-1, 1) (+-inf at +-1, nan outside)."""
    x = _math_input(x, "erfinv")
    return _unary("Erfinv", x, _erfinv(x._data), _erfinv_vjp, (OUTPUT,))


def _erfinv_vjp(g, out):
    # the slope of the inverse: 1 / erf'(out) = sqrt(pi)/2 * e^(out^2)
    return (g * (1 / _TWO_OVER_SQRT_PI) * either.exp(out * out),)


def _erfinv(values):
    try:
        from scipy.special import erfinv
    except ImportError:
        return _erfinv_newton(values)
    return erfinv(values).astype(values.dtype, copy=False)


def _erfinv_newton(y):
    """erfinv without SciPy: Winitzki's closed form refined by Newton steps, solved for |y| and
    given y's sign; above 0.5 on erfc(x) = 1 - |y|, which keeps the digits that erf(x) ~ 1 loses."""
    size = np.abs(y.astype(np.float64))
    a = 0.147
    with np.errstate(divide="ignore", invalid="ignore"):
        ln = np.log1p(-size * size)
        first = 2 / (math.pi * a) + ln / 2
        x = np.sqrt(np.sqrt(first * first - ln / a) - first)
        tail = size > 0.5
        for _ in range(4):
            miss = np.where(tail, (1 - size) - _erfc(x), _erf(x) - size)
            step = miss / (_TWO_OVER_SQRT_PI * np.exp(-x * x))
            x = np.where(np.isfinite(step), x - step, x)
    return (np.sign(y) * x).astype(y.dtype)


def logit(x, eps: float | None = None) -> Tensor:
    """log(x / (1 - x)); with ``eps``, x is first clamped to [eps, 1 - eps] (the gradient is then 0
    outside it, as PyTorch's)."""
    x = _math_input(x, "logit")
    if eps is not None:
        eps = number_arg(eps, "eps", "logit")
        x = clip(x, eps, 1 - eps)
    d = x._data
    with xp.errstate(divide="ignore"):
        out = xp.log(d / (1 - d))
    return _unary("Logit", x, out, _logit_vjp, (x,))


def _logit_vjp(g, x):
    return (g / (x * (1 - x)),)


def nan_to_num(x, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """x with nan, +inf and -inf replaced (by 0 and the dtype's largest and smallest finite
    values unless given); the gradient passes where x is finite and is 0 elsewhere."""
    x = x if isinstance(x, Tensor) else constant(x)
    d = x._data
    if d.dtype.kind != "f":
        return wrap(d.copy())
    out = xp.nan_to_num(d, nan=nan, posinf=posinf, neginf=neginf)
    return _unary("NanToNum", x, out, _nan_to_num_vjp, (xp.isfinite(d),))


def _nan_to_num_vjp(g, finite):
    return (g * finite,)


# ---------------------------------------------------------------------------- more activations
# PyTorch's gradients at the kinks, checked against it: hardtanh (relu6), hardsigmoid, threshold,
# hardshrink and softshrink pass none on a boundary; hardswish's slope is 0 at -3 and 1 at 3.
# ``inplace`` is accepted for PyTorch's signatures (as by nn.ReLU); the result is a new tensor.


def _piecewise_linear_vjp(g, slope):
    """The rule of a piecewise linear function: its slope is a constant (a mask or an array)."""
    return (g * slope,)


def _piecewise_linear(name, x, out, slope):
    """Record ``out``, whose slope ``slope()`` (computed only when a node is needed) is constant."""
    if needs_graph(x):
        return record(name, out, (x,), _piecewise_linear_vjp, (slope(),))
    return wrap(out)


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient passes strictly inside (0 on the bounds).

    >>> import chainrule as cr
    >>> hardtanh(cr.tensor([-2.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    x = _float_input(x, "hardtanh")
    if type(min_val) is not float or type(max_val) is not float:  # (the usual floats cost one test)
        min_val = number_arg(min_val, "min_val", "hardtanh")
        max_val = number_arg(max_val, "max_val", "hardtanh")
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val cannot be greater than max_val, got min_val={min_val} and max_val={max_val}"
        )
    d = x._data
    # PyTorch zeroes where x <= min_val or x >= max_val, so the gradient passes at nan
    slope = lambda: ~((d <= min_val) | (d >= max_val))
    return _piecewise_linear("Hardtanh", x, xp.clip(d, min_val, max_val), slope)


def relu6(x, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): ``hardtanh(x, 0, 6)``, as PyTorch defines it (no gradient at 0 and 6)."""
    return hardtanh(x, 0.0, 6.0)


_SIXTH = float(np.float32(1 / 6))


def hardsigmoid(x, inplace: bool = False) -> Tensor:
    """min(max(x + 3, 0), 6) / 6: slope 1/6 strictly between -3 and 3, 0 elsewhere."""
    x = _float_input(x, "hardsigmoid")
    d = x._data
    out = xp.clip(d + 3, 0, 6) / 6
    # PyTorch's kernel multiplies by the float32 1/6 (0.1666666716) in float64 too: so do we, and
    # the gradients agree bit for bit (the exact 1/6 would differ from PyTorch's by 3e-8)
    return _piecewise_linear("Hardsigmoid", x, out, lambda: ((d > -3) & (d < 3)) * d.dtype.type(_SIXTH))


def hardswish(x, inplace: bool = False) -> Tensor:
    """x * min(max(x + 3, 0), 6) / 6; slope 0 up to -3 (included), x/3 + 1/2 up to 3, then 1."""
    x = _float_input(x, "hardswish")
    d = x._data
    return _unary("Hardswish", x, d * xp.clip(d + 3, 0, 6) / 6, _hardswish_vjp, (x,))


def _hardswish_vjp(g, x):
    # Masks times values rather than where(), which NumPy runs with a branch per element (10 ms a
    # million random signs, against 0.3 ms a pass). As PyTorch: 0 for x <= -3, x/3 + 1/2 below 3,
    # else 1 (nan included); the clip keeps inf and nan from the masked term (inf * 0 is nan).
    d = either.values(x)
    middle = (d > -3) & (d < 3)
    return (g * ((_finite_clip(x, -3, 3) / 3 + 0.5) * middle + ~(middle | (d <= -3))),)


def _finite_clip(x, low, high):
    """x clipped to [low, high] with nan taken as high in a first-order backward (so that a mask
    can zero it); a tensor (create_graph) is clipped by the op."""
    return x.clip(low, high) if isinstance(x, Tensor) else xp.fmax(xp.fmin(x, high), low)


def threshold(x, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else ``value``; the gradient passes where x > threshold (and at nan,
    which passes through, as PyTorch's).

    >>> import chainrule as cr
    >>> threshold(cr.tensor([0.5, 1.0, 2.0]), 1.0, -5.0).tolist()
    [-5.0, -5.0, 2.0]
    """
    x = _float_input(x, "threshold")
    threshold = number_arg(threshold, "threshold", "threshold")
    value = number_arg(value, "value", "threshold")
    d = x._data
    below = d <= threshold
    # each term 0 where the other applies, rather than where() (see _hardswish_vjp); maximum keeps
    # -inf from the masked term (-inf * 0 is nan) and passes nan
    out = xp.maximum(d, d.dtype.type(threshold)) * ~below + d.dtype.type(value) * below
    return _piecewise_linear("Threshold", x, out, lambda: ~below)


def hardshrink(x, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0 (no gradient on [-lambd, lambd])."""
    x = _float_input(x, "hardshrink")
    lambd = number_arg(lambd, "lambd", "hardshrink")
    d = x._data
    outside = ~((d >= -lambd) & (d <= lambd))  # nan included, as PyTorch's
    return _piecewise_linear("Hardshrink", x, d * outside, lambda: outside)


def softshrink(x, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between (no gradient on [-lambd, lambd])."""
    x = _float_input(x, "softshrink")
    lambd = number_arg(lambd, "lambd", "softshrink", 0)
    d = x._data
    out = d - xp.clip(d, -lambd, lambd)
    return _piecewise_linear("Softshrink", x, out, lambda: ~((d >= -lambd) & (d <= lambd)))


def silu(x, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (swish); the slope sigmoid(x) (1 + x (1 - sigmoid(x)))."""
    x = _float_input(x, "silu")
    d = x._data
    return _unary("Silu", x, d * sigmoid_values(d), _silu_vjp, (x,))


def _silu_vjp(g, x):
    s = either.sigmoid(x)
    return (g * (s * (1 + x * (1 - s))),)


def _tanh_softplus(x):
    """tanh(log(1 + e^x)) of arrays or tensors, from s = sigmoid(x): 1 + e^x = 1 / (1 - s), so it
    is (1 - (1 - s)^2) / (1 + (1 - s)^2) = s (2 - s) / (1 + (1 - s)^2), which neither overflows
    nor cancels (a tensor version of log(1 + e^x) would be softplus, linear above 20)."""
    s = either.sigmoid(x)
    rest = 1 - s
    return s * (2 - s) / (1 + rest * rest), s


def mish(x, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)); the slope tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2)."""
    x = _float_input(x, "mish")
    t, _ = _tanh_softplus(x._data)
    return _unary("Mish", x, x._data * t, _mish_vjp, (x,))


def _mish_vjp(g, x):
    t, s = _tanh_softplus(x)
    return (g * (t + x * s * (1 - t * t)),)


def logsigmoid(x) -> Tensor:
    """log(sigmoid(x)) = min(x, 0) - log(1 + e^-|x|), which never overflows; slope sigmoid(-x)."""
    x = _float_input(x, "logsigmoid")
    d = x._data
    out = xp.minimum(d, d.dtype.type(0)) - xp.log1p(xp.exp(-xp.abs(d)))
    return _unary("LogSigmoid", x, out, _logsigmoid_vjp, (x,))


def _logsigmoid_vjp(g, x):
    return (g * either.sigmoid(-x),)


def _scaled_elu(name, x, alpha, scale, input_scale):
    """PyTorch's elu family: scale * x for x > 0, else scale * alpha * (e^(x input_scale) - 1)."""
    d = x._data
    # the sum of both parts, each 0 where the other applies (so exact), rather than NumPy's where()
    # with its branch per element (see _hardswish_vjp)
    positive_part = xp.maximum(d, 0) if scale == 1 else xp.maximum(d, 0) * scale
    negative_part = xp.minimum(d, 0) if input_scale == 1 else xp.minimum(d, 0) * input_scale
    out = positive_part + (scale * alpha) * xp.expm1(negative_part)
    return _unary(name, x, out, _scaled_elu_vjp, (OUTPUT, d <= 0, alpha * scale, scale, input_scale))


def _scaled_elu_vjp(g, out, negative, alpha_scale, scale, input_scale):
    # below 0, out = scale alpha (e^(x input_scale) - 1): its slope is (out + scale alpha) input_scale;
    # the clip is that part alone, finite where x is inf or nan (whose slope is then scale, PyTorch's)
    return (g * (((_finite_clip(out, -math.inf, 0) + alpha_scale) * input_scale - scale) * negative + scale),)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x, inplace: bool = False) -> Tensor:
    """scale * (max(0, x) + min(0, alpha (e^x - 1))), alpha = 1.6733, scale = 1.0507: keeps
    activations near zero mean and unit variance (self-normalising networks)."""
    return _scaled_elu("Selu", _float_input(x, "selu"), _SELU_ALPHA, _SELU_SCALE, 1.0)


def celu(x, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha (e^(x / alpha) - 1)): ELU with a slope continuous at 0.

    (PyTorch's backward rounds 1/alpha through float32, so for an alpha that float32 does not hold
    exactly, 0.7 say, its float64 gradients differ from the exact ones here by about 1e-8.)"""
    x = _float_input(x, "celu")
    alpha = number_arg(alpha, "alpha", "celu")
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (x is divided by it), got 0.0")
    return _scaled_elu("Celu", x, alpha, 1.0, 1.0 / alpha)


def prelu(x, weight) -> Tensor:
    """x for x > 0, weight * x otherwise, with one learned slope per channel (dim 1) or one for
    all (``weight`` of 1 element). At 0 the input's gradient is the slope, as PyTorch's.

    >>> import chainrule as cr
    >>> prelu(cr.tensor([[-2.0, 3.0]]), cr.tensor([0.25])).tolist()
    [[-0.5, 3.0]]
    """
    x = floating(x, "prelu")
    weight = floating(weight, "prelu")
    same_dtype("prelu", x, weight)  # PyTorch promotes neither
    if weight._data.ndim > 1:
        raise ValueError(f"prelu: expected weight to be a scalar or 1-D tensor, got shape {weight._data.shape}")
    d, w = x._data, weight._data
    count = w.size
    if count != 1:
        channels = d.shape[1] if d.ndim > 1 else 1
        if d.ndim == 0 or count != channels:
            raise ValueError(
                f"prelu: {count} weights do not match the input's {channels} channel(s) (dim 1 of shape "
                f"{d.shape}); expected 1 weight or one per channel"
            )
    kept = (1, count) + (1,) * (d.ndim - 2) if count != 1 else ()
    # one of the two terms is 0 (exact), and no where() (see _hardswish_vjp)
    out = xp.maximum(d, 0) + w.reshape(kept) * xp.minimum(d, 0)
    if not needs_graph(x, weight):
        return wrap(out)
    axes = tuple(i for i in range(d.ndim) if i != 1) if count != 1 else None
    rest = (d > 0, kept, axes, w.shape, x.requires_grad, weight.requires_grad)
    return record("Prelu", out, (x, weight), _prelu_vjp, (x, weight, *rest))


def _prelu_vjp(g, x, weight, positive, kept, axes, shape, need_x, need_w):
    gx = g * positive + (g * weight.reshape(kept)) * ~positive if need_x else None
    gw = (g * x.clip(max=0)).sum(axis=axes).reshape(shape) if need_w else None
    return gx, gw
