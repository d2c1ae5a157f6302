"""Convolution: the op table for conv1d, conv2d, conv_transpose2d and interpolate, and the layers
Conv1d, Conv2d, ConvTranspose2d against nested loops, finite differences and PyTorch's
conventions (parameter names, shapes, initialisation, repr); a tiny CNN learns."""

import math
import re

import numpy as np
import pytest
from cases_conv import conv_reference, conv_transpose_reference, first_derivative

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from chainrule.nn.pooling import MaxPool2d
from chainrule.ops.conv import conv1d, conv2d, conv_transpose2d
from chainrule.ops.resample import interpolate

# ---------------------------------------------------------------------------- the op table


def _ids(cases):
    seen, ids = {}, []
    for case in cases:
        seen[case.name] = seen.get(case.name, 0) + 1
        ids.append(case.name if seen[case.name] == 1 else f"{case.name}-{seen[case.name]}")
    return ids


# ---------------------------------------------------------------------------- ops


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_only_the_needed_gradients_are_computed_and_they_match_the_full_backward():
    x, w, b = _rand(2, 4, 6, 5), _rand(6, 2, 3, 3, seed=1), _rand(6, seed=2)
    g = _rand(2, 6, 3, 3, seed=3)
    full = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in (x, w, b)]
    conv2d(*full, stride=2, padding=1, groups=2).backward(g)
    for k in range(3):
        ts = [cr.tensor(a, dtype=cr.float64, requires_grad=(i == k)) for i, a in enumerate((x, w, b))]
        conv2d(*ts, stride=2, padding=1, groups=2).backward(g)
        np.testing.assert_allclose(ts[k].grad, full[k].grad, rtol=1e-12, atol=1e-12)
        assert all(t.grad is None for i, t in enumerate(ts) if i != k)
    with cr.no_grad():
        assert conv2d(*full, padding=1, groups=2).grad_fn is None


