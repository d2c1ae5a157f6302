"""Embedding's max_norm, scale_grad_by_freq and _weight, and EmbeddingBag: bags against a plain
loop over the bags, gradients against finite differences and hand counts, and the errors."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn import functional as F

RNG = np.random.default_rng(18)
TABLE = RNG.standard_normal((10, 3)) * 2
FLAT = np.array([2, 2, 5, 1, 5, 3, 2, 7, 0])


def _weight(grad=True):
    return cr.tensor(TABLE.copy(), requires_grad=grad)


def _renormed(table, rows, max_norm, p):
    """PyTorch's embedding_renorm_ on a copy: rows whose p-norm exceeds max_norm scaled to it."""
    out = table.copy()
    for r in np.unique(rows):
        norm = np.linalg.norm(out[r], ord=p)
        if norm > max_norm:
            out[r] *= max_norm / (norm + 1e-7)
    return out


# ---------------------------------------------------------------------------- Embedding


@pytest.mark.parametrize("norm_type", [2.0, 1.0, np.inf])
def test_max_norm_renormalises_the_rows_looked_up_in_place(norm_type):
    table = nn.Embedding(10, 3, max_norm=1.5, norm_type=norm_type, _weight=_weight().detach())
    indices = np.array([[2, 5], [5, 7]])
    expected = _renormed(TABLE, indices, 1.5, norm_type)
    out = table(indices)
    np.testing.assert_allclose(table.weight._data, expected, rtol=1e-12)
    np.testing.assert_allclose(out._data, expected[indices], rtol=1e-12)
    untouched = [r for r in range(10) if r not in (2, 5, 7)]
    np.testing.assert_array_equal(table.weight._data[untouched], TABLE[untouched])
    assert max(np.linalg.norm(table.weight._data[r], ord=norm_type) for r in (2, 5, 7)) <= 1.5


def test_functional_embedding_max_norm_and_the_in_place_change_is_seen_by_backward():
    weight = _weight()
    squared = (weight**2).sum()  # saves the weight
    F.embedding(np.array([2]), weight, max_norm=0.1)
    assert np.linalg.norm(weight._data[2]) == pytest.approx(0.1, rel=1e-6)
    with pytest.raises(RuntimeError, match="was modified by an in-place operation"):
        squared.backward()


def test_scale_grad_by_freq_divides_each_rows_gradient_by_its_count():
    table = nn.Embedding(10, 3, scale_grad_by_freq=True, _weight=_weight().detach().requires_grad_())
    indices = np.array([[1, 1, 3], [1, 4, 3]])
    upstream = RNG.standard_normal((2, 3, 3))
    out = table(indices)
    np.testing.assert_array_equal(out._data, TABLE[indices])
    out.backward(cr.tensor(upstream))
    expected = np.zeros_like(TABLE)
    counts = {1: 3, 3: 2, 4: 1}
    for (i, j), row in np.ndenumerate(indices):
        expected[row] += upstream[i, j] / counts[row]
    np.testing.assert_allclose(table.weight.grad._data, expected, rtol=1e-12)


def test_embedding_weight_arguments_and_repr():
    weight = _weight(grad=False)
    table = nn.Embedding(10, 3, _weight=weight)
    assert table.weight.requires_grad
    np.testing.assert_array_equal(table.weight._data, TABLE)
    assert not nn.Embedding(10, 3, _weight=weight, _freeze=True).weight.requires_grad
    with pytest.raises(ValueError, match=r"_weight has shape \(10, 3\), expected .* \(9, 3\)"):
        nn.Embedding(9, 3, _weight=weight)
    pretrained = nn.Embedding.from_pretrained(weight, max_norm=1.0, scale_grad_by_freq=True)
    assert pretrained.max_norm == 1.0 and pretrained.scale_grad_by_freq
    assert nn.Embedding(10, 3, padding_idx=1, max_norm=2.0, norm_type=1.0).extra_repr() == (
        "10, 3, padding_idx=1, max_norm=2.0, norm_type=1.0"
    )


