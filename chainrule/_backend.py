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


# -- devices ----------------------------------------------------------------------------------
# PyTorch's device types: a name outside these is a typo, not a device this machine lacks.
_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                 "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")  # fmt: skip
# The device types the array module ``xp`` computes on: NumPy's arrays live in the CPU's memory. A
# GPU array module (CuPy) would add "cuda" here, and nothing else would change.
AVAILABLE_DEVICE_TYPES = ("cpu",)


class device:
    """Where a tensor's memory lives, as PyTorch's ``torch.device``: a type ('cpu', 'cuda', ...)
    and an optional index. Any PyTorch device can be named (so that ``device("cuda" if
    cuda.is_available() else "cpu")`` runs); only 'cpu' can hold tensors here (NumPy).

    >>> device("cuda:1")
    device(type='cuda', index=1)
    >>> str(device("cpu")), device("cpu") == device("cpu", None)
    ('cpu', True)
    """

    __slots__ = ("_index", "_type")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            if index is not None:
                raise TypeError(f"device: an index ({index!r}) cannot be given with a device ({type!r})")
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, numpy.integer | int) and not isinstance(type, bool):
            # PyTorch reads a bare index as one of the current accelerator, and there is none here.
            raise RuntimeError(
                f"device: index {type} names an accelerator device, but none is available "
                "(chainrule runs on the CPU with NumPy); use device('cpu')"
            )
        if not isinstance(type, str):
            raise TypeError(
                f"device: expected a string such as 'cpu' or 'cuda:0', got {type!r} ({type.__class__.__name__})"
            )
        if not type:
            raise RuntimeError("Device string must not be empty")
        name, colon, number = type.partition(":")
        if name not in _DEVICE_TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device string: {type}"
            )
        parsed = None
        if colon:
            if not number.isdigit() or (len(number) > 1 and number[0] == "0"):
                raise RuntimeError(f"Invalid device string: {type!r}")
            parsed = int(number)
        if index is not None:
            if colon:
                raise RuntimeError(
                    f"type (string) must not include an index because index was passed explicitly: {type}"
                )
            if isinstance(index, bool) or not isinstance(index, numpy.integer | int):
                raise TypeError(f"device: index must be an integer, got {index!r} ({index.__class__.__name__})")
            if index < 0:
                raise RuntimeError("Device index must not be negative")
            parsed = int(index)
        self._type, self._index = name, parsed

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self):
        return self._index

    def __eq__(self, other):
        # Only another device is equal (PyTorch: device('cpu') == 'cpu' is False).
        if not isinstance(other, device):
            return NotImplemented
        return (self._type, self._index) == (other._type, other._index)

    def __hash__(self):
        return hash((self._type, self._index))

    def __str__(self):
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self):
        index = "" if self._index is None else f", index={self._index}"
        return f"device(type={self._type!r}{index})"


cpu = device("cpu")


def as_device(where, op: str) -> device:
    """``where`` (a device, a string such as 'cpu' or 'cuda:0', or None for the CPU) as a device
    the array module can hold tensors on, or a RuntimeError from ``op`` saying that it is not
    available here.

    >>> as_device("cuda", "zeros")
    Traceback (most recent call last):
    ...
    RuntimeError: zeros: device 'cuda' is not available: chainrule runs on the CPU (NumPy arrays); ...
    """
    if where is None or where is cpu:
        return cpu
    if not isinstance(where, device):
        if not isinstance(where, str) and not isinstance(where, numpy.integer | int):
            raise TypeError(f"{op}: device must be a chainrule.device or a string such as 'cpu', got {where!r} "
                            f"({where.__class__.__name__})")
        where = device(where)
    if where.type not in AVAILABLE_DEVICE_TYPES:
        raise RuntimeError(
            f"{op}: device '{where}' is not available: chainrule runs on the CPU (NumPy arrays); use device='cpu' "
            f"(chainrule.{'cuda' if where.type == 'cuda' else 'accelerator'}.is_available() is False)"
        )
    return where


def as_cuda_device(index, op: str) -> device:
    """The argument of ``.cuda(device)`` (None, an index, 'cuda:1' or a device) as a CUDA device,
    checked like every other: a RuntimeError here, where no CUDA device is available."""
    return as_device("cuda" if index is None else index if isinstance(index, str | device) else f"cuda:{index}", op)


def get_default_device() -> device:
    """The device new tensors are made on: always the CPU here."""
    return cpu


def set_default_device(where) -> None:
    """Accept the CPU (None or 'cpu') as the default device; any other is a RuntimeError saying
    that it is not available, as in ``as_device``."""
    as_device(where, "set_default_device")
