"""Sequences of different lengths in one batch: padded to a common length (pad_sequence), or
packed (PackedSequence: the batch's elements time step by time step, longest sequence first,
with nothing stored for the padding), as the recurrent layers take them.

Packing and padding are gathers of rows (indexing with integer arrays, joined with a padding row
by concatenate), so they are differentiable to any order without a rule of their own.
"""

from collections import namedtuple
from collections.abc import Iterable

import numpy as np

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.ops.indexing import getitem
from chainrule.ops.operands import wrap
from chainrule.ops.shape import concatenate, transpose


def _index_tensor(array) -> Tensor:
    return Tensor._make(xp.asarray(array, dtype=xp.int64), False, None)


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A batch of sequences packed time step by time step (made by ``pack_padded_sequence`` or
    ``pack_sequence``, taken and returned by RNN, LSTM and GRU):

    - data (sum of lengths, *): step 0 of every sequence, then step 1 of those that have one...,
      the sequences in order of decreasing length;
    - batch_sizes (int64, one per step): how many sequences have that step;
    - sorted_indices: the batch position of the i-th longest sequence (None when the batch came
      sorted), unsorted_indices its inverse.

    >>> import chainrule as cr
    >>> packed = pack_sequence([cr.tensor([1, 2, 3]), cr.tensor([4, 5]), cr.tensor([6])])
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1, 4, 6, 2, 5, 3], [3, 2, 1])
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PyTorch's older form: PackedSequence((data, batch_sizes))
            if not (isinstance(data, (tuple, list)) and len(data) == 2):
                raise TypeError("PackedSequence: expected data and batch_sizes, or one pair (data, batch_sizes)")
            data, batch_sizes = data
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> "PackedSequence":
        """The same packing with ``data.to(*args, **kwargs)`` (self when that changes nothing)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self, *args, **kwargs) -> "PackedSequence":
        return self  # chainrule's tensors live on the CPU

    def cuda(self, *args, **kwargs) -> "PackedSequence":
        return self.to("cuda", *args, **kwargs)

    def double(self) -> "PackedSequence":
        return self.to(np.float64)

    def float(self) -> "PackedSequence":
        return self.to(np.float32)

    def half(self) -> "PackedSequence":
        return self.to(np.float16)

    def long(self) -> "PackedSequence":
        return self.to(np.int64)

    def int(self) -> "PackedSequence":
        return self.to(np.int32)

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False

    def pin_memory(self) -> "PackedSequence":
        return self


def invert_permutation(permutation):
    """The inverse of a permutation of 0..n-1 (None for None): ``out[permutation[i]] = i``."""
    if permutation is None:
        return None
    p = permutation._data if isinstance(permutation, Tensor) else np.asarray(permutation)
    inverse = np.empty_like(p, dtype=np.int64)
    inverse[p] = np.arange(len(p))
    return _index_tensor(inverse)


def _lengths(lengths, where) -> np.ndarray:
    values = lengths._data if isinstance(lengths, Tensor) else lengths
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        array = np.asarray(None)
    if array.ndim != 1 or array.dtype.kind not in "iuf" or not np.isfinite(array).all():
        raise TypeError(f"{where}: lengths must be a 1-d list or tensor of integers, got {lengths!r}"[:300])
    return array.astype(np.int64)


def _padded_positions(batch_sizes: np.ndarray, total_length: int) -> np.ndarray:
    """(total_length, B): where step t of the b-th longest sequence lies in packed data, and
    ``batch_sizes.sum()`` (the padding row that follows the data) where it has no step t."""
    steps, batch = len(batch_sizes), int(batch_sizes[0])
    starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    positions = np.full((total_length, batch), int(batch_sizes.sum()), dtype=np.int64)
    column = np.arange(batch)
    present = column[None, :] < batch_sizes[:, None]  # (steps, B)
    positions[:steps][present] = (starts[:, None] + column[None, :])[present]
    return positions


def _with_padding_row(data: Tensor, padding_value) -> Tensor:
    """``data`` with one more row along dim 0, filled with padding_value: the row a gather takes
    for the padding."""
    row = wrap(xp.full((1, *data._data.shape[1:]), padding_value, dtype=data._data.dtype))
    return concatenate([data, row], 0)


def _check_tensor(x, name, where, min_dims):
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: {name} must be a Tensor, got {type(x).__name__}")
    if x._data.ndim < min_dims:
        raise ValueError(f"{where}: {name} needs at least {min_dims} dims, got shape {x._data.shape}")


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch ``input`` (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of
    the given ``lengths`` (a list or tensor, one per sequence, each in 1..T).

    With ``enforce_sorted`` the lengths must be non-increasing (the batch comes sorted);
    otherwise the sequences are sorted here and ``sorted_indices`` records the order, so that
    ``pad_packed_sequence`` and the recurrent layers give results in the batch's own order.
    Differentiable (a gather of input's rows).

    >>> import chainrule as cr
    >>> padded = cr.tensor([[1, 2, 0], [3, 4, 5]])        # batch_first: lengths 2 and 3
    >>> packed = pack_padded_sequence(padded, [2, 3], batch_first=True, enforce_sorted=False)
    >>> packed.data.tolist(), packed.batch_sizes.tolist(), packed.sorted_indices.tolist()
    ([3, 1, 4, 2, 5], [2, 2, 1], [1, 0])
    """
    where = "pack_padded_sequence"
    _check_tensor(input, "input", where, 2)
    lengths = _lengths(lengths, where)
    steps, batch = input._data.shape[1::-1] if batch_first else input._data.shape[:2]
    if len(lengths) != batch:
        raise ValueError(
            f"{where}: got {len(lengths)} lengths for a batch of {batch} sequences "
            f"(input of shape {input._data.shape}, batch_first={batch_first})"
        )
    if (lengths <= 0).any() or (lengths > steps).any():
        raise ValueError(f"{where}: every length must lie in 1..{steps} (the padded length), got {lengths.tolist()}")
    if enforce_sorted:
        if (np.diff(lengths) > 0).any():
            raise ValueError(
                f"{where}: lengths {lengths.tolist()} must be in decreasing order when enforce_sorted=True; "
                "pass enforce_sorted=False to have the sequences sorted here"
            )
        order = sorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")  # ties keep their order, as PyTorch's sort here
        lengths = lengths[order]
        sorted_indices = _index_tensor(order)
    step, column = np.nonzero(np.arange(lengths[0])[:, None] < lengths[None, :])  # packed order
    sequence = column if order is None else order[column]
    data = getitem(input, (sequence, step) if batch_first else (step, sequence))
    batch_sizes = np.bincount(step)
    return PackedSequence(data, _index_tensor(batch_sizes), sorted_indices)


