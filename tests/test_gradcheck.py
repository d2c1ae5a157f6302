"""gradcheck itself: it accepts right rules and rejects a rule that is slightly wrong."""

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import GradcheckError, gradcheck
from chainrule.autograd.engine import record


def _cube_with_rule(scale):
    """x**3 recorded with the VJP 3x^2 * scale: right for scale == 1."""

    def op(x):
        d = x._data
        return record("Cube", d**3, (x,), lambda g: (g * 3 * d * d * scale,))

    return op


def test_accepts_a_correct_rule():
    x = cr.randn(2, 3, dtype=cr.float64, requires_grad=True)
    assert gradcheck(_cube_with_rule(1.0), (x,))


def test_rejects_a_rule_one_percent_off_and_names_the_element():
    x = cr.tensor([[0.5, -1.0, 2.0]], dtype=cr.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(1, 3\)\).*element \(0, 2\)") as info:
        gradcheck(_cube_with_rule(1.01), (x,))
    analytic, numerical = re.search(r"analytic (\S+), numerical (\S+) ", str(info.value)).groups()
    assert float(analytic) / float(numerical) == pytest.approx(1.01, rel=1e-6)


def test_returns_false_when_asked_not_to_raise():
    x = cr.randn(4, dtype=cr.float64, requires_grad=True)
    assert gradcheck(_cube_with_rule(0.9), (x,), raise_exception=False) is False


def test_rejects_a_rule_wrong_in_one_output_direction_only():
    # out = [x0 * x1, x0 + x1] with the second row of the Jacobian wrong.
    def op(x):
        d = x._data
        out = np.array([d[0] * d[1], d[0] + d[1]])
        return record("Pair", out, (x,), lambda g: (np.array([g[0] * d[1] + g[1], g[0] * d[0] + 2 * g[1]]),))

    x = cr.tensor([1.5, -0.5], dtype=cr.float64, requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(op, (x,))


def test_checks_only_inputs_that_require_grad_and_converts_float32():
    x = cr.randn(3, requires_grad=True)  # float32: checked in float64
    c = cr.randn(3)
    assert gradcheck(lambda a, b: (a * b).exp(), (x, c))


def test_refuses_inputs_without_requires_grad():
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        gradcheck(lambda a: a * 2, (cr.randn(2),))


def test_gradcheck_perturbs_column_major_inputs_in_place():
    """A reshape of an F-ordered array is a copy: perturbing it would leave the input unchanged."""
    x = cr.tensor(np.asfortranarray(np.random.default_rng(0).standard_normal((3, 4))), requires_grad=True)
    assert gradcheck(lambda t: (t * t).sum(), (x,))


@pytest.mark.parametrize("call, error, message", [
    (lambda x: gradcheck(lambda t: t.sum(), cr.zeros(0, dtype="float64", requires_grad=True)), ValueError,
     "the inputs that require grad hold no elements, so there is nothing to check"),
    (lambda x: gradcheck(lambda t: t[:0] * 2, x), ValueError,
     r"fn's outputs hold no elements \(shapes \[\(0,\)\]\), so there is nothing to check"),
    (lambda x: gradcheck(lambda t: t.sum(), x, eps=0), ValueError, r"gradcheck: eps must be a finite number > 0"),
    (lambda x: gradcheck(lambda t: t.sum(), x, atol=-1), ValueError, r"gradcheck: atol must be a finite number >= 0"),
    (lambda x: gradcheck(lambda t: t.sum(), x, rtol="0.1"), TypeError, r"gradcheck: rtol must be a finite number"),
    (lambda x: gradcheck(3, x), TypeError, r"gradcheck: fn must be callable, got int"),
])  # fmt: skip
def test_a_check_that_would_check_nothing_or_takes_bad_settings_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call(cr.ones(3, dtype="float64", requires_grad=True))
