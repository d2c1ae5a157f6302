"""The one seeded random generator behind every random op (randn, rand, dropout, init, shuffling)."""

from numbers import Integral

import numpy as np

_generator = None  # created on first use: importing numpy.random costs ~10 ms at start-up
_seed = None  # the seed _generator started from (initial_seed)

# While the training loop runs this process's share of a global batch (data-parallel training over
# MPI): (its rows of the batch as a slice rank::world, the global batch size, how many rows that
# is). None otherwise, and that is also a share of all rows.
_share = None


def manual_seed(seed: int) -> "np.random.Generator":
    """Seed chainrule's generator so that every random op repeats exactly.

    >>> import chainrule
    >>> _ = chainrule.manual_seed(0); a = chainrule.randn(3)
    >>> _ = chainrule.manual_seed(0); bool((chainrule.randn(3)._data == a._data).all())
    True
    """
    global _generator, _seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    _seed = int(seed)
    return _generator


def seed() -> int:
    """Seed the generator from the operating system's entropy and return that seed (a 63-bit
    integer, so that ``manual_seed(seed())`` repeats the draws that follow)."""
    fresh = int(np.random.SeedSequence().entropy) % 2**63
    manual_seed(fresh)
    return fresh


def initial_seed() -> int:
    """The seed the generator started from: the last ``manual_seed`` (or ``seed``), else the
    one drawn from the operating system at the first random op."""
    get_generator()
    return _seed


def get_generator() -> "np.random.Generator":
    """The generator random ops draw from (replaced by each `manual_seed`)."""
    if _generator is None:
        seed()
    return _generator


def get_rng_state() -> dict:
    """The generator's state, a JSON-serialisable dict (for checkpoints)."""
    return get_generator().bit_generator.state


# The fields of a PCG64 state (NumPy's default bit generator) and of the state around it, with bounds
_PCG64_FIELDS = {"state": (2**128, "2**128"), "inc": (2**128, "2**128")}
_STATE_FIELDS = {"has_uint32": (2, "2"), "uinteger": (2**32, "2**32")}


def _shown(value) -> str:
    if isinstance(value, Integral) and not isinstance(value, bool) and abs(value) > 10**40:
        return f"an int of {int(abs(value).bit_length() * 0.30103) + 1} digits"  # repr fails past 4300
    text = repr(value)
    return text if len(text) <= 60 else f"{type(value).__name__} {text[:40]}..."


def _check_fields(where, value, fields):
    if not isinstance(value, dict):
        raise ValueError(f"set_rng_state: {where} must be a dict, got {type(value).__name__}")
    missing = [k for k in fields if k not in value]
    if missing:
        raise ValueError(f"set_rng_state: {where} lacks {missing} (it holds {sorted(map(str, value))})")
    for key, (bound, label) in fields.items():
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, Integral) or not 0 <= number < bound:
            raise ValueError(
                f"set_rng_state: {where}[{key!r}] must be an integer in [0, {label}), got {_shown(number)}"
            )


def set_rng_state(state: dict) -> None:
    """Restore a state returned by `get_rng_state`; anything else is a ValueError naming the field
    (``check_rng_state``), and the generator is left as it was.

    >>> set_rng_state({"bit_generator": "PCG64", "state": {"state": 1}})
    Traceback (most recent call last):
    ...
    ValueError: set_rng_state: state['state'] lacks ['inc'] (it holds ['state'])
    """
    get_generator().bit_generator.state = check_rng_state(state)


def check_rng_state(state) -> dict:
    """``state`` as the plain generator state ``set_rng_state`` restores, after checking every
    field (type, presence, range); a ValueError naming the field otherwise."""
    if not isinstance(state, dict):
        raise ValueError(
            f"set_rng_state: expected the dict get_rng_state() returns "
            f"({{'bit_generator': 'PCG64', 'state': {{...}}, ...}}), got {type(state).__name__}"
        )
    name = get_generator().bit_generator.state["bit_generator"]
    if state.get("bit_generator") != name:
        raise ValueError(
            f"set_rng_state: state['bit_generator'] must be {name!r}, got {_shown(state.get('bit_generator'))}"
        )
    _check_fields("state['state']", state.get("state"), _PCG64_FIELDS)
    _check_fields("state", state, _STATE_FIELDS)
    unknown = sorted(map(str, set(state) - {"bit_generator", "state", *_STATE_FIELDS}))
    if unknown:
        raise ValueError(f"set_rng_state: unknown fields {unknown}")
    return {
        "bit_generator": name, "state": {k: int(state["state"][k]) for k in _PCG64_FIELDS},
        **{k: int(state[k]) for k in _STATE_FIELDS},
    }


