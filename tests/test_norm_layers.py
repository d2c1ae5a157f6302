"""Issue 18's normalisation layers: GroupNorm, InstanceNorm1d/2d/3d, RMSNorm and
LocalResponseNorm. Values against NumPy formulas written here, running statistics and eval mode,
parameter and buffer names, shapes and initialisation, and errors. First and second derivatives
on random inputs are the op table's (tests/cases_norms.py)."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

rng = np.random.default_rng(0)


def _t(a):
    return cr.tensor(a, dtype=cr.float64)


def _standardise(a, axes, eps=1e-5):
    return (a - a.mean(axis=axes, keepdims=True)) / np.sqrt(a.var(axis=axes, keepdims=True) + eps)


# ---------------------------------------------------------------------------- GroupNorm


def test_group_norm_normalises_each_group_of_channels_then_scales_per_channel():
    x = rng.normal(2.0, 3.0, size=(3, 6, 4, 2))
    layer = nn.GroupNorm(2, 6).double()
    layer.weight._data[...] = np.arange(1.0, 7.0)
    layer.bias._data[...] = -np.arange(6.0)
    grouped = x.reshape(3, 2, 3, 4, 2)  # (N, G, C/G, H, W)
    expected = _standardise(grouped, (2, 3, 4)).reshape(x.shape) * np.arange(1.0, 7.0).reshape(1, 6, 1, 1)
    expected -= np.arange(6.0).reshape(1, 6, 1, 1)
    np.testing.assert_allclose(layer(_t(x))._data, expected, rtol=1e-12, atol=1e-12)
    layer.eval()  # no running statistics: the same in eval mode
    np.testing.assert_allclose(layer(_t(x))._data, expected, rtol=1e-12, atol=1e-12)


def test_group_norm_parameters_and_keys_are_pytorchs():
    layer = nn.GroupNorm(3, 6)
    assert list(layer.state_dict()) == ["weight", "bias"]
    assert layer.weight.shape == layer.bias.shape == (6,) and layer.weight.dtype == cr.float32
    np.testing.assert_array_equal(layer.weight._data, np.ones(6))
    np.testing.assert_array_equal(layer.bias._data, np.zeros(6))
    assert list(nn.GroupNorm(3, 6, affine=False).state_dict()) == []
    assert list(nn.GroupNorm(3, 6, bias=False).state_dict()) == ["weight"]
    assert repr(nn.GroupNorm(3, 6, affine=False)) == "GroupNorm(3, 6, eps=1e-05, affine=False, bias=False)"


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.GroupNorm(4, 6), ValueError, r"GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)"),
    (lambda: nn.GroupNorm(0, 6), ValueError, "GroupNorm: num_groups must be an integer >= 1"),
    (lambda: F.group_norm(cr.randn(2, 6, 3), 4), ValueError, "group_norm: the input's 6 channels .* num_groups=4"),
    (lambda: F.group_norm(cr.randn(6), 1), ValueError, "group_norm: expected an input .* at least 2 dims"),
    (lambda: F.group_norm(cr.randn(1, 4), 4), ValueError, "expected more than 1 value per channel"),
    (lambda: F.group_norm(cr.randn(2, 4, 3), 2, cr.ones(3)), ValueError, r"group_norm: weight has shape \(3,\)"),
    (lambda: nn.GroupNorm(2, 4)(cr.randn(2, 6, 3)), ValueError, r"weight has shape \(4,\), expected \(6,\)"),
    (lambda: nn.GroupNorm(2, 4)(cr.randn(2, 4, 3, dtype=cr.float64)), RuntimeError, "one dtype"),
])  # fmt: skip
def test_group_norm_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------- InstanceNorm


@pytest.mark.parametrize("layer, shape", [
    (nn.InstanceNorm1d, (4, 3, 7)), (nn.InstanceNorm2d, (2, 3, 4, 5)), (nn.InstanceNorm3d, (2, 3, 2, 3, 2)),
])  # fmt: skip
def test_instance_norm_normalises_each_channel_of_each_sample(layer, shape):
    x = rng.normal(1.0, 2.0, size=shape)
    axes = tuple(range(2, len(shape)))
    norm = layer(3, affine=True).double()
    norm.weight._data[...] = [1.0, 2.0, 0.5]
    norm.bias._data[...] = [0.0, -1.0, 3.0]
    kept = (1, 3) + (1,) * (len(shape) - 2)
    expected = _standardise(x, axes) * np.array([1.0, 2.0, 0.5]).reshape(kept) + np.array([0, -1.0, 3]).reshape(kept)
    np.testing.assert_allclose(norm(_t(x))._data, expected, rtol=1e-12, atol=1e-12)
    # an unbatched input is a batch of one
    np.testing.assert_allclose(norm(_t(x[1]))._data, expected[1], rtol=1e-12, atol=1e-12)


def test_instance_norm_has_no_parameters_or_buffers_by_default():
    assert list(nn.InstanceNorm1d(3).state_dict()) == []
    assert list(nn.InstanceNorm2d(3, affine=True).state_dict()) == ["weight", "bias"]
    tracked = nn.InstanceNorm2d(3, track_running_stats=True)
    assert list(tracked.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    np.testing.assert_array_equal(tracked.running_mean._data, np.zeros(3))
    np.testing.assert_array_equal(tracked.running_var._data, np.ones(3))
    assert repr(nn.InstanceNorm1d(3)) == (
        "InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)"
    )


def test_instance_norm_running_statistics_average_the_instances_and_serve_eval_mode():
    norm = nn.InstanceNorm1d(2, momentum=0.3, track_running_stats=True).double()
    mean, var = np.zeros(2), np.ones(2)
    for _ in range(3):
        x = rng.normal(1.0, 2.0, size=(4, 2, 5))
        norm(_t(x))
        mean = 0.7 * mean + 0.3 * x.mean(axis=2).mean(axis=0)
        var = 0.7 * var + 0.3 * x.var(axis=2, ddof=1).mean(axis=0)  # each instance's unbiased variance
    np.testing.assert_allclose(norm.running_mean._data, mean, rtol=1e-12)
    np.testing.assert_allclose(norm.running_var._data, var, rtol=1e-12)
    assert norm.num_batches_tracked.item() == 0  # PyTorch's instance norm does not count batches
    norm.eval()
    x = rng.normal(size=(3, 2, 5))
    expected = (x - mean.reshape(1, 2, 1)) / np.sqrt(var.reshape(1, 2, 1) + 1e-5)
    np.testing.assert_allclose(norm(_t(x))._data, expected, rtol=1e-12)
    np.testing.assert_allclose(norm.running_mean._data, mean, rtol=1e-12)  # eval leaves them alone


def test_instance_norm_without_running_statistics_uses_the_instances_in_eval_too():
    x = rng.normal(size=(2, 3, 6))
    norm = nn.InstanceNorm1d(3).double().eval()
    np.testing.assert_allclose(norm(_t(x))._data, _standardise(x, (2,)), rtol=1e-12, atol=1e-12)


def test_instance_norm_with_momentum_none_leaves_the_running_statistics():
    """PyTorch's _InstanceNorm passes momentum 0.0 for None (no cumulative average, unlike batch norm)."""
    norm = nn.InstanceNorm1d(2, momentum=None, track_running_stats=True).double()
    norm(_t(rng.normal(3.0, 2.0, size=(4, 2, 5))))
    np.testing.assert_array_equal(norm.running_mean._data, np.zeros(2))
    np.testing.assert_array_equal(norm.running_var._data, np.ones(2))


