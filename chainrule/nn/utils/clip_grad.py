"""Gradient clipping, the remedy for exploding gradients: scale all gradients together so that
their joint norm stays below a limit (clip_grad_norm_), or clamp each element (clip_grad_value_)."""

import math
import warnings

import numpy as np

from chainrule import _backend
from chainrule._tensor import Tensor


def _tensors(tensors, op):
    """A tensor or an iterable of tensors (a generator is read once) as a list, or a TypeError
    naming ``op``."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected tensors (e.g. model.parameters()), got a {type(t).__name__}")
    return tensors


def _positive(value, name, op):
    """A number > 0 (infinity allowed: no limit), or an error naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number, got {type(value).__name__} {value!r}")
    if not value > 0:
        raise ValueError(f"{op}: {name} must be positive, got {value}")
    return float(value)


def _norm_type(value, op):
    """The order p of the norm: a positive number, or 'inf' (the largest magnitude), as PyTorch."""
    if value == "inf":
        return math.inf
    return _positive(value, "norm_type", op)


def _total_norm(arrays, norm_type):
    """The p-norm of all ``arrays`` taken together as one vector, in float64 (a Python float)."""
    if norm_type == math.inf:
        return max(float(np.abs(a).max(initial=0)) for a in arrays)
    return sum(float(np.sum(np.abs(a, dtype=np.float64) ** norm_type)) for a in arrays) ** (1 / norm_type)


def _as_tensor(total, arrays):
    dtype = np.result_type(*arrays) if arrays else _backend.get_default_dtype()
    return Tensor._make(np.asarray(total, dtype=dtype), False, None)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The norm of ``tensors`` (usually gradients) as if they were concatenated into one vector:
    ``(sum_i ||t_i||_p^p)^(1/p)``, or for ``norm_type='inf'`` the largest magnitude. Returns a 0-d
    tensor of their dtype (0.0 for no tensors). ``foreach`` is accepted and has no effect.

    >>> import chainrule as cr
    >>> get_total_norm([cr.tensor([3.0]), cr.tensor([[4.0]])]).item()
    5.0
    """
    op = "get_total_norm"
    norm_type = _norm_type(norm_type, op)
    arrays = [t._data for t in _tensors(tensors, op)]
    total = _total_norm(arrays, norm_type) if arrays else 0.0
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"{op}: the total norm of order {norm_type} is {total}; pass error_if_nonfinite=False to go on anyway"
        )
    return _as_tensor(total, arrays)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Multiply every gradient of ``parameters`` by ``min(1, max_norm / (total_norm + 1e-6))``
    in place, ``total_norm`` being their joint norm (from ``get_total_norm``)."""
    op = "clip_grads_with_norm_"
    max_norm = _positive(max_norm, "max_norm", op)
    _scale([p._grad for p in _tensors(parameters, op) if p._grad is not None], max_norm, total_norm)


def _scale(grads, max_norm, total):
    if not grads:
        return
    total = total._data if isinstance(total, Tensor) else np.asarray(total)
    # In the gradients' dtype, as PyTorch computes the coefficient; NaN stays NaN (clamp passes it)
    dtype = np.result_type(*grads)
    coef = np.minimum(dtype.type(max_norm) / (total.astype(dtype) + dtype.type(1e-6)), dtype.type(1))
    if not coef >= 1:
        with np.errstate(invalid="ignore"):  # an infinite element times 0 (an infinite norm) is NaN, as PyTorch's
            for g in grads:
                g._data *= coef
                g._bump_version()  # in place, as PyTorch's mul_: a graph that saved the gradient sees it


def clip_grad_norm_(
    parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None
) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as if concatenated into one vector (``get_total_norm``);
    when it exceeds max_norm every gradient is multiplied by max_norm / (norm + 1e-6), keeping
    the direction. ``norm_type``: the order p of the norm, or ``'inf'``. Returns the norm before
    clipping as a 0-d tensor (as PyTorch; ``float(...)`` or ``.item()`` gives the number). A
    non-finite norm raises a RuntimeError with ``error_if_nonfinite``, and otherwise leaves every
    gradient 0 (an infinite norm) or NaN (a NaN one), as in PyTorch. ``foreach`` has no effect.

    >>> import chainrule as cr
    >>> w = cr.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()          # grad = 2 w = [6, 8], norm 10
    >>> clip_grad_norm_([w], max_norm=1.0).item(), w.grad.tolist()
    (10.0, [0.6, 0.8])
    """
    op = "clip_grad_norm_"
    max_norm = _positive(max_norm, "max_norm", op)
    norm_type = _norm_type(norm_type, op)
    grads = [p._grad for p in _tensors(parameters, op) if p._grad is not None]
    arrays = [g._data for g in grads]
    total = _total_norm(arrays, norm_type) if arrays else 0.0
    if not math.isfinite(total) and error_if_nonfinite:
        raise RuntimeError(
            f"clip_grad_norm_: the total gradient norm is {total}; pass error_if_nonfinite=False to clip anyway"
        )
    total = _as_tensor(total, arrays)
    _scale(grads, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = _positive(clip_value, "clip_value", "clip_grad_value_")
    for p in _tensors(parameters, "clip_grad_value_"):
        if p._grad is not None:
            np.clip(p._grad._data, -clip_value, clip_value, out=p._grad._data)
            p._grad._bump_version()


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None):
    """Deprecated: ``clip_grad_norm_`` (with PyTorch's FutureWarning; older scripts such as
    word_language_model call it so)."""
    warnings.warn(
        "`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
        FutureWarning,
        2,
    )
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)
