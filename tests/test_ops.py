"""Every differentiable op: forward equals NumPy, first and second derivatives equal float64
central differences, and float32 stays float32 through forward and backward."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_cases import CASES

import chainrule as cr
from chainrule.ops import DIFFERENTIABLE


def test_every_differentiable_op_has_a_case():
    missing = set(DIFFERENTIABLE) - {case.name for case in CASES}
    assert not missing, f"ops without an entry in tests/op_cases.py: {sorted(missing)}"


def _ids():
    seen = {}
    ids = []
    for case in CASES:
        seen[case.name] = seen.get(case.name, 0) + 1
        ids.append(case.name if seen[case.name] == 1 else f"{case.name}-{seen[case.name]}")
    return ids


def _outputs(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("case", CASES, ids=_ids())
@given(data=st.data())
def test_forward_matches_numpy(case, data):
    drawn = case.draw(data.draw)
    tensors = [cr.tensor(a, dtype=cr.float64) for a in drawn.arrays]
    got = drawn.op(*tensors)
    expected = drawn.reference(*drawn.arrays)
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got._data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=_ids())
@given(data=st.data())
def test_gradient_matches_finite_differences(case, data):
    drawn = case.draw(data.draw)
    tensors = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in drawn.arrays]
    assert cr.autograd.gradcheck(drawn.op, tensors)


@pytest.mark.parametrize("case", CASES, ids=_ids())
@settings(max_examples=15)
@given(data=st.data())
def test_second_derivative_matches_finite_differences(case, data):
    """Double backward (create_graph) on the same random shapes as the first-order check."""
    drawn = case.draw(data.draw)
    tensors = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in drawn.arrays]
    assert cr.autograd.gradgradcheck(drawn.op, tensors)


@pytest.mark.parametrize("case", CASES, ids=_ids())
@settings(max_examples=5)
@given(data=st.data())
def test_recorded_gradient_equals_the_plain_one(case, data):
    """A rule run on tensors (create_graph) gives the values it gives on arrays. gradgradcheck
    differentiates the recorded gradient, so a rule whose tensor branch is off by a term it
    differentiates consistently would pass it; this compares the values themselves."""
    drawn = case.draw(data.draw)
    tensors = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in drawn.arrays]
    out = drawn.op(*tensors)
    upstream = cr.tensor(np.random.default_rng(0).standard_normal(out.shape))
    plain = cr.autograd.grad(out, tensors, upstream, retain_graph=True, allow_unused=True)
    recorded = cr.autograd.grad(out, tensors, upstream, create_graph=True, allow_unused=True)
    for a, b in zip(plain, recorded):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=_ids())
@given(data=st.data())
def test_float32_stays_float32(case, data):
    drawn = case.draw(data.draw)
    tensors = [cr.tensor(a, dtype=cr.float32, requires_grad=True) for a in drawn.arrays]
    out = drawn.op(*tensors)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    for t in tensors:
        assert t.grad is not None and t.grad.dtype == np.float32 and t.grad.shape == t.shape


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_relu_in_every_memory_order_and_at_the_extremes(layout):
    """ReLU compares against shared read-only zeros in the input's memory order (a speed path):
    values, gradients and the shared zeros must not depend on it or be changed by it."""
    from chainrule._backend import shared_zeros_like

    base = np.array([[-np.inf, -1.0, 0.0, 0.5], [np.inf, np.nan, -0.0, 2.0], [3.0, -3.0, 1e-30, -1e-30]],
                    dtype=np.float32)
    data = {"C": base, "F": np.asfortranarray(base), "strided": np.repeat(base, 2, axis=1)[:, ::2]}[layout]
    x = cr.tensor(data, requires_grad=True)
    out = cr.relu(x)
    np.testing.assert_array_equal(out._data, np.where(np.isnan(base), np.nan, np.maximum(base, 0)))
    zeros = shared_zeros_like(data)
    assert out._data.flags.writeable and not np.shares_memory(out._data, zeros)
    out.sum().backward()
    # PyTorch's threshold_backward: the gradient passes unless x <= 0 (so it passes at nan)
    np.testing.assert_array_equal(x.grad, ((base > 0) | np.isnan(base)).astype(np.float32))
    assert not np.asarray(zeros).any() and not shared_zeros_like(np.empty((5, 4), np.float32)).flags.writeable


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalar_like_gives_the_python_scalars_results_from_a_shared_read_only_constant(dtype):
    from chainrule._backend import scalar_like

    a = np.random.default_rng(0).standard_normal(7).astype(dtype)
    c = scalar_like(0.1, a)
    assert c.shape == () and c.dtype == dtype and not c.flags.writeable and scalar_like(0.1, a) is c
    for result, expected in [(c * a, 0.1 * a), (a - scalar_like(1, a), a - 1), (a / scalar_like(3, a), a / 3)]:
        assert result.dtype == dtype
        np.testing.assert_array_equal(result, expected)  # bit for bit: NEP 50 casts 0.1 to dtype first


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_at_the_extremes_is_accurate_and_warns_of_nothing(dtype):
    import warnings

    import scipy.special

    x = np.array([-1e4, -700.0, -100.0, -88.0, -20.0, -1.0, 0.0, 1e-8, 1.0, 20.0, 100.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings
        out = cr.sigmoid(cr.tensor(x))._data
        edges = cr.sigmoid(cr.tensor(np.array([np.inf, -np.inf, np.nan], dtype=dtype)))._data
    assert out.dtype == dtype
    # within a few units in the last place of the exact value, down to the subnormal range
    np.testing.assert_allclose(out, scipy.special.expit(x.astype(np.float64)), rtol=4 * np.finfo(dtype).eps,
                               atol=np.finfo(dtype).smallest_subnormal * 4)
    assert edges[0] == 1 and edges[1] == 0 and np.isnan(edges[2])
