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


def _placed(op, device, layout=None, pin_memory=False):
    """Check the placement arguments every creation function takes, as PyTorch's: the device
    (only the CPU holds tensors here), the layout (dense, 'strided', the only one) and
    pin_memory (accepted: pinning only speeds up copies to a GPU)."""
    _backend.as_device(device, op)
    if layout is not None and str(layout) not in ("strided", "torch.strided"):
        raise ValueError(f"{op}: layout must be strided (dense tensors; chainrule has no sparse ones), got {layout!r}")


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


def tensor(data, requires_grad: bool = False, dtype=None, *, device=None, pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (Python floats become float32 by default).

    >>> tensor([1.0, 2.0], requires_grad=True)
    tensor([1., 2.], requires_grad=True)
    """
    _placed("tensor", device, pin_memory=pin_memory)
    return _leaf(_as_array(data, dtype, copy=True), requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing its memory when it already is a tensor or an array of
    ``dtype`` (then the tensor itself comes back); a converted copy otherwise.

    >>> import numpy as np
    >>> a = np.zeros(2); as_tensor(a)._data is a
    True
    """
    _placed("as_tensor", device)
    if isinstance(data, Tensor) and (dtype is None or as_dtype(dtype, "as_tensor") == data._data.dtype):
        return data
    if isinstance(data, Tensor):
        return data.to(dtype)
    return _leaf(_as_array(data, dtype), False)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    return _leaf(_as_array(array), False)


def zeros(*size, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False) -> Tensor:
    """A tensor of ``size`` (ints, or one tuple or list of them) filled with zeros."""
    _placed("zeros", device, layout, pin_memory)
    return _leaf(xp.zeros(_size(size, "zeros"), dtype=_float_dtype(dtype, "zeros")), requires_grad)


def ones(*size, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False) -> Tensor:
    """A tensor of ``size`` (ints, or one tuple or list of them) filled with ones."""
    _placed("ones", device, layout, pin_memory)
    return _leaf(xp.ones(_size(size, "ones"), dtype=_float_dtype(dtype, "ones")), requires_grad)


def empty(*size, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False) -> Tensor:
    """Uninitialised memory: fill it before reading."""
    _placed("empty", device, layout, pin_memory)
    return _leaf(xp.empty(_size(size, "empty"), dtype=_float_dtype(dtype, "empty")), requires_grad)


def full(size, fill_value, dtype=None, layout=None, device=None, requires_grad: bool = False,
         pin_memory: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (its dtype follows the value, as PyTorch)."""
    _placed("full", device, layout, pin_memory)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if not isinstance(fill_value, (bool, int, float, np.bool_, np.integer, np.floating)):
        raise TypeError(f"full: fill_value must be a number, got {type(fill_value).__name__} {fill_value!r}")
    dtype = _as_array(fill_value).dtype if dtype is None else as_dtype(dtype, "full")
    return _leaf(xp.full(_size((size,), "full"), fill_value, dtype=dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from start (default 0) up to, not including, end: integers stay int64.

    The bounds and step are finite numbers, the step non-zero and pointing from start to end
    (PyTorch's checks; NumPy would return an empty array).
    """
    _placed("arange", device, layout)
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


def linspace(start: float, end: float, steps: int, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from start to end, both included."""
    _placed("linspace", device, layout)
    number_arg(start, "start", "linspace")
    number_arg(end, "end", "linspace")
    int_arg(steps, "steps", "linspace", minimum=0)
    return _leaf(xp.linspace(start, end, steps, dtype=_float_dtype(dtype, "linspace")), requires_grad)


def eye(n: int, m=None, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """An n x m (n x n) matrix with ones on the diagonal."""
    _placed("eye", device, layout)
    n = int_arg(n, "n", "eye", 0)
    m = n if m is None else int_arg(m, "m", "eye", 0)
    return _leaf(xp.eye(n, m, dtype=_float_dtype(dtype, "eye")), requires_grad)


def randn(*size, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False) -> Tensor:
    """Standard normal draws from the seeded generator (see ``manual_seed``)."""
    _placed("randn", device, layout, pin_memory)
    dtype = _random_dtype(dtype, "randn")
    data = random.get_generator().standard_normal(_size(size, "randn"), dtype=_drawn_dtype(dtype))
    return _leaf(xp.asarray(data.astype(dtype, copy=False)), requires_grad)


def rand(*size, dtype=None, layout=None, device=None, requires_grad: bool = False,
         pin_memory: bool = False) -> Tensor:
    """Uniform draws on [0, 1) from the seeded generator."""
    _placed("rand", device, layout, pin_memory)
    dtype = _random_dtype(dtype, "rand")
    data = random.get_generator().random(_size(size, "rand"), dtype=_drawn_dtype(dtype))
    return _leaf(xp.asarray(data.astype(dtype, copy=False)), requires_grad)


def _random_dtype(dtype, op):
    """The floating dtype of a random draw (the default one unless given)."""
    return _backend.get_default_dtype() if dtype is None else as_dtype(dtype, op, floating=True)


def _drawn_dtype(dtype):
    """NumPy's generator draws float32 or float64: half precision is drawn in float32, then cast."""
    return dtype if dtype == np.float64 else np.dtype(np.float32)


def randint(low: int, high=None, size=None, dtype=np.int64, layout=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Integers uniform on [low, high) from the seeded generator; ``randint(high, size)`` draws
    from [0, high), as PyTorch's does.

    >>> randint(10, (3,)).shape
    (3,)
    """
    _placed("randint", device, layout)
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
    return _leaf(xp.asarray(data), requires_grad)


def _like(op, fill):
    def like(t, dtype=None, layout=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
        _placed(f"{op}_like", device, layout)
        data = t._data if isinstance(t, Tensor) else _as_array(t)
        return fill(data.shape, data.dtype if dtype is None else dtype, requires_grad)

    like.__name__ = like.__qualname__ = f"{op}_like"
    like.__doc__ = f"As ``{op}`` with the shape and dtype of ``t``."
    return like


zeros_like = _like("zeros", lambda shape, dtype, rg: zeros(shape, dtype=dtype, requires_grad=rg))
ones_like = _like("ones", lambda shape, dtype, rg: ones(shape, dtype=dtype, requires_grad=rg))
empty_like = _like("empty", lambda shape, dtype, rg: empty(shape, dtype=dtype, requires_grad=rg))
randn_like = _like("randn", lambda shape, dtype, rg: randn(shape, dtype=dtype, requires_grad=rg))
rand_like = _like("rand", lambda shape, dtype, rg: rand(shape, dtype=dtype, requires_grad=rg))


def full_like(t, fill_value, dtype=None, layout=None, device=None, requires_grad: bool = False,
              memory_format=None) -> Tensor:
    _placed("full_like", device, layout)
    data = t._data if isinstance(t, Tensor) else _as_array(t)
    dtype = data.dtype if dtype is None else dtype
    return full(data.shape, fill_value, dtype=dtype, requires_grad=requires_grad)


def randint_like(t, low: int = 0, high=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
                 memory_format=None) -> Tensor:
    """As ``randint`` with the shape and dtype of ``t``: ``randint_like(t, high)`` or
    ``randint_like(t, low, high)``."""
    _placed("randint_like", device, layout)
    data = t._data if isinstance(t, Tensor) else _as_array(t)
    if high is None:
        low, high = 0, low
    low = int_arg(low, "low", "randint_like", None)
    high = int_arg(high, "high", "randint_like", None)
    if low >= high:
        raise ValueError(f"randint_like: random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dtype = data.dtype if dtype is None else as_dtype(dtype, "randint_like")
    drawn = random.get_generator().integers(low, high, data.shape)
    return _leaf(xp.asarray(drawn.astype(dtype)), requires_grad)


# -- draws shaped by their arguments: permutations, normal, Bernoulli and multinomial ------------
def randperm(n: int, dtype=np.int64, layout=None, device=None, requires_grad: bool = False,
             pin_memory: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1 from the seeded generator.

    >>> sorted(randperm(4).tolist())
    [0, 1, 2, 3]
    """
    _placed("randperm", device, layout, pin_memory)
    n = int_arg(n, "n", "randperm", 0)
    dtype = as_dtype(dtype, "randperm")
    return _leaf(xp.asarray(random.get_generator().permutation(n).astype(dtype)), requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, layout=None, device=None,
           requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Draws from N(mean, std**2): ``normal(mean, std, size)`` with numbers, or elementwise
    ``normal(mean_tensor, std_tensor)`` / ``normal(mean_tensor, std=1.0)`` / ``normal(mean, std_tensor)``
    (broadcast; the tensors' dtype). The result is cut from the graph, as PyTorch's.

    >>> normal(2.0, 0.5, size=(2, 3)).shape
    (2, 3)
    """
    _placed("normal", device, layout, pin_memory)
    if generator is not None:
        raise TypeError("normal: generator is not supported; every draw comes from the seeded generator (manual_seed)")
    tensors = [a._data for a in (mean, std) if isinstance(a, Tensor)]
    if tensors:
        if size is not None:
            raise TypeError("normal: size is given by the shape of mean and std when either is a tensor")
        mean_a, std_a = (a._data if isinstance(a, Tensor) else number_arg(a, name, "normal")
                         for a, name in ((mean, "mean"), (std, "std")))
        kinds = {a.dtype.kind for a in tensors}
        if kinds != {"f"}:
            raise TypeError(f"normal: mean and std tensors must be floating, got {[str(a.dtype) for a in tensors]}")
        shape = np.broadcast_shapes(*(np.shape(a) for a in (mean_a, std_a)))
        dtype = np.result_type(*tensors) if dtype is None else _random_dtype(dtype, "normal")
    else:
        mean_a, std_a = number_arg(mean, "mean", "normal"), number_arg(std, "std", "normal")
        if size is None:
            raise TypeError("normal: with numbers for mean and std, give the size (normal(mean, std, size=(2, 3)))")
        shape, dtype = _size((size,), "normal"), _random_dtype(dtype, "normal")
    if (np.asarray(std_a) < 0).any():
        raise ValueError(f"normal: std must be >= 0, got {np.min(std_a)}")
    noise = random.get_generator().standard_normal(shape, dtype=_drawn_dtype(dtype))
    return _leaf(xp.asarray((mean_a + std_a * noise).astype(dtype, copy=False)), requires_grad)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """Ones with probability ``input`` (each element in [0, 1]), zeros otherwise, in input's
    dtype; ``bernoulli(input, p)`` uses the one probability p for every element."""
    if generator is not None:
        raise TypeError("bernoulli: generator is not supported; every draw comes from the seeded generator")
    probs = input._data if isinstance(input, Tensor) else _as_array(input)
    if p is not None:
        probs = np.full(probs.shape, number_arg(p, "p", "bernoulli", 0.0, 1.0))
    elif probs.dtype.kind != "f":
        raise TypeError(f"bernoulli: input must hold floating probabilities, got dtype {probs.dtype}")
    elif probs.size and not ((probs >= 0) & (probs <= 1)).all():
        raise ValueError(f"bernoulli: expected every probability in [0, 1], got values in "
                         f"[{np.nanmin(probs)}, {np.nanmax(probs)}]")
    dtype = input._data.dtype if isinstance(input, Tensor) else probs.dtype
    draws = random.get_generator().random(probs.shape) < probs
    return _leaf(xp.asarray(draws.astype(dtype)), False)


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Indices drawn from the categories of each row of ``input`` (non-negative weights, not
    necessarily summing to one): int64 of shape (num_samples,) or (rows, num_samples). Without
    replacement each category is drawn at most once.

    >>> multinomial(tensor([0.0, 1.0, 0.0]), 2, replacement=True).tolist()
    [1, 1]
    """
    if generator is not None:
        raise TypeError("multinomial: generator is not supported; every draw comes from the seeded generator")
    weights = input._data if isinstance(input, Tensor) else _as_array(input)
    if weights.ndim not in (1, 2) or weights.shape[-1] == 0:
        raise ValueError(f"multinomial: input must be 1-D or 2-D with at least one category, got shape {weights.shape}")
    if weights.dtype.kind != "f":
        raise TypeError(f"multinomial: input must hold floating weights, got dtype {weights.dtype}")
    n = int_arg(num_samples, "num_samples", "multinomial", 1)
    rows = np.atleast_2d(weights).astype(np.float64)
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise ValueError("multinomial: weights must be finite and non-negative")
    if (rows.sum(axis=1) <= 0).any():
        raise ValueError("multinomial: every row of weights must have a positive sum")
    if not replacement and n > rows.shape[1]:
        raise ValueError(f"multinomial: cannot draw {n} samples without replacement from {rows.shape[1]} categories")
    generator = random.get_generator()
    if replacement:  # inverse CDF: each uniform draw lands in one category's share of the total
        cdf = np.cumsum(rows, axis=1)
        u = generator.random((rows.shape[0], n)) * cdf[:, -1:]
        out = np.stack([np.minimum(np.searchsorted(c, v, side="right"), rows.shape[1] - 1) for c, v in zip(cdf, u)])
    else:  # the n smallest of E_i / w_i (E_i exponential) are a draw without replacement by weight
        with np.errstate(divide="ignore"):
            keys = generator.standard_exponential(rows.shape) / rows
        out = np.argsort(keys, axis=1, kind="stable")[:, :n]
    out = out.astype(np.int64)
    return _leaf(xp.asarray(out if weights.ndim == 2 else out[0]), False)
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
