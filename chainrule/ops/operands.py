"""How op arguments become tensors and axes: scalar and array operands, dtype promotion, dims."""

import numpy as np

from chainrule import _backend
from chainrule._backend import xp
from chainrule.tensor import Tensor

_SCALARS = (int, float, bool, np.number, np.bool_)


def constant(value, like=None) -> Tensor:
    """A non-differentiable operand: a Python scalar or array beside the tensor `like`.

    Python scalars take `like`'s dtype (PyTorch's rule: ``float32_tensor * 2.0`` stays float32);
    a float scalar next to an integer tensor takes the default floating dtype.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, _SCALARS) and not isinstance(value, np.generic):
        if like is None:
            array = xp.asarray(value)
            if array.dtype == np.float64:
                array = array.astype(_backend.get_default_dtype())
            return Tensor._make(array, False, None)
        kind = like.data.dtype.kind
        if kind == "f" or (isinstance(value, int) and kind in "iu") or (
            isinstance(value, bool) and kind == "b"
        ):
            dtype = like.data.dtype
        elif isinstance(value, float):
            dtype = _backend.get_default_dtype()
        else:
            dtype = np.int64
        return Tensor._make(xp.asarray(value, dtype=dtype), False, None)
    return Tensor._make(_as_array_operand(value), False, None)


def _as_array_operand(value):
    try:
        array = xp.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"expected a tensor, number or array operand, got {type(value).__name__}: {err}"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"unsupported operand of type {type(value).__name__} with dtype {array.dtype}")
    return array


def floating(x, op: str) -> Tensor:
    """``x`` itself if it is a floating tensor; otherwise a TypeError naming the op."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor, got dtype {x.data.dtype}")
    return x


def pair(a, b) -> tuple:
    """Two operands as tensors of a common kind: an integer tensor meeting a floating one is cast
    to that floating dtype (NumPy would widen int64 with float32 to float64)."""
    if not isinstance(a, Tensor):
        a = constant(a, b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = constant(b, a)
    da, db = a.data.dtype, b.data.dtype
    if da != db:
        if da.kind == "f" and db.kind != "f":
            b = Tensor._make(b.data.astype(da), False, None)
        elif db.kind == "f" and da.kind != "f":
            a = Tensor._make(a.data.astype(db), False, None)
    return a, b


def dims(dim, ndim: int, op: str) -> tuple:
    """Normalise ``dim`` (None, an int or a sequence, negatives allowed) to sorted positive axes."""
    if dim is None:
        return tuple(range(ndim))
    items = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in items:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dim!r}")
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(int(d) % max(ndim, 1) if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dim {dim!r} repeats an axis")
    return tuple(sorted(out)) if ndim else ()


def dim_arg(dim, axis):
    """Accept PyTorch's ``dim`` or NumPy's ``axis`` spelling (one of them)."""
    if axis is not None:
        if dim is not None:
            raise TypeError("pass dim or axis, not both")
        return axis
    return dim


def wrap(data) -> Tensor:
    """A result that carries no graph."""
    return Tensor._make(data, False, None)
