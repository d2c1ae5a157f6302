"""Attention and transformers: scaled_dot_product_attention against the softmax written out in
NumPy (masks, causal, scale, dropout's statistics and gradient), MultiheadAttention against a
NumPy re-implementation from its own weights, the transformer layers against a composition of
chainrule's Linear, LayerNorm and MultiheadAttention, PyTorch's state_dict keys, errors, what
the attention node keeps for backward, and second derivatives through MultiheadAttention."""

import numpy as np
import pytest
from cases_attention import reference

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn import functional as F

RNG = np.random.default_rng(18)


def _t(shape, grad=False):
    return cr.tensor(RNG.standard_normal(shape), dtype=cr.float64, requires_grad=grad)


# ---------------------------------------------------------------------------- scaled_dot_product_attention


@pytest.mark.parametrize(
    "mask_kind, options",
    [
        (None, {}),
        ("bool", {}),
        ("float", {}),
        (None, {"is_causal": True}),
        (None, {"scale": 0.25}),
        ("bool", {"scale": 2.0}),
    ],
)
def test_sdpa_matches_the_softmax_written_out(mask_kind, options):
    q, k, v = _t((2, 3, 4, 5)), _t((2, 3, 6, 5)), _t((2, 3, 6, 2))
    allowed = bias = mask = None
    if mask_kind == "bool":
        allowed = RNG.random((4, 6)) > 0.5
        mask = cr.tensor(allowed)
    elif mask_kind == "float":
        bias = RNG.standard_normal((2, 1, 4, 6))
        mask = cr.tensor(bias)
    if options.get("is_causal"):
        allowed = np.tri(4, 6, dtype=bool)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **options)
    expected = reference(q.numpy(), k.numpy(), v.numpy(), allowed, bias, options.get("scale"))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_sdpa_causal_is_top_left_aligned_and_masked_rows_give_zero():
    q, k, v = _t((6, 3)), _t((4, 3)), _t((4, 2))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
    # query 0 sees key 0 only: its output is value 0; queries 3.. see every key
    np.testing.assert_allclose(out[0], v.numpy()[0], rtol=1e-12)
    np.testing.assert_allclose(out[5], F.scaled_dot_product_attention(q, k, v).numpy()[5], rtol=1e-12)
    allowed = np.ones((6, 4), dtype=bool)
    allowed[2] = False
    q.requires_grad_(True)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=cr.tensor(allowed))
    assert np.all(out.numpy()[2] == 0) and np.isfinite(out.numpy()).all()
    out.sum().backward()
    assert np.all(q.grad.numpy()[2] == 0) and np.isfinite(q.grad.numpy()).all()


def test_sdpa_is_stable_for_huge_scores():
    q, k, v = _t((3, 4)) * 1e4, _t((5, 4)) * 1e4, _t((5, 2))
    out = F.scaled_dot_product_attention(q, k, v).numpy()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, reference(q.numpy(), k.numpy(), v.numpy()), rtol=1e-9)


def test_sdpa_dropout_zeroes_weights_with_probability_p_and_scales_the_rest():
    q, k = _t((4, 50, 8)), _t((4, 60, 8))
    eye = cr.tensor(np.eye(60), dtype=cr.float64)  # value = identity: the output is the weights
    cr.manual_seed(0)
    dropped = F.scaled_dot_product_attention(q, k, eye, dropout_p=0.3).numpy()
    weights = F.scaled_dot_product_attention(q, k, eye).numpy()
    kept = dropped != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02  # 12000 draws: 4 standard deviations is 0.017
    np.testing.assert_allclose(dropped[kept], weights[kept] / 0.7, rtol=1e-12)
    assert np.all(F.scaled_dot_product_attention(q, k, eye, dropout_p=1.0).numpy() == 0)


def test_sdpa_dropout_gradient_uses_the_same_mask():
    q, k, v = _t((2, 3, 4), True), _t((2, 5, 4), True), _t((2, 5, 3), True)

    def fn(q, k, v):
        cr.manual_seed(3)  # the same mask at every evaluation of the finite differences
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)

    assert gradcheck(fn, (q, k, v))


