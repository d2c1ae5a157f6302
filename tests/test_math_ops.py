"""Issue 17's math beyond the op table: rounding and its zero gradient, dtypes (bool tests,
integer remainders and quotients, sum/mean/prod dtype=), Python numbers on either side of % and
//, products and running products at zeros, value tests, F.normalize and the argument errors."""

import math

import numpy as np
import pytest
import scipy.special

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck, gradgradcheck


def _f64(values, requires_grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------------------- rounding


def test_round_takes_halves_to_even_and_rounds_to_decimals():
    x = cr.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 1.2345, 1234.5], dtype=cr.float64)
    assert cr.round(x).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, 1.0, 1234.0]
    np.testing.assert_allclose(x.round(decimals=2)._data, [0.5, 1.5, 2.5, -0.5, -1.5, 1.23, 1234.5])
    hundreds = cr.tensor([1234.5, 1250.0, 1350.0], dtype=cr.float64)
    assert cr.round(hundreds, decimals=-2).tolist() == [1200.0, 1200.0, 1400.0]


@pytest.mark.parametrize("name, expected", [
    ("floor", [1.0, -3.0, 0.0, 3.0]), ("ceil", [2.0, -2.0, 0.0, 4.0]), ("trunc", [1.0, -2.0, 0.0, 3.0]),
    ("round", [2.0, -2.0, 0.0, 4.0]), ("sign", [1.0, -1.0, 0.0, 1.0]), ("sgn", [1.0, -1.0, 0.0, 1.0]),
])  # fmt: skip
def test_piecewise_constant_ops_record_a_zero_gradient(name, expected):
    """As PyTorch: the result requires grad (backward runs) and the gradient is 0."""
    x = cr.tensor([1.5, -2.3, 0.0, 3.7], requires_grad=True)
    out = getattr(cr, name)(x)
    assert out.tolist() == expected and out.requires_grad and out.dtype == cr.float32
    (out * 3).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, np.zeros(4, dtype=np.float32))


def test_frac_keeps_the_sign_and_passes_the_gradient():
    x = _f64([-1.75, 2.25, 3.0])
    out = x.frac()
    assert out.tolist() == [-0.75, 0.25, 0.0]
    out.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_rounding_an_integer_tensor_gives_a_copy_of_it():
    i = cr.tensor([3, -4, 0])
    for name in ("floor", "ceil", "trunc", "round"):
        out = getattr(i, name)()
        assert out.dtype == cr.int64 and out.tolist() == [3, -4, 0]
        assert not np.shares_memory(out._data, i._data)
    assert cr.sign(i).tolist() == [1, -1, 0] and cr.sign(i).dtype == cr.int64
    assert cr.sign(cr.tensor([True, False])).tolist() == [True, False]


def test_sign_is_zero_at_nan_as_pytorch():
    assert cr.sign(cr.tensor([np.nan, -np.inf, np.inf])).tolist() == [0.0, -1.0, 1.0]


def test_round_rejects_non_integer_decimals():
    with pytest.raises(TypeError, match=r"round: decimals must be an int, got float 1\.5"):
        cr.round(cr.tensor([1.0]), decimals=1.5)


# ---------------------------------------------------------------------------- elementwise math


def test_math_of_integer_tensors_gives_the_default_floating_dtype():
    i = cr.tensor([1, 2])
    for name in ("erf", "tan", "atan", "log2", "exp2", "rsqrt", "reciprocal", "sinh", "expm1"):
        assert getattr(cr, name)(i).dtype == cr.float32, name
    assert cr.atan2(i, cr.tensor([2, 1])).dtype == cr.float32
    assert cr.square(i).dtype == cr.int64 and cr.square(i).tolist() == [1, 4]


