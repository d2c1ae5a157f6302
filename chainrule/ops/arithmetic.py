"""Elementwise binary ops (+ - * / ** maximum minimum where), each forward above its VJP.

Broadcasting is free here: a VJP returns the gradient at the output's shape and the engine sums
it back to each input's shape. sub and div have their own one-line rules rather than being
composed from add/neg/mul/pow because they sit on the hot path (losses, normalisation).
"""

from chainrule._backend import get_default_dtype, xp
from chainrule.autograd.engine import record
from chainrule.autograd.mode import state
from chainrule.ops.operands import pair, wrap
from chainrule.tensor import Tensor


def _binary_error(op, a, b, err):
    return ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast ({err})")


def add(a, b) -> Tensor:
    """a + b, broadcasting."""
    a, b = pair(a, b)
    try:
        out = a.data + b.data
    except ValueError as err:
        raise _binary_error("add", a, b, err) from None
    if state.grad_enabled and (a.requires_grad or b.requires_grad):
        return record("Add", out, (a, b), lambda g: (g, g))
    return wrap(out)


def sub(a, b) -> Tensor:
    """a - b, broadcasting."""
    a, b = pair(a, b)
    try:
        out = a.data - b.data
    except ValueError as err:
        raise _binary_error("sub", a, b, err) from None
    if state.grad_enabled and (a.requires_grad or b.requires_grad):
        return record("Sub", out, (a, b), lambda g: (g, -g))
    return wrap(out)


def mul(a, b) -> Tensor:
    """a * b, broadcasting."""
    a, b = pair(a, b)
    ad, bd = a.data, b.data
    try:
        out = ad * bd
    except ValueError as err:
        raise _binary_error("mul", a, b, err) from None
    if state.grad_enabled and (a.requires_grad or b.requires_grad):
        need_a, need_b = a.requires_grad, b.requires_grad
        return record(
            "Mul", out, (a, b),
            lambda g: (g * bd if need_a else None, g * ad if need_b else None),
        )
    return wrap(out)


def div(a, b) -> Tensor:
    """a / b, broadcasting (true division; integer tensors give the default floating dtype)."""
    a, b = pair(a, b)
    ad, bd = a.data, b.data
    if ad.dtype.kind != "f":  # integers and bools divide in the default floating dtype, as PyTorch's
        ad, bd = ad.astype(get_default_dtype()), bd.astype(get_default_dtype())
    try:
        out = ad / bd
    except ValueError as err:
        raise _binary_error("div", a, b, err) from None
    if state.grad_enabled and (a.requires_grad or b.requires_grad):
        need_b = b.requires_grad
        return record(
            "Div", out, (a, b),
            lambda g: (g / bd, -g * out / bd if need_b else None),
        )
    return wrap(out)


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
        ad = a.data
        if ad.dtype.kind != "f" and type(b) is float:
            ad = ad.astype(get_default_dtype())  # int ** float: the default floating dtype
        out = ad**exponent
        if state.grad_enabled and a.requires_grad:
            if exponent == 0:
                return record("Pow", out, (a,), lambda g: (xp.zeros_like(g),))
            if exponent == 2:
                return record("Pow", out, (a,), lambda g: (2 * g * ad,))
            return record("Pow", out, (a,), lambda g: (g * exponent * ad ** (exponent - 1),))
        return wrap(out)
    a, b = pair(a, b)
    ad, bd = a.data, b.data
    try:
        out = ad**bd
    except ValueError as err:
        raise _binary_error("pow", a, b, err) from None
    if state.grad_enabled and (a.requires_grad or b.requires_grad):
        need_a, need_b = a.requires_grad, b.requires_grad

        def pow_vjp(g):
            # PyTorch's rules at the edges: d/da is 0 where b == 0 (also at 0 ** 0), and
            # d/db = a^b log a is 0 where a == 0 and b >= 0 (-inf for b < 0, nan for a < 0).
            ga = g * xp.where(bd == 0, 0, bd * ad ** (bd - 1)) if need_a else None
            gb = g * xp.where((ad == 0) & (bd >= 0), 0, out * xp.log(ad)) if need_b else None
            return ga, gb

        return record("Pow", out, (a, b), pow_vjp)
    return wrap(out)


def maximum(a, b) -> Tensor:
    """Elementwise max; on ties the gradient is split evenly, as in PyTorch."""
    return _select_extreme(a, b, xp.maximum, xp.less, "Maximum")


def minimum(a, b) -> Tensor:
    """Elementwise min; on ties the gradient is split evenly, as in PyTorch."""
    return _select_extreme(a, b, xp.minimum, xp.greater, "Minimum")


def _select_extreme(a, b, pick, loses, name):
    a, b = pair(a, b)
    ad, bd = a.data, b.data
    try:
        out = pick(ad, bd)
    except ValueError as err:
        raise _binary_error(name.lower(), a, b, err) from None
    if state.grad_enabled and (a.requires_grad or b.requires_grad):

        def extreme_vjp(g):
            # PyTorch's rule: half each on a tie, all to the operand that does not lose, none to
            # the one that does (with a nan neither loses, so both get the gradient, as there).
            shared = xp.where(ad == bd, g * 0.5, g)
            return xp.where(loses(ad, bd), 0, shared), xp.where(loses(bd, ad), 0, shared)

        return record(name, out, (a, b), extreme_vjp)
    return wrap(out)


def where(condition, a, b) -> Tensor:
    """``a`` where ``condition`` holds, else ``b`` (broadcasting); no gradient to the condition."""
    cond = condition.data if isinstance(condition, Tensor) else xp.asarray(condition)
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    a, b = pair(a, b)
    try:
        out = xp.where(cond, a.data, b.data)
    except ValueError as err:
        raise ValueError(
            f"where: shapes {cond.shape}, {a.shape} and {b.shape} do not broadcast ({err})"
        ) from None
    if state.grad_enabled and (a.requires_grad or b.requires_grad):
        zero = xp.zeros((), dtype=out.dtype)
        return record(
            "Where", out, (a, b),
            lambda g: (xp.where(cond, g, zero), xp.where(cond, zero, g)),
        )
    return wrap(out)
