"""Attention and transformers: MultiheadAttention over its options and masks, the encoder and
decoder layers and stacks, a small Transformer, and F.scaled_dot_product_attention (through a
parameterless wrapper module). Dropout is 0 or the layer is in eval mode, so both libraries
compute the same numbers."""

import numpy as np
from layers_vs_torch import Case

E, H, L, S, N = 8, 2, 5, 6, 3  # embed_dim, heads, target length, source length, batch
rng = np.random.default_rng(18)
CAUSAL_BOOL = np.triu(np.ones((L, L), dtype=bool), 1)  # True = masked out (PyTorch's layers' convention)
CAUSAL_FLOAT = np.where(CAUSAL_BOOL, -np.inf, 0.0)
PAIR_BOOL = rng.random((L, S)) < 0.3
PAIR_BOOL[:, 0] = False  # every query keeps a key: no row of nan
PAIR_FLOAT = rng.standard_normal((L, S))
HEADS_BOOL = rng.random((N * H, L, S)) < 0.3
HEADS_BOOL[..., 0] = False
PADDING = np.zeros((N, S), dtype=bool)
PADDING[0, -2:] = True
PADDING[2, -1] = True
PADDING_FLOAT = np.where(PADDING, -1e4, rng.standard_normal((N, S)))
SELF_PADDING = PADDING[:, :L]


def _mask(lib, array):
    return lib.from_numpy(np.array(array))


def _mha(
    need_weights=True, average=True, batch_first=False, attn_mask=None, padding=None, causal=False, same_input=False
):
    """A call of MultiheadAttention: query (L, N, E), key and value (S, N, kdim/vdim) laid out as the
    layer expects; ``same_input`` passes one tensor as query, key and value."""

    def call(layer, query, key, value, lib):
        if same_input:
            key = value = query
        kwargs = {"need_weights": need_weights, "average_attn_weights": average, "is_causal": causal}
        if attn_mask is not None:
            kwargs["attn_mask"] = _mask(lib, attn_mask)
        if padding is not None:
            kwargs["key_padding_mask"] = _mask(lib, padding)
        return layer(query, key, value, **kwargs)

    return call


def _shapes(batch_first=False, kdim=E, vdim=E, same_length=False, unbatched=False):
    source = L if same_length else S
    if unbatched:
        return [(L, E), (source, kdim), (source, vdim)]
    if batch_first:
        return [(N, L, E), (N, source, kdim), (N, source, vdim)]
    return [(L, N, E), (source, N, kdim), (source, N, vdim)]


def mha_case(name, build, call, **shape_options):
    return Case(f"MultiheadAttention {name}", build, _shapes(**shape_options), call=call)


