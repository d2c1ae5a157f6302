"""3-d pooling, adaptive max pooling, max unpooling, LPPool and interpolate's modes: the op-table
entries (forward against loops, first and second derivatives against finite differences), the
layers against the same loops, PyTorch's index conventions and errors naming the layer."""

import re

import numpy as np
import pytest
from cases_conv import avg_pool_reference, distinct, first_derivative, max_pool_reference
from cases_pool_more import CASES, adaptive_max_pool_reference, interpolate_reference, max_unpool_reference
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn import functional as F
from chainrule.ops import resample


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@settings(max_examples=10)
@given(data=st.data())
def test_table_entries_match_their_loops(case, data):
    drawn = case.draw(data.draw)
    got = drawn.op(*[cr.tensor(a, dtype=cr.float64) for a in drawn.arrays])
    np.testing.assert_allclose(got._data, drawn.reference(*drawn.arrays), rtol=1e-12, atol=1e-12)


INTERPOLATE = [case for case in CASES if case.name == "interpolate"]


@pytest.mark.parametrize("case", INTERPOLATE, ids=["interpolate"])
@settings(max_examples=15)
@given(data=st.data())
def test_interpolate_through_taps_as_large_axes_go(case, data):
    """Small axes resample by dense matrix products; large ones (past _DENSE_ENTRIES) by taps and
    segment sums: the table's small sizes, forced through the taps, give the same values and
    gradients."""
    drawn = case.draw(data.draw)
    tensors = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in drawn.arrays]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resample, "_DENSE_ENTRIES", 0)
        out = drawn.op(*tensors)
        plan = out.grad_fn.saved[0]
        assert not hasattr(plan, "dense") or plan.dense == [None] * len(plan.dense)  # ('area': no taps)
        np.testing.assert_allclose(out._data, drawn.reference(*drawn.arrays), rtol=1e-12, atol=1e-12)
        assert gradcheck(drawn.op, tensors)
        assert gradgradcheck(drawn.op, tensors)


# ---------------------------------------------------------------------------- 3-d pooling layers


@pytest.mark.parametrize(
    "layer, shape",
    [
        (nn.MaxPool3d(2), (2, 2, 4, 5, 4)),
        (
            nn.MaxPool3d((2, 3, 1), stride=(1, 2, 1), padding=(1, 1, 0), dilation=(1, 1, 2), ceil_mode=True),
            (2, 5, 6, 4),
        ),
    ],
)
def test_max_pool3d_layer_matches_loops_indices_and_finite_differences(layer, shape):
    x = distinct(lambda s: 5, shape)
    layer.return_indices = True
    out, indices = layer(cr.tensor(x))
    expected, expected_indices = max_pool_reference(
        x, 3, layer.kernel_size, layer.stride, layer.padding, layer.dilation, layer.ceil_mode
    )
    np.testing.assert_array_equal(out._data, expected)
    np.testing.assert_array_equal(indices._data, expected_indices)
    assert indices.dtype == np.int64 and not indices.requires_grad
    layer.return_indices = False
    assert gradcheck(layer, (cr.tensor(x, dtype=cr.float64, requires_grad=True),))


@pytest.mark.parametrize(
    "layer",
    [
        nn.AvgPool3d(2),
        nn.AvgPool3d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        nn.AvgPool3d((1, 2, 3), divisor_override=5),
    ],
)
def test_avg_pool3d_layer_matches_loops_and_finite_differences(layer):
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 5, 6))
    out = layer(cr.tensor(x.astype(np.float32)))
    assert out.dtype == np.float32
    expected = avg_pool_reference(
        x,
        3,
        layer.kernel_size,
        layer.stride,
        layer.padding,
        layer.ceil_mode,
        layer.count_include_pad,
        layer.divisor_override,
    )
    np.testing.assert_allclose(out._data, expected, rtol=1e-5, atol=1e-6)
    assert gradcheck(layer, (cr.tensor(x[:1, :1], dtype=cr.float64, requires_grad=True),))


# ---------------------------------------------------------------------------- adaptive max pooling


