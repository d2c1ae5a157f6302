"""chainrule.utils.data at PyTorch's path: the import paths a PyTorch script uses, samplers against
NumPy draws from the same seeds, the DataLoader's sampler / batch_sampler / no-batching / stream
modes and its argument checks, PyTorch's collate rules, and the data set combinators."""

import importlib
import subprocess
import sys
from collections import namedtuple

import numpy as np
import pytest

import chainrule
import chainrule.utils.data
from chainrule._tensor import Tensor
from chainrule.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)

# -- the paths -----------------------------------------------------------------------------------


def test_pytorch_import_paths_reach_one_implementation():
    assert chainrule.utils.data.DataLoader is DataLoader
    for module, names in {
        "chainrule.utils.data.dataset": ["Dataset", "TensorDataset", "Subset", "random_split", "ConcatDataset"],
        "chainrule.utils.data.sampler": ["SubsetRandomSampler", "BatchSampler", "WeightedRandomSampler"],
        "chainrule.utils.data.dataloader": ["DataLoader", "default_collate", "get_worker_info"],
    }.items():
        for name in names:
            assert getattr(importlib.import_module(module), name) is getattr(chainrule.utils.data, name)
    # chainrule.data (and its older submodules) re-export the same objects
    from chainrule.data import DataLoader as old_loader
    from chainrule.data.dataset import Subset as old_subset
    from chainrule.data.loader import default_collate as old_collate

    assert (old_loader, old_subset, old_collate) == (DataLoader, Subset, default_collate)
    from chainrule.distributed import DistributedSampler
    from chainrule.utils.data.distributed import DistributedSampler as at_torch_path

    assert chainrule.utils.data.DistributedSampler is DistributedSampler is at_torch_path


def test_utils_loads_on_first_use_after_import_chainrule():
    code = (
        "import sys, chainrule as torch\n"
        "assert 'chainrule.utils' not in sys.modules\n"
        "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(4, 2)), batch_size=3)\n"
        "print(len(loader), [b[0].shape for b in loader])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2 [(3, 2), (1, 2)]"


# -- samplers ------------------------------------------------------------------------------------


def test_sequential_and_random_samplers_follow_the_seed():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3] and len(SequentialSampler(range(4))) == 4
    chainrule.manual_seed(5)
    sampler = RandomSampler(range(10))
    first, second = list(sampler), list(sampler)
    reference = np.random.default_rng(5)
    assert first == reference.permutation(10).tolist() and second == reference.permutation(10).tolist()
    # more samples than the data set: whole permutations, then the start of one more
    longer = RandomSampler(range(4), num_samples=10, generator=np.random.default_rng(1))
    reference = np.random.default_rng(1)
    want = [*reference.permutation(4), *reference.permutation(4), *reference.permutation(4)[:2]]
    assert list(longer) == want and len(longer) == 10
    drawn = RandomSampler(range(3), replacement=True, num_samples=50, generator=np.random.default_rng(2))
    assert list(drawn) == np.random.default_rng(2).integers(0, 3, size=50).tolist() and len(drawn) == 50


def test_subset_random_and_weighted_samplers():
    chainrule.manual_seed(0)
    indices = [10, 20, 30, 40]
    got = list(SubsetRandomSampler(indices))
    assert got == [indices[i] for i in np.random.default_rng(0).permutation(4)]
    weights = [0.0, 2.0, 0.0, 6.0]
    sampler = WeightedRandomSampler(weights, 4000, generator=np.random.default_rng(3))
    draws = np.array(list(sampler))
    assert set(draws.tolist()) == {1, 3} and len(sampler) == 4000 and sampler.weights.dtype == np.float64
    assert abs(np.mean(draws == 3) - 0.75) < 0.03  # 6 / (2 + 6); 4000 draws: sd 0.007
    once = list(WeightedRandomSampler([1.0, 1.0, 5.0, 0.5], 4, replacement=False, generator=np.random.default_rng(4)))
    assert sorted(once) == [0, 1, 2, 3]