MHA = [
    mha_case("(8, 2)", lambda nn: nn.MultiheadAttention(E, H), _mha()),
    mha_case("(8, 2) need_weights=False", lambda nn: nn.MultiheadAttention(E, H), _mha(need_weights=False)),
    mha_case("(8, 2) per-head weights", lambda nn: nn.MultiheadAttention(E, H), _mha(average=False)),
    mha_case("bias=False", lambda nn: nn.MultiheadAttention(E, H, bias=False), _mha()),
    mha_case(
        "bias=False need_weights=False", lambda nn: nn.MultiheadAttention(E, H, bias=False), _mha(need_weights=False)
    ),
    mha_case("kdim=3 vdim=5", lambda nn: nn.MultiheadAttention(E, H, kdim=3, vdim=5), _mha(), kdim=3, vdim=5),
    mha_case(
        "kdim=3 vdim=5 need_weights=False",
        lambda nn: nn.MultiheadAttention(E, H, kdim=3, vdim=5),
        _mha(need_weights=False),
        kdim=3,
        vdim=5,
    ),
    mha_case("batch_first", lambda nn: nn.MultiheadAttention(E, H, batch_first=True), _mha(), batch_first=True),
    mha_case(
        "batch_first self-attention need_weights=False",
        lambda nn: nn.MultiheadAttention(E, H, batch_first=True),
        _mha(need_weights=False, same_input=True),
        batch_first=True,
        same_length=True,
    ),
    mha_case("unbatched", lambda nn: nn.MultiheadAttention(E, H), _mha(), unbatched=True),
    mha_case(
        "unbatched need_weights=False", lambda nn: nn.MultiheadAttention(E, H), _mha(need_weights=False), unbatched=True
    ),
    mha_case(
        "unbatched 3-d attn_mask",
        lambda nn: nn.MultiheadAttention(E, H),
        _mha(attn_mask=HEADS_BOOL[:H], average=False),
        unbatched=True,
    ),
    mha_case("add_bias_kv", lambda nn: nn.MultiheadAttention(E, H, add_bias_kv=True), _mha(attn_mask=PAIR_BOOL)),
    mha_case(
        "add_bias_kv need_weights=False",
        lambda nn: nn.MultiheadAttention(E, H, add_bias_kv=True),
        _mha(need_weights=False, padding=PADDING),
    ),
    mha_case(
        "add_zero_attn",
        lambda nn: nn.MultiheadAttention(E, H, add_zero_attn=True),
        _mha(attn_mask=PAIR_FLOAT, padding=PADDING),
    ),
    mha_case(
        "add_zero_attn need_weights=False",
        lambda nn: nn.MultiheadAttention(E, H, add_zero_attn=True),
        _mha(need_weights=False, attn_mask=PAIR_BOOL),
    ),
    mha_case(
        "bias_kv zero_attn kdim vdim",
        lambda nn: nn.MultiheadAttention(E, H, add_bias_kv=True, add_zero_attn=True, kdim=3, vdim=5),
        _mha(attn_mask=PAIR_BOOL, padding=PADDING),
        kdim=3,
        vdim=5,
    ),
]
for _weights in (True, False):
    _tag = "" if _weights else " need_weights=False"
    MHA += [
        mha_case(
            f"bool attn_mask (L, S){_tag}", lambda nn: nn.MultiheadAttention(E, H), _mha(_weights, attn_mask=PAIR_BOOL)
        ),
        mha_case(
            f"float attn_mask (L, S){_tag}",
            lambda nn: nn.MultiheadAttention(E, H),
            _mha(_weights, attn_mask=PAIR_FLOAT),
        ),
        mha_case(
            f"bool attn_mask (N*H, L, S){_tag}",
            lambda nn: nn.MultiheadAttention(E, H),
            _mha(_weights, attn_mask=HEADS_BOOL),
        ),
        mha_case(
            f"bool key_padding_mask{_tag}", lambda nn: nn.MultiheadAttention(E, H), _mha(_weights, padding=PADDING)
        ),
        mha_case(
            f"float key_padding_mask{_tag}",
            lambda nn: nn.MultiheadAttention(E, H),
            _mha(_weights, padding=PADDING_FLOAT, attn_mask=PAIR_FLOAT),
        ),
        mha_case(
            f"attn_mask and key_padding_mask batch_first{_tag}",
            lambda nn: nn.MultiheadAttention(E, H, batch_first=True),
            _mha(_weights, attn_mask=PAIR_BOOL, padding=PADDING),
            batch_first=True,
        ),
        mha_case(
            f"causal hint{_tag}",
            lambda nn: nn.MultiheadAttention(E, H),
            _mha(_weights, attn_mask=CAUSAL_FLOAT, causal=True, same_input=True),
            same_length=True,
        ),
        mha_case(
            f"causal hint with padding{_tag}",
            lambda nn: nn.MultiheadAttention(E, H),
            _mha(_weights, attn_mask=CAUSAL_BOOL, padding=SELF_PADDING, causal=True, same_input=True),
            same_length=True,
        ),
    ]
MHA.append(
    Case(
        "MultiheadAttention dropout=0.5 eval",
        lambda nn: nn.MultiheadAttention(E, H, dropout=0.5),
        _shapes(),
        call=_mha(),
        train=False,
    )
)


def _encoder_layer(**options):
    def build(nn):
        return nn.TransformerEncoderLayer(E, H, dim_feedforward=16, dropout=0.0, **options)

    return build


def _decoder_layer(**options):
    def build(nn):
        return nn.TransformerDecoderLayer(E, H, dim_feedforward=16, dropout=0.0, **options)

    return build


