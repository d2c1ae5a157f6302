"""Multi-head attention: each head projects the queries, keys and values to a subspace of its own,
attends there (``softmax(q k^T / sqrt(d)) v``), and the heads' outputs, joined, are projected
back. PyTorch's nn.MultiheadAttention: the same parameters, masks, shapes and results."""

import math

from chainrule import _backend
from chainrule._arguments import bool_arg, int_arg, number_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.nn import init
from chainrule.nn.functional import dropout as dropout_fn
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module, Parameter
from chainrule.ops.attention import packed_self_attention, scaled_dot_product_attention
from chainrule.ops.linalg import linear
from chainrule.ops.operands import wrap
from chainrule.ops.shape import cat, pad
from chainrule.ops.softmax import softmax


def canonical_mask(mask, name: str, dtype, owner: str):
    """A mask as PyTorch's layers read it, made additive (``F._canonical_mask``): None; a
    boolean mask (True = masked out) as 0 / -inf of ``dtype``; a float mask of ``dtype`` as it is
    (a tensor keeps its graph: such a mask may be learned)."""
    if mask is None:
        return None
    d = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if d.dtype == bool:
        return wrap(xp.where(d, -xp.inf, 0).astype(dtype))
    if d.dtype != dtype:
        raise TypeError(
            f"{owner}: {name} must be boolean (True = masked out) or a float mask of the input's dtype {dtype}, "
            f"got dtype {d.dtype}"
        )
    return mask if isinstance(mask, Tensor) else wrap(d)


