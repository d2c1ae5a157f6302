"""Embedding: lookups equal rows of the weight, repeated indices add their gradients, the
padding row stays put, and bad indices are reported."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck
from chainrule.nn.embedding import Embedding, embedding


@pytest.mark.parametrize(
    "indices", [3, [4, 0, 9], [[1, 2, 2], [7, 0, 1]], np.zeros((2, 1, 3), dtype=np.int32)]
)
def test_lookup_returns_rows_of_the_weight(indices):
    cr.manual_seed(0)
    table = Embedding(10, 4)
    expected = table.weight._data[np.asarray(indices)]
    for given in (indices, cr.tensor(indices)):
        out = table(given)
        assert out.shape == (*np.shape(indices), 4)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out._data, expected)


def test_init_is_standard_normal_and_seeded():
    cr.manual_seed(1)
    table = Embedding(200, 50)
    values = table.weight._data
    assert values.shape == (200, 50) and values.dtype == np.float32
    assert abs(values.mean()) < 0.03 and abs(values.std() - 1) < 0.03
    cr.manual_seed(1)
    np.testing.assert_array_equal(Embedding(200, 50).weight._data, values)
    assert Embedding(3, 2, dtype=cr.float64).weight.dtype == np.float64


def test_repeated_indices_add_their_gradients():
    cr.manual_seed(2)
    table = Embedding(5, 3)
    indices = np.array([[1, 3, 1], [1, 0, 3]])
    upstream = np.random.default_rng(0).standard_normal((2, 3, 3)).astype(np.float32)
    table(indices).backward(upstream)
    expected = np.zeros((5, 3), dtype=np.float32)
    for (i, j), row in np.ndenumerate(indices):
        expected[row] += upstream[i, j]
    np.testing.assert_allclose(table.weight.grad, expected, rtol=1e-6)
    row_1 = upstream[0, 0] + upstream[0, 2] + upstream[1, 0]
    np.testing.assert_allclose(table.weight.grad[1], row_1, rtol=1e-6)
    np.testing.assert_array_equal(table.weight.grad[[2, 4]], 0)
    assert table.weight.grad.dtype == np.float32


def test_gradcheck():
    # (Not with padding_idx: by design its row gets no gradient although it changes the output.)
    cr.manual_seed(3)
    table = Embedding(4, 3).double()
    indices = cr.tensor([[0, 2, 2], [3, 0, 1]])
    assert gradcheck(lambda w: embedding(indices, w), (table.weight,))


def test_padding_row_starts_at_zero_and_gets_no_gradient():
    cr.manual_seed(4)
    table = Embedding(6, 3, padding_idx=2)
    np.testing.assert_array_equal(table.weight._data[2], 0)
    assert np.abs(table.weight._data[[0, 1, 3, 4, 5]]).min() > 0
    # Even a padding row that was changed is looked up as it is, but it never learns.
    table.weight._data[2] = 7.0
    indices = np.array([2, 0, 2, 5])
    out = table(indices)
    np.testing.assert_array_equal(out._data, table.weight._data[indices])
    upstream = np.ones((4, 3), dtype=np.float32)
    out.backward(upstream)
    np.testing.assert_array_equal(table.weight.grad[2], 0)
    np.testing.assert_array_equal(table.weight.grad[0], 1)
    np.testing.assert_array_equal(table.weight.grad[5], 1)


def test_negative_padding_idx_counts_from_the_end():
    table = Embedding(6, 3, padding_idx=-1)
    assert table.padding_idx == 5
    np.testing.assert_array_equal(table.weight._data[5], 0)
    assert repr(table).startswith("Embedding(6, 3, padding_idx=5)")


def test_errors_name_the_problem():
    table = Embedding(10, 3)
    with pytest.raises(IndexError, match=r"Embedding\(10, 3\): index 10 is out of range \[0, 10\)"):
        table(cr.tensor([[1, 10]]))
    with pytest.raises(IndexError, match=r"index -1 is out of range \[0, 10\) \(indices of shape \(2,\)\)"):
        table(np.array([-1, 3]))
    with pytest.raises(TypeError, match="indices must be integers, got dtype float32"):
        table(cr.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="indices must be integers, got dtype bool"):
        table(np.array([True, False]))
    with pytest.raises(ValueError, match="num_embeddings must be an integer >= 1, got 0"):
        Embedding(0, 3)
    with pytest.raises(ValueError, match=r"padding_idx must be an integer in \[-10, 10\), got 10"):
        Embedding(10, 3, padding_idx=10)
    with pytest.raises(ValueError, match="weight must be a 2-D Tensor"):
        embedding([0], cr.zeros(3))
    with pytest.raises(IndexError, match=r"embedding\(weight of shape \(4, 2\)\): index 4 is out of range"):
        embedding([4], cr.zeros(4, 2))


def test_from_pretrained_copies_and_freezes():
    weights = np.arange(6, dtype=np.float32).reshape(3, 2)
    table = Embedding.from_pretrained(weights)
    assert not table.weight.requires_grad
    np.testing.assert_array_equal(table([2, 0])._data, [[4, 5], [0, 1]])
    weights[0] = -1  # a copy, not a view
    assert table.weight._data[0, 0] == 0
    assert Embedding.from_pretrained(cr.tensor(weights), freeze=False).weight.requires_grad
    assert list(table.state_dict()) == ["weight"]
