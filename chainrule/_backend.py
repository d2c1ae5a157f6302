"""The array module every op computes with (NumPy now; a NumPy-compatible one such as CuPy later)
and the default floating dtype."""

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
