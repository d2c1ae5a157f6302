"""Scaled dot-product attention as one node: ``softmax(q k^T scale + mask) v``, the softmax
shifted by each row's maximum so that it never overflows.

The node keeps the inputs it was given and the attention weights (batch x heads x L x S, plus
the dropout mask when there is one): nothing larger. Its one backward rule is written with
functions of arrays or tensors; under create_graph the weights are rebuilt from the input
tensors by ``_weights`` (the function the forward used), so attention differentiates to any
order.
"""

import math

from chainrule import random
from chainrule._arguments import bool_arg, number_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph, record
from chainrule.ops import either
from chainrule.ops.operands import floating, wrap
from chainrule.ops.reduce import last_axis_max, last_axis_sum

_OP = "scaled_dot_product_attention"


def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """``softmax(query key^T * scale + mask) value`` (PyTorch's F.scaled_dot_product_attention).

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the leading dims
    broadcast. ``attn_mask`` broadcasts to (..., L, S): boolean (True = the query may attend to
    that key) or a float tensor of query's dtype added to the scores (it gets a gradient when it
    requires one). ``is_causal``: query i attends to keys 0..i (the top-left aligned lower
    triangle, also when L != S); not together with attn_mask. ``scale`` defaults to 1/sqrt(E).
    A query whose every key is masked gets weights 0 and output 0, as PyTorch gives.
    ``dropout_p`` > 0 zeroes each attention weight with that probability and scales the rest by
    1/(1 - dropout_p), whenever it is given (the function has no training flag; modules pass 0
    in eval mode). ``enable_gqa``: key and value may have fewer heads (dim -3) than query, a
    divisor of its count; query head h then uses key head h // (Hq / Hk).

    >>> import chainrule as cr
    >>> q = cr.tensor([[1.0, 0.0]]); k = cr.tensor([[1.0, 0.0], [0.0, 1.0]]); v = cr.tensor([[1.0], [3.0]])
    >>> out = scaled_dot_product_attention(q, k, v, scale=math.log(3))  # weights 3/4 and 1/4
    >>> round(float(out._data[0, 0]), 6)
    1.5
    """
    q, k, v = (floating(t, _OP) for t in (query, key, value))
    _check_inputs(q._data, k._data, v._data)
    dropout_p = number_arg(dropout_p, "dropout_p", _OP, 0, 1)
    causal = bool_arg(is_causal, "is_causal", _OP)
    grouped = bool_arg(enable_gqa, "enable_gqa", _OP) and q._data.ndim >= 3
    if grouped and (k._data.ndim < 3 or q.shape[-3] != k.shape[-3]):
        return _grouped(q, k, v, attn_mask, dropout_p, causal, scale)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else number_arg(scale, "scale", _OP)
    L, S = q.shape[-2], k.shape[-2]
    batch = _batch_shape(q._data, k._data, v._data)
    allowed, bias = _mask(attn_mask, q._data.dtype, batch, L, S)
    if causal:
        if attn_mask is not None:
            raise ValueError(f"{_OP}: pass attn_mask or is_causal=True, not both (PyTorch refuses the pair too)")
        allowed = xp.tri(L, S, dtype=bool)  # top-left aligned: key j <= query i
    bias_data = bias._data if isinstance(bias, Tensor) else bias
    out, p, keep, factor = _attend(q._data, k._data, v._data, scale, allowed, bias_data, dropout_p)
    learned_bias = isinstance(bias, Tensor) and needs_graph(bias)
    if not needs_graph(q, k, v) and not learned_bias:
        return wrap(out)
    parents = (q, k, v, bias) if learned_bias else (q, k, v)
    rest = (keep, factor, scale, tuple(t.requires_grad for t in parents))

    def remake(q, k, v, *learned):
        return (q, k, v, _weights(q, k, scale, allowed, learned[0] if learned else bias_data), *rest)

    return record("ScaledDotProductAttention", out, parents, _attention_vjp, (q, k, v, p, *rest), remake)


def _attend(q, k, v, scale, allowed, bias, dropout_p, into=None):
    """The forward on arrays: (output, attention weights, dropout's keep mask or None, its
    scale); ``into``: an array to write the output into (a view), or None."""
    p = _weights(q, k, scale, allowed, bias)
    keep, factor = None, 1.0
    if dropout_p > 0:
        keep = random.batch_random(p.shape, p.dtype) >= dropout_p
        factor = 0.0 if dropout_p == 1 else 1 / (1 - dropout_p)
    return _product(p if keep is None else p * keep * factor, v, into), p, keep, factor


