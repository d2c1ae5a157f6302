"""The engine: accumulation, graph release, hooks, no_grad, retain_grad, deep and diamond graphs,
and its error messages."""

import gc
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.engine import record


def test_gradients_accumulate_across_backward_calls():
    w = cr.tensor([1.0, -2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad, [6.0, 6.0])


def test_shared_upstream_gradient_is_not_aliased_between_leaves():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    (a + b).backward(np.ones(2, dtype=np.float32))
    assert not np.shares_memory(a.grad, b.grad)
    a.grad *= 10  # an in-place update (clipping, an optimizer) must not reach b
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_broadcast_gradient_becomes_a_writable_leaf_grad():
    x = cr.tensor([[1.0, 2.0]], requires_grad=True)
    cr.broadcast_to(x, (3, 2)).sum().backward()
    assert isinstance(x.grad, cr.Tensor) and x.grad._data.flags.writeable and x.grad.shape == (1, 2)
    np.testing.assert_array_equal(x.grad, [[3.0, 3.0]])


def test_diamond_graph_sums_both_paths():
    x = cr.tensor(2.0, requires_grad=True)
    y = x * x          # used by two ops below
    z = y * 3 + y.exp()
    z.backward()
    expected = 3 * 2 * 2.0 + np.exp(4.0) * 2 * 2.0
    np.testing.assert_allclose(x.grad, expected, rtol=1e-6)


def test_same_tensor_as_both_operands():
    x = cr.tensor([3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0])


def test_chain_of_ten_thousand_ops_needs_no_recursion():
    x = cr.tensor(1.0, dtype=cr.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad, 1.0001**10_000, rtol=1e-9)


def test_graph_is_released_after_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    probe = weakref.ref(h._data)
    loss = h.sum()
    del h
    gc.collect()
    assert probe() is not None  # the graph holds the intermediate until backward
    loss.backward()
    gc.collect()
    assert probe() is None  # ... and drops it afterwards


def test_second_backward_through_released_graph_raises():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"already released.*retain_graph=True"):
        loss.backward()


def test_released_intermediate_reached_from_a_new_graph_raises():
    x = cr.tensor([1.0], requires_grad=True)
    y = x.exp()
    y.sum().backward()
    with pytest.raises(RuntimeError, match=r"Exp.*already released"):
        (y * 2).sum().backward()


def test_retain_graph_allows_a_second_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])


def test_non_leaf_grad_only_with_retain_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    k = x * 3
    h.retain_grad()
    (h * k).sum().backward()
    np.testing.assert_array_equal(h.grad, k._data)
    assert k.grad is None
    assert h.retains_grad and not k.retains_grad


def test_hook_sees_the_error_signal_and_can_replace_it():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    seen = []
    h.register_hook(lambda g: seen.append(g.clone()))  # a hook receives a Tensor, as PyTorch's
    handle = h.register_hook(lambda g: g * 0)
    (h * h).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(seen[0], 2 * h._data)
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    handle.remove()
    x.grad = None
    (h * h).sum().backward()
    np.testing.assert_array_equal(x.grad, 4 * h._data)


def test_hook_on_leaf_runs_before_accumulation():
    w = cr.tensor([1.0], requires_grad=True)
    w.register_hook(lambda g: g + 1)
    (w * 5).sum().backward()
    np.testing.assert_array_equal(w.grad, [6.0])


def test_hook_returning_wrong_shape_is_refused():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: np.zeros(3))
    with pytest.raises(ValueError, match=r"hook returned a gradient of shape \(3,\).*\(2,\)"):
        (x * 1).sum().backward()


def test_no_grad_as_context_and_decorator():
    w = cr.ones(2, requires_grad=True)
    with cr.no_grad():
        y = w * 2
        assert not cr.autograd.is_grad_enabled()
        with cr.enable_grad():
            z = w * 2
    assert cr.autograd.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @cr.no_grad()
    def predict(t):
        return t * 2

    assert not predict(w).requires_grad
    assert cr.autograd.is_grad_enabled()


def test_grad_returns_gradients_without_touching_dot_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.tensor([3.0, 4.0], requires_grad=True)
    gx, gy = cr.autograd.grad((x * y).sum(), (x, y))
    np.testing.assert_array_equal(gx, y._data)
    np.testing.assert_array_equal(gy, x._data)
    assert x.grad is None and y.grad is None


def test_grad_with_grad_outputs_and_unused_inputs():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    unused = cr.tensor([1.0], requires_grad=True)
    out = x * 3
    with pytest.raises(RuntimeError, match=r"input 1.*not used"):
        cr.autograd.grad(out, (x, unused), np.array([1.0, 10.0]), retain_graph=True)
    gx, gu = cr.autograd.grad(out, (x, unused), np.array([1.0, 10.0]), allow_unused=True)
    np.testing.assert_array_equal(gx, [3.0, 30.0])
    assert gu is None


