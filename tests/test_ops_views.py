"""Views share their input's version counter (an in-place change through either is caught at
backward by a node that saved the other, as PyTorch's); copies do not. Second derivatives of the
reductions against their closed forms, where finite differences cannot reach (ties, zero spread)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import grad

VIEWS = {
    "reshape": lambda t: t.reshape(-1),
    "view": lambda t: cr.view(t, 4, 3),
    "flatten": lambda t: cr.flatten(t),
    "transpose": lambda t: t.transpose(0, 1),
    "swapaxes": lambda t: cr.swapaxes(t, -1, 0),
    "permute": lambda t: t.permute(1, 0),
    "T": lambda t: t.T,
    "squeeze": lambda t: t.unsqueeze(0).squeeze(0),
    "unsqueeze": lambda t: t.unsqueeze(1),
    "getitem_basic": lambda t: t[1:, ::2],
    "split": lambda t: t.split(1, 0)[1],
}


def _computed():
    """A non-leaf (leaves that require grad refuse in-place ops in a graph) and its leaf."""
    leaf = cr.tensor(np.arange(12.0).reshape(3, 4) + 1, requires_grad=True)
    return leaf, leaf * 1.0


@pytest.mark.parametrize("name", VIEWS)
def test_modifying_a_view_in_place_is_caught_by_a_node_that_saved_its_base(name):
    leaf, base = _computed()
    loss = (base * base).sum()  # Mul saves base
    view = VIEWS[name](base)
    with cr.no_grad():
        view.mul_(2)
    assert base._data.sum() != (leaf._data * 1.0).sum()  # the view wrote into the base's memory
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


@pytest.mark.parametrize("name", [*VIEWS, "expand", "broadcast_to"])
def test_modifying_the_base_in_place_is_caught_by_a_node_that_saved_a_view(name):
    make = {
        "expand": lambda t: t.expand(2, 3, 4),
        "broadcast_to": lambda t: cr.broadcast_to(t, (2, 3, 4)),
    }.get(name) or VIEWS[name]
    _, base = _computed()
    view = make(base)
    loss = (view * view).sum()  # Mul saves the view
    with cr.no_grad():
        base.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_a_view_modified_in_a_recorded_graph_bumps_the_shared_counter():
    _, base = _computed()
    loss = (base * base).sum()
    base.reshape(-1).mul_(3)  # recorded: the view takes a new grad_fn, the base's counter moves
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


@pytest.mark.parametrize("make", [
    lambda t: t.T.reshape(-1),  # NumPy copies a transposed array to flatten it
    lambda t: t[[0, 2]],  # integer arrays index a copy
    lambda t: t[t > 5],  # so do masks
    lambda t: cr.clone(t),
    lambda t: cr.pad(t, (1, 1)),
    lambda t: cr.cat([t, t]),
])
def test_copies_keep_their_own_version_counter(make):
    leaf, base = _computed()
    copy = make(base)
    loss = (copy * copy).sum()
    with cr.no_grad():
        base.add_(1)
    loss.backward()  # nothing it saved changed
    assert leaf.grad is not None


def _hessian(f, x):
    """Row by row: the gradient of each entry of f's create_graph gradient."""
    (g,) = grad(f(x), x, create_graph=True)
    g = g.reshape(-1)
    rows = [grad(g[i], x, retain_graph=True, allow_unused=True, materialize_grads=True)[0]._data.reshape(-1)
            for i in range(g.shape[0])]
    return np.stack(rows)


def test_logsumexp_hessian_is_the_softmax_covariance():
    x = cr.tensor([0.3, -1.2, 2.0, 0.5], dtype=cr.float64, requires_grad=True)
    p = np.exp(x._data) / np.exp(x._data).sum()
    np.testing.assert_allclose(_hessian(lambda t: cr.logsumexp(t, 0), x), np.diag(p) - np.outer(p, p), atol=1e-12)


@pytest.mark.parametrize("correction", [0, 1])
def test_var_hessian_is_the_centring_projection(correction):
    n = 5
    x = cr.tensor(np.linspace(-1, 2, n) ** 2, dtype=cr.float64, requires_grad=True)
    expected = 2 / (n - correction) * (np.eye(n) - np.ones((n, n)) / n)
    np.testing.assert_allclose(_hessian(lambda t: cr.var(t, correction=correction), x), expected, atol=1e-12)


def test_std_at_zero_spread_has_zero_first_and_second_derivatives():
    """std is not differentiable at a constant slice: 0 there, as PyTorch's first derivative,
    and no 0 * inf nan in the second (the other slice is checked against the closed form)."""
    x = cr.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]], dtype=cr.float64, requires_grad=True)
    hessian = _hessian(lambda t: cr.std(t, dim=1).sum(), x)
    assert np.isfinite(hessian).all()
    np.testing.assert_array_equal(hessian[:3], 0)
    row = x._data[1]
    s, c, n = row.std(ddof=1), row - row.mean(), 2
    # d2 std / dx2 = (I - 11^T / N) / (n s) - c c^T / (n^2 s^3), with n = N - 1
    expected = (np.eye(3) - 1 / 3) / (n * s) - np.outer(c, c) / (n**2 * s**3)
    np.testing.assert_allclose(hessian[3:, 3:], expected, atol=1e-12)


@pytest.mark.parametrize("op, selection", [
    (lambda t: cr.amax(t, 1), [[0, 0.5, 0.5], [1, 0, 0]]),  # ties share evenly
    (lambda t: cr.max(t, 1).values, [[0, 1, 0], [1, 0, 0]]),  # the first maximum takes it all
    (lambda t: cr.min(t, -1, keepdim=True).values.reshape(2), [[1, 0, 0], [0, 1, 0]]),
])
def test_max_and_min_pass_the_gradient_through_a_constant_selection(op, selection):
    """The selection does not move with x, so the gradient is linear in the output gradient v:
    its derivative w.r.t. v is the selection, and w.r.t. x it is 0."""
    x = cr.tensor([[1.0, 3.0, 3.0], [2.0, -1.0, 0.0]], dtype=cr.float64, requires_grad=True)
    v = cr.tensor([2.0, -3.0], dtype=cr.float64, requires_grad=True)
    (g,) = grad(op(x), x, grad_outputs=v, create_graph=True)
    selection = np.array(selection)
    np.testing.assert_allclose(g._data, selection * v._data[:, None])
    w = np.arange(6.0).reshape(2, 3)
    gx, gv = grad((g * w).sum(), (x, v), allow_unused=True, materialize_grads=True)
    np.testing.assert_array_equal(gx._data, 0)
    np.testing.assert_allclose(gv._data, (selection * w).sum(1))


def test_sum_and_mean_gradients_are_recorded_and_writable():
    x = cr.tensor(np.ones((2, 3)), dtype=cr.float64, requires_grad=True)
    v = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    (g,) = grad(x.mean(1), x, grad_outputs=v, create_graph=True)
    np.testing.assert_allclose(g._data, [[1 / 3] * 3, [2 / 3] * 3])
    assert g._data.flags.writeable  # a fresh array, not a broadcast view
    (gv,) = grad((g * g).sum(), v)
    np.testing.assert_allclose(gv._data, 2 * np.array([1.0, 2.0]) / 3)