def pad_packed_sequence(
    sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0, total_length: int | None = None
) -> tuple:
    """Undo ``pack_padded_sequence``: the padded batch (T, B, *) (or (B, T, *) with
    ``batch_first``), in the batch's original order, and the lengths (an int64 tensor).

    T is the longest length, or ``total_length`` when given (at least that). Differentiable.

    >>> import chainrule as cr
    >>> padded, lengths = pad_packed_sequence(pack_sequence([cr.tensor([1, 2]), cr.tensor([3])]), batch_first=True)
    >>> padded.tolist(), lengths.tolist()
    ([[1, 2], [3, 0]], [2, 1])
    """
    where = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{where}: expected a PackedSequence, got {type(sequence).__name__}")
    batch_sizes = _lengths(sequence.batch_sizes, where)
    steps = len(batch_sizes)
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, (int, np.integer)):
            raise TypeError(f"{where}: total_length must be an integer or None, got {total_length!r}")
        if total_length < steps:
            raise ValueError(
                f"{where}: total_length={total_length} is shorter than the longest sequence ({steps} steps)"
            )
        steps = int(total_length)
    positions = _padded_positions(batch_sizes, steps)
    lengths = (batch_sizes[None, :] > np.arange(batch_sizes[0])[:, None]).sum(1)
    if sequence.unsorted_indices is not None:
        unsorted = sequence.unsorted_indices._data
        positions, lengths = positions[:, unsorted], lengths[unsorted]
    padded = getitem(_with_padding_row(sequence.data, padding_value), positions.T if batch_first else positions)
    return padded, _index_tensor(lengths)