# -- random ops in the forward pass under data parallelism ---------------------------------------
def set_batch_share(rows: slice | None, size: int = 0) -> None:
    """Tell the random ops of the forward pass that this process holds ``rows`` (a slice
    ``rank::world``) of a global batch of ``size`` samples; None when it holds the whole batch
    (one process, and outside training). The training loop sets it around every batch."""
    global _share
    if rows is not None and (not isinstance(rows, slice) or isinstance(size, bool) or not isinstance(size, int)
                             or size < 0):
        raise ValueError(f"set_batch_share: expected a slice of rows and a size >= 0, got {rows!r} and {size!r}")
    _share = None if rows is None else (rows, size, len(range(size)[rows]))


def batch_random(shape: tuple, dtype=np.float64) -> np.ndarray:
    """Uniform numbers in [0, 1) of ``shape`` for a random op of the forward pass whose first axis
    is the batch (dropout's mask). Drawn for the whole global batch and cut to this process's rows
    (``set_batch_share``), so that a sample gets the numbers it gets in one process whatever the
    number of ranks, and every rank's generator moves on alike. Outside a share (one process):
    ``get_generator().random(shape)``, the same numbers.

    When the first axis is not this rank's rows (a sequence-first input), each rank draws its
    own numbers: then N ranks match one process in distribution only.

    >>> _ = manual_seed(0); whole = batch_random((5, 2))
    >>> _ = manual_seed(0); set_batch_share(slice(1, None, 2), 5); mine = batch_random((2, 2))
    >>> set_batch_share(None); bool((mine == whole[1::2]).all())
    True
    """
    generator = get_generator()
    share = _share
    if share is None or not shape:
        return generator.random(shape, dtype=dtype)
    rows, size, count = share
    if shape[0] == count:
        return generator.random((size, *shape[1:]), dtype=dtype)[rows]
    # Not the batch axis: numbers of this rank's own (drawn for every rank, rank's part kept).
    return generator.random((rows.step, *shape), dtype=dtype)[rows.start]


# -- generators of one's own (PyTorch's ``generator=`` arguments) ------------------------------
class Generator:
    """PyTorch's ``torch.Generator``: a stream of random numbers of its own, for the functions that
    take ``generator=`` (DataLoader, the samplers, random_split), so that one order repeats
    whatever else draws from chainrule's generator. Seeded by ``manual_seed`` (which returns
    the generator, as PyTorch's); the same seed gives other numbers than PyTorch's.

    >>> from chainrule.utils.data import random_split
    >>> a = random_split(range(6), [3, 3], generator=Generator().manual_seed(42))[0].indices
    >>> b = random_split(range(6), [3, 3], generator=Generator().manual_seed(42))[0].indices
    >>> a.tolist() == b.tolist()
    True
    """

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise RuntimeError(f"Generator: device {str(device)!r} is not available; chainrule runs on the CPU")
        self.device = device
        self.seed()

    def manual_seed(self, seed: int) -> "Generator":
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"Generator.manual_seed: expected a non-negative integer, got {seed!r}")
        self._seed = int(seed)
        self._numpy = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy; returns the seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy) % 2**63)
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """The state, a JSON-serialisable dict (as ``get_rng_state``'s)."""
        return self._numpy.bit_generator.state

    def set_state(self, state: dict) -> "Generator":
        self._numpy.bit_generator.state = check_rng_state(state)
        return self


def check_generator(generator, where: str):
    """A ``generator=`` argument checked (None, a chainrule Generator or a numpy Generator), or a
    TypeError naming ``where``."""
    if generator is not None and not isinstance(generator, (Generator, np.random.Generator)):
        raise TypeError(
            f"{where}: generator must be a numpy.random.Generator, a chainrule.Generator or None, "
            f"got {type(generator).__name__}"
        )
    return generator


def drawing_from(generator) -> "np.random.Generator":
    """The NumPy generator a ``generator=`` argument draws from: chainrule's seeded one for None."""
    if generator is None:
        return get_generator()
    return generator._numpy if isinstance(generator, Generator) else generator
