"""Tensor: an n-dimensional array that remembers how it was computed, so that backward can send
gradients to everything it came from. Its operators and math methods are the functions of
chainrule.ops, attached there."""

import numpy as np

from chainrule import _backend
from chainrule._backend import xp


class _Size(int):
    """``tensor.size``: the element count as NumPy's attribute, and ``size()``/``size(dim)`` as
    PyTorch's method, so that habits from either library work."""

    def __new__(cls, shape):
        obj = super().__new__(cls, int(np.prod(shape, dtype=np.int64)))
        obj._shape = shape
        return obj

    def __call__(self, dim=None):
        return self._shape if dim is None else self._shape[dim]


def as_dtype(dtype, op: str = "tensor", floating: bool = False) -> np.dtype:
    """``dtype`` (a NumPy dtype, its name such as "float32", or a type) as a NumPy dtype of bool,
    integer or floating numbers (only floating with ``floating``), or a TypeError naming ``op``."""
    try:
        parsed = np.dtype(dtype)
    except TypeError:
        parsed = None
    if parsed is None or parsed.kind not in ("f" if floating else "biuf"):
        expected = "a floating dtype (float32 or float64)" if floating else "a dtype such as float32, int64 or bool"
        raise TypeError(f"{op}: dtype must be {expected}, got {dtype!r}")
    return parsed


def _as_array(data, dtype=None, copy=False):
    """The array behind `data`, with the documented dtype defaults (Python floats -> float32)."""
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        dtype = as_dtype(dtype)
    try:
        if isinstance(data, (xp.ndarray, np.generic)):
            array = xp.array(data, dtype=dtype, copy=copy or None)
        else:
            array = xp.array(data, dtype=dtype)
            if dtype is None and array.dtype == np.float64:
                array = array.astype(_backend.get_default_dtype(), copy=False)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"tensor: cannot make a tensor from {type(data).__name__} ({err}); "
            "expected a number, a (nested) list of numbers or an array"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"tensor: cannot make a tensor from {type(data).__name__} of dtype {array.dtype}; "
            "expected bool, integer or floating numbers"
        )
    return array


def _check_requires_grad(array, requires_grad):
    if requires_grad and array.dtype.kind != "f":
        raise TypeError(
            f"requires_grad=True needs a floating dtype, but this tensor is {array.dtype}: "
            "only floating tensors have gradients (pass dtype=chainrule.float32)"
        )


def _constructor_array(args: tuple, dtype, op: str):
    """The array of PyTorch's ``Tensor(*sizes)``/``Tensor(data)`` forms (and of the legacy
    ``FloatTensor(...)``-style types): ints are sizes (zero-filled; PyTorch leaves the memory
    uninitialised), nothing is an empty tensor, one sequence, array or tensor is data converted to
    ``dtype`` (default: the default floating dtype; a tensor keeps its own and shares memory)."""
    target = _backend.get_default_dtype() if dtype is None else as_dtype(dtype, op)
    if all(isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)) for n in args):
        if any(n < 0 for n in args):
            raise ValueError(f"{op}: sizes must be non-negative, got {tuple(int(n) for n in args)}")
        return xp.zeros(tuple(int(n) for n in args) if args else (0,), target)
    if len(args) != 1:
        raise TypeError(
            f"{op}: expected sizes (ints) or one sequence of data, got {len(args)} arguments "
            f"({', '.join(type(a).__name__ for a in args)})"
        )
    data = args[0]
    if isinstance(data, Tensor):
        return data._data if dtype is None else data._data.astype(target, copy=False)
    if not isinstance(data, xp.ndarray) and not hasattr(data, "__len__"):
        raise TypeError(
            f"{op}: data must be a sequence (got {type(data).__name__}); "
            "make a 0-d tensor with chainrule.tensor(value)"
        )
    return _as_array(data, target)


