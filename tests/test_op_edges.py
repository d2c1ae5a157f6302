"""Ops at their edges (0, negatives, infinities, ties, empty and 0-d tensors, negative dims) against
PyTorch's values and gradients, written out here (checked once with PyTorch 2.13, never imported):
no nan where PyTorch gives a number, and no NumPy warning from a backward PyTorch runs silently."""

import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F

inf, nan = math.inf, math.nan
E = np.zeros(0)

# (name, function of the float64 leaves, the leaves' values, PyTorch's value, PyTorch's gradients
# for an output gradient of ones)
CASES = [
    # std and var where the spread is 0: PyTorch's gradient is 0, not 0 / 0
    ("std constant vector", lambda x: x.std(), [[2.0, 2.0, 2.0]], 0.0, [[0.0, 0.0, 0.0]]),
    ("std constant vector, correction 0", lambda x: x.std(correction=0), [[2.0, 2.0, 2.0]], 0.0, [[0.0, 0.0, 0.0]]),
    ("std constant row", lambda x: x.std(1), [[[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]]], [0.0, 1.0],
     [[[0.0, 0.0, 0.0], [-0.5, 0.0, 0.5]]]),
    ("std constant row, correction 0", lambda x: x.std(1, correction=0), [[[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]]],
     [0.0, 0.816496580927726], [[[0.0, 0.0, 0.0], [-0.408248290463863, 0.0, 0.408248290463863]]]),
    ("std of one element, correction 0", lambda x: x.std(correction=0), [[5.0]], 0.0, [[0.0]]),
    ("std of one element, correction 1", lambda x: x.std(), [[5.0]], nan, [[nan]]),
    ("std of a 0-d tensor, correction 0", lambda x: x.std(correction=0), [3.0], 0.0, [0.0]),
    ("std keepdim, negative dim", lambda x: x.std(-1, keepdim=True), [[[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]]],
     [[1.5275252316519468], [0.0]], [[[-0.4364357804719847, -0.1091089451179962, 0.5455447255899809],
                                      [0.0, 0.0, 0.0]]]),
    ("var constant", lambda x: x.var(), [[5.0, 5.0]], 0.0, [[0.0, 0.0]]),
    ("var of one element, correction 1", lambda x: x.var(), [[5.0]], nan, [[nan]]),
    ("var of nothing", lambda x: x.var(), [E], nan, [E]),
    ("std of nothing", lambda x: x.std(), [E], nan, [E]),
    ("std with inf", lambda x: x.std(), [[inf, 1.0]], nan, [[nan, nan]]),
    # x ** y
    ("0 ** 0.0, scalar exponent", lambda x: x**0.0, [[0.0, 1.0]], [1.0, 1.0], [[0.0, 0.0]]),
    ("0 ** 0, tensor exponent", lambda x, y: x**y, [[0.0, 0.0, 2.0], [0.0, 1.0, 0.0]], [1.0, 0.0, 1.0],
     [[0.0, 1.0, 0.0], [0.0, 0.0, 0.6931471805599453]]),
    ("0 ** -1, scalar exponent", lambda x: x**-1.0, [[0.0, 2.0]], [inf, 0.5], [[-inf, -0.25]]),
    ("0 ** negative, tensor exponent", lambda x, y: x**y, [[0.0, 0.0, 0.0], [-1.0, -2.0, -0.5]], [inf, inf, inf],
     [[-inf, -inf, -inf], [-inf, -inf, -inf]]),
    ("0 ** 0.5, scalar exponent", lambda x: x**0.5, [[0.0, 4.0]], [0.0, 2.0], [[inf, 0.25]]),
    ("0 ** positive, tensor exponent", lambda x, y: x**y, [[0.0, 0.0], [2.0, 0.5]], [0.0, 0.0],
     [[0.0, inf], [0.0, 0.0]]),
    ("negative ** 0.5, scalar exponent", lambda x: x**0.5, [[-2.0, 4.0]], [nan, 2.0], [[nan, 0.25]]),
    ("negative ** non-integer, tensor exponent", lambda x, y: x**y, [[-2.0, -2.0], [0.5, 2.0]], [nan, 4.0],
     [[nan, -4.0], [nan, nan]]),
    ("negative ** 3: exponent gradient nan", lambda x, y: x**y, [[-2.0], [3.0]], [-8.0], [[12.0], [nan]]),
    ("2 ** x", lambda x: 2.0**x, [[0.0, 1.0]], [1.0, 2.0], [[0.6931471805599453, 1.3862943611198906]]),
    ("0 ** x", lambda x: 0.0**x, [[0.0, 1.0, -1.0]], [1.0, 0.0, inf], [[0.0, 0.0, -inf]]),
    ("-2 ** x", lambda x: (-2.0) ** x, [[0.0, 1.0, 0.5]], [1.0, -2.0, nan], [[nan, nan, nan]]),
    ("x ** 0 (int)", lambda x: x**0, [[0.0, -1.0]], [1.0, 1.0], [[0.0, 0.0]]),
    ("x ** 1 at 0", lambda x: x**1, [[0.0, -1.0]], [0.0, -1.0], [[1.0, 1.0]]),
    # matmul with zero-length operands
    ("matmul (2, 0) @ (0, 3)", lambda a, b: a @ b, [np.zeros((2, 0)), np.zeros((0, 3))], np.zeros((2, 3)),
     [np.zeros((2, 0)), np.zeros((0, 3))]),
    ("matmul (0,) @ (0, 3)", lambda a, b: a @ b, [E, np.zeros((0, 3))], np.zeros(3), [E, np.zeros((0, 3))]),
    ("matmul (2, 0) @ (0,)", lambda a, b: a @ b, [np.zeros((2, 0)), E], np.zeros(2), [np.zeros((2, 0)), E]),
    ("matmul (0,) @ (0,)", lambda a, b: a @ b, [E, E], 0.0, [E, E]),
    ("matmul (0, 2, 3) @ (3, 4)", lambda a, b: a @ b, [np.zeros((0, 2, 3)), np.ones((3, 4))], np.zeros((0, 2, 4)),
     [np.zeros((0, 2, 3)), np.zeros((3, 4))]),
    ("matmul (3,) @ (2, 3, 4)", lambda a, b: a @ b, [np.ones(3), np.ones((2, 3, 4))], np.full((2, 4), 3.0),
     [np.full(3, 8.0), np.ones((2, 3, 4))]),
    # elementwise functions at 0, below and at infinity
    ("sqrt at 0", lambda x: x.sqrt(), [[0.0, 4.0]], [0.0, 2.0], [[inf, 0.25]]),
    ("sqrt of a negative", lambda x: x.sqrt(), [[-1.0]], [nan], [[nan]]),
    ("log at 0", lambda x: x.log(), [[0.0, 1.0]], [-inf, 0.0], [[inf, 1.0]]),
    ("log of a negative", lambda x: x.log(), [[-1.0]], [nan], [[-1.0]]),
    ("log1p at -1", lambda x: x.log1p(), [[-1.0, 0.0]], [-inf, 0.0], [[inf, 1.0]]),
    ("abs at 0", lambda x: x.abs(), [[0.0, -1.0, 2.0]], [0.0, 1.0, 2.0], [[0.0, -1.0, 1.0]]),
    ("relu at 0", lambda x: x.relu(), [[0.0, -1.0, 2.0]], [0.0, 0.0, 2.0], [[0.0, 0.0, 1.0]]),
    ("relu at nan, -0 and -inf", lambda x: x.relu(), [[nan, -0.0, -inf]], [nan, 0.0, 0.0], [[1.0, 0.0, 0.0]]),
    ("abs at nan", lambda x: x.abs(), [[nan, -0.0]], [nan, 0.0], [[0.0, 0.0]]),
    ("clamp at its bounds", lambda x: x.clamp(0, 1), [[0.0, 1.0, 0.5, -1.0, 2.0]], [0.0, 1.0, 0.5, 0.0, 1.0],
     [[1.0, 1.0, 1.0, 0.0, 0.0]]),
    ("division by 0", lambda x, y: x / y, [[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]], [inf, nan, -inf],
     [[inf, inf, inf], [-inf, nan, inf]]),
    ("tanh at +-inf", lambda x: x.tanh(), [[inf, -inf]], [1.0, -1.0], [[0.0, 0.0]]),
    ("sigmoid at +-inf", lambda x: x.sigmoid(), [[inf, -inf]], [1.0, 0.0], [[0.0, 0.0]]),
    ("softplus at +-inf and 0", lambda x: F.softplus(x), [[inf, -inf, 0.0]], [inf, 0.0, 0.6931471805599453],
     [[1.0, 0.0, 0.5]]),
    ("elu at 0 and -inf", lambda x: F.elu(x), [[0.0, -inf]], [0.0, -1.0], [[1.0, 0.0]]),
    ("leaky_relu at 0", lambda x: F.leaky_relu(x), [[0.0]], [0.0], [[0.01]]),
    ("gelu at +-inf and 0", lambda x: F.gelu(x), [[inf, -inf, 0.0]], [inf, nan, 0.0], [[nan, nan, 0.5]]),
    ("sin + cos at inf", lambda x: x.sin() + x.cos(), [[inf]], [nan], [[nan]]),
    # extremes: ties, nan, 0-d
    ("max of all, ties", lambda x: x.max(), [[1.0, 3.0, 3.0]], 3.0, [[0.0, 0.5, 0.5]]),
    ("max over a dim, ties: the indexed one", lambda x: x.max(0)[0], [[1.0, 3.0, 3.0]], 3.0, [[0.0, 1.0, 0.0]]),
    ("max over dim 1, ties", lambda x: x.max(1)[0], [[[1.0, 3.0, 3.0], [2.0, 2.0, 1.0]]], [3.0, 2.0],
     [[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]]),
    ("max over dim -1, keepdim", lambda x: x.max(-1, keepdim=True)[0], [[[1.0, 3.0], [2.0, 2.0]]], [[3.0], [2.0]],
     [[[0.0, 1.0], [1.0, 0.0]]]),
    ("min over a dim, ties", lambda x: x.min(0)[0], [[1.0, 1.0, 3.0]], 1.0, [[1.0, 0.0, 0.0]]),
    ("max over dim 0 of a 0-d tensor", lambda x: x.max(0)[0], [3.0], 3.0, [1.0]),
    ("amax over a dim, ties", lambda x: x.amax(0), [[1.0, 3.0, 3.0]], 3.0, [[0.0, 0.5, 0.5]]),
    ("max with a nan", lambda x: x.max(), [[1.0, nan, 3.0]], nan, [[0.0, 1.0, 0.0]]),
    ("amax of a 0-d tensor", lambda x: x.amax(), [3.0], 3.0, [1.0]),
    ("maximum, ties", lambda x, y: cr.maximum(x, y), [[1.0, 2.0], [1.0, 3.0]], [1.0, 3.0], [[0.5, 0.0], [0.5, 1.0]]),
    ("maximum with nan: both get the gradient", lambda x, y: cr.maximum(x, y), [[nan, 1.0, nan], [1.0, nan, nan]],
     [nan, nan, nan], [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]),
    ("minimum, ties and nan", lambda x, y: cr.minimum(x, y), [[nan, 1.0, 2.0], [1.0, 1.0, 0.0]], [nan, 1.0, 0.0],
     [[1.0, 0.5, 0.0], [1.0, 0.5, 1.0]]),
    ("amin with nans: nan gradient", lambda x: x.amin(), [[1.0, nan, nan]], nan, [[nan, nan, nan]]),
    ("min of all with nans: they share", lambda x: x.min(), [[1.0, nan, nan]], nan, [[0.0, 0.5, 0.5]]),
    # softmax and logsumexp with infinities, reductions over nothing
    ("softmax with -inf", lambda x: x.softmax(0), [[-inf, 0.0, 1.0]], [0.0, 0.2689414213699951, 0.7310585786300049],
     [[0.0, 0.0, 0.0]]),
    ("softmax of all -inf", lambda x: x.softmax(0), [[-inf, -inf]], [nan, nan], [[nan, nan]]),
    ("log_softmax with -inf", lambda x: x.log_softmax(0), [[-inf, 0.0, 1.0]],
     [-inf, -1.3132616875182228, -0.3132616875182228], [[1.0, 0.1931757358900147, -1.1931757358900148]]),
    ("logsumexp with -inf", lambda x: x.logsumexp(0), [[-inf, 0.0]], 0.0, [[0.0, 1.0]]),
    ("logsumexp of all -inf", lambda x: x.logsumexp(0), [[-inf, -inf]], -inf, [[nan, nan]]),
    ("logsumexp with +inf", lambda x: x.logsumexp(0), [[inf, 0.0]], inf, [[nan, 0.0]]),
    ("logsumexp of nothing", lambda x: x.logsumexp(0), [E], -inf, [E]),
    ("sum of nothing", lambda x: x.sum(), [E], 0.0, [E]),
    ("mean of nothing", lambda x: x.mean(), [E], nan, [E]),
    ("mean over an empty dim", lambda x: x.mean(0), [np.zeros((0, 3))], [nan, nan, nan], [np.zeros((0, 3))]),
    ("mean of a 0-d tensor", lambda x: x.mean(), [3.0], 3.0, [1.0]),
    ("sum over dim 0 of a 0-d tensor", lambda x: x.sum(0), [3.0], 3.0, [1.0]),
    # losses at their edges
    ("binary_cross_entropy at 0 and 1", lambda x, y: F.binary_cross_entropy(x, y),
     [[0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]], 50.0, [[0.0, 0.0, -2.5e11, 2.5e11], [inf, -inf, inf, -inf]]),
    ("binary_cross_entropy_with_logits at +-inf", lambda x, y: F.binary_cross_entropy_with_logits(x, y),
     [[inf, -inf], [1.0, 0.0]], nan, [[0.0, 0.0], [-inf, inf]]),
    ("mse_loss of nothing", lambda x, y: F.mse_loss(x, y), [E, E], nan, [E, E]),
    # empty batches, nan windows, empty index lists
    ("conv1d of an empty batch", lambda x, w: F.conv1d(x, w), [np.zeros((0, 1, 4)), np.ones((2, 1, 2))],
     np.zeros((0, 2, 3)), [np.zeros((0, 1, 4)), np.zeros((2, 1, 2))]),
    ("conv2d of an empty batch", lambda x, w: F.conv2d(x, w), [np.zeros((0, 1, 3, 3)), np.ones((2, 1, 2, 2))],
     np.zeros((0, 2, 2, 2)), [np.zeros((0, 1, 3, 3)), np.zeros((2, 1, 2, 2))]),
    ("max_pool1d, a window holding nan", lambda x: F.max_pool1d(x, 2), [[[[1.0, nan, 1.0, 3.0]]]], [[[nan, 3.0]]],
     [[[[0.0, 1.0, 0.0, 1.0]]]]),
    ("max_pool1d, overlapping windows with nan", lambda x: F.max_pool1d(x, 2, 1), [[[[nan, 1.0, 3.0]]]],
     [[[nan, 3.0]]], [[[[1.0, 0.0, 1.0]]]]),
    ("max_pool1d, ties and -inf", lambda x: F.max_pool1d(x, 2), [[[[-inf, -inf, 2.0, 2.0]]]], [[[-inf, 2.0]]],
     [[[[1.0, 0.0, 1.0, 0.0]]]]),
    ("index by an empty list", lambda x: x[[]], [[1.0, 2.0]], E, [[0.0, 0.0]]),
    ("layer_norm of a constant row", lambda x: F.layer_norm(x, (3,)), [[[1.0, 1.0, 1.0]]], [[0.0, 0.0, 0.0]],
     [[[0.0, 0.0, 0.0]]]),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_value_and_gradient_at_the_edge_match_pytorch(case):
    _, fn, inputs, value, grads = case
    leaves = [cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in inputs]
    with np.errstate(all="ignore"):  # the forward's own warnings (log 0 ...) are NumPy's to give
        out = fn(*leaves)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ... but the backward gives PyTorch's nan and inf silently
        out.backward(np.ones_like(out._data))
    np.testing.assert_allclose(out._data, np.asarray(value, dtype=np.float64), rtol=1e-9, atol=1e-12)
    assert out._data.shape == np.shape(value)
    for leaf, expected in zip(leaves, grads):
        assert leaf.grad.shape == np.shape(expected)
        np.testing.assert_allclose(leaf.grad, np.asarray(expected, dtype=np.float64), rtol=1e-7, atol=1e-12)


def test_max_over_a_dim_returns_the_first_index_and_routes_the_gradient_there():
    x = cr.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 1.0]], requires_grad=True)
    values, indices = cr.max(x, 1)
    assert indices.tolist() == [1, 0]
    values.backward(np.array([10.0, 20.0], np.float32))
    np.testing.assert_array_equal(x.grad, [[0.0, 10.0, 0.0], [20.0, 0.0, 0.0]])
    values, indices = cr.min(cr.tensor(4.0), 0)
    assert (values.item(), indices.item()) == (4.0, 0)


def test_reductions_of_nothing_give_pytorchs_values_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(cr.zeros(0).mean().item())
        assert np.isnan(cr.zeros(0).var().item())
        assert cr.zeros(0).logsumexp(0).item() == -inf
        np.testing.assert_array_equal(cr.zeros(0, 2).mean(0)._data, [nan, nan])


def test_the_two_norm_of_a_zero_vector_has_a_zero_gradient_as_in_pytorch():
    x = cr.zeros(2, 3, dtype=cr.float64, requires_grad=True)
    y = cr.norm(x, dim=1)
    assert y.tolist() == [0.0, 0.0]
    (g,) = cr.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.numpy(), 0.0)
    (gg,) = cr.autograd.grad(g.sum(), x, allow_unused=True, materialize_grads=True)
    assert np.isfinite(gg.numpy()).all()
    w = cr.tensor([[3.0, 4.0]], requires_grad=True)
    w.norm().backward()
    np.testing.assert_allclose(w.grad.numpy(), [[0.6, 0.8]])