def test_erfinv_inverts_erf_also_without_scipy():
    from chainrule.ops.unary import _erfinv_newton

    y = np.array([-0.999, -0.9, -0.3, 0.0, 1e-6, 0.5, 0.99, 0.999999])
    np.testing.assert_allclose(cr.erfinv(cr.tensor(y, dtype=cr.float64))._data, scipy.special.erfinv(y), rtol=1e-13)
    np.testing.assert_allclose(_erfinv_newton(y), scipy.special.erfinv(y), rtol=1e-12, atol=1e-15)
    edges = _erfinv_newton(np.array([1.0, -1.0, 1.5]))
    assert edges[0] == np.inf and edges[1] == -np.inf and np.isnan(edges[2])


def test_rsqrt_and_reciprocal_of_zero_are_infinite_without_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cr.rsqrt(cr.tensor([0.0])).tolist() == [math.inf]
        assert cr.reciprocal(cr.tensor([0.0, -0.0])).tolist() == [math.inf, -math.inf]


def test_logit_with_eps_clamps_first_and_stops_the_gradient_outside():
    x = _f64([0.01, 0.5, 0.995])
    out = cr.logit(x, eps=0.05)
    np.testing.assert_allclose(out._data, scipy.special.logit([0.05, 0.5, 0.95]))
    out.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 4.0, 0.0])
    assert cr.logit(cr.tensor([0.0, 1.0])).tolist() == [-math.inf, math.inf]


def test_nan_to_num_replaces_and_passes_the_gradient_where_finite():
    x = _f64([np.nan, np.inf, -np.inf, 1.5])
    out = cr.nan_to_num(x, nan=2.0, posinf=3.0)
    assert out.tolist()[:2] == [2.0, 3.0] and out.tolist()[2] == np.finfo(np.float64).min
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0]


def test_binary_math_at_hand_worked_points():
    a, b = _f64([3.0]), _f64([4.0])
    out = cr.hypot(a, b)
    assert out.tolist() == [5.0]
    out.backward(np.ones(1))
    np.testing.assert_allclose([a.grad[0], b.grad[0]], [0.6, 0.8])
    np.testing.assert_allclose(cr.atan2(_f64([1.0, -1.0]), _f64([-1.0, -1.0]))._data, [0.75 * np.pi, -0.75 * np.pi])
    big = cr.logaddexp(_f64([1000.0]), _f64([1000.0]))
    np.testing.assert_allclose(big._data, [1000.0 + math.log(2)])  # no overflow
    np.testing.assert_allclose(cr.logaddexp2(_f64([3.0]), _f64([3.0]))._data, [4.0])


def test_lerp_takes_a_number_or_a_tensor_weight_and_differentiates_all_three():
    start, end = _f64([1.0, 2.0]), _f64([3.0, 6.0])
    assert cr.lerp(start, end, 0.5).tolist() == [2.0, 4.0]
    weight = _f64([0.25, 1.0])
    out = start.lerp(end, weight)
    assert out.tolist() == [1.5, 6.0]
    out.sum().backward()
    assert start.grad.tolist() == [0.75, 0.0] and end.grad.tolist() == [0.25, 1.0]
    assert weight.grad.tolist() == [2.0, 4.0]
    with pytest.raises(TypeError, match="lerp: input must be a floating tensor, got int64"):
        cr.lerp(cr.tensor([1, 2]), end, 0.5)


def test_clamp_with_tensor_bounds_sends_the_gradient_to_the_bound_that_is_the_result():
    x = _f64([-2.0, 0.5, 3.0, 0.0])
    lo, hi = _f64([-1.0, -1.0, -1.0, 1.0]), _f64([1.0, 1.0, 1.0, -1.0])  # the last: min > max
    out = cr.clamp(x, lo, hi)
    assert out.tolist() == [-1.0, 0.5, 1.0, -1.0]  # max wins where min > max, as PyTorch
    out.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    assert x.grad.tolist() == [0.0, 2.0, 0.0, 0.0]
    assert lo.grad.tolist() == [1.0, 0.0, 0.0, 0.0] and hi.grad.tolist() == [0.0, 0.0, 3.0, 4.0]
    assert x.clamp_max(0.0).tolist() == [-2.0, 0.0, 0.0, 0.0] and cr.clamp_min(x, 0.0).tolist() == [0.0, 0.5, 3.0, 0.0]


