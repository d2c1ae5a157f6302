"""Every function with a hand-written backward rule, by family. Each computes its result and
records one node whose VJP sits directly below the forward."""

from chainrule.ops.arithmetic import add, div, maximum, minimum, mul, neg, pow, sub, where
from chainrule.ops.compare import eq, ge, gt, le, lt, ne
from chainrule.ops.indexing import getitem
from chainrule.ops.linalg import matmul
from chainrule.ops.reduce import (
    amax,
    amin,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
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
    clip,
    cos,
    elu,
    exp,
    gelu,
    leaky_relu,
    log,
    log1p,
    relu,
    sigmoid,
    sin,
    softplus,
    sqrt,
    tanh,
)

# The differentiable ops: the op tests require a gradcheck case for each name here.
DIFFERENTIABLE = (
    "add", "sub", "mul", "div", "neg", "pow", "maximum", "minimum", "where",
    "exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
    "leaky_relu", "elu", "gelu", "softplus", "clip",
    "sum", "mean", "var", "std", "amax", "amin", "max", "min", "logsumexp",
    "reshape", "view", "flatten", "transpose", "swapaxes", "permute", "squeeze", "unsqueeze",
    "broadcast_to", "expand", "concatenate", "cat", "stack", "split", "pad", "clone", "cast",
    "getitem", "matmul", "softmax", "log_softmax",
)  # fmt: skip

__all__ = [
    *DIFFERENTIABLE,
    "argmax", "argmin", "eq", "ne", "lt", "le", "gt", "ge",
]  # fmt: skip
