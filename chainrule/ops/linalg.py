"""Matrix products: matmul for 1-D, 2-D and batched (broadcast) operands, and the fused affine
map of a Linear layer."""

import math

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph, record
from chainrule.ops.operands import constant, same_dtype, wrap


def _check_inner(a, b):
    sa, sb = a.shape, b.shape
    if not sa or not sb:
        raise ValueError(f"matmul: both operands need at least 1 dim, got shapes {sa} and {sb}")
    inner_b = sb[0] if len(sb) == 1 else sb[-2]
    if sa[-1] != inner_b:
        raise ValueError(f"matmul: shapes {sa} and {sb}: inner dimensions {sa[-1]} and {inner_b} differ")


def product(a, b):
    """a @ b for a of shape (..., k) and a 2-D b, computed the way OpenBLAS runs it fastest.

    2-D products are computed as (b^T a^T)^T when that puts more rows than columns in the
    product: OpenBLAS runs the same product up to 3x faster in that orientation (784x256 layer at
    batch 32 and 128, benchmarks/NOTES.md); the result is then a transposed (F-ordered) view.
    Products with an inner dimension of 1 (outer products: a Linear layer with one input, or the
    input gradient of one with one output) go through ``_outer_product``. Tensors (a rule under
    create_graph) go through ``matmul``, recorded.
    """
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return matmul(a, b)
    if a.ndim != 2:
        # One product of all the rows: NumPy's matmul of a stacked a loops over its leading dims,
        # 2.5x slower for a Linear on (32, 64, 128) (a transformer's; benchmarks/NOTES.md, issue 18).
        lead = a.shape[:-1]
        return _matmul_2d(a.reshape(math.prod(lead), a.shape[-1]), b).reshape(*lead, b.shape[1])
    return _matmul_2d(a, b)


def _matmul_2d(a, b):
    """a @ b for 2-D arrays in the orientation OpenBLAS runs fastest (see ``product``); large
    outer products through ``_outer_product`` (small ones cost less as they are than the padding
    does)."""
    if a.shape[0] * b.shape[1] < 4096:
        return a @ b  # (small products: the orientation gains nothing, the views cost)
    if a.shape[1] == 1:
        return _outer_product(a, b)
    if a.shape[0] >= b.shape[1]:
        return a @ b
    return (b.T @ a.T).T


def _outer_product(a, b):
    """a @ b for a (m, 1) and b (1, n). NumPy does not hand such products to BLAS: its own loop
    took 3.6 ms for (4000, 1) @ (1, 384). With a zero column and a zero row added they are a BLAS
    product (0.35 ms) of exactly the same values: each entry is a_i b_j + 0 * 0."""
    a2 = xp.zeros((a.shape[0], 2), dtype=a.dtype)
    a2[:, :1] = a
    b2 = xp.zeros((2, b.shape[1]), dtype=b.dtype)
    b2[:1] = b
    return a2 @ b2


def fast_layout(shape):
    """The memory order ("C" or "F") in which a Linear weight of ``shape`` (out, in) gets its
    gradient fastest: the weight gradient is computed in the weight's own layout (so optimizer
    passes stay contiguous), and with more rows than columns (see ``product``)."""
    return "F" if shape[1] > shape[0] else "C"


def matmul(a, b) -> Tensor:
    """a @ b with NumPy's rules: 1-D operands are vectors, leading dims broadcast as batches.

    Both operands must have one dtype, as in PyTorch (RuntimeError otherwise); an array or list
    operand takes the tensor's dtype. dL/da = g @ b^T and dL/db = a^T @ g, each computed only when
    that input needs it; the rule is matrix products, so it differentiates again.
    """
    if not isinstance(a, Tensor):
        a = constant(a) if not isinstance(b, Tensor) else wrap(constant(a)._data.astype(b._data.dtype, copy=False))
    if not isinstance(b, Tensor):
        b = wrap(constant(b)._data.astype(a._data.dtype, copy=False))
    same_dtype("matmul", a, b)
    ad, bd = a._data, b._data
    _check_inner(ad, bd)
    try:
        out = _matmul_2d(ad, bd) if ad.ndim == 2 and bd.ndim == 2 else ad @ bd
    except ValueError as err:
        raise ValueError(
            f"matmul: batch dims of shapes {ad.shape} and {bd.shape} do not broadcast ({err})"
        ) from None
    if not needs_graph(a, b):
        return wrap(out)
    saved = (a, b, a.requires_grad, b.requires_grad)
    if ad.ndim == 2 and bd.ndim == 2:
        return record("Mm", out, (a, b), _mm_vjp, saved)
    return record("Matmul", out, (a, b), _matmul_vjp, saved)