def _attention_vjp(g, q, k, v, p, keep, factor, scale, needs, into=(None, None, None)):
    """With w = p (dropped out: w = p keep factor): dv = w^T g; dp = (g v^T) keep factor;
    the softmax's rule gives the scores' gradient ds = p (dp - sum_j dp p), which is the additive
    mask's gradient; dq = ds k scale and dk = ds^T q scale. ``into``: arrays to write dq, dk
    and dv into (views, for the packed layout), or None."""
    need_q, need_k, need_v = needs[:3]
    w = p if keep is None else p * keep * factor
    gv = _product(w.swapaxes(-1, -2), g, into[2]) if need_v else None
    if not (need_q or need_k or len(needs) > 3):
        return None, None, gv
    gp = g @ v.swapaxes(-1, -2)
    if keep is not None:
        gp = gp * keep * factor
    gs = _softmax_backward(gp, p)
    gq = either.mul_fresh(_product(gs, k, into[0]), scale) if need_q else None
    gk = either.mul_fresh(_product(gs.swapaxes(-1, -2), q, into[1]), scale) if need_k else None
    return (gq, gk, gv, gs) if len(needs) > 3 else (gq, gk, gv)


def _product(a, b, into):
    """a @ b, written into the array ``into`` when given: BLAS writes a strided view in place,
    for less than the product and a copy into it cost."""
    return a @ b if into is None else xp.matmul(a, b, out=into)


