"""Issue 18's activations: gradients at the kinks as PyTorch defines them (hand-written values),
the extremes, the layers (PReLU's parameter, arguments, repr, inplace) and their errors. Values
and derivatives on random inputs are the op table's (tests/cases_activations.py)."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


def _value_and_slope(fn, points, dtype=cr.float64):
    x = cr.tensor(points, dtype=dtype, requires_grad=True)
    out = fn(x)
    out.sum().backward()
    return out._data.tolist(), x.grad.tolist()


_SELU_ALPHA_SCALE = 1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


@pytest.mark.parametrize("fn, points, values, slopes", [
    (F.relu6, [-1.0, 0.0, 3.0, 6.0, 7.0], [0.0, 0.0, 3.0, 6.0, 6.0], [0.0, 0.0, 1.0, 0.0, 0.0]),
    (lambda t: F.hardtanh(t, -2.0, 3.0), [-2.0, 0.0, 3.0], [-2.0, 0.0, 3.0], [0.0, 1.0, 0.0]),
    # PyTorch: slope 0 at -3 (included), x/3 + 1/2 up to 3 (excluded), then 1
    (F.hardswish, [-4.0, -3.0, 0.0, 1.5, 3.0, 4.0], [0.0, 0.0, 0.0, 1.125, 3.0, 4.0], [0.0, 0.0, 0.5, 1.0, 1.0, 1.0]),
    (F.hardsigmoid, [-3.0, 0.0, 3.0], [0.0, 0.5, 1.0], [0.0, float(np.float32(1 / 6)), 0.0]),
    (lambda t: F.threshold(t, 1.0, 5.0), [0.0, 1.0, 2.0], [5.0, 5.0, 2.0], [0.0, 0.0, 1.0]),
    (lambda t: F.softshrink(t, 0.5), [-1.0, -0.5, 0.0, 0.5, 2.0], [-0.5, 0.0, 0.0, 0.0, 1.5],
     [1.0, 0.0, 0.0, 0.0, 1.0]),
    (lambda t: F.hardshrink(t, 0.5), [-1.0, -0.5, 0.5, 2.0], [-1.0, 0.0, 0.0, 2.0], [1.0, 0.0, 0.0, 1.0]),
    (F.selu, [0.0], [0.0], [_SELU_ALPHA_SCALE]),  # the negative side's slope, as PyTorch's
    (lambda t: F.celu(t, 2.0), [0.0], [0.0], [1.0]),
    (F.silu, [0.0], [0.0], [0.5]),
    (F.mish, [0.0], [0.0], [0.6]),  # tanh(log 2) = 0.6
    (F.logsigmoid, [0.0, 800.0, -800.0], [-np.log(2.0), 0.0, -800.0], [0.5, 0.0, 1.0]),
    (F.softsign, [0.0, 1.0], [0.0, 0.5], [1.0, 0.25]),
    (F.tanhshrink, [0.0], [0.0], [0.0]),
])  # fmt: skip
def test_values_and_slopes_at_the_kinks_are_pytorchs(fn, points, values, slopes):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow at +-800
        got_values, got_slopes = _value_and_slope(fn, points)
    np.testing.assert_allclose(got_values, values, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(got_slopes, slopes, rtol=1e-15)


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_mish_and_silu_stay_finite_and_exact_at_the_extremes(dtype):
    big = [-1e4, -100.0, 100.0, 1e4]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in (F.mish, F.silu):
            values, slopes = _value_and_slope(fn, big, dtype)
            np.testing.assert_allclose(values, [0.0, 0.0, 100.0, 1e4], atol=1e-30)
            np.testing.assert_allclose(slopes, [0.0, 0.0, 1.0, 1.0], atol=1e-30)


_SELU_SCALE = 1.0507009873554804934193349852946


@pytest.mark.parametrize("fn, slopes", [
    (F.relu6, [0.0, 0.0, 1.0]),
    (F.hardtanh, [0.0, 0.0, 1.0]),
    (F.hardswish, [1.0, 0.0, 1.0]),
    (F.hardsigmoid, [0.0, 0.0, 0.0]),
    (F.selu, [_SELU_SCALE, 0.0, _SELU_SCALE]),
    (F.celu, [1.0, 0.0, 1.0]),
    (lambda t: F.threshold(t, 0.0, 1.0), [1.0, 0.0, 1.0]),
    (F.hardshrink, [1.0, 1.0, 1.0]),
    (F.softshrink, [1.0, 1.0, 1.0]),
    (lambda t: F.prelu(t, cr.tensor([0.25], dtype=cr.float64)), [1.0, 0.25, 0.25]),
])  # fmt: skip
def test_slopes_at_inf_and_nan_are_pytorchs(fn, slopes):
    """PyTorch's kernels test x <= bound (or x > 0) to pick a branch, so nan takes the other one:
    the rules here, written without where() (see ops.unary._hardswish_vjp), keep that."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inf - inf and the like, in the values
        _, got = _value_and_slope(fn, [np.inf, -np.inf, np.nan])
    np.testing.assert_allclose(got, slopes, rtol=1e-15)


