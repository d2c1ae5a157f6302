"""Argument checks shared by the data modules: each names the function and the argument, what it
received and what it expects, before any work is done."""

import math
import numbers

import numpy as np


def check_real(where: str, name: str, value, low: float = -math.inf, high: float = math.inf,
               high_open: bool = False) -> float:
    """A finite real number in [low, high] (or [low, high) with ``high_open``), as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__} {value!r}"[:300])
    value = float(value)
    above = value >= high if high_open else value > high
    if not math.isfinite(value) or value < low or above:
        bound = f"[{low:g}, {high:g}{')' if high_open else ']'}" if math.isfinite(high) else f">= {low:g}"
        raise ValueError(f"{where}: {name} must be a finite number {'in ' if math.isfinite(high) else ''}{bound}, "
                         f"got {value!r}")
    return value


def check_seed(where: str, seed) -> None:
    """None or a non-negative integer, what NumPy's generators accept."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{where}: seed must be None or a non-negative integer, got {seed!r}"[:300])
    if seed < 0:
        raise ValueError(f"{where}: seed must be None or a non-negative integer, got {seed}")
