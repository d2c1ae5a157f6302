"""Normalisation: batch norm (each channel over the batch and positions), layer norm (each
sample over its trailing dims), group norm (each sample's groups of channels; instance norm is one
group per channel) and RMS norm (layer norm without centring), each one node whose backward is the
closed-form derivative of ``(x - mean) / sqrt(var + eps)``, not a chain of small ops. Local
response norm is a composition of ops.

Each saves the normalised input and the inverse standard deviation. Those are computed by
``_moments`` and ``_standardise``, which take arrays (the forward) or tensors (``remake``, under
create_graph), so the one backward rule of each op also differentiates to any order.

NumPy's reductions over a short last axis are slow (0.07 ms for the rows of a (2048, 128) float32
array) and every elementwise step is a pass over memory, so on arrays the row means over trailing
axes are products with a vector (BLAS: 0.015 ms), the rules work in place on the temporaries
they make, and layer and RMS norm sum their weight and bias gradients over the rows themselves
(benchmarks/NOTES.md, issue 18). Tensors take the recorded ops, as the formulas say.
"""

import math

from chainrule._arguments import int_arg, number_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph, record
from chainrule.ops import either
from chainrule.ops.linalg import column_sums
from chainrule.ops.operands import floating, same_dtype, wrap
from chainrule.ops.reduce import last_axis_sum
from chainrule.ops.shape import pad


def _rows(a, axes):
    """``a`` as a (rows, n) view, n the size of ``axes``, when it is a C-ordered float32 or float64
    array whose ``axes`` are its last ones (BLAS's types); otherwise None."""
    if isinstance(a, Tensor) or not a.flags.c_contiguous or (a.dtype != xp.float32 and a.dtype != xp.float64):
        return None
    axes = (axes,) if isinstance(axes, int) else axes
    k = len(axes)
    if axes != tuple(range(a.ndim - k, a.ndim)):
        return None
    n = math.prod(a.shape[a.ndim - k:])
    return a.reshape(a.size // n, n) if n else None


def _row_mean(a, axes, v=None):
    """The mean of ``a``, or of ``a * v`` (v of a's shape, or of the shape of ``axes``), over
    ``axes``, kept as size-1 dims (arrays or tensors). Where ``_rows`` allows, BLAS computes it
    without an array for the product: a matrix-vector product with ones or v, or each row's dot
    product with v's (vecdot: 0.024 ms for (2048, 128) float32 against 0.07 ms for ``(a * a) @
    ones``)."""
    rows = _rows(a, axes)
    sums = None
    if rows is not None and v is None:
        sums = last_axis_sum(rows)
    elif rows is not None and v.shape == a.shape:
        v_rows = _rows(v, axes)
        sums = None if v_rows is None else xp.vecdot(rows, v_rows)
    elif rows is not None and not isinstance(v, Tensor):
        sums = rows @ v.reshape(rows.shape[1])
    if sums is None:
        return (a if v is None else a * v).mean(axis=axes, keepdims=True)
    sums /= rows.shape[1]
    k = 1 if isinstance(axes, int) else len(axes)
    return sums.reshape(a.shape[:a.ndim - k] + (1,) * k)


def _leading_sums(a, axes):
    """``a`` summed over its dims before the trailing ``axes`` (the gradient of a weight or bias
    that broadcasts over them): a new array (the caller may then reuse a's memory), or a tensor."""
    lead = tuple(range(a.ndim - len(axes)))
    if isinstance(a, Tensor):
        return a.sum(axis=lead) if lead else a
    rows = _rows(a, axes)
    return a.sum(axis=lead) if rows is None else column_sums(rows).reshape(a.shape[len(lead):])


def _moments(x, axes):
    """x less its mean over ``axes``, the mean and the biased variance (arrays or tensors)."""
    mean = _row_mean(x, axes)
    centred = x - mean
    return centred, mean, _row_mean(centred, axes, centred)


def _standardise(centred, var, eps):
    """``centred / sqrt(var + eps)`` and the inverse standard deviation (arrays or tensors);
    an array ``centred`` is scaled in place (the callers' own temporary)."""
    invstd = 1 / either.sqrt(var + eps)
    return either.mul_fresh(centred, invstd), invstd


def _check_shape(tensor, shape, op, what):
    if tensor is not None and tensor._data.shape != shape:
        raise ValueError(f"{op}: {what} has shape {tensor._data.shape}, expected {shape}")


def _own(out, xhat):
    """The output, not sharing memory with the saved xhat (without an affine map it is xhat): the
    rule reads xhat, so changing the output in place must not change it."""
    return out.copy() if xp.may_share_memory(out, xhat) else out


def _affine(xhat, weight, bias, shape):
    if weight is None:
        return xhat if bias is None else xhat + bias._data.reshape(shape)
    out = xhat * weight._data.reshape(shape)
    return out if bias is None else either.add_fresh(out, bias._data.reshape(shape))


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
    out = _own(out, xhat)
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


def _trailing_axes(d, normalized_shape, op):
    """``normalized_shape`` as a tuple, and the trailing axes of ``d`` it names (layer and RMS
    norm); the input must end in it."""
    normalized = (int(normalized_shape),) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized)
    if not k or d.ndim < k or d.shape[d.ndim - k:] != normalized:
        raise ValueError(f"{op}: input of shape {d.shape} does not end in normalized_shape {normalized}")
    return normalized, tuple(range(d.ndim - k, d.ndim))


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
    normalized, axes = _trailing_axes(d, normalized_shape, op)
    _check_shape(weight, normalized, op, "weight")
    _check_shape(bias, normalized, op, "bias")
    _same_dtype(op, x, weight, bias)
    centred, _, var = _moments(d, axes)
    xhat, invstd = _standardise(centred, var, eps)
    out = _affine(xhat, weight, bias, normalized)
    if not needs_graph(x, weight, bias):
        return wrap(out)
    out = _own(out, xhat)
    rest = (weight, axes, x.requires_grad, weight is not None and weight.requires_grad, bias is not None)

    def remake(x, *affine):
        centred, _, var = _moments(x, axes)
        return (*_standardise(centred, var, eps), *rest)

    return record("LayerNorm", out, _parents(x, weight, bias), _layer_norm_vjp, (xhat, invstd, *rest), remake)


