"""Pooling: the op table for max, average and adaptive average pooling, and the layers
MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, Upsample against nested loops (values,
PyTorch's first-maximum rule for gradients and indices), finite differences and PyTorch's reprs."""

import re

import numpy as np
import pytest
from cases_conv import (
    adaptive_avg_pool_reference,
    avg_pool_reference,
    distinct,
    first_derivative,
    max_pool_reference,
    nearest_reference,
)

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    Upsample,
)
from chainrule.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from chainrule.ops.resample import interpolate

# ---------------------------------------------------------------------------- the op table


def _ids(cases):
    seen, ids = {}, []
    for case in cases:
        seen[case.name] = seen.get(case.name, 0) + 1
        ids.append(case.name if seen[case.name] == 1 else f"{case.name}-{seen[case.name]}")
    return ids


# ---------------------------------------------------------------------------- max pooling


def test_max_pool_hand_examples():
    x = cr.tensor([[[1.0, 3.0, 3.0, 0.0]]], requires_grad=True)
    out = max_pool1d(x, 2)
    assert out._data.tolist() == [[[3.0, 3.0]]]
    out.backward(np.ones((1, 1, 2), dtype=np.float32))
    assert x.grad.tolist() == [[[0.0, 1.0, 1.0, 0.0]]]
    # Padding is -inf: it never wins, even against negative inputs.
    assert max_pool1d(cr.tensor([[[-5.0, -3.0, -4.0]]]), 2, padding=1)._data.tolist() == [[[-5.0, -3.0]]]


@pytest.mark.parametrize(
    "nd, kw",
    [
        (1, {"kernel_size": 2}),
        (1, {"kernel_size": 3, "stride": 1, "padding": 1}),
        (2, {"kernel_size": 2}),
        (2, {"kernel_size": 3, "stride": 1, "padding": 1}),
        (2, {"kernel_size": (2, 3), "stride": (1, 2), "dilation": (2, 1), "ceil_mode": True}),
        (2, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ],
)
def test_max_pool_ties_go_to_the_first_maximum_as_in_pytorch(nd, kw):
    """Small integers make most windows tie; gradient and indices follow the first maximum."""
    x = np.random.default_rng(0).integers(0, 3, (2, 3, *(7,) * nd)).astype(np.float64)
    op = max_pool1d if nd == 1 else max_pool2d
    t = cr.tensor(x, dtype=cr.float64, requires_grad=True)
    out, indices = op(t, **kw, return_indices=True)
    expected, expected_indices = max_pool_reference(x, nd, **kw)
    np.testing.assert_array_equal(out._data, expected)
    np.testing.assert_array_equal(indices._data, expected_indices)
    assert indices.requires_grad is False
    g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(g)
    routed = np.zeros((6, x[0, 0].size))
    for r, (row, at) in enumerate(zip(g.reshape(6, -1), expected_indices.reshape(6, -1))):
        for gi, i in zip(row, at):
            routed[r, i] += gi
    np.testing.assert_allclose(t.grad, routed.reshape(x.shape), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (MaxPool1d(3), (2, 3, 10)),
        (MaxPool1d(3, stride=1, padding=1, dilation=2), (3, 9)),
        (MaxPool2d(2), (2, 3, 8, 7)),
        (MaxPool2d((3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=True), (2, 2, 7, 6)),
        (MaxPool2d(2, stride=1, dilation=2), (3, 6, 6)),
    ],
)
def test_max_pool_layers_match_loops_and_finite_differences(layer, shape):
    nd = 1 if isinstance(layer, MaxPool1d) else 2
    x = distinct(lambda s: 7, shape)
    out = layer(cr.tensor(x.astype(np.float32)))
    assert out.dtype == np.float32
    expected, _ = max_pool_reference(x, nd, layer.kernel_size, layer.stride, layer.padding, layer.dilation,
                                     layer.ceil_mode)
    np.testing.assert_allclose(out._data, expected, rtol=1e-6)
    assert gradcheck(layer, (cr.tensor(x, dtype=cr.float64, requires_grad=True),))


def test_max_pool_layer_return_indices():
    values, indices = MaxPool2d(2, return_indices=True)(cr.tensor([[[[1.0, 5.0], [7.0, 2.0]]]]))
    assert values._data.tolist() == [[[[7.0]]]] and indices._data.tolist() == [[[[2]]]]


# ---------------------------------------------------------------------------- average pooling


def test_avg_pool_hand_examples():
    x = cr.tensor([[[1.0, 2.0, 3.0]]], requires_grad=True)
    assert avg_pool1d(x, 2, padding=1)._data.tolist() == [[[0.5, 2.5]]]
    out = avg_pool1d(x, 2, padding=1, count_include_pad=False)
    assert out._data.tolist() == [[[1.0, 2.5]]]
    out.backward(np.ones((1, 1, 2), dtype=np.float32))
    assert x.grad.tolist() == [[[1.0, 0.5, 0.5]]]
    overridden = avg_pool2d(cr.ones(1, 1, 4, 4), 2, divisor_override=3)
    np.testing.assert_allclose(overridden._data, np.full((1, 1, 2, 2), 4 / 3), rtol=1e-6)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (AvgPool1d(3), (2, 3, 10)),
        (AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (3, 8)),
        (AvgPool2d(2), (2, 3, 8, 7)),
        (AvgPool2d((3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True), (2, 2, 7, 6)),
        (AvgPool2d(3, stride=2, padding=1, count_include_pad=False, divisor_override=None), (1, 5, 6)),
        (AvgPool2d(2, stride=1, divisor_override=5), (2, 1, 4, 5)),
    ],
)
def test_avg_pool_layers_match_loops_and_finite_differences(layer, shape):
    nd = 1 if isinstance(layer, AvgPool1d) else 2
    x = np.random.default_rng(0).standard_normal(shape)
    out = layer(cr.tensor(x.astype(np.float32)))
    assert out.dtype == np.float32
    expected = avg_pool_reference(x, nd, layer.kernel_size, layer.stride, layer.padding, layer.ceil_mode,
                                  layer.count_include_pad, getattr(layer, "divisor_override", None))
    np.testing.assert_allclose(out._data, expected, rtol=1e-5, atol=1e-6)
    assert gradcheck(layer, (cr.tensor(x, dtype=cr.float64, requires_grad=True),))


