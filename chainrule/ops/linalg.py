"""Matrix products: matmul for 1-D, 2-D and batched (broadcast) operands, the fused affine map of
a Linear layer, and einsum; PyTorch's named products (mm, bmm, dot, outer, addmm, tensordot ...)
are written with them."""

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
        gb = column_sums(g2)
    return gx, gw, gb


def column_sums(a2):
    """The sums of a 2-D ``a2``'s columns (a bias gradient over the rows of a batch): on float32 and
    float64 arrays ``ones @ a2``, a BLAS product that reads a2 once on both threads (0.08 ms against
    0.17 ms for add.reduce on (2048, 512) float32; benchmarks/NOTES.md, issue 18); other arrays
    (float16: no BLAS product) through add.reduce, tensors recorded."""
    if isinstance(a2, Tensor):
        return a2.sum(axis=0)
    if a2.dtype != xp.float32 and a2.dtype != xp.float64:
        return xp.add.reduce(a2, axis=0)  # what .sum(axis=0) runs, without its Python wrapper
    return xp.ones(a2.shape[0], dtype=a2.dtype) @ a2


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


# ---------------------------------------------------------------------------- einsum
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation: ``einsum("bij,bjk->bik", a, b)`` multiplies the operands' elements whose
    labels agree and sums over the labels the output leaves out; ``...`` stands for broadcast
    dims; a label repeated in one operand takes its diagonal; without ``->`` the output holds the
    labels that occur once, in alphabetical order.

    The gradient of each operand is an einsum of the output gradient with the other operands
    (ones and identity matrices standing in for labels only it has and for its diagonals), so it
    differentiates again.

    >>> from chainrule import tensor
    >>> einsum("ij,j->i", tensor([[1., 2.], [3., 4.]]), tensor([1., 1.]))
    tensor([3., 7.])
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a string, got {type(equation).__name__}")
    if not operands or not all(isinstance(o, Tensor) for o in operands):
        raise TypeError(f"einsum: expected Tensor operands, got {[type(o).__name__ for o in operands]}")
    inputs, output = _parse(equation.replace(" ", ""), [o._data.ndim for o in operands])
    operands = _broadcast_labels(inputs, operands)
    same_dtype("einsum", *operands)
    return contract(tuple(inputs), output, *operands)


def _parse(equation, ndims):
    """Explicit labels for every dim: ``...`` becomes fresh letters (right-aligned, as broadcast
    dims are), and the implicit output is made explicit."""
    left, arrow, right = equation.partition("->")
    inputs = left.split(",")
    if len(inputs) != len(ndims):
        raise ValueError(f"einsum: equation {equation!r} has {len(inputs)} operands, but {len(ndims)} were given")
    used = set(equation) - set(".,->")
    if not used <= set(_LETTERS):
        raise ValueError(f"einsum: labels must be letters a-z or A-Z, got {equation!r}")
    spare = [c for c in _LETTERS if c not in used]
    widths = []
    for spec, ndim in zip(inputs, ndims):
        named = len(spec.replace("...", ""))
        stray_dot = "." in spec.replace("...", "")
        if spec.count("...") > 1 or ("..." not in spec and named != ndim) or named > ndim or stray_dot:
            raise ValueError(f"einsum: subscripts {spec!r} do not fit an operand with {ndim} dims")
        widths.append(ndim - named if "..." in spec else 0)
    ellipsis = "".join(spare[: max(widths, default=0)])
    inputs = [spec.replace("...", ellipsis[len(ellipsis) - w:]) for spec, w in zip(inputs, widths)]
    if arrow:  # (an output without "..." sums the ellipsis dims)
        output = right.replace("...", ellipsis)
        if len(set(output)) != len(output) or not set(output) <= set("".join(inputs)):
            raise ValueError(f"einsum: output {right!r} repeats a label or has one no operand has")
    else:
        counts = "".join(inputs)
        output = ellipsis + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in ellipsis))
    return inputs, output


