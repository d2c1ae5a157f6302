"""Data: data sets that need no network (generated, shipped, or read from the user's files),
feature scaling and splitting; and, re-exported from chainrule.utils.data (their home, at
PyTorch's path), the data set classes and the DataLoader."""

from chainrule.data.builtin import DATASETS, circles, digits, load_dataset, moons, spirals, xor
from chainrule.data.dataset import LabeledData
from chainrule.data.files import FASHION_MNIST_CLASSES, csv, fashion_mnist, mnist, read_idx
from chainrule.data.mnist1d import mnist1d
from chainrule.data.preprocessing import StandardScaler, split
from chainrule.utils.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split

__all__ = [
    "DATASETS", "DataLoader", "Dataset", "FASHION_MNIST_CLASSES", "LabeledData", "StandardScaler", "Subset",
    "TensorDataset", "circles", "csv", "default_collate", "digits", "fashion_mnist", "load_dataset",
    "mnist", "mnist1d", "moons", "random_split", "read_idx", "spirals", "split", "xor",
]
