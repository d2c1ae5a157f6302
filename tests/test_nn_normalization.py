"""Normalisation: batch_norm and layer_norm against the op table, and the layers: values against
NumPy, training vs evaluation, running statistics, state_dict keys, gradients and errors."""

import numpy as np
import pytest
from cases_loss import CASES

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm
from chainrule.ops.normalization import batch_norm, layer_norm

NORM_CASES = [case for case in CASES if case.name in ("batch_norm", "layer_norm")]


def test_the_normalisation_cases_are_all_here():
    """Their op-table checks run in tests/test_ops.py, which merges tests/cases_loss.py."""
    assert [case.name for case in NORM_CASES] == ["batch_norm", "batch_norm", "layer_norm"]


rng = np.random.default_rng(0)


def _batches(shape, count=3):
    return [rng.normal(1.0, 2.0, size=shape) for _ in range(count)]


@pytest.mark.parametrize("layer, shape, axes", [
    (BatchNorm1d, (8, 3), (0,)),
    (BatchNorm1d, (4, 3, 5), (0, 2)),
    (BatchNorm2d, (4, 3, 2, 3), (0, 2, 3)),
    (BatchNorm3d, (2, 3, 2, 2, 2), (0, 2, 3, 4)),
])  # fmt: skip
def test_running_statistics_follow_the_momentum_update(layer, shape, axes):
    bn = layer(3, momentum=0.3).double()
    mean, var = np.zeros(3), np.ones(3)
    count = np.prod(shape) // 3
    for x in _batches(shape):
        bn(cr.tensor(x))
        mean = 0.7 * mean + 0.3 * x.mean(axis=axes)
        var = 0.7 * var + 0.3 * x.var(axis=axes) * count / (count - 1)  # unbiased
    np.testing.assert_allclose(bn.running_mean._data, mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var._data, var, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3


def test_momentum_none_keeps_a_cumulative_average():
    bn = BatchNorm1d(2, momentum=None).double()
    batches = _batches((5, 2), count=4)
    for x in batches:
        bn(cr.tensor(x))
    means, variances = [x.mean(0) for x in batches], [x.var(0, ddof=1) for x in batches]
    np.testing.assert_allclose(bn.running_mean._data, np.mean(means, axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var._data, np.mean(variances, axis=0), rtol=1e-12)


def test_training_normalises_with_the_batch_and_eval_with_the_running_statistics():
    bn = BatchNorm2d(3).double()
    bn.weight._data[...] = [1.0, 2.0, 0.5]
    bn.bias._data[...] = [0.0, -1.0, 3.0]
    w, b = bn.weight._data.reshape(1, 3, 1, 1), bn.bias._data.reshape(1, 3, 1, 1)
    for x in _batches((4, 3, 2, 2)):
        y = bn(cr.tensor(x))._data
        mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
        np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5) * w + b, rtol=1e-12, atol=1e-12)
    bn.eval()
    frozen = {k: v.numpy().copy() for k, v in bn.state_dict().items()}
    x = rng.normal(size=(2, 3, 2, 2))
    rm, rv = bn.running_mean._data.reshape(1, 3, 1, 1), bn.running_var._data.reshape(1, 3, 1, 1)
    np.testing.assert_allclose(bn(cr.tensor(x))._data, (x - rm) / np.sqrt(rv + 1e-5) * w + b, rtol=1e-12)
    # In eval mode a sample's output does not depend on the rest of the batch, and nothing updates.
    np.testing.assert_allclose(bn(cr.tensor(x[:1]))._data, bn(cr.tensor(x))._data[:1], rtol=1e-12)
    for key, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, frozen[key])
    bn.train()
    assert not np.allclose(bn(cr.tensor(x[:1].repeat(2, 0)))._data[:1], bn.eval()(cr.tensor(x[:1]))._data)


