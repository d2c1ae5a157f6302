"""Preparing arrays for training: StandardScaler (fitted on the training data only) and split, a
seeded, optionally stratified train/test split."""

import math

import numpy as np

from chainrule import _backend, random
from chainrule._arguments import number_arg, seed_arg


def _features(X, where: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{where}: expected a 2-d array (samples, features), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{where}: expected numbers, got dtype {X.dtype}")
    return X


class StandardScaler:
    """Standardise each feature: ``z = (x - mean_) / scale_``.

    ``fit`` learns ``mean_`` and ``scale_`` (the population standard deviation; 1 for a
    constant feature, which is then only centred) from the training data; ``transform`` then
    applies that same map to any data, so validation and test data never leak into it. Inputs
    are arrays (samples, features); results keep a floating input's dtype (integers become the
    default dtype, float32). The statistics are float64.

    >>> import numpy as np
    >>> scaler = StandardScaler().fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> scaler.mean_, scaler.scale_
    (array([1., 5.]), array([1., 1.]))
    >>> scaler.transform(np.array([[4.0, 6.0]]))
    array([[3., 1.]])
    """

    def fit(self, X) -> "StandardScaler":
        X = _features(X, "StandardScaler.fit")
        if len(X) == 0:
            raise ValueError("StandardScaler.fit: got 0 samples, expected at least 1")
        X64 = X.astype(np.float64)
        if not np.isfinite(X64).all():
            raise ValueError("StandardScaler.fit: X contains NaN or infinite values")
        self.mean_ = X64.mean(axis=0)
        scale = X64.std(axis=0)
        # Exactly constant features may still get a rounding-error std: test the range, not the std.
        scale[np.ptp(X64, axis=0) == 0] = 1.0
        self.scale_ = scale
        self.n_features_in_ = X.shape[1]
        self.n_samples_seen_ = X.shape[0]
        return self

    def _checked(self, X, where: str) -> np.ndarray:
        if not hasattr(self, "mean_"):
            raise RuntimeError(f"StandardScaler.{where}: not fitted yet; call fit(X_train) first")
        X = _features(X, f"StandardScaler.{where}")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"StandardScaler.{where}: X has {X.shape[1]} features (shape {X.shape}), but the scaler "
                f"was fitted on {self.n_features_in_}"
            )
        return X

    @staticmethod
    def _dtype(X):
        return X.dtype if X.dtype.kind == "f" else _backend.get_default_dtype()

    def transform(self, X) -> np.ndarray:
        X = self._checked(X, "transform")
        return ((X - self.mean_) / self.scale_).astype(self._dtype(X))

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        """Back from standardised values to the original units."""
        Z = self._checked(Z, "inverse_transform")
        return (Z * self.scale_ + self.mean_).astype(self._dtype(Z))


def split(X, y, test_fraction: float = 0.2, seed: int | None = None, stratify: bool = True) -> tuple:
    """Split into ``(X_train, X_test, y_train, y_test)``, both parts in random order.

    The test part holds ``ceil(test_fraction * n)`` samples. ``stratify`` keeps each class's
    share in both parts (largest-remainder rounding); it needs class labels (integers, bools or
    strings); pass ``stratify=False`` for regression targets. ``seed`` makes the split repeat;
    None draws from chainrule's generator (see ``chainrule.manual_seed``).

    >>> import numpy as np
    >>> X, y = np.arange(20.0).reshape(10, 2), np.array([0] * 5 + [1] * 5)
    >>> X_train, X_test, y_train, y_test = split(X, y, test_fraction=0.4, seed=0)
    >>> X_train.shape, np.bincount(y_test).tolist()
    ((6, 2), [2, 2])
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"split: X and y need as many samples, got shapes {X.shape} and {y.shape}")
    seed_arg(seed, "split")
    test_fraction = number_arg(test_fraction, "test_fraction", "split", low=0, high=1, low_open=True, high_open=True)
    n = len(y)
    n_test = math.ceil(test_fraction * n)
    if not 0 < n_test < n:
        raise ValueError(
            f"split: test_fraction {test_fraction} of {n} samples leaves an empty train or test part"
        )
    rng = random.get_generator() if seed is None else np.random.default_rng(seed)
    if stratify:
        if y.dtype.kind not in "biuUSO":
            raise ValueError(
                f"split: stratify=True needs class labels, got {y.dtype} targets; pass stratify=False"
            )
        _, label, counts = np.unique(y, return_inverse=True, return_counts=True)
        label = label.reshape(-1)
        exact = n_test * counts / n
        per_class = np.floor(exact).astype(np.int64)
        # Largest remainder: the classes whose share was rounded down most get the leftover samples.
        leftover = n_test - per_class.sum()
        per_class[np.argsort(-(exact - per_class), kind="stable")[:leftover]] += 1
        # A random order, grouped by class: a sample's rank inside its group decides its part.
        order = rng.permutation(n)
        order = order[np.argsort(label[order], kind="stable")]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(n) - starts[label[order]]
        in_test = rank < per_class[label[order]]
        test, train = rng.permutation(order[in_test]), rng.permutation(order[~in_test])
    else:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]