def test_instance_norm_warns_when_the_channels_differ_and_nothing_uses_them():
    with pytest.warns(UserWarning, match="input's size at dim=1 does not match num_features"):
        out = nn.InstanceNorm1d(3)(cr.randn(2, 4, 5))
    assert out.shape == (2, 4, 5)


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.InstanceNorm1d(3)(cr.randn(2, 3, 4, 5)), ValueError, r"InstanceNorm1d\(3\): expected 2D or 3D input"),
    (lambda: nn.InstanceNorm2d(3)(cr.randn(3, 4)), ValueError, r"InstanceNorm2d\(3\): expected 3D or 4D input"),
    (lambda: nn.InstanceNorm3d(3)(cr.randn(3, 4, 4)), ValueError, r"expected 4D or 5D input \(got 3D"),
    (lambda: nn.InstanceNorm1d(3, affine=True)(cr.randn(2, 4, 5)), ValueError,
     r"expected input's size at dim=1 to match num_features \(3\), but got: 4"),
    (lambda: nn.InstanceNorm1d(3)(cr.randn(2, 3, 1)), ValueError, "expected more than 1 spatial element when training"),
    (lambda: F.instance_norm(cr.randn(2, 3)), ValueError, "more than 1 spatial element"),
    (lambda: F.instance_norm(cr.randn(2, 3, 4), use_input_stats=False), ValueError,
     "instance_norm: running_mean and running_var are needed when use_input_stats=False"),
    (lambda: F.instance_norm(cr.randn(2, 3, 4), cr.zeros(2), cr.ones(2)), ValueError,
     r"instance_norm: running_mean has shape \(2,\), expected \(3,\)"),
    (lambda: nn.InstanceNorm1d(3)([[1.0]]), TypeError, "InstanceNorm1d.*expected a Tensor input, got list"),
])  # fmt: skip
def test_instance_norm_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_instance_norm_equals_group_norm_with_a_group_per_channel():
    x, w, b = _t(rng.normal(size=(2, 4, 3, 3))), _t(rng.normal(size=4)), _t(rng.normal(size=4))
    np.testing.assert_allclose(F.instance_norm(x, weight=w, bias=b)._data, F.group_norm(x, 4, w, b)._data, rtol=1e-14)


# ---------------------------------------------------------------------------- RMSNorm


