"""Second derivatives of the fused losses and of a network built from them: the Hessian of
cross-entropy w.r.t. its logits against the closed form, and Hessian-vector products through
Linear-tanh-Linear networks against float64 finite differences of the gradient."""

import numpy as np
import pytest
import scipy.special

import chainrule as cr
from chainrule import nn
from chainrule.autograd import grad
from chainrule.nn import functional as F


def _hessian(loss_fn, x):
    """d2 loss / dx2 of a scalar loss, one row per element of x, from the recorded gradient."""
    (g,) = grad(loss_fn(x), x, create_graph=True)
    flat = g.reshape(-1)
    rows = [grad(flat[k], x, retain_graph=True)[0]._data.reshape(-1) for k in range(x._data.size)]
    return np.stack(rows)


def _softmax_block_diagonal(logits, scales):
    """sum over rows n of scales[n] (diag(p_n) - p_n p_n^T), as a matrix over all logits."""
    p = scipy.special.softmax(logits, axis=1)
    n, c = logits.shape
    hessian = np.zeros((n * c, n * c))
    for i in range(n):
        hessian[i * c:(i + 1) * c, i * c:(i + 1) * c] = scales[i] * (np.diag(p[i]) - np.outer(p[i], p[i]))
    return hessian


LOGITS = np.random.default_rng(0).standard_normal((4, 3)) * 2
TARGETS = np.array([0, 2, 1, 2])


@pytest.mark.parametrize("reduction, divisor", [("mean", 4), ("sum", 1)])
def test_cross_entropy_hessian_is_diag_p_minus_p_pT_per_row(reduction, divisor):
    x = cr.tensor(LOGITS, requires_grad=True)
    hessian = _hessian(lambda t: F.cross_entropy(t, cr.tensor(TARGETS), reduction=reduction), x)
    np.testing.assert_allclose(hessian, _softmax_block_diagonal(LOGITS, np.ones(4)) / divisor, rtol=1e-12, atol=1e-14)


def test_cross_entropy_hessian_with_weights_smoothing_and_ignored_targets():
    """Per row the loss is -sum(q log p) with sum(q) = (1 - e) w[y] + e/C sum(w) (0 where ignored):
    its Hessian is sum(q) (diag(p) - p p^T); "mean" divides by the summed w[y] of counted rows."""
    weight, smoothing, ignore = np.array([0.5, 1.0, 2.0]), 0.2, 1
    targets = np.array([0, 2, 1, 2])  # the third row is ignored
    x = cr.tensor(LOGITS, requires_grad=True)

    def loss(t):
        return F.cross_entropy(t, cr.tensor(targets), cr.tensor(weight), ignore_index=ignore,
                               label_smoothing=smoothing)

    valid = targets != ignore
    q_sums = ((1 - smoothing) * weight[targets] + smoothing / 3 * weight.sum()) * valid
    expected = _softmax_block_diagonal(LOGITS, q_sums) / (weight[targets] * valid).sum()
    np.testing.assert_allclose(_hessian(loss, x), expected, rtol=1e-12, atol=1e-14)


def test_cross_entropy_hessian_with_probability_targets_and_its_mixed_derivative():
    """With probability targets q (rows summing to 1) the logits' Hessian is diag(p) - p p^T per
    row; the gradient p sum(q) - q also depends on q: d(u . grad) / dq = (u . p) - u per row."""
    q = scipy.special.softmax(np.random.default_rng(1).standard_normal((4, 3)), axis=1)
    x = cr.tensor(LOGITS, requires_grad=True)
    target = cr.tensor(q, requires_grad=True)
    hessian = _hessian(lambda t: F.cross_entropy(t, target, reduction="sum"), x)
    np.testing.assert_allclose(hessian, _softmax_block_diagonal(LOGITS, np.ones(4)), rtol=1e-12, atol=1e-14)
    (gx,) = grad(F.cross_entropy(x, target, reduction="sum"), x, create_graph=True)
    u = np.random.default_rng(2).standard_normal((4, 3))
    (mixed,) = grad((gx * cr.tensor(u)).sum(), target)
    p = scipy.special.softmax(LOGITS, axis=1)
    np.testing.assert_allclose(mixed._data, (u * p).sum(1, keepdims=True) - u, rtol=1e-12, atol=1e-14)


