"""The op table: one entry per differentiable op, drawing random inputs (shapes with broadcasting,
size-1 axes, 0-d tensors, negative axes) and giving the op and its NumPy reference."""

import numpy as np
import scipy.special
from cases_attention import CASES as ATTENTION_CASES
from cases_conv import CASES as CONV_CASES
from cases_index import CASES as INDEX_CASES
from cases_loss import CASES as LOSS_CASES
from cases_math import CASES as MATH_CASES
from cases_recurrent import CASES as RECURRENT_CASES
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_table import Case, Drawn, dim_choice, shapes, values

import chainrule as cr

# ---------------------------------------------------------------------------- elementwise


def binary(name, op, ref, low=-2.0, high=2.0, b_away=None, away=None):
    def draw(d):
        pair = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
        sa, sb = d(pair).input_shapes
        a = values(d, sa, low, high, away)
        b = values(d, sb, low, high, b_away if b_away is not None else away)
        return Drawn([a, b], op, ref)

    return Case(name, draw)


def apart(name, op, ref):
    """A binary op with a kink where a == b (maximum, minimum): a on odd tenths, b on even
    tenths, so that no broadcast pair comes closer than 0.1 (identical draws would tie everywhere,
    where the first derivative jumps and finite differences of it blow up)."""

    def draw(d):
        sa, sb = d(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)).input_shapes
        a = np.round(values(d, sa) * 5) / 5 + 0.1
        b = np.round(values(d, sb) * 5) / 5
        return Drawn([a, b], op, ref)

    return Case(name, draw)


def unary(name, op, ref, low=-2.0, high=2.0, away=None):
    def draw(d):
        return Drawn([values(d, d(shapes()), low, high, away)], op, ref)

    return Case(name, draw)