@pytest.mark.parametrize(
    "layer, shape",
    [
        (nn.AdaptiveMaxPool1d(4), (2, 3, 10)),
        (nn.AdaptiveMaxPool1d(7), (3, 5)),  # more outputs than inputs: windows share elements
        (nn.AdaptiveMaxPool2d((3, None)), (2, 2, 7, 5)),
        (nn.AdaptiveMaxPool2d(1), (3, 4, 5)),
        (nn.AdaptiveMaxPool3d((2, 3, 2)), (1, 2, 3, 5, 4)),
    ],
)
def test_adaptive_max_pool_layers_match_loops_indices_and_finite_differences(layer, shape):
    nd = layer._nd
    x = distinct(lambda s: 9, shape)
    out = layer(cr.tensor(x))
    expected, expected_indices = adaptive_max_pool_reference(x, nd, layer.output_size)
    np.testing.assert_array_equal(out._data, expected)
    layer.return_indices = True
    _, indices = layer(cr.tensor(x))
    np.testing.assert_array_equal(indices._data, expected_indices)
    layer.return_indices = False
    assert gradcheck(layer, (cr.tensor(x, dtype=cr.float64, requires_grad=True),))


def test_adaptive_max_pool_ties_go_to_the_first_maximum_and_shared_maxima_sum_gradients():
    """Small integers tie in most windows: the value, index and gradient follow the first
    maximum in window order; 3 windows over 4 elements share elements, whose gradients add."""
    x = np.random.default_rng(0).integers(0, 3, (2, 3, 4, 7)).astype(np.float64)
    t = cr.tensor(x, requires_grad=True)
    out, indices = F.adaptive_max_pool2d(t, (3, 5), return_indices=True)
    expected, expected_indices = adaptive_max_pool_reference(x, 2, (3, 5))
    np.testing.assert_array_equal(out._data, expected)
    np.testing.assert_array_equal(indices._data, expected_indices)
    g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(g)
    routed = np.zeros((6, 28))
    for r, (row, at) in enumerate(zip(g.reshape(6, -1), expected_indices.reshape(6, -1))):
        for gi, i in zip(row, at):
            routed[r, i] += gi
    np.testing.assert_allclose(t.grad._data, routed.reshape(x.shape), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "pool, expected",
    [
        (lambda x: F.max_pool1d(x, 5, return_indices=True), [2]),
        (lambda x: F.max_pool1d(x, 3, 2, 1, return_indices=True), [0, 2, 3]),  # windows -1..1, 1..3, 3..5
        (lambda x: F.adaptive_max_pool1d(x, 2, return_indices=True), [2, 2]),  # windows 0..2, 2..4
        (lambda x: F.max_pool2d(x.reshape(1, 1, 1, 5), (1, 5), return_indices=True), [2]),
    ],
)
def test_a_window_holding_nans_gives_its_last_nan_index_and_gradient(pool, expected):
    """PyTorch's kernels let every nan replace the running maximum, so the last nan wins."""
    x = cr.tensor([[[np.nan, 1.0, np.nan, 3.0, 2.0]]], dtype=cr.float64, requires_grad=True)
    out, indices = pool(x)
    assert indices._data.ravel().tolist() == expected
    np.testing.assert_array_equal(out._data.ravel(), x._data.ravel()[expected])
    out.sum().backward()
    grad = np.zeros(5)
    np.add.at(grad, expected, 1.0)
    np.testing.assert_array_equal(x.grad._data.ravel(), grad)


# ---------------------------------------------------------------------------- max unpooling


@pytest.mark.parametrize(
    "nd, kw",
    [
        (1, dict(kernel_size=2)),
        (2, dict(kernel_size=(2, 3), stride=(2, 3))),
        (2, dict(kernel_size=3, stride=3, padding=1)),
        (3, dict(kernel_size=2)),
    ],
)
def test_unpooling_a_max_pool_keeps_the_maxima_in_place(nd, kw):
    x = cr.tensor(distinct(lambda s: 4, (2, 3, *(6,) * nd)), requires_grad=True)
    pool, unpool = [getattr(nn, f"{name}{nd}d")(**kw) for name in ("MaxPool", "MaxUnpool")]
    pool.return_indices = True
    out, indices = pool(x)
    restored = unpool(out, indices, output_size=x.shape)
    assert restored.shape == x.shape
    kept = restored._data != 0
    np.testing.assert_array_equal(restored._data[kept], x._data[kept])
    assert kept.sum() == out.numel()  # tiled windows: every maximum lands on its own place
    restored.sum().backward()
    np.testing.assert_array_equal(x.grad._data, kept.astype(np.float64))


