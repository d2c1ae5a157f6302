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
from chainrule.ops.indexing import (
    argwhere,
    bincount,
    bucketize,
    gather,
    getitem,
    index_add,
    index_fill,
    index_put,
    index_select,
    masked_fill,
    masked_select,
    nonzero,
    scatter,
    scatter_add,
    scatter_reduce,
    searchsorted,
    select,
    take,
    take_along_dim,
    tril_indices,
    triu_indices,
    unique,
)
from chainrule.ops.linalg import (
    addcdiv,
    addcmul,
    addmm,
    addmv,
    baddbmm,
    bmm,
    cross,
    dot,
    einsum,
    ger,
    inner,
    kron,
    linear,
    matmul,
    mm,
    mv,
    outer,
    tensordot,
    vdot,
)
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
    atleast_1d,
    atleast_2d,
    block_diag,
    broadcast_to,
    cartesian_prod,
    cast,
    cat,
    chunk,
    clone,
    column_stack,
    concatenate,
    diag,
    diag_embed,
    diagonal,
    expand,
    expand_as,
    flatten,
    flip,
    fliplr,
    flipud,
    hstack,
    meshgrid,
    moveaxis,
    movedim,
    narrow,
    pad,
    permute,
    repeat,
    repeat_interleave,
    reshape,
    reshape_as,
    roll,
    rot90,
    row_stack,
    split,
    squeeze,
    stack,
    swapaxes,
    swapdims,
    t,
    tensor_split,
    trace,
    transpose,
    tril,
    triu,
    unbind,
    unflatten,
    unfold,
    unsqueeze,
    view,
    view_as,
    vstack,
)
from chainrule.ops.softmax import log_softmax, softmax
from chainrule.ops.sorting import argsort, kthvalue, msort, sort, topk
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
    # shape, indexing, sorting and products (composed from the ops above, except einsum)
    "t", "view_as", "reshape_as", "expand_as", "movedim", "unflatten", "narrow", "chunk",
    "tensor_split", "unbind", "flip", "fliplr", "flipud", "roll", "repeat", "repeat_interleave", "unfold",
    "tril", "triu", "diagonal", "diag_embed", "diag", "trace", "meshgrid", "hstack", "vstack",
    "column_stack", "gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
    "index_fill", "masked_fill", "masked_select", "take", "sort", "msort", "topk", "kthvalue",
    "einsum", "mm", "bmm", "mv", "dot", "outer", "inner", "cross", "addmm", "addmv",
    "baddbmm", "addcmul", "addcdiv",
    "select", "rot90", "atleast_1d", "atleast_2d", "tensordot", "kron", "take_along_dim",
    "cartesian_prod", "block_diag",
    "scaled_dot_product_attention",  # issue 18: attention
)  # fmt: skip

__all__ = [
    *DIFFERENTIABLE,
    "argmax", "argmin", "eq", "ne", "lt", "le", "gt", "ge",
    "isnan", "isinf", "isfinite", "isclose", "allclose", "equal",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    "clamp", "clamp_min", "clamp_max",  # clip under PyTorch's other names
    "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2", "fix", "sgn", "true_divide",
    # other names of differentiable ops above (the same functions)
    "moveaxis", "row_stack", "vdot", "ger", "swapdims",
    # integer results, no gradient
    "argsort", "nonzero", "argwhere", "unique", "bincount", "searchsorted", "bucketize", "tril_indices",
    "triu_indices",
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
    _attach_index_methods(T)
    T.any = lambda self, *a, **k: Tensor._make(self._data.any(*a, **k), False, None)
    T.all = lambda self, *a, **k: Tensor._make(self._data.all(*a, **k), False, None)


def _attach_index_methods(T):
    """The shape, indexing, sorting and product methods, and their in-place forms."""
    import chainrule.ops as ops
    from chainrule import creation
    from chainrule.ops.inplace import modify

    for name in (
        "t", "view_as", "reshape_as", "expand_as", "movedim", "moveaxis", "unflatten", "narrow", "chunk",
        "tensor_split", "unbind", "flip", "fliplr", "flipud", "roll", "repeat", "repeat_interleave", "unfold",
        "tril", "triu", "diagonal", "diag_embed", "diag", "trace", "gather", "scatter", "scatter_add",
        "scatter_reduce", "index_select", "index_add", "index_fill", "masked_fill", "masked_select", "take",
        "sort", "argsort", "msort", "topk", "kthvalue", "nonzero", "argwhere", "mm", "bmm", "mv", "dot",
        "vdot", "outer", "ger", "inner", "cross", "addmm", "addmv", "baddbmm", "addcmul", "addcdiv",
        "select", "rot90", "kron", "unique", "bincount", "take_along_dim",
    ):  # fmt: skip
        setattr(T, name, getattr(ops, name))
    for name in ("new_tensor", "new_zeros", "new_ones", "new_empty", "new_full"):
        setattr(T, name, getattr(creation, name))
    T.where = lambda self, condition, other: ops.where(condition, self, other)
    T.mT = property(lambda self: ops.transpose(self, -2, -1))

    def in_place(name):
        op = getattr(ops, name)

        def method(self, *args, **kwargs):  # (args go to modify, which records if one requires grad)
            return modify(self, lambda x, *a: op(x, *a, **kwargs), f"{name}_", *args)

        method.__name__ = f"{name}_"
        method.__doc__ = f"``{name}`` written into self (see chainrule.ops.inplace)."
        return method

    for name in (
        "scatter", "scatter_add", "scatter_reduce", "index_add", "index_fill", "masked_fill", "tril", "triu",
        "addmm", "addcmul", "addcdiv",
    ):  # fmt: skip
        setattr(T, f"{name}_", in_place(name))

    def index_put_method(self, indices, values, accumulate=False):  # PyTorch's: a tuple (or list) of tensors
        return ops.index_put(self, tuple(indices), values, accumulate)

    def index_put_(self, indices, values, accumulate=False):
        return modify(self, lambda x, v: ops.index_put(x, tuple(indices), v, accumulate), "index_put_", values)

    T.index_put, T.index_put_ = index_put_method, index_put_


_attach_tensor_methods()
