"""Every differentiable op: forward equals NumPy, gradient equals float64 central differences,
and float32 stays float32 through forward and backward."""

import numpy as np
import pytest
from hypothesis import given
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
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=_ids())
@given(data=st.data())
def test_gradient_matches_finite_differences(case, data):
    drawn = case.draw(data.draw)
    tensors = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in drawn.arrays]
    assert cr.autograd.gradcheck(drawn.op, tensors)


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
