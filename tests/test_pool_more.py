"""3-d pooling, adaptive max pooling, max unpooling, LPPool and interpolate's modes: the op-table
entries (forward against loops, first and second derivatives against finite differences), the
layers against the same loops, PyTorch's index conventions and errors naming the layer."""

import numpy as np
import pytest
from cases_pool_more import CASES
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@settings(max_examples=10)
@given(data=st.data())
def test_table_entries_match_their_loops(case, data):
    drawn = case.draw(data.draw)
    got = drawn.op(*[cr.tensor(a, dtype=cr.float64) for a in drawn.arrays])
    np.testing.assert_allclose(got._data, drawn.reference(*drawn.arrays), rtol=1e-12, atol=1e-12)
