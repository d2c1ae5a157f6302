"""Samplers: the order in which a DataLoader visits a data set's indices (sequential, shuffled,
a random subset, weighted draws) and BatchSampler, which groups them into batches.

Random samplers draw from chainrule's seeded generator at each ``iter`` (so
``chainrule.manual_seed`` repeats an epoch's order), or from ``generator`` when one is given.
"""

import itertools
from collections.abc import Iterable, Sequence

import numpy as np

from chainrule import random
from chainrule._tensor import Tensor
from chainrule.creation import from_numpy


def _positive_int(value, name, where):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _flag(value, name, where):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return bool(value)


class Sampler:
    """Base class: an iterable of indices (or of lists of indices, for a batch sampler), with
    ``len`` the number it yields. Subclasses define ``__iter__`` and, where known, ``__len__``."""

    def __init__(self, data_source=None):
        pass  # PyTorch's older signature took data_source; subclasses calling super().__init__(ds) still work

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1.

    >>> list(SequentialSampler(range(4)))
    [0, 1, 2, 3]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def _indices(self) -> np.ndarray:
        """An epoch's indices as one array (what a DataLoader slices its batches from)."""
        return np.arange(len(self.data_source))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Indices in random order: a permutation of the data set (repeated when ``num_samples``
    exceeds its length), or, with ``replacement``, ``num_samples`` independent uniform draws.

    >>> import chainrule
    >>> _ = chainrule.manual_seed(0)
    >>> sorted(RandomSampler(range(5)))
    [0, 1, 2, 3, 4]
    >>> len(RandomSampler(range(5), replacement=True, num_samples=12))
    12
    """

    def __init__(
        self,
        data_source,
        replacement: bool = False,
        num_samples: int | None = None,
        generator=None,
    ):
        self.data_source = data_source
        self.replacement = _flag(replacement, "replacement", "RandomSampler")
        self._num_samples = None if num_samples is None else _positive_int(num_samples, "num_samples", "RandomSampler")
        self.generator = random.check_generator(generator, "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        yield from self._indices().tolist()

    def _indices(self) -> np.ndarray:
        """An epoch's indices as one array, all drawn when the epoch starts (so that random ops
        during the epoch, dropout's, do not move the order)."""
        n = len(self.data_source)
        generator = random.drawing_from(self.generator)
        if self.replacement:
            return generator.integers(0, n, size=self.num_samples) if n else np.zeros(0, np.int64)
        if not n:
            return np.zeros(0, np.int64)
        # Whole permutations while they fit, then the start of one more (PyTorch's order of draws).
        whole, rest = divmod(self.num_samples, n)
        parts = [generator.permutation(n) for _ in range(whole)]
        if rest:
            parts.append(generator.permutation(n)[:rest])
        return np.concatenate(parts)

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (a new one each ``iter``).

    >>> import chainrule
    >>> _ = chainrule.manual_seed(0)
    >>> sorted(SubsetRandomSampler([7, 3, 5]))
    [3, 5, 7]
    """

    def __init__(self, indices: Sequence[int], generator=None):
        self.indices = indices
        self.generator = random.check_generator(generator, "SubsetRandomSampler")

    def __iter__(self):
        generator = random.drawing_from(self.generator)
        for i in generator.permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices of ``weights``, index i drawn with probability
    weights[i] / sum(weights); without ``replacement`` no index comes twice in one pass.

    >>> import chainrule
    >>> _ = chainrule.manual_seed(0)
    >>> set(WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 20))
    {1, 3}
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        where = "WeightedRandomSampler"
        self.num_samples = _positive_int(num_samples, "num_samples", where)
        self.replacement = _flag(replacement, "replacement", where)
        values = weights._data if isinstance(weights, Tensor) else weights
        try:
            values = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{where}: weights must be a 1-d sequence of numbers, got {type(weights).__name__}"
            ) from None
        if values.ndim != 1 or not values.size:
            raise ValueError(f"{where}: weights must be a non-empty 1-d sequence, got shape {values.shape}")
        if not np.isfinite(values).all() or (values < 0).any() or not values.sum() > 0:
            raise ValueError(
                f"{where}: weights must be finite, non-negative and not all zero, got {values.tolist()}"[:300]
            )
        if not self.replacement and self.num_samples > np.count_nonzero(values):
            raise ValueError(
                f"{where}: cannot draw num_samples={self.num_samples} without replacement from "
                f"{np.count_nonzero(values)} non-zero weights"
            )
        self.weights = from_numpy(values)  # float64, as PyTorch's (double) weights
        self.generator = random.check_generator(generator, where)

    def __iter__(self):
        generator = random.drawing_from(self.generator)
        p = self.weights._data / self.weights._data.sum()
        yield from generator.choice(len(p), size=self.num_samples, replace=self.replacement, p=p).tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """The indices of ``sampler`` in lists of ``batch_size`` (the last one shorter unless
    ``drop_last``).

    >>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6]]
    >>> list(BatchSampler(range(7), batch_size=3, drop_last=True))
    [[0, 1, 2], [3, 4, 5]]
    """

    def __init__(self, sampler: Iterable, batch_size: int, drop_last: bool):
        self.sampler = sampler
        self.batch_size = _positive_int(batch_size, "batch_size", "BatchSampler")
        self.drop_last = _flag(drop_last, "drop_last", "BatchSampler")

    def __iter__(self):
        indices = iter(self.sampler)
        while batch := list(itertools.islice(indices, self.batch_size)):
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
