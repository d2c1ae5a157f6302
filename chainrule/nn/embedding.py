"""Embedding: a lookup table whose row i is the learned vector of token i. A lookup is indexing
into the weight, so the gradient of each used row is the sum of the gradients of its lookups.
EmbeddingBag reduces each bag (a run of indices) of lookups to one vector: their sum, mean or max.

Both are composed from ops (indexing, where, sum, amax): no backward rule of their own. sparse
gradients are refused (chainrule has no sparse tensors: the weight's gradient is dense)."""

import math

from chainrule import _backend
from chainrule._arguments import int_arg, number_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.ops.arithmetic import where
from chainrule.ops.indexing import getitem
from chainrule.ops.operands import floating, wrap
from chainrule.ops.reduce import amax


def _indices(input, num_embeddings, name):
    """The indices as an integer array, checked against the table size."""
    data = input._data if isinstance(input, Tensor) else input
    try:
        array = xp.asarray(data)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: cannot read indices from {type(input).__name__} ({err})") from None
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {array.dtype} (shape {array.shape})")
    if array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= num_embeddings:
            bad = low if low < 0 else high
            raise IndexError(
                f"{name}: index {bad} is out of range [0, {num_embeddings}) "
                f"(indices of shape {array.shape})"
            )
    return array


def embedding(input, weight: Tensor, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the integer ``input`` of any
    shape: the result has shape ``input.shape + (embedding_dim,)``. Lookups of ``padding_idx``
    send no gradient to that row. ``max_norm``: each looked-up row whose ``norm_type``-norm
    exceeds it is first rescaled in place to that norm (PyTorch's renorm, not recorded).
    ``scale_grad_by_freq``: each row's gradient is divided by the number of its lookups in input.

    >>> import chainrule as cr
    >>> weight = cr.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    >>> embedding(cr.tensor([[2, 1], [0, 2]]), weight).tolist()
    [[[3.0, 4.0], [1.0, 2.0]], [[0.0, 0.0], [3.0, 4.0]]]
    >>> embedding(cr.tensor([2]), weight, max_norm=1.0).tolist()  # row 2 renormalised in place
    [[0.6000000238418579, 0.800000011920929]]
    """
    _check_weight(weight, "embedding")
    name = f"embedding(weight of shape {weight._data.shape})"
    padding_idx = _padding_index(padding_idx, weight._data.shape[0], "embedding")
    _refuse_sparse(sparse, "embedding")
    indices = _indices(input, weight._data.shape[0], name)
    if max_norm is not None:
        _renorm_(weight, indices, max_norm, norm_type, "embedding")
    return _lookup(indices, weight, padding_idx, scale_grad_by_freq)


def _check_weight(weight, op):
    if not isinstance(weight, Tensor) or weight._data.ndim != 2:
        raise ValueError(
            f"{op}: weight must be a 2-D Tensor (num_embeddings, embedding_dim), got "
            f"{weight._data.shape if isinstance(weight, Tensor) else type(weight).__name__}"
        )


def _padding_index(padding_idx, num_embeddings, owner):
    """padding_idx checked and counted from the start (PyTorch stores a negative one that way)."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int) or not (
        -num_embeddings <= padding_idx < num_embeddings
    ):
        raise ValueError(
            f"{owner}: padding_idx must be an integer in [{-num_embeddings}, {num_embeddings}), got {padding_idx!r}"
        )
    return padding_idx % num_embeddings


def _refuse_sparse(sparse, owner):
    if sparse:  # NotImplementedError, as chainrule.sparse's refusals
        raise NotImplementedError(
            f"{owner}: sparse=True is not supported: chainrule has no sparse tensors, so the weight's "
            "gradient is dense (pass sparse=False)"
        )


def _renorm_(weight, indices, max_norm, norm_type, owner):
    """PyTorch's embedding_renorm_: each row in ``indices`` whose norm exceeds ``max_norm`` is
    scaled in place by ``max_norm / (norm + 1e-7)``. Not recorded (PyTorch runs it under
    no_grad); it counts as an in-place change of the weight, so a node that saved the weight
    before it refuses to backpropagate, as in PyTorch."""
    max_norm = number_arg(max_norm, "max_norm", owner, 0)
    norm_type = _norm_type(norm_type, owner)
    rows = xp.unique(indices)
    if not rows.size:
        return
    d = weight._data
    values = d[rows]
    if norm_type == math.inf:
        norms = xp.abs(values).max(axis=1)
    elif norm_type == -math.inf:
        norms = xp.abs(values).min(axis=1)
    elif norm_type == 0:
        norms = (values != 0).sum(axis=1).astype(d.dtype)
    else:
        norms = (xp.abs(values) ** norm_type).sum(axis=1) ** (1 / norm_type)
    large = norms > max_norm
    if large.any():
        d[rows[large]] = values[large] * (max_norm / (norms[large] + 1e-7))[:, None].astype(d.dtype)
        weight._bump_version()


def _norm_type(value, owner):
    """A p-norm's p: a real number, +-inf included (the max and min norms)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{owner}: norm_type must be a real number (inf allowed), got {value!r}")
    return float(value)


def _scaled_gradient(out, scale):
    """out in the forward, ``scale`` times the gradient in the backward (scale: a constant array
    that broadcasts against out): the constant copy carries the value, the difference (exactly
    0) carries the gradient."""
    values = wrap(out._data)
    return values + (out - values) * wrap(scale.astype(out._data.dtype, copy=False))


def _lookup(indices, weight, padding_idx, scale_grad_by_freq=False):
    out = getitem(weight, indices)
    if not needs_graph(weight):
        return out
    if scale_grad_by_freq:
        counts = xp.bincount(indices.reshape(-1), minlength=weight._data.shape[0])
        out = _scaled_gradient(out, (1.0 / counts[indices])[..., None])
    if padding_idx is not None:
        padding = indices == padding_idx
        if padding.any():
            # The padding lookups keep their values but become constants, so no gradient flows.
            out = where(~padding[..., None], out, wrap(out._data))
    return out


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``; input integer indices of
    any shape, output ``input.shape + (embedding_dim,)``.

    weight: (num_embeddings, embedding_dim), initialised N(0, 1) as in PyTorch. The row
    ``padding_idx`` (if given) starts at zero and is never updated by gradients. ``max_norm``:
    rows looked up are renormalised in place to at most that ``norm_type``-norm first;
    ``scale_grad_by_freq``: gradients divided by each index's count in the batch (see
    ``functional.embedding``). ``_weight``: a tensor to use as the weight (PyTorch's argument).

    >>> import chainrule as cr
    >>> table = Embedding(10, 3, padding_idx=0)
    >>> table(cr.tensor([[1, 2, 0], [4, 0, 9]])).shape
    (2, 3, 3)
    >>> table.weight._data[0].tolist()
    [0.0, 0.0, 0.0]
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        _backend.as_device(device, "Embedding")
        int_arg(num_embeddings, "num_embeddings", "Embedding")
        int_arg(embedding_dim, "embedding_dim", "Embedding")
        where = f"Embedding({num_embeddings}, {embedding_dim})"
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings, where)
        self.max_norm = None if max_norm is None else number_arg(max_norm, "max_norm", where, 0)
        self.norm_type = _norm_type(norm_type, where)
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        _refuse_sparse(sparse, where)
        self.sparse = False
        self.weight = _table(_weight, num_embeddings, embedding_dim, dtype, where, not _freeze)
        if _weight is None:
            self.reset_parameters()

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> "Embedding":
        """An Embedding holding a copy of the 2-D ``embeddings``; frozen (no gradient) by default."""
        data = _pretrained(embeddings, "Embedding.from_pretrained")
        dtype = data.dtype if data.dtype.kind == "f" else None
        table = cls(data.shape[0], data.shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                    dtype=dtype)
        table.weight._data[...] = data
        table.weight.requires_grad_(not freeze)
        return table

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input) -> Tensor:
        name = f"Embedding({self.num_embeddings}, {self.embedding_dim})"
        indices = _indices(input, self.num_embeddings, name)
        if self.max_norm is not None:
            _renorm_(self.weight, indices, self.max_norm, self.norm_type, name)
        return _lookup(indices, self.weight, self.padding_idx, self.scale_grad_by_freq)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s


def _table(weight, num_embeddings, embedding_dim, dtype, where, requires_grad=True):
    """The weight Parameter: ``weight`` itself (PyTorch's ``_weight``) or an empty table to fill."""
    if weight is None:
        dtype = dtype or _backend.get_default_dtype()
        return Parameter(xp.empty((num_embeddings, embedding_dim), dtype=dtype))
    data = weight._data if isinstance(weight, Tensor) else xp.asarray(weight)
    if data.shape != (num_embeddings, embedding_dim):
        raise ValueError(
            f"{where}: _weight has shape {data.shape}, expected (num_embeddings, embedding_dim) = "
            f"{(num_embeddings, embedding_dim)}"
        )
    return Parameter(data, requires_grad=requires_grad)


def _pretrained(embeddings, owner):
    data = embeddings._data if isinstance(embeddings, Tensor) else xp.asarray(embeddings)
    if data.ndim != 2:
        raise ValueError(f"{owner}: embeddings must be 2-D, got shape {data.shape}")
    return data


# ---------------------------------------------------------------------------- bags

_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(input, weight: Tensor, offsets=None, max_norm=None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False, per_sample_weights=None,
                  include_last_offset: bool = False, padding_idx=None) -> Tensor:
    """One vector per bag of indices: the sum, mean or max of its rows of ``weight``.

    input: (B, n) integer indices, B bags of n each (offsets must be None), or 1-D indices cut
    into bags by ``offsets`` (B,), the start of each bag (the first 0, non-decreasing; with
    ``include_last_offset`` one more entry, the end of the last bag). Returns (B, embedding_dim);
    an empty bag gives zeros. ``per_sample_weights`` (input's shape, mode "sum" only) weighs each
    lookup. Indices equal to ``padding_idx`` are left out of their bag (not counted by "mean").
    ``max_norm`` and ``scale_grad_by_freq`` act as in ``embedding`` (the latter not with "max").

    >>> import chainrule as cr
    >>> weight = cr.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    >>> embedding_bag(cr.tensor([0, 1, 2, 2]), weight, cr.tensor([0, 2]), mode="sum").tolist()
    [[1.0, 1.0], [4.0, 4.0]]
    """
    op = "embedding_bag"
    _check_weight(weight, op)
    if mode not in _BAG_MODES:
        raise ValueError(f"{op}: mode has to be one of sum, mean or max, got {mode!r}")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError(f"{op}: max mode does not support scaling the gradient by the frequency")
    _refuse_sparse(sparse, op)
    num = weight._data.shape[0]
    padding_idx = _padding_index(padding_idx, num, op)
    indices = _indices(input, num, f"{op}(weight of shape {weight._data.shape})")
    if per_sample_weights is not None:
        floating(per_sample_weights, f"{op}: per_sample_weights")
        if per_sample_weights.shape != indices.shape:
            raise ValueError(
                f"{op}: If per_sample_weights ({per_sample_weights.shape}) is not None, then it must have "
                f"the same shape as the input ({indices.shape})"
            )
        if mode != "sum":
            raise NotImplementedError(
                f"{op}: per_sample_weights was not None. per_sample_weights is only supported for "
                f"mode='sum' (got mode='{mode}')."
            )
    positions, inside = _bags(indices, offsets, include_last_offset, op)
    flat = indices.reshape(-1)
    if max_norm is not None:
        _renorm_(weight, flat, max_norm, norm_type, op)
    # (B, longest bag): each bag's indices, padded with index 0; the padding (and padding_idx) is
    # masked out of the reductions below, so it sends no gradient back
    picked = flat[positions] if flat.size else xp.zeros(positions.shape, dtype=xp.int64)
    if padding_idx is not None:
        inside = inside & (picked != padding_idx)
    rows = getitem(weight, picked)  # (B, longest, D)
    if scale_grad_by_freq and needs_graph(weight):  # counts over the whole input, as PyTorch's
        counts = xp.bincount(flat, minlength=num)
        rows = _scaled_gradient(rows, (1.0 / counts[picked])[..., None])
    mask = inside[..., None]
    if mode == "max":
        low = xp.array(-xp.inf, dtype=rows._data.dtype)
        best = amax(where(mask, rows, wrap(low)), 1)
        return where(inside.any(axis=1)[:, None], best, 0.0)
    if per_sample_weights is not None and flat.size:
        rows = rows * getitem(per_sample_weights.reshape(-1), positions).unsqueeze(-1)
    total = where(mask, rows, 0.0).sum(dim=1)
    if mode == "sum":
        return total
    counts = xp.maximum(inside.sum(axis=1), 1).astype(rows._data.dtype)
    return total / wrap(counts[:, None])


def _bags(indices, offsets, include_last_offset, op):
    """Each bag's positions in the flattened input, (B, longest bag) padded with a valid
    position, and the mask of the positions that belong to their bag."""
    if indices.ndim == 2:
        if offsets is not None:
            raise ValueError(
                f"{op}: if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                f"fixed length sequences. However, found offsets of type {type(offsets).__name__}"
            )
        bags, length = indices.shape
        positions = xp.arange(bags * length).reshape(bags, length)
        return positions, xp.ones(positions.shape, dtype=bool)
    if indices.ndim != 1:
        raise ValueError(f"{op}: input has to be 1D or 2D Tensor, but got Tensor of dimension {indices.ndim}")
    if offsets is None:
        raise ValueError(f"{op}: offsets has to be a 1D Tensor but got None")
    starts = offsets._data if isinstance(offsets, Tensor) else xp.asarray(offsets)
    if starts.ndim != 1 or starts.dtype.kind not in "iu":
        raise ValueError(
            f"{op}: offsets has to be a 1D Tensor of integers, got shape {starts.shape} dtype {starts.dtype}"
        )
    total = len(indices)
    if include_last_offset:
        if not len(starts):
            raise ValueError(f"{op}: include_last_offset needs at least one offset (the end of the last bag)")
        starts, ends = starts[:-1], starts[1:]
    else:
        ends = xp.append(starts[1:], total)
    if len(starts) and starts[0] != 0:
        raise ValueError(
            f"{op}: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
            f"position 0. However, got {starts[0]}"
        )
    if (xp.diff(starts) < 0).any() or (len(ends) and (ends.min() < 0 or ends.max() > total or (ends < starts).any())):
        raise ValueError(
            f"{op}: offsets must be non-decreasing and at most the input's length {total}, got {starts.tolist()}"
            + (f" and last offset {ends[-1]}" if include_last_offset and len(ends) else "")
        )
    sizes = ends - starts
    longest = int(sizes.max()) if len(sizes) else 0
    step = xp.arange(max(longest, 1))
    inside = step[None, :] < sizes[:, None]
    return xp.where(inside, starts[:, None] + step[None, :], 0), inside


class EmbeddingBag(Module):
    """Sums, means or maxima of bags of embeddings, without returning each lookup: input (B, n)
    (B bags of n indices) or 1-D indices with ``offsets`` (the start of each bag); returns
    (B, embedding_dim). Arguments as ``functional.embedding_bag``; weight (num_embeddings,
    embedding_dim) initialised N(0, 1), the padding row zero.

    >>> import chainrule as cr
    >>> bag = EmbeddingBag(10, 3, mode="sum")
    >>> bag(cr.tensor([1, 2, 4, 5, 4, 3, 2, 9]), cr.tensor([0, 4])).shape
    (2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm=None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False, _weight=None,
                 include_last_offset: bool = False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        _backend.as_device(device, "EmbeddingBag")
        int_arg(num_embeddings, "num_embeddings", "EmbeddingBag")
        int_arg(embedding_dim, "embedding_dim", "EmbeddingBag")
        where = f"EmbeddingBag({num_embeddings}, {embedding_dim})"
        if mode not in _BAG_MODES:
            raise ValueError(f"{where}: mode has to be one of sum, mean or max, got {mode!r}")
        if mode == "max" and scale_grad_by_freq:
            raise ValueError(f"{where}: max mode does not support scaling the gradient by the frequency")
        _refuse_sparse(sparse, where)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = None if max_norm is None else number_arg(max_norm, "max_norm", where, 0)
        self.norm_type = _norm_type(norm_type, where)
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        self.mode = mode
        self.sparse = False
        self.include_last_offset = bool(include_last_offset)
        self.padding_idx = _padding_index(padding_idx, num_embeddings, where)
        self.weight = _table(_weight, num_embeddings, embedding_dim, dtype, where)
        if _weight is None:
            self.reset_parameters()

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, max_norm=None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                        include_last_offset: bool = False, padding_idx=None) -> "EmbeddingBag":
        """An EmbeddingBag holding a copy of the 2-D ``embeddings``; frozen (no gradient) by default."""
        data = _pretrained(embeddings, "EmbeddingBag.from_pretrained")
        bag = cls(data.shape[0], data.shape[1], max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                  xp.array(data, dtype=data.dtype if data.dtype.kind == "f" else _backend.get_default_dtype()),
                  include_last_offset, padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input, offsets=None, per_sample_weights=None) -> Tensor:
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                             self.mode, False, per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        s += f", mode={self.mode!r}"
        if self.include_last_offset:
            s += ", include_last_offset=True"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
