"""Normalisation: batch norm (each channel over the batch and positions) and layer norm (each
sample over its trailing dims), each one node whose backward is the closed-form derivative of
``(x - mean) / sqrt(var + eps)``, not a chain of small ops.

Both save the normalised input and the inverse standard deviation. Those are computed by
``_moments`` and ``_standardise``, which take arrays (the forward) or tensors (``remake``, under
create_graph), so the one backward rule of each op also differentiates to any order.
"""

from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph, record
from chainrule.ops import either
from chainrule.ops.operands import floating, same_dtype, wrap


def _moments(x, axes):
    """x less its mean over ``axes``, the mean and the biased variance (arrays or tensors)."""
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    return centred, mean, (centred * centred).mean(axis=axes, keepdims=True)


def _standardise(centred, var, eps):
    """``centred / sqrt(var + eps)`` and the inverse standard deviation (arrays or tensors)."""
    invstd = 1 / either.sqrt(var + eps)
    return centred * invstd, invstd


def _check_shape(tensor, shape, op, what):
    if tensor is not None and tensor._data.shape != shape:
        raise ValueError(f"{op}: {what} has shape {tensor._data.shape}, expected {shape}")


def _affine(xhat, weight, bias, shape):
    out = xhat if weight is None else xhat * weight._data.reshape(shape)
    return out if bias is None else out + bias._data.reshape(shape)


def _same_dtype(op, x, *others):
    """PyTorch's rule for normalisation: input, statistics and affine parameters share one dtype
    ("mixed dtype (CPU): all inputs must share same datatype")."""
    dtype = x._data.dtype
    for t in others:
        if isinstance(t, Tensor) and t._data.dtype != dtype:
            same_dtype(op, x, *(u for u in others if isinstance(u, Tensor)))


def _parents(x, weight, bias):
    return tuple(p for p in (x, weight, bias) if p is not None)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` per channel (dim 1) of ``input`` (N, C, ...).

    In training the statistics are the batch's (biased variance), and ``running_mean`` and
    ``running_var`` (when given) are updated in place: ``r = (1 - momentum) r + momentum s``,
    with the unbiased batch variance. Otherwise the running statistics are used.

    >>> import chainrule as cr
    >>> y = batch_norm(cr.tensor([[1.0], [3.0]]), None, None, training=True)
    >>> [round(v, 3) for v in y._data.ravel().tolist()]
    [-1.0, 1.0]
    """
    op = "batch_norm"
    x = floating(input, op)
    d = x._data
    if d.ndim < 2:
        raise ValueError(f"{op}: expected an input (N, C, ...) of at least 2 dims, got shape {d.shape}")
    channels = d.shape[1]
    for tensor, what in ((running_mean, "running_mean"), (running_var, "running_var"),
                         (weight, "weight"), (bias, "bias")):
        _check_shape(tensor, (channels,), op, what)
    _same_dtype(op, x, running_mean, running_var, weight, bias)
    axes = (0, *range(2, d.ndim))
    kept = (1, channels) + (1,) * (d.ndim - 2)
    count = d.size // channels if channels else 0
    if training:
        if momentum is None:
            raise ValueError(f"{op}: momentum must be a number (the BatchNorm layers handle momentum=None)")
        if count <= 1:
            raise ValueError(
                f"{op}: expected more than 1 value per channel when training, got input of shape {d.shape}"
            )
        centred, mean, var = _moments(d, axes)
        if running_mean is not None:
            running_mean._data[...] = (1 - momentum) * running_mean._data + momentum * mean.reshape(channels)
        if running_var is not None:
            unbiased = var.reshape(channels) * (count / (count - 1))
            running_var._data[...] = (1 - momentum) * running_var._data + momentum * unbiased
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: running_mean and running_var are needed when training=False")
        # Copies (of C values): a later training step updates the running statistics in place,
        # and remake must see the ones this call used.
        mean = running_mean._data.astype(d.dtype).reshape(kept)
        var = running_var._data.astype(d.dtype).reshape(kept)
        centred = d - mean
    xhat, invstd = _standardise(centred, var, eps)
    out = _affine(xhat, weight, bias, kept)
    if not needs_graph(x, weight, bias):
        return wrap(out)
    rest = (weight, kept, axes, count if training else None, x.requires_grad,
            weight is not None and weight.requires_grad, bias is not None)

    def remake(x, *affine):
        if training:
            centred, _, batch_var = _moments(x, axes)
            return (*_standardise(centred, batch_var, eps), *rest)
        return (*_standardise(x - mean, var, eps), *rest)

    return record("BatchNorm", out, _parents(x, weight, bias), _batch_norm_vjp, (xhat, invstd, *rest), remake)


def _batch_norm_vjp(g, xhat, invstd, weight, kept, axes, count, need_x, need_w, has_bias):
    """``count``: the values per channel when the statistics are the batch's (they depend on x
    too), None when they are the running ones (constants)."""
    g_sum = g.sum(axis=axes, keepdims=True) if has_bias or (need_x and count) else None
    g_xhat = (g * xhat).sum(axis=axes, keepdims=True) if need_w or (need_x and count) else None
    gx = None
    if need_x:
        scale = invstd if weight is None else invstd * weight.reshape(kept)
        # The classic formula: the batch statistics also depend on x.
        gx = scale * (g - g_sum / count - xhat * (g_xhat / count)) if count else scale * g
    grads = [gx]
    if weight is not None:
        grads.append(g_xhat.reshape(-1) if need_w else None)
    if has_bias:
        grads.append(g_sum.reshape(-1))
    return tuple(grads)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the trailing ``normalized_shape`` dims.

    weight and bias have shape ``normalized_shape``; the variance is biased, as in PyTorch.

    >>> import chainrule as cr
    >>> y = layer_norm(cr.tensor([[1.0, 3.0]]), 2)
    >>> [round(v, 3) for v in y._data.ravel().tolist()]
    [-1.0, 1.0]
    """
    op = "layer_norm"
    x = floating(input, op)
    d = x._data
    normalized = (int(normalized_shape),) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized)
    if not k or d.ndim < k or d.shape[d.ndim - k:] != normalized:
        raise ValueError(f"{op}: input of shape {d.shape} does not end in normalized_shape {normalized}")
    _check_shape(weight, normalized, op, "weight")
    _check_shape(bias, normalized, op, "bias")
    _same_dtype(op, x, weight, bias)
    axes = tuple(range(d.ndim - k, d.ndim))
    centred, _, var = _moments(d, axes)
    xhat, invstd = _standardise(centred, var, eps)
    out = _affine(xhat, weight, bias, normalized)
    if not needs_graph(x, weight, bias):
        return wrap(out)
    rest = (weight, axes, x.requires_grad, weight is not None and weight.requires_grad, bias is not None)

    def remake(x, *affine):
        centred, _, var = _moments(x, axes)
        return (*_standardise(centred, var, eps), *rest)

    return record("LayerNorm", out, _parents(x, weight, bias), _layer_norm_vjp, (xhat, invstd, *rest), remake)


def _layer_norm_vjp(g, xhat, invstd, weight, axes, need_x, need_w, has_bias):
    gx = None
    if need_x:
        gh = g if weight is None else g * weight
        gx = invstd * (
            gh - gh.mean(axis=axes, keepdims=True) - xhat * (gh * xhat).mean(axis=axes, keepdims=True)
        )
    # weight and bias broadcast over the leading dims: the engine sums their gradients over them
    grads = [gx]
    if weight is not None:
        grads.append(g * xhat if need_w else None)
    if has_bias:
        grads.append(g)
    return tuple(grads)
