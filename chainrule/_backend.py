"""The array module every op computes with (NumPy now; a NumPy-compatible one such as CuPy later)
and the default floating dtype."""

import os
import sys

import numpy

# Ops reach arrays only through `xp`, so swapping the array library is a change to this file alone.
xp = numpy

_default_dtype = numpy.dtype(numpy.float32)


def get_default_dtype() -> numpy.dtype:
    """The floating dtype given to tensors built from Python floats (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the default floating dtype: float32 or float64.

    >>> set_default_dtype("float64"); get_default_dtype()
    dtype('float64')
    >>> set_default_dtype("float32")
    """
    global _default_dtype
    dtype = numpy.dtype(dtype)
    if dtype not in (numpy.float32, numpy.float64):
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_dtype = dtype


_zeros_by_dtype = {}


def shared_zeros_like(a: numpy.ndarray):
    """Read-only zeros of a's shape, dtype and memory order (C or F; the scalar 0 for other
    layouts): a view of one buffer per dtype, grown to the largest size asked for. NumPy's
    maximum runs its vectorised loop only for two operands contiguous in the same order: against
    such zeros ReLU takes ~0.1 ms for 700k floats, against the scalar 0 ~0.26 ms
    (benchmarks/NOTES.md)."""
    zeros = _zeros_by_dtype.get(a.dtype)
    if zeros is None or zeros.size < a.size:
        zeros = numpy.zeros(a.size, a.dtype)
        zeros.flags.writeable = False
        _zeros_by_dtype[a.dtype] = zeros
    if a.flags.c_contiguous:
        return zeros[:a.size].reshape(a.shape)
    if a.flags.f_contiguous:
        return zeros[:a.size].reshape(a.shape[::-1]).T
    return a.dtype.type(0)


_scalars = {}


def scalar_like(value, a):
    """``value`` as a read-only 0-d array of a's dtype, made once per (value, dtype).

    An op on small arrays costs NumPy about twice the overhead with a Python or NumPy scalar
    operand that it costs with a 0-d array (~5k instructions against ~2.6k for ``b *= 0.9`` on 8
    floats, benchmarks/NOTES.md), and on a tiny network that overhead is the step. The values
    are the same: a Python scalar is cast to the array's dtype before the op (NEP 50).
    """
    key = (value, a.dtype)
    s = _scalars.get(key)
    if s is None:
        s = numpy.array(value, a.dtype)
        s.flags.writeable = False
        if len(_scalars) >= 4096:  # a learning-rate schedule brings a new value every step
            _scalars.clear()
        _scalars[key] = s
    return s


def _keep_freed_memory() -> bool:
    """Ask glibc to keep large freed blocks in the heap instead of unmapping them.

    A training step allocates and frees the same large arrays every time; by default glibc
    serves each with a fresh mmap whose pages the kernel must fault in and zero again, which cost
    a convolutional step about 40% of its time here (benchmarks/NOTES.md). Keeping freed memory,
    as PyTorch's caching allocator does, removes that. Set CHAINRULE_KEEP_FREED_MEMORY=0 to leave
    the allocator alone. Returns whether the settings were applied.
    """
    if os.environ.get("CHAINRULE_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 * 2**20)) and bool(mallopt(m_trim_threshold, 2**30))


allocator_tuned = _keep_freed_memory()