def test_grad_of_intermediate_tensor():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    (gh,) = cr.autograd.grad((h * h).sum(), h)
    np.testing.assert_array_equal(gh, 2 * h._data)


def test_backward_with_explicit_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).backward(cr.tensor([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [2.0, -2.0])


def test_backward_on_non_scalar_without_gradient_raises():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for a scalar output.*shape \(2,\)"):
        (x * 2).backward()


def test_backward_with_gradient_of_wrong_shape_raises():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\), expected.*\(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (cr.ones(2) * 2).sum().backward()


def test_requires_grad_on_integer_tensor_raises():
    with pytest.raises(TypeError, match=r"requires_grad=True needs a floating dtype.*int64"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating dtype"):
        cr.arange(3).requires_grad_()


def test_detect_anomaly_names_the_op():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    anomaly = cr.autograd.detect_anomaly()
    with np.errstate(divide="ignore"), anomaly, pytest.raises(FloatingPointError, match="Sqrt"):
        cr.sqrt(x).sum().backward()
    x.grad = None
    with np.errstate(divide="ignore"):
        cr.sqrt(x).sum().backward()  # outside anomaly mode: inf passes silently, as in PyTorch
    assert np.isinf(x.grad._data[0])


def test_engine_sums_broadcast_gradients_and_checks_shapes():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    bad = record("Bad", x._data * 1, (x,), lambda g: (np.ones(3, dtype=np.float32),))
    with pytest.raises(RuntimeError, match=r"backward of Bad: produced a gradient of shape \(3,\)"):
        bad.sum().backward()


def test_float64_graph_keeps_float64_gradients():
    x = cr.randn(3, dtype=cr.float64, requires_grad=True)
    (x.sigmoid() * 2.0).sum().backward()
    assert x.grad.dtype == np.float64


def test_mixed_precision_gradient_returns_in_each_inputs_dtype():
    a = cr.randn(3, dtype=cr.float32, requires_grad=True)
    b = cr.randn(3, dtype=cr.float64, requires_grad=True)
    out = a * b
    assert out.dtype == np.float64  # NumPy's promotion, as PyTorch
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_leaf_used_without_grad_gets_no_grad():
    x = cr.tensor([1.0, 2.0])
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(w.grad, [1.0, 2.0])


def test_node_repr_names_the_op():
    x = cr.tensor([1.0], requires_grad=True)
    assert repr((x * 2).grad_fn) == "<MulBackward>"


def test_detect_anomaly_names_the_forward_op_and_the_calling_line():
    x = cr.tensor([-1.0, 1.0], requires_grad=True)
    with np.errstate(invalid="ignore"), cr.autograd.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"forward of Log \(called at .*test_engine.py:\d+"):
            cr.log(x)
        y = cr.exp(x)  # finite: passes
    assert np.isfinite(y._data).all()


def test_detect_anomaly_backward_message_names_where_the_op_was_called():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"), cr.autograd.detect_anomaly():
        y = cr.sqrt(x)
        with pytest.raises(FloatingPointError, match=r"backward of Sqrt \(called at .*test_engine.py"):
            y.sum().backward()


def test_a_gradient_nothing_else_holds_becomes_the_leaf_grad_without_a_copy():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    made = []

    def vjp(g):
        grad = g * 2
        made.append(weakref.ref(grad))  # a weak reference: the engine alone holds the array
        return (grad,)

    record("Double", w._data * 2, (w,), vjp).sum().backward()
    assert w.grad._data is made[0]()


def test_a_transposed_product_becomes_the_leaf_grad_without_a_copy_in_its_own_order():
    w = cr.tensor(np.ones((2, 3)), requires_grad=True)
    made = []

    def vjp(g):
        grad = (np.ones((3, 2)) @ np.eye(2)).T  # a whole-array view of a fresh product
        made.append(weakref.ref(grad.base))
        return (grad,)

    record("Transposed", w._data * 1, (w,), vjp).sum().backward()
    assert w.grad._data.base is made[0]() and w.grad._data.flags.f_contiguous


def test_a_view_of_an_array_held_elsewhere_is_copied_into_the_leaf_grad():
    w = cr.tensor(np.ones((2, 3)), requires_grad=True)
    kept = np.ones((3, 2))
    record("Transposed", w._data * 1, (w,), lambda g: (kept.T,)).sum().backward()
    assert not np.shares_memory(w.grad, kept)
    w.grad += 1
    assert (kept == 1).all()
