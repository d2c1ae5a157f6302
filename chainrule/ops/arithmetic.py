"""Elementwise binary ops (+ - * / ** maximum minimum where), each forward above its VJP.

Broadcasting is free here: a VJP returns the gradient at the output's shape and the engine sums
it back to each input's shape. sub and div have their own one-line rules rather than being
composed from add/neg/mul/pow because they sit on the hot path (losses, normalisation).
"""

from chainrule._backend import get_default_dtype, xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import OUTPUT, needs_graph, record
from chainrule.ops import either
from chainrule.ops.operands import pair, wrap


def _binary_error(op, a, b, err):
    return ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast ({err})")


def add(a, b, *, alpha=1) -> Tensor:
    """a + alpha * b, broadcasting (PyTorch's ``alpha`` scales the second operand)."""
    if alpha != 1:
        b = mul(b, alpha)
    a, b = pair(a, b)
    try:
        out = a._data + b._data
    except ValueError as err:
        raise _binary_error("add", a, b, err) from None
    if needs_graph(a, b):
        return record("Add", out, (a, b), _add_vjp, ())
    return wrap(out)


def _add_vjp(g):
    return g, g


def sub(a, b, *, alpha=1) -> Tensor:
    """a - alpha * b, broadcasting."""
    if alpha != 1:
        b = mul(b, alpha)
    a, b = pair(a, b)
    try:
        out = a._data - b._data
    except ValueError as err:
        raise _binary_error("sub", a, b, err) from None
    if needs_graph(a, b):
        return record("Sub", out, (a, b), _sub_vjp, ())
    return wrap(out)


def _sub_vjp(g):
    return g, -g


def mul(a, b) -> Tensor:
    """a * b, broadcasting."""
    a, b = pair(a, b)
    ad, bd = a._data, b._data
    try:
        out = ad * bd
    except ValueError as err:
        raise _binary_error("mul", a, b, err) from None
    if needs_graph(a, b):
        # each operand is saved only for the other's gradient, as PyTorch's: x * 0.5 keeps no hold
        # on x, so x may change in place afterwards (velocities[0] = ... after velocities * dt)
        need_a, need_b = a.requires_grad, b.requires_grad
        return record("Mul", out, (a, b), _mul_vjp, (a if need_b else None, b if need_a else None, need_a, need_b))
    return wrap(out)


def _mul_vjp(g, a, b, need_a, need_b):
    return g * b if need_a else None, g * a if need_b else None


def div(a, b, *, rounding_mode=None) -> Tensor:
    """a / b, broadcasting (true division; integer tensors give the default floating dtype).
    ``rounding_mode="trunc"`` rounds the quotient towards 0, ``"floor"`` down (Python's ``//``);
    both keep integer tensors integer and give a zero gradient, as PyTorch's."""
    if rounding_mode is not None:
        return _rounded_div(a, b, rounding_mode)
    a, b = pair(a, b)
    ad, bd = a._data, b._data
    if ad.dtype.kind != "f":  # integers and bools divide in the default floating dtype, as PyTorch's
        ad, bd = ad.astype(get_default_dtype()), bd.astype(get_default_dtype())
    try:
        out = ad / bd
    except ValueError as err:
        raise _binary_error("div", a, b, err) from None
    if needs_graph(a, b):  # (both are floating then: only floating tensors require grad)
        return record("Div", out, (a, b), _div_vjp, (b, OUTPUT, b.requires_grad))
    return wrap(out)


def _div_vjp(g, b, out, need_b):
    return g / b, -g * out / b if need_b else None


def neg(a) -> Tensor:
    """-a."""
    return mul(a, -1)


def pow(a, b) -> Tensor:
    """a ** b for a tensor base or exponent (d/da = b a^(b-1), d/db = a^b log a).

    At the edges the gradients are PyTorch's: d/da = 0 where b == 0, -inf at 0 ** (b < 0), nan
    for a negative base and a non-integer exponent; d/db = 0 where a == 0 and b >= 0.
    """
    if isinstance(a, Tensor) and (type(b) is int or type(b) is float):  # a Python number (not bool or NumPy)
        exponent = b
        ad = a._data
        if ad.dtype.kind != "f" and type(b) is float:
            ad = ad.astype(get_default_dtype())  # int ** float: the default floating dtype
        out = ad**exponent
        if needs_graph(a):
            return record("Pow", out, (a,), _power_vjp, (a, exponent))
        return wrap(out)
    a, b = pair(a, b)
    ad, bd = a._data, b._data
    try:
        out = ad**bd
    except ValueError as err:
        raise _binary_error("pow", a, b, err) from None
    if needs_graph(a, b):
        return record("Pow", out, (a, b), _pow_vjp, (a, b, OUTPUT, a.requires_grad, b.requires_grad))
    return wrap(out)


