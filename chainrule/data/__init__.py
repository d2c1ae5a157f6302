"""Data: data sets and loaders as PyTorch shapes them, feature scaling and splitting, and data sets
that need no network (generated, shipped, or read from the user's files)."""

from chainrule.data.builtin import DATASETS, circles, digits, load_dataset, moons, spirals, xor
from chainrule.data.dataset import Dataset, LabeledData, Subset, TensorDataset, random_split
from chainrule.data.files import FASHION_MNIST_CLASSES, csv, fashion_mnist, mnist, read_idx
from chainrule.data.loader import DataLoader, default_collate
from chainrule.data.mnist1d import mnist1d
from chainrule.data.preprocessing import StandardScaler, split

__all__ = [
    "DATASETS", "DataLoader", "Dataset", "FASHION_MNIST_CLASSES", "LabeledData", "StandardScaler", "Subset",
    "TensorDataset", "circles", "csv", "default_collate", "digits", "fashion_mnist", "load_dataset",
    "mnist", "mnist1d", "moons", "random_split", "read_idx", "spirals", "split", "xor",
]
