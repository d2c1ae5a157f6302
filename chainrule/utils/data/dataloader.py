"""DataLoader: walks a data set in mini-batches, in the order a sampler gives (shuffled by
chainrule's seeded generator), and collates each batch into tensors with PyTorch's rules."""

import collections.abc
import copy
import itertools
import math
from collections.abc import Callable, Iterable

import numpy as np

from chainrule import random
from chainrule._tensor import Tensor
from chainrule.ops.shape import stack
from chainrule.utils.data.dataset import IterableDataset, Subset, TensorDataset
from chainrule.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler


def get_worker_info() -> None:
    """Information about the loader's worker process; always None here, as in PyTorch's
    main process, because chainrule's DataLoader loads in-process (``num_workers`` is accepted
    and does not start workers)."""
    return None


def _rebuild(sample, parts):
    """A container like ``sample`` (a mapping, or a sequence) holding ``parts`` instead: the same
    type where it can be rebuilt (PyTorch keeps dict subclasses, lists and named tuples), a plain
    dict or list otherwise."""
    try:
        if isinstance(sample, collections.abc.MutableMapping):
            clone = copy.copy(sample)
            clone.update(parts)
            return clone
        if isinstance(sample, collections.abc.Mapping):
            return type(sample)(parts)
        if isinstance(sample, collections.abc.MutableSequence):
            clone = copy.copy(sample)
            for i, part in enumerate(parts):
                clone[i] = part
            return clone
        return type(sample)(parts)
    except TypeError:  # a type that cannot be copied or built from its items (range)
        return dict(parts) if isinstance(sample, collections.abc.Mapping) else list(parts)


def _is_text(x):
    return isinstance(x, (str, bytes, np.str_, np.bytes_))


def default_collate(samples: list):
    """Join a list of samples into one batch, field by field, as PyTorch's ``default_collate``:

    - tensors and arrays are stacked along a new first dim and keep their dtype (tensors that
      require grad stay in the graph); NumPy scalars become a tensor of their dtype;
    - Python ints become int64, floats float64 (as PyTorch: not the default dtype), bools bool;
    - strings and bytes stay a list;
    - a dict gives a dict of batched fields, a named tuple the same named tuple, a tuple a *list*
      of batched fields (PyTorch's rule), a list a list.

    >>> import numpy as np
    >>> x, y = default_collate([(np.ones(2, np.float32), 0), (np.zeros(2, np.float32), 1)])
    >>> x.shape, x.dtype, y.tolist()
    ((2, 2), dtype('float32'), [0, 1])
    >>> default_collate([{"w": 0.5, "name": "a"}, {"w": 1.5, "name": "b"}])["w"].dtype
    dtype('float64')
    """
    first = samples[0]
    if isinstance(first, Tensor):
        _check_shapes([s.shape for s in samples])
        return stack(list(samples))
    if isinstance(first, np.ndarray):
        if first.dtype.kind in "OSUV":
            raise TypeError(f"DataLoader: cannot collate arrays of dtype {first.dtype}; pass collate_fn")
        _check_shapes([np.shape(s) for s in samples])
        return Tensor._make(np.stack(samples), False, None)
    if _is_text(first):
        return list(samples)
    if isinstance(first, (np.bool_, np.number)):
        return Tensor._make(np.asarray(samples), False, None)
    if isinstance(first, float):
        return Tensor._make(np.asarray(samples, dtype=np.float64), False, None)
    if isinstance(first, (bool, int)):
        return Tensor._make(np.asarray(samples), False, None)
    if isinstance(first, collections.abc.Mapping):
        return _rebuild(first, {key: default_collate([s[key] for s in samples]) for key in first})
    if isinstance(first, collections.abc.Sequence):
        if any(len(s) != len(first) for s in samples):
            lengths = sorted({len(s) for s in samples})
            raise ValueError(f"DataLoader: the samples of a batch have different lengths {lengths}")
        fields = [default_collate([s[i] for s in samples]) for i in range(len(first))]
        if isinstance(first, tuple):
            return type(first)(*fields) if hasattr(first, "_fields") else fields  # named tuple, else a list
        return _rebuild(first, fields)
    raise TypeError(
        f"DataLoader: cannot collate samples of type {type(first).__name__}; expected tensors, arrays, "
        "numbers, strings, or tuples/lists/dicts of them (pass collate_fn for anything else)"
    )


def default_convert(sample):
    """One sample made into tensors without batching (what a DataLoader with ``batch_size=None``
    yields): arrays and NumPy scalars become tensors (sharing memory), containers are converted
    field by field (a tuple into a list, as PyTorch), anything else is returned as it is.

    >>> import numpy as np
    >>> default_convert((np.arange(3), "id"))
    [tensor([0, 1, 2]), 'id']
    """
    if isinstance(sample, Tensor) or _is_text(sample):
        return sample
    if isinstance(sample, (np.ndarray, np.bool_, np.number)):
        if sample.dtype.kind in "OSUV":
            return sample
        return Tensor._make(np.asarray(sample), False, None)
    if isinstance(sample, collections.abc.Mapping):
        return _rebuild(sample, {key: default_convert(sample[key]) for key in sample})
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(default_convert(s) for s in sample))
    if isinstance(sample, tuple):
        return [default_convert(s) for s in sample]
    if isinstance(sample, collections.abc.Sequence):
        return _rebuild(sample, [default_convert(s) for s in sample])
    return sample


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


