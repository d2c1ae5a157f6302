"""Op-table cases for issue 17's math: rounding (a zero gradient between the jumps), more
elementwise functions, the floating binary ops, remainders and rounded division, products and
running sums and products. Values keep clear of jumps and singularities, where finite
differences mean nothing."""

import numpy as np
import scipy.special
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_table import Case, Drawn, shapes, values

import chainrule as cr


def _unary(name, op, ref, low=-2.0, high=2.0, away=None):
    def draw(d):
        return Drawn([values(d, d(shapes()), low, high, away)], op, ref)

    return Case(name, draw)


def _binary(name, op, ref, low=-2.0, high=2.0, away=None):
    def draw(d):
        sa, sb = d(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)).input_shapes
        return Drawn([values(d, sa, low, high, away), values(d, sb, low, high, away)], op, ref)

    return Case(name, draw)


def _between_jumps(d, shape, step):
    """Values a quarter of ``step`` from the nearest multiple of ``step / 2`` (up to 0.05 step):
    clear of the jumps of floor, ceil, trunc (multiples of step) and round (odd multiples of step/2)."""
    rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
    whole = rng.integers(-6, 6, size=shape)
    offset = rng.choice([0.25, 0.75], size=shape) + rng.uniform(-0.05, 0.05, size=shape)
    return (whole + offset) * step


def _rounding(name, op, ref):
    """A piecewise-constant op times its input, so that its zero gradient meets a second
    derivative too (the zero alone would leave gradgradcheck nothing to differentiate)."""

    def draw(d):
        return Drawn([_between_jumps(d, d(shapes()), 1.0)], lambda t: op(t) * t, lambda a: ref(a) * a)

    return Case(name, draw)


def _round_case():
    def draw(d):
        decimals = d(st.sampled_from([0, 1, -1]))
        x = _between_jumps(d, d(shapes()), 10.0**-decimals)
        return Drawn([x], lambda t: cr.round(t, decimals=decimals) * t, lambda a: np.round(a, decimals) * a)

    return Case("round", draw)


def _dividing(name, op, ref):
    """a and b with a / b a quarter away from every integer, where remainders and rounded
    quotients jump: b broadcasts against a (a trailing part of a's shape, some sides 1). ``op``
    and ``ref`` may be lists to sample from (forms of one op)."""

    def draw(d):
        form = d(st.integers(0, len(op) - 1)) if isinstance(op, list) else None
        pick_op, pick_ref = (op, ref) if form is None else (op[form], ref[form])
        shape_a = d(shapes())
        cut = d(st.integers(0, len(shape_a)))
        shape_b = tuple(n if d(st.booleans()) else 1 for n in shape_a[cut:])
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        b = rng.choice([-1.0, 1.0], size=shape_b) * rng.uniform(0.5, 1.5, size=shape_b)
        quotient = _between_jumps(d, shape_a, 1.0)
        return Drawn([np.broadcast_to(b, shape_a) * quotient, b], pick_op, pick_ref)

    return Case(name, draw)


def _lerp_case():
    def draw(d):
        form = d(st.sampled_from(["number", "tensor"]))
        if form == "number":
            sa, sb = d(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
            w = d(st.sampled_from([0.25, 0.7, 1.5]))
            return Drawn([values(d, sa), values(d, sb)], lambda a, b: cr.lerp(a, b, w), lambda a, b: a + w * (b - a))
        sa, sb, sw = d(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3)).input_shapes
        return Drawn([values(d, sa), values(d, sb), values(d, sw, 0.0, 1.0)], cr.lerp, lambda a, b, w: a + w * (b - a))

    return Case("lerp", draw)


def _dist_case():
    def draw(d):
        p = d(st.sampled_from([2.0, 1.0, 3.0]))
        sa, sb = d(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
        # a on odd tenths, b on even ones: |a - b| >= 0.1, clear of the kinks of |.|
        a = np.round(values(d, sa) * 5) / 5 + 0.1
        b = np.round(values(d, sb) * 5) / 5

        def ref(x, y):
            return (np.abs(x - y) ** p).sum() ** (1 / p)

        return Drawn([a, b], lambda x, y: cr.dist(x, y, p), ref)

    return Case("dist", draw)


def _clamp_case():
    """clamp with tensor bounds, which get gradients too: x on odd tenths, the bounds on even
    ones (min below max), so that no broadcast pair is closer than 0.1 to a kink."""

    def draw(d):
        form = d(st.sampled_from(["both", "min", "max"]))
        sx, slo, shi = d(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3)).input_shapes
        x = np.round(values(d, sx) * 5) / 5 + 0.1
        lo = np.round(values(d, slo, -1.0, -0.2) * 5) / 5
        hi = np.round(values(d, shi, 0.2, 1.0) * 5) / 5
        if form == "both":
            return Drawn([x, lo, hi], cr.clamp, np.clip)
        if form == "min":
            return Drawn([x, lo], lambda t, b: t.clamp_min(b), np.maximum)
        return Drawn([x, hi], lambda t, b: cr.clamp(t, max=b), np.minimum)

    return Case("clip", draw)


