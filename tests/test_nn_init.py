"""Initialisers: sample statistics match the formulas; gains; orthogonality; errors."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import init


def _big(*shape):
    return cr.empty(*shape, dtype=cr.float64)


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize(
    ("fill", "expected_var"),
    [
        (lambda t: init.xavier_uniform_(t), 2 / (300 + 200)),
        (lambda t: init.xavier_normal_(t, gain=2.0), 4 * 2 / (300 + 200)),
        (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), 2 / 300),
        (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), 2 / 200),
        (lambda t: init.kaiming_normal_(t, a=0.1), 2 / (1 + 0.01) / 300),
        (lambda t: init.normal_(t, 1.0, 0.5), 0.25),
        (lambda t: init.uniform_(t, -3, 3), 3.0),
    ],
)
def test_sample_variance_matches_the_formula(fill, expected_var):
    cr.manual_seed(0)
    t = fill(_big(200, 300))
    assert t._data.var() == pytest.approx(expected_var, rel=0.03)


def test_fans_of_conv_weights_count_the_receptive_field():
    cr.manual_seed(0)
    t = init.kaiming_normal_(_big(64, 16, 3, 3), nonlinearity="relu")
    assert t._data.var() == pytest.approx(2 / (16 * 9), rel=0.05)


def test_uniform_bounds_and_constants():
    t = init.xavier_uniform_(_big(50, 70))
    assert np.abs(t._data).max() <= math.sqrt(6 / 120)
    assert (init.constant_(_big(3), 2.5)._data == 2.5).all()
    assert (init.zeros_(_big(3))._data == 0).all() and (init.ones_(_big(3))._data == 1).all()


def test_orthogonal_rows_or_columns_are_orthonormal():
    tall = init.orthogonal_(_big(6, 3))._data
    np.testing.assert_allclose(tall.T @ tall, np.eye(3), atol=1e-12)
    wide = init.orthogonal_(_big(3, 6), gain=2.0)._data
    np.testing.assert_allclose(wide @ wide.T, 4 * np.eye(3), atol=1e-12)


def test_init_is_reproducible_with_manual_seed():
    cr.manual_seed(5)
    a = init.normal_(_big(4))._data.copy()
    cr.manual_seed(5)
    np.testing.assert_array_equal(init.normal_(_big(4))._data, a)


def test_fan_needs_two_dims():
    with pytest.raises(ValueError, match=r"at least 2 dims, got shape \(5,\)"):
        init.xavier_uniform_(_big(5))


@pytest.mark.parametrize("call, error, message", [
    (lambda w: init.uniform_(w, 1.0, 0.0), ValueError, r"uniform_: expected a <= b, got a=1\.0, b=0\.0"),
    (lambda w: init.uniform_(w, float("-inf"), 0.0), ValueError, r"uniform_: a must be a finite number, got -inf"),
    (lambda w: init.normal_(w, std=-1.0), ValueError, r"normal_: std must be a finite number >= 0, got -1\.0"),
    (lambda w: init.normal_(w, mean=float("nan")), ValueError, r"normal_: mean must be a finite number, got nan"),
    (lambda w: init.constant_(w, "a"), TypeError, r"constant_: val must be a number, got str 'a'"),
    (lambda w: init.orthogonal_(w, gain="x"), TypeError, r"orthogonal_: gain must be a finite number, got 'x' \(str\)"),
    (lambda w: init.xavier_uniform_(w, gain=None), TypeError, r"xavier_uniform_: gain must be a finite number"),
    (lambda w: init.kaiming_uniform_(w, mode="fan_up"), ValueError,
     r"kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got 'fan_up'"),
    (lambda w: init.calculate_gain("leaky_relu", "a"), TypeError,
     r"calculate_gain: negative_slope must be a finite number"),
    (lambda w: init.calculate_gain(None), TypeError, r"calculate_gain: nonlinearity must be a name"),
    (lambda w: init.uniform_([1.0, 2.0]), TypeError, r"uniform_: expected a Tensor to fill, got list"),
    (lambda w: init.normal_(cr.zeros(2, 2, dtype="int64")), TypeError, r"normal_: expected a floating tensor"),
])  # fmt: skip
def test_initialisers_name_a_bad_argument(call, error, message):
    w = cr.zeros(3, 4)
    with pytest.raises(error, match=message):
        call(w)
    np.testing.assert_array_equal(w._data, 0)  # nothing was written
