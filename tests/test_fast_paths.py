"""Every fused or fast path against the same function composed from plain ops (whose gradients the
engine derives), on every option combination: values and gradients, float32 and float64."""

# ruff: noqa: B023  (each loop's lambdas are called within the iteration that made them)

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

DTYPES = (np.float32, np.float64)
REDUCTIONS = ("none", "mean", "sum")


def _tol(dtype):
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


def _value_and_grads(fn, arrays, seed_grad):
    """fn's value and the gradients of its inputs (all float arrays) for output gradient seed_grad."""
    leaves = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    out.backward(seed_grad(out._data))
    return out._data, [leaf.grad for leaf in leaves]


def _assert_same(fused, composed, dtype, what):
    (fv, fg), (cv, cg) = fused, composed
    assert fv.dtype == cv.dtype == dtype, what
    np.testing.assert_allclose(fv, cv, err_msg=f"value: {what}", **_tol(dtype))
    for a, b in zip(fg, cg):
        np.testing.assert_allclose(a, b, err_msg=f"gradient: {what}", **_tol(dtype))


def _seed(rng):
    return lambda out: rng.standard_normal(out.shape).astype(out.dtype) if out.ndim else np.ones((), out.dtype)


def _reduced(loss, reduction, divisor):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / divisor


# ---------------------------------------------------------------------------- cross-entropy, nll

SHAPES = ((5,), (4, 3), (3, 4, 2))


def _class_setup(shape, rng):
    axis = 0 if len(shape) == 1 else 1
    classes = shape[axis]
    target_shape = shape[:axis] + shape[axis + 1 :]
    return axis, classes, target_shape


def _targets(target_shape, classes, ignore, rng):
    """Class indices that hit every class and, for ignore_index 0, hold some 0s; "all": every
    target is ignore_index 1."""
    if ignore == "all":
        return np.ones(target_shape, np.int64), 1
    t = rng.integers(0, classes, target_shape)
    t.flat[0], t.flat[-1] = 0, 1
    return t, ignore


