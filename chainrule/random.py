"""The one seeded random generator behind every random op (randn, rand, dropout, init, shuffling)."""

import numpy as np

_generator = None  # created on first use: importing numpy.random costs ~10 ms at start-up


def manual_seed(seed: int) -> "np.random.Generator":
    """Seed chainrule's generator so that every random op repeats exactly.

    >>> import chainrule
    >>> _ = chainrule.manual_seed(0); a = chainrule.randn(3)
    >>> _ = chainrule.manual_seed(0); bool((chainrule.randn(3).data == a.data).all())
    True
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def get_generator() -> "np.random.Generator":
    """The generator random ops draw from (replaced by each `manual_seed`)."""
    global _generator
    if _generator is None:
        _generator = np.random.default_rng()
    return _generator


def get_rng_state() -> dict:
    """The generator's state, a JSON-serialisable dict (for checkpoints)."""
    return get_generator().bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by `get_rng_state`."""
    get_generator().bit_generator.state = state