@pytest.mark.parametrize(
    "kw", [{}, {"stride": 2, "padding": 1}, {"stride": (2, 3), "padding": (0, 2), "dilation": (2, 1)},
           {"groups": 2, "stride": 3, "dilation": 2}]
)
def test_conv_transpose2d_is_the_adjoint_of_conv2d(kw):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>, which defines the transposed convolution."""
    x, w = _rand(2, 4, 9, 8), _rand(6, 4 // kw.get("groups", 1), 3, 2, seed=1)
    y = conv2d(cr.tensor(x, dtype=cr.float64), cr.tensor(w, dtype=cr.float64), **kw)
    v = _rand(*y.shape, seed=2)
    # output_padding restores the input rows and columns that the strided windows left over.
    stride, padding, dilation = (np.broadcast_to(kw.get(k, d), 2) for k, d in
                                 (("stride", 1), ("padding", 0), ("dilation", 1)))
    spare = tuple(int((n + 2 * p - d * (k - 1) - 1) % s)
                  for n, p, d, k, s in zip(x.shape[2:], padding, dilation, w.shape[2:], stride))
    back = conv_transpose2d(cr.tensor(v, dtype=cr.float64), cr.tensor(w, dtype=cr.float64),
                            output_padding=spare, **kw)
    assert back.shape == x.shape
    assert np.isclose(np.sum(y._data * v), np.sum(x * back._data), rtol=1e-12)


def test_padding_same_and_valid():
    x, w = cr.tensor(_rand(1, 2, 7, 6)), cr.tensor(_rand(3, 2, 4, 3, seed=1))
    same = conv2d(x, w, padding="same", dilation=(1, 2))
    assert same.shape == (1, 3, 7, 6)
    # PyTorch's rule: the odd element of the total padding d * (k - 1) goes at the end.
    expected = conv_reference(x._data, w._data, padding=[(1, 2), (2, 2)], dilation=(1, 2))
    np.testing.assert_allclose(same._data, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(conv2d(x, w, padding="valid")._data, conv2d(x, w)._data)


def test_conv_of_unbatched_input_equals_the_batched_one():
    x, w = cr.tensor(_rand(3, 8)), cr.tensor(_rand(4, 3, 3, seed=1), requires_grad=True)
    single = conv1d(x, w, padding=1)
    assert single.shape == (4, 8)
    np.testing.assert_allclose(single._data, conv1d(cr.tensor(x._data[None]), w, padding=1)._data[0], rtol=1e-6)
    assert gradcheck(lambda w: conv1d(x, w, padding=1), (w,))


def test_interpolate_nearest():
    x = cr.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], requires_grad=True)
    out = interpolate(x, scale_factor=(1, 2))
    assert out._data.tolist() == [[[[1.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0]]]]
    out.backward(np.arange(8, dtype=np.float32).reshape(1, 1, 2, 4))
    np.testing.assert_array_equal(x.grad, [[[[1.0, 5.0], [9.0, 13.0]]]])
    assert interpolate(x, size=(4, 6)).shape == (1, 1, 4, 6)


@pytest.mark.parametrize(
    "op, shapes",
    [
        (lambda x, w, b: conv2d(x, w, b, stride=2, padding=1, groups=2), [(2, 4, 5, 4), (4, 2, 3, 2), (4,)]),
        (lambda x, w: conv1d(x, w, padding="same", dilation=2), [(3, 5), (2, 3, 3)]),
        (lambda x, w, b: conv_transpose2d(x, w, b, stride=(2, 1), padding=1, output_padding=(1, 0), groups=2),
         [(1, 2, 3, 2), (2, 2, 3, 2), (4,)]),
    ],
)
def test_convolutions_differentiate_to_third_order(op, shapes):
    """A convolution's derivatives are its transpose and its weight gradient, whose derivatives
    are convolutions again: the gradient of a gradient of a gradient is right."""
    xs = [cr.tensor(_rand(*s, seed=i), dtype=cr.float64, requires_grad=True) for i, s in enumerate(shapes)]
    assert gradgradcheck(first_derivative(op, xs), xs)


def test_a_small_cnn_has_second_derivatives_in_its_input_and_parameters():
    cr.manual_seed(0)
    net = nn.Sequential(Conv2d(2, 3, 3, padding=1), nn.Tanh(), MaxPool2d(2), ConvTranspose2d(3, 2, 2, stride=2),
                        nn.Tanh()).double()
    x = cr.tensor(_rand(2, 2, 4, 4), dtype=cr.float64, requires_grad=True)
    assert gradgradcheck(lambda x, *p: net(x), (x, *net.parameters()))


def test_modifying_a_convolutions_input_in_place_raises_at_backward():
    """The weight gradient reads the input's windows saved by the forward: they must still be the input's."""
    x = cr.tensor(_rand(1, 2, 5, 5), requires_grad=True)
    w = cr.tensor(_rand(3, 2, 3, 3, seed=1), requires_grad=True)
    h = x * 1.0
    out = conv2d(h, w)
    h.mul_(2.0)
    with pytest.raises(RuntimeError, match="backward of Conv2d: one of the tensors it saved for backward"):
        out.backward(np.ones(out.shape, dtype=np.float32))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: conv2d(cr.zeros(1, 3, 5, 5), cr.zeros(4, 4, 3, 3)), ValueError,
         "conv2d: input has 3 channels (shape (1, 3, 5, 5)) but weight of shape (4, 4, 3, 3) "
         "with groups=1 expects 4"),
        (lambda: conv2d(cr.zeros(1, 3, 2, 5), cr.zeros(4, 3, 3, 3)), ValueError,
         "conv2d: input of spatial size (2, 5) (padded (2, 5)) is smaller than the kernel's extent (3, 3)"),
        (lambda: conv2d(cr.zeros(1, 3, 5, 5), cr.zeros(4, 3, 3)), ValueError,
         "conv2d: weight must have 4 dims, got shape (4, 3, 3)"),
        (lambda: conv1d(cr.zeros(5), cr.zeros(4, 1, 3)), ValueError,
         "conv1d: expected a 2-d (unbatched) or 3-d (batched) input, got shape (5,)"),
        (lambda: conv2d(cr.zeros(1, 3, 5, 5), cr.zeros(4, 3, 3, 3), cr.zeros(3)), ValueError,
         "conv2d: bias must have shape (4,), got (3,)"),
        (lambda: conv2d(cr.zeros(1, 3, 5, 5), cr.zeros(4, 3, 3, 3), stride=2, padding="same"), ValueError,
         "conv2d: padding='same' needs stride 1, got stride (2, 2)"),
        (lambda: conv2d(cr.zeros(1, 3, 5, 5), cr.zeros(4, 3, 3, 3), stride=(1, 0)), ValueError,
         "conv2d: stride must be at least 1, got (1, 0)"),
        (lambda: conv2d(cr.zeros(1, 3, 5, 5), cr.zeros(4, 3, 3, 3), padding=(1, 2, 3)), TypeError,
         "conv2d: padding must be an int or a tuple of 2 ints, got (1, 2, 3)"),
        (lambda: conv2d(cr.zeros(1, 3, 5, 5, dtype=cr.int64), cr.zeros(4, 3, 3, 3)), TypeError,
         "conv2d: expected floating input and weight, got int64 and float32"),
        (lambda: conv_transpose2d(cr.zeros(1, 3, 5, 5), cr.zeros(3, 2, 3, 3), stride=2, output_padding=2),
         ValueError, "conv_transpose2d: output_padding (2, 2) must be smaller than stride (2, 2) or "),
        (lambda: conv_transpose2d(cr.zeros(1, 2, 5, 5), cr.zeros(3, 2, 3, 3)), ValueError,
         "conv_transpose2d: input has 2 channels (shape (1, 2, 5, 5)), but weight of shape (3, 2, 3, 3) "
         "expects 3"),
        (lambda: interpolate(cr.zeros(1, 1, 3), scale_factor=-1.5), ValueError,
         "interpolate: scale_factor must be positive and finite, got -1.5"),
        (lambda: interpolate(cr.zeros(1, 1, 3), size=5, scale_factor=2), ValueError,
         "interpolate: pass exactly one of size and scale_factor, got size=5, scale_factor=2"),
        (lambda: interpolate(cr.zeros(1, 1, 3), scale_factor=2, mode="cubic"), ValueError,
         "interpolate: mode must be one of 'nearest', 'linear', 'bilinear', 'bicubic', 'trilinear', 'area', "
         "'nearest-exact', got 'cubic'"),
    ],
)
def test_op_errors_say_what_was_received_and_expected(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


# ---------------------------------------------------------------------------- layers


def _reference_of(layer, x):
    w = layer.weight._data.astype(np.float64)
    b = None if layer.bias is None else layer.bias._data.astype(np.float64)
    if isinstance(layer, ConvTranspose2d):
        return conv_transpose_reference(x, w, b, layer.stride, layer.padding, layer.output_padding,
                                        layer.groups, layer.dilation)
    padding = layer.padding
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(layer.kernel_size, layer.dilation)]
        padding = [(t // 2, t - t // 2) for t in totals]
    return conv_reference(x, w, b, layer.stride, padding, layer.dilation, layer.groups)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: Conv1d(3, 4, 3), (2, 3, 9)),
        (lambda: Conv1d(4, 6, 4, stride=2, padding=2, dilation=2, groups=2, bias=False), (2, 4, 11)),
        (lambda: Conv1d(2, 3, 4, padding="same"), (2, 2, 7)),
        (lambda: Conv2d(3, 4, 3), (2, 3, 6, 7)),
        (lambda: Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
         (2, 4, 7, 6)),
        (lambda: Conv2d(2, 3, 3, padding="same", dilation=2, bias=False), (1, 2, 5, 6)),
        # more filters than window values: sample-major window matrices (ops.conv._channel_major)
        (lambda: Conv2d(1, 6, 2), (2, 1, 5, 4)),
        (lambda: Conv1d(2, 8, 1, groups=2), (3, 2, 5)),
        (lambda: ConvTranspose2d(3, 4, 3), (2, 3, 4, 3)),
        (lambda: ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                 groups=2), (2, 4, 3, 4)),
        (lambda: ConvTranspose2d(2, 2, 2, stride=2, dilation=3, output_padding=(0, 2), bias=False),
         (1, 2, 3, 3)),
    ],
)
def test_layers_match_nested_loops(make, shape):
    cr.manual_seed(0)
    layer = make()
    x = _rand(*shape)
    out = layer(cr.tensor(x.astype(np.float32)))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out._data, _reference_of(layer, x), rtol=1e-4, atol=1e-5)
    single = layer(cr.tensor(x[0].astype(np.float32)))  # an unbatched sample gives that sample's output
    np.testing.assert_allclose(single._data, out._data[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: Conv1d(2, 3, 3, stride=2, padding=1), (2, 2, 7)),
        (lambda: Conv2d(2, 4, (2, 3), padding=1, dilation=(2, 1), groups=2), (1, 2, 5, 4)),
        (lambda: Conv2d(1, 2, 3, stride=2, padding="valid"), (2, 1, 5, 5)),
        (lambda: Conv2d(1, 5, 2, padding=1), (2, 1, 3, 4)),
        (lambda: Conv1d(4, 6, 2, groups=2), (2, 4, 5)),
        (lambda: ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1), (1, 2, 3, 3)),
        (lambda: ConvTranspose2d(4, 2, 2, groups=2, dilation=2, bias=False), (1, 4, 2, 3)),
    ],
)
def test_layer_gradients_match_finite_differences(make, shape):
    cr.manual_seed(0)
    layer = make().double()
    x = cr.tensor(_rand(*shape), dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda x, *p: layer(x), (x, *layer.parameters()))


def test_parameter_names_and_shapes_follow_pytorch():
    def shapes(layer):
        return [(name, p.shape) for name, p in layer.named_parameters()]

    assert shapes(Conv2d(3, 16, 5)) == [("weight", (16, 3, 5, 5)), ("bias", (16,))]
    assert shapes(Conv1d(4, 6, 3, groups=2)) == [("weight", (6, 2, 3)), ("bias", (6,))]
    assert shapes(ConvTranspose2d(4, 6, (2, 3), groups=2)) == [("weight", (4, 3, 2, 3)), ("bias", (6,))]
    no_bias = Conv2d(3, 8, 3, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]
    assert Conv2d(3, 8, 3).weight.dtype == np.float32
    assert Conv2d(3, 8, 3, dtype=cr.float64).bias.dtype == np.float64
    layer = Conv2d(2, 4, (3, 1), stride=2, padding=1)
    settings = (layer.kernel_size, layer.stride, layer.padding, layer.dilation)
    assert settings == ((3, 1), (2, 2), (1, 1), (1, 1))


@pytest.mark.parametrize(
    "make, fan_in",
    [
        (lambda: Conv2d(8, 64, 3), 8 * 9),
        (lambda: Conv1d(6, 96, 5, groups=3), 2 * 5),
        # PyTorch computes a transposed conv's fan_in from weight.shape[1] = out_channels / groups.
        (lambda: ConvTranspose2d(16, 64, 3), 64 * 9),
        (lambda: ConvTranspose2d(64, 16, 3, groups=2), 8 * 9),
    ],
)
def test_default_init_is_uniform_within_one_over_sqrt_fan_in(make, fan_in):
    cr.manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        largest = np.abs(p._data).max()
        assert largest <= bound
        assert largest > 0.8 * bound  # with dozens of draws, a narrower range would show


def test_extra_repr_matches_pytorch():
    assert Conv2d(1, 16, 3).extra_repr() == "1, 16, kernel_size=(3, 3), stride=(1, 1)"
    assert (Conv2d(4, 8, 3, stride=2, padding=1, dilation=2, groups=2, bias=False).extra_repr()
            == "4, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), groups=2, "
               "bias=False")
    assert (ConvTranspose2d(16, 8, 2, stride=2, output_padding=1).extra_repr()
            == "16, 8, kernel_size=(2, 2), stride=(2, 2), output_padding=(1, 1)")
    assert Conv1d(2, 4, 3, padding="same").extra_repr() == "2, 4, kernel_size=(3,), stride=(1,), padding=same"


def test_conv_transpose_output_size_picks_the_output_padding():
    layer = ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = cr.zeros(1, 2, 4, 4)
    assert layer(x).shape == (1, 3, 7, 7)
    assert layer(x, output_size=(8, 7)).shape == (1, 3, 8, 7)
    assert layer(x, output_size=(1, 3, 8, 8)).shape == (1, 3, 8, 8)
    with pytest.raises(ValueError, match=re.escape("dim 0 must lie in [7, 8]")):
        layer(x, output_size=(9, 7))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: Conv2d(3, 16, 3)(cr.zeros(8, 1, 28, 28)), ValueError,
         "Conv2d(3 -> 16, kernel 3x3): input has 1 channels (shape (8, 1, 28, 28)), expected 3"),
        (lambda: Conv2d(3, 16, 3)(cr.zeros(28, 28)), ValueError,
         "Conv2d(3 -> 16, kernel 3x3): expected a 3-d (unbatched) or 4-d (batched) input, "
         "got shape (28, 28)"),
        (lambda: Conv1d(2, 4, 5)(cr.zeros(3, 10)), ValueError,
         "Conv1d(2 -> 4, kernel 5): input has 3 channels (shape (3, 10)), expected 2"),
        (lambda: ConvTranspose2d(4, 2, (2, 3))(cr.zeros(1, 2, 5, 5)), ValueError,
         "ConvTranspose2d(4 -> 2, kernel 2x3): input has 2 channels (shape (1, 2, 5, 5)), expected 4"),
        (lambda: Conv2d(3, 16, 5)(cr.zeros(1, 3, 4, 4)), ValueError,
         "conv2d: input of spatial size (4, 4) (padded (4, 4)) is smaller than the kernel's extent (5, 5)"),
        (lambda: Conv2d(3, 16, 3, groups=2), ValueError,
         "Conv2d: in_channels (3) and out_channels (16) must both be divisible by groups (2)"),
        (lambda: Conv2d(0, 16, 3), ValueError, "Conv2d: in_channels must be an integer >= 1, got 0"),
        (lambda: Conv2d(3, 16, 3, stride=2, padding="same"), ValueError,
         "Conv2d: padding='same' needs stride 1, got stride (2, 2)"),
        (lambda: Conv2d(3, 16, 3, padding="full"), ValueError,
         "Conv2d: padding must be an int, a tuple of ints, 'valid' or 'same', got 'full'"),
        (lambda: ConvTranspose2d(3, 16, 3, padding="same"), ValueError,
         "ConvTranspose2d: padding must be an int or a tuple of ints, got 'same'"),
        (lambda: ConvTranspose2d(3, 16, 3, padding_mode="reflect"), ValueError,
         "ConvTranspose2d: only padding_mode='zeros' is supported (as PyTorch), got 'reflect'"),
        (lambda: Conv2d(3, 16, 3, padding_mode="mirror"), ValueError, "Conv2d: padding_mode must be one of"),
        (lambda: Conv2d(3, 16, (3, 3, 3)), TypeError,
         "Conv2d: kernel_size must be an int or a tuple of 2 ints, got (3, 3, 3)"),
    ],
)
def test_layer_errors_say_where_what_and_what_was_expected(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_a_tiny_cnn_learns():
    """conv -> relu -> maxpool -> flatten -> linear, trained by hand-written SGD, separates
    images with a vertical bar from images with a horizontal one."""
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    n = 32
    labels = rng.integers(0, 2, n)
    images = rng.normal(0, 0.3, (n, 1, 8, 8))
    where = rng.integers(1, 7, n)
    for i in range(n):
        if labels[i]:
            images[i, 0, :, where[i]] += 1.0
        else:
            images[i, 0, where[i], :] += 1.0
    x = cr.tensor(images.astype(np.float32))
    onehot = cr.tensor(np.eye(2, dtype=np.float32)[labels])
    net = nn.Sequential(
        Conv2d(1, 4, 3, padding=1), nn.ReLU(), MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 2)
    )
    losses = []
    for _ in range(60):
        loss = -(cr.log_softmax(net(x), dim=1) * onehot).sum(dim=1).mean()
        net.zero_grad()
        loss.backward()
        for p in net.parameters():
            p.data -= 0.2 * p.grad
        losses.append(float(loss._data))
    assert losses[-1] < 0.25 * losses[0]
    accuracy = (net(x)._data.argmax(axis=1) == labels).mean()
    assert accuracy >= 0.9


# ---------------------------------------------------------------------------- fast paths


def _strided_input_grad(g, w, dilation, groups):
    """The general col2im (one strided add per kernel offset), written out for stride 1."""
    n, f, *out = g.shape
    cg, kernel = w.shape[1], w.shape[2:]
    frame = [o + d * (k - 1) for o, d, k in zip(out, dilation, kernel)]
    cols = w.reshape(groups, f // groups, -1).swapaxes(1, 2) @ g.swapaxes(0, 1).reshape(groups, f // groups, -1)
    cols = cols.reshape(groups * cg, *kernel, n, *out)
    gx = np.zeros((groups * cg, n, *frame))
    for offsets in np.ndindex(*kernel):
        region = tuple(slice(k * d, k * d + o) for k, d, o in zip(offsets, dilation, out))
        gx[(slice(None), slice(None), *region)] += cols[(slice(None), *offsets)]
    return gx.swapaxes(0, 1)


@pytest.mark.parametrize("out, kernel, dilation, groups", [
    ((5,), (3,), (1,), 1),
    ((4, 6), (3, 2), (1, 2), 2),
    ((3, 3, 2), (2, 2, 3), (2, 1, 1), 1),
    ((1, 1), (1, 1), (1, 1), 3),
])
def test_unit_stride_input_gradient_matches_the_strided_col2im(out, kernel, dilation, groups):
    from chainrule.ops.conv import _input_grad

    rng = np.random.default_rng(0)
    g = rng.standard_normal((2, 2 * groups, *out))
    w = rng.standard_normal((2 * groups, 3, *kernel))
    fast = _input_grad(g, w, (1,) * len(out), dilation, groups)
    np.testing.assert_allclose(fast, _strided_input_grad(g, w, dilation, groups), rtol=1e-12, atol=1e-12)


def test_weight_gradient_is_the_same_in_either_product_orientation():
    from chainrule.ops.conv import _weight_grad

    rng = np.random.default_rng(1)
    g = rng.standard_normal((3, 4, 7))  # (N, F, P)
    for ck in (2, 9):  # fewer and more window rows than filters: both orientations run
        cols = rng.standard_normal((3, 1, ck, 7))
        expected = np.einsum("nfp,nkp->fk", g, cols[:, 0]).reshape(4, ck, 1)
        np.testing.assert_allclose(_weight_grad(g, cols, (4, ck, 1), 1), expected, rtol=1e-12)
        # the same windows laid out channel-major: (groups, rows, N * P)
        channel_major = np.ascontiguousarray(cols[:, 0].transpose(1, 0, 2)).reshape(1, ck, 3 * 7)
        np.testing.assert_allclose(_weight_grad(g, channel_major, (4, ck, 1), 1), expected, rtol=1e-12)
    cols = rng.standard_normal((2, 5, 3 * 7))  # two groups of two filters each
    expected = np.einsum("ngfp,gknp->gfk", g.reshape(3, 2, 2, 7), cols.reshape(2, 5, 3, 7)).reshape(4, 5, 1)
    np.testing.assert_allclose(_weight_grad(g, cols, (4, 5, 1), 2), expected, rtol=1e-12)