def _composed_cross_entropy(x, t, weight, ignore_index, reduction, smoothing, axis, classes):
    """The definition: q = (1 - e) w[y] onehot(y) + e/C w, zero where ignored; loss = -sum(q log p);
    "mean" divides by the summed w[y] of the counted targets."""
    valid = t != ignore_index
    w = np.ones(classes) if weight is None else weight
    onehot = np.moveaxis(np.eye(classes)[np.where(valid, t, 0)], -1, axis)
    shape = [classes if i == axis else 1 for i in range(x.ndim)]
    kept_valid = np.expand_dims(valid, axis)
    q = ((1 - smoothing) * onehot * w.reshape(shape) + smoothing / classes * w.reshape(shape)) * kept_valid
    loss = -(F.log_softmax(x, dim=axis) * cr.tensor(q.astype(x.dtype))).sum(dim=axis)
    divisor = (w[np.where(valid, t, 0)] * valid).sum()
    return _reduced(loss, reduction, float(divisor))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_with_class_indices_equals_its_composed_definition_for_every_option(shape, dtype):
    rng = np.random.default_rng(0)
    axis, classes, target_shape = _class_setup(shape, rng)
    x = rng.standard_normal(shape).astype(dtype)
    weights = (None, (rng.random(classes) + 0.5).astype(dtype))
    for reduction, weight, ignore, smoothing in itertools.product(REDUCTIONS, weights, (-100, 0), (0.0, 0.2)):
        t, ignore_index = _targets(target_shape, classes, ignore, rng)
        what = f"{shape} {reduction} weight={weight is not None} ignore_index={ignore_index} e={smoothing}"
        seed = _seed(np.random.default_rng(1))
        w = None if weight is None else cr.tensor(weight)
        fused = _value_and_grads(
            lambda a: F.cross_entropy(
                a, cr.tensor(t), w, ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing
            ),
            [x],
            seed,
        )
        seed = _seed(np.random.default_rng(1))
        composed = _value_and_grads(
            lambda a: _composed_cross_entropy(a, t, weight, ignore_index, reduction, smoothing, axis, classes),
            [x],
            seed,
        )
        _assert_same(fused, composed, dtype, what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_with_probabilities_equals_its_composed_definition(shape, dtype):
    rng = np.random.default_rng(2)
    axis = 0 if len(shape) == 1 else 1
    classes = shape[axis]
    x = rng.standard_normal(shape).astype(dtype)
    p = rng.random(shape)
    p = (p / p.sum(axis=axis, keepdims=True)).astype(dtype)
    kept = [classes if i == axis else 1 for i in range(len(shape))]
    weights = (None, (rng.random(classes) + 0.5).astype(dtype))
    for reduction, weight, smoothing in itertools.product(REDUCTIONS, weights, (0.0, 0.2)):
        what = f"{shape} {reduction} weight={weight is not None} e={smoothing}"
        w = None if weight is None else cr.tensor(weight)

        def composed(a, b, weight=weight, smoothing=smoothing, reduction=reduction):
            q = b * (1 - smoothing) + smoothing / classes
            if weight is not None:
                q = q * cr.tensor(weight.reshape(kept))
            loss = -(F.log_softmax(a, dim=axis) * q).sum(dim=axis)
            return _reduced(loss, reduction, loss._data.size)

        fused = _value_and_grads(
            lambda a, b: F.cross_entropy(a, b, w, reduction=reduction, label_smoothing=smoothing),
            [x, p],
            _seed(np.random.default_rng(3)),
        )
        _assert_same(fused, _value_and_grads(composed, [x, p], _seed(np.random.default_rng(3))), dtype, what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_nll_loss_equals_its_composed_definition_for_every_option(shape, dtype):
    rng = np.random.default_rng(4)
    axis, classes, target_shape = _class_setup(shape, rng)
    x = rng.standard_normal(shape).astype(dtype)
    weights = (None, (rng.random(classes) + 0.5).astype(dtype))
    for reduction, weight, ignore in itertools.product(REDUCTIONS, weights, (-100, 0)):
        t, ignore_index = _targets(target_shape, classes, ignore, rng)
        what = f"{shape} {reduction} weight={weight is not None} ignore_index={ignore_index}"
        w = None if weight is None else cr.tensor(weight)
        valid = t != ignore_index
        wn = np.ones(classes) if weight is None else weight
        onehot = np.moveaxis(np.eye(classes)[np.where(valid, t, 0)], -1, axis)
        q = onehot * wn.reshape([classes if i == axis else 1 for i in range(x.ndim)]) * np.expand_dims(valid, axis)
        divisor = float((wn[np.where(valid, t, 0)] * valid).sum())
        fused = _value_and_grads(
            lambda a: F.nll_loss(a, cr.tensor(t), w, ignore_index=ignore_index, reduction=reduction),
            [x],
            _seed(np.random.default_rng(5)),
        )
        composed = _value_and_grads(
            lambda a: _reduced(-(a * cr.tensor(q.astype(dtype))).sum(dim=axis), reduction, divisor),
            [x],
            _seed(np.random.default_rng(5)),
        )
        _assert_same(fused, composed, dtype, what)


def test_cross_entropy_ignore_index_on_the_two_dimensional_mean_case_matches_pytorch():
    # The example; PyTorch: 1.5514 (the mean of row 2 alone) and no gradient in row 1.
    x = cr.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0]], requires_grad=True)
    for loss_fn in (lambda a, y: F.cross_entropy(a, y, ignore_index=0), nn.CrossEntropyLoss(ignore_index=0)):
        x.grad = None
        loss = loss_fn(x, cr.tensor([0, 1]))
        loss.backward()
        assert loss.item() == pytest.approx(1.551444, abs=1e-6)
        np.testing.assert_array_equal(x.grad[0], [0.0, 0.0, 0.0])
        np.testing.assert_allclose(x.grad[1], [0.5761169, -0.7880584, 0.2119416], atol=1e-6)


