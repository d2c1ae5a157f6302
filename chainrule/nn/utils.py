"""Gradient utilities: clipping (the remedy for exploding gradients) and flattening parameters
into one vector and back."""

import math

import numpy as np

from chainrule._tensor import Tensor


def _params(parameters, op):
    """A tensor or an iterable of tensors as a list, or a TypeError naming ``op``."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected tensors (e.g. model.parameters()), got a {type(p).__name__}")
    return params


def _positive(value, name, op):
    """A number > 0 (infinity allowed: no limit), or an error naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number, got {type(value).__name__} {value!r}")
    if not value > 0:
        raise ValueError(f"{op}: {name} must be positive, got {value}")
    return float(value)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as if concatenated into one vector; when it exceeds
    max_norm every gradient is multiplied by max_norm / (norm + 1e-6), keeping the direction.
    Returns the norm before clipping (a float).
    """
    op = "clip_grad_norm_"
    max_norm = _positive(max_norm, "max_norm", op)
    norm_type = _positive(norm_type, "norm_type", op)
    grads = [p._grad for p in _params(parameters, op) if p._grad is not None]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.abs(g._data).max()) for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g._data, dtype=np.float64) ** norm_type)) for g in grads) ** (1 / norm_type)
    if not math.isfinite(total) and error_if_nonfinite:
        raise RuntimeError(
            f"clip_grad_norm_: the total gradient norm is {total}; "
            "pass error_if_nonfinite=False to clip anyway"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g._data *= coef
            g._bump_version()  # in place, as PyTorch's mul_: a graph that saved the gradient sees it
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = _positive(clip_value, "clip_value", "clip_grad_value_")
    for p in _params(parameters, "clip_grad_value_"):
        if p._grad is not None:
            np.clip(p._grad._data, -clip_value, clip_value, out=p._grad._data)
            p._grad._bump_version()


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and joined into one 1-D tensor (a copy)."""
    params = _params(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: no parameters given")
    vector = np.concatenate([p._data.reshape(-1) for p in params])
    return Tensor(vector, dtype=vector.dtype)


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters (the inverse of above)."""
    data = vec._data if isinstance(vec, Tensor) else np.asarray(vec)
    params = _params(parameters, "vector_to_parameters")
    needed = sum(p._data.size for p in params)
    if data.ndim != 1 or data.size != needed:
        raise ValueError(
            f"vector_to_parameters: expected a 1-D vector of {needed} elements, got shape {data.shape}"
        )
    offset = 0
    for p in params:
        n = p._data.size
        p._data[...] = data[offset:offset + n].reshape(p._data.shape)
        offset += n