def test_softmax_and_log_softmax_hessians_match_the_closed_form():
    """log_softmax(x)[0] along a row has Hessian -(diag(p) - p p^T); the engine's second
    derivative through the log_softmax rule gives it exactly."""
    row = LOGITS[0]
    x = cr.tensor(row, requires_grad=True)
    p = scipy.special.softmax(row)
    np.testing.assert_allclose(_hessian(lambda t: cr.log_softmax(t, 0)[0], x), -(np.diag(p) - np.outer(p, p)),
                               rtol=1e-12, atol=1e-14)
    # softmax(x)[0] = p0: d2 p0 / dx_i dx_j = p0 ((d0i - p_i)(d0j - p_j) - (d_ij p_i - p_i p_j))
    e0 = np.eye(3)[0]
    expected = p[0] * (np.outer(e0 - p, e0 - p) - (np.diag(p) - np.outer(p, p)))
    np.testing.assert_allclose(_hessian(lambda t: cr.softmax(t, 0)[0], x), expected, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------- networks


def _network(seed):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4)).to(cr.float64)


_RNG = np.random.default_rng(2)
INPUTS = _RNG.standard_normal((6, 3))
CLASSES = np.array([0, 3, 1, 2, 3, 0])
PROBABILITIES = scipy.special.softmax(_RNG.standard_normal((6, 4)), axis=1)
LOSSES = {
    "cross_entropy": lambda out: F.cross_entropy(out, cr.tensor(CLASSES)),
    "cross_entropy_weighted_smoothed_ignoring": lambda out: F.cross_entropy(
        out, cr.tensor(CLASSES), cr.tensor(np.array([0.5, 1.0, 2.0, 1.5])), ignore_index=3,
        label_smoothing=0.1, reduction="sum"),
    "cross_entropy_probabilities": lambda out: F.cross_entropy(out, cr.tensor(PROBABILITIES)),
    "nll_of_log_softmax": lambda out: F.nll_loss(cr.log_softmax(out, 1), cr.tensor(CLASSES)),
    "bce_with_logits_pos_weight": lambda out: F.binary_cross_entropy_with_logits(
        out, cr.tensor(PROBABILITIES), pos_weight=cr.tensor(np.array([2.0, 0.5, 1.0, 3.0]))),
    "bce_of_sigmoid": lambda out: F.binary_cross_entropy(cr.sigmoid(out), cr.tensor(PROBABILITIES)),
    "mse": lambda out: F.mse_loss(out, cr.tensor(PROBABILITIES), reduction="sum"),
}


@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_hessian_vector_product_through_a_network_matches_finite_differences(loss_name):
    """H v for the loss of a Linear-tanh-Linear network w.r.t. all its parameters, by double
    backward, against (grad(theta + eps v) - grad(theta - eps v)) / 2 eps in float64."""
    model = _network(0)
    params = list(model.parameters())
    loss_of = LOSSES[loss_name]
    x = cr.tensor(INPUTS)
    rng = np.random.default_rng(3)
    v = [rng.standard_normal(p.shape) for p in params]

    grads = grad(loss_of(model(x)), params, create_graph=True)
    assert all(g.requires_grad for g in grads)
    dot = sum((g * cr.tensor(vi)).sum() for g, vi in zip(grads, v))
    hvp = [h._data for h in grad(dot, params)]

    def gradient_at(shift):
        with cr.no_grad():
            for p, vi in zip(params, v):
                p._data += shift * vi
        try:
            return [g._data.copy() for g in grad(loss_of(model(x)), params)]
        finally:
            with cr.no_grad():
                for p, vi in zip(params, v):
                    p._data -= shift * vi

    eps = 1e-5
    plus, minus = gradient_at(eps), gradient_at(-eps)
    for h, gp, gm in zip(hvp, plus, minus):
        np.testing.assert_allclose(h, (gp - gm) / (2 * eps), rtol=1e-6, atol=1e-8)