def test_abs_and_clamp_of_integer_tensors_stay_integer_unless_a_bound_is_floating():
    i = cr.tensor([-7, 1, 5])
    assert cr.abs(i).tolist() == [7, 1, 5] and cr.abs(i).dtype == cr.int64
    assert i.clamp(0, 3).tolist() == [0, 1, 3] and i.clamp(0, 3).dtype == cr.int64
    assert cr.clamp(i, 0.5, 3).tolist() == [0.5, 1.0, 3.0] and cr.clamp(i, 0.5, 3).dtype == cr.float32
    i32 = cr.tensor([1, 5], dtype=cr.int32)
    assert i32.clamp(max=2).dtype == cr.int32 and i32.clamp(max=cr.tensor([2, 2])).dtype == cr.int64
    i.clamp_(-1, 2)
    assert i.tolist() == [-1, 1, 2] and i.dtype == cr.int64


# ---------------------------------------------------------------------------- % and //


INTS = [(7, 2), (-7, 2), (7, -2), (-7, -2), (5, 3), (-5, 3), (6, 3), (0, -4)]


def test_integer_remainder_and_floor_division_follow_python():
    a = cr.tensor([p for p, _ in INTS])
    b = cr.tensor([q for _, q in INTS])
    assert (a % b).tolist() == [p % q for p, q in INTS]
    assert (a // b).tolist() == [p // q for p, q in INTS]
    assert cr.fmod(a, b).tolist() == [int(math.fmod(p, q)) for p, q in INTS]
    assert cr.div(a, b, rounding_mode="trunc").tolist() == [int(p / q) for p, q in INTS]
    assert cr.div(a, b, rounding_mode="floor").tolist() == [p // q for p, q in INTS]
    for out in (a % b, a // b, cr.fmod(a, b), a.div(b, rounding_mode="trunc")):
        assert out.dtype == cr.int64
    assert (a / b).dtype == cr.float32 and cr.true_divide(a, b).dtype == cr.float32


def test_python_numbers_on_either_side_of_percent_and_floor_division():
    a = cr.tensor([7, -7, 5])
    assert (a % 3).tolist() == [1, 2, 2] and (a // 3).tolist() == [2, -3, 1]
    assert (7 % cr.tensor([2, -3])).tolist() == [1, -2] and (7 // cr.tensor([2, -3])).tolist() == [3, -3]
    x = cr.tensor([7.5, -7.5])
    assert (x % 2).tolist() == [1.5, 0.5] and (x // 2).tolist() == [3.0, -4.0] and (x % 2).dtype == cr.float32
    assert (-7.5 % cr.tensor([2.0, -2.0])).tolist() == [0.5, -1.5]
    assert (a % 2.5).dtype == cr.float32 and (a % 2.5).tolist() == [2.0, 0.5, 0.0]
    i32 = cr.tensor([7, -7], dtype=cr.int32)
    assert (i32 % 3).dtype == cr.int32 and (i32 // 3).dtype == cr.int32


def test_integer_division_by_zero_raises_and_floating_gives_inf_or_nan():
    import warnings

    for op in (lambda a, b: a % b, lambda a, b: a // b, cr.fmod, lambda a, b: cr.div(a, b, rounding_mode="trunc")):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            op(cr.tensor([1, 2]), cr.tensor([1, 0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (cr.tensor([1.0, -1.0]) // 0).tolist() == [math.inf, -math.inf]
        assert np.isnan((cr.tensor([1.0, -1.0]) % 0)._data).all()
        assert np.isnan(cr.fmod(cr.tensor([1.0]), 0.0)._data).all()


def test_remainder_and_fmod_gradients_are_one_and_minus_the_rounded_quotient():
    a, b = _f64([1.5, -2.3, 3.7]), _f64([2.0, 0.7, -1.1])
    cr.remainder(a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0, 1.0]
    assert b.grad.tolist() == [-0.0, 4.0, 4.0]  # -floor(a / b)
    a.grad = b.grad = None
    cr.fmod(a, b).sum().backward()
    assert b.grad.tolist() == [-0.0, 3.0, 3.0]  # -trunc(a / b)


def test_rounded_division_records_a_zero_gradient():
    a, b = _f64([7.5, -2.0]), _f64([2.0, 3.0])
    for out in (a // b, cr.div(a, b, rounding_mode="trunc"), cr.floor_divide(a, b)):
        assert out.requires_grad
        a.grad = b.grad = None
        out.sum().backward()
        assert a.grad.tolist() == [0.0, 0.0] and b.grad.tolist() == [0.0, 0.0]


def test_div_rejects_an_unknown_rounding_mode():
    with pytest.raises(ValueError, match="div: rounding_mode must be None, 'trunc' or 'floor', got 'round'"):
        cr.div(cr.tensor([1.0]), 2, rounding_mode="round")


# ---------------------------------------------------------------------------- sums and products


def test_sums_of_bool_and_integer_tensors_are_int64():
    assert cr.tensor([True, False, True]).sum().dtype == cr.int64
    assert cr.tensor([True, False, True]).sum().item() == 2
    for dtype in (cr.int32, cr.uint8, cr.int64):
        t = cr.tensor([200, 100], dtype=dtype)
        assert t.sum().dtype == cr.int64 and t.sum().item() == 300
        assert t.prod().dtype == cr.int64 and t.prod().item() == 20000
        assert t.cumsum(0).dtype == cr.int64 and t.cumsum(0).tolist() == [200, 300]
        assert t.cumprod(0).dtype == cr.int64


def test_dtype_converts_before_reducing_and_the_gradient_comes_back_in_the_input_dtype():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    total = x.sum(dtype=cr.float64)
    assert total.dtype == cr.float64 and total.item() == 6.0
    total.backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0, 1.0]
    assert cr.tensor([1, 2]).sum(dtype=cr.float32).dtype == cr.float32
    assert cr.tensor([1, 2]).mean(dtype=cr.float64).item() == 1.5
    assert cr.tensor([1, 2]).prod(dtype=cr.float64).dtype == cr.float64
    assert cr.tensor([1, 2]).cumsum(0, dtype=cr.float32).tolist() == [1.0, 3.0]
    with pytest.raises(TypeError, match="mean: expected a floating tensor"):
        cr.tensor([1, 2]).mean()
    with pytest.raises(TypeError, match="sum: dtype must be"):
        x.sum(dtype="complex128")


@pytest.mark.parametrize("values, expected", [
    ([2.0, 3.0, 5.0, 4.0], [60.0, 40.0, 24.0, 30.0]),
    ([2.0, 0.0, 3.0, 5.0, 4.0], [0.0, 120.0, 0.0, 0.0, 0.0]),  # one zero: only it gets a gradient
    ([2.0, 0.0, 3.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0, 0.0]),  # two zeros: none does
])  # fmt: skip
def test_prod_gradient_is_the_product_of_the_others_also_at_zeros(values, expected):
    x = _f64(values)
    x.prod().backward()
    assert x.grad.tolist() == expected


def test_prod_along_a_dim_at_zeros_matches_finite_differences_to_second_order():
    x = _f64([[2.0, 0.0, 3.0], [0.0, 0.0, 1.5], [1.0, -2.0, 0.5]])
    for fn in (lambda t: t.prod(1), lambda t: t.prod(0, keepdim=True), lambda t: t.prod(-1) * t.sum(), cr.prod):
        assert gradcheck(fn, [x]) and gradgradcheck(fn, [x])
    grad = np.zeros((3, 3))
    x.prod(1).sum().backward()
    grad[0] = [0.0, 6.0, 0.0]
    grad[2] = [-1.0, 0.5, -2.0]
    np.testing.assert_allclose(x.grad, grad)


def test_prod_takes_one_int_dim():
    with pytest.raises(TypeError, match=r"prod: dim must be an int or None, got tuple \(0, 1\)"):
        cr.prod(cr.ones(2, 3), (0, 1))
    assert cr.prod(cr.ones(2, 3), 1, True).shape == (2, 1)


@pytest.mark.parametrize("values, expected", [
    ([2.0, 0.0, 3.0, 5.0, 4.0], [1.0, 158.0, 0.0, 0.0, 0.0]),
    ([2.0, 0.0, 3.0, 0.0, 4.0], [1.0, 8.0, 0.0, 0.0, 0.0]),
    ([0.0, 2.0, 3.0], [9.0, 0.0, 0.0]),
])  # fmt: skip
def test_cumprod_gradient_at_zeros(values, expected):
    """Worked by hand: d/dx_k of sum_i prod_{j<=i} x_j (for [2, 0, 3, 5, 4] at x_1: 2 + 2*3 +
    2*3*5 + 2*3*5*4 = 158)."""
    x = _f64(values)
    x.cumprod(0).sum().backward()
    assert x.grad.tolist() == expected


def test_cumprod_at_zeros_matches_finite_differences_to_second_order():
    x = _f64([[2.0, 0.0, 3.0, 0.5], [0.0, 1.5, 0.0, -1.0], [1.0, -2.0, 0.5, 2.0]])
    for dim in (0, 1, -1):
        along = lambda t, dim=dim: t.cumprod(dim)
        assert gradcheck(along, [x]) and gradgradcheck(along, [x])


def test_cumsum_of_a_0d_tensor_is_itself_and_bad_dims_are_named():
    x = _f64(2.5)
    out = cr.cumsum(x, 0)
    assert out.shape == () and out.item() == 2.5
    out.backward()
    assert x.grad.item() == 1.0
    with pytest.raises(TypeError, match="cumsum: dim must be an int, got NoneType None"):
        cr.cumsum(cr.ones(3), None)
    with pytest.raises(IndexError, match="cumprod: dim 2 is out of range"):
        cr.cumprod(cr.ones(3, 2), 2)


def test_dist_is_the_norm_of_the_difference():
    a, b = cr.tensor([1.0, 2.0]), cr.tensor([4.0, 6.0])
    assert cr.dist(a, b).item() == 5.0 and a.dist(b, 1).item() == 7.0 and cr.dist(a, b, math.inf).item() == 4.0


def test_cdist_gives_every_pair_of_rows_and_names_bad_shapes():
    a = cr.tensor([[0.0, 0.0], [3.0, 4.0]], dtype=cr.float64)
    b = cr.tensor([[0.0, 0.0], [6.0, 8.0], [3.0, 0.0]], dtype=cr.float64)
    np.testing.assert_allclose(cr.cdist(a, b)._data, [[0.0, 10.0, 3.0], [5.0, 5.0, 4.0]])
    np.testing.assert_allclose(cr.cdist(a, b, p=1)._data, [[0.0, 14.0, 3.0], [7.0, 7.0, 4.0]])
    x = _f64([[1.0, 2.0]])
    cr.cdist(x, cr.tensor([[1.0, 2.0]], dtype=cr.float64)).sum().backward()  # coinciding rows: 0, not nan
    assert x.grad.tolist() == [[0.0, 0.0]]
    with pytest.raises(ValueError, match="cdist: x1 and x2 need the same number of features"):
        cr.cdist(a, cr.ones(2, 3))
    with pytest.raises(ValueError, match=r"cdist: x2 must be a tensor of at least 2 dims .* got shape \(3,\)"):
        cr.cdist(a, cr.ones(3))


def test_numpy_spellings_are_the_same_functions():
    assert cr.arcsin is cr.asin and cr.arctan2 is cr.atan2 and cr.fix is cr.trunc and cr.clamp is cr.clip
    x = cr.tensor([0.5])
    assert x.arccos().tolist() == cr.acos(x).tolist() and x.fix().tolist() == [0.0]


# ---------------------------------------------------------------------------- value tests


def test_isnan_isinf_isfinite_give_bool_tensors():
    x = cr.tensor([1.0, np.nan, np.inf, -np.inf])
    assert x.isnan().tolist() == [False, True, False, False] and x.isnan().dtype == cr.bool
    assert cr.isinf(x).tolist() == [False, False, True, True]
    assert cr.isfinite(x).tolist() == [True, False, False, False]
    i = cr.tensor([1, 2])
    assert cr.isnan(i).tolist() == [False, False] and cr.isfinite(i).tolist() == [True, True]
    with pytest.raises(TypeError, match="isnan: expected a Tensor, got float"):
        cr.isnan(1.0)


def test_isclose_allclose_and_equal():
    a = cr.tensor([1.0, np.nan, np.inf, 1.0], dtype=cr.float64)
    b = cr.tensor([1.0 + 1e-9, np.nan, np.inf, 1.1], dtype=cr.float64)
    assert cr.isclose(a, b).tolist() == [True, False, True, False]
    assert a.isclose(b, equal_nan=True).tolist() == [True, True, True, False]
    assert cr.isclose(a, b, rtol=0.2).tolist() == [True, False, True, True]
    assert cr.allclose(a[:1], b[:1]) is True and cr.allclose(a, b, equal_nan=True) is False
    assert cr.equal(cr.tensor([1, 2]), cr.tensor([1.0, 2.0])) is True
    assert cr.equal(cr.tensor([1, 2]), cr.tensor([[1, 2]])) is False
    with pytest.raises(ValueError, match="isclose: rtol must be a non-negative number, got -1"):
        cr.isclose(a, b, rtol=-1)


def test_logical_ops_treat_non_zero_as_true():
    a, b = cr.tensor([1, 0, 2, 0]), cr.tensor([3.0, 3.0, 0.0, 0.0])
    assert cr.logical_and(a, b).tolist() == [True, False, False, False]
    assert a.logical_or(b).tolist() == [True, True, True, False]
    assert cr.logical_xor(a, b).tolist() == [False, True, True, False]
    assert cr.logical_not(a).tolist() == [False, True, False, True] and cr.logical_not(a).dtype == cr.bool


# ---------------------------------------------------------------------------- F.normalize


def test_normalize_gives_unit_vectors_along_dim_and_zero_for_the_zero_vector():
    x = np.array([[3.0, 4.0, 0.0], [1.0, -2.0, 2.0]])
    out = F.normalize(cr.tensor(x, dtype=cr.float64))
    np.testing.assert_allclose(out._data, x / np.linalg.norm(x, axis=1, keepdims=True))
    out = F.normalize(cr.tensor(x, dtype=cr.float64), p=1, dim=0)
    np.testing.assert_allclose(out._data, x / np.abs(x).sum(axis=0, keepdims=True))
    assert F.normalize(cr.zeros(2, 3)).tolist() == [[0.0] * 3] * 2
    t = _f64(x)
    assert gradcheck(lambda v: F.normalize(v, dim=-1), [t]) and gradgradcheck(lambda v: F.normalize(v, p=3), [t])
    with pytest.raises(ValueError, match="normalize: eps"):
        F.normalize(t, eps=-1.0)


def test_max_and_min_of_two_tensors_are_elementwise_as_in_pytorch():
    a = cr.tensor([0.2, 0.6, 0.5], dtype=cr.float64, requires_grad=True)
    b = cr.tensor([0.3, 0.1, 0.5], dtype=cr.float64)
    np.testing.assert_array_equal(cr.max(a, b).numpy(), [0.3, 0.6, 0.5])
    np.testing.assert_array_equal(a.min(b).numpy(), [0.2, 0.1, 0.5])
    np.testing.assert_array_equal(cr.max(a, other=b).numpy(), cr.maximum(a, b).numpy())
    cr.max(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 1.0, 0.5])  # a tie shares the gradient
    bools = cr.max(cr.tensor([True, False, False]), cr.tensor([False, False, True]))
    assert bools.dtype == cr.bool and bools.tolist() == [True, False, True]
    with pytest.raises(TypeError, match="max: with a tensor `other`"):
        cr.max(a, b, keepdims=True)