def test_a_generator_of_its_own_repeats_an_order_whatever_else_draws():
    def split_and_shuffle(generator):
        parts = random_split(range(10), [0.7, 0.3], generator=generator)
        chainrule.randn(3)  # draws from chainrule's generator do not touch this one
        order = [y.item() for _, y in DataLoader(TensorDataset(*_data(5)), shuffle=True, generator=generator)]
        return [p.indices.tolist() for p in parts], order, list(RandomSampler(range(4), generator=generator))

    first = split_and_shuffle(chainrule.Generator().manual_seed(42))
    assert split_and_shuffle(chainrule.Generator().manual_seed(42)) == first
    assert split_and_shuffle(chainrule.Generator().manual_seed(43)) != first
    reference = np.random.default_rng(42)  # the draws: one permutation each, in that order
    assert first[0][0] == reference.permutation(10)[:7].tolist() and first[1] == reference.permutation(5).tolist()
    generator = chainrule.Generator()
    state = generator.get_state()
    drawn = list(SubsetRandomSampler([1, 2, 3, 4], generator=generator))
    assert list(SubsetRandomSampler([1, 2, 3, 4], generator=generator.set_state(state))) == drawn
    assert chainrule.Generator().manual_seed(7).initial_seed() == 7
    with pytest.raises(RuntimeError, match="Generator: device 'cuda' is not available"):
        chainrule.Generator("cuda")


def test_batch_sampler_groups_any_sampler():
    assert list(BatchSampler(SequentialSampler(range(7)), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    assert list(BatchSampler(range(6), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]


# -- the DataLoader ------------------------------------------------------------------------------


def _data(n=10):
    return np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n, dtype=np.int64)


class _Rows(Dataset):
    """A map-style data set that is not a TensorDataset (so batches go through collate)."""

    def __init__(self, n):
        self.X, self.y = _data(n)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.X[i], int(self.y[i])


@pytest.mark.parametrize("dataset", [lambda: TensorDataset(*_data(10)), lambda: _Rows(10)], ids=["tensors", "rows"])
def test_loader_with_a_sampler_and_a_batch_sampler(dataset):
    ds = dataset()
    loader = DataLoader(ds, batch_size=4, sampler=[9, 0, 5, 5, 2])
    assert len(loader) == 2 and loader.batch_size == 4 and loader.dataset is ds
    assert [y.tolist() for _, y in loader] == [[9, 0, 5, 5], [2]]
    batches = DataLoader(ds, batch_sampler=[[1, 2], [7], [3, 3, 3]])
    assert len(batches) == 3 and batches.batch_size is None
    got = list(batches)
    assert [y.tolist() for _, y in got] == [[1, 2], [7], [3, 3, 3]]
    assert isinstance(got[0], list)  # a tuple sample collates into a list of fields, as PyTorch
    np.testing.assert_array_equal(got[0][0]._data, _data()[0][[1, 2]])


def test_loader_shuffle_draws_like_a_random_sampler_and_subset_random_sampler_splits():
    X, y = _data(12)
    chainrule.manual_seed(8)
    shuffled = np.concatenate([b.numpy() for _, b in DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True)])
    np.testing.assert_array_equal(shuffled, np.random.default_rng(8).permutation(12))
    train = DataLoader(TensorDataset(X, y), batch_size=4, sampler=SubsetRandomSampler(range(8)))
    seen = np.concatenate([b.numpy() for _, b in train])
    assert sorted(seen.tolist()) == list(range(8)) and len(train) == 2


@pytest.mark.parametrize("dataset", [lambda: TensorDataset(*_data(4)), lambda: _Rows(4)], ids=["tensors", "rows"])
def test_an_epochs_order_is_drawn_when_it_starts(dataset):
    ds = dataset()
    loader = DataLoader(ds, batch_size=3, sampler=RandomSampler(ds, num_samples=10))
    chainrule.manual_seed(2)
    order = []
    for _, y in loader:
        order += y.tolist()
        chainrule.randn(5)  # a random op during the epoch (dropout's) does not move the order
    reference = np.random.default_rng(2)
    assert order == [*reference.permutation(4), *reference.permutation(4), *reference.permutation(4)[:2]]


class _Batched(_Rows):
    """Fetches a batch at once (PyTorch's __getitems__), and counts how."""

    def __init__(self, n):
        super().__init__(n)
        self.calls = []

    def __getitems__(self, indices):
        self.calls.append(indices)
        return [self[i] for i in indices]


def test_loader_fetches_batches_through_getitems_also_through_a_subset():
    ds = _Batched(6)
    assert [y.tolist() for _, y in DataLoader(ds, batch_size=4)] == [[0, 1, 2, 3], [4, 5]]
    assert ds.calls == [[0, 1, 2, 3], [4, 5]]
    ds.calls.clear()
    assert [y.tolist() for _, y in DataLoader(Subset(ds, [5, 1, 2]), batch_size=2)] == [[5, 1], [2]]
    assert ds.calls == [[5, 1], [2]]


def test_loader_without_batching_converts_each_sample():
    loader = DataLoader(_Rows(3), batch_size=None)
    samples = list(loader)
    assert len(loader) == 3 and len(samples) == 3
    x, label = samples[1]
    assert isinstance(x, Tensor) and x.tolist() == [2.0, 3.0] and label == 1  # numbers stay numbers


class _Stream(IterableDataset):
    def __init__(self, n, with_len=True):
        self.n, self.with_len = n, with_len

    def __iter__(self):
        return iter([(np.float64(k), k) for k in range(self.n)])

    def __len__(self):
        if not self.with_len:
            return super().__len__()
        return self.n


def test_loader_over_an_iterable_dataset():
    loader = DataLoader(_Stream(7), batch_size=3)
    batches = list(loader)
    assert len(loader) == 3 and [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches[0][0].dtype == np.float64
    dropped = DataLoader(_Stream(7), batch_size=3, drop_last=True)
    assert len(dropped) == 2 and len(list(dropped)) == 2
    assert [s[1] for s in DataLoader(_Stream(2), batch_size=None)] == [0, 1]
    with pytest.raises(TypeError, match="no len"):
        len(DataLoader(_Stream(2, with_len=False)))
    assert list(_Stream(2) + _Stream(1)) == [(0.0, 0), (1.0, 1), (0.0, 0)]


def test_worker_arguments_are_accepted_and_loading_stays_in_process():
    called = []
    workers = {"num_workers": 4, "prefetch_factor": 4, "persistent_workers": True, "worker_init_fn": called.append}
    loader = DataLoader(TensorDataset(*_data(6)), batch_size=2, shuffle=True, pin_memory=True, timeout=5, **workers)
    assert len(list(loader)) == 3 and loader.num_workers == 4 and loader.prefetch_factor == 4
    assert called == [] and get_worker_info() is None  # as PyTorch's main process
    assert DataLoader(range(3), num_workers=2).prefetch_factor == 2


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"sampler": [0, 1], "shuffle": True}, ValueError, "sampler and shuffle=True exclude each other"),
    ({"batch_sampler": [[0]], "batch_size": 2}, ValueError, "batch_sampler excludes batch_size"),
    ({"batch_sampler": [[0]], "drop_last": True}, ValueError, "batch_sampler excludes"),
    ({"batch_size": None, "drop_last": True}, ValueError, r"batch_size=None \(no batching\) excludes drop_last"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer or None, got 0"),
    ({"num_workers": -1}, ValueError, "num_workers must be a non-negative integer"),
    ({"prefetch_factor": 2}, ValueError, "prefetch_factor needs num_workers > 0"),
    ({"persistent_workers": True}, ValueError, "persistent_workers needs num_workers > 0"),
    ({"timeout": -1}, ValueError, "timeout must be a non-negative number"),
    ({"worker_init_fn": 3}, TypeError, "worker_init_fn must be callable"),
    ({"generator": 3}, TypeError, "generator must be a numpy.random.Generator, a chainrule.Generator or None"),
])  # fmt: skip
def test_loader_arguments_name_themselves(kwargs, error, message):
    with pytest.raises(error, match=f"DataLoader: {message}"):
        DataLoader(range(4), **kwargs)


