"""Functional forms of the layers and losses (PyTorch's torch.nn.functional). Functions with
their own backward rule live in chainrule.ops and are re-exported here; the rest are composed
from ops and need no rule."""

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
from chainrule.ops.operands import wrap
from chainrule.ops.shape import cast, pad


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p).

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


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 rows with a 1 at each class index: shape ``tensor.shape + (num_classes,)``
    (``num_classes=-1``: one more than the largest index).

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

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "conv1d", "conv2d",
    "conv_transpose2d", "interpolate", "max_pool1d", "max_pool2d", "upsample",
    "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "dropout", "elu", "embedding", "gelu", "huber_loss", "l1_loss", "layer_norm", "leaky_relu", "linear",
    "log_softmax", "mse_loss", "nll_loss", "relu", "sigmoid", "smooth_l1_loss", "softmax",
    "softplus", "tanh",
    "one_hot", "pad",
]  # fmt: skip
