"""Gradient clipping and parameter vectors."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters


def _with_grads(*grads):
    params = []
    for g in grads:
        p = cr.zeros(*np.shape(g), requires_grad=True)
        p.grad = cr.tensor(np.array(g, dtype=np.float32))
        params.append(p)
    return params


def test_clip_grad_norm_scales_all_gradients_together():
    params = _with_grads([3.0, 0.0], [[4.0]])
    total = clip_grad_norm_(params, max_norm=1.0)
    assert isinstance(total, cr.Tensor) and total.item() == pytest.approx(5.0)  # a tensor, as PyTorch's
    np.testing.assert_allclose(params[0].grad, [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(params[1].grad, [[0.8]], rtol=1e-5)
    joint = np.sqrt(sum(float((p.grad**2).sum()) for p in params))
    assert joint == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone_and_supports_other_norms():
    params = _with_grads([0.3, -0.4])
    assert clip_grad_norm_(params, 1.0).item() == pytest.approx(0.5)
    np.testing.assert_allclose(params[0].grad, [0.3, -0.4])
    params = _with_grads([3.0, -4.0])
    assert clip_grad_norm_(params, 2.0, norm_type=float("inf")).item() == 4.0
    np.testing.assert_allclose(params[0].grad, [1.5, -2.0], rtol=1e-5)
    params = _with_grads([3.0, -4.0])
    assert clip_grad_norm_(params, 100.0, norm_type=1).item() == pytest.approx(7.0)


def test_clip_grad_norm_errors():
    params = _with_grads([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="total gradient norm is inf"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm must be positive"):
        clip_grad_norm_(params, 0.0)


def test_clip_grad_value():
    params = _with_grads([3.0, -0.2, -7.0])
    clip_grad_value_(params, 1.0)
    np.testing.assert_allclose(params[0].grad, [1.0, -0.2, -1.0], rtol=1e-6)


def test_parameters_to_vector_and_back():
    a, b = cr.randn(2, 3), cr.randn(4)
    vec = parameters_to_vector([a, b])
    assert vec.shape == (10,)
    np.testing.assert_array_equal(vec._data[:6], a._data.ravel())
    vector_to_parameters(cr.arange(10).to(cr.float32), [a, b])
    np.testing.assert_array_equal(b._data, [6, 7, 8, 9])
    with pytest.raises(ValueError, match="expected a 1-D vector of 10 elements"):
        vector_to_parameters(np.zeros(9), [a, b])


@pytest.mark.parametrize("call, error, message", [
    (lambda ps: clip_grad_norm_(ps, "1.0"), TypeError, r"clip_grad_norm_: max_norm must be a number, got str"),
    (lambda ps: clip_grad_norm_(ps, float("nan")), ValueError, r"clip_grad_norm_: max_norm must be positive, got nan"),
    (lambda ps: clip_grad_norm_(ps, 1.0, norm_type="x"), TypeError, r"clip_grad_norm_: norm_type must be a number"),
    (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=0), ValueError, r"clip_grad_norm_: norm_type must be positive"),
    (lambda ps: clip_grad_norm_([1.0], 1.0), TypeError, r"clip_grad_norm_: expected tensors .*, got a float"),
    (lambda ps: clip_grad_value_(ps, -1), ValueError, r"clip_grad_value_: clip_value must be positive, got -1"),
    (lambda ps: vector_to_parameters(cr.zeros(2), [np.zeros(2)]), TypeError, r"vector_to_parameters: expected tensors"),
])  # fmt: skip
def test_gradient_utilities_name_a_bad_argument(call, error, message):
    p = cr.ones(2, requires_grad=True)
    p.grad = cr.ones(2)
    with pytest.raises(error, match=message):
        call([p])
    np.testing.assert_array_equal(p.grad, 1.0)


def test_clip_grad_norm_with_an_infinite_limit_leaves_gradients_alone():
    p = cr.ones(2, requires_grad=True)
    p.grad = cr.full((2,), 3.0)
    assert clip_grad_norm_([p], float("inf")).item() == pytest.approx(math.sqrt(18))
    np.testing.assert_array_equal(p.grad, 3.0)


@pytest.mark.parametrize("clip", [lambda ps: clip_grad_norm_(ps, 0.1), lambda ps: clip_grad_value_(ps, 0.1)],
                         ids=["norm", "value"])
def test_clipping_is_an_in_place_change_a_graph_that_saved_the_gradient_sees(clip):
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w**3).sum().backward(create_graph=True)
    penalty = (w.grad * w.grad).sum()  # saves the gradient for its backward
    clip([w])
    assert float(abs(w.grad).max()) <= 0.1 + 1e-6
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        penalty.backward()


def test_clip_grad_norm_returns_a_tensor_of_the_gradients_dtype_and_reads_a_generator_once():
    model = cr.nn.Linear(3, 2, dtype=cr.float64)
    model(cr.ones(4, 3, dtype=cr.float64)).sum().backward()
    grads = [p.grad._data.copy() for p in model.parameters()]
    want = np.sqrt(sum((g**2).sum() for g in grads))
    total = clip_grad_norm_(model.parameters(), max_norm=0.5)  # a generator, as PyTorch scripts pass it
    assert isinstance(total, cr.Tensor) and total.shape == () and total.dtype == np.float64
    assert total.item() == pytest.approx(want, rel=1e-12)
    for p, g in zip(model.parameters(), grads):
        np.testing.assert_allclose(p.grad._data, g * 0.5 / (want + 1e-6), rtol=1e-12)
    assert clip_grad_norm_([], 1.0).item() == 0.0
    assert clip_grad_norm_(_with_grads([3.0, -4.0]), 1.0, norm_type="inf").item() == 4.0


def test_clip_grad_norm_of_a_non_finite_norm_gives_what_pytorch_gives():
    params = _with_grads([np.inf, 1.0])
    assert clip_grad_norm_(params, 1.0).item() == np.inf
    assert np.isnan(params[0].grad._data[0]) and params[0].grad._data[1] == 0  # scaled by 0
    params = _with_grads([np.nan, 1.0])
    assert np.isnan(clip_grad_norm_(params, 1.0).item()) and np.isnan(params[0].grad._data).all()


def test_get_total_norm_and_clip_grads_with_norm():
    from chainrule.nn.utils import clip_grads_with_norm_, get_total_norm

    grads = [cr.tensor([3.0]), cr.tensor([[-4.0]])]
    assert get_total_norm(grads).item() == pytest.approx(5.0)
    assert get_total_norm(grads, norm_type=1).item() == pytest.approx(7.0)
    assert get_total_norm(grads, norm_type=float("inf")).item() == 4.0
    with pytest.raises(RuntimeError, match=r"get_total_norm: the total norm of order 2.0 is inf"):
        get_total_norm([cr.tensor([np.inf])], error_if_nonfinite=True)
    params = _with_grads([3.0, 4.0])
    clip_grads_with_norm_(params, 1.0, get_total_norm([p.grad for p in params]))
    np.testing.assert_allclose(params[0].grad, [0.6, 0.8], rtol=1e-5)


def test_parameters_to_vector_is_differentiable():
    a, b = cr.randn(2, 3, dtype=cr.float64, requires_grad=True), cr.randn(4, dtype=cr.float64, requires_grad=True)
    vec = parameters_to_vector([a, b])
    assert vec.dtype == np.float64
    (vec * cr.arange(10, dtype=cr.float64)).sum().backward()
    np.testing.assert_array_equal(a.grad._data, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(b.grad._data, [6, 7, 8, 9])