def test_max_unpool_writes_in_order_and_the_last_write_gets_the_gradient():
    values = cr.tensor([[[1.0, 2.0, 3.0, 4.0]]], requires_grad=True)
    indices = cr.tensor([[[1, 1, 3, 0]]])
    out = F.max_unpool1d(values, indices, 1, output_size=(4,))
    assert out.tolist() == [[[4.0, 2.0, 0.0, 3.0]]]
    np.testing.assert_array_equal(out._data, max_unpool_reference(values._data, indices._data, (4,)))
    g = np.array([[[10.0, 20.0, 30.0, 40.0]]])
    out.backward(g)
    assert values.grad.tolist() == [[[0.0, 20.0, 40.0, 10.0]]]  # the overwritten 1.0 gets nothing
    assert gradcheck(
        lambda v: F.max_unpool1d(v, indices, 1, output_size=(4,)),
        (cr.tensor(values._data, dtype=cr.float64, requires_grad=True),),
    )


# ---------------------------------------------------------------------------- LPPool


@pytest.mark.parametrize(
    "layer, shape",
    [
        (nn.LPPool1d(2, 3, stride=2), (2, 3, 9)),
        (nn.LPPool2d(3, (2, 3)), (2, 2, 5, 7)),
        (nn.LPPool2d(1.5, 2, ceil_mode=True), (1, 2, 5, 5)),
        (nn.LPPool3d(2, 2), (1, 2, 4, 4, 4)),
    ],
)
def test_lp_pool_is_the_p_norm_of_each_window(layer, shape):
    nd = layer._nd
    x = np.random.default_rng(0).uniform(0.5, 2.0, shape)
    out = layer(cr.tensor(x))
    p = layer.norm_type
    kernel = layer.kernel_size if isinstance(layer.kernel_size, tuple) else (layer.kernel_size,) * nd
    # (sum x^p)^(1/p) = (mean x^p * window size)^(1/p), PyTorch's form: a ceil_mode window cut
    # short averages the elements it has, then scales by the full kernel's size
    means = avg_pool_reference(x**p, nd, layer.kernel_size, layer.stride, 0, layer.ceil_mode)
    np.testing.assert_allclose(out._data, (means * np.prod(kernel)) ** (1 / p), rtol=1e-12)
    if not layer.ceil_mode:
        sums = avg_pool_reference(x**p, nd, layer.kernel_size, layer.stride, divisor_override=1)
        np.testing.assert_allclose(out._data, sums ** (1 / p), rtol=1e-12)
    assert gradcheck(layer, (cr.tensor(x, requires_grad=True),))


def test_lp_pool_with_infinite_p_is_the_max_of_absolute_values():
    x = cr.tensor([[[1.0, -3.0, 2.0, -0.5]]])
    assert nn.LPPool1d(float("inf"), 2)(x).tolist() == [[[3.0, 2.0]]]


# ---------------------------------------------------------------------------- interpolate and Upsample


