"""Higher-order differentiation through the engine: create_graph to any order, backward's inputs
and retain_graph, grad's allow_unused and materialize_grads, hooks, ``.grad`` as a Tensor, ops
without a double backward, gradgradcheck rejecting a second derivative that is slightly off, and
docs/autograd.md's examples."""

import doctest
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, GradcheckError, grad, gradcheck, gradgradcheck
from chainrule.autograd.engine import record


def _leaf(values):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_create_graph_to_third_order_on_a_polynomial():
    x = _leaf([1.0, 2.0])
    f = (x**4 + 2 * x**3).sum()  # f' = 4x^3 + 6x^2, f'' = 12x^2 + 12x, f''' = 24x + 12
    f.backward(create_graph=True)
    first = x.grad
    assert first.requires_grad and first.grad_fn is not None
    np.testing.assert_array_equal(first._data, [10.0, 56.0])
    (second,) = grad(first.sum(), x, create_graph=True)
    np.testing.assert_array_equal(second._data, [24.0, 72.0])
    (third,) = grad(second.sum(), x, create_graph=True)
    np.testing.assert_array_equal(third._data, [36.0, 60.0])
    (fourth,) = grad(third.sum(), x)
    np.testing.assert_array_equal(fourth._data, [24.0, 24.0])
    assert not fourth.requires_grad


def test_mixed_second_derivatives_and_a_hessian_vector_product():
    x, y = _leaf([1.0, 2.0]), _leaf([3.0, -1.0])
    f = (x * x * y + y.sin()).sum()
    gx, gy = grad(f, (x, y), create_graph=True)
    np.testing.assert_allclose(gx._data, 2 * x._data * y._data)
    v = cr.tensor([1.0, -1.0], dtype=cr.float64)
    (hv_x, hv_y) = grad((gx * v).sum(), (x, y))  # d/dx (2xy . v) = 2y v, d/dy = 2x v
    np.testing.assert_allclose(hv_x._data, 2 * y._data * v._data)
    np.testing.assert_allclose(hv_y._data, 2 * x._data * v._data)
    (curvature,) = grad(gy.sum(), y)
    np.testing.assert_allclose(curvature._data, -np.sin(y._data))


def test_a_gradient_penalty_is_differentiable_in_the_weights():
    w = _leaf([[0.5, -1.0], [2.0, 0.3]])
    x = _leaf([[1.0, 2.0]])

    def penalty(w, x):
        out = (x @ w).tanh().sum()
        (dx,) = grad(out, x, create_graph=True)
        return ((dx * dx).sum() - 1) ** 2

    assert gradcheck(lambda w: penalty(w, x), (w,))
    loss = penalty(w, x)
    loss.backward()
    assert w.grad is not None and x.grad is not None


def test_backward_accumulates_into_the_given_inputs_only():
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    h = a * b
    (h * h).sum().backward(inputs=[a])
    np.testing.assert_array_equal(a.grad._data, 2 * (a._data * b._data) * b._data)
    assert b.grad is None
    h = a * b
    (h * h).sum().backward(inputs=h)  # a computed tensor may be an input: it gets a .grad
    np.testing.assert_array_equal(h.grad._data, 2 * h._data)
    with pytest.raises(ValueError, match="backward: inputs is empty"):
        (a * b).sum().backward(inputs=[])


def test_grad_allow_unused_and_materialize_grads():
    x, unused = _leaf([1.0, 2.0]), _leaf([5.0])
    with pytest.raises(RuntimeError, match=r"grad: input 1 \(shape \(1,\)\) was not used .*allow_unused=True"):
        grad((x * x).sum(), (x, unused))
    gx, gu = grad((x * x).sum(), (x, unused), allow_unused=True)
    assert gu is None
    np.testing.assert_array_equal(gx._data, [2.0, 4.0])
    gx, gu = grad((x * x).sum(), (x, unused), materialize_grads=True)
    assert isinstance(gu, cr.Tensor) and gu.shape == (1,)
    np.testing.assert_array_equal(gu._data, [0.0])
    assert x.grad is None and unused.grad is None  # grad never touches .grad


def test_retain_graph_defaults_to_create_graph():
    x = _leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(create_graph=True)
    y.backward()  # the graph was kept: the second call runs and accumulates
    np.testing.assert_allclose(x.grad._data, 2 * (np.exp(x._data) * (1 + x._data)))
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"already released .*retain_graph=True"):
        y.backward()


