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

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        array = _as_array(data, dtype)
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

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
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

    def to(self, dtype) -> "Tensor":
        """This tensor cast to ``dtype`` (differentiable between floating dtypes)."""
        from chainrule.ops.shape import cast

        return cast(self, dtype)

    def float(self) -> "Tensor":
        return self.to(np.float32)

    def double(self) -> "Tensor":
        return self.to(np.float64)

    def long(self) -> "Tensor":
        return self.to(np.int64)

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

