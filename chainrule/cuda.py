"""chainrule.cuda: PyTorch's CUDA queries, answered for a library that runs on the CPU (NumPy):
no CUDA device is available, and seeding one is a no-op, so that scripts written for either run."""

from chainrule._arguments import is_int


def is_available() -> bool:
    """False: chainrule computes with NumPy on the CPU.

    >>> is_available()
    False
    """
    return False


def device_count() -> int:
    """0: no CUDA device can be used."""
    return 0


def is_initialized() -> bool:
    return False


def _check_seed(seed, op):
    if not is_int(seed):
        raise TypeError(f"cuda.{op}: seed must be an integer, got {seed!r} ({type(seed).__name__})")


def manual_seed(seed: int) -> None:
    """Accepted and ignored (there is no CUDA generator); seed chainrule's with
    ``chainrule.manual_seed``, which scripts call as well."""
    _check_seed(seed, "manual_seed")


def manual_seed_all(seed: int) -> None:
    """Accepted and ignored, as ``manual_seed``."""
    _check_seed(seed, "manual_seed_all")


def empty_cache() -> None:
    """A no-op, as PyTorch's when CUDA was never initialised: there is no GPU memory to free."""