def test_interpolate_hand_examples():
    x = cr.tensor([[[1.0, 2.0, 4.0]]], dtype=cr.float64)
    assert F.interpolate(x, size=5, mode="linear", align_corners=True).tolist() == [[[1.0, 1.5, 2.0, 3.0, 4.0]]]
    # without align_corners output o reads (o + 0.5) * 3 / 6 - 0.5, clamped at 0
    assert F.interpolate(x, scale_factor=2, mode="linear").tolist() == [[[1.0, 1.25, 1.75, 2.5, 3.5, 4.0]]]
    assert F.interpolate(x, scale_factor=2).tolist() == [[[1.0, 1.0, 2.0, 2.0, 4.0, 4.0]]]
    assert F.interpolate(x, size=2, mode="nearest-exact").tolist() == [[[1.0, 4.0]]]
    assert F.interpolate(x, size=2).tolist() == [[[1.0, 2.0]]]
    assert F.interpolate(x, size=1, mode="area").tolist() == [[[7 / 3]]]
    # bicubic keeps a constant, and at scale 1 is the identity
    ones = cr.ones(1, 1, 3, 4, dtype=cr.float64)
    np.testing.assert_allclose(F.interpolate(ones, size=(7, 5), mode="bicubic")._data, 1.0, rtol=1e-12)
    y = cr.tensor(np.random.default_rng(0).standard_normal((1, 2, 3, 4)))
    np.testing.assert_allclose(F.interpolate(y, size=(3, 4), mode="bicubic")._data, y._data, rtol=1e-12)