class Tensor:
    """An array with an optional gradient and a link to the op that produced it.

    Attributes: ``data`` (this tensor's values as a tensor cut from the graph, sharing memory),
    ``grad`` (a Tensor or None, filled by backward), ``requires_grad``, ``grad_fn`` (the recorded
    node, None for leaves). Library code reaches the ndarray itself as ``_data``; users call
    ``numpy()``.

    >>> import chainrule
    >>> x = chainrule.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]])
    """

    # _version: None until an in-place op or a view needs it, then a list shared by the tensor,
    # its detach()es and its views, so that modifying any of them is seen by a node that saved
    # one (PyTorch's version counter): [modifications so far, state.inplace_ops at the last one
    # (a node recorded before that stamp saved an older value), then the stamps of those
    # recorded in a graph (they tell backward that a view's own node went stale)].
    __slots__ = ("__weakref__", "_data", "_grad", "_hooks", "_retains_grad", "_version", "grad_fn",
                 "requires_grad")
    # NumPy defers its operators to ours: ndarray + Tensor calls Tensor.__radd__.
    __array_ufunc__ = None

    def __init__(self, *data, requires_grad: bool = False, dtype=None, device=None):
        # PyTorch's legacy constructor: Tensor(2, 3) is a zero-filled 2x3 float32 tensor and
        # Tensor([1, 2]) holds [1., 2.] in the default dtype; the library also passes dtype=.
        _backend.as_device(device, "Tensor")
        array = _constructor_array(data, dtype, "Tensor")
        _check_requires_grad(array, requires_grad)
        self._data = array
        self._grad = None
        self.requires_grad = bool(requires_grad)
        self.grad_fn = None
        self._retains_grad = False
        self._hooks = None
        self._version = None

    @classmethod
    def _make(cls, data, requires_grad, grad_fn):
        """Wrap an array the library computed itself: no checks, no copy (the op hot path)."""
        t = object.__new__(cls)
        t._data = data
        t._grad = None
        t.requires_grad = requires_grad
        t.grad_fn = grad_fn
        t._retains_grad = False
        t._hooks = None
        t._version = None
        return t

    # -- data, grad and the version counter ---------------------------------------------------
    @property
    def data(self) -> "Tensor":
        """This tensor's values as a tensor cut from the graph, sharing memory (PyTorch's
        ``.data``: changes made through it are not seen by autograd; prefer ``detach()``)."""
        return Tensor._make(self._data, False, None)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self._data = value._data

    @property
    def grad(self):
        """The gradient backward accumulated here: a Tensor of this tensor's shape, or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"grad: assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}"
                )
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"grad: assigned grad has shape {value._data.shape}, expected the tensor's "
                    f"shape {self._data.shape}"
                )
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"grad: assigned grad has dtype {value._data.dtype}, expected the tensor's "
                    f"dtype {self._data.dtype}"
                )
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def _version_now(self) -> int:
        version = self._version
        return 0 if version is None else version[0]

    def _shared_version(self) -> list:
        """The version counter, made shareable (for a view or a detach of this tensor)."""
        if self._version is None:
            self._version = [0, 0]
        return self._version

    def _bump_version(self) -> None:
        """Count one in-place modification (nodes that saved this tensor check it at backward)."""
        _mode.inplace_ops += 1
        version = self._version
        if version is None:
            self._version = [1, _mode.inplace_ops]
        else:
            version[0] += 1
            version[1] = _mode.inplace_ops

    # -- array facts ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> _Size:
        """Element count (``t.size``); ``t.size()`` gives the shape and ``t.size(d)`` one dim."""
        return _Size(self._data.shape)

    def numel(self) -> int:
        return self._data.size

    def dim(self) -> int:
        return self._data.ndim

    nelement = numel
    ndimension = dim

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user created (and results computed without grad)."""
        return self.grad_fn is None

    # -- conversions ------------------------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors convert, this one has shape {self.shape}")
        return self._data.item()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The underlying array (shared, not copied; ``force`` changes nothing on the CPU)."""
        return self._data

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self._data, dtype=dtype)
        return np.asarray(self._data, dtype=dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()"
            )
        return bool(self._data)

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self._data)

    __hash__ = object.__hash__

    def detach(self) -> "Tensor":
        """A tensor sharing this data, cut from the graph (no gradient flows through it); it shares
        the version counter too, so modifying it in place is caught by a node that saved this."""
        t = Tensor._make(self._data, False, None)
        t._version = self._shared_version()
        return t

    def clone(self) -> "Tensor":
        """A copy of the data that stays in the graph (its gradient flows back to this tensor)."""
        from chainrule.ops.shape import clone

        return clone(self)

    def to(self, *args, **kwargs) -> "Tensor":
        """This tensor on a device and/or in a dtype, as PyTorch's forms: ``to(dtype)``,
        ``to(device)``, ``to(device, dtype)``, ``to(other)`` (other's device and dtype), each with
        ``non_blocking`` and ``copy`` (keywords, or positional after them). Returns self when
        nothing changes and ``copy`` is False; a dtype change is differentiable between floating
        dtypes. Only the CPU holds tensors here: another device is a RuntimeError.

        >>> import chainrule
        >>> x = chainrule.ones(2)
        >>> x.to("cpu") is x, x.to(chainrule.float64).dtype
        (True, dtype('float64'))
        """
        dtype, copy = _to_arguments(args, kwargs, "to")
        out = self if dtype is None else self._cast(dtype)
        return out.clone() if copy and out is self else out

    def _cast(self, dtype) -> "Tensor":
        from chainrule.ops.shape import cast

        return cast(self, dtype)

    def cpu(self) -> "Tensor":
        """This tensor in CPU memory: itself (chainrule's tensors always are)."""
        return self

    def cuda(self, device=None, non_blocking: bool = False) -> "Tensor":
        """Not available: chainrule runs on the CPU (a RuntimeError saying so)."""
        _backend.as_cuda_device(device, "cuda")
        return self

    @property
    def device(self) -> "_backend.device":
        """Where the data lives: ``device(type='cpu')``."""
        return _backend.cpu

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def is_sparse(self) -> bool:
        """False: every chainrule tensor is dense (chainrule.sparse says why)."""
        return False

    def to_dense(self, dtype=None, *, masked_grad=None) -> "Tensor":
        """Self (cast to ``dtype`` if given): the tensor is dense already, as in PyTorch."""
        return self if dtype is None else self.to(dtype)

    def to_sparse(self, *args, **kwargs):
        """Not available: raises NotImplementedError (no sparse tensors; chainrule.sparse)."""
        from chainrule.sparse import _refuse

        return _refuse("to_sparse")()

    to_sparse_coo = to_sparse_csr = to_sparse  # the same refusal (its message names to_sparse)

    def type(self, dtype=None, non_blocking: bool = False):
        """With no argument, the legacy type name (``'torch.FloatTensor'``, as PyTorch gives it, so
        scripts comparing it keep working); otherwise this tensor cast to ``dtype`` (a dtype, a
        legacy type such as ``chainrule.LongTensor`` or its name)."""
        if dtype is None:
            return f"torch.{_legacy_name(self._data.dtype)}"
        return self._cast(_legacy_dtype(dtype, "type"))

    def type_as(self, other: "Tensor") -> "Tensor":
        """This tensor cast to ``other``'s dtype."""
        if not isinstance(other, Tensor):
            raise TypeError(f"type_as: expected a Tensor, got {type(other).__name__}")
        return self._cast(other._data.dtype)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def element_size(self) -> int:
        """Bytes per element (4 for float32)."""
        return self._data.itemsize

    def contiguous(self) -> "Tensor":
        """Self when its memory is in row-major (C) order, else a C-ordered copy that stays in the graph."""
        return self if self._data.flags.c_contiguous else self.clone()

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def pin_memory(self) -> "Tensor":
        """Self: pinning memory only speeds up copies to a GPU."""
        return self

    def is_pinned(self) -> bool:
        return False

    def share_memory_(self) -> "Tensor":
        """Self: NumPy arrays live in this process's memory; there are no worker processes to share with."""
        return self

    def __format__(self, format_spec):
        # PyTorch's rule: a 0-d tensor formats as its number ('{:.2f}'); others only with '{}'.
        if self._data.ndim == 0:
            return self._data.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    # -- autograd ---------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set requires_grad on a leaf in place and return it."""
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_: a computed (non-leaf) tensor cannot stop requiring grad; use detach()"
            )
        _check_requires_grad(self._data, requires_grad)
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Run the chain rule from this tensor back to every leaf, accumulating into ``.grad``.

        gradient: d(loss)/d(self), needed when self is not a scalar. The graph is released
        afterwards unless ``retain_graph=True`` (default: ``create_graph``). With
        ``create_graph=True`` the gradients are recorded too, so they can be differentiated again.
        ``inputs``: accumulate only into these tensors' ``.grad``.
        """
        _engine.backward(self, gradient, retain_graph, create_graph, inputs)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this computed tensor too (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        if self.grad_fn is not None:
            self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook) -> "RemovableHandle":
        """Call ``hook(grad)`` with the gradient flowing into this tensor during backward.

        The hook sees the gradient as a Tensor (the error signal delta at this point of the network)
        and may return a replacement of the same shape, or None to leave it unchanged.
        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        if not callable(hook):
            raise TypeError(f"register_hook: expected a callable, got {type(hook).__name__}")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def zero_grad(self) -> None:
        self._grad = None

    # -- display ----------------------------------------------------------------------------
    def __repr__(self):
        body = np.array2string(self._data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self._data.dtype not in (_backend.get_default_dtype(), np.int64, np.bool_):
            extras.append(f"dtype={self._data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # -- casts (last in the class: their names would shadow the builtins float, int and bool in
    # the annotations of anything defined after them) --------------------------------------
    def float(self) -> "Tensor":
        return self._cast(np.float32)

    def double(self) -> "Tensor":
        return self._cast(np.float64)

    def half(self) -> "Tensor":
        return self._cast(np.float16)

    def long(self) -> "Tensor":
        return self._cast(np.int64)

    def int(self) -> "Tensor":
        return self._cast(np.int32)

    def short(self) -> "Tensor":
        return self._cast(np.int16)

    def char(self) -> "Tensor":
        return self._cast(np.int8)

    def byte(self) -> "Tensor":
        return self._cast(np.uint8)

    def bool(self) -> "Tensor":
        return self._cast(np.bool_)


# -- facts about tensors, as functions (PyTorch's torch.is_tensor, torch.numel, ...) ------------
def is_tensor(obj) -> bool:
    """Whether ``obj`` is a chainrule Tensor (Parameters included)."""
    return isinstance(obj, Tensor)


def _tensor_arg(t, op):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    return t


def is_floating_point(input) -> bool:
    """Whether ``input``'s dtype is a floating one (float16, float32, float64)."""
    return _tensor_arg(input, "is_floating_point").is_floating_point()


def numel(input) -> int:
    """The number of elements of ``input``."""
    return _tensor_arg(input, "numel")._data.size


# -- conversions shared by Tensor.to and Module.to ----------------------------------------------
_TO_KEYWORDS = ("device", "dtype", "non_blocking", "copy", "memory_format")


def _names_device(value) -> bool:
    """Whether a positional argument of ``to`` names a device rather than a dtype: a device, an
    index, or a string that is not a dtype name ('cpu', 'cuda:0', and typos such as 'cuda:x')."""
    if isinstance(value, _backend.device):
        return True
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, str):
        try:
            return np.dtype(value).kind not in "biuf"
        except TypeError:
            return True
    return False


def _to_arguments(args: tuple, kwargs: dict, op: str):
    """``(dtype or None, copy)`` from the arguments of PyTorch's ``to`` forms (device, dtype,
    device and dtype, another tensor; then non_blocking and copy), after checking the device."""
    unknown = sorted(set(kwargs) - set(_TO_KEYWORDS))
    if unknown:
        raise TypeError(f"{op}: unexpected keyword argument(s) {unknown}; expected {', '.join(_TO_KEYWORDS)}")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    rest = list(args)
    if rest and isinstance(rest[0], Tensor):
        dtype = rest.pop(0)._data.dtype
    elif rest and _names_device(rest[0]):
        device = rest.pop(0)
        if rest and not isinstance(rest[0], (bool, np.bool_)):
            dtype = rest.pop(0)
    elif rest and rest[0] is not None and not isinstance(rest[0], (bool, np.bool_)):
        dtype = rest.pop(0)
    flags = dict(zip(("non_blocking", "copy"), rest))
    if len(rest) > 2 or any(name in kwargs for name in flags):
        raise TypeError(f"{op}: expected to(device, dtype, non_blocking, copy) or to(dtype / tensor, non_blocking, "
                        f"copy), got positional {args!r} and keywords {sorted(kwargs)}")
    if isinstance(device, str) and not isinstance(device, _backend.device):
        try:
            device = _backend.device(device)
        except RuntimeError as err:
            raise TypeError(f"{op}: expected a device such as 'cpu' or a dtype such as float32, got {device!r} "
                            f"({err})") from None
    _backend.as_device(device, op)
    return (None if dtype is None else as_dtype(dtype, op)), bool(flags.get("copy", kwargs.get("copy", False)))


# PyTorch's legacy type names for each dtype (``tensor.type()``; the chainrule.FloatTensor types).
LEGACY_TYPES = {
    np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor", np.dtype(np.float16): "HalfTensor",
    np.dtype(np.int64): "LongTensor", np.dtype(np.int32): "IntTensor", np.dtype(np.int16): "ShortTensor",
    np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor", np.dtype(np.bool_): "BoolTensor",
}  # fmt: skip
_LEGACY_DTYPES = {name: dtype for dtype, name in LEGACY_TYPES.items()}


def _legacy_name(dtype) -> str:
    name = LEGACY_TYPES.get(np.dtype(dtype))
    if name is None:
        raise TypeError(f"type: tensors of dtype {dtype} have no legacy type name")
    return name


def _legacy_dtype(value, op: str) -> np.dtype:
    """A dtype from a dtype, a legacy tensor type (``chainrule.LongTensor``) or its name
    (``'torch.LongTensor'``)."""
    legacy = getattr(value, "_legacy_dtype", None)
    if isinstance(value, type) and legacy is not None:
        return legacy
    if isinstance(value, str) and value.rpartition(".")[2] in _LEGACY_DTYPES:
        if value.startswith(("torch.cuda.", "chainrule.cuda.")):
            _backend.as_device("cuda", op)
        return _LEGACY_DTYPES[value.rpartition(".")[2]]
    return as_dtype(value, op)


class _LegacyTensorType(type):
    """The metaclass of ``chainrule.FloatTensor`` and its kin: PyTorch's legacy constructors.
    Calling one makes a Tensor of its dtype (``LongTensor([1, 2])``, ``FloatTensor(2, 3)``), and
    ``isinstance(t, FloatTensor)`` asks whether t is a float32 tensor, as in PyTorch."""

    def __call__(cls, *data, device=None):
        _backend.as_device(device, cls.__name__)
        return Tensor._make(_constructor_array(data, cls._legacy_dtype, cls.__name__), False, None)

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._data.dtype == cls._legacy_dtype


def _legacy_type(dtype):
    name = LEGACY_TYPES[np.dtype(dtype)]
    doc = f"PyTorch's legacy constructor of {np.dtype(dtype)} tensors: ``{name}(data)`` or ``{name}(*sizes)``."
    return _LegacyTensorType(name, (), {"_legacy_dtype": np.dtype(dtype), "__doc__": doc,
                                        "__module__": "chainrule"})


FloatTensor, DoubleTensor, HalfTensor = _legacy_type(np.float32), _legacy_type(np.float64), _legacy_type(np.float16)
LongTensor, IntTensor, ShortTensor = _legacy_type(np.int64), _legacy_type(np.int32), _legacy_type(np.int16)
CharTensor, ByteTensor, BoolTensor = _legacy_type(np.int8), _legacy_type(np.uint8), _legacy_type(np.bool_)


# Imported last: chainrule.autograd imports this module (an import statement per call would cost
# _bump_version, which the optimizer calls for every parameter, and backward more than their work).
from chainrule.autograd import engine as _engine  # noqa: E402
from chainrule.autograd.mode import state as _mode  # noqa: E402


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook away again."""

    __slots__ = ("_hook", "_hooks")

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)

