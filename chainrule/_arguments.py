"""The generic argument checks of every public function and class (an integer in range, a finite
real number in range, a bool flag, a seed), each failing with one message: who, which argument,
what was received (value and type) and what was expected."""

import math
import numbers

import numpy as np


def is_int(value) -> bool:
    """Whether ``value`` is an integer (Python's or NumPy's), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    """Whether ``value`` is a real number (int, float, NumPy's), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _fail(error: type, owner: str, name: str, expected: str, value) -> Exception:
    shown = repr(value)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    return error(f"{owner}: {name} must be {expected}, got {shown} ({type(value).__name__})")


def int_arg(value, name: str, owner: str, minimum: int | None = 1, maximum: int | None = None) -> int:
    """``value`` as an int in [minimum, maximum] (None: unbounded), or a TypeError (not an
    integer: bools, floats such as 2.5 or 4.0, strings) or ValueError (out of range)."""
    bounds = [f">= {minimum}"] if minimum is not None else []
    if maximum is not None:
        bounds.append(f"<= {maximum}")
    if not is_int(value):
        raise _fail(TypeError, owner, name, " ".join(["an integer", " and ".join(bounds)]).strip(), value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise _fail(ValueError, owner, name, " ".join(["an integer", " and ".join(bounds)]).strip(), value)
    return int(value)


def number_arg(value, name: str, owner: str, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float between ``low`` and ``high`` (None: unbounded; each end closed
    unless ``low_open``/``high_open``), or a TypeError (not a real number: bools, strings) or
    ValueError (nan, infinite or out of range)."""
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high:g}")
    expected = " ".join(["a finite number", " and ".join(bounds)]).strip()
    if not is_real(value):
        raise _fail(TypeError, owner, name, expected, value)
    number = float(value)
    below = low is not None and (number <= low if low_open else number < low)
    above = high is not None and (number >= high if high_open else number > high)
    if not math.isfinite(number) or below or above:
        raise _fail(ValueError, owner, name, expected, value)
    return number


def bool_arg(value, name: str, owner: str) -> bool:
    """``value`` as a bool when it is one (NumPy's included), else TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(TypeError, owner, name, "True or False", value)
    return bool(value)


def seed_arg(value, owner: str, name: str = "seed") -> int | None:
    """None or a non-negative integer (what NumPy's generators accept), else TypeError or
    ValueError."""
    if value is None:
        return None
    if not is_int(value):
        raise _fail(TypeError, owner, name, "None or a non-negative integer", value)
    if value < 0:
        raise _fail(ValueError, owner, name, "None or a non-negative integer", value)
    return int(value)