def test_sdpa_keeps_only_the_weights_and_the_dropout_mask_for_backward():
    """Besides its inputs, the node holds the attention weights (N, H, L, S) and, with dropout, a
    boolean mask of that shape: nothing larger, no copy of the scores."""
    q, k, v = _t((2, 3, 7, 4), True), _t((2, 3, 9, 4), True), _t((2, 3, 9, 5), True)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.2)
    held = [a for a in out.grad_fn.arrays if isinstance(a, np.ndarray)]
    inputs = {id(t._data) for t in (q, k, v)}
    extra = [a for a in held if id(a) not in inputs]
    assert sorted((a.shape, a.dtype.kind) for a in extra) == [((2, 3, 7, 9), "b"), ((2, 3, 7, 9), "f")]


def test_sdpa_learned_float_mask_gets_a_gradient():
    q, k, v, bias = _t((2, 3, 4), True), _t((2, 5, 4), True), _t((2, 5, 3), True), _t((3, 5), True)
    assert gradcheck(lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, attn_mask=b), (q, k, v, bias))


@pytest.mark.parametrize("packed", [False, True])
def test_recorded_gradient_equals_the_plain_one(packed):
    """The rule runs on arrays in backward and on tensors under create_graph, where parts of it
    (the softmax's rule, joining the heads) take other paths: both must give one gradient
    (gradgradcheck only checks the recorded one against its own derivative)."""
    from chainrule.ops.attention import packed_self_attention

    def fn(*inputs):
        cr.manual_seed(5)
        if packed:
            return packed_self_attention(inputs[0], 2, inputs[1], dropout_p=0.3)
        return F.scaled_dot_product_attention(*inputs, dropout_p=0.3)

    inputs = [_t((2, 3, 12), True), _t((2, 1, 3, 3), True)] if packed else [_t((2, 3, 4), True) for _ in range(3)]
    g = _t(fn(*inputs).shape)
    plain = cr.autograd.grad(fn(*inputs), inputs, g)
    recorded = cr.autograd.grad(fn(*inputs), inputs, g, create_graph=True)
    for a, b in zip(plain, recorded):
        assert b.requires_grad
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda q, k, v: F.scaled_dot_product_attention(q, k[..., :3], v), ValueError, "same last dim"),
        (lambda q, k, v: F.scaled_dot_product_attention(q, k, v[..., :4, :]), ValueError, "same length"),
        (lambda q, k, v: F.scaled_dot_product_attention(q[0, 0, 0], k, v), ValueError, "at least 2 dims"),
        (
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, cr.ones(3, 5, dtype=cr.bool), is_causal=True),
            ValueError,
            "not both",
        ),
        (
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, cr.ones(4, 5, dtype=cr.bool)),
            ValueError,
            "does not broadcast",
        ),
        (  # a mask may not add batch dims, as in PyTorch
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, cr.ones(4, 2, 3, 3, 5, dtype=cr.bool)),
            ValueError,
            "does not broadcast",
        ),
        (
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, cr.zeros(3, 5, dtype=cr.int64)),
            TypeError,
            "boolean or of query's dtype",
        ),
        (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=1.5), ValueError, "dropout_p"),
        (lambda q, k, v: F.scaled_dot_product_attention(q, k.float(), v), TypeError, "one dtype"),
        (lambda q, k, v: F.scaled_dot_product_attention(q, k[:, :2], v[:, :2], enable_gqa=True), ValueError, "divides"),
    ],
)
def test_sdpa_errors_name_the_function_and_what_was_expected(call, error, words):
    q, k, v = _t((2, 3, 3, 4)), _t((2, 3, 5, 4)), _t((2, 3, 5, 6))
    with pytest.raises(error, match=words):
        call(q, k, v)
    with pytest.raises(error, match="scaled_dot_product_attention"):
        call(q, k, v)