def test_rms_norm_divides_by_the_root_mean_square_then_scales():
    x = rng.normal(size=(2, 3, 4))
    layer = nn.RMSNorm([3, 4], eps=1e-3).double()
    layer.weight._data[...] = rng.normal(size=(3, 4))
    expected = x / np.sqrt((x**2).mean(axis=(1, 2), keepdims=True) + 1e-3) * layer.weight._data
    np.testing.assert_allclose(layer(_t(x))._data, expected, rtol=1e-12)
    assert list(layer.state_dict()) == ["weight"] and layer.weight.shape == (3, 4)
    assert list(nn.RMSNorm(4, elementwise_affine=False).state_dict()) == []
    np.testing.assert_array_equal(nn.RMSNorm(4).weight._data, np.ones(4))
    assert nn.RMSNorm(4).extra_repr() == "(4,), eps=None, elementwise_affine=True"


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_rms_norm_eps_none_is_the_dtypes_machine_epsilon(dtype):
    x = np.full((1, 2), 1e-4)  # mean square 1e-8: the epsilon of float32 (1.2e-7) shows, float64's does not
    eps = np.finfo(dtype).eps
    got = nn.RMSNorm(2, dtype=dtype)(cr.tensor(x, dtype=dtype))
    assert got.dtype == dtype
    np.testing.assert_allclose(got._data, x / np.sqrt(1e-8 + eps), rtol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: nn.RMSNorm(4)(cr.randn(2, 3)), r"rms_norm: input of shape \(2, 3\) does not end in"),
    (lambda: F.rms_norm(cr.randn(2, 3), (3,), cr.ones(2)), r"rms_norm: weight has shape \(2,\), expected \(3,\)"),
    (lambda: nn.RMSNorm(4, eps=-1.0), "RMSNorm: eps must be a finite number >= 0"),
    (lambda: nn.RMSNorm(()), "RMSNorm: normalized_shape must hold at least one size"),
])  # fmt: skip
def test_rms_norm_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------------------- LocalResponseNorm


@pytest.mark.parametrize("shape, size", [((2, 5, 3), 3), ((2, 6, 2, 3), 2), ((1, 4, 2, 2, 2), 5), ((2, 3, 4), 1)])
def test_local_response_norm_divides_by_the_neighbouring_channels_energy(shape, size):
    x = rng.normal(size=shape)
    alpha, beta, k = 0.5, 0.75, 2.0
    expected = np.empty_like(x)
    for c in range(shape[1]):  # channels c - size//2 ... c + (size-1)//2 that exist; the count stays `size`
        window = x[:, max(0, c - size // 2) : c + (size - 1) // 2 + 1]
        expected[:, c] = x[:, c] / (k + alpha * (window**2).sum(axis=1) / size) ** beta
    got = nn.LocalResponseNorm(size, alpha, beta, k)(_t(x))
    np.testing.assert_allclose(got._data, expected, rtol=1e-12)


def test_local_response_norm_layer():
    layer = nn.LocalResponseNorm(2)
    assert list(layer.state_dict()) == [] and repr(layer) == "LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)"
    with pytest.raises(ValueError, match=r"local_response_norm: expected an input .* 3 or more dims"):
        layer(cr.randn(2, 3))
    with pytest.raises(ValueError, match="LocalResponseNorm: size must be an integer >= 1"):
        nn.LocalResponseNorm(0)
    empty = cr.randn(0, 3, 2)
    assert layer(empty).shape == (0, 3, 2)


# ---------------------------------------------------------------------------- all of them


def test_pytorchs_module_paths_name_the_same_classes():
    m = nn.modules
    assert m.instancenorm.InstanceNorm2d is nn.InstanceNorm2d and m.normalization.GroupNorm is nn.GroupNorm
    assert m.normalization.RMSNorm is nn.RMSNorm and m.normalization.LocalResponseNorm is nn.LocalResponseNorm
    assert m.InstanceNorm1d is nn.InstanceNorm1d and m.GroupNorm is nn.GroupNorm
    assert not isinstance(nn.InstanceNorm1d(2), m.batchnorm._BatchNorm)  # siblings, as in PyTorch


def test_the_functional_and_top_level_names_are_pytorchs():
    for name in ("group_norm", "instance_norm", "rms_norm", "local_response_norm"):
        assert name in F.__all__ and callable(getattr(F, name))
    for name in ("group_norm", "rms_norm"):  # torch.X exists for these, with F's arguments
        assert getattr(cr, name) is getattr(F, name)
    assert not hasattr(cr, "instance_norm")  # torch.instance_norm's arguments come in another order


def test_a_convnet_with_group_and_instance_norm_trains():
    """The layers carry gradients to their parameters and inputs in a small network: the loss falls."""
    cr.manual_seed(0)
    x = cr.randn(16, 2, 6, 6)
    y = (x.mean(dim=(1, 2, 3)) > 0).to(cr.int64)
    model = nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1), nn.GroupNorm(4, 8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
        nn.InstanceNorm2d(8, affine=True), nn.ReLU(), nn.LocalResponseNorm(3), nn.Flatten(),
        nn.RMSNorm(288), nn.Linear(288, 2),
    )  # fmt: skip
    optimizer = cr.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(30):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
