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
    np.testing.assert_allclose(layer(x)._data, x._data @ layer.weight._data.T + layer.bias._data, rtol=1e-6)
    assert layer(cr.randn(4, 5, 3)).shape == (4, 5, 2)
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_default_init_bounds():
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(p._data).max() <= bound
        assert np.abs(p._data).max() > 0.9 * bound  # it fills the range, not a corner of it


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
        layer.weight._data = np.asarray(layer.weight._data, order=order)
        x = cr.tensor(rng.standard_normal((*lead, n_in)), requires_grad=True)
        g = rng.standard_normal((*lead, n_out))
        out = layer(x)
        w, b = layer.weight._data, layer.bias._data
        np.testing.assert_allclose(out._data, x._data @ w.T + b, rtol=1e-12)
        out.backward(g)
        x2, g2 = x._data.reshape(-1, n_in), g.reshape(-1, n_out)
        np.testing.assert_allclose(layer.weight.grad, g2.T @ x2, rtol=1e-12)
        np.testing.assert_allclose(layer.bias.grad, g2.sum(0), rtol=1e-12)
        np.testing.assert_allclose(x.grad, g @ w, rtol=1e-12)
        assert layer.weight.grad._data.flags.f_contiguous == w.flags.f_contiguous


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5), (np.float16, 1e-2)])
@pytest.mark.parametrize("lead", [(0,), (7,), (3, 5)])
def test_linear_bias_gradient_sums_the_rows_in_every_dtype(dtype, tol, lead):
    """float32/float64 sum the rows as a product with ones, float16 with add.reduce; no rows: 0."""
    rng = np.random.default_rng(1)
    layer = nn.Linear(4, 6).to(dtype)
    g = rng.standard_normal((*lead, 6))
    layer(cr.tensor(rng.standard_normal((*lead, 4)).astype(dtype))).backward(cr.tensor(g.astype(dtype)))
    assert layer.bias.grad.dtype == dtype and layer.bias.grad.shape == (6,)
    expected = g.astype(dtype).astype(np.float64).reshape(-1, 6).sum(0)
    np.testing.assert_allclose(layer.bias.grad._data, expected, rtol=tol, atol=tol)


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
    np.testing.assert_array_equal((a @ b)._data, a._data @ b._data)
    assert gradcheck(lambda p, q: (p @ q).tanh() @ q.T, (a, b))


def test_wide_linear_weights_are_column_major_and_keep_it_through_loading():
    layer = nn.Linear(784, 256)
    assert layer.weight._data.flags.f_contiguous and not nn.Linear(10, 256).weight._data.flags.f_contiguous
    state = {k: np.ascontiguousarray(v) for k, v in nn.Linear(784, 256).state_dict().items()}
    layer.load_state_dict(state)
    np.testing.assert_array_equal(layer.weight._data, state["weight"])
    assert layer.weight._data.flags.f_contiguous


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
    np.testing.assert_array_equal(module(x)._data, function(x)._data)


def test_dropout_train_and_eval():
    cr.manual_seed(0)
    layer = nn.Dropout(0.25)
    x = cr.ones(200, 100, requires_grad=True)
    y = layer(x)
    kept = y._data != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y._data[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad != 0, kept)  # the error signal flows through kept units only
    layer.eval()
    assert layer(x) is x
    assert nn.functional.dropout(x, 1.0)._data.max() == 0
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)


def test_residual_adds_the_input():
    body = nn.Linear(4, 4)
    block = nn.Residual(body)
    x = cr.randn(2, 4)
    np.testing.assert_allclose(block(x)._data, x._data + body(x)._data, rtol=1e-6)
    projected = nn.Residual(nn.Linear(4, 3), shortcut=nn.Linear(4, 3, bias=False))
    assert projected(x).shape == (2, 3)
    with pytest.raises(ValueError, match=r"Residual: body output shape \(2, 3\) differs"):
        nn.Residual(nn.Linear(4, 3))(x)


def test_residual_gives_the_gradient_a_path_around_the_body():
    body = nn.Linear(3, 3)
    with cr.no_grad():
        body.weight._data[...] = 0
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
    assert (model(X)._data.round() == y._data).all()


# ---------------------------------------------------------------------------- bad arguments name themselves

