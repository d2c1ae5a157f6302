"""Linear, activation modules, Dropout, Residual, Flatten, Identity."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck


def test_linear_values_shapes_and_pytorch_parameter_shapes():
    layer = nn.Linear(3, 2)
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,)
    assert layer.weight.dtype == np.float32
    x = cr.randn(5, 3)
    np.testing.assert_allclose(layer(x).data, x.data @ layer.weight.data.T + layer.bias.data, rtol=1e-6)
    assert layer(cr.randn(4, 5, 3)).shape == (4, 5, 2)
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_default_init_bounds():
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.9 * bound  # it fills the range, not a corner of it


def test_linear_gradients_for_input_and_parameters():
    layer = nn.Linear(3, 2).double()
    x = cr.randn(4, 3, dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda x, *p: layer(x), (x, *layer.parameters()))


@pytest.mark.parametrize("features", [(6, 2), (2, 6), (4, 4)])
@pytest.mark.parametrize("lead", [(1,), (5,), (40,), (3, 5)])
def test_linear_gradients_in_either_weight_order_and_product_orientation(features, lead):
    """Weights are stored in the memory order whose products run fastest (wide ones column-major),
    products are oriented per shape: values must not depend on either, and the weight gradient
    comes in the weight's own order (so the optimizer's passes stay contiguous)."""
    n_in, n_out = features
    rng = np.random.default_rng(0)
    for order in ("C", "F"):
        layer = nn.Linear(n_in, n_out).double()
        layer.weight.data = np.asarray(layer.weight.data, order=order)
        x = cr.tensor(rng.standard_normal((*lead, n_in)), requires_grad=True)
        g = rng.standard_normal((*lead, n_out))
        out = layer(x)
        w, b = layer.weight.data, layer.bias.data
        np.testing.assert_allclose(out.data, x.data @ w.T + b, rtol=1e-12)
        out.backward(g)
        x2, g2 = x.data.reshape(-1, n_in), g.reshape(-1, n_out)
        np.testing.assert_allclose(layer.weight.grad, g2.T @ x2, rtol=1e-12)
        np.testing.assert_allclose(layer.bias.grad, g2.sum(0), rtol=1e-12)
        np.testing.assert_allclose(x.grad, g @ w, rtol=1e-12)
        assert layer.weight.grad.flags.f_contiguous == w.flags.f_contiguous


def test_outer_products_of_one_input_or_one_output_layers_are_exact():
    # An inner dimension of 1 goes through a padded BLAS product (linalg.product), not NumPy's loop.
    from chainrule.ops.linalg import product

    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((300, 1)).astype(np.float32), rng.standard_normal((50, 1)).astype(np.float32)
    np.testing.assert_array_equal(product(x, w.T), x @ w.T)
    x3 = rng.standard_normal((3, 100, 1))  # N-d and float64 against a float32 weight
    assert product(x3, w.T).dtype == np.float64
    np.testing.assert_array_equal(product(x3, w.T), x3 @ w.T)
    # Linear(1, 50)'s forward and Linear(50, 1)'s input gradient are such products at batch 100
    net = nn.Sequential(nn.Linear(1, 50), nn.Tanh(), nn.Linear(50, 1)).double()
    inputs = cr.tensor(rng.standard_normal((100, 1)), dtype=cr.float64, requires_grad=True)
    assert gradcheck(net, (inputs,))
    # and the matmul op, whose forward here is an outer product, and its backward for q.T too
    a = cr.tensor(rng.standard_normal((100, 1)), dtype=cr.float64, requires_grad=True)
    b = cr.tensor(rng.standard_normal((1, 50)), dtype=cr.float64, requires_grad=True)
    np.testing.assert_array_equal((a @ b).data, a.data @ b.data)
    assert gradcheck(lambda p, q: (p @ q).tanh() @ q.T, (a, b))


def test_wide_linear_weights_are_column_major_and_keep_it_through_loading():
    layer = nn.Linear(784, 256)
    assert layer.weight.data.flags.f_contiguous and not nn.Linear(10, 256).weight.data.flags.f_contiguous
    state = {k: np.ascontiguousarray(v) for k, v in nn.Linear(784, 256).state_dict().items()}
    layer.load_state_dict(state)
    np.testing.assert_array_equal(layer.weight.data, state["weight"])
    assert layer.weight.data.flags.f_contiguous


def test_linear_wrong_input_size_names_the_layer_and_both_sizes():
    with pytest.raises(ValueError, match=r"Linear\(784 -> 10\): input has 100 features .*expected 784"):
        nn.Linear(784, 10)(cr.zeros(32, 100))


@pytest.mark.parametrize(
    ("module", "function"),
    [
        (nn.ReLU(), cr.relu),
        (nn.LeakyReLU(0.2), lambda t: cr.leaky_relu(t, 0.2)),
        (nn.ELU(0.5), lambda t: cr.elu(t, 0.5)),
        (nn.GELU(), cr.gelu),
        (nn.GELU("tanh"), lambda t: cr.gelu(t, "tanh")),
        (nn.Sigmoid(), cr.sigmoid),
        (nn.Tanh(), cr.tanh),
        (nn.Softplus(2.0, 5.0), lambda t: cr.softplus(t, 2.0, 5.0)),
        (nn.Softmax(dim=0), lambda t: cr.softmax(t, 0)),
        (nn.LogSoftmax(dim=1), lambda t: cr.log_softmax(t, 1)),
    ],
)
def test_activation_modules_apply_their_function(module, function):
    x = cr.randn(3, 4)
    np.testing.assert_array_equal(module(x).data, function(x).data)


def test_dropout_train_and_eval():
    cr.manual_seed(0)
    layer = nn.Dropout(0.25)
    x = cr.ones(200, 100, requires_grad=True)
    y = layer(x)
    kept = y.data != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad != 0, kept)  # the error signal flows through kept units only
    layer.eval()
    assert layer(x) is x
    assert nn.functional.dropout(x, 1.0).data.max() == 0
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)


def test_residual_adds_the_input():
    body = nn.Linear(4, 4)
    block = nn.Residual(body)
    x = cr.randn(2, 4)
    np.testing.assert_allclose(block(x).data, x.data + body(x).data, rtol=1e-6)
    projected = nn.Residual(nn.Linear(4, 3), shortcut=nn.Linear(4, 3, bias=False))
    assert projected(x).shape == (2, 3)
    with pytest.raises(ValueError, match=r"Residual: body output shape \(2, 3\) differs"):
        nn.Residual(nn.Linear(4, 3))(x)


def test_residual_gives_the_gradient_a_path_around_the_body():
    body = nn.Linear(3, 3)
    with cr.no_grad():
        body.weight.data[...] = 0
    x = cr.randn(2, 3, requires_grad=True)
    nn.Residual(body)(x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


def test_flatten_and_identity():
    x = cr.randn(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Identity(54, unused=True)(x) is x


def test_mlp_learns_xor_with_a_hand_written_update():
    cr.manual_seed(3)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())
    X = cr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = cr.tensor([[0.0], [1.0], [1.0], [0.0]])
    for _ in range(1500):
        loss = ((model(X) - y) ** 2).mean()
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 1.0 * p.grad
    assert loss.item() < 0.01
    assert (model(X).data.round() == y.data).all()