def test_hooks_receive_tensors_in_both_modes_and_can_replace_them():
    x = _leaf([1.0, 2.0])
    h = x * x
    seen = []
    h.register_hook(lambda g: seen.append(g))
    handle = h.register_hook(lambda g: g * 2)
    (h * 3).sum().backward(retain_graph=True)
    assert isinstance(seen[0], cr.Tensor) and not seen[0].requires_grad
    np.testing.assert_array_equal(x.grad._data, 2 * 3 * 2 * x._data)
    x.grad = None
    (h * h).sum().backward(create_graph=True)
    assert isinstance(seen[1], cr.Tensor) and seen[1].requires_grad  # 2h, recorded
    np.testing.assert_allclose(x.grad._data, 8 * x._data**3)  # 2 * (2h) * 2x, doubled at h
    (second,) = grad(x.grad.sum(), x, retain_graph=True)
    # the gradient flowing back through h is doubled again, as PyTorch's hooks do: 40x^2, not 24x^2
    np.testing.assert_allclose(second._data, 40 * x._data**2)
    handle.remove()
    (second,) = grad(x.grad.sum(), x)
    np.testing.assert_allclose(second._data, 24 * x._data**2)  # d(8x^3)/dx, the recorded doubling kept


def test_grad_is_a_tensor_with_pytorch_semantics():
    w = _leaf([[3.0, -4.0]])
    assert w.grad is None
    (w * w).sum().backward()
    g = w.grad
    assert isinstance(g, cr.Tensor) and g.shape == (1, 2) and g.dtype == np.float64 and not g.requires_grad
    assert float(g.pow(2).sum().sqrt()) == 10.0 and float(g.abs().max()) == 8.0
    g.mul_(0.5)
    np.testing.assert_array_equal(w.grad._data, [[3.0, -4.0]])
    w.grad.zero_()
    np.testing.assert_array_equal(w.grad._data, [[0.0, 0.0]])
    w.grad = cr.tensor([[1.0, 1.0]], dtype=cr.float64)
    with pytest.raises(RuntimeError, match=r"grad: assigned grad has shape \(2,\), expected .* shape \(1, 2\)"):
        w.grad = cr.tensor([1.0, 1.0], dtype=cr.float64)
    with pytest.raises(RuntimeError, match="assigned grad has dtype float32, expected the tensor's dtype float64"):
        w.grad = cr.tensor([[1.0, 1.0]])
    with pytest.raises(TypeError, match="expected to be a Tensor or None but got grad of type ndarray"):
        w.grad = np.ones((1, 2))
    del w.grad
    assert w.grad is None


def test_an_op_without_double_backward_is_named():
    x = _leaf([1.0, 2.0])
    d = x._data
    legacy = record("Legacy", d * d, (x,), lambda g: (2 * g * d,))  # saved=None: first order only
    legacy.sum().backward()
    np.testing.assert_array_equal(x.grad._data, [2.0, 4.0])
    legacy = record("Legacy", d * d, (x,), lambda g: (2 * g * d,))
    with pytest.raises(RuntimeError, match="create_graph: Legacy has no double backward"):
        legacy.sum().backward(create_graph=True)


class _SineWithSlightlyWrongCurvature(Function):
    """sin(x), whose backward g cos(x) is exact in value but differentiates to -g sin(x) + g/100:
    right to first order, slightly wrong to second."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.cos() + 0.01 * g * (x - x.detach())


class _Sine(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.cos()


def test_gradgradcheck_rejects_a_second_derivative_that_is_slightly_wrong():
    x = cr.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    assert gradcheck(_SineWithSlightlyWrongCurvature.apply, (x,))
    with pytest.raises(GradcheckError, match=r"gradgradcheck: input 0 \(shape \(2, 3\)\): gradient wrong"):
        gradgradcheck(_SineWithSlightlyWrongCurvature.apply, (x,))
    assert gradgradcheck(_Sine.apply, (x,))
    assert gradgradcheck(_SineWithSlightlyWrongCurvature.apply, (x,), raise_exception=False) is False


def test_the_autograd_docs_examples_run():
    path = Path(__file__).resolve().parent.parent / "docs" / "autograd.md"
    test = doctest.DocTestParser().get_doctest(path.read_text(), {}, "autograd.md", str(path), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert test.examples and runner.failures == 0