@pytest.mark.parametrize("loss_fn", [F.cross_entropy, F.nll_loss])
def test_a_mean_over_only_ignored_targets_is_nan_with_zero_gradient(loss_fn):
    # PyTorch: nan, and the ignored targets get exactly 0 (no nan in the gradient).
    for shape, t in (((2, 3), [1, 1]), ((3,), 1), ((2, 3, 2), [[1, 1], [1, 1]])):
        x = cr.tensor(np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 7, requires_grad=True)
        loss = loss_fn(x, cr.tensor(t), ignore_index=1)
        loss.backward()
        assert np.isnan(loss.item())
        np.testing.assert_array_equal(x.grad, np.zeros(shape, np.float32))


# ---------------------------------------------------------------------------- binary and squared losses


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ((5,), (3, 4), (2, 3, 2)))
def test_binary_and_squared_losses_equal_their_composed_definitions(shape, dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape).astype(dtype)
    p = rng.uniform(0.05, 0.95, shape).astype(dtype)
    y = rng.random(shape).astype(dtype)
    weight = (rng.random(shape[-1]) + 0.5).astype(dtype)
    pos_weight = (rng.random(shape[-1]) + 0.5).astype(dtype)
    for reduction, use_w, use_pos in itertools.product(REDUCTIONS, (False, True), (False, True)):
        what = f"{shape} {reduction} weight={use_w} pos_weight={use_pos}"
        w = cr.tensor(weight) if use_w else None
        pw = cr.tensor(pos_weight) if use_pos else None

        def weighted(loss, use_w=use_w, reduction=reduction):
            loss = loss * cr.tensor(weight) if use_w else loss
            return _reduced(loss, reduction, loss._data.size)

        def logits_composed(a, b, pw=pw):
            log_sig = -F.softplus(-a)
            log_one_minus = -F.softplus(a)
            positive = b * log_sig * (pw if pw is not None else 1.0)
            return weighted(-(positive + (1 - b) * log_one_minus))

        seed = np.random.default_rng(7)
        fused = _value_and_grads(
            lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction=reduction, pos_weight=pw),
            [x, y],
            _seed(seed),
        )
        seed = np.random.default_rng(7)
        _assert_same(fused, _value_and_grads(logits_composed, [x, y], _seed(seed)), dtype, "bce logits " + what)
        if use_pos:
            continue
        seed = np.random.default_rng(8)
        fused = _value_and_grads(lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction), [p, y], _seed(seed))
        seed = np.random.default_rng(8)
        composed = _value_and_grads(
            lambda a, b: weighted(-(b * a.log() + (1 - b) * (1 - a).log())), [p, y], _seed(seed)
        )
        _assert_same(fused, composed, dtype, "bce " + what)
        if use_w:
            continue
        seed = np.random.default_rng(9)
        fused = _value_and_grads(lambda a, b: F.mse_loss(a, b, reduction=reduction), [x, y], _seed(seed))
        seed = np.random.default_rng(9)
        composed = _value_and_grads(lambda a, b: weighted((a - b) * (a - b)), [x, y], _seed(seed))
        _assert_same(fused, composed, dtype, "mse " + what)


