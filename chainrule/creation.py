"""Functions that make new tensors: from data, filled with a constant, ranges, and random draws
from chainrule's seeded generator."""

import numpy as np

from chainrule import _backend, random
from chainrule._arguments import int_arg, number_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor, _as_array, _check_requires_grad, as_dtype


def _leaf(array, requires_grad):
    _check_requires_grad(array, requires_grad)
    return Tensor._make(array, bool(requires_grad), None)


def _size(size, op):
    """Sizes given as ints or one sequence of ints, each a non-negative integer."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    for n in size:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{op}: size must be non-negative integers, got {type(n).__name__} {n!r} in {tuple(size)}")
        if n < 0:
            raise ValueError(f"{op}: size must be non-negative integers, got {tuple(size)}")
    return tuple(int(n) for n in size)


def _float_dtype(dtype, op):
    return _backend.get_default_dtype() if dtype is None else as_dtype(dtype, op)


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """A new tensor holding a copy of ``data`` (Python floats become float32 by default).

    >>> tensor([1.0, 2.0], requires_grad=True)
    tensor([1., 2.], requires_grad=True)
    """
    return _leaf(_as_array(data, dtype, copy=True), requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    return _leaf(_as_array(array), False)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(xp.zeros(_size(size, "zeros"), dtype=_float_dtype(dtype, "zeros")), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(xp.ones(_size(size, "ones"), dtype=_float_dtype(dtype, "ones")), requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uninitialised memory: fill it before reading."""
    return _leaf(xp.empty(_size(size, "empty"), dtype=_float_dtype(dtype, "empty")), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (its dtype follows the value, as PyTorch)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if not isinstance(fill_value, (bool, int, float, np.bool_, np.integer, np.floating)):
        raise TypeError(f"full: fill_value must be a number, got {type(fill_value).__name__} {fill_value!r}")
    dtype = _as_array(fill_value).dtype if dtype is None else as_dtype(dtype, "full")
    return _leaf(xp.full(_size((size,), "full"), fill_value, dtype=dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Values from start (default 0) up to, not including, end: integers stay int64.

    The bounds and step are finite numbers, the step non-zero and pointing from start to end
    (PyTorch's checks; NumPy would return an empty array).
    """
    if end is None:
        start, end = 0, start
    for name, value in (("start", start), ("end", end), ("step", step)):
        number_arg(value, name, "arange")
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: the step {step} does not lead from start={start} to end={end}")
    data = xp.arange(start, end, step, dtype=None if dtype is None else as_dtype(dtype, "arange"))
    if dtype is None and data.dtype == np.float64:
        data = data.astype(_backend.get_default_dtype())
    return _leaf(data, requires_grad)


def linspace(start: float, end: float, steps: int, dtype=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from start to end, both included."""
    number_arg(start, "start", "linspace")
    number_arg(end, "end", "linspace")
    int_arg(steps, "steps", "linspace", minimum=0)
    return _leaf(xp.linspace(start, end, steps, dtype=_float_dtype(dtype, "linspace")), requires_grad)


def eye(n: int, m=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """An n x m (n x n) matrix with ones on the diagonal."""
    n = int_arg(n, "n", "eye", 0)
    m = n if m is None else int_arg(m, "m", "eye", 0)
    return _leaf(xp.eye(n, m, dtype=_float_dtype(dtype, "eye")), requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal draws from the seeded generator (see ``manual_seed``)."""
    dtype = _random_dtype(dtype, "randn")
    data = random.get_generator().standard_normal(_size(size, "randn"), dtype=dtype)
    return _leaf(xp.asarray(data), requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform draws on [0, 1) from the seeded generator."""
    dtype = _random_dtype(dtype, "rand")
    data = random.get_generator().random(_size(size, "rand"), dtype=dtype)
    return _leaf(xp.asarray(data), requires_grad)


def _random_dtype(dtype, op):
    """float32 or float64: the dtypes NumPy's generator draws in."""
    dtype = _backend.get_default_dtype() if dtype is None else as_dtype(dtype, op, floating=True)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: dtype must be float32 or float64, got {dtype}")
    return dtype


def randint(low: int, high=None, size=None, dtype=np.int64) -> Tensor:
    """Integers uniform on [low, high) from the seeded generator; ``randint(high, size)`` draws
    from [0, high), as PyTorch's does.

    >>> randint(10, (3,)).shape
    (3,)
    """
    if size is None:
        if not isinstance(high, (tuple, list)):
            raise TypeError("randint: expected randint(low, high, size) or randint(high, size), but no size was given")
        low, high, size = 0, low, high
    low = int_arg(low, "low", "randint", None)
    high = int_arg(high, "high", "randint", None)
    if low >= high:
        raise ValueError(f"randint: random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dtype = as_dtype(dtype, "randint")
    if dtype.kind not in "iu":
        raise TypeError(f"randint: dtype must be an integer dtype, got {dtype}")
    data = random.get_generator().integers(low, high, _size((size,), "randint"), dtype=dtype)
    return _leaf(xp.asarray(data), False)


def _like(op, fill):
    def like(t, dtype=None, requires_grad: bool = False) -> Tensor:
        data = t._data if isinstance(t, Tensor) else _as_array(t)
        return fill(data.shape, data.dtype if dtype is None else dtype, requires_grad)

    like.__name__ = like.__qualname__ = f"{op}_like"
    like.__doc__ = f"As ``{op}`` with the shape and dtype of ``t``."
    return like


zeros_like = _like("zeros", lambda shape, dtype, rg: zeros(shape, dtype=dtype, requires_grad=rg))
ones_like = _like("ones", lambda shape, dtype, rg: ones(shape, dtype=dtype, requires_grad=rg))
randn_like = _like("randn", lambda shape, dtype, rg: randn(shape, dtype=dtype, requires_grad=rg))
rand_like = _like("rand", lambda shape, dtype, rg: rand(shape, dtype=dtype, requires_grad=rg))


def full_like(t, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    data = t._data if isinstance(t, Tensor) else _as_array(t)
    dtype = data.dtype if dtype is None else dtype
    return full(data.shape, fill_value, dtype=dtype, requires_grad=requires_grad)


# The Tensor.new_* methods: new tensors with self's dtype unless one is given (not its shape).


def new_tensor(self, data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A copy of ``data`` (detached, if a tensor) in self's dtype unless ``dtype`` is given."""
    data = data._data if isinstance(data, Tensor) else data
    return _leaf(_as_array(data, self._data.dtype if dtype is None else dtype, copy=True), requires_grad)


def new_zeros(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``size`` in self's dtype unless ``dtype`` is given."""
    return zeros(*size, dtype=self._data.dtype if dtype is None else dtype, requires_grad=requires_grad)


def new_ones(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones of ``size`` in self's dtype unless ``dtype`` is given."""
    return ones(*size, dtype=self._data.dtype if dtype is None else dtype, requires_grad=requires_grad)


def new_empty(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uninitialised memory of ``size`` in self's dtype unless ``dtype`` is given."""
    return empty(*size, dtype=self._data.dtype if dtype is None else dtype, requires_grad=requires_grad)


def new_full(self, size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """``size`` filled with ``fill_value``, in self's dtype unless ``dtype`` is given."""
    return full(size, fill_value, dtype=self._data.dtype if dtype is None else dtype, requires_grad=requires_grad)