def test_nan_passes_through_threshold_and_the_shrinks():
    for fn in (lambda t: F.threshold(t, 0.0, 1.0), F.hardshrink, F.softshrink):
        values, _ = _value_and_slope(fn, [np.nan])
        assert np.isnan(values[0])


def test_prelu_slopes_per_channel_and_its_gradients():
    x = cr.tensor([[[-2.0, 0.0], [1.0, -1.0]]], dtype=cr.float64, requires_grad=True)  # (1, C=2, 2)
    w = cr.tensor([0.25, 0.5], dtype=cr.float64, requires_grad=True)
    out = cr.prelu(x, w)
    np.testing.assert_array_equal(out._data, [[[-0.5, 0.0], [1.0, -0.5]]])
    out.backward(cr.tensor(np.full((1, 2, 2), 2.0)))
    np.testing.assert_array_equal(x.grad, [[[0.5, 0.5], [2.0, 1.0]]])  # at 0: the slope, as PyTorch
    np.testing.assert_array_equal(w.grad, [-4.0, -2.0])  # sum of x * g where x <= 0


def test_prelu_layer_has_pytorchs_parameter_and_initialisation():
    layer = nn.PReLU()
    assert list(layer.state_dict()) == ["weight"] and layer.weight.shape == (1,)
    np.testing.assert_array_equal(layer.weight._data, [0.25])
    per_channel = nn.PReLU(3, init=0.1, dtype=cr.float64)
    assert per_channel.weight.shape == (3,) and per_channel.weight.dtype == cr.float64
    np.testing.assert_array_equal(per_channel.weight._data, [0.1] * 3)
    per_channel.weight._data[...] = 7.0
    per_channel.reset_parameters()
    np.testing.assert_array_equal(per_channel.weight._data, [0.1] * 3)
    assert per_channel.num_parameters == 3 and repr(per_channel) == "PReLU(num_parameters=3)  # 3 parameters"
    assert "# 3 parameters" in repr(nn.Sequential(per_channel))
    assert layer(cr.randn(2, 5, 3)).shape == (2, 5, 3)  # one weight: any number of channels


@pytest.mark.parametrize("weight_shape, input_shape", [((2,), (4, 3)), ((3,), (3,)), ((1, 3), (2, 3)), ((2,), ())])
def test_prelu_refuses_weights_that_do_not_match_the_channels(weight_shape, input_shape):
    with pytest.raises(ValueError, match="prelu"):
        cr.prelu(cr.randn(*input_shape), cr.ones(*weight_shape))


def test_prelu_refuses_mixed_dtypes():
    with pytest.raises(RuntimeError, match="prelu: expected operands of one dtype"):
        nn.PReLU()(cr.randn(2, 3, dtype=cr.float64))