def _power_vjp(g, a, exponent):
    if exponent == 0:
        return (either.zeros_like(g),)
    if exponent == 2:
        return (2 * g * a,)
    return (g * exponent * a ** (exponent - 1),)


def _pow_vjp(g, a, b, out, need_a, need_b):
    # PyTorch's rules at the edges: d/da is 0 where b == 0 (also at 0 ** 0), and
    # d/db = a^b log a is 0 where a == 0 and b >= 0 (-inf for b < 0, nan for a < 0).
    av, bv = either.values(a), either.values(b)
    ga = g * either.where(bv == 0, 0, b * a ** (b - 1)) if need_a else None
    gb = g * either.where((av == 0) & (bv >= 0), 0, out * either.log(a)) if need_b else None
    return ga, gb


def maximum(a, b) -> Tensor:
    """Elementwise max; on ties the gradient is split evenly, as in PyTorch."""
    return _select_extreme(a, b, xp.maximum, xp.less, "Maximum")


def minimum(a, b) -> Tensor:
    """Elementwise min; on ties the gradient is split evenly, as in PyTorch."""
    return _select_extreme(a, b, xp.minimum, xp.greater, "Minimum")


def _select_extreme(a, b, pick, loses, name):
    a, b = pair(a, b)
    ad, bd = a._data, b._data
    try:
        out = pick(ad, bd)
    except ValueError as err:
        raise _binary_error(name.lower(), a, b, err) from None
    if needs_graph(a, b):
        # PyTorch's rule: half each on a tie, all to the operand that does not lose, none to
        # the one that does (with a nan neither loses, so both get the gradient, as there).
        return record(name, out, (a, b), _extreme_vjp, (ad == bd, loses(ad, bd), loses(bd, ad)))
    return wrap(out)


def _extreme_vjp(g, tie, a_loses, b_loses):
    shared = either.where(tie, g * 0.5, g)
    return either.where(a_loses, 0, shared), either.where(b_loses, 0, shared)


def where(condition, a=None, b=None) -> Tensor:
    """``a`` where ``condition`` holds, else ``b`` (broadcasting); no gradient to the condition.
    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``."""
    if a is None and b is None:
        from chainrule.ops.indexing import nonzero

        return nonzero(condition, as_tuple=True)
    cond = condition._data if isinstance(condition, Tensor) else xp.asarray(condition)
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    a, b = pair(a, b)
    try:
        out = xp.where(cond, a._data, b._data)
    except ValueError as err:
        raise ValueError(
            f"where: shapes {cond.shape}, {a.shape} and {b.shape} do not broadcast ({err})"
        ) from None
    if needs_graph(a, b):
        return record("Where", out, (a, b), _where_vjp, (cond,))
    return wrap(out)


def _where_vjp(g, cond):
    zero = xp.zeros((), dtype=g.dtype)
    return either.where(cond, g, zero), either.where(cond, zero, g)


true_divide = div  # PyTorch's other name (``rounding_mode`` then stays None)


# ---------------------------------------------------------------------------- rounded division


def _integer_pair(a, b, op):
    """a and b promoted; for integer dtypes, a zero divisor raises as PyTorch does (NumPy would
    give 0 with a warning)."""
    a, b = pair(a, b)
    if a._data.dtype.kind in "biu" and not b._data.all():
        raise RuntimeError(f"{op}: ZeroDivisionError (an integer tensor divided by 0)")
    if a._data.dtype.kind == "b":  # bools divide as int64, as PyTorch's
        a, b = wrap(a._data.astype(xp.int64)), wrap(b._data.astype(xp.int64))
    return a, b