def test_sparse_gradients_are_refused_clearly():
    for make in (
        lambda: nn.Embedding(10, 3, sparse=True),
        lambda: nn.EmbeddingBag(10, 3, sparse=True),
        lambda: F.embedding(np.array([1]), _weight(), sparse=True),
        lambda: F.embedding_bag(np.array([[1]]), _weight(), sparse=True),
    ):
        with pytest.raises(NotImplementedError, match="sparse=True is not supported: chainrule has no sparse tensors"):
            make()


# ---------------------------------------------------------------------------- EmbeddingBag


def _bag_loop(table, flat, starts, ends, mode, weights=None, padding_idx=None):
    """Each bag reduced by a plain loop; an empty bag (or one of padding only) gives zeros."""
    out = []
    for s, e in zip(starts, ends):
        rows = [
            table[flat[k]] * (1.0 if weights is None else weights[k]) for k in range(s, e) if flat[k] != padding_idx
        ]
        if not rows:
            out.append(np.zeros(table.shape[1]))
        elif mode == "sum":
            out.append(np.sum(rows, axis=0))
        elif mode == "mean":
            out.append(np.mean(rows, axis=0))
        else:
            out.append(np.max(rows, axis=0))
    return np.array(out)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_bags_by_offsets_match_a_loop(mode, padding_idx):
    offsets = np.array([0, 3, 3, 7])  # bag 1 is empty
    starts, ends = offsets, np.append(offsets[1:], len(FLAT))
    expected = _bag_loop(TABLE, FLAT, starts, ends, mode, padding_idx=padding_idx)
    out = F.embedding_bag(cr.tensor(FLAT), _weight(), cr.tensor(offsets), mode=mode, padding_idx=padding_idx)
    np.testing.assert_allclose(out._data, expected, rtol=1e-12)
    # the same bags with the end of the last given (include_last_offset)
    bag = nn.EmbeddingBag(10, 3, mode=mode, include_last_offset=True, padding_idx=padding_idx, _weight=_weight())
    out = bag(FLAT, np.array([0, 3, 3, 7, 9]))
    np.testing.assert_allclose(out._data, expected, rtol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_fixed_length_bags_reduce_the_embedding_rows(mode):
    indices = FLAT[:8].reshape(2, 4)
    reduce = {"sum": np.sum, "mean": np.mean, "max": np.max}[mode]
    out = nn.EmbeddingBag(10, 3, mode=mode, _weight=_weight())(cr.tensor(indices))
    np.testing.assert_allclose(out._data, reduce(TABLE[indices], axis=1), rtol=1e-12)


def test_per_sample_weights_weigh_each_lookup_in_a_sum():
    weights = RNG.standard_normal(len(FLAT))
    offsets = np.array([0, 4])
    expected = _bag_loop(TABLE, FLAT, offsets, [4, len(FLAT)], "sum", weights)
    out = F.embedding_bag(FLAT, _weight(), offsets, mode="sum", per_sample_weights=cr.tensor(weights))
    np.testing.assert_allclose(out._data, expected, rtol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_bag_gradients_match_finite_differences(mode):
    offsets = np.array([0, 3, 3, 7])

    def bags(w):
        return F.embedding_bag(FLAT, w, offsets, mode=mode, padding_idx=5)

    assert gradcheck(bags, (_weight(),))
    assert gradgradcheck(lambda w: bags(w) ** 2, (_weight(),))
    if mode == "sum":
        psw = cr.tensor(RNG.standard_normal(len(FLAT)), requires_grad=True)

        def weighted(w, p):
            return F.embedding_bag(FLAT, w, offsets, mode="sum", per_sample_weights=p)

        assert gradcheck(weighted, (_weight(), psw))
        assert gradgradcheck(weighted, (_weight(), psw))


def test_padding_rows_get_no_gradient_and_count_for_no_mean():
    weight = _weight()
    out = F.embedding_bag(np.array([[2, 4, 4]]), weight, mode="mean", padding_idx=4)
    np.testing.assert_allclose(out._data, TABLE[[2]], rtol=1e-12)
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad._data[4], 0)
    np.testing.assert_array_equal(weight.grad._data[2], 1)


def test_bag_scale_grad_by_freq_uses_each_indexs_own_count():
    # [1, 1, 3]: row 1 twice (gradient 2 / 2), row 3 once (1 / 1). (PyTorch 2.13's CPU kernel gives
    # row 3 0.5 here: pytorch/pytorch#190063; its documentation says the count of the index itself.)
    weight = _weight()
    F.embedding_bag(np.array([1, 1, 3]), weight, np.array([0]), mode="sum", scale_grad_by_freq=True).sum().backward()
    np.testing.assert_allclose(weight.grad._data[:, 0], [0, 1, 0, 1, 0, 0, 0, 0, 0, 0])


def test_bag_max_norm_renormalises_the_rows_used():
    bag = nn.EmbeddingBag(10, 3, max_norm=1.0, mode="sum", _weight=_weight())
    out = bag(FLAT, np.array([0, 4]))
    renormed = _renormed(TABLE, FLAT, 1.0, 2)
    np.testing.assert_allclose(bag.weight._data, renormed, rtol=1e-12)
    np.testing.assert_allclose(out._data, _bag_loop(renormed, FLAT, [0, 4], [4, 9], "sum"), rtol=1e-12)


def test_embedding_bag_module_init_and_repr():
    cr.manual_seed(0)
    bag = nn.EmbeddingBag(6, 4, padding_idx=-1)
    assert bag.weight.shape == (6, 4) and bag.padding_idx == 5
    np.testing.assert_array_equal(bag.weight._data[5], 0)
    assert list(bag.state_dict()) == ["weight"]
    assert bag.extra_repr() == "6, 4, mode='mean', padding_idx=5"
    frozen = nn.EmbeddingBag.from_pretrained(TABLE, mode="max")
    assert not frozen.weight.requires_grad and frozen.mode == "max"
    np.testing.assert_array_equal(frozen.weight._data, TABLE)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: F.embedding_bag(FLAT.reshape(3, 3), _weight(), np.array([0])),
            ValueError,
            "if input is 2D, then offsets has to be None",
        ),
        (lambda: F.embedding_bag(FLAT, _weight()), ValueError, "offsets has to be a 1D Tensor but got None"),
        (lambda: F.embedding_bag(FLAT, _weight(), np.array([1, 4])), ValueError, "offsets\\[0\\] has to be 0"),
        (lambda: F.embedding_bag(FLAT, _weight(), np.array([0, 5, 3])), ValueError, "offsets must be non-decreasing"),
        (
            lambda: F.embedding_bag(FLAT, _weight(), np.array([0, 12]), include_last_offset=True),
            ValueError,
            "at most the input's length 9",
        ),
        (
            lambda: F.embedding_bag(FLAT, _weight(), np.array([0]), mode="median"),
            ValueError,
            "mode has to be one of sum, mean or max, got 'median'",
        ),
        (
            lambda: nn.EmbeddingBag(10, 3, mode="max", scale_grad_by_freq=True),
            ValueError,
            "max mode does not support scaling the gradient by the frequency",
        ),
        (
            lambda: F.embedding_bag(FLAT, _weight(), np.array([0]), per_sample_weights=cr.ones(9, dtype=cr.float64)),
            NotImplementedError,
            "per_sample_weights is only supported for mode='sum'",
        ),
        (
            lambda: F.embedding_bag(FLAT, _weight(), np.array([0]), mode="sum", per_sample_weights=cr.ones(3)),
            ValueError,
            r"If per_sample_weights \(\(3,\)\) is not None, then it must have the same shape",
        ),
        (
            lambda: F.embedding_bag(FLAT.reshape(1, 1, 9), _weight()),
            ValueError,
            "input has to be 1D or 2D Tensor, but got Tensor of dimension 3",
        ),
        (
            lambda: F.embedding_bag(np.array([1, 10]), _weight(), np.array([0])),
            IndexError,
            r"index 10 is out of range \[0, 10\)",
        ),
        (lambda: nn.EmbeddingBag(10, 3, padding_idx=10), ValueError, r"padding_idx must be an integer in \[-10, 10\)"),
    ],
)
def test_bad_bags_are_reported(call, error, message):
    with pytest.raises(error, match=message):
        call()
