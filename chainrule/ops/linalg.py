"""Matrix products: matmul for 1-D, 2-D and batched (broadcast) operands, and the fused affine
map of a Linear layer."""

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import record
from chainrule.autograd.mode import state
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
    input gradient of one with one output) go through ``_outer_product``.
    """
    if a.ndim != 2:
        if a.shape[-1] == 1:
            return _matmul_2d(a.reshape(-1, 1), b).reshape(*a.shape[:-1], b.shape[1])
        return a @ b
    if a.shape[0] >= b.shape[1] or a.shape[1] == 1 or a.shape[0] * b.shape[1] < 4096:
        return _matmul_2d(a, b)  # (small products: the orientation gains nothing, the views cost)
    return (b.T @ a.T).T


def _matmul_2d(a, b):
    """a @ b for 2-D arrays; large outer products through ``_outer_product`` (small ones cost
    less as they are than the padding does)."""
    if a.shape[1] == 1 and a.shape[0] * b.shape[1] >= 4096:
        return _outer_product(a, b)
    return a @ b


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
    that input needs it.
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
    if not (state.grad_enabled and (a.requires_grad or b.requires_grad)):
        return wrap(out)
    need_a, need_b = a.requires_grad, b.requires_grad
    if ad.ndim == 2 and bd.ndim == 2:
        return record(
            "Mm", out, (a, b),
            lambda g: (_matmul_2d(g, bd.T) if need_a else None, _matmul_2d(ad.T, g) if need_b else None),
        )

    def matmul_vjp(g):
        # Treat vectors as matrices (a row for a, a column for b) so one batched rule covers all.
        a2 = ad[None, :] if ad.ndim == 1 else ad
        b2 = bd[:, None] if bd.ndim == 1 else bd
        g2 = g[..., None] if bd.ndim == 1 else g
        if ad.ndim == 1:
            g2 = g2[..., None, :]
        ga = gb = None
        if need_a:
            ga = g2 @ xp.swapaxes(b2, -1, -2)
            if ad.ndim == 1:  # (..., 1, k): sum the batch dims (reshape(-1, k) fails for k = 0)
                ga = ga[..., 0, :].sum(axis=tuple(range(ga.ndim - 2)))
        if need_b:
            gb = xp.swapaxes(a2, -1, -2) @ g2
            if bd.ndim == 1:  # (..., k, 1)
                gb = gb[..., 0].sum(axis=tuple(range(gb.ndim - 2)))
        return ga, gb

    return record("Matmul", out, (a, b), matmul_vjp)


def linear_forward(xd, wd, bd):
    """x @ W^T + b on arrays (bd may be None), the product computed as ``product`` explains."""
    out = product(xd, wd.T)
    if bd is not None:
        out += bd
    return out


def linear_backward(g, xd, wd, need_x, need_w, need_b):
    """(input, weight, bias) gradients of ``linear_forward`` for output gradient g (None where not
    needed). The weight gradient comes in the weight's memory order, so the optimizer's passes
    over both stay contiguous (a C-ordered gradient for an F-ordered weight would make every
    pass a transpose)."""
    g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
    plain = xd.ndim == 2
    gx = product(g, wd) if need_x else None
    gw = gb = None
    if need_w:
        x2 = xd if plain else xd.reshape(-1, wd.shape[1])
        gw = (x2.T @ g2).T if wd.flags.f_contiguous and not wd.flags.c_contiguous else g2.T @ x2
    if need_b:
        gb = xp.add.reduce(g2, axis=0)  # what .sum(axis=0) runs, without its Python wrapper
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
    parents = (x, weight) if bias is None else (x, weight, bias)
    need_x, need_w = x.requires_grad, weight.requires_grad
    need_b = bias is not None and bias.requires_grad
    if not (state.grad_enabled and (need_x or need_w or need_b)):
        return wrap(out)

    def linear_vjp(g):
        return linear_backward(g, xd, wd, need_x, need_w, need_b)

    return record("Linear", out, parents, linear_vjp)
