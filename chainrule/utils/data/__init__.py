"""chainrule.utils.data, at PyTorch's path: map-style and iterable data sets, samplers, the
DataLoader and its collate functions. (chainrule.data re-exports the data sets and DataLoader
beside the library's own data sets: moons, digits, mnist1d...)"""

from chainrule.utils.data.dataloader import DataLoader, default_collate, default_convert, get_worker_info
from chainrule.utils.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from chainrule.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


def __getattr__(name):
    # chainrule.distributed (MPI, when installed) loads only when its sampler is asked for
    if name == "DistributedSampler":
        from chainrule.distributed import DistributedSampler

        return DistributedSampler
    if name == "distributed":
        import importlib

        return importlib.import_module("chainrule.utils.data.distributed")
    raise AttributeError(f"module 'chainrule.utils.data' has no attribute {name!r}")


__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
    "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset",
    "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate", "default_convert",
    "get_worker_info", "random_split",
]  # fmt: skip