def _rounded_div(a, b, rounding_mode, op="div"):
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    a, b = _integer_pair(a, b, op)
    ad, bd = a._data, b._data
    try:
        with xp.errstate(divide="ignore", invalid="ignore"):  # x / 0: inf or nan, as PyTorch
            if rounding_mode == "floor":
                out = xp.floor_divide(ad, bd)  # Python's //, also for floats
            elif ad.dtype.kind == "f":
                out = xp.trunc(ad / bd)
            else:  # exact for any int64: |a| // |b| with the quotient's sign
                out = xp.sign(ad) * xp.sign(bd) * (xp.abs(ad) // xp.abs(bd))
    except ValueError as err:
        raise _binary_error(op, a, b, err) from None
    if needs_graph(a, b):
        return record("RoundedDiv", out, (a, b), _rounded_div_vjp, ())
    return wrap(out)


def _rounded_div_vjp(g):
    # a step function of a and b: PyTorch's gradient is 0 for both
    zero = either.zeros_like(g)
    return zero, zero


def floor_divide(a, b) -> Tensor:
    """a // b: the quotient rounded down, as Python's ``//`` (``div(a, b, rounding_mode="floor")``).
    Its gradient is 0, as that div's (PyTorch's floor_divide raises in backward instead)."""
    return _rounded_div(a, b, "floor", "floor_divide")


def fmod(a, b) -> Tensor:
    """The remainder of a / b with a's sign (C's fmod): a - trunc(a / b) * b."""
    return _remainder(a, b, xp.fmod, xp.trunc, "Fmod", "fmod")


def remainder(a, b) -> Tensor:
    """The remainder of a / b with b's sign (Python's ``%``, PyTorch's remainder):
    a - floor(a / b) * b."""
    return _remainder(a, b, xp.remainder, xp.floor, "Remainder", "remainder")


def _remainder(a, b, compute, rounder, name, op):
    a, b = _integer_pair(a, b, op)
    ad, bd = a._data, b._data
    try:
        with xp.errstate(divide="ignore", invalid="ignore"):  # x % 0.0 is nan, as PyTorch
            out = compute(ad, bd)
    except ValueError as err:
        raise _binary_error(op, a, b, err) from None
    if needs_graph(a, b):
        with xp.errstate(divide="ignore", invalid="ignore"):
            quotient = rounder(ad / bd)
        return record(name, out, (a, b), _remainder_vjp, (quotient,))
    return wrap(out)


def _remainder_vjp(g, quotient):
    # out = a - q b with q a step function of a / b, constant between its jumps
    return g, -g * quotient


# ---------------------------------------------------------------------------- floating binary


def _float_pair(a, b):
    """a and b promoted, integers and bools to the default floating dtype (as PyTorch's atan2)."""
    a, b = pair(a, b)
    if a._data.dtype.kind != "f":
        a, b = wrap(a._data.astype(get_default_dtype())), wrap(b._data.astype(get_default_dtype()))
    return a, b


def _floating_binary(a, b, compute, name, vjp, saved_of, op):
    a, b = _float_pair(a, b)
    try:
        out = compute(a._data, b._data)
    except ValueError as err:
        raise _binary_error(op, a, b, err) from None
    if needs_graph(a, b):
        return record(name, out, (a, b), vjp, saved_of(a, b))
    return wrap(out)


def atan2(input, other) -> Tensor:
    """The angle of the point (other, input), in (-pi, pi]: arctan(input / other) by quadrant."""
    return _floating_binary(input, other, xp.arctan2, "Atan2", _atan2_vjp, lambda a, b: (a, b), "atan2")


arctan2 = atan2  # NumPy's name, which PyTorch accepts too


def _atan2_vjp(g, a, b):
    scale = g / (a * a + b * b)
    return scale * b, -scale * a


def hypot(input, other) -> Tensor:
    """sqrt(input^2 + other^2), without overflow for large values."""
    return _floating_binary(input, other, xp.hypot, "Hypot", _hypot_vjp, lambda a, b: (a, b, OUTPUT), "hypot")


def _hypot_vjp(g, a, b, out):
    return g * a / out, g * b / out


def logaddexp(input, other) -> Tensor:
    """log(e^input + e^other), without overflow."""
    return _floating_binary(
        input, other, xp.logaddexp, "Logaddexp", _logaddexp_vjp, lambda a, b: (a, b, OUTPUT), "logaddexp"
    )


def _logaddexp_vjp(g, a, b, out):
    return g * either.exp(a - out), g * either.exp(b - out)


_LN2 = 0.6931471805599453


def logaddexp2(input, other) -> Tensor:
    """log2(2^input + 2^other), without overflow."""
    return _floating_binary(
        input, other, xp.logaddexp2, "Logaddexp2", _logaddexp2_vjp, lambda a, b: (a, b, OUTPUT), "logaddexp2"
    )


def _logaddexp2_vjp(g, a, b, out):
    # 2^(a - out) = e^((a - out) ln 2)
    return g * either.exp((a - out) * _LN2), g * either.exp((b - out) * _LN2)


def lerp(input, end, weight) -> Tensor:
    """input + weight * (end - input), weight a number or a tensor (broadcasting); composed of
    ops, so all three get gradients."""
    for name, value in (("input", input), ("end", end)):
        if not isinstance(value, Tensor) or value._data.dtype.kind != "f":
            got = value._data.dtype if isinstance(value, Tensor) else type(value).__name__
            raise TypeError(f"lerp: {name} must be a floating tensor, got {got}")
    return add(input, mul(weight, sub(end, input)))
