"""Functional forms of the layers and losses (PyTorch's torch.nn.functional). Functions with
their own backward rule live in chainrule.ops and are re-exported here; the rest are composed
from ops and need no rule."""

import math
import warnings

from chainrule import random
from chainrule._arguments import int_arg, number_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.ops import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    celu,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    elu,
    gelu,
    group_norm,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    instance_norm,
    interpolate,
    leaky_relu,
    linear,
    local_response_norm,
    log_softmax,
    logsigmoid,
    max_pool1d,
    max_pool2d,
    mish,
    prelu,
    relu,
    relu6,
    rms_norm,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softshrink,
    tanh,
    threshold,
    upsample,
)
from chainrule.ops.arithmetic import minimum, mul, sub, where
from chainrule.ops.attention import scaled_dot_product_attention
from chainrule.ops.conv import fold, unfold
from chainrule.ops.indexing import getitem
from chainrule.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    check_reduction,
    check_target_shape,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from chainrule.ops.normalization import batch_norm, layer_norm
from chainrule.ops.operands import dims, floating, tensor_input, wrap
from chainrule.ops.pool import (
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool3d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from chainrule.ops.reduce import logsumexp, norm
from chainrule.ops.resample import upsample_bilinear, upsample_nearest
from chainrule.ops.shape import cast, concatenate, pad, split, stack
from chainrule.ops.unary import clamp_min, clip, exp, log


def dropout(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p).
    (``inplace`` is accepted for PyTorch's signature; the result is a new tensor.)

    The mask comes from ``chainrule.random.batch_random``: under data-parallel training each sample
    gets the mask it gets in one process, whatever the number of ranks."""
    if type(p) is not float or not 0 <= p <= 1:  # (one test for the usual float p)
        p = number_arg(p, "p", "dropout", 0, 1)
    if not training or p == 0:
        return x
    d = x._data
    keep = random.batch_random(d.shape, d.dtype) >= p
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return mul(x, wrap((keep * scale).astype(d.dtype, copy=False)))


def _scaled_mask(x: Tensor, p: float, mask_shape: tuple) -> Tensor:
    """x times a mask of ``mask_shape`` (broadcast to x) holding 0 with probability p, else 1/(1-p)."""
    d = x._data
    keep = random.batch_random(mask_shape, d.dtype) >= p
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    # an unbatched input's mask was drawn with a leading batch axis of 1: drop it
    return mul(x, wrap((keep * scale).astype(d.dtype, copy=False).reshape(mask_shape[len(mask_shape) - d.ndim:])))


def _feature_dropout(x: Tensor, p, training: bool, op: str, batched: bool) -> Tensor:
    """Dropout of whole channels: one draw per (sample, channel), the same for every position of
    the channel. An unbatched input draws as a batch of one (PyTorch's unsqueeze(0))."""
    p = number_arg(p, "p", op, 0, 1)
    if x.ndim < (2 if batched else 1):
        raise RuntimeError(f"{op}: Feature dropout requires at least 2 dimensions in the input")
    if not training or p == 0:
        return x
    shape = x.shape if batched else (1, *x.shape)
    return _scaled_mask(x, p, shape[:2] + (1,) * (len(shape) - 2))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input, each with probability p; scale the rest
    by 1/(1-p). ``inplace`` is accepted; the result is a new tensor."""
    x = tensor_input(input, "dropout1d")
    if x.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {x.ndim}D input. Note that dropout1d exists to "
            "provide channel-wise dropout on inputs with 1 spatial dimension, a channel dimension, and an optional "
            "batch dimension (i.e. 2D or 3D inputs)."
        )
    return _feature_dropout(x, p, training, "dropout1d", batched=x.ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) input, each with probability p; scale the rest by
    1/(1-p). As PyTorch: a 3-d input is read as (N, C, L) with a warning, other ranks warn."""
    x = tensor_input(input, "dropout2d")
    if x.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated and will result in an error "
            "in a future release. To retain the behavior and silence this warning, please use dropout instead. "
            "Note that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial dimensions, a "
            "channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if x.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will "
            "change in a future release to interpret the input as one without a batch dimension, i.e. shape "
            "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _feature_dropout(x, p, training, "dropout2d", batched=True)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input, each with probability p;
    scale the rest by 1/(1-p). Other ranks warn, as in PyTorch."""
    x = tensor_input(input, "dropout3d")
    if x.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {x.ndim}-D input to dropout3d, which is deprecated and will result in an error "
            "in a future release. To retain the behavior and silence this warning, please use dropout instead. "
            "Note that dropout3d exists to provide channel-wise dropout on inputs with 3 spatial dimensions, a "
            "channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    return _feature_dropout(x, p, training, "dropout3d", batched=x.ndim == 5)


_SELU_SATURATION = -1.0507009873554805 * 1.6732632423543772  # -scale * alpha: SELU's limit at -inf


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout: each element becomes SELU's saturation value a' = -1.7581 with probability
    p, then the whole is mapped by ``y = a * x + b`` with ``a = ((1 - p)(1 + p a'^2))^(-1/2)`` and
    ``b = -a a' p``, which keeps zero mean and unit variance. Note PyTorch's default
    ``training=False`` here."""
    x = tensor_input(input, "alpha_dropout")
    p = number_arg(p, "p", "alpha_dropout", 0, 1)
    if not training or p == 0:
        return x
    if p == 1:
        return mul(x, wrap(xp.zeros((), dtype=x.dtype)))
    d = x._data
    keep = random.batch_random(d.shape, d.dtype) >= p
    a = ((1 - p) * (1 + p * _SELU_SATURATION**2)) ** -0.5
    b = -a * _SELU_SATURATION * p
    # a * (x * keep + a' * (1 - keep)) + b
    shift = xp.where(keep, b, a * _SELU_SATURATION + b).astype(d.dtype)
    return mul(x, wrap((keep * a).astype(d.dtype))) + wrap(shift)


# ---------------------------------------------------------------------------- activations of ops


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """The gated linear unit: ``a * sigmoid(b)``, a and b the two halves of input along ``dim``
    (whose size must be even).

    >>> import chainrule as cr
    >>> glu(cr.tensor([[2.0, 0.0]])).tolist()
    [[1.0]]
    """
    x = tensor_input(input, "glu")
    if x.ndim == 0:
        raise ValueError("glu: does not support scalars because halving size must be even")
    (axis,) = dims(dim, x.ndim, "glu")
    size = x.shape[axis]
    if size % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {dim} is size {size} (shape {x.shape})")
    a, b = split(x, size // 2, axis)
    return a * sigmoid(b)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|): tanh's shape with polynomial tails."""
    x = tensor_input(input, "softsign")
    return x / (x.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    x = tensor_input(input, "tanhshrink")
    return x - tanh(x)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``softmax(-x, dim)``: probabilities that favour the smallest entries. ``dim=None`` picks
    PyTorch's implicit dim (0 for 0-, 1- and 3-d inputs, else 1) with its deprecation warning;
    ``dtype`` converts the input first."""
    x = tensor_input(input, "softmin")
    if dim is None:
        warnings.warn(
            "softmin: Implicit dimension choice for softmin has been deprecated. Change the call to include "
            "dim=X as an argument.",
            stacklevel=_stacklevel - 1,  # (PyTorch counts from its helper _get_softmax_dim)
        )
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if dtype is not None:
        x = cast(x, dtype)
    return softmax(-x, dim)
# ---------------------------------------------------------------------------- power-average pooling


def _lp_pool(x, norm_type, kernel_size, stride, ceil_mode, nd, op):
    """PyTorch's composition: (sum of x^p over each window)^(1/p), the sum taken as the window's
    mean (no padding; a ceil_mode window cut short averages fewer elements) times the kernel's
    size; p = inf is the max of |x|."""
    x = tensor_input(x, op)
    max_pool = (max_pool1d, max_pool2d, max_pool3d)[nd - 1]
    if norm_type == float("inf"):
        return max_pool(x.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return -max_pool(-x.abs(), kernel_size, stride, 0, 1, ceil_mode)
    norm_type = number_arg(norm_type, "norm_type", op)
    kernel = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * nd
    avg_pool = (avg_pool1d, avg_pool2d, avg_pool3d)[nd - 1]
    out = avg_pool(x**norm_type, kernel_size, stride, 0, ceil_mode)
    return (out.sign() * relu(out.abs()) * int(xp.prod(kernel))) ** (1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over the last dim: (sum of x^p over each window)^(1/p) (PyTorch's
    F.lp_pool1d); p = 1 is sum pooling, p = inf max pooling of |x|.

    >>> import chainrule as cr
    >>> lp_pool1d(cr.tensor([[[3.0, 4.0, 1.0, 0.0]]]), 2, 2).tolist()
    [[[5.0, 1.0]]]
    """
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1, "lp_pool1d")


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over the last two dims (PyTorch's F.lp_pool2d)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2, "lp_pool2d")


def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over the last three dims (PyTorch's F.lp_pool3d)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 3, "lp_pool3d")


# ---------------------------------------------------------------------------- regression losses


def _difference(input, target, reduction, op):
    """input - target, after checking that both have one shape."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    check_reduction(reduction, op)
    if isinstance(target, Tensor):
        target = cast(target, input.dtype)
    else:
        target = wrap(xp.asarray(target, dtype=input.dtype))
    check_target_shape(target.shape, input.shape, op)
    return sub(input, target)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


def l1_loss(input: Tensor, target, *, reduction: str = "mean") -> Tensor:
    """Absolute error ``|input - target|`` (shapes must match), reduced as ``mse_loss``."""
    return _reduce(_difference(input, target, reduction, "l1_loss").abs(), reduction)


def smooth_l1_loss(input: Tensor, target, *, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (d = input - target; shapes
    must match); beta = 0 is the L1 loss."""
    beta = number_arg(beta, "beta", "smooth_l1_loss", 0)
    diff = _difference(input, target, reduction, "smooth_l1_loss")
    size = diff.abs()
    if beta == 0:
        return _reduce(size, reduction)
    return _reduce(where(size._data < beta, diff * diff * (0.5 / beta), size - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)`` (d = input - target; shapes
    must match): smooth_l1_loss with beta = delta, times delta."""
    delta = number_arg(delta, "delta", "huber_loss", 0, low_open=True)
    diff = _difference(input, target, reduction, "huber_loss")
    size = diff.abs()
    return _reduce(where(size._data < delta, diff * diff * 0.5, (size - 0.5 * delta) * delta), reduction)


# ---------------------------------------------------------------------------- more losses
# Composed from differentiable ops (no rule of their own): their first and second derivatives
# come from the ops' rules. Each checks its arguments first, with PyTorch's messages where it
# has them.


def _float_like(value, x: Tensor) -> Tensor:
    """value (a Tensor or anything NumPy reads) as a tensor in x's dtype (a recorded cast for a
    tensor that requires grad)."""
    if isinstance(value, Tensor):
        return value if value._data.dtype == x._data.dtype else cast(value, x._data.dtype)
    return wrap(xp.asarray(value, dtype=x._data.dtype))


def _values(value):
    return value._data if isinstance(value, Tensor) else xp.asarray(value)


def _same_shape(op, **named):
    """Refuse tensors of different shapes, naming each (PyTorch's margin losses do not broadcast)."""
    shapes = {name: tuple(_values(v).shape) for name, v in named.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name}: {shape}" for name, shape in shapes.items())
        raise ValueError(f"{op}: all input tensors should have same size but got sizes: {listed}")


def _log_sigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), without softplus's linear threshold (smooth to any order)."""
    return -softplus(-x, threshold=math.inf)


def kl_div(input: Tensor, target, *, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence of the distribution ``target`` from log-probabilities ``input``:
    ``target (log target - input)`` (0 where target = 0), or with ``log_target`` (target given as
    log-probabilities) ``exp(target) (target - input)``. reduction "batchmean" divides the sum by
    the batch size (dim 0), which is the divergence's definition; "mean" divides by the element
    count and warns, as PyTorch.

    >>> import chainrule as cr
    >>> p = cr.tensor([[0.5, 0.5]])
    >>> kl_div(p.log(), p, reduction="batchmean").item()
    0.0
    """
    op = "kl_div"
    x = floating(input, op)
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"{op}: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}")
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            stacklevel=2,
        )
    t = _float_like(target, x)
    check_target_shape(t.shape, x.shape, op)
    if log_target:
        loss = exp(t) * (t - x)
    else:
        positive = t._data > 0
        # t log t, 0 where t = 0 (its limit); log reads 1 there, so no -inf enters the graph
        loss = t * (log(where(positive, t, 1.0)) - x)
        loss = where(positive, loss, 0.0)
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0, *,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where target = 1 and ``max(0, cos(x1, x2) - margin)`` where target = -1
    (0 for other targets): pulls pairs marked similar together, pushes dissimilar ones apart.
    Inputs (N, D) with target (N,), or (D,) with a 0-d target; the cosine is
    ``x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12))`` as PyTorch's.

    >>> import chainrule as cr
    >>> cosine_embedding_loss(cr.tensor([[1.0, 0.0]]), cr.tensor([[0.0, 1.0]]), cr.tensor([1])).item()
    1.0
    """
    op = "cosine_embedding_loss"
    x1, x2 = floating(input1, op), floating(input2, op)
    check_reduction(reduction, op)
    margin = number_arg(margin, "margin", op)
    y = _values(target)
    if y.ndim not in (0, 1):
        raise ValueError(f"{op}: 0D or 1D target tensor expected, multi-target not supported (got shape {y.shape})")
    if x1.ndim != y.ndim + 1 or x1.shape != x2.shape or x1.shape[:-1] != y.shape:
        raise ValueError(
            f"{op}: expected inputs (N, D) with target (N,) or (D,) with a 0-d target, got inputs "
            f"{x1.shape} and {x2.shape} and target {y.shape}"
        )
    eps = 1e-12
    dim = x1.ndim - 1
    dot = (x1 * x2).sum(dim=dim)
    cos = dot / ((((x1 * x1).sum(dim=dim) + eps) * ((x2 * x2).sum(dim=dim) + eps)) ** 0.5)
    loss = where(y == 1, 1 - cos, 0.0) + where(y == -1, clamp_min(cos - margin, 0), 0.0)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0, *,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -target (x1 - x2) + margin)``: target 1 asks x1 to rank above x2 by the margin,
    -1 below. input1, input2 and target of one shape.

    >>> import chainrule as cr
    >>> margin_ranking_loss(cr.tensor([1.0, 0.0]), cr.tensor([0.0, 1.0]), cr.tensor([1.0, 1.0])).item()
    0.5
    """
    op = "margin_ranking_loss"
    x1, x2 = floating(input1, op), floating(input2, op)
    check_reduction(reduction, op)
    margin = number_arg(margin, "margin", op)
    _same_shape(op, input1=x1, input2=x2, target=target)
    y = _float_like(target, x1)
    return _reduce(clamp_min(-y * (x1 - x2) + margin, 0), reduction)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dim (PyTorch's: eps is added to the difference, which
    keeps the 2-norm's gradient finite at x1 = x2).

    >>> import chainrule as cr
    >>> round(pairwise_distance(cr.tensor([[3.0, 0.0]]), cr.tensor([[0.0, 4.0]]), eps=0.0).item(), 6)
    5.0
    """
    op = "pairwise_distance"
    x1, x2 = floating(x1, op), floating(x2, op)
    p = number_arg(p, "p", op, 0)
    eps = number_arg(eps, "eps", op, 0)
    ndim = max(x1.ndim, x2.ndim)
    difference = x1 - x2 + eps
    return norm(difference, p, ndim - 1 if ndim else None, keepdim=keepdim)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False, *,
                        reduction: str = "mean") -> Tensor:
    """``max(0, d(a, p) - d(a, n) + margin)`` with d the ``pairwise_distance`` (p-norm over the
    last dim): the anchor nearer the positive than the negative by the margin. ``swap`` uses
    ``min(d(a, n), d(p, n))`` as the negative's distance (Balntas et al., 2016). Inputs (N, D)
    or (D,).

    >>> import chainrule as cr
    >>> a = cr.tensor([[0.0, 0.0]])
    >>> round(triplet_margin_loss(a, cr.tensor([[1.0, 0.0]]), cr.tensor([[3.0, 0.0]]), eps=0.0).item(), 6)
    0.0
    """
    op = "triplet_margin_loss"
    a, pos, neg = (floating(t, op) for t in (anchor, positive, negative))
    check_reduction(reduction, op)
    margin = number_arg(margin, "margin", op)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    if not a.ndim == pos.ndim == neg.ndim:
        raise ValueError(
            f"{op}: All inputs should have same dimension but got {a.ndim}D, {pos.ndim}D and {neg.ndim}D inputs."
        )
    distance_positive = pairwise_distance(a, pos, p, eps)
    distance_negative = pairwise_distance(a, neg, p, eps)
    if swap:
        distance_negative = minimum(distance_negative, pairwise_distance(pos, neg, p, eps))
    return _reduce(clamp_min(margin + distance_positive - distance_negative, 0), reduction)


def gaussian_nll_loss(input: Tensor, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under N(input, var):
    ``0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps))`` (+ 0.5 log(2 pi) if ``full``).

    var: a number, the input's shape, the input's shape without its last dim, or the input's
    shape with one dim of size 1 (one variance shared along it); entries must be >= 0. The clamp
    at eps is not differentiated (PyTorch clamps a copy under no_grad): var's gradient is the
    loss's derivative at the clamped value. target: the input's shape or broadcastable to it.

    >>> import chainrule as cr
    >>> gaussian_nll_loss(cr.tensor([1.0]), cr.tensor([3.0]), cr.tensor([4.0])).item()  # 0.5 (log 4 + 1)
    1.1931471824645996
    """
    op = "gaussian_nll_loss"
    x = floating(input, op)
    check_reduction(reduction, op)
    eps = number_arg(eps, "eps", op, 0)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{op}: var has negative entry/entries (got {var})")
        var = wrap(xp.full(x.shape, var, dtype=x.dtype))
    v = _float_like(var, x)
    if (v._data < 0).any():
        raise ValueError(f"{op}: var has negative entry/entries")
    if v.shape != x.shape:
        if v.shape == x.shape[:-1]:
            v = v.unsqueeze(-1)  # one variance per sample: broadcast along the last dim
        elif not (v.ndim == x.ndim and sum(b for a, b in zip(x.shape, v.shape) if a != b) == 1):
            raise ValueError(
                f"{op}: var is of incorrect size: got {v.shape} for input of shape {x.shape} (expected "
                "the input's shape, it without the last dim, or it with one dim of size 1)"
            )
    t = _float_like(target, x)
    try:
        fits = xp.broadcast_shapes(t.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{op}: target has shape {t.shape}, expected the input's shape {x.shape} or one broadcastable to it"
        )
    # max(var, eps) forwards, var's own gradient backwards (exactly: the second term is 0)
    v = wrap(xp.maximum(v._data, eps).astype(x.dtype)) + (v - wrap(v._data))
    loss = 0.5 * (log(v) + (x - t) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target, log_input: bool = True, full: bool = False, *,
                     eps: float = 1e-8, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of counts ``target`` under Poisson(rate): ``exp(input) - target
    input`` when ``log_input`` (input is the log-rate), else ``input - target log(input + eps)``.
    ``full`` adds Stirling's approximation of log(target!), ``t log t - t + 0.5 log(2 pi t)``,
    where target > 1.

    >>> import chainrule as cr
    >>> poisson_nll_loss(cr.tensor([0.0]), cr.tensor([2.0])).item()  # e^0 - 2 * 0
    1.0
    """
    op = "poisson_nll_loss"
    x = floating(input, op)
    check_reduction(reduction, op)
    eps = number_arg(eps, "eps", op)
    t = _float_like(target, x)
    check_target_shape(t.shape, x.shape, op)
    loss = exp(x) - t * x if log_input else x - t * log(x + eps)
    if full:
        big = t._data > 1
        safe = where(big, t, 2.0)  # the masked entries read 2, so no log(0) enters the graph
        stirling = safe * log(safe) - safe + 0.5 * log(2 * math.pi * safe)
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


def _class_rows(input, target, op):
    """The input as (N, C) (a (C,) input is one row) and the target as N valid class indices."""
    x = floating(input, op)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"{op}: expected input (N, C) or (C,) with C > 0, got shape {x.shape}")
    rows = x if x.ndim == 2 else x.unsqueeze(0)
    y = _values(target)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {y.dtype}")
    if y.shape != x.shape[:-1]:
        raise ValueError(f"{op}: target has shape {y.shape}, expected {x.shape[:-1]} for input of shape {x.shape}")
    y = y.reshape(-1)
    classes = x.shape[-1]
    if y.size and (y.min() < 0 or y.max() >= classes):
        bad = y.min() if y.min() < 0 else y.max()
        raise IndexError(f"{op}: target out of range: got {bad}, expected class indices in [0, {classes})")
    return x, rows, y


def multi_margin_loss(input: Tensor, target, p: int = 1, margin: float = 1.0, weight=None, *,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: for each row x with class y,
    ``sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C``; p is 1 or 2, weight (C,) per class.

    >>> import chainrule as cr
    >>> multi_margin_loss(cr.tensor([[0.1, 0.2, 0.4, 0.8]]), cr.tensor([3])).item()  # (0.3 + 0.4 + 0.6) / 4
    0.32499998807907104
    """
    op = "multi_margin_loss"
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"{op}: only p == 1 and p == 2 supported, got p={p!r}")
    margin = number_arg(margin, "margin", op)
    check_reduction(reduction, op)
    x, rows, y = _class_rows(input, target, op)
    classes = x.shape[-1]
    picked = getitem(rows, (xp.arange(len(y)), y)).unsqueeze(1)  # x[y], one per row
    hinge = clamp_min(rows - picked + margin, 0)
    if p == 2:
        hinge = hinge * hinge
    others = xp.ones(rows.shape, dtype=x.dtype)
    others[xp.arange(len(y)), y] = 0  # the target's own class does not count
    if weight is not None:
        w = _values(weight)
        if w.shape != (classes,):
            raise ValueError(
                f"{op}: weight must be one-dimensional with one entry per class ({classes},), got shape {w.shape}"
            )
        others *= w.astype(x.dtype)[y][:, None]
    loss = (hinge * wrap(others)).sum(dim=1) / classes
    return _reduce(loss if x.ndim == 2 else loss.squeeze(0), reduction)


def multilabel_margin_loss(input: Tensor, target, *, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: each row's target lists its classes, ended by the first -1;
    ``sum_{j in targets} sum_{i not in targets} max(0, 1 - (x[j] - x[i])) / C``.

    >>> import chainrule as cr
    >>> multilabel_margin_loss(cr.tensor([[0.1, 0.2, 0.4, 0.8]]), cr.tensor([[3, 0, -1, 1]])).item()
    0.8500000238418579
    """
    op = "multilabel_margin_loss"
    check_reduction(reduction, op)
    x = floating(input, op)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"{op}: expected input (N, C) or (C,) with C > 0, got shape {x.shape}")
    y = _values(target)
    if y.dtype.kind not in "iu" or y.shape != x.shape:
        raise ValueError(
            f"{op}: target must hold integer class indices of the input's shape {x.shape}, got "
            f"dtype {y.dtype} and shape {y.shape}"
        )
    rows = x if x.ndim == 2 else x.unsqueeze(0)
    y = y.reshape(rows.shape)
    classes = x.shape[-1]
    # pairs[n, j, i]: how often j is listed as a target of row n, where i is not one
    pairs = xp.zeros((len(y), classes, classes), dtype=x.dtype)
    for n, listed in enumerate(y):
        ended = xp.flatnonzero(listed == -1)
        listed = listed[: ended[0]] if ended.size else listed
        if listed.size and (listed.min() < 0 or listed.max() >= classes):
            raise IndexError(
                f"{op}: target out of range: row {n} lists {listed.tolist()}, expected classes in "
                f"[0, {classes}) ended by -1"
            )
        chosen = xp.zeros(classes, dtype=x.dtype)
        xp.add.at(chosen, listed, 1)
        pairs[n] = chosen[:, None] * (chosen == 0)[None, :]
    hinge = clamp_min(1 - rows.unsqueeze(2) + rows.unsqueeze(1), 0)  # [n, j, i]: 1 - (x[j] - x[i])
    loss = (hinge * wrap(pairs)).sum(dim=(1, 2)) / classes
    return _reduce(loss if x.ndim == 2 else loss.squeeze(0), reduction)


def multilabel_soft_margin_loss(input: Tensor, target, weight=None, *, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of logits per class, averaged over the C classes of each sample:
    ``-sum_c w_c (y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)) / C``; input and target
    (N, C) or (C,), weight broadcasting to them.

    >>> import chainrule as cr
    >>> round(multilabel_soft_margin_loss(cr.tensor([[0.0, 0.0]]), cr.tensor([[1.0, 0.0]])).item(), 4)
    0.6931
    """
    op = "multilabel_soft_margin_loss"
    x = floating(input, op)
    check_reduction(reduction, op)
    if x.ndim == 0:
        raise ValueError(f"{op}: expected input (N, C) or (C,), got a 0-d tensor")
    t = _float_like(target, x)
    check_target_shape(t.shape, x.shape, op)
    loss = -(t * _log_sigmoid(x) + (1 - t) * _log_sigmoid(-x))
    if weight is not None:
        w = _float_like(weight, x)
        try:
            xp.broadcast_shapes(w.shape, x.shape)
        except ValueError:
            raise ValueError(
                f"{op}: weight of shape {w.shape} does not broadcast to the input's shape {x.shape}"
            ) from None
        loss = loss * w
    loss = loss.sum(dim=x.ndim - 1) / x.shape[-1]
    return _reduce(loss, reduction)


def hinge_embedding_loss(input: Tensor, target, margin: float = 1.0, *, reduction: str = "mean") -> Tensor:
    """``x`` where target = 1 and ``max(0, margin - x)`` where target = -1 (for x a distance,
    e.g. an L1 distance between pairs marked similar or dissimilar); input and target of one shape.

    >>> import chainrule as cr
    >>> hinge_embedding_loss(cr.tensor([0.3, 0.2]), cr.tensor([1, -1])).item()  # (0.3 + 0.8) / 2
    0.550000011920929
    """
    op = "hinge_embedding_loss"
    x = floating(input, op)
    check_reduction(reduction, op)
    margin = number_arg(margin, "margin", op)
    y = _values(target)
    check_target_shape(y.shape, x.shape, op)
    # PyTorch's: a target other than +-1 counts both terms
    loss = where(y != 1, clamp_min(margin - x, 0), 0.0) + where(y != -1, x, 0.0)
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target, *, reduction: str = "mean") -> Tensor:
    """Two-class logistic loss ``log(1 + exp(-y x))`` for targets y = +-1; input and target of one shape.

    >>> import chainrule as cr
    >>> round(soft_margin_loss(cr.tensor([0.0]), cr.tensor([1.0])).item(), 4)
    0.6931
    """
    op = "soft_margin_loss"
    x = floating(input, op)
    check_reduction(reduction, op)
    y = _float_like(target, x)
    check_target_shape(y.shape, x.shape, op)
    return _reduce(softplus(-y * x, threshold=math.inf), reduction)


def _lengths(value, batch, op, name):
    lengths = xp.asarray(value._data if isinstance(value, Tensor) else value)
    if lengths.ndim == 0 and batch == 1:
        lengths = lengths.reshape(1)
    if lengths.dtype.kind not in "iu" or lengths.shape != (batch,):
        raise ValueError(f"{op}: {name} must hold {batch} integers (one per sequence), got {lengths.tolist()!r}")
    return lengths.astype(xp.int64)


_UNREACHABLE = -1e30  # log-probability of an alignment prefix that cannot happen (see ctc_loss)


def ctc_loss(log_probs: Tensor, targets, input_lengths, target_lengths, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification (Graves et al., 2006): ``-log p(target | input)``
    summed over every alignment of the target to the input's steps (repeats merged, ``blank``
    between them), by the forward algorithm in log space.

    log_probs: (T, N, C) log-probabilities (a log_softmax's output), or (T, C) for one sequence;
    targets: (N, S) class indices (padded) or 1-D, all targets one after the other;
    input_lengths, target_lengths: N integers. "mean" divides each loss by its target length
    and averages them, "sum" adds them, "none" keeps them. A target that cannot be aligned in
    its input's steps costs inf, or 0 with ``zero_infinity``.

    Composed from ops (a loop over the steps of logsumexp and where), so its gradients of every
    order come from theirs: the backward is the backward (beta) recursion. Unlike PyTorch's, the
    gradient is that of this function of log_probs; PyTorch's adds exp(log_probs), which makes
    no difference after a log_softmax (its backward sends that term to zero).

    >>> import chainrule as cr
    >>> log_probs = cr.tensor([[[0.5, 0.5]], [[0.5, 0.5]]]).log()  # T = 2, N = 1, blank + one class
    >>> round(ctc_loss(log_probs, cr.tensor([[1]]), [2], [1], reduction="sum").item(), 6)  # -log(3/4)
    0.287682
    """
    op = "ctc_loss"
    x = floating(log_probs, op)
    check_reduction(reduction, op)
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: log_probs must be (T, N, C) or (T, C), got shape {x.shape}")
    batched = x.ndim == 3
    if not batched:
        x = x.unsqueeze(1)
    steps, batch, classes = x.shape
    if isinstance(blank, bool) or not isinstance(blank, int) or not 0 <= blank < classes:
        raise ValueError(f"{op}: blank must be in label range [0, {classes}), got {blank!r}")
    t_lengths = _lengths(input_lengths, batch, op, "input_lengths")
    s_lengths = _lengths(target_lengths, batch, op, "target_lengths")
    if t_lengths.min() < 1 or t_lengths.max() > steps:
        raise ValueError(f"{op}: input_lengths must lie in [1, {steps}] (T), got {t_lengths.tolist()}")
    y = _values(targets)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must hold integer class indices, got dtype {y.dtype}")
    if not batched and y.ndim == 1 and s_lengths.sum() != y.size:
        y = y.reshape(1, -1)  # one unbatched target, padded
    if y.ndim == 2 and y.shape[0] == batch:
        if s_lengths.min() < 0 or s_lengths.max() > y.shape[1]:
            raise ValueError(f"{op}: target_lengths must lie in [0, {y.shape[1]}] (S), got {s_lengths.tolist()}")
        rows = [y[n, : s_lengths[n]] for n in range(batch)]
    elif y.ndim == 1:
        if s_lengths.min() < 0 or s_lengths.sum() != y.size:
            raise ValueError(
                f"{op}: 1-D targets hold all targets one after the other: target_lengths must sum to "
                f"{y.size}, got {s_lengths.tolist()}"
            )
        rows = xp.split(y, xp.cumsum(s_lengths)[:-1])
    else:
        raise ValueError(f"{op}: targets must be ({batch}, S) or 1-D, got shape {y.shape}")
    for n, row in enumerate(rows):
        if row.size and (row.min() < 0 or row.max() >= classes or (row == blank).any()):
            raise ValueError(
                f"{op}: target {n} holds {row.tolist()}: expected classes in [0, {classes}) other than blank={blank}"
            )
    # The extended targets: blank, y1, blank, y2, ..., blank (2 S_n + 1 states, padded with blanks).
    width = 2 * int(s_lengths.max()) + 1
    extended = xp.full((batch, width), blank, dtype=xp.int64)
    for n, row in enumerate(rows):
        extended[n, 1 : 2 * len(row) : 2] = row
    # A state may skip the blank before it when it is a label unlike the label two states back.
    skip = xp.zeros((batch, width), dtype=bool)
    skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    emissions = getitem(x, (slice(None), xp.arange(batch)[:, None], extended))  # (T, N, states)
    # -inf would be the exact start value of the states that cannot be reached yet, but their
    # logsumexp's gradient would be nan (0 * inf); a finite -1e30 gives exp(...) = 0 instead.
    unreachable = wrap(xp.full((batch, 1), _UNREACHABLE, dtype=x.dtype))
    start = xp.arange(width) < 2
    alpha = where(start, getitem(emissions, 0), unreachable)
    for t in range(1, steps):
        previous = concatenate([unreachable, getitem(alpha, (slice(None), slice(0, -1)))], 1)
        before_that = concatenate([unreachable, getitem(previous, (slice(None), slice(0, -1)))], 1)
        before_that = where(skip, before_that, unreachable)
        step = getitem(emissions, t) + logsumexp(stack([alpha, previous, before_that]), 0)
        alpha = where((t < t_lengths)[:, None], step, alpha)  # a finished sequence keeps its last
    last = 2 * s_lengths  # the final blank, and the last label before it (if any)
    ends = getitem(alpha, (xp.arange(batch)[:, None], xp.stack([last, xp.maximum(last - 1, 0)], 1)))
    ends = where((s_lengths > 0)[:, None] | xp.array([True, False]), ends, unreachable)
    likelihood = logsumexp(ends, 1)
    impossible = likelihood._data < _UNREACHABLE / 2
    loss = where(impossible, 0.0 if zero_infinity else math.inf, -likelihood)
    if reduction == "mean":
        return (loss / wrap(xp.maximum(s_lengths, 1).astype(x.dtype))).mean()
    if reduction == "sum":
        return loss.sum()
    return loss if batched else loss.squeeze(0)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """input / max(||input||_p, eps), the p-norm taken over ``dim`` (kept, so that it broadcasts):
    unit vectors along ``dim``; eps keeps the zero vector at 0 instead of 0 / 0.

    >>> import chainrule as cr
    >>> normalize(cr.tensor([[3.0, 4.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"normalize: expected a Tensor input, got {type(input).__name__}")
    eps = number_arg(eps, "eps", "normalize", 0)
    return input / clip(norm(input, p, dim, keepdim=True), min=eps)
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 rows with a 1 at each class index: shape ``tensor.shape + (num_classes,)``
    (``num_classes=-1``: one more than the largest index).

    >>> import chainrule
    >>> one_hot(chainrule.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"one_hot: expected a Tensor of class indices, got {type(tensor).__name__}")
    d = tensor._data
    if d.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer tensor of class indices, got dtype {d.dtype}")
    if num_classes == -1:
        if not d.size:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(d.max()) + 1
    num_classes = int_arg(num_classes, "num_classes", "one_hot", 0)
    if d.size and (d.min() < 0 or d.max() >= num_classes):
        raise ValueError(f"one_hot: class indices must lie in [0, {num_classes}), got {d.min()}..{d.max()}")
    return wrap((d[..., None] == xp.arange(num_classes)).astype(xp.int64))


from chainrule.nn.embedding import embedding, embedding_bag  # noqa: E402  (defined with its layer)
from chainrule.nn.pixelshuffle import pixel_shuffle, pixel_unshuffle  # noqa: E402  (defined with its layer)


def _taking_inplace(op, *defaults):
    """PyTorch's functional activations take ``inplace`` after their own arguments (the tensor ops
    do not): accepted, and the result is a new tensor, as the layers' (docs/pytorch.md)."""

    def activation(input, *args, inplace: bool = False, **kwargs):
        if len(args) == len(defaults) + 1:  # F.leaky_relu(x, 0.2, True): inplace by position
            args = args[:-1]
        return op(input, *args, **kwargs)

    activation.__name__, activation.__qualname__, activation.__doc__ = op.__name__, op.__name__, op.__doc__
    return activation


relu = _taking_inplace(relu)
leaky_relu = _taking_inplace(leaky_relu, 0.01)
elu = _taking_inplace(elu, 1.0)

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "conv1d", "conv2d",
    "conv_transpose2d", "interpolate", "max_pool1d", "max_pool2d", "upsample",
    "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "alpha_dropout", "dropout", "dropout1d", "dropout2d", "dropout3d", "elu", "embedding", "embedding_bag", "gelu",
    "huber_loss", "l1_loss", "layer_norm", "leaky_relu", "linear",
    "log_softmax", "mse_loss", "nll_loss", "relu", "sigmoid", "smooth_l1_loss", "softmax",
    "normalize", "one_hot", "pad", "softplus", "tanh",
    "cosine_embedding_loss", "ctc_loss", "gaussian_nll_loss", "hinge_embedding_loss", "kl_div", "margin_ranking_loss",
    "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "pairwise_distance",
    "poisson_nll_loss", "soft_margin_loss", "triplet_margin_loss",
    "conv3d", "conv_transpose1d", "conv_transpose3d", "fold", "unfold", "pixel_shuffle", "pixel_unshuffle",
]  # fmt: skip
__all__ += [  # issue 18's normalisations and activations
    "group_norm", "instance_norm", "local_response_norm", "rms_norm", "celu", "glu", "hardshrink", "hardsigmoid",
    "hardswish", "hardtanh", "logsigmoid", "mish", "prelu", "relu6", "selu", "silu", "softmin", "softshrink",
    "softsign", "tanhshrink", "threshold",
]  # fmt: skip
__all__ += [
    "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "avg_pool3d",
    "max_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "upsample_bilinear", "upsample_nearest",
]  # fmt: skip
__all__ += ["scaled_dot_product_attention"]