def test_first_order_gradients_are_unchanged_by_create_graph():
    """The same rule on arrays (first order) and on tensors (create_graph) gives the same numbers."""
    model = _network(1)
    params = list(model.parameters())
    x = cr.tensor(INPUTS)
    for loss_of in LOSSES.values():
        plain = grad(loss_of(model(x)), params)
        recorded = grad(loss_of(model(x)), params, create_graph=True)
        for a, b in zip(plain, recorded):
            np.testing.assert_allclose(a._data, b._data, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------------- edges


def _leaf(rng, *shape, low=-1.0, high=1.0):
    return cr.tensor(rng.uniform(low, high, shape), requires_grad=True)


@pytest.mark.parametrize("sa, sb", [((3,), (2, 3, 4)), ((2, 4, 3), (3,)), ((3, 1, 2, 3), (3,)), ((3,), (3,))])
def test_matmul_with_a_vector_and_batches_differentiates_twice(sa, sb):
    rng = np.random.default_rng(4)
    assert cr.autograd.gradgradcheck(lambda a, b: a @ b, (_leaf(rng, *sa), _leaf(rng, *sb)))


def test_linear_of_a_vector_and_softmax_of_a_scalar_differentiate_twice():
    rng = np.random.default_rng(5)
    assert cr.autograd.gradgradcheck(cr.linear, (_leaf(rng, 3), _leaf(rng, 2, 3), _leaf(rng, 2)))
    s = _leaf(rng)
    assert cr.autograd.gradgradcheck(lambda t: cr.softmax(t, 0), (s,))
    assert cr.autograd.gradgradcheck(lambda t: cr.log_softmax(t, -1), (s,))


@pytest.mark.parametrize("shape", [(4100, 1), (33, 140)])
def test_large_linear_layers_give_the_same_gradients_to_first_order_and_under_create_graph(shape):
    """Products large enough for the fast layouts (outer products, transposed products) on the
    first-order path give what the recorded path (matmul on tensors) gives."""
    rng = np.random.default_rng(6)
    x, w, b = _leaf(rng, 5, shape[1]), _leaf(rng, shape[0], shape[1]), _leaf(rng, shape[0])
    seed = cr.tensor(rng.standard_normal((5, shape[0])))
    plain = grad(cr.linear(x, w, b), (x, w, b), seed)
    recorded = grad(cr.linear(x, w, b), (x, w, b), seed, create_graph=True)
    for a, r in zip(plain, recorded):
        np.testing.assert_allclose(a._data, r._data, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_a_mean_over_no_counted_target_gives_zero_gradients_to_every_order(loss):
    """nan loss (0 / 0, as PyTorch's) but gradients of exactly 0, not nan (nll's gradient does not
    depend on its input, so it has no second derivative to take)."""
    x = cr.tensor(LOGITS[:2], requires_grad=True)
    value = loss(x, cr.tensor([1, 1]), ignore_index=1)
    assert np.isnan(value.item())
    (g,) = grad(value, x, create_graph=True)
    assert not g._data.any()
    if g.requires_grad:
        (h,) = grad((g * g).sum() + g.sum(), x)
        assert not h._data.any()


def test_binary_cross_entropy_with_logits_curvature_at_zero_logits():
    """The second derivative at exactly x = 0 is w sigmoid'(0) = w / 4, also with pos_weight
    (where the target's gradient involves softplus(-x), smooth at 0)."""
    x = cr.tensor(np.zeros((2, 3)), requires_grad=True)
    y = cr.tensor(np.random.default_rng(7).uniform(0, 1, (2, 3)), requires_grad=True)
    (gx,) = grad(F.binary_cross_entropy_with_logits(x, y.detach(), reduction="sum"), x, create_graph=True)
    np.testing.assert_allclose(grad(gx.sum(), x)[0]._data, np.full((2, 3), 0.25), rtol=1e-15)
    pos_weight = cr.tensor(np.array([2.0, 0.5, 1.0]))
    assert cr.autograd.gradgradcheck(
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, pos_weight=pos_weight, reduction="sum"), (x, y))


def test_cross_entropy_differentiates_three_times():
    """gradcheck of the gradient of a gradient norm: third derivatives of the fused op."""
    def gradient_of_gradient_norm(t):
        (g,) = grad(F.cross_entropy(t, cr.tensor([0, 2]), label_smoothing=0.1), t, create_graph=True)
        return grad((g * g).sum(), t, create_graph=True)[0]

    assert cr.autograd.gradcheck(gradient_of_gradient_norm, (cr.tensor(LOGITS[:2], requires_grad=True),))