# ---------------------------------------------------------------------------- softmax, linear, normalisation


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ((3, 4, 2), (4, 16, 71)))  # (the second takes the long-row path)
def test_softmax_and_log_softmax_equal_exp_over_sum_on_every_dim(shape, dtype):
    rng = np.random.default_rng(10)
    x = rng.standard_normal(shape).astype(dtype)
    for dim in (0, 1, 2, -1, -3):
        seed = np.random.default_rng(11)
        fused = _value_and_grads(lambda a: F.softmax(a, dim), [x], _seed(seed))
        seed = np.random.default_rng(11)
        composed = _value_and_grads(lambda a: a.exp() / a.exp().sum(dim, keepdim=True), [x], _seed(seed))
        _assert_same(fused, composed, dtype, f"softmax dim={dim}")
        seed = np.random.default_rng(11)
        fused = _value_and_grads(lambda a: F.log_softmax(a, dim), [x], _seed(seed))
        seed = np.random.default_rng(11)
        composed = _value_and_grads(lambda a: a - a.exp().sum(dim, keepdim=True).log(), [x], _seed(seed))
        _assert_same(fused, composed, dtype, f"log_softmax dim={dim}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape", ((5, 3), (2, 4, 3), (3,), (70, 1), (1, 3), (0, 3)))
def test_linear_equals_matmul_plus_bias(x_shape, dtype):
    rng = np.random.default_rng(12)
    features = x_shape[-1]
    for out_features in (2, 1, 80):
        x = rng.standard_normal(x_shape).astype(dtype)
        w = rng.standard_normal((out_features, features)).astype(dtype)
        b = rng.standard_normal(out_features).astype(dtype)
        for with_bias in (True, False):
            what = f"x {x_shape} out {out_features} bias={with_bias}"
            seed = np.random.default_rng(13)
            if with_bias:
                fused = _value_and_grads(lambda a, m, c: F.linear(a, m, c), [x, w, b], _seed(seed))
                seed = np.random.default_rng(13)
                composed = _value_and_grads(lambda a, m, c: a @ m.T + c, [x, w, b], _seed(seed))
            else:
                fused = _value_and_grads(lambda a, m: F.linear(a, m), [x, w], _seed(seed))
                seed = np.random.default_rng(13)
                composed = _value_and_grads(lambda a, m: a @ m.T, [x, w], _seed(seed))
            _assert_same(fused, composed, dtype, what)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_and_batch_norm_equal_their_composed_definitions(dtype):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((4, 3, 2)).astype(dtype)
    gamma = rng.standard_normal((3, 2)).astype(dtype)
    beta = rng.standard_normal((3, 2)).astype(dtype)

    def layer_composed(a, g, b):
        centred = a - a.mean((1, 2), keepdim=True)
        return centred / ((centred * centred).mean((1, 2), keepdim=True) + 1e-5).sqrt() * g + b

    seed = np.random.default_rng(15)
    fused = _value_and_grads(lambda a, g, b: F.layer_norm(a, (3, 2), g, b), [x, gamma, beta], _seed(seed))
    seed = np.random.default_rng(15)
    _assert_same(fused, _value_and_grads(layer_composed, [x, gamma, beta], _seed(seed)), dtype, "layer_norm")

    g1 = rng.standard_normal(3).astype(dtype)
    b1 = rng.standard_normal(3).astype(dtype)

    def batch_composed(a, g, b):
        centred = a - a.mean((0, 2), keepdim=True)
        scale = ((centred * centred).mean((0, 2), keepdim=True) + 1e-5).sqrt()
        return centred / scale * g.reshape(1, 3, 1) + b.reshape(1, 3, 1)

    seed = np.random.default_rng(16)
    fused = _value_and_grads(lambda a, g, b: F.batch_norm(a, None, None, g, b, training=True), [x, g1, b1], _seed(seed))
    seed = np.random.default_rng(16)
    _assert_same(fused, _value_and_grads(batch_composed, [x, g1, b1], _seed(seed)), dtype, "batch_norm")


