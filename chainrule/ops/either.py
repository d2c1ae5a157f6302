"""Functions of arrays or tensors, for backward rules written once (HIPS autograd's way).

A rule runs on arrays in first-order backward (NumPy directly, no graph) and on tensors under
``create_graph`` (chainrule's ops, so the gradient it computes is recorded and can be
differentiated again). Python's operators (``+ - * / ** @``, comparisons, ``[]``) and the
methods both types share (``sum(axis=, keepdims=)``, ``reshape``, ``transpose``, ``.T``) already
work on either; this module adds the functions that differ: each takes the ops' path as soon as
one argument is a Tensor.

    def exp_vjp(g, out):
        return (g * out,)

    def sqrt_vjp(g, out):
        return (g / (2 * out),)

    def abs_vjp(g, x):
        return (g * either.sign(x),)
"""

import numpy as np

from chainrule._backend import xp
from chainrule._tensor import Tensor


def _dispatch(array_fn, op_name):
    def either(*args, **kwargs):
        for a in args:
            if isinstance(a, Tensor):
                import chainrule.ops as ops

                return getattr(ops, op_name)(*args, **kwargs)
        return array_fn(*args, **kwargs)

    either.__name__ = op_name
    either.__doc__ = f"``{op_name}`` of arrays (NumPy) or tensors (chainrule.ops.{op_name}, recorded)."
    return either


exp = _dispatch(xp.exp, "exp")
log = _dispatch(xp.log, "log")
log1p = _dispatch(xp.log1p, "log1p")
sqrt = _dispatch(xp.sqrt, "sqrt")
sin = _dispatch(xp.sin, "sin")
cos = _dispatch(xp.cos, "cos")
tanh = _dispatch(xp.tanh, "tanh")
sinh = _dispatch(xp.sinh, "sinh")
cosh = _dispatch(xp.cosh, "cosh")
maximum = _dispatch(xp.maximum, "maximum")


def where(condition, a, b):
    """``a`` where ``condition`` (an array: conditions carry no gradient) holds, else ``b``."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        from chainrule.ops.arithmetic import where as where_op

        return where_op(condition, a, b)
    return xp.where(condition, a, b)


def sign(x):
    """-1, 0 or 1 (0 at nan, PyTorch's sgn); piecewise constant, so always an array."""
    d = x._data if isinstance(x, Tensor) else x
    return xp.where(d == d, xp.sign(d), 0).astype(d.dtype, copy=False)


def sigmoid(x):
    if isinstance(x, Tensor):
        from chainrule.ops.unary import sigmoid as sigmoid_op

        return sigmoid_op(x)
    from chainrule.ops.unary import sigmoid_values

    return sigmoid_values(x)


def values(x) -> np.ndarray:
    """The array behind x (for masks and indices, which carry no gradient)."""
    return x._data if isinstance(x, Tensor) else x


def zeros_like(x):
    """Zeros of x's shape and dtype, as an array (constants need no graph)."""
    return xp.zeros_like(values(x))


def subtract_at(x, parts, values):
    """x with ``values`` subtracted at ``x[parts]`` (integer-array parts that pick each element
    once): in place for an array (one the rule has just computed), recorded for a tensor."""
    if isinstance(x, Tensor) or isinstance(values, Tensor):
        from chainrule.ops.indexing import index_scatter

        return x - index_scatter(values, parts, tuple(x.shape))
    x[parts] -= values
    return x


def permute(x, order):
    """x's dims reordered, ``out.shape[i] == x.shape[order[i]]`` (ndarray.transpose's meaning;
    Tensor.transpose swaps two dims, as PyTorch's)."""
    if isinstance(x, Tensor):
        from chainrule.ops.shape import permute as permute_op

        return permute_op(x, order)
    return x.transpose(order)


cumsum = _dispatch(xp.cumsum, "cumsum")  # (x, axis): NumPy's axis is PyTorch's dim
cumprod = _dispatch(xp.cumprod, "cumprod")


def stack(items):
    """``items`` (arrays or tensors of one shape) joined along a new first axis."""
    if any(isinstance(t, Tensor) for t in items):
        from chainrule.ops.operands import constant
        from chainrule.ops.shape import stack as stack_op

        return stack_op([t if isinstance(t, Tensor) else constant(t) for t in items])
    return xp.stack(items)


def concatenate(items):
    """``items`` (arrays or tensors) joined along their first axis."""
    if any(isinstance(t, Tensor) for t in items):
        from chainrule.ops.operands import constant
        from chainrule.ops.shape import concatenate as concatenate_op

        return concatenate_op([t if isinstance(t, Tensor) else constant(t) for t in items])
    return xp.concatenate(items)


# On arrays these work in place on ``fresh``, a temporary the caller has just made, so a rule
# spends one pass and one allocation fewer (~10% of the GRU's backward through time; two passes
# of LayerNorm's rule); on tensors they are the recorded ops.
def mul_fresh(fresh, b):
    """``fresh * b``, computed in ``fresh`` when both are arrays."""
    if isinstance(fresh, Tensor) or isinstance(b, Tensor):
        return fresh * b
    fresh *= b
    return fresh


def add_fresh(fresh, b):
    """``fresh + b``, computed in ``fresh`` when both are arrays."""
    if isinstance(fresh, Tensor) or isinstance(b, Tensor):
        return fresh + b
    fresh += b
    return fresh


def sub_fresh(fresh, b):
    """``fresh - b``, computed in ``fresh`` when both are arrays."""
    if isinstance(fresh, Tensor) or isinstance(b, Tensor):
        return fresh - b
    fresh -= b
    return fresh


def mul_into(spent, a, b):
    """``a * b``, written into ``spent`` (an array the caller has finished with) when both are arrays."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return a * b
    return xp.multiply(a, b, out=spent)
