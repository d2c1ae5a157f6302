"""autograd.Function: user-defined ops with their own backward, checked to first and second order
like the library's ops, and their errors."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, gradcheck, gradgradcheck, once_differentiable


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * g * x * x


class Exp(Function):
    """Saves its own output, as exp's rule does."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class ProductAndScaledSum(Function):
    """Two outputs, a non-tensor argument and broadcasting: (x * y, (x + y) * k)."""

    @staticmethod
    def forward(ctx, x, y, k):
        ctx.save_for_backward(x, y)
        ctx.k = k
        return x * y, (x + y) * k

    @staticmethod
    def backward(ctx, g_product, g_sum):
        x, y = ctx.saved_tensors
        return g_product * y + g_sum * ctx.k, g_product * x + g_sum * ctx.k, None


class NumpySin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return cr.tensor(np.sin(x.numpy()))

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return cr.tensor(g.numpy() * np.cos(x.numpy()))


def _x(*shape, seed=0):
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_a_function_written_with_ops_passes_gradcheck_and_gradgradcheck():
    x = _x(2, 3)
    for fn in (Cube, Exp):
        assert gradcheck(fn.apply, (x,))
        assert gradgradcheck(fn.apply, (x,))


def test_create_graph_through_a_function_gives_exact_higher_derivatives():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert repr(y.grad_fn) == "<CubeBackward>"
    (d1,) = cr.autograd.grad(y.sum(), x, create_graph=True)
    (d2,) = cr.autograd.grad(d1.sum(), x, create_graph=True)
    (d3,) = cr.autograd.grad(d2.sum(), x)
    np.testing.assert_array_equal(d1._data, [3.0, 12.0])
    np.testing.assert_array_equal(d2._data, [6.0, 12.0])
    np.testing.assert_array_equal(d3._data, [6.0, 6.0])


def test_several_outputs_and_a_non_tensor_argument():
    x, y = _x(3), _x(2, 3, seed=1)

    def f(a, b):
        return ProductAndScaledSum.apply(a, b, 2.5)

    product, total = f(x, y)
    np.testing.assert_allclose(product._data, x._data * y._data)
    np.testing.assert_allclose(total._data, (x._data + y._data) * 2.5)
    assert gradcheck(f, (x, y))
    assert gradgradcheck(f, (x, y))


def test_a_saved_output_of_several_is_the_recorded_one_under_create_graph():
    class ExpAndDouble(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y, x * 2

        @staticmethod
        def backward(ctx, g_exp, g_double):
            (y,) = ctx.saved_tensors
            return g_exp * y + g_double * 2

    x = _x(2, 2)
    assert gradcheck(ExpAndDouble.apply, (x,)) and gradgradcheck(ExpAndDouble.apply, (x,))


def test_an_output_without_gradient_reaches_backward_as_zeros():
    seen = []

    class Record(ProductAndScaledSum):
        @staticmethod
        def backward(ctx, g_product, g_sum):
            seen.append((g_product._data.copy(), g_sum._data.copy()))
            return ProductAndScaledSum.backward(ctx, g_product, g_sum)

    x, y = _x(3), _x(3, seed=1)
    product, _ = Record.apply(x, y, 2.0)
    product.backward(cr.ones(3, dtype=cr.float64))
    np.testing.assert_array_equal(seen[0][0], np.ones(3))
    np.testing.assert_array_equal(seen[0][1], np.zeros(3))
    np.testing.assert_allclose(x.grad._data, y._data)


def test_forward_runs_without_grad_and_backward_gets_tensors_in_both_modes():
    modes = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            modes["forward"] = cr.autograd.is_grad_enabled()
            return x * 2

        @staticmethod
        def backward(ctx, g):
            modes.setdefault("backward", []).append((type(g), cr.autograd.is_grad_enabled()))
            return g * 2

    x = _x(3)
    out = Probe.apply(x)
    assert out.requires_grad and modes["forward"] is False
    out.backward(cr.ones(3, dtype=cr.float64))
    out = Probe.apply(x)
    out.backward(cr.ones(3, dtype=cr.float64), create_graph=True)
    assert modes["backward"] == [(cr.Tensor, False), (cr.Tensor, True)]


def test_needs_input_grad_and_keyword_arguments():
    seen = []

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, w, scale=1.0):
            seen.append(ctx.needs_input_grad)
            ctx.save_for_backward(x, w)
            ctx.scale = scale
            return x * w * scale

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return (g * w * ctx.scale if ctx.needs_input_grad[0] else None,
                    g * x * ctx.scale if ctx.needs_input_grad[1] else None, None)

    x, w = _x(3), cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64)
    Scale.apply(x, w, scale=3.0).sum().backward()
    assert seen == [(True, False, False)]
    np.testing.assert_allclose(x.grad._data, [3.0, 6.0, 9.0])
    with cr.no_grad():
        assert not Scale.apply(x, w).requires_grad
    assert seen[-1] == (False, False)  # positional arguments only: defaults are not bound, as in PyTorch


