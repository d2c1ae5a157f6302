"""LabeledData, the (X, y) pair chainrule's data set loaders return. The PyTorch-shaped data sets
(Dataset, TensorDataset, Subset, random_split...) live in chainrule.utils.data.dataset, at
PyTorch's path; they are imported here too so that older imports keep working."""

import numpy as np

from chainrule.utils.data.dataset import Dataset, Subset, TensorDataset, random_split

__all__ = ["Dataset", "LabeledData", "Subset", "TensorDataset", "random_split"]


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
