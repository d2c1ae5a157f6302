"""Transformer blocks (Vaswani et al., 2017): an encoder layer is self-attention then a two-layer
feed-forward network, each wrapped in a residual connection and a layer norm (after it, or with
``norm_first`` before it); a decoder layer adds attention over the encoder's output (memory).
PyTorch's nn.Transformer family: the same sub-module names, so state_dicts move both ways."""

import copy

from chainrule import _backend
from chainrule._arguments import bool_arg, int_arg, number_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.attention import MultiheadAttention, canonical_mask
from chainrule.nn.containers import ModuleList
from chainrule.nn.dropout import Dropout
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.nn.normalization import LayerNorm
from chainrule.ops.operands import tensor_input, wrap

__all__ = [
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]


def _activation(activation, owner):
    """'relu' or 'gelu' as its function; a callable (a function or a module) as it is."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise ValueError(f"{owner}: activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    if not callable(activation):
        raise TypeError(f"{owner}: activation must be 'relu', 'gelu' or a callable, got {type(activation).__name__}")
    return activation


def _check_layer_args(owner, d_model, nhead, dim_feedforward, dropout, layer_norm_eps, device):
    _backend.as_device(device, owner)
    int_arg(d_model, "d_model", owner)
    int_arg(nhead, "nhead", owner)
    int_arg(dim_feedforward, "dim_feedforward", owner)
    number_arg(dropout, "dropout", owner, 0, 1)
    number_arg(layer_norm_eps, "layer_norm_eps", owner, 0, low_open=True)


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward network, each a residual block:
    ``x = norm1(x + dropout1(self_attn(x)))``, ``x = norm2(x + dropout2(linear2(dropout(act(linear1(x))))))``;
    with ``norm_first``: ``x = x + dropout1(self_attn(norm1(x)))``, ``x = x + ff(norm2(x))``.

    Input (S, N, d_model) (``batch_first``: (N, S, d_model); unbatched (S, d_model)); output of
    the same shape. ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``,
    masks as in ``MultiheadAttention``. ``activation``: 'relu', 'gelu' or a callable.

    >>> import chainrule as cr
    >>> layer = TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
    >>> layer(cr.randn(2, 7, 16)).shape
    (2, 7, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        _check_layer_args("TransformerEncoderLayer", d_model, nhead, dim_feedforward, dropout, layer_norm_eps, device)
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool_arg(norm_first, "norm_first", "TransformerEncoderLayer")
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerEncoderLayer")

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """Self-attention over the target, attention over the memory (the encoder's output), and a
    feed-forward network, each a residual block normalised after (or, ``norm_first``, before).

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``: tgt (T, N, E),
    memory (S, N, E) (``batch_first``: batch first); output of tgt's shape.

    >>> import chainrule as cr
    >>> layer = TransformerDecoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    >>> layer(cr.randn(2, 5, 16), cr.randn(2, 7, 16)).shape
    (2, 5, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        _check_layer_args("TransformerDecoderLayer", d_model, nhead, dim_feedforward, dropout, layer_norm_eps, device)
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias, dtype=dtype
        )
        self.multihead_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias, dtype=dtype
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool_arg(norm_first, "norm_first", "TransformerDecoderLayer")
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerDecoderLayer")

    def forward(
        self,
        tgt,
        memory,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal, need_weights=False
        )[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(
            x,
            memory,
            memory,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            need_weights=False,
        )[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _clones(layer, count, owner):
    """``count`` independent deep copies of ``layer`` (PyTorch's _get_clones: ``layers.0...``)."""
    if not isinstance(layer, Module):
        raise TypeError(f"{owner}: expected a layer (a Module) to repeat, got {type(layer).__name__}")
    return ModuleList([copy.deepcopy(layer) for _ in range(int_arg(count, "num_layers", owner))])


def _sequence_length(x, batch_first):
    return x.shape[0] if x.ndim == 2 else x.shape[1 if batch_first else 0]


def _detect_causal(mask, is_causal, size):
    """PyTorch's rule: is_causal=None means "True when the mask is exactly the causal mask"."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    d = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    causal = xp.triu(xp.full((size, size), -xp.inf), 1).astype(d.dtype)
    return d.shape == causal.shape and bool((d == causal).all())


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (deep copies: independent weights, named
    ``layers.0...``), then ``norm`` if given. ``forward(src, mask=None,
    src_key_padding_mask=None, is_causal=None)``; ``is_causal=None`` detects the causal mask.
    ``enable_nested_tensor`` and ``mask_check`` are accepted for PyTorch's signature (they tune
    PyTorch's inference fast path, which chainrule does not have: padded positions are computed
    like the others).

    >>> import chainrule as cr
    >>> layer = TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    >>> encoder = TransformerEncoder(layer, num_layers=2)
    >>> encoder(cr.randn(2, 7, 16)).shape
    (2, 7, 16)
    """

    def __init__(
        self, encoder_layer, num_layers: int, norm=None, enable_nested_tensor: bool = True, mask_check: bool = True
    ):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: bool | None = None):
        dtype = tensor_input(src, "TransformerEncoder")._data.dtype
        src_key_padding_mask = canonical_mask(src_key_padding_mask, "src_key_padding_mask", dtype, "TransformerEncoder")
        mask = canonical_mask(mask, "mask", dtype, "TransformerEncoder")
        first = self.layers[0]
        batch_first = first.self_attn.batch_first if hasattr(first, "self_attn") else False
        is_causal = _detect_causal(mask, is_causal, _sequence_length(src, batch_first))
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        return output if self.norm is None else self.norm(output)


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer``, then ``norm`` if given.
    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``.

    >>> import chainrule as cr
    >>> layer = TransformerDecoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    >>> decoder = TransformerDecoder(layer, num_layers=2)
    >>> decoder(cr.randn(2, 5, 16), cr.randn(2, 7, 16)).shape
    (2, 5, 16)
    """

    def __init__(self, decoder_layer, num_layers: int, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt,
        memory,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ):
        first = self.layers[0]
        batch_first = first.self_attn.batch_first if hasattr(first, "self_attn") else False
        tgt_is_causal = _detect_causal(tgt_mask, tgt_is_causal, _sequence_length(tgt, batch_first))
        output = tgt
        for layer in self.layers:
            output = layer(
                output,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=tgt_is_causal,
                memory_is_causal=memory_is_causal,
            )
        return output if self.norm is None else self.norm(output)


class Transformer(Module):
    """An encoder (``num_encoder_layers`` layers and a final LayerNorm) and a decoder
    (``num_decoder_layers`` layers and a final LayerNorm); every weight matrix (parameters of 2
    or more dims) starts Xavier uniform, as in PyTorch. ``custom_encoder`` and
    ``custom_decoder`` replace either stack.

    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False)``: src (S, N, E) and tgt
    (T, N, E) (``batch_first``: batch first) give (T, N, E).

    >>> import chainrule as cr
    >>> model = Transformer(d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
    ...                     dim_feedforward=32, batch_first=True)
    >>> tgt_mask = Transformer.generate_square_subsequent_mask(5)
    >>> model(cr.randn(2, 7, 16), cr.randn(2, 5, 16), tgt_mask=tgt_mask).shape
    (2, 5, 16)
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        custom_encoder=None,
        custom_decoder=None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        layer_args = (
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation,
            layer_norm_eps,
            batch_first,
            norm_first,
            bias,
            device,
            dtype,
        )
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*layer_args), num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*layer_args), num_decoder_layers, norm)
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(
        self,
        src,
        tgt,
        src_mask=None,
        tgt_mask=None,
        memory_mask=None,
        src_key_padding_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ):
        for name, t in (("src", src), ("tgt", tgt)):
            if not isinstance(t, Tensor):
                raise TypeError(f"Transformer: {name} must be a Tensor, got {type(t).__name__}")
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch_dim] != tgt.shape[batch_dim]):
            raise ValueError(
                f"Transformer: src and tgt must have the same batch size, got shapes {src.shape} and {tgt.shape} "
                f"(batch_first={self.batch_first})"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(
                f"Transformer: src and tgt must have d_model={self.d_model} features, got shapes {src.shape} and "
                f"{tgt.shape}"
            )
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """The causal mask of ``sz`` positions: 0 on and below the diagonal, -inf above it (a
        position may attend to itself and the ones before it).

        >>> Transformer.generate_square_subsequent_mask(3).tolist()
        [[0.0, -inf, -inf], [0.0, 0.0, -inf], [0.0, 0.0, 0.0]]
        """
        _backend.as_device(device, "generate_square_subsequent_mask")
        sz = int_arg(sz, "sz", "generate_square_subsequent_mask", 0)
        dtype = dtype or _backend.get_default_dtype()
        return wrap(xp.triu(xp.full((sz, sz), -xp.inf, dtype=dtype), 1))
