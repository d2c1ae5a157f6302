"""DataLoader: walks a data set in mini-batches, shuffled by chainrule's seeded generator, and
collates each batch into tensors."""

import math
from collections.abc import Callable

import numpy as np

from chainrule import _backend, random
from chainrule._tensor import Tensor
from chainrule.data.dataset import Subset, TensorDataset
from chainrule.ops.shape import stack


def default_collate(samples: list):
    """Stack a list of samples into one batch, field by field.

    A sample that is a tuple or list gives a tuple of batched fields, a dict a dict; tensors and
    arrays are stacked along a new first dim and keep their dtype (tensors that require grad
    stay in the graph); Python bools become bool, ints int64 and floats the default dtype
    (float32), as ``chainrule.tensor`` does.

    >>> import numpy as np
    >>> x, y = default_collate([(np.ones(2, np.float32), 0), (np.zeros(2, np.float32), 1)])
    >>> x.shape, x.dtype, y.tolist()
    ((2, 2), dtype('float32'), [0, 1])
    """
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            lengths = sorted({len(s) for s in samples})
            raise ValueError(f"DataLoader: the samples of a batch have different lengths {lengths}")
        return tuple(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, Tensor):
        _check_shapes([s.shape for s in samples])
        return stack(list(samples))
    if isinstance(first, (np.ndarray, np.generic)):
        _check_shapes([np.shape(s) for s in samples])
        return Tensor._make(np.stack(samples), False, None)
    if isinstance(first, (bool, int, float)):
        array = np.asarray(samples)
        if array.dtype == np.float64:
            array = array.astype(_backend.get_default_dtype())
        return Tensor._make(array, False, None)
    raise TypeError(
        f"DataLoader: cannot collate samples of type {type(first).__name__}; expected tensors, arrays, "
        "numbers, or tuples/lists/dicts of them (pass collate_fn for anything else)"
    )


def _check_shapes(shapes):
    if len(set(shapes)) > 1:
        raise ValueError(
            f"DataLoader: cannot stack samples of shapes {sorted(set(shapes))} into one batch; "
            "pass collate_fn to batch samples of different shapes"
        )


def _tensor_rows(dataset):
    """(tensors, rows) when batches can be cut straight from a TensorDataset's tensors (through
    any Subsets: sample i is row rows[i]), else None."""
    rows = None
    while isinstance(dataset, Subset) and type(dataset).__getitem__ is Subset.__getitem__:
        rows = dataset.indices if rows is None else dataset.indices[rows]
        dataset = dataset.dataset
    if isinstance(dataset, TensorDataset) and type(dataset).__getitem__ is TensorDataset.__getitem__:
        return dataset.tensors, rows
    return None


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples, collated into tensors.

    shuffle: a new order each epoch (each ``iter``) from chainrule's seeded generator, so
    ``chainrule.manual_seed`` repeats it (or from ``generator`` when given).
    drop_last: drop the last batch when it is smaller than ``batch_size``.
    collate_fn: turns a list of samples into a batch (default: ``default_collate``).
    ``len(loader)`` is the number of batches. A TensorDataset (or a Subset of one) with the
    default collate is batched by indexing its tensors once per batch.

    >>> import numpy as np
    >>> loader = DataLoader(TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5)), batch_size=2)
    >>> len(loader), [y.tolist() for x, y in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 collate_fn: Callable | None = None, generator: np.random.Generator | None = None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must support len() and [i] (a Dataset), got {type(dataset).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable or None, got {type(collate_fn).__name__}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"DataLoader: generator must be a numpy.random.Generator or None, got {type(generator).__name__}"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            generator = random.get_generator() if self.generator is None else self.generator
            order = generator.permutation(n)
        else:
            order = np.arange(n)
        stop = n - n % self.batch_size if self.drop_last else n
        fast = _tensor_rows(self.dataset) if self.collate_fn is None else None
        collate = self.collate_fn or default_collate
        for start in range(0, stop, self.batch_size):
            index = order[start:start + self.batch_size]
            if fast is not None:
                tensors, rows = fast
                index = index if rows is None else rows[index]
                yield tuple(t[index] for t in tensors)
            else:
                yield collate([self.dataset[int(i)] for i in index])