def _broadcast_labels(inputs, operands):
    """Operands whose size-1 dims are broadcast to the size the label has elsewhere."""
    from chainrule.ops.shape import broadcast_to

    sizes = {}
    for spec, o in zip(inputs, operands):
        for label, n in zip(spec, o._data.shape):
            if sizes.get(label, 1) not in (1, n) and n != 1:
                raise ValueError(f"einsum: label {label!r} has sizes {sizes[label]} and {n} in different operands")
            if n != 1 or label not in sizes:
                sizes[label] = n
    out = []
    for spec, o in zip(inputs, operands):
        target = tuple(sizes[label] for label in spec)
        for label, n in zip(spec, o._data.shape):
            if n != sizes[label] and spec.count(label) > 1:
                raise ValueError(f"einsum: the repeated label {label!r} has different sizes within {spec!r}")
        out.append(o if o._data.shape == target else broadcast_to(o, target))
    return out


def contract(inputs: tuple, output: str, *operands):
    """``np.einsum`` with explicit labels (no ``...``, no broadcasting) of arrays, or of tensors
    and arrays (recorded: one node, its rule ``_contract_vjp``)."""
    spec = ",".join(inputs) + "->" + output
    if not any(isinstance(o, Tensor) for o in operands):
        return _einsum_arrays(spec, operands)
    operands = tuple(o if isinstance(o, Tensor) else constant(o) for o in operands)
    out = _einsum_arrays(spec, [o._data for o in operands])
    if not needs_graph(*operands):
        return wrap(out)
    sizes = {label: n for spec_, o in zip(inputs, operands) for label, n in zip(spec_, o._data.shape)}
    needs = tuple(o.requires_grad for o in operands)
    return record("Einsum", out, operands, _contract_vjp, (inputs, output, sizes, needs, *operands))


def _einsum_arrays(spec, arrays):
    # NumPy's own einsum loop is simple but never calls BLAS; its path optimizer hands large
    # contractions to tensordot (BLAS) and orders three or more operands, at ~50 us of planning.
    large = len(arrays) > 2 or any(a.size >= 4096 for a in arrays)
    return xp.einsum(spec, *arrays, optimize=large)


def _contract_vjp(g, inputs, output, sizes, needs, *operands):
    grads = []
    dtype = (g._data if isinstance(g, Tensor) else g).dtype
    for i, (spec, need) in enumerate(zip(inputs, needs)):
        if not need:
            grads.append(None)
            continue
        specs = [output, *(s for j, s in enumerate(inputs) if j != i)]
        parts = [g, *(o for j, o in enumerate(operands) if j != i)]
        spare = iter(c for c in _LETTERS if c not in sizes)
        target = ""
        for label in spec:
            if label in target:  # a diagonal: an identity matrix ties a fresh label to it
                fresh = next(spare)
                specs.append(label + fresh)
                parts.append(xp.eye(sizes[label], dtype=dtype))
                label = fresh
            target += label
        reached = set("".join(specs))
        for label in dict.fromkeys(spec):
            if label not in reached:  # summed over in this operand alone: its gradient is broadcast
                specs.append(label)
                parts.append(xp.ones(sizes[label], dtype=dtype))
        grads.append(contract(tuple(specs), target, *parts))
    return tuple(grads)


# ---------------------------------------------------------------------------- products by name
# PyTorch's named products, each matmul, einsum or elementwise ops with its checks.


def _check_ndim(op, expected, *tensors):
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
    shapes = [t._data.shape for t in tensors]
    if [len(s) for s in shapes] != list(expected):
        raise ValueError(f"{op}: expected operands with {list(expected)} dims, got shapes {shapes}")


def mm(input, mat2) -> Tensor:
    """The matrix product of two 2-D tensors: (n, k) @ (k, m) -> (n, m)."""
    _check_ndim("mm", (2, 2), input, mat2)
    return matmul(input, mat2)


def bmm(input, mat2) -> Tensor:
    """Batched matrix products of two 3-D tensors: (b, n, k) @ (b, k, m) -> (b, n, m), no broadcasting."""
    _check_ndim("bmm", (3, 3), input, mat2)
    if input._data.shape[0] != mat2._data.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: shapes {input._data.shape} and {mat2._data.shape}")
    return matmul(input, mat2)


def mv(input, vec) -> Tensor:
    """A matrix times a vector: (n, m) @ (m,) -> (n,)."""
    _check_ndim("mv", (2, 1), input, vec)
    return matmul(input, vec)


