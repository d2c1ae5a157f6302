"""How op and layer arguments are checked and become tensors and axes: scalar and array operands,
dtype promotion, dims and tensor inputs (integer and number arguments: chainrule._arguments)."""


import numpy as np

from chainrule import _backend
from chainrule._backend import scalar_like, xp
from chainrule._tensor import Tensor

_SCALARS = (int, float, bool, np.number, np.bool_)
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's promote_types: within a category the wider dtype, across categories the higher
    category's dtype (int64 with float32 is float32, where NumPy widens it to float64)."""
    if a == b:
        return a
    ka, kb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ka != kb:
        return a if ka > kb else b
    return np.promote_types(a, b)


def _combine(higher, lower):
    """PyTorch's rule between operand groups: a lower-priority group (0-d tensors below tensors
    with dims, Python numbers below both) only counts when its category is higher."""
    if higher is None or lower is None:
        return lower if higher is None else higher
    if higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return promote_types(higher, lower)
    return higher


def _scalar_dtype(value) -> np.dtype:
    """A number's dtype as an operand: bool, int64, or the default floating dtype (NumPy scalars
    count as numbers, as in PyTorch: float32_tensor * np.float64(2) stays float32)."""
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(value, (int, np.integer)):
        return np.dtype(np.int64)
    if isinstance(value, (float, np.floating)):
        return _backend.get_default_dtype()
    raise TypeError(f"unsupported number of type {type(value).__name__}")


def result_type(*operands) -> np.dtype:
    """The dtype PyTorch gives an elementwise op of these operands (tensors, arrays, numbers):
    tensors with dims decide, unless a 0-d tensor or a number belongs to a higher category
    (bool < integer < floating): float32 * 2.5 and float32 * float64_0d stay float32, int64 * 2.5
    and int64 / 2 give the default floating dtype, int32 * int64_0d stays int32."""
    dim = zero = number = None
    for x in operands:
        if isinstance(x, _SCALARS):
            number = _combine_same(number, _scalar_dtype(x))
            continue
        array = x._data if isinstance(x, Tensor) else _as_array_operand(x)
        if array.ndim:
            dim = _combine_same(dim, array.dtype)
        else:
            zero = _combine_same(zero, array.dtype)
    return _combine(dim, _combine(zero, number))


def _combine_same(a, b):
    return b if a is None else promote_types(a, b)


def constant(value, like=None) -> Tensor:
    """A non-differentiable operand: a number or array beside the tensor ``like``, in the dtype
    ``result_type`` gives the pair (``float32_tensor * 2.0`` stays float32); without ``like``, a
    Python float becomes the default floating dtype."""
    if isinstance(value, Tensor):
        return value
    if like is None:
        array = _as_array_operand(value)
        if isinstance(value, float) and array.dtype == np.float64:
            array = array.astype(_backend.get_default_dtype())
        return Tensor._make(array, False, None)
    return operand(value, result_type(value, like))


def _as_array_operand(value):
    """An array operand's data; Python lists of floats take the default floating dtype, as
    ``chainrule.tensor`` gives them (a NumPy array keeps its own dtype)."""
    try:
        array = xp.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"expected a tensor, number or array operand, got {type(value).__name__}: {err}"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"unsupported operand of type {type(value).__name__} with dtype {array.dtype}")
    if isinstance(value, (list, tuple)) and array.dtype == np.float64:
        array = array.astype(_backend.get_default_dtype())
    return array


def operand(x, dtype) -> Tensor:
    """x as a tensor of ``dtype``; a floating tensor that requires grad is cast in the graph."""
    if isinstance(x, Tensor):
        if x._data.dtype == dtype:
            return x
        if x.requires_grad:
            from chainrule.ops.shape import cast  # (shape imports this module)

            return cast(x, dtype)
        return Tensor._make(x._data.astype(dtype), False, None)
    if isinstance(x, _SCALARS):
        return Tensor._make(xp.asarray(x, dtype=dtype), False, None)
    return Tensor._make(_as_array_operand(x).astype(dtype, copy=False), False, None)


def floating(x, op: str) -> Tensor:
    """``x`` itself if it is a floating tensor; otherwise a TypeError naming the op."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor, got dtype {x._data.dtype}")
    return x


def pair(a, b) -> tuple:
    """Two operands of an elementwise op as tensors of their ``result_type`` (PyTorch's type
    promotion), so that NumPy computes in that dtype. The common cases cost one test each."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype == b._data.dtype:
                return a, b
        elif type(b) is float or type(b) is int:  # bool and NumPy numbers go the long way
            if a._data.dtype.kind == "f":
                return a, Tensor._make(scalar_like(b, a._data), False, None)
    elif (type(a) is float or type(a) is int) and isinstance(b, Tensor) and b._data.dtype.kind == "f":
        return Tensor._make(scalar_like(a, b._data), False, None), b
    dtype = result_type(a, b)
    return operand(a, dtype), operand(b, dtype)


def same_dtype(op: str, *tensors) -> None:
    """Refuse operands of different dtypes where PyTorch does (matrix products, linear layers,
    convolutions): promoting would silently compute a float32 layer in float64. None is skipped."""
    dtype = tensors[0]._data.dtype
    for t in tensors:
        if t is not None and t._data.dtype != dtype:
            names = " and ".join(str(u._data.dtype) for u in tensors if u is not None)
            raise RuntimeError(
                f"{op}: expected operands of one dtype, but got {names}; convert the input with .to(dtype) "
                "(or the module with .to(dtype))"
            )


def tensor_input(x, owner: str) -> Tensor:
    """``x`` itself if it is a Tensor; otherwise a TypeError naming the layer or function."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{owner}: expected a Tensor input, got {type(x).__name__} (convert it with chainrule.tensor(...))"
        )
    return x


def dims(dim, ndim: int, op: str) -> tuple:
    """Normalise ``dim`` (None, an int or a sequence, negatives allowed) to sorted positive axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        items = (dim,)
    elif isinstance(dim, (tuple, list)):
        items = tuple(dim)
    else:
        raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {type(dim).__name__} {dim!r}")
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