def test_state_dict_keys_and_buffers_match_pytorch():
    bn = BatchNorm1d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(bn.weight._data, np.ones(4))
    np.testing.assert_array_equal(bn.bias._data, np.zeros(4))
    np.testing.assert_array_equal(bn.running_mean._data, np.zeros(4))
    np.testing.assert_array_equal(bn.running_var._data, np.ones(4))
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
    assert bn.weight.dtype == np.float32 and bn.running_var.dtype == np.float32
    assert repr(bn) == (
        "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
        "  # 8 parameters"
    )
    without_affine = BatchNorm2d(4, affine=False)
    assert list(without_affine.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    assert list(BatchNorm2d(4, bias=False).state_dict())[:2] == ["weight", "running_mean"]
    assert list(BatchNorm1d(4, track_running_stats=False).state_dict()) == ["weight", "bias"]
    copy = BatchNorm1d(4)
    bn(cr.randn(3, 4))
    copy.load_state_dict(bn.state_dict())
    assert copy.num_batches_tracked.item() == 1
    np.testing.assert_array_equal(copy.running_mean._data, bn.running_mean._data)


def test_without_running_statistics_eval_uses_the_batch():
    bn = BatchNorm1d(2, track_running_stats=False).double().eval()
    assert bn.running_mean is None and bn.num_batches_tracked is None
    x = rng.normal(3.0, 2.0, (6, 2))
    np.testing.assert_allclose(bn(cr.tensor(x))._data, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-12)


def test_batch_norm_module_gradcheck_in_training_and_eval():
    bn = BatchNorm1d(2).double()
    bn.weight._data[...] = [1.5, 0.5]
    x = cr.tensor(rng.normal(size=(4, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t, *p: bn(t), (x, *bn.parameters()))
    bn.eval()
    assert gradcheck(lambda t, *p: bn(t), (x, *bn.parameters()))


def test_batch_norm_module_second_derivatives_in_training_and_eval():
    bn = BatchNorm1d(2).double()
    bn.weight._data[...] = [1.5, 0.5]
    bn.bias._data[...] = [0.2, -0.3]
    x = cr.tensor(rng.normal(size=(4, 2, 3)), requires_grad=True)
    assert gradgradcheck(lambda t, *p: bn(t), (x, *bn.parameters()))
    bn.eval()
    bn.running_mean._data[...] = [0.5, -1.0]
    bn.running_var._data[...] = [2.0, 0.5]
    assert gradgradcheck(lambda t, *p: bn(t), (x, *bn.parameters()))


def test_eval_backward_uses_the_running_statistics_its_forward_read():
    """A training step between an eval forward and its backward updates the running statistics
    in place; the backward, first order and create_graph alike, keeps the values it was given."""
    bn = BatchNorm1d(2).double().eval()
    bn.running_mean._data[...] = [0.5, -1.0]
    bn.running_var._data[...] = [2.0, 0.5]
    x = cr.tensor(rng.normal(size=(5, 2)), requires_grad=True)
    g = cr.tensor(rng.normal(size=(5, 2)))
    expected = [a._data for a in cr.autograd.grad(bn(x), (x, bn.weight), g)]
    for create_graph in (False, True):
        y = bn.eval()(x)
        bn.train()(cr.tensor(rng.normal(3.0, 4.0, (5, 2))))
        got = cr.autograd.grad(y, (x, bn.weight), g, create_graph=create_graph)
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a._data, b, rtol=1e-12)
        bn.running_mean._data[...] = [0.5, -1.0]
        bn.running_var._data[...] = [2.0, 0.5]


def test_batch_norm_float32_layer_stays_float32():
    bn = BatchNorm2d(3)
    x = cr.randn(2, 3, 2, 2, requires_grad=True)
    y = bn(x)
    (y * y).sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32 and bn.weight.grad.dtype == np.float32
    assert bn.running_mean.dtype == np.float32 and bn.running_var.dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda: BatchNorm2d(3)(cr.randn(2, 3, 4)),
     r"BatchNorm2d\(3\): expected a 4-d \(N, C, H, W\) input, got shape \(2, 3, 4\)"),
    (lambda: BatchNorm1d(3)(cr.randn(2, 3, 4, 5)), r"BatchNorm1d\(3\): expected a 2-d \(N, C\) or 3-d"),
    (lambda: BatchNorm1d(3)(cr.randn(8, 4)),
     r"BatchNorm1d\(3\): input has 4 channels \(shape \(8, 4\)\), expected 3"),
    (lambda: BatchNorm1d(3)(cr.randn(1, 3)), "expected more than 1 value per channel when training"),
    (lambda: batch_norm(cr.randn(4, 3), None, None, training=False),
     "running_mean and running_var are needed"),
    (lambda: batch_norm(cr.randn(4, 3), cr.zeros(3), cr.ones(3), training=True, momentum=None),
     "batch_norm: momentum must be a number"),
    (lambda: batch_norm(cr.randn(4, 3), None, None, cr.ones(2), training=True),
     r"batch_norm: weight has shape \(2,\), expected \(3,\)"),
    (lambda: LayerNorm(4)(cr.randn(2, 3)),
     r"LayerNorm\(\(4,\)\): input of shape \(2, 3\) does not end in \(4,\)"),
    (lambda: layer_norm(cr.randn(2, 3), (3,), cr.ones(2)),
     r"layer_norm: weight has shape \(2,\), expected \(3,\)"),
    (lambda: layer_norm(cr.randn(3), (2, 3)), r"layer_norm: input of shape \(3,\) does not end in"),
])  # fmt: skip
def test_errors_name_the_layer_and_the_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_single_sample_is_fine_in_eval_mode():
    bn = BatchNorm1d(3).eval()
    np.testing.assert_allclose(bn(cr.ones(1, 3))._data, np.ones((1, 3)) / np.sqrt(1 + 1e-5), rtol=1e-6)