def dot(input, other) -> Tensor:
    """The inner product of two 1-D tensors of one length and dtype (a 0-d tensor)."""
    _check_ndim("dot", (1, 1), input, other)
    return matmul(input, other)


vdot = dot  # (for real tensors: no conjugation to do)


def outer(input, vec2) -> Tensor:
    """The outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``."""
    _check_ndim("outer", (1, 1), input, vec2)
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def inner(input, other) -> Tensor:
    """Sums of products over the last dims: shape ``input.shape[:-1] + other.shape[:-1]`` (a
    product with a number for 0-d operands)."""
    if not input._data.ndim or not other._data.ndim:
        return input * other
    a, b = _LETTERS[: input._data.ndim - 1], _LETTERS[26 : 26 + other._data.ndim - 1]
    return einsum(f"{a}z,{b}z->{a}{b}", input, other)


def cross(input, other, dim=None) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (None: the first dim of size 3, as torch.cross;
    torch.linalg.cross uses -1). The operands broadcast."""
    from chainrule.ops.indexing import getitem
    from chainrule.ops.operands import dims
    from chainrule.ops.shape import broadcast_to, stack

    shape = xp.broadcast_shapes(input._data.shape, other._data.shape)
    input, other = broadcast_to(input, shape), broadcast_to(other, shape)
    if dim is None:
        dim = next((i for i, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise ValueError(f"cross: no dim of size 3 in shape {shape}")
    (axis,) = dims(dim, len(shape), "cross")
    if shape[axis] != 3:
        raise ValueError(f"cross: dim {dim} of shape {shape} has size {shape[axis]}, expected 3")
    a = [getitem(input, (slice(None),) * axis + (i,)) for i in range(3)]
    b = [getitem(other, (slice(None),) * axis + (i,)) for i in range(3)]
    parts = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    return stack(parts, axis)


def _scaled_sum(input, product, beta, alpha):
    """``beta * input + alpha * product``; with beta = 0 input is ignored (its nan and inf too)."""
    product = product if alpha == 1 else product * alpha
    if beta == 0:
        from chainrule.ops.shape import broadcast_to

        return broadcast_to(product, xp.broadcast_shapes(input._data.shape, product._data.shape))
    return (input if beta == 1 else input * beta) + product


def addmm(input, mat1, mat2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``, input broadcast to the product's shape."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``."""
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (batch1 @ batch2)`` for 3-D batches."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2`` (broadcasting)."""
    return input + (tensor1 * tensor2 if value == 1 else value * tensor1 * tensor2)


def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2`` (broadcasting)."""
    return input + (tensor1 / tensor2 if value == 1 else value * tensor1 / tensor2)


def tensordot(a, b, dims=2) -> Tensor:
    """Sums of products over the last ``dims`` dims of a and the first of b (an int), or over the
    listed pairs of dims (``([1, 0], [0, 1])``): an einsum."""
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, int):
        pairs = (list(range(na - dims, na)), list(range(dims)))
    else:
        pairs = tuple([side] if isinstance(side, int) else list(side) for side in dims)
    if len(pairs[0]) != len(pairs[1]) or na + nb > len(_LETTERS):
        raise ValueError(f"tensordot: dims {dims} do not pair up dims of shapes {a._data.shape} and {b._data.shape}")
    la, lb = list(_LETTERS[:na]), list(_LETTERS[na : na + nb])
    for i, j in zip(*pairs):
        lb[j % nb] = la[i % na]
    shared = set(la) & set(lb)
    out = "".join(c for c in la if c not in shared) + "".join(c for c in lb if c not in shared)
    return einsum(f"{''.join(la)},{''.join(lb)}->{out}", a, b)


def kron(input, other) -> Tensor:
    """The Kronecker product: every element of input times the whole of other, in blocks."""
    n = max(input._data.ndim, other._data.ndim)
    a = input.reshape((1,) * (n - input._data.ndim) + input._data.shape)
    b = other.reshape((1,) * (n - other._data.ndim) + other._data.shape)
    interleaved = a.reshape(tuple(s for k in a._data.shape for s in (k, 1))) * b.reshape(
        tuple(s for k in b._data.shape for s in (1, k))
    )
    return interleaved.reshape(tuple(p * q for p, q in zip(a._data.shape, b._data.shape)))
