"""Checks of what the training loop is given, made once at its public entry points: data that must
be numbers and finite, and fields read from files (integer, number and flag settings:
chainrule._arguments)."""

import numpy as np


def _where_not_finite(array: np.ndarray) -> str:
    """'NaN at row 17, column 3' for the first non-finite entry (row-major order)."""
    index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
    value = array[index]
    what = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    if len(index) == 1:
        return f"{what} at row {index[0]}"
    if len(index) == 2:
        return f"{what} at row {index[0]}, column {index[1]}"
    return f"{what} at row {index[0]}, position {index[1:]}"


def check_data(where: str, what: str, array: np.ndarray) -> np.ndarray:
    """``array`` when it holds numbers and every one is finite, else TypeError (text, objects) or
    ValueError (NaN or infinity, with its row and column). One pass of ``np.isfinite``."""
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: the {what} have dtype {array.dtype}; expected numbers (bool, integer or float)")
    if array.ndim == 0:
        raise ValueError(f"{where}: the {what} are a single value; expected an array with one entry per sample")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(
            f"{where}: the {what} hold {_where_not_finite(array)}; non-finite data cannot be trained on or "
            "evaluated: drop or impute those entries first"
        )
    return array


def field(where: str, record, key: str, valid, expected: str):
    """``record[key]`` when ``record`` is a dict holding ``key`` and ``valid(value)`` holds, else
    ValueError "where: the field 'key' must be expected, got ..." (for state read from a file)."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a dict, got {type(record).__name__}")
    if key not in record:
        raise ValueError(f"{where}: the field {key!r} is missing")
    value = record[key]
    if not valid(value):
        shown = repr(value) if len(repr(value)) <= 80 else f"a {type(value).__name__}"
        raise ValueError(f"{where}: the field {key!r} must be {expected}, got {shown}")
    return value