# ---------------------------------------------------------------------------- layer norm


def test_layer_norm_normalises_each_sample_over_its_last_dims():
    ln = LayerNorm((2, 3)).double()
    ln.weight._data[...] = rng.normal(size=(2, 3))
    ln.bias._data[...] = rng.normal(size=(2, 3))
    x = rng.normal(1.0, 4.0, (5, 2, 3))
    flat = x.reshape(5, 6)
    xhat = (flat - flat.mean(1, keepdims=True)) / np.sqrt(flat.var(1, keepdims=True) + 1e-5)
    xhat = xhat.reshape(x.shape)
    expected = xhat * ln.weight._data + ln.bias._data
    np.testing.assert_allclose(ln(cr.tensor(x))._data, expected, rtol=1e-12)
    np.testing.assert_allclose(ln.eval()(cr.tensor(x))._data, expected, rtol=1e-12)  # no train/eval difference
    np.testing.assert_allclose(ln(cr.tensor(x[:1]))._data, expected[:1], rtol=1e-12)


def test_layer_norm_parameters_state_dict_and_gradcheck():
    ln = LayerNorm(3)
    assert list(ln.state_dict()) == ["weight", "bias"] and ln.weight.shape == (3,)
    np.testing.assert_array_equal(ln.weight._data, np.ones(3))
    np.testing.assert_array_equal(ln.bias._data, np.zeros(3))
    assert repr(ln) == "LayerNorm((3,), eps=1e-05, elementwise_affine=True, bias=True)  # 6 parameters"
    assert list(LayerNorm(3, elementwise_affine=False).state_dict()) == []
    assert list(LayerNorm(3, bias=False).state_dict()) == ["weight"]
    ln.double()
    ln.weight._data[...] = [0.5, 1.0, 2.0]
    ln.bias._data[...] = [0.1, 0.2, 0.3]
    x = cr.tensor(rng.normal(size=(2, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t, *p: ln(t), (x, *ln.parameters()))
    assert gradgradcheck(lambda t, *p: ln(t), (x, *ln.parameters()))


def _norm_reference(x, g, w, b, k, centre):
    """Layer norm (``centre``) or RMS norm over the last k dims in float64: output and the
    gradients of x, weight and bias for output gradient g, from the textbook formulas."""
    axes = tuple(range(x.ndim - k, x.ndim))
    lead = tuple(range(x.ndim - k))
    shifted = x - x.mean(axis=axes, keepdims=True) if centre else x
    inv = 1 / np.sqrt((shifted**2).mean(axis=axes, keepdims=True) + 1e-5)
    xhat = shifted * inv
    gh = g * w
    inner = gh - xhat * (gh * xhat).mean(axis=axes, keepdims=True)
    gx = inv * (inner - gh.mean(axis=axes, keepdims=True) if centre else inner)
    return xhat * w + b, gx, (g * xhat).sum(axis=lead), g.sum(axis=lead)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5), (np.float16, 2e-2)])