def pad_sequence(
    sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"
) -> Tensor:
    """Stack sequences of different lengths, each (L_i, *), into one (T, B, *) tensor (or
    (B, T, *) with ``batch_first``), T the longest length, the rest filled with padding_value
    on the right (or on the left with ``padding_side='left'``). Differentiable.

    >>> import chainrule as cr
    >>> pad_sequence([cr.tensor([1, 2, 3]), cr.tensor([4])], batch_first=True).tolist()
    [[1, 2, 3], [4, 0, 0]]
    >>> pad_sequence([cr.tensor([1, 2, 3]), cr.tensor([4])], batch_first=True, padding_side="left").tolist()
    [[1, 2, 3], [0, 0, 4]]
    """
    where = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise ValueError(f"{where}: padding_side must be 'left' or 'right', got {padding_side!r}")
    if isinstance(sequences, Tensor):
        sequences = [getitem(sequences, i) for i in range(len(sequences))]
    elif not isinstance(sequences, Iterable):
        raise TypeError(f"{where}: expected a list of tensors, got {type(sequences).__name__}")
    sequences = list(sequences)
    if not sequences:
        raise ValueError(f"{where}: got no sequences")
    for i, s in enumerate(sequences):
        _check_tensor(s, f"sequences[{i}]", where, 1)
    trailing = {s._data.shape[1:] for s in sequences}
    if len(trailing) > 1:
        raise ValueError(f"{where}: the sequences' shapes differ beyond dim 0: {[s._data.shape for s in sequences]}")
    lengths = np.array([s._data.shape[0] for s in sequences])
    steps, ends = int(lengths.max()), np.cumsum(lengths)
    starts = ends - lengths
    t = np.arange(steps)[:, None]
    first = steps - lengths if padding_side == "left" else np.zeros_like(lengths)  # where each sequence begins
    present = (t >= first) & (t < first + lengths)
    positions = np.where(present, starts + t - first, ends[-1])  # ends[-1]: the padding row
    joined = _with_padding_row(concatenate(sequences, 0), padding_value)
    return getitem(joined, positions.T if batch_first else positions)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """Undo ``pad_sequence`` (right padding): the list of sequences, the b-th cut to lengths[b].

    >>> import chainrule as cr
    >>> [s.tolist() for s in unpad_sequence(cr.tensor([[1, 2], [3, 0]]), [2, 1], batch_first=True)]
    [[1, 2], [3]]
    """
    where = "unpad_sequence"
    _check_tensor(padded_sequences, "padded_sequences", where, 2)
    lengths = _lengths(lengths, where)
    if not batch_first:
        padded_sequences = transpose(padded_sequences, 0, 1)
    if len(lengths) != padded_sequences._data.shape[0]:
        raise ValueError(f"{where}: got {len(lengths)} lengths for {padded_sequences._data.shape[0]} sequences")
    return [getitem(padded_sequences, (b, slice(0, int(n)))) for b, n in enumerate(lengths)]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences, each (L_i, *): ``pack_padded_sequence(pad_sequence(sequences),
    lengths, enforce_sorted=enforce_sorted)``."""
    sequences = list(sequences)
    padded = pad_sequence(sequences)
    return pack_padded_sequence(padded, [s._data.shape[0] for s in sequences], enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """Undo ``pack_sequence``: the list of sequences, in their original order.

    >>> import chainrule as cr
    >>> packed = pack_sequence([cr.tensor([1]), cr.tensor([2, 3])], enforce_sorted=False)
    >>> [s.tolist() for s in unpack_sequence(packed)]
    [[1], [2, 3]]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return [getitem(padded, (b, slice(0, n))) for b, n in enumerate(lengths.tolist())]
