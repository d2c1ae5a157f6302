"""chainrule: neural networks trained by backpropagation, on NumPy, with a reverse-mode autodiff
engine small enough to read. The public surface only: everything here is re-exported."""

import numpy as _np

from chainrule import accelerator, autograd, backends, cuda, nn, optim
from chainrule._backend import device, get_default_device, get_default_dtype, set_default_device, set_default_dtype
from chainrule._tensor import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    Tensor,
    is_floating_point,
    is_tensor,
    numel,
)
from chainrule.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from chainrule.ops import *  # noqa: F403  (the op functions are the public API, as torch.*)
from chainrule.ops import __all__ as _op_names
from chainrule.random import get_rng_state, initial_seed, manual_seed, seed, set_rng_state

float16 = _np.dtype(_np.float16)
float32 = _np.dtype(_np.float32)
float64 = _np.dtype(_np.float64)
int32 = _np.dtype(_np.int32)
int64 = _np.dtype(_np.int64)
uint8 = _np.dtype(_np.uint8)
bool = _np.dtype(_np.bool_)
# PyTorch's other dtype names (bfloat16 is left out: NumPy has no such dtype)
int8 = _np.dtype(_np.int8)
int16 = _np.dtype(_np.int16)
half = float16
float = float32  # PyTorch's names (they shadow the builtins only inside this module)
double = float64
short = int16
int = int32
long = int64

__version__ = "0.1.0"

# Loaded on first use (``chainrule.train.fit`` works as usual): they are not needed to build and
# differentiate models, and importing them all would slow ``import chainrule`` down.
# ``load`` and ``save`` come from chainrule.serialization the same way (its hashlib and json cost
# ~7 ms of the import).
_LAZY_SUBMODULES = ("compare", "data", "diagnostics", "distributed", "explain", "models", "runs", "train")
_LAZY_SUBMODULES += ("utils",)  # chainrule.utils.data: PyTorch's path for DataLoader and the data sets
_LAZY_SUBMODULES += ("xpu", "onnx", "multiprocessing")  # PyTorch's paths: no XPU, no exporter, no sharing
_LAZY_SUBMODULES += ("sparse",)  # no sparse tensors: making one says so (chainrule/sparse.py)
_LAZY_SUBMODULES += ("viz",)  # pictures of what a network computes (matplotlib, loaded when drawing)
_LAZY_FUNCTIONS = {"load": "serialization", "save": "serialization"}
_LAZY_FUNCTIONS["summary"] = "model_summary"  # torchinfo's summary(model, input_size): a forward pass, hooked
_LAZY_FUNCTIONS["Generator"] = "random"  # PyTorch's torch.Generator, for generator= of the data utilities
_LAZY_FUNCTIONS.update(dict.fromkeys(("sparse_coo_tensor", "sparse_csr_tensor", "spmm"), "sparse"))


def __getattr__(name):
    if name in _LAZY_SUBMODULES or name in _LAZY_FUNCTIONS:
        import importlib

        module = importlib.import_module(f"chainrule.{_LAZY_FUNCTIONS.get(name, name)}")
        value = getattr(module, name) if name in _LAZY_FUNCTIONS else module
        globals()[name] = value
        return value
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")

__all__ = [
    # namespaces
    "accelerator", "autograd", "backends", "cuda", "diagnostics", "explain", "nn", "optim", "train",  # noqa: F405  (the last three load lazily)
    # the tensor, its creation and dtypes
    "Tensor", "arange", "empty", "eye", "from_numpy", "full", "full_like", "linspace", "ones",
    "ones_like", "rand", "rand_like", "randint", "randn", "randn_like", "tensor", "zeros", "zeros_like",
    "as_tensor", "bernoulli", "empty_like", "multinomial", "normal", "randint_like", "randperm",
    "is_floating_point", "is_tensor", "numel",
    "bool", "float16", "float32", "float64", "int32", "int64", "uint8",
    "double", "float", "half", "int", "int8", "int16", "long", "short",
    "device", "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor",
    "LongTensor", "ShortTensor",
    "get_default_dtype", "set_default_dtype",
    "get_default_device", "set_default_device",
    # modes, randomness, files
    "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled", "get_rng_state", "manual_seed", "set_rng_state",
    "initial_seed", "seed",
    "load", "save",  # noqa: F405  (loaded lazily)
    "summary",  # noqa: F405  (loaded lazily)
    # the ops (chainrule.ops)
    *_op_names,
]  # fmt: skip
