"""Every function with a hand-written backward rule, by family. Each computes its result and
records one node whose VJP sits directly below the forward."""

from chainrule.ops.arithmetic import (
    add,
    arctan2,
    atan2,
    div,
    floor_divide,
    fmod,
    hypot,
    lerp,
    logaddexp,
    logaddexp2,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    remainder,
    sub,
    true_divide,
    where,
)
from chainrule.ops.attention import scaled_dot_product_attention
from chainrule.ops.compare import (
    allclose,
    eq,
    equal,
    ge,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    ne,
)
from chainrule.ops.conv import conv1d, conv2d, conv_transpose2d, interpolate, upsample
from chainrule.ops.indexing import getitem, index_put
from chainrule.ops.linalg import linear, matmul
from chainrule.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from chainrule.ops.normalization import batch_norm, layer_norm
from chainrule.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from chainrule.ops.recurrent import rnn_sequence
from chainrule.ops.reduce import (
    amax,
    amin,
    argmax,
    argmin,
    cdist,
    cumprod,
    cumsum,
    dist,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    sum,
    var,
)
from chainrule.ops.shape import (
    broadcast_to,
    cast,
    cat,
    clone,
    concatenate,
    expand,
    flatten,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
    view,
)
from chainrule.ops.softmax import log_softmax, softmax
from chainrule.ops.unary import (
    abs,
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctanh,
    asin,
    asinh,
    atan,
    atanh,
    ceil,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    cos,
    cosh,
    elu,
    erf,
    erfc,
    erfinv,
    exp,
    exp2,
    expm1,
    fix,
    floor,
    frac,
    gelu,
    leaky_relu,
    log,
    log1p,
    log2,
    log10,
    logit,
    nan_to_num,
    reciprocal,
    relu,
    round,
    rsqrt,
    sgn,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    tan,
    tanh,
    trunc,
)

# The differentiable ops: the op tests require a gradcheck case for each name here.
DIFFERENTIABLE = (
    "add", "sub", "mul", "div", "neg", "pow", "maximum", "minimum", "where",
    "exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
    "leaky_relu", "elu", "gelu", "softplus", "clip",
    "sum", "mean", "var", "std", "amax", "amin", "max", "min", "logsumexp", "norm",
    "reshape", "view", "flatten", "transpose", "swapaxes", "permute", "squeeze", "unsqueeze",
    "broadcast_to", "expand", "concatenate", "cat", "stack", "split", "pad", "clone", "cast",
    "getitem", "index_put", "matmul", "linear", "softmax", "log_softmax",
    "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss",
    "batch_norm", "layer_norm",
    "conv1d", "conv2d", "conv_transpose2d", "interpolate", "upsample",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "rnn_sequence",
    # issue 17's math: rounding (zero gradient), more elementwise functions, products, running ops
    "floor", "ceil", "round", "trunc", "frac", "sign", "tan", "asin", "acos", "atan", "sinh",
    "cosh", "asinh", "acosh", "atanh", "log2", "log10", "exp2", "expm1", "rsqrt", "reciprocal",
    "square", "erf", "erfc", "erfinv", "logit", "nan_to_num", "atan2", "hypot", "logaddexp",
    "logaddexp2", "lerp", "fmod", "remainder", "floor_divide", "prod", "cumsum",
    "cumprod", "dist", "cdist",
    "scaled_dot_product_attention",  # issue 18: attention
)  # fmt: skip

__all__ = [
    *DIFFERENTIABLE,
    "argmax", "argmin", "eq", "ne", "lt", "le", "gt", "ge",
    "isnan", "isinf", "isfinite", "isclose", "allclose", "equal",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    "clamp", "clamp_min", "clamp_max",  # clip under PyTorch's other names
    "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2", "fix", "sgn", "true_divide",
]  # fmt: skip


def _attach_tensor_methods():
    """Give Tensor its operators and methods, each one the function in chainrule.ops."""
    import chainrule.ops as ops
    from chainrule.ops import inplace

    def reflected(op):
        return lambda self, other: op(other, self)

    from chainrule._tensor import Tensor

    T = Tensor
    T.__add__, T.__radd__ = ops.add, reflected(ops.add)
    T.__sub__, T.__rsub__ = ops.sub, reflected(ops.sub)
    T.__mul__, T.__rmul__ = ops.mul, reflected(ops.mul)
    T.__truediv__, T.__rtruediv__ = ops.div, reflected(ops.div)
    T.__pow__, T.__rpow__ = ops.pow, reflected(ops.pow)
    T.__matmul__, T.__rmatmul__ = ops.matmul, reflected(ops.matmul)
    T.__neg__ = ops.neg
    T.__mod__, T.__rmod__ = ops.remainder, reflected(ops.remainder)
    T.__floordiv__, T.__rfloordiv__ = ops.floor_divide, reflected(ops.floor_divide)
    T.__pos__ = lambda self: self
    T.__abs__ = ops.abs
    T.__getitem__ = ops.getitem
    T.__eq__, T.__ne__ = ops.eq, ops.ne
    T.__lt__, T.__le__, T.__gt__, T.__ge__ = ops.lt, ops.le, ops.gt, ops.ge
    for name in (
        "add", "sub", "mul", "div", "pow", "matmul", "maximum", "minimum",
        "exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
        "softplus", "clip", "sum", "mean", "var", "std", "max", "min", "amax", "amin",
        "logsumexp", "norm", "argmax", "argmin", "reshape", "view", "flatten", "transpose", "swapaxes",
        "permute", "squeeze", "unsqueeze", "expand", "broadcast_to", "split", "softmax",
        "log_softmax", "eq", "ne", "lt", "le", "gt", "ge",
    ):  # fmt: skip
        setattr(T, name, getattr(ops, name))
    T.clamp = ops.clip
    for name in (
        "floor", "ceil", "round", "trunc", "frac", "sign", "sgn", "tan", "asin", "acos", "atan",
        "sinh", "cosh", "asinh", "acosh", "atanh", "log2", "log10", "exp2", "expm1", "rsqrt",
        "reciprocal", "square", "erf", "erfc", "erfinv", "logit", "nan_to_num", "atan2", "hypot",
        "logaddexp", "logaddexp2", "lerp", "fmod", "remainder", "floor_divide", "true_divide",
        "prod", "cumsum", "cumprod", "dist", "isnan", "isinf", "isfinite", "isclose", "allclose",
        "equal", "logical_and", "logical_or", "logical_xor", "logical_not", "clamp_min", "clamp_max",
        "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2", "fix",
    ):  # fmt: skip
        setattr(T, name, getattr(ops, name))
    T.neg = ops.neg
    T.T = property(lambda self: ops.permute(self, tuple(reversed(range(self._data.ndim)))))
    for name in ("add_", "sub_", "mul_", "div_", "pow_", "neg_", "clamp_", "fill_", "zero_", "copy_",
                 "normal_", "uniform_"):
        setattr(T, name, getattr(inplace, name))
    T.clip_ = inplace.clamp_
    T.__setitem__ = inplace.setitem
    T.__iadd__ = inplace.add_
    T.__isub__ = inplace.sub_
    T.__imul__ = inplace.mul_
    T.__itruediv__ = inplace.div_
    T.any = lambda self, *a, **k: Tensor._make(self._data.any(*a, **k), False, None)
    T.all = lambda self, *a, **k: Tensor._make(self._data.all(*a, **k), False, None)


_attach_tensor_methods()