def _layer_norm_vjp(g, xhat, invstd, weight, axes, need_x, need_w, has_bias):
    """With ``gh = g weight``: ``dx = invstd (gh - mean(gh) - xhat mean(gh xhat))``, the means over
    ``axes``; the weight's and bias's gradients are ``g xhat`` and ``g`` summed over the leading
    dims. ``mean(gh xhat)`` is taken as the mean of ``(g xhat) weight``, from the array the
    weight's gradient sums, whose memory then holds ``xhat mean(gh xhat)``."""
    g_xhat = g * xhat if need_x or need_w else None
    grads = [None]
    if weight is not None:
        grads.append(_leading_sums(g_xhat, axes) if need_w else None)
    if has_bias:
        grads.append(_leading_sums(g, axes))
    if need_x:
        slope = _row_mean(g_xhat, axes, weight)
        offset = either.add_fresh(either.mul_into(g_xhat, xhat, slope), _row_mean(g, axes, weight))
        gx = g - offset if weight is None else either.sub_fresh(g * weight, offset)
        grads[0] = either.mul_fresh(gx, invstd)
    return tuple(grads)


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample's channels in ``num_groups`` groups: ``(x - mean) / sqrt(var + eps)``
    over each group's channels and positions, then ``* weight + bias`` per channel (dim 1).

    Independent of the batch (the same in training and eval); with one group it is layer norm over
    (C, ...) with per-channel affine parameters, with C groups instance norm.

    >>> import chainrule as cr
    >>> y = group_norm(cr.tensor([[1.0, 3.0, 0.0, 4.0]]), 2)
    >>> [round(v, 3) for v in y._data.ravel().tolist()]
    [-1.0, 1.0, -1.0, 1.0]
    """
    op = "group_norm"
    x = floating(input, op)
    d = x._data
    if d.ndim < 2:
        raise ValueError(f"{op}: expected an input (N, C, ...) of at least 2 dims, got shape {d.shape}")
    num_groups = int_arg(num_groups, "num_groups", op)
    n, channels = d.shape[:2]
    if channels % num_groups:
        raise ValueError(f"{op}: the input's {channels} channels (shape {d.shape}) are not divisible by "
                         f"num_groups={num_groups}")
    positions = math.prod(d.shape[2:])
    if n * channels // num_groups * positions == 1:  # PyTorch's test (_verify_batch_size), as it is
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got input of shape {d.shape}")
    _check_shape(weight, (channels,), op, "weight")
    _check_shape(bias, (channels,), op, "bias")
    _same_dtype(op, x, weight, bias)
    grouped = (n, num_groups, channels // num_groups * positions)
    kept = (1, channels) + (1,) * (d.ndim - 2)
    centred, _, var = _moments(d.reshape(grouped), 2)
    xhat, invstd = _standardise(centred, var, eps)
    out = _affine(xhat.reshape(d.shape), weight, bias, kept)
    if not needs_graph(x, weight, bias):
        return wrap(out)
    out = _own(out, xhat)
    rest = (weight, d.shape, kept, (0, *range(2, d.ndim)), x.requires_grad,
            weight is not None and weight.requires_grad, bias is not None)

    def remake(x, *affine):
        centred, _, var = _moments(x.reshape(grouped), 2)
        return (*_standardise(centred, var, eps), *rest)

    return record("GroupNorm", out, _parents(x, weight, bias), _group_norm_vjp, (xhat, invstd, *rest), remake)


def _group_norm_vjp(g, xhat, invstd, weight, shape, kept, axes, need_x, need_w, has_bias):
    """xhat (N, G, k) and invstd (N, G, 1) are grouped; g and the gradients have x's shape."""
    gx = None
    if need_x:
        gh = (g if weight is None else g * weight.reshape(kept)).reshape(xhat.shape)
        # layer norm's formula within each group
        gx = invstd * (gh - gh.mean(axis=2, keepdims=True) - xhat * (gh * xhat).mean(axis=2, keepdims=True))
        gx = gx.reshape(shape)
    grads = [gx]
    if weight is not None:
        grads.append((g * xhat.reshape(shape)).sum(axis=axes) if need_w else None)
    if has_bias:
        grads.append(g.sum(axis=axes))
    return tuple(grads)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample (N, C, ...) over its positions, then ``* weight +
    bias`` per channel: ``group_norm`` with one group per channel.

    With ``use_input_stats`` (training) the statistics are each instance's, and ``running_mean``
    and ``running_var`` (when given) move towards their averages over the batch: ``r = (1 -
    momentum) r + momentum s`` (unbiased variances). Otherwise the running statistics are used, as
    batch norm in eval mode.

    >>> import chainrule as cr
    >>> y = instance_norm(cr.tensor([[[1.0, 3.0], [0.0, 4.0]]]))
    >>> [round(v, 3) for v in y._data.ravel().tolist()]
    [-1.0, 1.0, -1.0, 1.0]
    """
    op = "instance_norm"
    x = floating(input, op)
    d = x._data
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: running_mean and running_var are needed when use_input_stats=False")
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    if math.prod(d.shape[2:]) == 1:  # also an input without positions: PyTorch's test
        raise ValueError(f"{op}: expected more than 1 spatial element when training, got input of shape {d.shape}")
    channels = d.shape[1]
    for tensor, what in ((running_mean, "running_mean"), (running_var, "running_var")):
        _check_shape(tensor, (channels,), op, what)
    _same_dtype(op, x, running_mean, running_var, weight, bias)
    if running_mean is not None or running_var is not None:
        momentum = number_arg(momentum, "momentum", op)
        axes = tuple(range(2, d.ndim))
        if running_mean is not None:
            running_mean._data[...] = (1 - momentum) * running_mean._data + momentum * d.mean(axis=axes).mean(0)
        if running_var is not None:
            unbiased = d.var(axis=axes, ddof=1).mean(0)
            running_var._data[...] = (1 - momentum) * running_var._data + momentum * unbiased
    return group_norm(x, channels, weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape`` dims: layer
    norm without centring or bias. ``eps=None`` is the machine epsilon of x's dtype, as PyTorch.

    >>> import chainrule as cr
    >>> y = rms_norm(cr.tensor([[3.0, 4.0]]), 2)  # divided by sqrt((9 + 16) / 2)
    >>> [round(v, 4) for v in y._data.ravel().tolist()]
    [0.8485, 1.1314]
    """
    op = "rms_norm"
    x = floating(input, op)
    d = x._data
    normalized, axes = _trailing_axes(d, normalized_shape, op)
    _check_shape(weight, normalized, op, "weight")
    _same_dtype(op, x, weight)
    eps = float(xp.finfo(d.dtype).eps) if eps is None else number_arg(eps, "eps", op)
    xhat, invrms = _rescale(d, axes, eps)
    out = xhat if weight is None else xhat * weight._data
    if not needs_graph(x, weight):
        return wrap(out)
    out = _own(out, xhat)
    rest = (weight, axes, x.requires_grad, weight is not None and weight.requires_grad)

    def remake(x, *affine):
        return (*_rescale(x, axes, eps), *rest)

    return record("RMSNorm", out, _parents(x, weight, None), _rms_norm_vjp, (xhat, invrms, *rest), remake)