@pytest.mark.parametrize(
    "layer, shape",
    [
        (AdaptiveAvgPool1d(4), (2, 3, 8)),  # windows tile the input: the reshape path
        (AdaptiveAvgPool1d(4), (2, 3, 10)),  # uneven, overlapping windows
        (AdaptiveAvgPool1d(7), (3, 5)),  # more outputs than inputs
        (AdaptiveAvgPool2d(1), (2, 3, 5, 6)),
        (AdaptiveAvgPool2d((3, 2)), (2, 2, 7, 4)),
        (AdaptiveAvgPool2d((None, 3)), (3, 4, 5)),
    ],
)
def test_adaptive_avg_pool_layers_match_loops_and_finite_differences(layer, shape):
    nd = 1 if isinstance(layer, AdaptiveAvgPool1d) else 2
    x = np.random.default_rng(0).standard_normal(shape)
    out = layer(cr.tensor(x.astype(np.float32)))
    assert out.dtype == np.float32
    expected = adaptive_avg_pool_reference(x, nd, layer.output_size)
    np.testing.assert_allclose(out._data, expected, rtol=1e-5, atol=1e-6)
    assert gradcheck(layer, (cr.tensor(x, dtype=cr.float64, requires_grad=True),))


def test_upsample_layer():
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 2))
    out = Upsample(scale_factor=(2, 3))(cr.tensor(x))
    np.testing.assert_array_equal(out._data, nearest_reference(x, (2, 3)))
    assert Upsample(size=(6, 4))(cr.tensor(x)).shape == (2, 3, 6, 4)
    t = cr.tensor(x, dtype=cr.float64, requires_grad=True)
    assert gradcheck(Upsample(scale_factor=2), (t,))


@pytest.mark.parametrize(
    "op",
    [
        lambda x: max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
        lambda x: max_pool2d(x, 2),  # the tiled path
        lambda x: max_pool1d(x.reshape(2, 3, 42), 3, stride=2, dilation=2),
        lambda x: avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
        lambda x: avg_pool2d(x, 2),
        lambda x: adaptive_avg_pool2d(x, (3, 2)),
        lambda x: adaptive_avg_pool1d(x.reshape(2, 3, 42), 1),
        lambda x: interpolate(x, scale_factor=(2, 1)),
    ],
)
def test_pooling_and_upsampling_differentiate_to_third_order(op):
    """Their gradients are linear maps whose gradients are the adjoint maps: a squared output
    gives second and third derivatives that do not vanish."""
    x = cr.tensor(distinct(lambda s: 3, (2, 3, 7, 6)), dtype=cr.float64, requires_grad=True)
    assert gradgradcheck(first_derivative(lambda x: op(x) ** 2, [x]), (x,))


