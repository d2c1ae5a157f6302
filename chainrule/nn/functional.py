"""Functional forms of the layers and losses (PyTorch's torch.nn.functional). Functions with
their own backward rule live in chainrule.ops and are re-exported here; the rest are composed
from ops and need no rule."""

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
    conv1d,
    conv2d,
    conv_transpose2d,
    elu,
    gelu,
    interpolate,
    leaky_relu,
    linear,
    log_softmax,
    max_pool1d,
    max_pool2d,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
    upsample,
)
from chainrule.ops.arithmetic import mul, sub, where
from chainrule.ops.attention import scaled_dot_product_attention
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
from chainrule.ops.operands import tensor_input, wrap
from chainrule.ops.reduce import norm
from chainrule.ops.shape import cast, pad
from chainrule.ops.unary import clip


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


from chainrule.nn.embedding import embedding  # noqa: E402  (defined with its layer)


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
    "alpha_dropout", "dropout", "dropout1d", "dropout2d", "dropout3d", "elu", "embedding", "gelu",
    "huber_loss", "l1_loss", "layer_norm", "leaky_relu", "linear",
    "log_softmax", "mse_loss", "nll_loss", "relu", "sigmoid", "smooth_l1_loss", "softmax",
    "normalize", "one_hot", "pad", "softplus", "tanh",
]  # fmt: skip
__all__ += ["scaled_dot_product_attention"]
