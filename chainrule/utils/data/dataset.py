"""Data sets as PyTorch shapes them: a map-style Dataset is anything with ``len`` and ``[i]``, an
IterableDataset a stream of samples; TensorDataset over arrays; ConcatDataset, StackDataset and
ChainDataset join data sets; Subset and random_split hold samples out."""

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

from chainrule import random
from chainrule._tensor import Tensor
from chainrule.creation import from_numpy, tensor


class Dataset:
    """A map-style data set: ``len(ds)`` samples, ``ds[i]`` the i-th (usually a tuple
    ``(input, target)``). Subclasses define both; ``a + b`` concatenates (ConcatDataset)."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other) -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A data set read as a stream: subclasses define ``__iter__`` (and may define ``__len__``).
    A DataLoader batches the samples in the order the stream gives them (no shuffling, no
    sampler); ``a + b`` chains two streams (ChainDataset).

    >>> class Squares(IterableDataset):
    ...     def __iter__(self):
    ...         return (k * k for k in range(4))
    >>> list(Squares() + Squares())
    [0, 1, 4, 9, 0, 1, 4, 9]
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __len__(self) -> int:
        # TypeError, as for an object without len (list() then just reads the stream)
        raise TypeError(f"{type(self).__name__}: this stream has no len() (define __len__ to give one)")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it, it has no [i]")

    def __add__(self, other) -> "ChainDataset":
        return ChainDataset([self, other])


def _as_tensor(data) -> Tensor:
    """A tensor as it is, an array shared with its own dtype, anything else as chainrule.tensor
    reads it (Python floats in the default dtype)."""
    if isinstance(data, Tensor):
        return data
    return from_numpy(data) if isinstance(data, np.ndarray) else tensor(data)


class TensorDataset(Dataset):
    """Samples are rows of equally long tensors: ``ds[i] == (t[i] for t in tensors)``.

    Arrays are wrapped as tensors without copying (Python lists of floats become float32).

    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((5, 3), np.float32), np.arange(5))
    >>> len(ds), ds[2][1].item()
    (5, 2)
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor or array, got none")
        tensors = tuple(_as_tensor(t) for t in tensors)
        for t in tensors:
            if t.ndim == 0:
                raise ValueError("TensorDataset: tensors need a first (sample) dimension, got a 0-d one")
        if len({len(t) for t in tensors}) > 1:
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise ValueError(f"TensorDataset: the tensors differ in their first dimension: shapes {shapes}")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)


class ConcatDataset(Dataset):
    """The samples of ``datasets``, one data set after the other.

    >>> ds = ConcatDataset([range(3), range(10, 12)])
    >>> len(ds), ds[3], ds[-1], ds.cumulative_sizes
    (5, 10, 11, [3, 5])
    """

    def __init__(self, datasets: Iterable):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets is empty; expected at least one data set")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset: cannot index an IterableDataset; join streams with ChainDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        index = index + n if index < 0 else index
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


class StackDataset(Dataset):
    """Samples of several equally long data sets side by side: ``StackDataset(a, b)[i] ==
    (a[i], b[i])``, ``StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}``.

    >>> StackDataset(range(3), "abc")[1], StackDataset(n=range(3))[2]
    ((1, 'b'), {'n': 2})
    """

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("StackDataset: give the data sets as positional or as keyword arguments, not both")
        if not args and not kwargs:
            raise ValueError("StackDataset: expected at least one data set")
        self.datasets = args or kwargs
        lengths = [len(d) for d in (args or kwargs.values())]
        if len(set(lengths)) > 1:
            raise ValueError(f"StackDataset: the data sets differ in length: {lengths}")
        self._length = lengths[0]

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {key: d[index] for key, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)


class ChainDataset(IterableDataset):
    """The streams of ``datasets`` (IterableDatasets), one after the other."""

    def __init__(self, datasets: Iterable):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset: expected IterableDatasets, got a {type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices: Sequence[int]):
        index_array = np.asarray(indices)
        if index_array.ndim != 1 or (index_array.dtype.kind not in "iu" and index_array.size):
            raise TypeError(
                f"Subset: indices must be a 1-d sequence of integers, got {index_array.dtype} values of "
                f"shape {index_array.shape}"
            )
        self.dataset = dataset
        self.indices = index_array.astype(np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, list):  # a batch of indices, as PyTorch's Subset passes it on
            return self.dataset[[int(self.indices[i]) for i in index]]
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices`` (a DataLoader's batch), fetched through the data set's own
        ``__getitems__`` when it has one."""
        rows = [int(self.indices[i]) for i in indices]
        fetch = getattr(self.dataset, "__getitems__", None)
        return fetch(rows) if callable(fetch) else [self.dataset[i] for i in rows]


def _split_lengths(n: int, lengths) -> list:
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if not all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) for x in lengths):
        raise TypeError(f"random_split: lengths must be integers or fractions, got {lengths!r}"[:300])
    if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in lengths):
        if any(x < 0 for x in lengths) or sum(lengths) != n:
            raise ValueError(
                f"random_split: lengths {lengths} must be non-negative and sum to the data set's "
                f"length {n} (or be fractions summing to 1)"
            )
        return [int(x) for x in lengths]
    if any(not 0 <= x <= 1 for x in lengths) or abs(sum(lengths) - 1) > 1e-6:
        raise ValueError(f"random_split: fractions {lengths} must lie in [0, 1] and sum to 1")
    # PyTorch's rule: floor each share, then hand the leftover samples out one each, first split first.
    sizes = [math.floor(n * x) for x in lengths]
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    for i, size in enumerate(sizes):
        if size == 0:
            warnings.warn(f"random_split: split {i} is empty (fraction {lengths[i]} of {n} samples)", stacklevel=3)
    return sizes


def random_split(dataset, lengths, generator=None) -> list:
    """Split ``dataset`` into disjoint random Subsets of the given lengths.

    ``lengths``: integers summing to ``len(dataset)``, or fractions summing to 1 (floored, the
    remainder given one by one to the first splits, as PyTorch). The order comes from
    ``generator`` (a ``chainrule.Generator`` or a ``numpy.random.Generator``), by default
    chainrule's seeded one (see ``chainrule.manual_seed``).

    >>> import chainrule
    >>> _ = chainrule.manual_seed(0)
    >>> train, val = random_split(range(10), [0.8, 0.2])
    >>> len(train), len(val), sorted(set(train.indices) | set(val.indices)) == list(range(10))
    (8, 2, True)
    """
    random.check_generator(generator, "random_split")
    n = len(dataset)
    sizes = _split_lengths(n, lengths)
    order = random.drawing_from(generator).permutation(n)
    bounds = np.cumsum([0, *sizes])
    return [Subset(dataset, order[a:b]) for a, b in itertools.pairwise(bounds)]