def packed_self_attention(qkv, heads: int, attn_mask=None, dropout_p: float = 0.0, is_causal: bool = False) -> Tensor:
    """Self-attention of the query, key and value held side by side in one projection ``qkv``
    (N, L, 3E), in ``heads`` heads of E / heads features (PyTorch's in_proj layout): output
    (N, L, E), each position's heads side by side (as the out projection takes them): the
    ``scaled_dot_product_attention`` of the three parts with its default scale. ``attn_mask``:
    None or a float mask (a tensor) broadcasting to (N, heads, L, L).

    One node whose gradient for qkv comes in one piece (MultiheadAttention's self-attention):
    three slices of qkv would each scatter their gradient into zeros of qkv's shape, then summed;
    its products read and write the heads in place (strided views BLAS takes as they are), so
    neither splitting nor joining the heads copies. The rule is ``_attention_vjp``'s, on the parts.
    """
    d = qkv._data
    q, k, v = _heads(d, heads)
    length = d.shape[1]
    scale = 1 / math.sqrt(q.shape[-1])
    allowed = xp.tri(length, length, dtype=bool) if is_causal else None
    bias = attn_mask._data if isinstance(attn_mask, Tensor) else attn_mask
    out = xp.empty((d.shape[0], length, d.shape[2] // 3), dtype=d.dtype)
    _, p, keep, factor = _attend(q, k, v, scale, allowed, bias, dropout_p, _by_heads(out, heads))
    learned = isinstance(attn_mask, Tensor) and needs_graph(attn_mask)
    if not needs_graph(qkv) and not learned:
        return wrap(out)
    rest = (keep, factor, scale, heads, learned)

    def remake(qkv, *mask):
        q, k, _ = _heads(qkv, heads)
        return (qkv, _weights(q, k, scale, allowed, mask[0] if mask else bias), *rest)

    parents = (qkv, attn_mask) if learned else (qkv,)
    return record("PackedSelfAttention", out, parents, _packed_vjp, (qkv, p, *rest), remake)


def _packed_vjp(g, qkv, p, keep, factor, scale, heads, learned):
    q, k, v = _heads(qkv, heads)
    g = _by_heads(g, heads)
    needs = (True, True, True, True)[: 3 + learned]
    if isinstance(qkv, Tensor):
        grads = _attention_vjp(g, q, k, v, p, keep, factor, scale, needs)
        return (_join_heads(grads[:3]), *grads[3:])
    gqkv = xp.empty(qkv.shape, dtype=qkv.dtype)  # the three gradients are written into its parts
    grads = _attention_vjp(g, q, k, v, p, keep, factor, scale, needs, _heads(gqkv, heads))
    return (gqkv, *grads[3:])


def _heads(qkv, heads):
    """(N, L, 3E) -> query, key and value, each (N, heads, L, E / heads): views of an array,
    recorded for a tensor."""
    n, length, width = qkv.shape
    parts = either.permute(qkv.reshape(n, length, 3, heads, width // (3 * heads)), (2, 0, 3, 1, 4))
    return parts[0], parts[1], parts[2]


def _by_heads(a, heads):
    """(N, L, heads D) -> (N, heads, L, D): a view of an array, recorded for a tensor."""
    n, length, width = a.shape
    return either.permute(a.reshape(n, length, heads, width // heads), (0, 2, 1, 3))


def _join_heads(parts):
    """The inverse of ``_heads`` on tensors: three (N, heads, L, D) -> one (N, L, 3 heads D)."""
    n, heads, length, depth = parts[0].shape
    return either.permute(either.stack(parts), (1, 3, 0, 2, 4)).reshape(n, length, 3 * heads * depth)


def _softmax_backward(gp, p):
    """``p (gp - sum_j gp p)``: on arrays in place in gp (a temporary of the rule's own: two
    fewer passes over the batch x heads x L x S scores), recorded on tensors."""
    if isinstance(gp, Tensor) or isinstance(p, Tensor):
        return p * (gp - (gp * p).sum(axis=-1, keepdims=True))
    dot = last_axis_sum(gp * p)
    gp -= dot
    gp *= p
    return gp


def _weights(q, k, scale, allowed, bias):
    """softmax over the keys of ``q k^T scale``, masked (``allowed``: a boolean array, False ->
    -inf) and shifted (``bias``: added): arrays in the forward (computed in place), tensors in
    ``remake`` (recorded). A row with every key masked gets weights 0, not 0/0 = nan: its shift
    is taken as 0, so exp gives zeros, and their sum is divided as 1."""
    s = q @ k.swapaxes(-1, -2)
    if isinstance(s, Tensor):
        s = s * scale
        if allowed is not None:
            s = either.where(allowed, s, xp.asarray(-xp.inf, dtype=s.dtype))
        if bias is not None:
            s = s + bias
        e = either.exp(s - _row_shift(s._data))  # a constant shift: softmax does not depend on it
        total = e.sum(axis=-1, keepdims=True)
        return e / either.where(total._data > 0, total, xp.ones((), dtype=s.dtype))
    s *= scale
    if allowed is not None:
        if xp.broadcast_shapes(s.shape, allowed.shape) == s.shape:
            xp.copyto(s, -xp.inf, where=~allowed)
        else:  # the mask has batch dims that q k^T lacks (value's)
            s = xp.where(allowed, s, -xp.inf)
    if bias is not None:
        if xp.broadcast_shapes(s.shape, bias.shape) == s.shape:
            s += bias
        else:
            s = s + bias
    s -= _row_shift(s)
    xp.exp(s, out=s)
    total = last_axis_sum(s)
    total[total == 0] = 1
    s *= 1 / total  # (PyTorch's softmax also multiplies by the reciprocal: one division per row)
    return s


def _row_shift(s):
    """Each row's maximum (0 where it is not finite: a fully masked row)."""
    top = last_axis_max(s)
    top[~xp.isfinite(top)] = 0
    return top


def _check_inputs(q, k, v):
    for name, d in (("query", q), ("key", k), ("value", v)):
        if d.ndim < 2:
            raise ValueError(f"{_OP}: {name} must have at least 2 dims (..., length, features), got shape {d.shape}")
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"{_OP}: query, key and value must have one dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{_OP}: query (shape {q.shape}) and key (shape {k.shape}) must have the same last dim (E)")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{_OP}: key (shape {k.shape}) and value (shape {v.shape}) must have the same length (dim -2)")


def _batch_shape(q, k, v):
    try:
        return xp.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{_OP}: the leading (batch) dims of query {q.shape}, key {k.shape} and value {v.shape} do not broadcast"
        ) from None


def _mask(attn_mask, dtype, batch, L, S):
    """(allowed, bias): a boolean mask as an array, or a float mask (a tensor when it may need
    a gradient, else an array); the other None."""
    if attn_mask is None:
        return None, None
    d = attn_mask._data if isinstance(attn_mask, Tensor) else xp.asarray(attn_mask)
    if d.dtype != bool and d.dtype != dtype:
        raise TypeError(f"{_OP}: attn_mask must be boolean or of query's dtype {dtype}, got dtype {d.dtype}")
    try:
        fits = xp.broadcast_shapes(d.shape, (*batch, L, S)) == (*batch, L, S)
    except ValueError:
        fits = False
    if not fits:  # (a mask may not add batch dims to the result, as in PyTorch)
        raise ValueError(
            f"{_OP}: attn_mask of shape {d.shape} does not broadcast to the scores' shape {(*batch, L, S)} (..., L, S)"
        )
    if d.dtype == bool:
        return d, None
    return None, (attn_mask if isinstance(attn_mask, Tensor) else d)


def _grouped(q, k, v, attn_mask, dropout_p, causal, scale):
    """Grouped-query attention by broadcasting: query's Hq heads viewed as (Hk, Hq / Hk), each
    group against one key head (no copy of key or value)."""
    hq, hk = q.shape[-3], k.shape[-3]
    if k._data.ndim < 3 or v._data.ndim < 3 or v.shape[-3] != hk or hq % hk:
        raise ValueError(
            f"{_OP}: with enable_gqa, key and value need one number of heads (dim -3) that divides query's "
            f"{hq}; got key {k.shape} and value {v.shape}"
        )
    group = hq // hk

    def split_heads(t, size):
        shape = t.shape
        return t.reshape(*shape[:-3], hk, size, *shape[-2:])

    if attn_mask is not None and attn_mask.ndim >= 3:
        mask = attn_mask if isinstance(attn_mask, Tensor) else xp.asarray(attn_mask)
        if mask.shape[-3] == hq:
            mask = split_heads(mask, group)
        elif mask.shape[-3] == 1:
            mask = mask.reshape(*mask.shape[:-2], 1, *mask.shape[-2:])
        else:
            raise ValueError(
                f"{_OP}: attn_mask of shape {mask.shape} has {mask.shape[-3]} heads (dim -3); expected 1 or "
                f"query's {hq}"
            )
        attn_mask = mask
    out = scaled_dot_product_attention(
        split_heads(q, group), split_heads(k, 1), split_heads(v, 1), attn_mask, dropout_p, causal, scale
    )
    return out.reshape(*out.shape[:-4], hq, *out.shape[-2:])