def test_loader_takes_a_distributed_sampler_for_this_ranks_share():
    sampler = chainrule.utils.data.DistributedSampler(range(7), num_replicas=2, rank=1, shuffle=False)
    sampler.set_epoch(3)
    loader = DataLoader(TensorDataset(*_data(7)), batch_size=2, sampler=sampler)
    assert sampler.epoch == 3 and len(loader) == 2
    assert [y.tolist() for _, y in loader] == [[1, 3], [5, 0]]  # positions 1, 3, 5 and the padding's first


def test_iterable_dataset_refuses_an_order():
    for kwargs in ({"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}):
        with pytest.raises(ValueError, match=r"with an IterableDataset .* must be left unset"):
            DataLoader(_Stream(3), **kwargs)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: RandomSampler(range(3), num_samples=0), ValueError, r"RandomSampler: num_samples must be a positive"),
    (lambda: RandomSampler(range(3), replacement=1), TypeError, r"RandomSampler: replacement must be True or False"),
    (lambda: RandomSampler(range(3), generator=1), TypeError, r"RandomSampler: generator must be a numpy"),
    (lambda: WeightedRandomSampler([1, -1], 2), ValueError, r"weights must be finite, non-negative"),
    (lambda: WeightedRandomSampler([[1.0]], 2), ValueError, r"weights must be a non-empty 1-d sequence"),
    (lambda: WeightedRandomSampler([1, 0], 2, replacement=False), ValueError,
     r"cannot draw num_samples=2 without replacement from 1 non-zero weights"),
    (lambda: BatchSampler(range(3), 0, False), ValueError, r"BatchSampler: batch_size must be a positive integer"),
    (lambda: BatchSampler(range(3), 2, None), TypeError, r"BatchSampler: drop_last must be True or False"),
    (lambda: ConcatDataset([]), ValueError, r"ConcatDataset: datasets is empty"),
    (lambda: ConcatDataset([_Stream(2)]), TypeError, r"ConcatDataset: cannot index an IterableDataset"),
    (lambda: ConcatDataset([range(2)])[2], IndexError, r"ConcatDataset: index 2 is out of range for 2 samples"),
    (lambda: StackDataset(range(2), range(3)), ValueError, r"StackDataset: the data sets differ in length"),
    (lambda: list(Sampler()), NotImplementedError, r"Sampler must define __iter__"),
])  # fmt: skip
def test_sampler_and_dataset_arguments_name_themselves(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- collate -------------------------------------------------------------------------------------

Point = namedtuple("Point", ["x", "y"])


def test_default_collate_follows_pytorchs_rules():
    batch = default_collate([
        {"f": 0.5, "i": 1, "b": True, "s": "a", "n": np.float32(1.5), "p": Point(1, 2.0), "t": (1, 2), "l": [1.0]},
        {"f": 1.5, "i": 2, "b": False, "s": "b", "n": np.float32(2.5), "p": Point(3, 4.0), "t": (3, 4), "l": [2.0]},
    ])  # fmt: skip
    assert batch["f"].dtype == np.float64 and batch["f"].tolist() == [0.5, 1.5]  # Python floats: float64
    assert batch["i"].dtype == np.int64 and batch["b"].dtype == np.bool_
    assert batch["s"] == ["a", "b"] and batch["n"].dtype == np.float32
    assert isinstance(batch["p"], Point) and batch["p"].x.tolist() == [1, 3] and batch["p"].y.dtype == np.float64
    assert isinstance(batch["t"], list) and [t.tolist() for t in batch["t"]] == [[1, 3], [2, 4]]
    assert isinstance(batch["l"], list) and batch["l"][0].tolist() == [1.0, 2.0]
    arrays = default_collate([np.ones((2, 3), np.int32), np.zeros((2, 3), np.int32)])
    assert arrays.shape == (2, 2, 3) and arrays.dtype == np.int32
    with pytest.raises(TypeError, match="cannot collate arrays of dtype <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert_makes_arrays_tensors_and_keeps_the_rest():
    converted = default_convert({"x": np.arange(3), "t": (np.float32(2), "id"), "n": 4})
    assert isinstance(converted["x"], Tensor) and converted["x"].tolist() == [0, 1, 2]
    assert isinstance(converted["t"], list) and converted["t"][0].dtype == np.float32 and converted["t"][1] == "id"
    assert converted["n"] == 4


# -- data sets -----------------------------------------------------------------------------------


def test_concat_stack_chain_and_subset():
    a, b = TensorDataset(*_data(3)), TensorDataset(*_data(2))
    joined = a + b
    assert isinstance(joined, ConcatDataset) and len(joined) == 5 and joined.cumulative_sizes == [3, 5]
    assert joined[3][1].item() == 0 and joined[-1][1].item() == 1 and joined[2][1].item() == 2
    assert [y.tolist() for _, y in DataLoader(joined, batch_size=4)] == [[0, 1, 2, 0], [1]]
    stacked = StackDataset(x=range(3), y="abc")
    assert stacked[1] == {"x": 1, "y": "b"} and len(stacked) == 3
    assert list(ChainDataset([_Stream(1), _Stream(2)])) == [(0.0, 0), (0.0, 0), (1.0, 1)]
    assert len(ChainDataset([_Stream(1), _Stream(2)])) == 3
    subset = Subset(list("abcdef"), [5, 0, 3])
    assert subset[0] == "f" and len(subset) == 3
    rows = Subset(TensorDataset(*_data(6)), [4, 1])
    assert rows[[0, 1]][1].tolist() == [4, 1]  # a list of indices passes on as one batch


def test_random_split_warns_about_an_empty_split():
    chainrule.manual_seed(0)
    with pytest.warns(UserWarning, match=r"random_split: split 1 is empty"):
        parts = random_split(range(3), [0.9, 0.1])
    assert [len(p) for p in parts] == [3, 0]