def _encoder_call(mask=None, padding=None, causal=False, mask_name="src_mask"):
    def call(layer, src, lib):
        kwargs = {}
        if mask is not None:
            kwargs[mask_name] = _mask(lib, mask)
        if padding is not None:
            kwargs["src_key_padding_mask"] = _mask(lib, padding)
        if causal:
            kwargs["is_causal"] = True
        return layer(src, **kwargs)

    return call


def _decoder_call(tgt_mask=None, memory_mask=None, tgt_padding=None, memory_padding=None, tgt_is_causal=False):
    def call(layer, tgt, memory, lib):
        kwargs = {"tgt_is_causal": tgt_is_causal}
        for name, value in (
            ("tgt_mask", tgt_mask),
            ("memory_mask", memory_mask),
            ("tgt_key_padding_mask", tgt_padding),
            ("memory_key_padding_mask", memory_padding),
        ):
            if value is not None:
                kwargs[name] = _mask(lib, value)
        return layer(tgt, memory, **kwargs)

    return call


SEQ_FIRST, BATCH_FIRST = [(L, N, E)], [(N, L, E)]
LAYERS = []
for _norm_first in (False, True):
    for _activation in ("relu", "gelu"):
        _tag = f"norm_first={_norm_first} {_activation}"
        LAYERS += [
            Case(
                f"TransformerEncoderLayer {_tag}",
                _encoder_layer(norm_first=_norm_first, activation=_activation),
                SEQ_FIRST,
            ),
            Case(
                f"TransformerEncoderLayer batch_first causal padding {_tag}",
                _encoder_layer(norm_first=_norm_first, activation=_activation, batch_first=True),
                BATCH_FIRST,
                call=_encoder_call(CAUSAL_FLOAT, SELF_PADDING, causal=True),
            ),
            Case(
                f"TransformerDecoderLayer {_tag}",
                _decoder_layer(norm_first=_norm_first, activation=_activation),
                [(L, N, E), (S, N, E)],
            ),
            Case(
                f"TransformerDecoderLayer batch_first masks {_tag}",
                _decoder_layer(norm_first=_norm_first, activation=_activation, batch_first=True),
                [(N, L, E), (N, S, E)],
                call=_decoder_call(CAUSAL_FLOAT, PAIR_BOOL, SELF_PADDING, PADDING, tgt_is_causal=True),
            ),
        ]
LAYERS += [
    Case("TransformerEncoderLayer bias=False eps=1e-3", _encoder_layer(bias=False, layer_norm_eps=1e-3), SEQ_FIRST),
    Case(
        "TransformerEncoderLayer activation=GELU module",
        lambda nn: nn.TransformerEncoderLayer(E, H, 16, 0.0, activation=nn.GELU(approximate="tanh")),
        SEQ_FIRST,
    ),
    Case("TransformerEncoderLayer unbatched", _encoder_layer(), [(L, E)], call=_encoder_call(CAUSAL_BOOL)),
    Case(
        "TransformerEncoderLayer dropout=0.1 eval",
        lambda nn: nn.TransformerEncoderLayer(E, H, 16),
        SEQ_FIRST,
        train=False,
    ),
    Case("TransformerDecoderLayer bias=False", _decoder_layer(bias=False), [(L, N, E), (S, N, E)]),
    Case("TransformerDecoderLayer unbatched", _decoder_layer(), [(L, E), (S, E)], call=_decoder_call(CAUSAL_FLOAT)),
]


def _encoder(nn, norm=True, **options):
    layer = nn.TransformerEncoderLayer(E, H, 16, 0.0, **options)
    return nn.TransformerEncoder(layer, 2, nn.LayerNorm(E) if norm else None, enable_nested_tensor=False)


def _decoder(nn, norm=True, **options):
    layer = nn.TransformerDecoderLayer(E, H, 16, 0.0, **options)
    return nn.TransformerDecoder(layer, 2, nn.LayerNorm(E) if norm else None)


def _transformer(nn, **options):
    return nn.Transformer(E, H, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, dropout=0.0, **options)


def _transformer_call(causal=True, padding=False):
    def call(model, src, tgt, lib):
        kwargs = {}
        if causal:
            kwargs["tgt_mask"] = model.generate_square_subsequent_mask(L, dtype=lib.float64)
        if padding:
            kwargs["src_key_padding_mask"] = _mask(lib, PADDING)
            kwargs["memory_key_padding_mask"] = _mask(lib, PADDING)
            kwargs["tgt_key_padding_mask"] = _mask(lib, SELF_PADDING)
        return model(src, tgt, **kwargs)

    return call