def _cdist_case():
    def draw(d):
        p = d(st.sampled_from([2.0, 1.0, 3.0]))
        batch = d(st.sampled_from([(), (2,)]))
        rows1, rows2, features = d(st.integers(1, 3)), d(st.integers(1, 3)), d(st.integers(1, 3))
        # odd and even tenths: every coordinate difference is at least 0.1, clear of |.|'s kink
        a = np.round(values(d, (*batch, rows1, features)) * 5) / 5 + 0.1
        b = np.round(values(d, (*batch, rows2, features)) * 5) / 5

        def ref(x, y):
            return (np.abs(x[..., :, None, :] - y[..., None, :, :]) ** p).sum(-1) ** (1 / p)

        return Drawn([a, b], lambda x, y: cr.cdist(x, y, p), ref)

    return Case("cdist", draw)


def _product_case():
    """prod over everything or one dim (PyTorch's prod takes no tuple)."""

    def draw(d):
        shape = d(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
        dim = None if not shape or d(st.booleans()) else d(st.integers(-len(shape), len(shape) - 1))
        keep = d(st.booleans())
        x = values(d, shape, 0.5, 1.5) * np.where(values(d, shape) > 0, 1.0, -1.0)
        if dim is None:
            return Drawn([x], lambda t: cr.prod(t), lambda a: np.prod(a))
        return Drawn([x], lambda t: cr.prod(t, dim, keep), lambda a: np.prod(a, axis=dim, keepdims=keep))

    return Case("prod", draw)


def _running_case(name, op, ref):
    def draw(d):
        shape = d(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
        dim = d(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
        x = values(d, shape, 0.5, 1.5) * np.where(values(d, shape) > 0, 1.0, -1.0)
        return Drawn([x], lambda t: op(t, dim), lambda a: ref(a.reshape(a.shape or (1,)), dim).reshape(a.shape))

    return Case(name, draw)


CASES = [
    _rounding("floor", cr.floor, np.floor),
    _rounding("ceil", lambda t: t.ceil(), np.ceil),
    _rounding("trunc", cr.trunc, np.trunc),
    _round_case(),
    _rounding("frac", lambda t: t.frac(), lambda a: a - np.trunc(a)),
    _unary("sign", lambda t: cr.sign(t) * t, lambda a: np.sign(a) * a, away=0.0),
    _unary("tan", cr.tan, np.tan, -1.2, 1.2),
    _unary("asin", cr.asin, np.arcsin, -0.9, 0.9),
    _unary("acos", lambda t: t.acos(), np.arccos, -0.9, 0.9),
    _unary("atan", cr.atan, np.arctan),
    _unary("sinh", cr.sinh, np.sinh),
    _unary("cosh", lambda t: t.cosh(), np.cosh),
    _unary("asinh", cr.asinh, np.arcsinh),
    _unary("acosh", cr.acosh, np.arccosh, 1.2, 3.0),
    _unary("atanh", cr.atanh, np.arctanh, -0.9, 0.9),
    _unary("log2", cr.log2, np.log2, 0.2, 3.0),
    _unary("log10", lambda t: t.log10(), np.log10, 0.2, 3.0),
    _unary("exp2", cr.exp2, np.exp2),
    _unary("expm1", cr.expm1, np.expm1),
    _unary("rsqrt", lambda t: t.rsqrt(), lambda a: 1 / np.sqrt(a), 0.2, 3.0),
    _unary("reciprocal", cr.reciprocal, np.reciprocal, away=0.0),
    _unary("square", lambda t: t.square(), np.square),
    _unary("erf", cr.erf, scipy.special.erf),
    _unary("erfc", cr.erfc, scipy.special.erfc),
    _unary("erfinv", lambda t: t.erfinv(), scipy.special.erfinv, -0.9, 0.9),
    _unary("logit", lambda t: cr.logit(t) + t.logit(eps=0.05), lambda a: 2 * scipy.special.logit(a), 0.1, 0.9),
    _unary("nan_to_num", cr.nan_to_num, np.nan_to_num),
    _binary("atan2", cr.atan2, np.arctan2, away=0.0),
    _binary("hypot", lambda a, b: a.hypot(b), np.hypot, away=0.0),
    _binary("logaddexp", cr.logaddexp, np.logaddexp),
    _binary("logaddexp2", lambda a, b: a.logaddexp2(b), np.logaddexp2),
    _lerp_case(),
    _dividing("fmod", cr.fmod, np.fmod),
    _dividing(
        "remainder",
        [lambda a, b: a % b, lambda a, b: 2.5 % b + a.remainder(b)],
        [np.remainder, lambda a, b: np.remainder(2.5, b) + np.remainder(a, b)],
    ),
    _dividing("floor_divide", lambda a, b: a // b + a, lambda a, b: np.floor_divide(a, b) + a),
    _dividing(
        "div",
        [lambda a, b: cr.div(a, b, rounding_mode="trunc") + a * b, lambda a, b: a.div(b, rounding_mode="floor") * b],
        [lambda a, b: np.trunc(a / b) + a * b, lambda a, b: np.floor_divide(a, b) * b],
    ),
    _clamp_case(),
    _product_case(),
    _running_case("cumsum", cr.cumsum, lambda a, dim: np.cumsum(a, axis=dim)),
    _running_case("cumprod", lambda t, dim: t.cumprod(dim), lambda a, dim: np.cumprod(a, axis=dim)),
    _dist_case(),
    _cdist_case(),
]
