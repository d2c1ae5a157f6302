"""Op-table cases for issue 18's activations: the elementwise ones with rules of their own (values
kept 0.1 clear of every kink, where finite differences mean nothing), PReLU's two inputs (shared
and per-channel slopes) and the compositions of nn.functional (glu, softsign, softmin,
tanhshrink). The references are NumPy formulas written here."""

import numpy as np
import scipy.special
from hypothesis import strategies as st
from op_table import Case, Drawn, shapes, values

import chainrule as cr
from chainrule.nn import functional as F

_SIXTH = float(np.float32(1 / 6))  # (the slope only: PyTorch's float32 1/6, see ops.unary.hardsigmoid)
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _clear_of(x, kinks):
    """x with every value within 0.1 of a kink moved 0.1 to 0.2 away from it, on its side (the
    kinks must lie more than 0.4 apart)."""
    for kink in kinks:
        near = np.abs(x - kink) < 0.1
        x = np.where(near, kink + np.where(x >= kink, 1.0, -1.0) * (0.1 + np.abs(x - kink)), x)
    return x


def _elementwise(name, op, ref, low=-2.0, high=2.0, kinks=()):
    def draw(d):
        return Drawn([_clear_of(values(d, d(shapes()), low, high), kinks)], op, ref)

    return Case(name, draw)


def _sigmoid(x):
    return scipy.special.expit(x)


def _elu_ref(x, alpha, scale=1.0, input_scale=1.0):
    return np.where(x > 0, scale * x, scale * alpha * np.expm1(x * input_scale))


def _prelu_case():
    def draw(d):
        layout = d(st.sampled_from(["shared", "channels", "vector", "scalar"]))
        if layout == "scalar":
            shape, count = (), 1
        elif layout == "vector":
            shape, count = (d(st.integers(1, 4)),), 1
        else:
            shape = (
                d(st.integers(1, 3)),
                d(st.integers(1, 3)),
                *(d(st.integers(1, 3)) for _ in range(d(st.integers(0, 2)))),
            )
            count = shape[1] if layout == "channels" else 1
        x = _clear_of(values(d, shape), [0.0])
        w = values(d, (count,), 0.05, 0.8)
        kept = (1, count) + (1,) * (len(shape) - 2) if count > 1 else ()

        def ref(a, w):
            return np.where(a > 0, a, a * w.reshape(kept))

        return Drawn([x, w], cr.prelu, ref)

    return Case("prelu", draw)


def _glu_case():
    def draw(d):
        shape = list(d(shapes(min_dims=1)))
        axis = d(st.integers(-len(shape), len(shape) - 1))
        shape[axis] *= 2

        def ref(a):
            first, second = np.split(a, 2, axis=axis)
            return first * _sigmoid(second)

        return Drawn([values(d, tuple(shape))], lambda t: F.glu(t, axis), ref)

    return Case("glu", draw)


def _softmin_case():
    def draw(d):
        shape = d(shapes(min_dims=1))
        dim = d(st.integers(-len(shape), len(shape) - 1))
        return Drawn([values(d, shape, -4, 4)], lambda t: F.softmin(t, dim), lambda a: scipy.special.softmax(-a, dim))

    return Case("softmin", draw)


CASES = [
    _elementwise("silu", cr.silu, lambda x: x * _sigmoid(x), -6.0, 6.0),
    _elementwise("mish", cr.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), -6.0, 6.0),
    _elementwise("logsigmoid", cr.logsigmoid, lambda x: -np.logaddexp(0, -x), -30.0, 30.0),
    _elementwise("relu6", cr.relu6, lambda x: np.clip(x, 0, 6), -2.0, 8.0, kinks=(0, 6)),
    _elementwise("hardtanh", lambda t: cr.hardtanh(t, -0.5, 1.2), lambda x: np.clip(x, -0.5, 1.2), kinks=(-0.5, 1.2)),
    _elementwise("hardtanh", cr.hardtanh, lambda x: np.clip(x, -1, 1), kinks=(-1, 1)),
    _elementwise("hardswish", cr.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6, -5.0, 5.0, kinks=(-3, 3)),
    _elementwise("hardsigmoid", cr.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6, -5.0, 5.0, kinks=(-3, 3)),
    _elementwise("selu", cr.selu, lambda x: _elu_ref(x, _SELU_ALPHA, _SELU_SCALE), kinks=(0,)),
    _elementwise("celu", cr.celu, lambda x: _elu_ref(x, 1.0), kinks=(0,)),
    _elementwise("celu", lambda t: cr.celu(t, 0.7), lambda x: _elu_ref(x, 0.7, 1.0, 1 / 0.7), kinks=(0,)),
    _elementwise("threshold", lambda t: cr.threshold(t, 0.3, -2.0), lambda x: np.where(x > 0.3, x, -2.0), kinks=(0.3,)),
    _elementwise(
        "softshrink",
        cr.softshrink,
        lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)),
        kinks=(-0.5, 0.5),
    ),
    _elementwise("softshrink", lambda t: cr.softshrink(t, 0.0), lambda x: x, kinks=(0,)),
    _elementwise(
        "hardshrink", lambda t: cr.hardshrink(t, 0.8), lambda x: np.where(np.abs(x) > 0.8, x, 0), kinks=(-0.8, 0.8)
    ),
    _elementwise("softsign", F.softsign, lambda x: x / (1 + np.abs(x)), -4.0, 4.0, kinks=(0,)),
    _elementwise("tanhshrink", F.tanhshrink, lambda x: x - np.tanh(x)),
    _prelu_case(),
    _glu_case(),
    _softmin_case(),
]
