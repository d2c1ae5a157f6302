"""Building blocks of the op table: an example (arrays, op, reference), a case (an op name and
how to draw examples), and drawing helpers for shapes, values and dims."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


@dataclass
class Drawn:
    """One example: arrays (float64), the op on tensors, the reference on arrays."""

    arrays: list
    op: Callable
    reference: Callable


@dataclass
class Case:
    name: str
    draw: Callable  # (hypothesis draw) -> Drawn


def shapes(min_dims=0, max_dims=3, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def values(draw, shape, low=-2.0, high=2.0, away_from=None):
    """Random float64 values; ``away_from`` keeps them 0.1 clear of a kink (0 for relu, ...)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(low, high, size=shape)
    if away_from is not None:
        side = np.where(x >= away_from, 1.0, -1.0)
        x = away_from + side * (0.1 + np.abs(x - away_from))
    return x


def dim_choice(draw, ndim, allow_tuple=True, allow_none=True):
    """None, one axis (positive or negative), or a tuple of axes."""
    if ndim == 0:
        return None
    options = [st.none()] if allow_none else []
    options.append(st.integers(-ndim, ndim - 1))
    if allow_tuple:
        options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple))
    return draw(st.one_of(*options))