def test_glu_halves_along_dim():
    x = np.arange(12.0).reshape(2, 6) / 6
    out = F.glu(cr.tensor(x, dtype=cr.float64), dim=1)
    np.testing.assert_allclose(out._data, x[:, :3] / (1 + np.exp(-x[:, 3:])), rtol=1e-15)
    assert nn.GLU(0)(cr.randn(4, 3)).shape == (2, 3)


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.glu(cr.randn(3, 5)), ValueError, "glu: halving dimension must be even, but dimension -1 is size 5"),
    (lambda: F.glu(cr.tensor(1.0)), ValueError, "glu: does not support scalars"),
    (lambda: nn.Hardtanh(2.0, 1.0), ValueError, r"Hardtanh: max_val \(1.0\) must be greater than min_val \(2.0\)"),
    (lambda: F.hardtanh(cr.randn(2), 2.0, 1.0), ValueError, "hardtanh: min_val cannot be greater than max_val"),
    (lambda: nn.CELU(0.0), ValueError, "CELU: alpha must not be 0"),
    (lambda: F.celu(cr.randn(2), 0), ValueError, "celu: alpha must not be 0"),
    (lambda: nn.Softshrink(-1.0), ValueError, "Softshrink: lambd must be a finite number >= 0"),
    (lambda: F.softshrink(cr.randn(2), -1.0), ValueError, "softshrink: lambd must be a finite number >= 0"),
    (lambda: nn.Threshold("a", 1.0), TypeError, "Threshold: threshold must be a finite number"),
    (lambda: nn.PReLU(0), ValueError, "PReLU: num_parameters must be an integer >= 1"),
    (lambda: nn.GLU(1.5), TypeError, "GLU: dim must be an integer"),
    (lambda: nn.SiLU()([1.0, 2.0]), TypeError, "SiLU: expected a Tensor input, got list"),
    (lambda: nn.Softmin(1)(np.ones(3)), TypeError, "Softmin: expected a Tensor input, got ndarray"),
    (lambda: nn.Hardswish()(cr.tensor([1, 2])), TypeError, "hardswish: expected a floating tensor"),
])  # fmt: skip
def test_bad_arguments_and_inputs_name_the_culprit(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_softmin_is_softmax_of_the_negation_and_warns_without_dim():
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    expected = np.exp(-x) / np.exp(-x).sum(axis=0, keepdims=True)  # 3-d input: PyTorch's implicit dim 0
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin") as record:
        got = nn.Softmin()(cr.tensor(x, dtype=cr.float64))
        F.softmin(cr.tensor(x))
    assert [w.filename for w in record] == [__file__, __file__]  # the caller's line, as PyTorch's
    np.testing.assert_allclose(got._data, expected, rtol=1e-14)
    got = F.softmin(cr.tensor(x, dtype=cr.float64), dim=-1, dtype=cr.float32)
    assert got.dtype == cr.float32
    np.testing.assert_allclose(got._data, np.exp(-x) / np.exp(-x).sum(-1, keepdims=True), rtol=1e-6)


def test_hardtanh_takes_pytorchs_deprecated_keywords_with_a_warning():
    with pytest.warns(FutureWarning, match="`min_value` is deprecated"):
        layer = nn.Hardtanh(min_value=-2.0)
    assert (layer.min_val, layer.max_val) == (-2.0, 1.0)


@pytest.mark.parametrize("layer, text", [
    (nn.ReLU6(), "ReLU6()"), (nn.ReLU6(inplace=True), "ReLU6(inplace=True)"),
    (nn.Hardtanh(-2.0, 3.0), "Hardtanh(min_val=-2.0, max_val=3.0)"), (nn.SiLU(), "SiLU()"),
    (nn.CELU(0.5, inplace=True), "CELU(alpha=0.5, inplace=True)"), (nn.GLU(), "GLU(dim=-1)"),
    (nn.Threshold(0.1, 20.0), "Threshold(threshold=0.1, value=20.0)"), (nn.Softmin(1), "Softmin(dim=1)"),
    (nn.Hardswish(inplace=True), "Hardswish()"), (nn.SELU(inplace=True), "SELU(inplace=True)"),
    (nn.Softshrink(), "Softshrink(0.5)"), (nn.Hardshrink(1.0), "Hardshrink(1.0)"), (nn.LogSigmoid(), "LogSigmoid()"),
])  # fmt: skip
def test_reprs_are_pytorchs(layer, text):
    assert repr(layer) == text


@pytest.mark.parametrize(
    "layer",
    [
        nn.SiLU(inplace=True),
        nn.ReLU6(inplace=True),
        nn.Hardtanh(inplace=True),
        nn.Hardswish(inplace=True),
        nn.Hardsigmoid(inplace=True),
        nn.SELU(inplace=True),
        nn.CELU(inplace=True),
        nn.Mish(inplace=True),
        nn.Threshold(0.0, 1.0, True),
    ],
)
def test_inplace_is_accepted_and_gives_the_same_values(layer):
    x = cr.tensor([-4.0, -1.0, 0.5, 2.0, 7.0], dtype=cr.float64)
    before = x._data.copy()
    inplace_out = layer(x)
    layer.inplace = False
    np.testing.assert_array_equal(inplace_out._data, layer(x)._data)
    np.testing.assert_array_equal(x._data, before)  # (the result is a new tensor)


def test_the_functional_and_top_level_names_are_pytorchs():
    for name in (
        "silu",
        "mish",
        "relu6",
        "hardtanh",
        "hardswish",
        "hardsigmoid",
        "selu",
        "celu",
        "prelu",
        "glu",
        "logsigmoid",
        "softsign",
        "softmin",
        "threshold",
        "tanhshrink",
        "softshrink",
        "hardshrink",
        "gelu",
    ):
        assert callable(getattr(F, name)) and name in F.__all__
    for name in ("selu", "celu", "prelu", "threshold", "hardshrink"):  # torch.X exists for these
        assert getattr(cr, name) is getattr(F, name)
    x = cr.tensor([-1.0, 0.25, 2.0])
    assert x.hardshrink(0.5).tolist() == [-1.0, 0.0, 2.0] and x.prelu(cr.tensor([0.5])).tolist() == [-0.5, 0.25, 2.0]


def test_pytorchs_module_paths_name_the_same_classes():
    assert nn.modules.activation.SiLU is nn.SiLU and nn.modules.activation.PReLU is nn.PReLU
    assert nn.modules.Hardswish is nn.Hardswish


def test_an_mlp_with_the_new_activations_trains():
    """Every new activation carries a gradient through a small network: the loss falls."""
    cr.manual_seed(0)
    x = cr.randn(64, 4)
    y = (x[:, :1] * x[:, 1:2] > 0).to(cr.float32)
    model = nn.Sequential(
        nn.Linear(4, 16),
        nn.SiLU(),
        nn.Linear(16, 16),
        nn.Mish(),
        nn.Linear(16, 16),
        nn.PReLU(16),
        nn.Linear(16, 16),
        nn.Hardswish(),
        nn.Linear(16, 8),
        nn.GLU(),
        nn.Linear(4, 1),
    )
    optimizer = cr.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(60):
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]