BAD_LAYER_ARGUMENTS = [
    (lambda: nn.Linear(2.5, 3), TypeError, r"Linear: in_features must be an integer >= 1, got 2\.5 \(float\)"),
    (lambda: nn.Linear("4", 3), TypeError, r"Linear: in_features must be an integer >= 1, got '4' \(str\)"),
    (lambda: nn.Linear(4, 0), ValueError, r"Linear: out_features must be an integer >= 1, got 0"),
    (lambda: nn.Linear(True, 3), TypeError, r"Linear: in_features must be an integer >= 1, got True \(bool\)"),
    (lambda: nn.Flatten(1.0), TypeError, r"Flatten: start_dim must be an integer, got 1\.0 \(float\)"),
    (lambda: nn.Conv2d(1, 2, 0), ValueError, r"Conv2d: kernel_size must be at least 1, got 0"),
    (lambda: nn.Conv2d(1.5, 2, 3), TypeError, r"Conv2d: in_channels must be an integer >= 1, got 1\.5 \(float\)"),
    (lambda: nn.Conv1d(2, 4, 3, groups=0), ValueError, r"Conv1d: groups must be an integer >= 1, got 0"),
    (lambda: nn.Conv2d(1, 2, 3, padding_mode="mirror"), ValueError, r"Conv2d: padding_mode must be one of"),
    (lambda: nn.Conv2d(1, 2, 3, padding_mode=None), ValueError, r"Conv2d: padding_mode must be one of"),
    (lambda: nn.MaxPool2d(0), ValueError, r"MaxPool2d: kernel_size must be at least 1, got 0"),
    (lambda: nn.MaxPool1d(2, stride=0), ValueError, r"MaxPool1d: stride must be at least 1, got 0"),
    (lambda: nn.MaxPool2d(2, padding=2), ValueError, r"MaxPool2d: padding \(2, 2\) must be at most half"),
    (lambda: nn.MaxPool2d(2.5), TypeError, r"MaxPool2d: kernel_size must be an int or a tuple of 2 ints"),
    (lambda: nn.AvgPool1d(-1), ValueError, r"AvgPool1d: kernel_size must be at least 1, got -1"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), ValueError, r"AvgPool2d: divisor_override must be an integer"),
    (lambda: nn.AdaptiveAvgPool2d((0, 2)), ValueError, r"AdaptiveAvgPool2d: output_size must be an integer >= 1"),
    (lambda: nn.AdaptiveAvgPool1d(2.0), TypeError, r"AdaptiveAvgPool1d: output_size must be an integer"),
    (lambda: nn.Upsample(scale_factor=-2), ValueError, r"Upsample: scale_factor must be a finite number > 0"),
    (lambda: nn.BatchNorm1d(0), ValueError, r"BatchNorm1d: num_features must be an integer >= 1, got 0"),
    (lambda: nn.BatchNorm2d("3"), TypeError, r"BatchNorm2d: num_features must be an integer"),
    (lambda: nn.BatchNorm1d(3, eps=-1e-5), ValueError, r"BatchNorm1d: eps must be a finite number > 0"),
    (lambda: nn.BatchNorm1d(3, momentum=1.5), ValueError, r"BatchNorm1d: momentum must be a finite number >= 0"),
    (lambda: nn.LayerNorm((4, 0)), ValueError, r"LayerNorm: normalized_shape must be an integer >= 1, got 0"),
    (lambda: nn.LayerNorm(4.0), TypeError, r"LayerNorm: normalized_shape must be an integer"),
    (lambda: nn.LayerNorm(()), ValueError, r"LayerNorm: normalized_shape must hold at least one size"),
    (lambda: nn.RNN(3, 4, num_layers=0), ValueError, r"RNN: num_layers must be an integer >= 1, got 0"),
    (lambda: nn.LSTM(3.0, 4), TypeError, r"LSTM: input_size must be an integer >= 1, got 3\.0 \(float\)"),
    (lambda: nn.GRU(3, 4, num_layers=2, dropout=float("nan")), ValueError, r"GRU: dropout must be a finite number"),
    (lambda: nn.Embedding(10, -3), ValueError, r"Embedding: embedding_dim must be an integer >= 1, got -3"),
    (lambda: nn.Embedding("10", 3), TypeError, r"Embedding: num_embeddings must be an integer"),
    (lambda: nn.LeakyReLU("0.1"), TypeError, r"LeakyReLU: negative_slope must be a finite number, got '0\.1' \(str\)"),
    (lambda: nn.ELU(float("inf")), ValueError, r"ELU: alpha must be a finite number, got inf"),
    (lambda: nn.Softplus(beta=0), ValueError, r"Softplus: beta must be a non-zero finite number .*, got 0"),
    (lambda: nn.Softmax(dim=1.0), TypeError, r"Softmax: dim must be an integer, got 1\.0 \(float\)"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=-0.1), ValueError, r"CrossEntropyLoss: label_smoothing must be"),
    (lambda: nn.CrossEntropyLoss(label_smoothing="0.1"), TypeError,
     r"CrossEntropyLoss: label_smoothing must be a finite number >= 0 and <= 1, got '0\.1' \(str\)"),
    (lambda: nn.CrossEntropyLoss(ignore_index=1.5), TypeError, r"CrossEntropyLoss: ignore_index must be an integer"),
    (lambda: nn.NLLLoss(ignore_index=None), TypeError, r"NLLLoss: ignore_index must be an integer"),
    (lambda: nn.SmoothL1Loss(beta=float("nan")), ValueError, r"SmoothL1Loss: beta must be a finite number >= 0"),
]


@pytest.mark.parametrize("make, error, message", BAD_LAYER_ARGUMENTS, ids=[m for _, _, m in BAD_LAYER_ARGUMENTS])
def test_bad_layer_arguments_are_refused_when_the_layer_is_built(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("layer, name", [
    (nn.Linear(2, 3), r"Linear\(2 -> 3\)"), (nn.ReLU(), "ReLU"), (nn.Tanh(), "Tanh"), (nn.Sigmoid(), "Sigmoid"),
    (nn.LeakyReLU(), "LeakyReLU"), (nn.ELU(), "ELU"), (nn.GELU(), "GELU"), (nn.Softplus(), "Softplus"),
    (nn.Softmax(), "Softmax"), (nn.LogSoftmax(), "LogSoftmax"), (nn.Flatten(), "Flatten"),
    (nn.Conv1d(1, 1, 2), r"Conv1d\(1 -> 1, kernel 2\)"), (nn.BatchNorm1d(2), r"BatchNorm1d\(2\)"),
    (nn.LayerNorm(2), "LayerNorm"),
])  # fmt: skip
def test_a_python_list_given_to_a_layer_is_a_type_error_naming_the_layer(layer, name):
    with pytest.raises(TypeError, match=f"{name}: expected a Tensor input, got list"):
        layer([[1.0, 2.0]])


def test_residual_refuses_a_body_or_shortcut_that_is_not_a_module():
    with pytest.raises(TypeError, match="Residual: body must be a Module, got int"):
        nn.Residual(3)
    with pytest.raises(TypeError, match="Residual: shortcut must be a Module or None, got function"):
        nn.Residual(nn.ReLU(), lambda x: x)
