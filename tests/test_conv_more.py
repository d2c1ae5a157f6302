"""Issue 18's convolution variants: Conv3d, ConvTranspose1d/3d and the padding modes of every
conv layer against nested loops (np.pad for the modes), Fold/Unfold against loops and as each
other's adjoint, PixelShuffle/PixelUnshuffle as inverses; PyTorch's parameter names, shapes,
initialisation and repr; errors that name the layer or function."""

import math
import re

import numpy as np
import pytest
from cases_conv import conv_reference, conv_transpose_reference
from cases_conv_more import fold_reference, pixel_shuffle_reference, unfold_reference

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck
from chainrule.nn import functional as F


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _t(a, grad=False):
    return cr.tensor(a, dtype=cr.float64, requires_grad=grad)


def _params(layer):
    b = None if layer.bias is None else layer.bias.detach().numpy()
    return layer.weight.detach().numpy(), b


# ---------------------------------------------------------------------------- new layers


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"stride": 2, "padding": 1},
        {"stride": (1, 2, 1), "padding": (0, 1, 2), "dilation": (2, 1, 1), "bias": False},
        {"groups": 2, "padding": "same", "dilation": 2},
    ],
)
def test_conv3d_matches_the_loop(kw):
    cr.manual_seed(0)
    layer = nn.Conv3d(4, 6, (3, 2, 3), dtype=cr.float64, **kw)
    x = _rand(2, 4, 5, 6, 5)
    w, b = _params(layer)
    padding = kw.get("padding", 0)
    if padding == "same":
        totals = [2 * (k - 1) for k in (3, 2, 3)]
        padding = [(t // 2, t - t // 2) for t in totals]
    ref_kw = {k: v for k, v in kw.items() if k != "bias"}
    expected = conv_reference(x, w, b, **dict(ref_kw, padding=padding))
    np.testing.assert_allclose(layer(_t(x)).numpy(), expected, rtol=1e-12, atol=1e-12)
    # unbatched (C, D, H, W) is a batch of one
    np.testing.assert_allclose(layer(_t(x[1])).numpy(), expected[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nd, cls", [(1, nn.ConvTranspose1d), (3, nn.ConvTranspose3d)])
@pytest.mark.parametrize(
    "kw", [{}, {"stride": 2, "padding": 1, "output_padding": 1}, {"groups": 2, "dilation": 2, "bias": False}]
)
def test_conv_transpose_layers_match_the_loop(nd, cls, kw):
    cr.manual_seed(0)
    layer = cls(4, 6, 3 if nd == 1 else (2, 3, 2), dtype=cr.float64, **kw)
    x = _rand(2, 4, *((5,) if nd == 1 else (3, 2, 3)))
    w, b = _params(layer)
    ref_kw = {k: v for k, v in kw.items() if k != "bias"}
    np.testing.assert_allclose(
        layer(_t(x)).numpy(), conv_transpose_reference(x, w, b, **ref_kw), rtol=1e-12, atol=1e-12
    )


def test_conv_transpose1d_is_the_adjoint_of_conv1d_and_output_size_picks_the_output_padding():
    """<conv1d(x, w), y> == <x, conv_transpose1d(y, w)> for the strided, padded, dilated case."""
    x, w = _rand(2, 4, 12), _rand(6, 2, 3, seed=1)
    kw = dict(stride=3, padding=2, dilation=2, groups=2)
    y = F.conv1d(_t(x), _t(w), **kw)
    v = _rand(*y.shape, seed=2)
    # output_padding restores the columns the strided windows left over: 12 = (3 - 1) 3 - 4 + 4 + op + 1
    back = F.conv_transpose1d(_t(v), _t(w), **kw, output_padding=(12 - (y.shape[-1] - 1) * 3 + 4 - 4 - 1))
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(y.numpy() * v), np.sum(x * back.numpy()), rtol=1e-12)
    layer = nn.ConvTranspose1d(4, 2, 3, stride=3, dtype=cr.float64)
    assert layer(_t(_rand(1, 4, 5)), output_size=[17]).shape == (1, 2, 17)
    with pytest.raises(ValueError, match=re.escape("ConvTranspose1d: requested output_size (20,)")):
        layer(_t(_rand(1, 4, 5)), output_size=[20])


@pytest.mark.parametrize(
    "cls, args, weight, bias",
    [
        (nn.Conv3d, (2, 8, 3), (8, 2, 3, 3, 3), (8,)),
        (nn.Conv3d, (4, 8, (1, 2, 3), 1, 0, 1, 2), (8, 2, 1, 2, 3), (8,)),
        (nn.ConvTranspose1d, (2, 8, 3), (2, 8, 3), (8,)),
        (nn.ConvTranspose1d, (4, 8, 5, 1, 0, 0, 2), (4, 4, 5), (8,)),
        (nn.ConvTranspose3d, (6, 4, 2), (6, 4, 2, 2, 2), (4,)),
    ],
)
def test_parameter_shapes_names_and_default_initialisation(cls, args, weight, bias):
    """PyTorch's names (weight, bias), shapes, and bounds: U(+-1/sqrt(fan_in)) for both, with
    fan_in = weight.shape[1] * prod(kernel)."""
    cr.manual_seed(0)
    layer = cls(*args)
    assert list(layer.state_dict()) == ["weight", "bias"]
    assert layer.weight.shape == weight and layer.bias.shape == bias
    bound = 1 / math.sqrt(math.prod(weight[1:]))
    for p in (layer.weight, layer.bias):
        a = p.detach().numpy()
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.5 * bound
    assert list(cls(*args, bias=False).state_dict()) == ["weight"]


def test_reprs_are_pytorchs():
    """PyTorch's text (chainrule's repr adds a parameter count after it)."""
    assert repr(nn.Conv3d(2, 4, 3, padding=(1, 2, 0), padding_mode="circular")).startswith(
        "Conv3d(2, 4, kernel_size=(3, 3, 3), stride=(1, 1, 1), padding=(1, 2, 0), padding_mode=circular)"
    )
    assert repr(nn.ConvTranspose1d(2, 4, 3)).startswith("ConvTranspose1d(2, 4, kernel_size=(3,), stride=(1,))")
    assert repr(nn.Fold((4, 5), 2)) == "Fold(output_size=(4, 5), kernel_size=2, dilation=1, padding=0, stride=1)"
    assert repr(nn.Unfold(2, stride=(1, 2))) == "Unfold(kernel_size=2, dilation=1, padding=0, stride=(1, 2))"
    assert repr(nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"
    assert repr(nn.PixelUnshuffle(3)) == "PixelUnshuffle(downscale_factor=3)"


def test_pytorch_module_paths():
    assert nn.modules.conv.Conv3d is nn.Conv3d and nn.modules.ConvTranspose1d is nn.ConvTranspose1d
    assert nn.modules.fold.Fold is nn.Fold and nn.modules.pixelshuffle.PixelShuffle is nn.PixelShuffle


# ---------------------------------------------------------------------------- padding modes

_NUMPY_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "cls, nd, kw",
    [
        (nn.Conv1d, 1, {"padding": 2}),
        (nn.Conv1d, 1, {"padding": "same", "dilation": 3}),  # total 6 -> (3, 3)
        (nn.Conv2d, 2, {"padding": (1, 2), "stride": 2}),
        (nn.Conv2d, 2, {"kernel_size": (2, 4), "padding": "same"}),  # totals 1, 3 -> (0, 1), (1, 2)
        (nn.Conv3d, 3, {"padding": (1, 0, 2), "groups": 2}),
    ],
)
def test_padding_modes_pad_with_the_mode_then_convolve(mode, cls, nd, kw):
    """PyTorch's rule: np.pad in the mode (edge = replicate, wrap = circular), then a
    convolution without padding; 'same' puts the odd element of d (k - 1) at the end."""
    kw = dict(kw)
    kernel = kw.pop("kernel_size", 3)
    cr.manual_seed(0)
    layer = cls(4, 2, kernel, padding_mode=mode, dtype=cr.float64, **kw)
    x = _rand(2, 4, *(6, 5, 4)[:nd])
    kernels = layer.kernel_size
    if kw["padding"] == "same":
        totals = [kw.get("dilation", 1) * (k - 1) for k in kernels]
        pads = [(t // 2, t - t // 2) for t in totals]
    else:
        pads = [(p, p) for p in layer.padding]
    padded = np.pad(x, [(0, 0), (0, 0), *pads], mode=_NUMPY_MODE[mode])
    w, b = _params(layer)
    ref_kw = {k: v for k, v in kw.items() if k != "padding"}
    expected = conv_reference(padded, w, b, **ref_kw)
    xt = _t(x, grad=True)
    out = layer(xt)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    # unbatched input pads the same way
    np.testing.assert_allclose(layer(_t(x[0])).numpy(), expected[0], rtol=1e-12, atol=1e-12)
    # the input gradient: each padded copy's gradient sent back to the element it copies
    assert gradcheck(lambda t: layer(t), [_t(x[:1, :, ...], grad=True)])


# ---------------------------------------------------------------------------- fold and unfold


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 2},
        {"kernel_size": (2, 3), "stride": (2, 1), "padding": 1},
        {"kernel_size": 3, "dilation": (2, 1), "padding": (2, 0), "stride": 2},
    ],
)
def test_unfold_and_fold_match_the_loops_and_are_adjoint(kw):
    x = _rand(2, 3, 7, 6)
    cols = F.unfold(_t(x), **kw)
    np.testing.assert_allclose(cols.numpy(), unfold_reference(x, **kw), rtol=0, atol=0)
    np.testing.assert_allclose(nn.Unfold(**kw)(_t(x)).numpy(), cols.numpy(), rtol=0, atol=0)
    y = _rand(*cols.shape, seed=1)
    back = F.fold(_t(y), (7, 6), **kw)
    np.testing.assert_allclose(back.numpy(), fold_reference(y, (7, 6), **kw), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(nn.Fold((7, 6), **kw)(_t(y)).numpy(), back.numpy(), rtol=0, atol=0)
    # <unfold(x), y> == <x, fold(y)>
    np.testing.assert_allclose(np.sum(cols.numpy() * y), np.sum(x * back.numpy()), rtol=1e-12)


def test_fold_of_unfold_counts_the_blocks_covering_each_pixel():
    """Hand-worked: 2x2 blocks of a 3x3 image, stride 1: the corners lie in 1 block, the edge
    centres in 2, the middle in 4."""
    x = cr.ones(1, 1, 3, 3)
    assert F.fold(F.unfold(x, 2), (3, 3), 2).tolist() == [[[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]]
    # non-overlapping blocks: fold inverts unfold
    x = _rand(2, 3, 4, 6)
    kw = dict(kernel_size=2, stride=2)
    np.testing.assert_allclose(F.fold(F.unfold(_t(x), **kw), (4, 6), **kw).numpy(), x, rtol=0, atol=0)


def test_a_convolution_is_a_matrix_product_of_unfolded_blocks():
    x, w = _rand(2, 3, 6, 5), _rand(4, 3, 3, 2, seed=1)
    cols = F.unfold(_t(x), (3, 2), padding=1, stride=(1, 2))
    out = (_t(w).reshape(4, -1) @ cols).reshape(2, 4, 6, 3)
    expected = F.conv2d(_t(x), _t(w), padding=1, stride=(1, 2))
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


def test_unbatched_fold_and_unfold_and_gradients_with_float32():
    x = _rand(3, 5, 4).astype(np.float32)
    cols = F.unfold(cr.tensor(x, requires_grad=True), 2)
    assert cols.shape == (12, 12) and cols.dtype == cr.float32
    np.testing.assert_allclose(cols.numpy(), unfold_reference(x.astype(np.float64), 2), rtol=1e-6)
    y = cr.tensor(_rand(12, 12).astype(np.float32), requires_grad=True)
    out = F.fold(y, (5, 4), 2)
    assert out.shape == (3, 5, 4) and out.dtype == cr.float32
    out.sum().backward()
    # the gradient of fold is unfold of the upstream ones: every column entry in the image gets 1
    assert y.grad.dtype == cr.float32 and np.all(y.grad.numpy() == 1)


def test_unfold_of_one_by_one_blocks_owns_its_data():
    """1x1 blocks without padding or stride are a reshape of the input; the result must not
    share the input's memory (writing one would change the other)."""
    x = _t(_rand(2, 3, 2, 2))
    cols = F.unfold(x, 1)
    assert not np.shares_memory(cols.numpy(), x.numpy())
    np.testing.assert_array_equal(cols.numpy(), x.numpy().reshape(2, 3, 4))


# ---------------------------------------------------------------------------- pixel shuffle


def test_pixel_shuffle_and_unshuffle_are_inverse_permutations():
    x = _rand(2, 1, 18, 2, 3)
    up = nn.PixelShuffle(3)(_t(x))
    assert up.shape == (2, 1, 2, 6, 9)
    np.testing.assert_array_equal(up.numpy(), pixel_shuffle_reference(x, 3))
    np.testing.assert_array_equal(nn.PixelUnshuffle(3)(up).numpy(), x)
    # hand-worked: 4 channels of one pixel become one 2x2 block, row by row
    assert F.pixel_shuffle(cr.arange(4.0).reshape(1, 4, 1, 1), 2).tolist() == [[[[0.0, 1.0], [2.0, 3.0]]]]
    assert gradcheck(lambda t: F.pixel_unshuffle(t, 2) * 2, [_t(_rand(3, 4, 2), grad=True)])


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: nn.Conv3d(3, 4, 3)(cr.zeros(1, 2, 5, 5, 5)),
            ValueError,
            "Conv3d(3 -> 4, kernel 3x3x3): input has 2 channels (shape (1, 2, 5, 5, 5)), expected 3",
        ),
        (
            lambda: nn.Conv3d(3, 4, 3)(cr.zeros(3, 5, 5)),
            ValueError,
            "Conv3d(3 -> 4, kernel 3x3x3): expected a 4-d (unbatched) or 5-d (batched) input, got shape (3, 5, 5)",
        ),
        (
            lambda: nn.Conv3d(3, 4, (3, 3)),
            TypeError,
            "Conv3d: kernel_size must be an int or a tuple of 3 ints, got (3, 3)",
        ),
        (
            lambda: nn.ConvTranspose1d(2, 4, 3)(cr.zeros(1, 3, 5)),
            ValueError,
            "ConvTranspose1d(2 -> 4, kernel 3): input has 3 channels (shape (1, 3, 5)), expected 2",
        ),
        (
            lambda: nn.ConvTranspose1d(2, 4, 3, padding_mode="circular"),
            ValueError,
            "ConvTranspose1d: only padding_mode='zeros' is supported (as PyTorch), got 'circular'",
        ),
        (
            lambda: nn.ConvTranspose3d(2, 4, 3, stride=2, output_padding=2)(cr.zeros(1, 2, 3, 3, 3)),
            ValueError,
            "output_padding (2, 2, 2) must be smaller than stride (2, 2, 2) or dilation (1, 1, 1)",
        ),
        (lambda: nn.Conv1d(2, 4, 3, padding_mode="mirror"), ValueError, "Conv1d: padding_mode must be one of"),
        (
            lambda: F.conv3d(cr.zeros(1, 2, 4, 4, 4), cr.zeros(3, 2, 3, 3)),
            ValueError,
            "conv3d: weight must have 5 dims, got shape (3, 2, 3, 3)",
        ),
        (
            lambda: F.conv_transpose1d(cr.zeros(1, 2, 4), cr.zeros(3, 2, 3)),
            ValueError,
            "conv_transpose1d: input has 2 channels (shape (1, 2, 4)), but weight of shape (3, 2, 3) expects 3",
        ),
        (
            lambda: nn.Unfold(2)(cr.zeros(1, 2, 4, 4, 4)),
            ValueError,
            "Unfold: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got shape (1, 2, 4, 4, 4)",
        ),
        (
            lambda: F.unfold(cr.zeros(1, 2, 2, 2), 3),
            ValueError,
            "unfold: input of spatial size (2, 2) with kernel_size=(3, 3), dilation=(1, 1), padding=(0, 0), "
            "stride=(1, 1) has (0, 0) sliding blocks; expected at least one along each dim",
        ),
        (
            lambda: nn.Fold((4, 4), 2)(cr.zeros(1, 8, 8)),
            ValueError,
            "Fold: with output_size=(4, 4), kernel_size=(2, 2), dilation=(1, 1), padding=(0, 0), stride=(1, 1) "
            "there are 3 * 3 sliding blocks, so input's last dim must be 9, got shape (1, 8, 8)",
        ),
        (
            lambda: F.fold(cr.zeros(1, 5, 9), (4, 4), 2),
            ValueError,
            "fold: input's dim 1 (5, shape (1, 5, 9)) must be divisible by the product of kernel_size (2, 2)",
        ),
        (lambda: nn.Fold(4, 2, padding=-1), ValueError, "Fold: padding must be at least 0, got -1"),
        (lambda: nn.Unfold(2)([[1.0]]), TypeError, "Unfold: expected a Tensor input, got list"),
        (
            lambda: nn.PixelShuffle(2)(cr.zeros(1, 5, 2, 2)),
            ValueError,
            "PixelShuffle: the channel dim (dim -3) of an input of shape (1, 5, 2, 2) must be divisible by "
            "upscale_factor^2 = 4, got 5",
        ),
        (
            lambda: nn.PixelShuffle(2)(cr.zeros(4, 2)),
            ValueError,
            "PixelShuffle: expected an input of at least 3 dims (*, C, H, W), got shape (4, 2)",
        ),
        (
            lambda: F.pixel_unshuffle(cr.zeros(1, 1, 4, 5), 2),
            ValueError,
            "pixel_unshuffle: height and width (dims -2, -1) of an input of shape (1, 1, 4, 5) must be divisible",
        ),
        (lambda: nn.PixelUnshuffle(0), ValueError, "PixelUnshuffle: downscale_factor must be an integer >= 1, got 0"),
    ],
)
def test_errors_name_the_layer_and_say_what_was_expected(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()