# ---------------------------------------------------------------------------- MultiheadAttention


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _mha_reference(mha, query, key, value, key_padding_mask=None, attn_mask=None):
    """Multi-head attention from the layer's own weights, batch first, in NumPy."""
    e, h = mha.embed_dim, mha.num_heads
    d = e // h
    w = mha.in_proj_weight.numpy()
    b = mha.in_proj_bias.numpy()
    q, k, v = (x @ w[i * e : (i + 1) * e].T + b[i * e : (i + 1) * e] for i, x in enumerate((query, key, value)))
    split = lambda x: x.reshape(x.shape[0], x.shape[1], h, d).transpose(0, 2, 1, 3)
    scores = split(q) @ split(k).transpose(0, 1, 3, 2) / np.sqrt(d)
    if attn_mask is not None:
        scores = np.where(attn_mask, -np.inf, scores)
    if key_padding_mask is not None:
        scores = np.where(key_padding_mask[:, None, None, :], -np.inf, scores)
    weights = _softmax(scores)
    out = (weights @ split(v)).transpose(0, 2, 1, 3).reshape(query.shape[0], query.shape[1], e)
    return out @ mha.out_proj.weight.numpy().T + mha.out_proj.bias.numpy(), weights


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_matches_numpy_from_its_weights(need_weights, batch_first):
    cr.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=batch_first, dtype=cr.float64)
    for p in mha.parameters():  # nonzero biases too
        p._data[...] = RNG.standard_normal(p.shape) * 0.5
    query, key, value = RNG.standard_normal((3, 4, 8)), RNG.standard_normal((3, 5, 8)), RNG.standard_normal((3, 5, 8))
    padding = np.zeros((3, 5), dtype=bool)
    padding[1, 3:] = True
    pairs = RNG.random((4, 5)) < 0.3
    pairs[:, 0] = False
    expected, weights = _mha_reference(mha, query, key, value, padding, pairs)
    layout = (lambda a: a) if batch_first else (lambda a: a.transpose(1, 0, 2))
    out, got_weights = mha(
        *(cr.tensor(layout(a)) for a in (query, key, value)),
        key_padding_mask=cr.tensor(padding),
        attn_mask=cr.tensor(pairs),
        need_weights=need_weights,
    )
    np.testing.assert_allclose(out.numpy(), layout(expected), rtol=1e-10, atol=1e-12)
    if need_weights:
        np.testing.assert_allclose(got_weights.numpy(), weights.mean(1), rtol=1e-10, atol=1e-12)
    else:
        assert got_weights is None


def test_multihead_attention_unbatched_and_per_head_weights():
    mha = nn.MultiheadAttention(6, 3, dtype=cr.float64)
    x = _t((4, 6))
    out, weights = mha(x, x, x, average_attn_weights=False)
    batched, batched_weights = mha(x.unsqueeze(1), x.unsqueeze(1), x.unsqueeze(1), average_attn_weights=False)
    assert out.shape == (4, 6) and weights.shape == (3, 4, 4)
    np.testing.assert_allclose(out.numpy(), batched.numpy()[:, 0], rtol=1e-12)
    np.testing.assert_allclose(weights.numpy(), batched_weights.numpy()[0], rtol=1e-12)
    np.testing.assert_allclose(weights.numpy().sum(-1), 1, rtol=1e-12)


def test_multihead_attention_parameters_and_initialisation_are_pytorchs():
    mha = nn.MultiheadAttention(8, 2)
    assert list(mha.state_dict()) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert mha.in_proj_weight.shape == (24, 8)
    assert not mha.in_proj_bias.numpy().any() and not mha.out_proj.bias.numpy().any()
    bound = np.sqrt(6 / (8 + 24))  # xavier_uniform_ over (3E, E)
    assert np.abs(mha.in_proj_weight.numpy()).max() <= bound and np.abs(mha.in_proj_weight.numpy()).max() > bound / 2
    separate = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False, add_bias_kv=True)
    assert {k: tuple(v.shape) for k, v in separate.state_dict().items()} == {
        "q_proj_weight": (8, 8),
        "k_proj_weight": (8, 3),
        "v_proj_weight": (8, 5),
        "bias_k": (1, 1, 8),
        "bias_v": (1, 1, 8),
        "out_proj.weight": (8, 8),
    }
    assert separate.in_proj_weight is None and separate.in_proj_bias is None


def test_multihead_attention_fully_masked_query_follows_pytorchs_two_paths():
    """need_weights=True: the explicit softmax gives nan, as PyTorch's; need_weights=False: the
    fused attention gives 0 before the output projection (so its bias), as PyTorch's SDPA path."""
    mha = nn.MultiheadAttention(4, 2, dtype=cr.float64)
    mha.out_proj.bias._data[...] = [1.0, 2.0, 3.0, 4.0]
    x = _t((3, 2, 4))
    padding = cr.tensor(np.array([[False, False, False], [True, True, True]]))
    with np.errstate(invalid="ignore"):  # the softmax of a row of -inf: nan
        out, _ = mha(x, x, x, key_padding_mask=padding)
    assert np.isnan(out.numpy()[:, 1]).all() and np.isfinite(out.numpy()[:, 0]).all()
    out, _ = mha(x, x, x, key_padding_mask=padding, need_weights=False)
    np.testing.assert_array_equal(out.numpy()[:, 1], np.tile([1.0, 2.0, 3.0, 4.0], (3, 1)))