def test_modifying_a_max_pools_output_in_place_raises_at_backward():
    """The backward finds each window's maximum by comparing the input with the output."""
    x = cr.tensor([[[1.0, -3.0, 2.0, 0.5]]], requires_grad=True)
    out = max_pool1d(x * 1.0, 2)
    out.clamp_(min=1.5)
    with pytest.raises(RuntimeError, match="backward of MaxPool1d: one of the tensors it saved for backward"):
        out.sum().backward()


def test_unbatched_input_gives_the_batched_result():
    x = np.random.default_rng(0).standard_normal((1, 3, 6, 5)).astype(np.float32)
    for layer in (MaxPool2d(3, 2, 1), AvgPool2d(2), AdaptiveAvgPool2d(2)):
        np.testing.assert_array_equal(layer(cr.tensor(x[0]))._data, layer(cr.tensor(x))._data[0])


def test_extra_repr_matches_pytorch():
    assert MaxPool2d(2).extra_repr() == "kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False"
    assert MaxPool1d(3, 1, 1, ceil_mode=True).extra_repr() == (
        "kernel_size=3, stride=1, padding=1, dilation=1, ceil_mode=True")
    assert AvgPool2d(3, 2).extra_repr() == "kernel_size=3, stride=2, padding=0"
    assert AvgPool1d(3).extra_repr() == "kernel_size=(3,), stride=(3,), padding=(0,)"
    assert AdaptiveAvgPool2d((5, 7)).extra_repr() == "output_size=(5, 7)"
    assert Upsample(scale_factor=2).extra_repr() == "scale_factor=2.0, mode='nearest'"


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: max_pool2d(cr.zeros(1, 1, 5, 5), 2, padding=2), ValueError,
         "max_pool2d: padding (2, 2) must be at most half the kernel size (2, 2)"),
        (lambda: max_pool2d(cr.zeros(1, 1, 2, 5), 3), ValueError,
         "max_pool2d: input of spatial size (2, 5) (padded by (0, 0)) is smaller than the kernel's "
         "extent (3, 3)"),
        (lambda: max_pool1d(cr.zeros(1, 1, 1, 5), 2), ValueError,
         "max_pool1d: expected a 2-d (unbatched) or 3-d (batched) input, got shape (1, 1, 1, 5)"),
        (lambda: avg_pool2d(cr.zeros(1, 1, 4, 4, dtype=cr.int64), 2), TypeError,
         "avg_pool2d: expected a floating input, got dtype int64"),
        (lambda: avg_pool2d(cr.zeros(1, 1, 4, 4), (2, 2, 2)), TypeError,
         "avg_pool2d: kernel_size must be an int or a tuple of 2 ints, got (2, 2, 2)"),
        (lambda: avg_pool2d(cr.zeros(1, 1, 4, 4), 2, divisor_override=0), ValueError,
         "avg_pool2d: divisor_override must be a positive number, got 0"),
        (lambda: adaptive_avg_pool2d(cr.zeros(1, 1, 4, 4), (2, 2, 2)), ValueError,
         "adaptive_avg_pool2d: output_size must be an int or a tuple of 2 ints or None, got (2, 2, 2)"),
        (lambda: adaptive_avg_pool2d(cr.zeros(1, 1, 4, 4), 0), ValueError,
         "adaptive_avg_pool2d: output_size must be at least 1, got (0, 0)"),
        (lambda: Upsample(scale_factor=2, mode="cubic"), ValueError,
         "Upsample: mode must be one of 'nearest', 'linear', 'bilinear', 'bicubic', 'trilinear', 'area', "
         "'nearest-exact', got 'cubic'"),
        (lambda: Upsample(), ValueError, "Upsample: pass exactly one of size and scale_factor"),
    ],
)
def test_errors_say_where_what_and_what_was_expected(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()
