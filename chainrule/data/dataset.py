"""Data sets as PyTorch shapes them: anything with ``len`` and ``[i]``; TensorDataset over arrays;
Subset and random_split for holding samples out; LabeledData, the (X, y) pair loaders return."""

import itertools
from collections.abc import Sequence

import numpy as np

from chainrule import random
from chainrule._tensor import Tensor
from chainrule.creation import as_tensor


class Dataset:
    """A map-style data set: ``len(ds)`` samples, ``ds[i]`` the i-th (usually a tuple
    ``(input, target)``). Subclasses define both."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


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
        tensors = tuple(t if isinstance(t, Tensor) else as_tensor(t) for t in tensors)
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


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices: Sequence[int]):
        index_array = np.asarray(indices)
        if index_array.ndim != 1 or (index_array.dtype.kind not in "iu" and index_array.size):
            raise TypeError(f"Subset: indices must be a 1-d sequence of integers, got {index_array.dtype} values of "
                            f"shape {index_array.shape}")
        self.dataset = dataset
        self.indices = index_array.astype(np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]


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
    sizes = [int(np.floor(n * x)) for x in lengths]
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(dataset, lengths, generator: np.random.Generator | None = None) -> list:
    """Split ``dataset`` into disjoint random Subsets of the given lengths.

    ``lengths``: integers summing to ``len(dataset)``, or fractions summing to 1 (floored, the
    remainder given one by one to the first splits, as PyTorch). The order comes from
    ``generator``, by default chainrule's seeded one (see ``chainrule.manual_seed``).

    >>> import chainrule
    >>> _ = chainrule.manual_seed(0)
    >>> train, val = random_split(range(10), [0.8, 0.2])
    >>> len(train), len(val), sorted(set(train.indices) | set(val.indices)) == list(range(10))
    (8, 2, True)
    """
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"random_split: generator must be a numpy.random.Generator or None, got "
                        f"{type(generator).__name__}")
    n = len(dataset)
    sizes = _split_lengths(n, lengths)
    order = (random.get_generator() if generator is None else generator).permutation(n)
    bounds = np.cumsum([0, *sizes])
    return [Subset(dataset, order[a:b]) for a, b in itertools.pairwise(bounds)]


class LabeledData(tuple):
    """What the loaders return: the pair ``(X, y)`` (so ``X, y = moons()`` works), plus

    - ``classes``: the label names, ``classes[k]`` being the name of label ``k`` (None for
      regression targets),
    - ``feature_names``: the column names for tabular data (None otherwise).

    >>> data = LabeledData(np.zeros((2, 1)), np.array([0, 1]), classes=("no", "yes"))
    >>> X, y = data
    >>> data.classes[y[1]]
    'yes'
    """

    def __new__(cls, X: np.ndarray, y: np.ndarray, classes=None, feature_names=None):
        obj = super().__new__(cls, (X, y))
        obj.classes = None if classes is None else tuple(classes)
        obj.feature_names = None if feature_names is None else tuple(feature_names)
        return obj

    @property
    def X(self) -> np.ndarray:
        return self[0]

    @property
    def y(self) -> np.ndarray:
        return self[1]

    def __getnewargs__(self):
        return (self[0], self[1], self.classes, self.feature_names)