def test_multihead_attention_dropout_only_in_training():
    mha = nn.MultiheadAttention(4, 2, dropout=0.5, dtype=cr.float64)
    x = _t((3, 2, 4))
    _, train_weights = mha(x, x, x, average_attn_weights=False)
    assert (train_weights.numpy() == 0).mean() > 0.2
    mha.eval()
    _, eval_weights = mha(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(eval_weights.numpy().sum(-1), 1, rtol=1e-12)


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_second_derivatives(need_weights):
    cr.manual_seed(1)
    mha = nn.MultiheadAttention(4, 2, dtype=cr.float64)
    query, memory = _t((2, 1, 4), True), _t((3, 1, 4), True)
    mask = cr.tensor(np.array([[False, True, False], [False, False, True]]))
    weights = tuple(mha.parameters())

    def fn(q, m, *params):
        return mha(q, m, m, attn_mask=mask, need_weights=need_weights)[0]

    assert gradgradcheck(fn, (query, memory, *weights))


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: nn.MultiheadAttention(10, 3), "divisible by num_heads"),
        (lambda: nn.MultiheadAttention(8, 0), "num_heads"),
        (lambda: nn.MultiheadAttention(8, 2, dropout=2.0), "dropout"),
    ],
)
def test_multihead_attention_construction_errors(build, words):
    with pytest.raises(ValueError, match=words):
        build()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"attn_mask": np.zeros((4, 4), dtype=bool)}, r"attn_mask has shape \(4, 4\), expected \(3, 5\)"),
        ({"attn_mask": np.zeros((3, 3, 5), dtype=bool)}, r"\(4, 3, 5\) \(N \* num_heads, L, S\)"),
        ({"key_padding_mask": np.zeros((5, 2), dtype=bool)}, r"key_padding_mask has shape \(5, 2\), expected \(2, 5\)"),
        ({"attn_mask": np.zeros((3, 5), dtype=np.int64)}, "boolean"),
        ({"is_causal": True}, "is_causal=True"),
    ],
)
def test_multihead_attention_mask_errors_name_the_layer(kwargs, words):
    mha = nn.MultiheadAttention(8, 2, dtype=cr.float64)
    q, kv = _t((3, 2, 8)), _t((5, 2, 8))
    kwargs = {k: cr.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    with pytest.raises((ValueError, TypeError), match=words) as info:
        mha(q, kv, kv, **kwargs)
    assert "MultiheadAttention(embed_dim=8, num_heads=2)" in str(info.value)


def test_multihead_attention_input_errors():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    with pytest.raises(ValueError, match="query has 6 features"):
        mha(cr.randn(2, 3, 6), cr.randn(2, 3, 8), cr.randn(2, 3, 8))
    with pytest.raises(ValueError, match="different batch sizes"):
        mha(cr.randn(2, 3, 8), cr.randn(4, 3, 8), cr.randn(4, 3, 8))
    with pytest.raises(ValueError, match="query must be 3-d"):
        mha(cr.randn(8), cr.randn(8), cr.randn(8))
    with pytest.raises(TypeError, match="query must be a Tensor"):
        mha(np.zeros((2, 3, 8)), cr.randn(2, 3, 8), cr.randn(2, 3, 8))


# ---------------------------------------------------------------------------- transformer layers


def _layer(cls, norm_first, activation="relu", **options):
    cr.manual_seed(2)
    layer = cls(
        8,
        2,
        dim_feedforward=16,
        dropout=0.0,
        activation=activation,
        norm_first=norm_first,
        batch_first=True,
        dtype=cr.float64,
        **options,
    )
    for p in layer.parameters():
        p._data[...] = RNG.standard_normal(p.shape) * 0.3
    return layer


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_is_its_blocks_composed(norm_first, activation):
    layer = _layer(nn.TransformerEncoderLayer, norm_first, activation)
    x = _t((2, 5, 8))
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=cr.float64)
    act = F.relu if activation == "relu" else F.gelu

    def attend(y):
        return layer.self_attn(y, y, y, attn_mask=mask)[0]

    def feed_forward(y):
        return layer.linear2(act(layer.linear1(y)))

    if norm_first:
        y = x + attend(layer.norm1(x))
        expected = y + feed_forward(layer.norm2(y))
    else:
        y = layer.norm1(x + attend(x))
        expected = layer.norm2(y + feed_forward(y))
    np.testing.assert_allclose(layer(x, src_mask=mask).numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_is_its_blocks_composed(norm_first):
    layer = _layer(nn.TransformerDecoderLayer, norm_first)
    tgt, memory = _t((2, 4, 8)), _t((2, 6, 8))
    padding = cr.tensor(np.array([[False] * 6, [False] * 4 + [True] * 2]))

    def attend(y):
        return layer.self_attn(y, y, y)[0]

    def cross(y):
        return layer.multihead_attn(y, memory, memory, key_padding_mask=padding)[0]

    def feed_forward(y):
        return layer.linear2(F.relu(layer.linear1(y)))

    if norm_first:
        y = tgt + attend(layer.norm1(tgt))
        y = y + cross(layer.norm2(y))
        expected = y + feed_forward(layer.norm3(y))
    else:
        y = layer.norm1(tgt + attend(tgt))
        y = layer.norm2(y + cross(y))
        expected = layer.norm3(y + feed_forward(y))
    got = layer(tgt, memory, memory_key_padding_mask=padding)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


def test_encoder_stacks_independent_copies_and_applies_its_norm():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8))
    first, second = encoder.layers
    assert first is not layer and first.linear1.weight is not second.linear1.weight
    np.testing.assert_array_equal(first.linear1.weight.numpy(), second.linear1.weight.numpy())  # deep copies
    first.linear1.weight._data += 1  # ... that do not share memory
    assert not np.array_equal(first.linear1.weight.numpy(), second.linear1.weight.numpy())
    x = cr.randn(5, 3, 8)
    np.testing.assert_allclose(encoder(x).numpy(), encoder.norm(second(first(x))).numpy(), rtol=1e-6, atol=1e-6)


