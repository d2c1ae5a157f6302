"""Embedding: a lookup table whose row i is the learned vector of token i. A lookup is indexing
into the weight, so the gradient of each used row is the sum of the gradients of its lookups."""

from chainrule import _backend
from chainrule._arguments import int_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.ops.arithmetic import where
from chainrule.ops.indexing import getitem
from chainrule.ops.operands import wrap


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


def embedding(input, weight: Tensor, padding_idx=None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the integer ``input`` of any
    shape: the result has shape ``input.shape + (embedding_dim,)``. Lookups of ``padding_idx``
    send no gradient to that row.

    >>> import chainrule as cr
    >>> weight = cr.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    >>> embedding(cr.tensor([[2, 1], [0, 2]]), weight).tolist()
    [[[3.0, 4.0], [1.0, 2.0]], [[0.0, 0.0], [3.0, 4.0]]]
    """
    if not isinstance(weight, Tensor) or weight._data.ndim != 2:
        raise ValueError(
            f"embedding: weight must be a 2-D Tensor (num_embeddings, embedding_dim), got "
            f"{weight._data.shape if isinstance(weight, Tensor) else type(weight).__name__}"
        )
    return _lookup(input, weight, padding_idx, f"embedding(weight of shape {weight._data.shape})")


def _lookup(input, weight, padding_idx, name):
    num = weight._data.shape[0]
    indices = _indices(input, num, name)
    out = getitem(weight, indices)
    if padding_idx is not None and needs_graph(weight):
        padding = indices == (padding_idx % num)
        if padding.any():
            # The padding lookups keep their values but become constants, so no gradient flows.
            out = where(~padding[..., None], out, wrap(out._data))
    return out


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``; input integer indices of
    any shape, output ``input.shape + (embedding_dim,)``.

    weight: (num_embeddings, embedding_dim), initialised N(0, 1) as in PyTorch. The row
    ``padding_idx`` (if given) starts at zero and is never updated by gradients.

    >>> import chainrule as cr
    >>> table = Embedding(10, 3, padding_idx=0)
    >>> table(cr.tensor([[1, 2, 0], [4, 0, 9]])).shape
    (2, 3, 3)
    >>> table.weight._data[0].tolist()
    [0.0, 0.0, 0.0]
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, device=None, dtype=None):
        super().__init__()
        _backend.as_device(device, "Embedding")
        int_arg(num_embeddings, "num_embeddings", "Embedding")
        int_arg(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, int) or not (
                -num_embeddings <= padding_idx < num_embeddings
            ):
                raise ValueError(
                    f"Embedding({num_embeddings}, {embedding_dim}): padding_idx must be an integer in "
                    f"[{-num_embeddings}, {num_embeddings}), got {padding_idx!r}"
                )
            padding_idx %= num_embeddings  # PyTorch stores a negative padding_idx counted from the end
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        dtype = dtype or _backend.get_default_dtype()
        self.weight = Parameter(xp.empty((num_embeddings, embedding_dim), dtype=dtype))
        self.reset_parameters()

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None) -> "Embedding":
        """An Embedding holding a copy of the 2-D ``embeddings``; frozen (no gradient) by default."""
        data = embeddings._data if isinstance(embeddings, Tensor) else xp.asarray(embeddings)
        if data.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {data.shape}")
        dtype = data.dtype if data.dtype.kind == "f" else None
        table = cls(data.shape[0], data.shape[1], padding_idx, dtype=dtype)
        table.weight._data[...] = data
        table.weight.requires_grad_(not freeze)
        return table

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input) -> Tensor:
        name = f"Embedding({self.num_embeddings}, {self.embedding_dim})"
        return _lookup(input, self.weight, self.padding_idx, name)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s if self.padding_idx is None else s + f", padding_idx={self.padding_idx}"
