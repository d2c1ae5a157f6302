"""autograd.functional: vjp, jvp, jacobian, hessian, vhp and hvp against closed forms and float64
central differences, with PyTorch's return conventions (tuple in, tuple out) and errors."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp


def _t(*shape, seed=0):
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape))


def _numerical_jacobian(f, arrays, j, eps=1e-6):
    """d f(arrays) / d arrays[j] by central differences, shape f.shape + arrays[j].shape."""
    columns = []
    x = arrays[j]
    for k in range(x.size):
        plus, minus = [a.copy() for a in arrays], [a.copy() for a in arrays]
        plus[j].reshape(-1)[k] += eps
        minus[j].reshape(-1)[k] -= eps
        columns.append((f(*plus) - f(*minus)) / (2 * eps))
    out = np.stack(columns, axis=-1)
    return out.reshape(out.shape[:-1] + x.shape)


def test_vjp_and_jvp_of_an_elementwise_cube_match_the_closed_form():
    x, v = _t(2, 3), _t(2, 3, seed=1)
    out, product = vjp(lambda t: t * t * t, x, v)
    np.testing.assert_allclose(out._data, x._data**3)
    np.testing.assert_allclose(product._data, 3 * x._data**2 * v._data)
    out, product = jvp(lambda t: t * t * t, x, v)
    np.testing.assert_allclose(product._data, 3 * x._data**2 * v._data)
    assert not out.requires_grad and not product.requires_grad


def test_tuple_in_tuple_out_and_single_in_single_out():
    x, y = _t(3), _t(2, 3, seed=1)

    def f(a, b):
        return (a * b).sin(), a.exp()

    outs, products = vjp(f, (x, y), (_t(2, 3, seed=2), _t(3, seed=3)))
    assert isinstance(outs, tuple) and isinstance(products, tuple) and len(products) == 2
    assert [p.shape for p in products] == [(3,), (2, 3)]
    out, product = vjp(lambda a: a.exp(), (x,), x)
    assert isinstance(out, cr.Tensor) and isinstance(product, tuple)
    out, product = vjp(lambda a: (a.exp(),), x, (x,))
    assert isinstance(out, tuple) and isinstance(product, cr.Tensor)
    outs, tangents = jvp(f, (x, y), (_t(3, seed=4), _t(2, 3, seed=5)))
    assert [t.shape for t in tangents] == [(2, 3), (3,)]


def test_jvp_is_the_jacobian_times_v_and_vjp_is_v_times_the_jacobian():
    x, y = _t(3), _t(2, 3, seed=1)

    def f(a, b):
        return (a * b * b).sin()

    def f_array(a, b):
        return np.sin(a * b * b)

    jx, jy = _numerical_jacobian(f_array, [x._data, y._data], 0), _numerical_jacobian(f_array, [x._data, y._data], 1)
    vx, vy, u = _t(3, seed=2), _t(2, 3, seed=3), _t(2, 3, seed=4)
    _, tangent = jvp(f, (x, y), (vx, vy))
    expected = np.tensordot(jx, vx._data, axes=1) + np.tensordot(jy, vy._data, axes=2)
    np.testing.assert_allclose(tangent._data, expected, rtol=1e-6, atol=1e-8)
    _, (gx, gy) = vjp(f, (x, y), u)
    np.testing.assert_allclose(gx._data, np.tensordot(u._data, jx, axes=2), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gy._data, np.tensordot(u._data, jy, axes=2), rtol=1e-6, atol=1e-8)


def test_jacobian_shapes_and_values_against_finite_differences():
    x, y = _t(3), _t(2, 3, seed=1)

    def f(a, b):
        return (a * b).sin(), a.exp() * 2.0

    arrays = [x._data, y._data]
    expected = [
        [_numerical_jacobian(lambda a, b: np.sin(a * b), arrays, j) for j in range(2)],
        [_numerical_jacobian(lambda a, b: np.exp(a) * 2.0 + 0 * b[0], arrays, j) for j in range(2)],
    ]
    jac = jacobian(f, (x, y))
    assert [[block.shape for block in row] for row in jac] == [[(2, 3, 3), (2, 3, 2, 3)], [(3, 3), (3, 2, 3)]]
    for row, expected_row in zip(jac, expected):
        for block, e in zip(row, expected_row):
            np.testing.assert_allclose(block._data, e, rtol=1e-6, atol=1e-8)
    forward = jacobian(f, (x, y), vectorize=True, strategy="forward-mode")
    for row, forward_row in zip(jac, forward):
        for block, f_block in zip(row, forward_row):
            np.testing.assert_allclose(f_block._data, block._data, rtol=1e-12, atol=1e-14)
    single = jacobian(lambda a: a * a, x)
    np.testing.assert_allclose(single._data, np.diag(2 * x._data))
    pair = jacobian(lambda a: (a * a, a.sin()), x)
    assert isinstance(pair, tuple) and [p.shape for p in pair] == [(3, 3), (3, 3)]
    by_input = jacobian(lambda a, b: a * b, (x, y))
    assert isinstance(by_input, tuple) and [p.shape for p in by_input] == [(2, 3, 3), (2, 3, 2, 3)]


def test_hessian_of_a_polynomial_matches_the_closed_form():
    x, y = _t(3), _t(3, seed=1)
    # g = sum(x^2 y): H_xx = diag(2y), H_xy = H_yx = diag(2x), H_yy = 0
    h = hessian(lambda a, b: (a * a * b).sum(), (x, y))
    assert [[block.shape for block in row] for row in h] == [[(3, 3), (3, 3)], [(3, 3), (3, 3)]]
    np.testing.assert_allclose(h[0][0]._data, np.diag(2 * y._data))
    np.testing.assert_allclose(h[0][1]._data, np.diag(2 * x._data))
    np.testing.assert_allclose(h[1][0]._data, np.diag(2 * x._data))
    np.testing.assert_array_equal(h[1][1]._data, np.zeros((3, 3)))
    m = _t(2, 2)
    single = hessian(lambda a: (a * a * a).sum(), m)
    assert single.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(single._data.reshape(4, 4), np.diag(6 * m._data.reshape(-1)))


def test_hvp_and_vhp_are_hessian_products_without_the_hessian():
    x, v = _t(4), _t(4, seed=1)

    def f(a):
        return (a.sin() * a * a).sum()

    d = x._data
    # d2/dx2 of sin(x) x^2 = (2 - x^2) sin x + 4 x cos x, diagonal
    expected = ((2 - d * d) * np.sin(d) + 4 * d * np.cos(d)) * v._data
    for product in (hvp, vhp):
        out, result = product(f, x, v)
        np.testing.assert_allclose(out._data, np.sum(np.sin(d) * d * d))
        np.testing.assert_allclose(result._data, expected, rtol=1e-10)
    x, y = _t(3), _t(3, seed=2)
    vx, vy = _t(3, seed=3), _t(3, seed=4)
    _, (hx, hy) = hvp(lambda a, b: (a * a * b).sum(), (x, y), (vx, vy))
    np.testing.assert_allclose(hx._data, 2 * y._data * vx._data + 2 * x._data * vy._data)
    np.testing.assert_allclose(hy._data, 2 * x._data * vx._data)


def test_create_graph_keeps_results_differentiable():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    out, product = vjp(lambda t: t * t * t, x, cr.ones(2, dtype=cr.float64), create_graph=True)
    assert out.requires_grad and product.requires_grad
    (second,) = cr.autograd.grad(product.sum(), x)
    np.testing.assert_array_equal(second._data, [6.0, 12.0])
    _, tangent = jvp(lambda t: t * t * t, x, cr.ones(2, dtype=cr.float64), create_graph=True)
    (second,) = cr.autograd.grad(tangent.sum(), x)
    np.testing.assert_array_equal(second._data, [6.0, 12.0])
    h = hessian(lambda t: (t * t * t).sum(), x, create_graph=True)
    (third,) = cr.autograd.grad(h.sum(), x)
    np.testing.assert_array_equal(third._data, [6.0, 6.0])
    _, product = vjp(lambda t: t * t, x, cr.ones(2, dtype=cr.float64))
    assert not product.requires_grad and x.grad is None


def test_strict_refuses_an_independent_output_and_lenient_gives_zeros():
    x = _t(3)

    def constant(a):
        return cr.ones(2, dtype=cr.float64)

    np.testing.assert_array_equal(jacobian(constant, x)._data, np.zeros((2, 3)))
    np.testing.assert_array_equal(vjp(lambda a, b: a * 2.0, (x, x), x)[1][1]._data, np.zeros(3))
    with pytest.raises(RuntimeError, match="jacobian: output 0 of the user-provided function does not require"):
        jacobian(constant, x, strict=True)
    with pytest.raises(RuntimeError, match="vjp: the output of the user-provided function is independent of input 1"):
        vjp(lambda a, b: a * 2.0, (x, x), x, strict=True)
    with pytest.raises(RuntimeError, match="hvp: the gradient of the user-provided function with respect to input 0"):
        hvp(lambda a: (a * 2.0).sum(), x, x, strict=True)
    np.testing.assert_array_equal(hvp(lambda a: (a * 2.0).sum(), x, x)[1]._data, np.zeros(3))


@pytest.mark.parametrize("call, error, message", [
    (lambda x: vjp(lambda t: t * 2.0, x), RuntimeError, "vjp: v can only be None if .* a single element"),
    (lambda x: jvp(lambda t: t * 2.0, x), RuntimeError, "jvp: v can only be None if the input"),
    (lambda x: vjp(lambda t: t * 2.0, x, _t(2)), RuntimeError, r"v has invalid size: .*\(3,\), but got \(2,\)"),
    (lambda x: vjp(lambda t: t * 2.0, x, (x, x)), RuntimeError, "v is a tuple of invalid length: should be 1"),
    (lambda x: vjp(lambda t: t * 2.0, 3.0, x), TypeError, "vjp: inputs must be either a Tensor or a tuple of Tensors"),
    (lambda x: vjp(lambda t: 3, x, x), TypeError, "outputs of the user-provided function must be either a Tensor"),
    (lambda x: hessian(lambda t: t * t, x), RuntimeError, r"hessian: .* single element, got shape \(3,\)"),
    (lambda x: hvp(lambda t: (t, t), x, x), RuntimeError, "hvp: the function should return a single Tensor"),
    (lambda x: jacobian(lambda t: t, x, strategy="forward-mode"), NotImplementedError, "with vectorize=True"),
    (lambda x: jacobian(lambda t: t, x, strategy="sideways"), ValueError, "strategy must be"),
])
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call(_t(3))