def test_mark_non_differentiable_and_materialize_grads():
    received = []

    class SortWithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            order = np.argsort(x.numpy())
            ctx.order = order
            ctx.set_materialize_grads(False)
            index = cr.tensor(order.astype(np.float64))
            ctx.mark_non_differentiable(index)
            return cr.tensor(x.numpy()[order]), index

        @staticmethod
        def backward(ctx, g, g_index):
            received.append(g_index)
            out = np.zeros_like(g.numpy())
            out[ctx.order] = g.numpy()
            return cr.tensor(out)

    x = cr.tensor([3.0, 1.0, 2.0], dtype=cr.float64, requires_grad=True)
    values, index = SortWithIndex.apply(x)
    assert values.requires_grad and not index.requires_grad
    (values * cr.tensor([1.0, 10.0, 100.0], dtype=cr.float64)).sum().backward()
    assert received == [None]
    np.testing.assert_array_equal(x.grad._data, [100.0, 1.0, 10.0])


def test_setup_context_form():
    class Square(Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x

    x = _x(4)
    assert gradcheck(Square.apply, (x,)) and gradgradcheck(Square.apply, (x,))


def test_once_differentiable_is_first_order_only_and_says_so():
    x = _x(3)
    assert gradcheck(NumpySin.apply, (x,))
    with pytest.raises(RuntimeError, match="NumpySin has no double backward"):
        NumpySin.apply(x).sum().backward(create_graph=True)


def test_a_saved_tensor_modified_in_place_is_refused():
    x = _x(2, 3)
    h = x * 1.0
    y = Cube.apply(h)
    h.add_(1.0)
    with pytest.raises(RuntimeError, match=r"saved tensor 0 \(shape \(2, 3\).*version 1, expected version 0"):
        y.sum().backward()
    y = Exp.apply(x)
    y.mul_(2.0)  # the output Exp saved
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def _function(backward):
    return type("Bad", (Function,), {
        "forward": staticmethod(lambda ctx, x, k: x * k),
        "backward": staticmethod(backward),
    })


@pytest.mark.parametrize("backward, error, message", [
    (lambda ctx, g: g, RuntimeError, r"Bad.backward returned 1 gradient\(s\), expected 2"),
    (lambda ctx, g: (g, g), RuntimeError, "returned a gradient for argument 1, which is not a Tensor"),
    (lambda ctx, g: (g[:2], None), RuntimeError, r"gradient of shape \(2,\) for argument 0, which has shape \(3,\)"),
    (lambda ctx, g: (g.numpy(), None), TypeError, "returned a ndarray as gradient 0; expected a Tensor or None"),
])
def test_a_backward_returning_the_wrong_gradients_is_named(backward, error, message):
    x = _x(3)
    with pytest.raises(error, match=message):
        _function(backward).apply(x, 2.0).sum().backward()


def test_extra_none_gradients_are_allowed():
    x = _x(3)
    _function(lambda ctx, g: (g * 2.0, None, None)).apply(x, 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [2.0, 2.0, 2.0])


def test_forward_must_be_static_and_only_tensors_are_saved():
    with pytest.raises(TypeError, match=r"Instance.forward must be a @staticmethod"):
        type("Instance", (Function,), {"forward": lambda self, ctx, x: x})
    with pytest.raises(TypeError, match="only Tensors or None can be saved"):
        cr.autograd.FunctionCtx(()).save_for_backward(np.ones(2))