# ---------------------------------------------------------------------------- recurrent layers


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ("tanh", "relu", "lstm", "gru"))
def test_fused_recurrent_layer_equals_its_cell_composed_step_by_step(mode, dtype):
    """The layer runs one fused op per sequence; the cell composes each step from plain ops."""
    cr.manual_seed(3)
    kinds = {"lstm": (nn.LSTM, nn.LSTMCell), "gru": (nn.GRU, nn.GRUCell)}
    extra = {} if mode in kinds else {"nonlinearity": mode}
    layer_type, cell_type = kinds.get(mode, (nn.RNN, nn.RNNCell))
    layer, cell = layer_type(3, 4, **extra), cell_type(3, 4, **extra)
    if dtype == np.float64:
        layer, cell = layer.double(), cell.double()
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})  # drop "_l0"
    x_data = np.random.default_rng(18).standard_normal((5, 2, 3)).astype(dtype)
    seed = np.random.default_rng(19).standard_normal((5, 2, 4)).astype(dtype)

    def run(step_by_step):
        x = cr.tensor(x_data, requires_grad=True)
        if step_by_step:
            state, outs = None, []
            for t in range(5):
                state = cell(x[t], state)
                outs.append(state[0] if mode == "lstm" else state)
            out, module = cr.stack(outs), cell
        else:
            out, module = layer(x)[0], layer
        out.backward(seed)
        return out._data, [x.grad] + [p.grad for p in module.parameters()]

    (fv, fg), (cv, cg) = run(False), run(True)
    _assert_same((fv, fg), (cv, cg), dtype, f"{mode} layer against its cell")


# ---------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("dtype", DTYPES)
def test_pooling_paths_equal_reductions_over_reshaped_windows(dtype):
    """Tiled max pooling (stride = kernel), the general window loop (stride < kernel), average and
    adaptive pooling against amax/mean over explicit windows (no ties in the data)."""
    x = np.random.default_rng(20).permutation(2 * 3 * 6 * 4).reshape(2, 3, 6, 4).astype(dtype) / 7
    windows = lambda a: a.reshape(2, 3, 3, 2, 2, 2)  # 2x2 windows of a 6x4 map
    checks = [
        ("max_pool2d tiled", lambda a: F.max_pool2d(a, 2), lambda a: windows(a).amax((3, 5))),
        ("avg_pool2d", lambda a: F.avg_pool2d(a, 2), lambda a: windows(a).mean((3, 5))),
        ("adaptive_avg_pool2d", lambda a: F.adaptive_avg_pool2d(a, (3, 2)), lambda a: windows(a).mean((3, 5))),
        ("adaptive_avg_pool2d global", lambda a: F.adaptive_avg_pool2d(a, 1), lambda a: a.mean((2, 3), keepdim=True)),
        (
            "max_pool1d overlapping",
            lambda a: F.max_pool1d(a.reshape(2, 3, 24), 3, 1),
            lambda a: cr.stack([a.reshape(2, 3, 24)[..., i : i + 22] for i in range(3)], -1).amax(-1),
        ),
    ]
    for what, fused, composed in checks:
        seed = np.random.default_rng(21)
        got = _value_and_grads(fused, [x], _seed(seed))
        seed = np.random.default_rng(21)
        _assert_same(got, _value_and_grads(composed, [x], _seed(seed)), dtype, what)


# ---------------------------------------------------------------------------- convolution, eval-mode batch norm