STACKS = [
    Case("TransformerEncoder 2 layers + norm", lambda nn: _encoder(nn), SEQ_FIRST),
    Case(
        "TransformerEncoder batch_first mask detected causal",
        lambda nn: _encoder(nn, batch_first=True),
        BATCH_FIRST,
        call=_encoder_call(CAUSAL_FLOAT, mask_name="mask"),
    ),
    Case(
        "TransformerEncoder norm_first no norm padding",
        lambda nn: _encoder(nn, norm=False, norm_first=True),
        SEQ_FIRST,
        call=_encoder_call(padding=SELF_PADDING),
    ),
    Case(
        "TransformerDecoder 2 layers + norm",
        lambda nn: _decoder(nn),
        [(L, N, E), (S, N, E)],
        call=_decoder_call(CAUSAL_FLOAT),
    ),
    Case(
        "TransformerDecoder batch_first gelu",
        lambda nn: _decoder(nn, batch_first=True, activation="gelu"),
        [(N, L, E), (N, S, E)],
        call=_decoder_call(CAUSAL_BOOL, memory_padding=PADDING),
    ),
    Case("Transformer small", lambda nn: _transformer(nn), [(S, N, E), (L, N, E)], call=_transformer_call()),
    Case(
        "Transformer small batch_first norm_first padding",
        lambda nn: _transformer(nn, batch_first=True, norm_first=True),
        [(N, S, E), (N, L, E)],
        call=_transformer_call(padding=True),
    ),
    Case(
        "Transformer small gelu no masks eval",
        lambda nn: _transformer(nn, activation="gelu"),
        [(S, N, E), (L, N, E)],
        call=_transformer_call(causal=False),
        train=False,
    ),
]


def _sdpa(mask=None, **options):
    """F.scaled_dot_product_attention on (N, H, L, E) inputs, through an empty module."""

    def build(nn):
        return nn.Identity()

    def call(layer, q, k, v, lib):
        given = dict(options)
        if mask is not None:
            given["attn_mask"] = _mask(lib, mask)
        return lib.nn.functional.scaled_dot_product_attention(q, k, v, **given)

    return build, call


def sdpa_case(name, q, k, v, mask=None, **options):
    build, call = _sdpa(mask, **options)
    return Case(f"F.scaled_dot_product_attention {name}", build, [q, k, v], call=call)


SDPA = [
    sdpa_case("plain", (N, H, L, 4), (N, H, S, 4), (N, H, S, 3)),
    sdpa_case("bool mask (L, S)", (N, H, L, 4), (N, H, S, 4), (N, H, S, 3), mask=~PAIR_BOOL),
    sdpa_case(
        "bool mask with a fully masked row",
        (N, H, L, 4),
        (N, H, S, 4),
        (N, H, S, 3),
        mask=np.arange(L)[:, None] * np.ones(S) > 0,
    ),
    sdpa_case(
        "float mask (N, 1, L, S)", (N, H, L, 4), (N, H, S, 4), (N, H, S, 3), mask=rng.standard_normal((N, 1, L, S))
    ),
    sdpa_case("causal L < S", (N, H, L, 4), (N, H, S, 4), (N, H, S, 3), is_causal=True),
    sdpa_case("causal L > S", (N, H, S, 4), (N, H, L, 4), (N, H, L, 3), is_causal=True),
    sdpa_case("scale=0.3 broadcast batch", (N, 1, L, 4), (1, H, S, 4), (S, 3), scale=0.3),
    sdpa_case("3-d", (N, L, 4), (N, S, 4), (N, S, 3)),
    sdpa_case("enable_gqa", (N, 4, L, 4), (N, 2, S, 4), (N, 2, S, 3), enable_gqa=True),
    sdpa_case(
        "enable_gqa bool mask per head",
        (N, 4, L, 4),
        (N, 2, S, 4),
        (N, 2, S, 3),
        enable_gqa=True,
        mask=rng.random((N, 4, L, S)) > 0.3,
    ),
]

CASES = MHA + LAYERS + STACKS + SDPA