def _softplus_ref(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def _gelu_tanh_ref(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def _where_case():
    def draw(d):
        sc, sa, sb = d(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3)).input_shapes
        cond = values(d, sc) > 0
        a, b = values(d, sa), values(d, sb)
        return Drawn([a, b], lambda x, y: cr.where(cr.tensor(cond), x, y), lambda x, y: np.where(cond, x, y))

    return Case("where", draw)


def _pow_case():
    def draw(d):
        form = d(st.sampled_from(["square", "cube", "sqrt", "inverse", "tensor", "scalar_base"]))
        if form == "tensor":
            sa, sb = d(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
            return Drawn([values(d, sa, 0.5, 2.0), values(d, sb)], lambda a, b: a**b, lambda a, b: a**b)
        x = values(d, d(shapes()), 0.5, 2.0)
        if form == "scalar_base":
            return Drawn([x], lambda t: 3.0**t, lambda t: 3.0**t)
        p = {"square": 2, "cube": 3, "sqrt": 0.5, "inverse": -1}[form]
        return Drawn([x], lambda t: t**p, lambda t: t**p)

    return Case("pow", draw)


def _clip_case():
    def draw(d):
        lo, hi = d(st.sampled_from([(-0.5, 0.5), (None, 0.3), (-0.3, None)]))
        x = values(d, d(shapes()))
        # Keep values clear of the bounds, where the derivative jumps.
        for bound in (lo, hi):
            if bound is not None:
                x = np.where(np.abs(x - bound) < 0.05, bound + 0.1, x)
        return Drawn([x], lambda t: cr.clip(t, lo, hi), lambda t: np.clip(t, lo, hi))

    return Case("clip", draw)


ELEMENTWISE = [
    binary("add", lambda a, b: a + b, np.add),
    binary("sub", lambda a, b: a - b, np.subtract),
    binary("mul", lambda a, b: a * b, np.multiply),
    binary("div", lambda a, b: a / b, np.divide, b_away=0.0),
    apart("maximum", cr.maximum, np.maximum),
    apart("minimum", cr.minimum, np.minimum),
    _where_case(),
    _pow_case(),
    unary("neg", lambda t: -t, np.negative),
    unary("exp", cr.exp, np.exp),
    unary("log", cr.log, np.log, 0.2, 3.0),
    unary("log1p", cr.log1p, np.log1p, -0.5, 3.0),
    unary("sqrt", cr.sqrt, np.sqrt, 0.2, 3.0),
    unary("abs", cr.abs, np.abs, away=0.0),
    unary("sin", cr.sin, np.sin),
    unary("cos", cr.cos, np.cos),
    unary("tanh", cr.tanh, np.tanh),
    unary("sigmoid", cr.sigmoid, scipy.special.expit, -8.0, 8.0),
    unary("relu", cr.relu, lambda x: np.maximum(x, 0), away=0.0),
    unary("leaky_relu", lambda t: cr.leaky_relu(t, 0.1), lambda x: np.where(x > 0, x, 0.1 * x), away=0.0),
    unary("elu", lambda t: cr.elu(t, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), away=0.0),
    unary("gelu", cr.gelu, lambda x: x * 0.5 * (1 + scipy.special.erf(x / np.sqrt(2)))),
    unary("gelu", lambda t: cr.gelu(t, approximate="tanh"), _gelu_tanh_ref),
    unary("softplus", cr.softplus, _softplus_ref),
    unary("softplus", lambda t: cr.softplus(t, beta=2.0, threshold=1.0),
          lambda x: _softplus_ref(x, 2.0, 1.0), away=0.5),
    _clip_case(),
]

# ---------------------------------------------------------------------------- reductions


def reduction(name, op, ref, one_dim=False, min_dims=0, min_side=1):
    """``one_dim``: the op takes exactly one int dim (max/min returning values and indices)."""

    def draw(d):
        shape = d(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=min_side, max_side=4))
        dim = dim_choice(d, len(shape), allow_tuple=not one_dim, allow_none=not one_dim)
        keep = d(st.booleans())
        x = values(d, shape)
        return Drawn([x], lambda t: op(t, dim, keep), lambda a: ref(a, dim, keep))

    return Case(name, draw)


def _var_ref(correction):
    return lambda a, dim, keep: np.var(a, axis=dim, keepdims=keep, ddof=correction)


def _norm_case(p):
    def draw(d):
        shape = d(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
        dim = dim_choice(d, len(shape))
        keep = d(st.booleans())
        x = values(d, shape, away_from=0.0)  # |x| >= 0.1: every norm and its kinks stay clear of 0
        return Drawn([x], lambda t: cr.norm(t, p, dim, keep), lambda a: _norm_ref(a, p, dim, keep))

    return Case("norm", draw)


def _norm_ref(a, p, dim, keep):
    size = np.abs(a)
    if p == np.inf:
        return size.max(axis=dim, keepdims=keep)
    p = 2 if p == "fro" else p
    return (size**p).sum(axis=dim, keepdims=keep) ** (1 / p)


REDUCTIONS = [
    _norm_case("fro"),
    _norm_case(1),
    _norm_case(3),
    _norm_case(np.inf),
    reduction("sum", lambda t, d, k: t.sum(d, k), lambda a, d, k: np.sum(a, axis=d, keepdims=k)),
    reduction("mean", lambda t, d, k: t.mean(d, k), lambda a, d, k: np.mean(a, axis=d, keepdims=k)),
    # min_side=2 so that N - correction > 0 whatever axes are reduced.
    reduction("var", lambda t, d, k: t.var(d, k), _var_ref(1), min_dims=1, min_side=2),
    reduction("var", lambda t, d, k: cr.var(t, d, k, correction=0), _var_ref(0)),
    reduction("std", lambda t, d, k: t.std(d, k), lambda a, d, k: np.std(a, axis=d, keepdims=k, ddof=1),
              min_dims=1, min_side=2),
    reduction("amax", lambda t, d, k: cr.amax(t, d, k), lambda a, d, k: np.max(a, axis=d, keepdims=k)),
    reduction("amin", lambda t, d, k: cr.amin(t, d, k), lambda a, d, k: np.min(a, axis=d, keepdims=k)),
    reduction("max", lambda t, d, k: cr.max(t, d, k).values, lambda a, d, k: np.max(a, axis=d, keepdims=k),
              one_dim=True, min_dims=1),
    reduction("min", lambda t, d, k: cr.min(t, d, k).values, lambda a, d, k: np.min(a, axis=d, keepdims=k),
              one_dim=True, min_dims=1),
    reduction("max", lambda t, d, k: t.max(), lambda a, d, k: np.max(a)),
    reduction("min", lambda t, d, k: t.min(), lambda a, d, k: np.min(a)),
    reduction("logsumexp", lambda t, d, k: cr.logsumexp(t, d, k),
              lambda a, d, k: np.log(np.sum(np.exp(a), axis=d, keepdims=k))),
]

# ---------------------------------------------------------------------------- shapes


def moved(name, make):
    """``make(draw, shape) -> (op, reference)`` for an op of one tensor."""

    def draw(d):
        shape = d(shapes(min_dims=1))
        op, ref = make(d, shape)
        return Drawn([values(d, shape)], op, ref)

    return Case(name, draw)


def _reshape(d, shape):
    size = int(np.prod(shape))
    target = d(st.sampled_from([(size,), (1, size), (size, 1), (-1,), (*shape[::-1],)]))
    return (lambda t: t.reshape(target)), (lambda a: a.reshape(target))


def _view(d, shape):
    return (lambda t: cr.view(t, -1, 1)), (lambda a: a.reshape(-1, 1))


def _flatten(d, shape):
    n = len(shape)
    start = d(st.integers(-n, n - 1))
    end = d(st.integers(start % n, n - 1))

    def ref(a):
        return a.reshape(*shape[: start % n], -1, *shape[end + 1:])

    return (lambda t: cr.flatten(t, start, end)), ref


def _transpose(op):
    def make(d, shape):
        n = len(shape)
        a, b = d(st.integers(-n, n - 1)), d(st.integers(-n, n - 1))
        return (lambda t: op(t, a, b)), (lambda x: np.swapaxes(x, a, b))

    return make


def _permute(d, shape):
    order = tuple(d(st.permutations(range(len(shape)))))
    return (lambda t: t.permute(*order)), (lambda a: np.transpose(a, order))


def _squeeze(d, shape):
    dim = d(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))

    def ref(a):
        if dim is None:
            return np.squeeze(a)
        return np.squeeze(a, dim) if a.shape[dim] == 1 else a

    return (lambda t: t.squeeze(dim)), ref


def _unsqueeze(d, shape):
    dim = d(st.integers(-len(shape) - 1, len(shape)))
    return (lambda t: t.unsqueeze(dim)), (lambda a: np.expand_dims(a, dim))


def _broadcast_to(d, shape):
    target = (2, *(n if n > 1 else d(st.integers(1, 3)) for n in shape))
    return (lambda t: cr.broadcast_to(t, target)), (lambda a: np.broadcast_to(a, target))


def _expand(d, shape):
    sizes = (3, *(-1 if n > 1 else 2 for n in shape))
    target = (3, *(n if n > 1 else 2 for n in shape))
    return (lambda t: t.expand(*sizes)), (lambda a: np.broadcast_to(a, target))


def _pad(d, shape):
    pairs = d(st.integers(1, len(shape)))
    widths = tuple(d(st.integers(0, 2)) for _ in range(2 * pairs))
    np_widths = [(0, 0)] * len(shape)
    for i in range(pairs):
        np_widths[len(shape) - 1 - i] = (widths[2 * i], widths[2 * i + 1])
    return (lambda t: cr.pad(t, widths, value=0.5)), (lambda a: np.pad(a, np_widths, constant_values=0.5))


def _split(d, shape):
    dim = d(st.integers(-len(shape), len(shape) - 1))
    size = d(st.integers(1, shape[dim]))
    pick = d(st.integers(0, (shape[dim] - 1) // size))

    def ref(a):
        return np.split(a, range(size, a.shape[dim], size), axis=dim)[pick]

    return (lambda t: t.split(size, dim)[pick] * 2), (lambda a: ref(a) * 2)


def _split_sections(d, shape):
    dim = len(shape) - 1
    first = d(st.integers(0, shape[dim] - 1))
    sections = [first, shape[dim] - first]
    return (lambda t: cr.split(t, sections, dim)[1] * 2), (lambda a: np.split(a, [first], axis=dim)[1] * 2)


def _clone(d, shape):
    return (lambda t: cr.clone(t) * t), (lambda a: a * a)


def _cast(d, shape):
    # A round trip through long double keeps float64 precision, so central differences still work.
    return (lambda t: cr.cast(cr.cast(t, np.longdouble) * 2, t.dtype)), (lambda a: a * 2)


def joined(name, op, ref, new_axis):
    def draw(d):
        shape = d(shapes(min_dims=1))
        n = len(shape) + (1 if new_axis else 0)
        dim = d(st.integers(-n, n - 1))
        count = d(st.integers(1, 3))
        arrays = []
        for _ in range(count):
            s = list(shape)
            if not new_axis:
                s[dim] = d(st.integers(1, 3))
            arrays.append(values(d, tuple(s)))
        return Drawn(arrays, lambda *ts: op(ts, dim), lambda *xs: ref(xs, axis=dim))

    return Case(name, draw)


SHAPES = [
    moved("reshape", _reshape),
    moved("view", _view),
    moved("flatten", _flatten),
    moved("transpose", _transpose(cr.transpose)),
    moved("swapaxes", _transpose(cr.swapaxes)),
    moved("permute", _permute),
    moved("squeeze", _squeeze),
    moved("unsqueeze", _unsqueeze),
    moved("broadcast_to", _broadcast_to),
    moved("expand", _expand),
    moved("pad", _pad),
    moved("split", _split),
    moved("split", _split_sections),
    moved("clone", _clone),
    moved("cast", _cast),
    joined("concatenate", cr.concatenate, np.concatenate, new_axis=False),
    joined("cat", cr.cat, np.concatenate, new_axis=False),
    joined("stack", cr.stack, np.stack, new_axis=True),
]

# ---------------------------------------------------------------------------- indexing


def _index_case():
    def draw(d):
        shape = d(shapes(min_dims=1))
        x = values(d, shape)
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        forms = ["int", "slice", "neg_step", "none_ellipsis", "int_array", "repeat", "mask", "mixed"]
        form = d(st.sampled_from(forms))
        if form == "int":
            index = (int(rng.integers(-shape[0], shape[0])),)
        elif form == "slice":
            index = tuple(slice(int(rng.integers(0, n)), None) for n in shape)
        elif form == "neg_step":
            index = (slice(None, None, -1),) + (slice(None, None, 2),) * (len(shape) - 1)
        elif form == "none_ellipsis":
            index = (None, Ellipsis, slice(0, 1))
        elif form == "int_array":
            index = (rng.integers(-shape[0], shape[0], size=5),)
        elif form == "repeat":
            index = (np.array([0, 0, shape[0] - 1, 0]),)
        elif form == "mask":
            index = (rng.random(shape) > 0.4,)
        else:
            index = (slice(None), [0, 0]) if len(shape) > 1 and shape[1] >= 1 else ([0, 0],)
        return Drawn([x], lambda t: t[index] * 3, lambda a: a[index] * 3)

    return Case("getitem", draw)


def _index_put_case():
    """x[index] = value, value broadcast to the selection; indices do not repeat (which of two
    writes to one element wins is unspecified, as in PyTorch)."""

    def draw(d):
        shape = d(shapes(min_dims=1))
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        form = d(st.sampled_from(["slice", "int_array", "mask", "int"]))
        if form == "slice":
            index = (slice(int(rng.integers(0, shape[0])), None),)
        elif form == "int_array":
            index = (rng.permutation(shape[0])[: int(rng.integers(1, shape[0] + 1))],)
        elif form == "mask":
            index = (rng.random(shape) > 0.4,)
            index[0].flat[0] = True  # an empty selection would leave the value nothing to check
        else:
            index = (int(rng.integers(-shape[0], shape[0])),)
        selected = np.empty(shape)[index].shape
        value_shape = selected[d(st.integers(0, len(selected))):]  # a trailing part broadcasts

        def ref(a, v):
            out = a.copy()
            out[index] = v
            return out

        return Drawn([values(d, shape), values(d, value_shape)], lambda t, v: cr.index_put(t, index, v) * 3,
                     lambda a, v: ref(a, v) * 3)

    return Case("index_put", draw)


def _index_scatter_case():
    """The gradient of x[index] as an op of its own (its rule is indexing again)."""
    from chainrule.ops.indexing import index_scatter

    def draw(d):
        shape = d(shapes(min_dims=1))
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        form = d(st.sampled_from(["slice", "repeat", "mask"]))
        if form == "slice":
            index = (slice(None, None, -1),)
        elif form == "repeat":
            index = (np.array([0, 0, shape[0] - 1]),)
        else:
            index = (rng.random(shape) > 0.4,)
            index[0].flat[0] = True  # an empty selection leaves nothing to check

        def ref(v):
            out = np.zeros(shape)
            np.add.at(out, index, v)
            return out

        return Drawn([values(d, np.empty(shape)[index].shape)], lambda v: index_scatter(v, index, shape), ref)

    return Case("index_scatter", draw)


def _spread_case():
    """The gradient of a sum as an op of its own (its rule is a sum)."""
    from chainrule.ops.reduce import spread

    def draw(d):
        shape = d(shapes(min_dims=0))
        axes = dim_choice(d, len(shape))
        axes = tuple(range(len(shape))) if axes is None else (axes,) if isinstance(axes, int) else axes
        axes = tuple(a % len(shape) for a in axes)
        kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
        g_shape = d(st.sampled_from([kept, tuple(n for i, n in enumerate(shape) if i not in axes)]))
        return Drawn([values(d, g_shape)], lambda g: spread(g, kept, shape),
                     lambda g: np.broadcast_to(g.reshape(kept), shape).copy())

    return Case("spread", draw)


def _along_case(name):
    """take_along and scatter_along (max/min's gradient along one dim), each the other's rule."""
    from chainrule.ops.indexing import scatter_along, take_along

    def draw(d):
        shape = d(shapes(min_dims=1))
        axis = d(st.integers(0, len(shape) - 1))
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        kept = tuple(1 if i == axis else n for i, n in enumerate(shape))
        indices = rng.integers(0, shape[axis], size=kept)
        if name == "take_along":
            return Drawn([values(d, shape)], lambda t: take_along(t, indices, axis),
                         lambda a: np.take_along_axis(a, indices, axis))

        def ref(v):
            out = np.zeros(shape)
            np.put_along_axis(out, indices, v, axis)
            return out

        return Drawn([values(d, kept)], lambda v: scatter_along(v, indices, axis, shape), ref)

    return Case(name, draw)


def _matmul_case():
    def draw(d):
        form = d(st.sampled_from(["vv", "mv", "vm", "mm", "batched", "broadcast"]))
        n, k, m = d(st.integers(1, 4)), d(st.integers(1, 4)), d(st.integers(1, 4))
        sa, sb = {
            "vv": ((k,), (k,)), "mv": ((n, k), (k,)), "vm": ((k,), (k, m)), "mm": ((n, k), (k, m)),
            "batched": ((2, n, k), (2, k, m)), "broadcast": ((3, 1, n, k), (2, k, m)),
        }[form]
        return Drawn([values(d, sa), values(d, sb)], lambda a, b: a @ b, np.matmul)

    return Case("matmul", draw)


def _softmax_case(name, op, ref):
    def draw(d):
        shape = d(shapes(min_dims=1))
        dim = d(st.integers(-len(shape), len(shape) - 1))
        return Drawn([values(d, shape, -4, 4)], lambda t: op(t, dim), lambda a: ref(a, axis=dim))

    return Case(name, draw)


def _linear_case():
    def draw(d):
        lead = d(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
        n_in, n_out = d(st.integers(1, 4)), d(st.integers(1, 4))
        with_bias = d(st.booleans())
        arrays = [values(d, (*lead, n_in)), values(d, (n_out, n_in))]
        if with_bias:
            arrays.append(values(d, (n_out,)))
        return Drawn(arrays, cr.linear, lambda x, w, b=0.0: x @ w.T + b)

    return Case("linear", draw)


OTHERS = [
    _index_case(),
    _index_put_case(),
    _index_scatter_case(),
    _spread_case(),
    _along_case("take_along"),
    _along_case("scatter_along"),
    _linear_case(),
    _matmul_case(),
    _softmax_case("softmax", cr.softmax, scipy.special.softmax),
    _softmax_case("log_softmax", cr.log_softmax, scipy.special.log_softmax),
]

CASES = ELEMENTWISE + REDUCTIONS + SHAPES + OTHERS + LOSS_CASES + CONV_CASES + RECURRENT_CASES
CASES += MATH_CASES
CASES += INDEX_CASES
CASES += ATTENTION_CASES