def _rescale(x, axes, eps):
    """``x / sqrt(mean(x^2) + eps)`` over ``axes`` and that inverse root mean square (arrays or tensors)."""
    invrms = 1 / either.sqrt(_row_mean(x, axes, x) + eps)
    return x * invrms, invrms


def _rms_norm_vjp(g, xhat, invrms, weight, axes, need_x, need_w):
    """With ``gh = g weight``: ``dx = invrms (gh - xhat mean(gh xhat))``, the mean over ``axes``
    taken as that of ``(g xhat) weight``; the weight's gradient is ``g xhat`` summed over the
    leading dims (layer norm's rule without the centring)."""
    g_xhat = g * xhat if need_x or need_w else None
    grads = [None]
    if weight is not None:
        grads.append(_leading_sums(g_xhat, axes) if need_w else None)
    if need_x:
        offset = either.mul_into(g_xhat, xhat, _row_mean(g_xhat, axes, weight))
        gx = g - offset if weight is None else either.sub_fresh(g * weight, offset)
        grads[0] = either.mul_fresh(gx, invrms)
    return tuple(grads)


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """``x / (k + alpha * mean of x^2 over `size` neighbouring channels)^beta`` (AlexNet's), the
    window centred on each channel and zero-padded at the ends (dim 1 of (N, C, ...): channel
    c - size//2 to c + (size-1)//2, so below the first channel of the example lies a zero). A
    composition of ops (square, pad, slices, power), so it needs no rule of its own.

    >>> import chainrule as cr
    >>> local_response_norm(cr.ones(1, 3, 1), 2, alpha=1.0, beta=1.0, k=0.0).tolist()  # x / mean(x^2)
    [[[2.0], [1.0], [1.0]]]
    """
    op = "local_response_norm"
    x = floating(input, op)
    d = x._data
    if d.ndim < 3:
        raise ValueError(f"{op}: expected an input (N, C, ...) of 3 or more dims, got shape {d.shape}")
    size = int_arg(size, "size", op)
    alpha, beta, k = (number_arg(v, name, op) for v, name in ((alpha, "alpha"), (beta, "beta"), (k, "k")))
    if d.size == 0:
        return x
    channels = d.shape[1]
    # the window of channel c is c - size//2 ... c + (size-1)//2: zero squares padded at both ends
    padded = pad(x * x, (0, 0) * (d.ndim - 2) + (size // 2, (size - 1) // 2))
    total = padded[:, :channels]
    for start in range(1, size):
        total = total + padded[:, start:start + channels]
    return x / (total / size * alpha + k) ** beta
