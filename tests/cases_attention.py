"""Op-table case for scaled_dot_product_attention: batch dims that broadcast (key and value with
fewer of them), L != S, custom scale, boolean masks (with fully masked rows), additive float
masks (a differentiable input), causal masks and grouped-query heads; the reference is the
softmax written out in NumPy."""

import numpy as np
from hypothesis import strategies as st
from op_table import Case, Drawn, values

from chainrule.ops.attention import packed_self_attention, scaled_dot_product_attention


def reference(q, k, v, allowed=None, bias=None, scale=None, group=1):
    """softmax(q k^T scale + mask) v; a row with no allowed key gives 0 (PyTorch's rule)."""
    if group > 1:  # query head h uses key head h // group
        k, v = np.repeat(k, group, axis=-3), np.repeat(v, group, axis=-3)
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if bias is not None:
        s = s + bias
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    top = s.max(axis=-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(top), top, 0))
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1) @ v


def _case():
    def draw(d):
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        form = d(st.sampled_from(["plain", "bool", "float", "causal", "broadcast", "gqa"]))
        L, S, E, Ev = (d(st.integers(1, 3)) for _ in range(4))
        batch = tuple(d(st.lists(st.integers(1, 2), min_size=0, max_size=2)))
        scale = d(st.sampled_from([None, 0.7]))
        heads_q = heads_k = None
        if form == "gqa":
            heads_k = d(st.integers(1, 2))
            heads_q = heads_k * d(st.integers(2, 3))
            batch = batch[:1]
        kv_batch = batch[1:] if form == "broadcast" else batch
        q_shape = (*batch, *((heads_q,) if heads_q else ()), L, E)
        k_shape = (*kv_batch, *((heads_k,) if heads_k else ()), S, E)
        v_shape = (*kv_batch, *((heads_k,) if heads_k else ()), S, Ev)
        arrays = [values(d, q_shape), values(d, k_shape), values(d, v_shape)]
        group = heads_q // heads_k if heads_q else 1
        kwargs = {"scale": scale, "enable_gqa": form == "gqa"}
        allowed = None
        if form in ("bool", "gqa"):
            allowed = rng.random((L, S) if form == "bool" else (*batch, heads_q, L, S)) > 0.4
            allowed[..., 0, :] = False  # a query that may attend to nothing: output 0
            kwargs["attn_mask"] = allowed
        if form == "causal":
            kwargs["is_causal"] = True
            allowed = np.tri(L, S, dtype=bool)
        if form == "float":
            arrays.append(values(d, (*batch[1:], L, S)))

            def op(q, k, v, bias):
                return scaled_dot_product_attention(q, k, v, bias, **kwargs)

            return Drawn(arrays, op, lambda q, k, v, bias: reference(q, k, v, None, bias, scale))

        def op(q, k, v):
            from chainrule import tensor

            given = {**kwargs, "attn_mask": tensor(allowed)} if "attn_mask" in kwargs else kwargs
            return scaled_dot_product_attention(q, k, v, **given)

        return Drawn(arrays, op, lambda q, k, v: reference(q, k, v, allowed, None, scale, group))

    return Case("scaled_dot_product_attention", draw)


def _packed_case():
    """MultiheadAttention's self-attention node: query, key and value side by side in one
    (N, L, 3E) projection; a float mask (a differentiable input) or causal."""

    def draw(d):
        n, length = d(st.integers(1, 2)), d(st.integers(1, 3))
        heads, depth = 2, d(st.integers(2, 3))  # both over 1: a mix-up of the two would show
        form = d(st.sampled_from(["plain", "float", "causal"]))
        arrays = [values(d, (n, length, 3 * heads * depth))]

        def split(qkv):
            parts = qkv.reshape(n, length, 3, heads, depth).transpose(2, 0, 3, 1, 4)
            return parts[0], parts[1], parts[2]

        def joined(out):  # (N, heads, L, depth) -> (N, L, heads depth)
            return out.transpose(0, 2, 1, 3).reshape(n, length, heads * depth)

        if form == "float":
            arrays.append(values(d, (n, 1, length, length)))
            return Drawn(
                arrays,
                lambda qkv, m: packed_self_attention(qkv, heads, m),
                lambda qkv, m: joined(reference(*split(qkv), None, m)),
            )
        causal = form == "causal"
        allowed = np.tri(length, dtype=bool) if causal else None
        return Drawn(
            arrays,
            lambda qkv: packed_self_attention(qkv, heads, is_causal=causal),
            lambda qkv: joined(reference(*split(qkv), allowed)),
        )

    return Case("packed_self_attention", draw)


CASES = [_case(), _packed_case()]