def test_transformer_state_dict_keys_are_pytorchs():
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)
    keys = list(model.state_dict())
    attention = ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    feed_forward = ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"]
    norms = lambda n: [f"norm{i}.{p}" for i in range(1, n + 1) for p in ("weight", "bias")]
    encoder = [f"encoder.layers.0.self_attn.{k}" for k in attention]
    encoder += [f"encoder.layers.0.{k}" for k in feed_forward + norms(2)] + ["encoder.norm.weight", "encoder.norm.bias"]
    decoder = [f"decoder.layers.0.{a}.{k}" for a in ("self_attn", "multihead_attn") for k in attention]
    decoder += [f"decoder.layers.0.{k}" for k in feed_forward + norms(3)] + ["decoder.norm.weight", "decoder.norm.bias"]
    assert keys == encoder + decoder
    # every matrix re-initialised Xavier uniform, so the copies of a layer differ
    deep = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16)
    layers = deep.encoder.layers
    assert not np.array_equal(layers[0].linear1.weight.numpy(), layers[1].linear1.weight.numpy())
    assert np.abs(layers[0].linear1.weight.numpy()).max() <= np.sqrt(6 / (8 + 16))


def test_transformer_runs_with_masks_and_trains():
    cr.manual_seed(4)
    model = nn.Transformer(
        d_model=8,
        nhead=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        dim_feedforward=16,
        dropout=0.0,
        batch_first=True,
    )
    src, tgt = cr.randn(2, 6, 8), cr.randn(2, 4, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    out = model(src, tgt, tgt_mask=mask)
    assert out.shape == (2, 4, 8)
    # causality: the first target position does not depend on the later ones
    changed = tgt.numpy().copy()
    changed[:, 1:] += 1
    again = model(src, cr.tensor(changed), tgt_mask=mask)
    np.testing.assert_allclose(again.numpy()[:, 0], out.numpy()[:, 0], rtol=1e-5, atol=1e-6)
    (out * out).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_generate_square_subsequent_mask():
    mask = nn.Transformer.generate_square_subsequent_mask(3).numpy()
    np.testing.assert_array_equal(mask, [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    assert mask.dtype == np.float32
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=cr.float64).dtype == np.float64


def test_transformer_errors():
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu' or a callable, got 'tanh'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.TransformerDecoderLayer(8, 3)
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)
    with pytest.raises(ValueError, match="same batch size"):
        model(cr.randn(5, 2, 8), cr.randn(4, 3, 8))
    with pytest.raises(ValueError, match="d_model=8 features"):
        model(cr.randn(5, 2, 6), cr.randn(4, 2, 6))


def test_modules_paths_are_pytorchs():
    assert nn.modules.activation.MultiheadAttention is nn.MultiheadAttention
    assert nn.modules.transformer.TransformerEncoderLayer is nn.TransformerEncoderLayer
    assert nn.modules.Transformer is nn.Transformer