def _non_negative(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value >= 0:
        raise ValueError(f"DataLoader: {name} must be a non-negative number, got {value!r}")
    return value


def _check_order(dataset, iterable, batch_size, shuffle, sampler, batch_sampler, drop_last):
    """The arguments that choose the samples and batches, checked as PyTorch's DataLoader does."""
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1
    ):
        raise ValueError(f"DataLoader: batch_size must be a positive integer or None, got {batch_size!r}")
    if iterable:
        for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value not in (None, False):
                raise ValueError(f"DataLoader: with an IterableDataset {name} must be left unset, got {value!r}")
    elif not hasattr(dataset, "__getitem__") or (
        not hasattr(dataset, "__len__") and sampler is None and batch_sampler is None
    ):
        raise TypeError(f"DataLoader: dataset must support len() and [i] (a Dataset), got {type(dataset).__name__}")
    if sampler is not None and shuffle:
        raise ValueError("DataLoader: sampler and shuffle=True exclude each other (the sampler sets the order)")
    if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
        raise ValueError(
            "DataLoader: batch_sampler excludes batch_size, shuffle, sampler and drop_last (it makes the batches)"
        )
    if batch_size is None and drop_last:
        raise ValueError("DataLoader: batch_size=None (no batching) excludes drop_last")


def _check_workers(num_workers, timeout, worker_init_fn, prefetch_factor, persistent_workers):
    """The worker arguments, checked as PyTorch does although no worker starts."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
        raise ValueError(f"DataLoader: num_workers must be a non-negative integer (0: no workers), got {num_workers!r}")
    _non_negative(timeout, "timeout")
    if worker_init_fn is not None and not callable(worker_init_fn):
        raise TypeError(f"DataLoader: worker_init_fn must be callable or None, got {type(worker_init_fn).__name__}")
    if prefetch_factor is not None:
        if num_workers == 0:
            raise ValueError("DataLoader: prefetch_factor needs num_workers > 0 (as in PyTorch); leave it None")
        _non_negative(prefetch_factor, "prefetch_factor")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers needs num_workers > 0 (as in PyTorch)")


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples, collated into tensors.

    dataset: a map-style data set (``len`` and ``[i]``) or an IterableDataset (a stream,
    batched in its own order).
    shuffle: a new order each epoch (each ``iter``) from chainrule's seeded generator, so
    ``chainrule.manual_seed`` repeats it (or from ``generator``: a ``chainrule.Generator`` or a
    ``numpy.random.Generator``).
    sampler: the order of the indices instead (any iterable of indices; excludes ``shuffle``).
    batch_sampler: yields whole lists of indices (excludes batch_size, shuffle, sampler and
    drop_last). batch_size=None: no batching, each sample is yielded as ``default_convert`` makes it.
    drop_last: drop the last batch when it is smaller than ``batch_size``.
    collate_fn: turns a list of samples into a batch (default: ``default_collate``).
    num_workers, prefetch_factor, persistent_workers, timeout, worker_init_fn,
    multiprocessing_context, pin_memory, pin_memory_device, in_order: accepted and checked as
    PyTorch does, but loading always runs in this process (``get_worker_info()`` is None and
    ``worker_init_fn`` is not called, as with PyTorch's ``num_workers=0``): NumPy indexing of an
    in-memory data set is rarely the bottleneck, and there is no GPU to pin memory for.

    ``len(loader)`` is the number of batches. A TensorDataset (or a Subset of one) with the
    default collate is batched by indexing its tensors once per batch.

    >>> import numpy as np
    >>> loader = DataLoader(TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5)), batch_size=2)
    >>> len(loader), [y.tolist() for x, y in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Iterable | None = None,
        batch_sampler: Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable | None = None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ):
        iterable = isinstance(dataset, IterableDataset)
        _check_order(dataset, iterable, batch_size, shuffle, sampler, batch_sampler, drop_last)
        _check_workers(num_workers, timeout, worker_init_fn, prefetch_factor, persistent_workers)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable or None, got {type(collate_fn).__name__}")
        self.generator = random.check_generator(generator, "DataLoader")
        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = 2 if num_workers > 0 and prefetch_factor is None else prefetch_factor
        self.persistent_workers = persistent_workers
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.timeout, self.in_order = timeout, in_order
        if batch_sampler is not None:
            batch_size, drop_last = None, False
        if sampler is None and not iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        batched = self.batch_size is not None or batch_sampler is not None
        self.collate_fn = collate_fn or (default_collate if batched else default_convert)
        self._default_collate = collate_fn is None

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self):
        if isinstance(self.dataset, IterableDataset):
            return self._stream()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        return self._batches()

    def _batches(self):
        fast = _tensor_rows(self.dataset) if self._default_collate else None
        if fast is None:
            # A data set may fetch a whole batch at once through __getitems__ (PyTorch's protocol)
            fetch = getattr(self.dataset, "__getitems__", None)
            for index in self.batch_sampler:
                yield self.collate_fn(fetch(list(index)) if callable(fetch) else [self.dataset[i] for i in index])
            return
        tensors, rows = fast
        for index in self._index_arrays():
            index = index if rows is None else rows[index]
            yield [t[index] for t in tensors]  # what default_collate gives for tuple samples

    def _index_arrays(self):
        """The batch sampler's batches as integer arrays: sliced from one array of the epoch's
        indices when the loader made the sampler itself (no list per batch)."""
        batches, sampler = self.batch_sampler, getattr(self.batch_sampler, "sampler", None)
        if type(batches) is BatchSampler and type(sampler) in (SequentialSampler, RandomSampler):
            order = sampler._indices()
            size = batches.batch_size
            stop = len(order) - len(order) % size if batches.drop_last else len(order)
            for start in range(0, stop, size):
                yield order[start : start + size]
        else:
            for index in batches:
                yield np.asarray(index, dtype=np.int64)

    def _stream(self):
        samples = iter(self.dataset)
        if self.batch_size is None:
            yield from (self.collate_fn(s) for s in samples)
            return
        while batch := list(itertools.islice(samples, self.batch_size)):
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield self.collate_fn(batch)