def _mm_vjp(g, a, b, need_a, need_b):
    return _mm(g, b.T) if need_a else None, _mm(a.T, g) if need_b else None


def _matmul_vjp(g, a, b, need_a, need_b):
    # Treat vectors as matrices (a row for a, a column for b) so one batched rule covers all;
    # the engine sums the gradients of broadcast batch dims back to each operand's shape.
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = g[..., None] if b.ndim == 1 else g
    if a.ndim == 1:
        g2 = g2[..., None, :]
    ga = gb = None
    if need_a:
        ga = g2 @ b2.swapaxes(-1, -2)
        if a.ndim == 1:  # (..., 1, k): sum the batch dims (reshape(-1, k) fails for k = 0)
            ga = ga[..., 0, :]
            if ga.ndim > 1:
                ga = ga.sum(axis=tuple(range(ga.ndim - 1)))
    if need_b:
        gb = a2.swapaxes(-1, -2) @ g2
        if b.ndim == 1:  # (..., k, 1)
            gb = gb[..., 0]
            if gb.ndim > 1:
                gb = gb.sum(axis=tuple(range(gb.ndim - 1)))
    return ga, gb


def _mm(a, b):
    """a @ b of 2-D operands: arrays as ``_matmul_2d`` computes them, tensors through ``matmul``
    (recorded)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return matmul(a, b)
    return _matmul_2d(a, b)


def linear_forward(xd, wd, bd):
    """x @ W^T + b on arrays (bd may be None), the product computed as ``product`` explains."""
    out = product(xd, wd.T)
    if bd is not None:
        out += bd
    return out


def linear_backward(g, x, w, need_x, need_w, need_b):
    """(input, weight, bias) gradients of ``linear_forward`` for output gradient g (None where not
    needed): arrays, or tensors under create_graph (then recorded: the products differentiate
    again). The weight gradient comes in the weight's memory order, so the optimizer's passes
    over both stay contiguous (a C-ordered gradient for an F-ordered weight would make every
    pass a transpose)."""
    g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
    gx = product(g, w) if need_x else None
    gw = gb = None
    if need_w:
        x2 = x if x.ndim == 2 else x.reshape(-1, w.shape[1])
        f_ordered = isinstance(w, xp.ndarray) and w.flags.f_contiguous and not w.flags.c_contiguous
        gw = (x2.T @ g2).T if f_ordered else g2.T @ x2
    if need_b:
        # add.reduce is what .sum(axis=0) runs, without its Python wrapper
        gb = g2.sum(axis=0) if isinstance(g2, Tensor) else xp.add.reduce(g2, axis=0)
    return gx, gw, gb


def linear(x, weight, bias=None) -> Tensor:
    """x @ weight.T + bias, as one node (PyTorch's F.linear): x (..., in), weight (out, in),
    bias (out,). VJP: dx = g @ W, dW = g^T x, db = sum of g over the leading dims."""
    if not isinstance(x, Tensor):
        raise TypeError(f"linear: expected a Tensor input, got {type(x).__name__}")
    xd, wd = x._data, weight._data
    if xd.dtype != wd.dtype or (bias is not None and bias._data.dtype != wd.dtype):
        same_dtype("linear", x, weight, bias)  # PyTorch: "mat1 and mat2 must have the same dtype"
    if wd.ndim != 2 or not xd.ndim or xd.shape[-1] != wd.shape[1]:
        raise ValueError(
            f"linear: input of shape {xd.shape} does not fit weight of shape {wd.shape}: "
            f"expected (..., {wd.shape[-1] if wd.ndim else '?'}) inputs"
        )
    out = linear_forward(xd, wd, None if bias is None else bias._data)
    if not needs_graph(x, weight, bias):
        return wrap(out)
    parents = (x, weight) if bias is None else (x, weight, bias)
    need_b = bias is not None and bias.requires_grad
    return record("Linear", out, parents, linear_backward, (x, weight, x.requires_grad, weight.requires_grad, need_b))