def _composed_conv2d(x, w, b, stride, padding, dilation):
    """Cross-correlation from slices, stack and one matrix product (groups=1)."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp_ = cr.pad(x, (pw, pw, ph, ph))
    oh, ow = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = cr.stack(
        [
            xp_[:, :, i * dh : i * dh + (oh - 1) * sh + 1 : sh, j * dw : j * dw + (ow - 1) * sw + 1 : sw]
            for i in range(kh)
            for j in range(kw)
        ],
        -1,
    )  # (N, C, OH, OW, KH*KW)
    cols = cols.permute(0, 2, 3, 1, 4).reshape(n, oh, ow, c * kh * kw)
    out = cols @ w.reshape(f, c * kh * kw).T + b
    return out.permute(0, 3, 1, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride, padding, dilation", [
    ((1, 1), (0, 0), (1, 1)), ((1, 1), (1, 2), (1, 1)), ((2, 1), (1, 0), (1, 1)), ((1, 1), (0, 1), (2, 1)),
    ((2, 2), (1, 1), (2, 2)),
])  # fmt: skip
def test_conv2d_equals_its_composed_definition(stride, padding, dilation, dtype):
    rng = np.random.default_rng(22)
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    seed = np.random.default_rng(23)
    fused = _value_and_grads(lambda a, m, c: F.conv2d(a, m, c, stride, padding, dilation), [x, w, b], _seed(seed))
    seed = np.random.default_rng(23)
    composed = _value_and_grads(
        lambda a, m, c: _composed_conv2d(a, m, c, stride, padding, dilation), [x, w, b], _seed(seed)
    )
    _assert_same(fused, composed, dtype, f"conv2d stride={stride} padding={padding} dilation={dilation}")
    seed = np.random.default_rng(23)
    fused = _value_and_grads(
        lambda a, m, c: F.conv1d(a, m, c, stride[0], padding[0], dilation[0]), [x[:, :, 0], w[..., 0], b], _seed(seed)
    )
    seed = np.random.default_rng(23)
    composed = _value_and_grads(
        lambda a, m, c: _composed_conv2d(
            a.unsqueeze(-1), m.unsqueeze(-1), c, (stride[0], 1), (padding[0], 0), (dilation[0], 1)
        )[..., 0],
        [x[:, :, 0], w[..., 0], b],
        _seed(seed),
    )
    _assert_same(fused, composed, dtype, f"conv1d stride={stride[0]} padding={padding[0]} dilation={dilation[0]}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_in_eval_mode_equals_its_composed_definition(dtype):
    rng = np.random.default_rng(24)
    x = rng.standard_normal((4, 3, 2)).astype(dtype)
    mean, var = rng.standard_normal(3).astype(dtype), (rng.random(3) + 0.5).astype(dtype)
    g1, b1 = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)

    def composed(a, g, b):
        scale = (cr.tensor(var.reshape(1, 3, 1)) + 1e-5).sqrt()
        return (a - cr.tensor(mean.reshape(1, 3, 1))) / scale * g.reshape(1, 3, 1) + b.reshape(1, 3, 1)

    seed = np.random.default_rng(25)
    fused = _value_and_grads(
        lambda a, g, b: F.batch_norm(a, cr.tensor(mean), cr.tensor(var), g, b, training=False), [x, g1, b1], _seed(seed)
    )
    seed = np.random.default_rng(25)
    _assert_same(fused, _value_and_grads(composed, [x, g1, b1], _seed(seed)), dtype, "batch_norm eval")


@pytest.mark.parametrize("dtype", (np.float16, *DTYPES))
@pytest.mark.parametrize("shape", [(3, 4, 64, 64), (2, 33, 65), (5, 9), (70, 67), (4096,), (2, 3, 0, 9), (300, 1)])
def test_last_axis_reductions_equal_numpys_max_and_sum(shape, dtype):
    # (the halving maximum and the product with ones that softmax and attention use on long rows)
    from chainrule.ops.reduce import last_axis_max, last_axis_sum

    rng = np.random.default_rng(0)
    d = rng.standard_normal(shape).astype(dtype)
    if d.size > 200:
        d.flat[[5, 77, 150]] = (np.nan, -np.inf, np.inf)
    for a in (d, d[..., ::2] if d.ndim else d):  # contiguous and strided
        np.testing.assert_array_equal(last_axis_max(a), a.max(axis=-1, keepdims=True))
        finite = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=-1.0)
        total = last_axis_sum(finite)
        assert total.dtype == a.dtype and total.shape == (*a.shape[:-1], 1)
        np.testing.assert_allclose(
            total, finite.sum(axis=-1, keepdims=True), rtol=2e-3 if dtype == np.float16 else 1e-5, atol=1e-3
        )