@pytest.mark.parametrize("shape, k", [((4, 3, 5), 1), ((2, 3, 4), 2), ((6,), 1), ((0, 6), 1)])
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("centre", [True, False], ids=["layer_norm", "rms_norm"])
def test_layer_and_rms_norm_values_and_gradients_in_every_dtype_and_memory_order(dtype, tol, shape, k,
                                                                                transposed, centre):
    """C-ordered float32/float64 inputs take BLAS products for their row means and the parameters'
    sums; other dtypes and non-contiguous inputs (a transposed view) NumPy's reductions: each
    against the formulas in float64."""
    from chainrule.ops.normalization import rms_norm

    x = rng.normal(1.0, 3.0, shape)
    g = rng.normal(size=shape)
    w, b = rng.normal(1.0, 0.5, shape[len(shape) - k:]), rng.normal(size=shape[len(shape) - k:])
    if transposed:  # the same values, handed over as a transposed view of a C-ordered tensor
        xt = cr.tensor(x.T.copy().astype(dtype), requires_grad=True)
        leaf, xin = xt, xt.permute(*reversed(range(x.ndim)))
        assert not xin._data.flags.c_contiguous or x.ndim == 1 or not x.size
    else:
        leaf = xin = cr.tensor(x.astype(dtype), requires_grad=True)
    wt, bt = cr.tensor(w.astype(dtype), requires_grad=True), cr.tensor(b.astype(dtype), requires_grad=True)
    normalized = shape[len(shape) - k:]
    if centre:
        out = layer_norm(xin, normalized, wt, bt)
    else:
        out = rms_norm(xin, normalized, wt, eps=1e-5)
        b = np.zeros_like(b)
    out.backward(cr.tensor(g.astype(dtype)))
    expected = _norm_reference(x, g, w, b, k, centre)
    got = [out._data, leaf.grad._data.T if transposed else leaf.grad._data, wt.grad._data]
    got += [bt.grad._data] if centre else []
    for value, reference in zip(got, expected):
        assert value.dtype == dtype and value.shape == reference.shape
        np.testing.assert_allclose(value, reference, rtol=tol, atol=tol * np.abs(reference).max(initial=1))


@pytest.mark.parametrize("weighted", [False, True])
def test_changing_the_output_in_place_leaves_the_gradient_alone(weighted):
    """Without an affine map the normalised input is the output: the rule keeps its own copy."""
    from chainrule.ops.normalization import batch_norm, group_norm, rms_norm

    x = cr.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    w = cr.tensor(rng.normal(size=4), requires_grad=True) if weighted else None
    norms = (
        lambda t: layer_norm(t, 4, w),
        lambda t: rms_norm(t, 4, w),
        lambda t: batch_norm(t, None, None, w, training=True),
        lambda t: group_norm(t.reshape(3, 4, 1), 2, w).reshape(3, 4),
    )
    for norm in norms:
        y = norm(x)
        (y * y).sum().backward()
        expected, x.grad = x.grad._data.copy(), None
        y = norm(x)
        z = y * 1.0
        y.mul_(3.0)
        (z * z).sum().backward()
        np.testing.assert_allclose(x.grad._data, expected, rtol=1e-12)
        x.grad = None