class MultiheadAttention(Module):
    """Attention of ``num_heads`` heads of ``embed_dim // num_heads`` features each.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns ``(output, weights)``: query (L, N, E)
    (``batch_first``: (N, L, E); unbatched: (L, E)), key (S, N, kdim) and value (S, N, vdim) give
    output (L, N, E) and, with ``need_weights``, the attention weights (N, L, S), averaged over
    the heads unless ``average_attn_weights=False`` ((N, num_heads, L, S)); else None.

    Masks, where True (boolean) means "may not attend" and a float mask is added to the scores:
    ``key_padding_mask`` (N, S) hides keys (padding), ``attn_mask`` (L, S) or
    (N * num_heads, L, S) hides (query, key) pairs. ``is_causal`` is a hint that attn_mask is
    the causal mask (attn_mask is still required, as in PyTorch). ``dropout`` applies to the
    attention weights in training mode. A query whose every key is masked gives nan weights and
    output with ``need_weights=True`` and output 0 without, as PyTorch's two paths do.

    Parameters (PyTorch's names and initialisation): ``in_proj_weight`` (3E, E) holding the
    query, key and value projections (Xavier uniform), or, when kdim or vdim differ from E,
    ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim);
    ``in_proj_bias`` (3E,) (zeros) when ``bias``; ``out_proj`` a Linear(E, E) (bias zeros);
    ``bias_k`` and ``bias_v`` (1, 1, E) (Xavier normal) with ``add_bias_kv``, a learned key and
    value appended to every sequence; ``add_zero_attn`` appends a zero key and value per head.

    >>> import chainrule as cr
    >>> mha = MultiheadAttention(8, 2, batch_first=True)
    >>> x = cr.randn(3, 5, 8)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    ((3, 5, 8), (3, 5, 5))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        owner = "MultiheadAttention"
        _backend.as_device(device, owner)
        self.embed_dim = int_arg(embed_dim, "embed_dim", owner)
        self.num_heads = int_arg(num_heads, "num_heads", owner)
        if embed_dim % num_heads:
            raise ValueError(
                f"{owner}: embed_dim must be divisible by num_heads (each head gets embed_dim // num_heads "
                f"features), got embed_dim={embed_dim} and num_heads={num_heads}"
            )
        self.kdim = embed_dim if kdim is None else int_arg(kdim, "kdim", owner)
        self.vdim = embed_dim if vdim is None else int_arg(vdim, "vdim", owner)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout = number_arg(dropout, "dropout", owner, 0, 1)
        self.batch_first = bool_arg(batch_first, "batch_first", owner)
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = bool_arg(add_zero_attn, "add_zero_attn", owner)
        dtype = dtype or _backend.get_default_dtype()
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(xp.empty((3 * embed_dim, embed_dim), dtype=dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(xp.empty((embed_dim, embed_dim), dtype=dtype))
            self.k_proj_weight = Parameter(xp.empty((embed_dim, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(xp.empty((embed_dim, self.vdim), dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(xp.empty(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(xp.empty((1, 1, embed_dim), dtype=dtype))
            self.bias_v = Parameter(xp.empty((1, 1, embed_dim), dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: Xavier uniform projections, zero biases, Xavier normal bias_k and bias_v
        (out_proj's weight keeps Linear's own initialisation)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights: bool = True,
        attn_mask=None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ):
        batched = self._check_inputs(query, key, value)
        shared = "qkv" if query is key and key is value else "kv" if key is value else None
        dtype = query._data.dtype
        key_padding_mask = canonical_mask(key_padding_mask, "key_padding_mask", dtype, self._name())
        attn_mask = canonical_mask(attn_mask, "attn_mask", dtype, self._name())
        if is_causal and attn_mask is None:
            raise ValueError(
                f"{self._name()}: is_causal=True is a hint that attn_mask is the causal mask; pass that mask too "
                "(nn.Transformer.generate_square_subsequent_mask(L) makes it), as PyTorch requires"
            )
        # one layout inside: (N, L, E), views of the inputs
        if not batched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        n, length, source = query.shape[0], query.shape[1], key.shape[1]
        key_padding_mask = self._check_masks(key_padding_mask, attn_mask, n, length, source, batched)
        causal = bool(is_causal) and key_padding_mask is None and not need_weights
        if causal:
            attn_mask = None  # PyTorch trusts the hint: attention is causal whatever the mask holds
        heads, depth = self.num_heads, self.head_dim
        p = self.dropout if self.training else 0.0
        if shared == "qkv" and not need_weights and self.bias_k is None and not self.add_zero_attn:
            # self-attention (a transformer layer's): one projection, one attention node
            both = linear(query, self.in_proj_weight, self.in_proj_bias)
            mask = self._merged_mask(attn_mask, key_padding_mask, n)
            return self._projected(packed_self_attention(both, heads, mask, p, causal), batched), None
        q, k, v = self._project(query, key, value, shared)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(n, 1, self.embed_dim)], 1)
            v = cat([v, self.bias_v.expand(n, 1, self.embed_dim)], 1)
            attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)
        # (N, L, E) -> (N, heads, L, depth)
        q, k, v = (t.reshape(n, t.shape[1], heads, depth).transpose(1, 2) for t in (q, k, v))
        if self.add_zero_attn:
            zeros = wrap(xp.zeros((n, heads, 1, depth), dtype=dtype))
            k, v = cat([k, zeros], 2), cat([v, zeros], 2)
            attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)
        mask = self._merged_mask(attn_mask, key_padding_mask, n)
        weights = None
        if need_weights:  # PyTorch's explicit path: softmax of the scores, returned
            scores = (q * math.sqrt(1.0 / depth)) @ k.transpose(-1, -2)
            weights = softmax(scores if mask is None else scores + mask, -1)
            if p > 0:
                weights = dropout_fn(weights, p)
            out = weights @ v
            weights = weights.mean(1) if average_attn_weights else weights
            if not batched:
                weights = weights.squeeze(0)
        else:
            out = scaled_dot_product_attention(q, k, v, mask, p, causal)
        return self._output(out, n, length, batched), weights

    def _output(self, out, n, length, batched):
        """(N, heads, L, depth) -> (N, L, E), projected, in the caller's layout."""
        return self._projected(out.transpose(1, 2).reshape(n, length, self.embed_dim), batched)

    def _projected(self, out, batched):
        """(N, L, E) -> projected, in the caller's layout."""
        out = self.out_proj(out)
        if not batched:
            return out.squeeze(0)
        return out if self.batch_first else out.transpose(0, 1)

    def _name(self):
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    def _project(self, query, key, value, shared):
        """The query, key and value projections: one product for the inputs that are one tensor
        (self-attention: all three; PyTorch's ``_in_projection_packed`` does the same), cut
        into its three (N, L, E) parts."""
        e = self.embed_dim
        w, b = self.in_proj_weight, self.in_proj_bias
        if not self._qkv_same_embed_dim:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
            biases = (None, None, None) if b is None else (b[:e], b[e : 2 * e], b[2 * e :])
            return tuple(linear(x, w, bias) for x, w, bias in zip((query, key, value), weights, biases))
        if shared == "qkv":
            both = linear(query, w, b)
            return both[..., :e], both[..., e : 2 * e], both[..., 2 * e :]
        q = linear(query, w[:e], None if b is None else b[:e])
        if shared == "kv":
            both = linear(key, w[e:], None if b is None else b[e:])
            return q, both[..., :e], both[..., e:]
        k = linear(key, w[e : 2 * e], None if b is None else b[e : 2 * e])
        return q, k, linear(value, w[2 * e :], None if b is None else b[2 * e :])

    def _merged_mask(self, attn_mask, key_padding_mask, n):
        """attn_mask (L, S) or (N * heads, L, S) and key_padding_mask (N, S), as one additive mask
        broadcasting to the scores (N, heads, L, S)."""
        if attn_mask is not None and attn_mask.ndim == 3:
            attn_mask = attn_mask.reshape(n, self.num_heads, *attn_mask.shape[1:])
        if key_padding_mask is None:
            return attn_mask
        key_padding_mask = key_padding_mask.reshape(n, 1, 1, key_padding_mask.shape[-1])
        return key_padding_mask if attn_mask is None else attn_mask + key_padding_mask

    def _check_inputs(self, query, key, value):
        name = self._name()
        for label, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: {label} must be a Tensor, got {type(t).__name__}")
        if query.ndim not in (2, 3):
            raise ValueError(
                f"{name}: query must be 3-d {'(N, L, E)' if self.batch_first else '(L, N, E)'} or unbatched "
                f"2-d (L, E), got shape {query.shape}"
            )
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"{name}: key and value must have query's {query.ndim} dims, got shapes {key.shape} and {value.shape}"
            )
        for label, t, size in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if t.shape[-1] != size:
                raise ValueError(f"{name}: {label} has {t.shape[-1]} features (shape {t.shape}), expected {size}")
            if t.dtype != query.dtype:
                raise TypeError(f"{name}: query, key and value must have one dtype, got {query.dtype} and {t.dtype}")
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(
                f"{name}: key and value must have the same length and batch, got shapes {key.shape} and {value.shape}"
            )
        batched = query.ndim == 3
        batch_dim = 0 if self.batch_first else 1
        if batched and query.shape[batch_dim] != key.shape[batch_dim]:
            raise ValueError(
                f"{name}: query and key have different batch sizes: shapes {query.shape} and {key.shape} "
                f"(batch_first={self.batch_first})"
            )
        return batched

    def _check_masks(self, key_padding_mask, attn_mask, n, length, source, batched):
        """Refuse masks of the wrong shape; returns key_padding_mask as (N, S)."""
        name = self._name()
        if key_padding_mask is not None:
            expected = (n, source) if batched else (source,)
            if tuple(key_padding_mask.shape) != expected:
                raise ValueError(
                    f"{name}: key_padding_mask has shape {key_padding_mask.shape}, expected {expected} "
                    f"({'(N, S)' if batched else '(S,)'})"
                )
            if not batched:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        if attn_mask is not None:
            allowed = [(length, source), (n * self.num_heads, length, source)]
            if tuple(attn_mask.shape) not in allowed:
                raise ValueError(
                    f"{name}: attn_mask has shape {attn_mask.shape}, expected {allowed[0]} (L, S) or "
                    f"{allowed[1]} (N * num_heads, L, S)"
                )
        return key_padding_mask


def _pad_key(mask):
    """A mask with one more key (the appended bias or zero key), which every query may see."""
    return None if mask is None else pad(mask, (0, 1))