def test_antialias_hand_examples():
    """Shrinking 4 -> 1 widens the triangle to 4 inputs: weights 1 - |i - 2 + 0.5| / 4, i.e.
    (5, 7, 7, 5) / 24; 3 -> 2 rows weigh (0.625, 0.375) and (0.375, 0.625); an unchanged axis
    is copied."""
    x = cr.tensor([[[[1.0, 2.0, 3.0, 10.0]]]], dtype=cr.float64)
    assert F.interpolate(x, size=(1, 1), mode="bilinear", antialias=True).tolist() == [[[[3.75]]]]
    y = cr.tensor([[[[1.0, 2.0], [3.0, 10.0], [5.0, 6.0]]]], dtype=cr.float64)
    out = F.interpolate(y, size=(2, 2), mode="bilinear", antialias=True)
    np.testing.assert_allclose(out._data, [[[[1.75, 5.0], [4.25, 7.5]]]], rtol=1e-12)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_an_inf_spreads_as_its_taps_read_it(mode):
    """Small axes resample by matrix products, where 0 * inf would put nan all along the axis:
    an inf must reach only the outputs whose taps read it (0 * inf = nan there, as in PyTorch)."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = np.inf
    out = F.interpolate(cr.tensor(x), scale_factor=2, mode=mode)
    np.testing.assert_array_equal(out._data, interpolate_reference(x, scale_factor=2, mode=mode))
    if mode != "bicubic":  # (whose four taps read row 1 from every row)
        assert np.isfinite(out._data[0, 0, 5]).all()  # the last row reads row 2 only


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_adaptive_avg_pool_keeps_an_inf_in_its_windows():
    """Its per-axis matrix products would put 0 * inf = nan in every window of the axis."""
    x = np.zeros((1, 1, 4, 5))
    x[0, 0, 0, 1] = np.inf
    x[0, 0, 3, 4] = np.nan
    t = cr.tensor(x, requires_grad=True)
    out = F.adaptive_avg_pool2d(t, (3, 2))
    np.testing.assert_array_equal(out._data, interpolate_reference(x, size=(3, 2), mode="area"))
    assert np.isfinite(out._data).sum() == 4  # windows rows [0,2) [1,3) [2,4), cols [0,3) [2,5)
    g = np.ones((1, 1, 3, 2))
    g[0, 0, 1, 0] = np.inf
    out.backward(g)
    spread = np.isinf(t.grad._data[0, 0])
    assert spread[1:3, 0:3].all() and spread.sum() == 6  # the window (rows 1-2, cols 0-2) alone


def test_nearest_rounds_like_pytorch_in_float32():
    """26 -> 22 positions: the exact source of output 11 is 11 * 26 / 22 = 13, which float32
    arithmetic in 2-d rounds to 12.99..., hence 12 (PyTorch's 2-d kernel); 1-d uses the input's
    float64 ratio and gets 13."""
    line = np.arange(26.0)
    assert F.interpolate(cr.tensor(line.reshape(1, 1, 1, 26)), size=(1, 22))._data[0, 0, 0, 11] == 12.0
    assert F.interpolate(cr.tensor(line.reshape(1, 1, 26)), size=22)._data[0, 0, 11] == 13.0


@pytest.mark.parametrize(
    "layer, shape",
    [
        (nn.Upsample(scale_factor=1.5, mode="bilinear"), (2, 2, 3, 4)),
        (nn.Upsample(size=(5, 2), mode="bicubic", align_corners=True), (1, 2, 3, 4)),
        (nn.Upsample(scale_factor=(2, 0.5, 1.5), mode="trilinear"), (1, 2, 2, 4, 2)),
        (nn.Upsample(size=7, mode="nearest-exact"), (2, 3, 4)),
        (nn.UpsamplingNearest2d(scale_factor=2.5), (1, 2, 2, 3)),
        (nn.UpsamplingBilinear2d(size=(4, 5)), (1, 2, 3, 3)),
    ],
)
def test_upsample_layers_match_loops_and_finite_differences(layer, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    out = layer(cr.tensor(x))
    expected = interpolate_reference(x, layer.size, layer.scale_factor, layer.mode, layer.align_corners or False)
    np.testing.assert_allclose(out._data, expected, rtol=1e-12, atol=1e-12)
    assert out._data.dtype == np.float64
    assert layer(cr.tensor(x.astype(np.float32))).dtype == np.float32
    assert gradcheck(layer, (cr.tensor(x, requires_grad=True),))


@pytest.mark.parametrize(
    "op",
    [
        lambda x: F.interpolate(x, scale_factor=1.5, mode="bicubic"),
        lambda x: F.interpolate(x, size=(4, 9), mode="bilinear", align_corners=True),
        lambda x: F.interpolate(x, scale_factor=0.6, mode="nearest"),
        lambda x: F.adaptive_max_pool2d(x, (2, 4)),
        lambda x: F.max_pool3d(x.reshape(1, 3, 2, 3, 4), 2, 1),
        lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2),
    ],
)
def test_resampling_and_picks_differentiate_to_third_order(op):
    """Linear maps (given the picks): squaring the output gives non-vanishing higher derivatives."""
    x = cr.tensor(distinct(lambda s: 3, (1, 3, 4, 6)), dtype=cr.float64, requires_grad=True)
    assert gradgradcheck(first_derivative(lambda x: op(x) ** 2, [x]), (x,))


def test_extra_repr_matches_pytorch():
    assert nn.MaxPool3d(2).extra_repr() == "kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False"
    assert nn.AvgPool3d(3, 2).extra_repr() == "kernel_size=3, stride=2, padding=0"
    assert nn.AdaptiveMaxPool2d((5, None)).extra_repr() == "output_size=(5, None)"
    assert nn.AdaptiveAvgPool3d(2).extra_repr() == "output_size=2"
    assert nn.MaxUnpool2d(2).extra_repr() == "kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)"
    assert nn.MaxUnpool1d(3, 2, 1).extra_repr() == "kernel_size=(3,), stride=(2,), padding=(1,)"
    assert nn.LPPool2d(2, 3).extra_repr() == "norm_type=2, kernel_size=3, stride=None, ceil_mode=False"
    assert nn.Upsample(size=(3, 4), mode="bilinear").extra_repr() == "size=(3, 4), mode='bilinear'"
    assert nn.UpsamplingBilinear2d(scale_factor=2).extra_repr() == "scale_factor=2.0, mode='bilinear'"


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: F.interpolate(cr.zeros(1, 1, 4), size=8, mode="nearest", align_corners=True),
            ValueError,
            "interpolate: align_corners option can only be set with the interpolating modes",
        ),
        (
            lambda: F.interpolate(cr.zeros(1, 1, 4), size=8, mode="bilinear"),
            ValueError,
            "interpolate: mode 'bilinear' needs a 4-d input, got shape (1, 1, 4)",
        ),
        (
            lambda: F.interpolate(cr.zeros(1, 1, 4, 4), size=8, scale_factor=2),
            ValueError,
            "interpolate: pass exactly one of size and scale_factor, got size=8, scale_factor=2",
        ),
        (
            lambda: F.interpolate(cr.zeros(1, 1, 4, 4), size=(8, 8, 8)),
            ValueError,
            "interpolate: the input has 2 spatial dims (4, 4), but size has 3: (8, 8, 8)",
        ),
        (
            lambda: F.interpolate(cr.zeros(1, 1, 4, 4), size=(8, 2.5)),
            TypeError,
            "interpolate: size must be an int or a tuple of ints, got (8, 2.5)",
        ),
        (
            lambda: F.interpolate(cr.zeros(1, 1, 4), scale_factor=0.1),
            ValueError,
            "interpolate: input and output sizes must be positive, got input (4,) and output (0,)",
        ),
        (
            lambda: F.interpolate(cr.zeros(1, 1, 4), size=8, recompute_scale_factor=True),
            ValueError,
            "interpolate: recompute_scale_factor is not meaningful with an explicit size",
        ),
        (
            lambda: F.interpolate(cr.zeros(1, 1, 4, 4), size=8, mode="nearest", antialias=True),
            ValueError,
            "interpolate: antialias=True is restricted to the bilinear and bicubic modes, got 'nearest'",
        ),
        (
            lambda: F.interpolate(cr.zeros(4, 4), size=8),
            ValueError,
            "interpolate: expected a 3-d (N, C, L), 4-d (N, C, H, W) or 5-d (N, C, D, H, W) input, got shape (4, 4)",
        ),
        (
            lambda: nn.Upsample(scale_factor=2, mode="nearest", align_corners=False),
            ValueError,
            "Upsample: align_corners option can only be set with the interpolating modes",
        ),
        (
            lambda: nn.Upsample(scale_factor=2, mode="trilinear")(cr.zeros(1, 1, 4, 4)),
            ValueError,
            "Upsample: mode 'trilinear' needs a 5-d input, got shape (1, 1, 4, 4)",
        ),
        (
            lambda: nn.UpsamplingBilinear2d(size=3)(cr.zeros(1, 1, 4)),
            ValueError,
            "UpsamplingBilinear2d: mode 'bilinear' needs a 4-d input, got shape (1, 1, 4)",
        ),
        (
            lambda: nn.AdaptiveMaxPool2d((2, 2, 2)),
            ValueError,
            "AdaptiveMaxPool2d: output_size must be an int or a tuple of 2 ints or None, got (2, 2, 2)",
        ),
        (
            lambda: F.adaptive_max_pool3d(cr.zeros(1, 4, 4), 2),
            ValueError,
            "adaptive_max_pool3d: expected a 4-d (unbatched) or 5-d (batched) input, got shape (1, 4, 4)",
        ),
        (lambda: nn.MaxPool3d((2, 2)), TypeError, "MaxPool3d: kernel_size must be an int or a tuple of 3 ints"),
        (
            lambda: nn.AvgPool3d(2, padding=2),
            ValueError,
            "AvgPool3d: padding (2, 2, 2) must be at most half the kernel size (2, 2, 2)",
        ),
        (
            lambda: F.max_unpool2d(cr.zeros(1, 1, 2, 2), cr.tensor([[[[0, 1], [2, 16]]]]), 2),
            ValueError,
            "max_unpool2d: index 16 in indices is outside the output plane of size (4, 4) (16 elements)",
        ),
        (
            lambda: F.max_unpool2d(cr.zeros(1, 1, 2, 2), cr.zeros(1, 1, 2, 2), 2),
            TypeError,
            "max_unpool2d: indices must be an integer Tensor (as max_pool2d returns), got float32",
        ),
        (
            lambda: F.max_unpool1d(cr.zeros(1, 1, 2), cr.tensor([[[0]]]), 2),
            ValueError,
            "max_unpool1d: indices must have the input's shape (1, 1, 2), got (1, 1, 1)",
        ),
        (
            lambda: nn.MaxUnpool2d(2)(cr.zeros(1, 1, 2, 2), cr.tensor([[[[0, 1], [2, 3]]]]), output_size=(6, 4)),
            ValueError,
            "max_unpool2d: output_size (6, 4) is invalid: dim 0 must be between 2 and 6 (exclusive), got 6",
        ),
        (lambda: nn.LPPool1d("2", 2), TypeError, "LPPool1d: norm_type must be a finite number"),
    ],
)
def test_errors_say_where_what_and_what_was_expected(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()
