"""Built-in data sets, generated or shipped with chainrule (no network): xor, moons, circles,
spirals, the 8x8 digits, MNIST-1D; and ``load_dataset``, every data set by name.

Each returns ``(X, y)`` NumPy arrays (a LabeledData, which also carries ``classes``): X float32,
y int64 class labels. ``seed`` makes a generated set repeat; None draws from chainrule's
generator, so ``chainrule.manual_seed`` repeats it too.
"""

from pathlib import Path

import numpy as np

from chainrule import random
from chainrule._arguments import number_arg, seed_arg
from chainrule.data.dataset import LabeledData
from chainrule.data.files import csv, fashion_mnist, mnist
from chainrule.data.mnist1d import mnist1d


def _rng(seed, where: str) -> np.random.Generator:
    seed_arg(seed, where)
    return random.get_generator() if seed is None else np.random.default_rng(seed)


def _check_count(n, least: int, where: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < least:
        raise ValueError(f"{where}: n_samples must be an integer >= {least}, got {n!r}")
    return int(n)


def _finish(points: np.ndarray, labels: np.ndarray, noise: float, rng: np.random.Generator,
            n_classes: int) -> LabeledData:
    """Add Gaussian noise, shuffle so that no slice holds one class only, cast."""
    points = points + noise * rng.standard_normal(points.shape)
    order = rng.permutation(len(labels))
    return LabeledData(points[order].astype(np.float32), labels[order].astype(np.int64),
                       classes=tuple(range(n_classes)))


def xor() -> LabeledData:
    """The four points of XOR, the smallest problem a linear model cannot solve.

    >>> X, y = xor()
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    return LabeledData(X, np.array([0, 1, 1, 0], dtype=np.int64), classes=(0, 1))


def moons(n_samples: int = 200, noise: float = 0.1, seed: int | None = None) -> LabeledData:
    """Two interleaving half circles (scikit-learn's make_moons): class 0 the upper arc of radius
    1 around (0, 0), class 1 the lower one around (1, 0.5); Gaussian noise of std ``noise``.

    >>> X, y = moons(100, seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((100, 2), [50, 50])
    """
    n = _check_count(n_samples, 2, "moons")
    noise, rng = number_arg(noise, "noise", "moons", low=0), _rng(seed, "moons")
    n_out, n_in = n // 2, n - n // 2
    outer, inner = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    points = np.concatenate([
        np.stack([np.cos(outer), np.sin(outer)], axis=1),
        np.stack([1 - np.cos(inner), 0.5 - np.sin(inner)], axis=1),
    ])
    labels = np.repeat([0, 1], [n_out, n_in])
    return _finish(points, labels, noise, rng, 2)


def circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5,
            seed: int | None = None) -> LabeledData:
    """Two concentric circles (scikit-learn's make_circles): class 0 of radius 1, class 1 of
    radius ``factor``; Gaussian noise of std ``noise``.

    >>> X, y = circles(10, noise=0.0, seed=0)
    >>> np.round(np.hypot(*X.T), 3)[np.argsort(y)].tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5]
    """
    n = _check_count(n_samples, 2, "circles")
    factor = number_arg(factor, "factor (inner radius / outer radius)", "circles", low=0, high=1, high_open=True)
    noise, rng = number_arg(noise, "noise", "circles", low=0), _rng(seed, "circles")
    n_out, n_in = n // 2, n - n // 2
    outer = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    points = np.concatenate([
        np.stack([np.cos(outer), np.sin(outer)], axis=1),
        factor * np.stack([np.cos(inner), np.sin(inner)], axis=1),
    ])
    labels = np.repeat([0, 1], [n_out, n_in])
    return _finish(points, labels, noise, rng, 2)


def spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.05, turns: float = 1.0,
            seed: int | None = None) -> LabeledData:
    """``n_classes`` interleaved spiral arms from the origin, one per class (the classic
    two-spirals problem for ``n_classes=2``). Arm k holds the points
    ``r * (cos a, sin a)`` with r evenly spaced on [0, 1] and
    ``a = 2 pi (k / n_classes + turns * r)``; Gaussian noise of std ``noise``. The classes are
    as balanced as ``n_samples`` allows.

    >>> X, y = spirals(300, n_classes=3, seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((300, 2), [100, 100, 100])
    """
    n = _check_count(n_samples, n_classes, "spirals")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"spirals: n_classes must be an integer >= 2, got {n_classes!r}")
    turns = number_arg(turns, "turns", "spirals")
    noise, rng = number_arg(noise, "noise", "spirals", low=0), _rng(seed, "spirals")
    counts = [n // n_classes + (k < n % n_classes) for k in range(n_classes)]
    labels = np.repeat(np.arange(n_classes), counts)
    r = np.concatenate([np.linspace(0, 1, m) for m in counts])
    angle = 2 * np.pi * (labels / n_classes + turns * r)
    points = r[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return _finish(points, labels, noise, rng, n_classes)


_DIGITS_FILE = Path(__file__).with_name("digits.npz")


def digits(scale: bool = False, flatten: bool = True) -> LabeledData:
    """The 8x8 handwritten digits that scikit-learn bundles: 1797 images, 10 classes.

    Returns ``(X, y)``: X float32 of shape (1797, 64) (or (1797, 1, 8, 8) with
    ``flatten=False``) holding the pixel counts 0..16 as scikit-learn's ``load_digits`` does,
    or divided by 16 into [0, 1] with ``scale=True``; y int64 labels 0..9.

    Origin: the test part of "Optical Recognition of Handwritten Digits" (E. Alpaydin and
    C. Kaynak, 1998), UCI Machine Learning Repository, https://doi.org/10.24432/C50P49,
    licensed CC BY 4.0; stored in chainrule/data/digits.npz by tools/make_digits_file.py.

    >>> X, y = digits()
    >>> X.shape, X.dtype, float(X.max()), np.bincount(y).tolist()[:3]
    ((1797, 64), dtype('float32'), 16.0, [178, 182, 177])
    """
    with np.load(_DIGITS_FILE, allow_pickle=False) as stored:
        images, labels = stored["images"], stored["labels"]
    X = images.astype(np.float32)
    if scale:
        X /= 16.0
    if not flatten:
        X = X.reshape(-1, 1, 8, 8)
    return LabeledData(X, labels.astype(np.int64), classes=tuple(str(d) for d in range(10)))


DATASETS = {
    "xor": xor, "moons": moons, "circles": circles, "spirals": spirals, "digits": digits,
    "mnist1d": mnist1d, "mnist": mnist, "fashion_mnist": fashion_mnist, "csv": csv,
}


def load_dataset(name: str, **kwargs) -> LabeledData:
    """The data set called ``name`` (one of ``DATASETS``; "fashion-mnist" works as well),
    built with ``kwargs``, e.g. ``load_dataset("csv", path="iris.csv", label_column="species")``.

    >>> X, y = load_dataset("moons", n_samples=50, seed=0)
    >>> X.shape
    (50, 2)
    """
    key = name.lower().replace("-", "_") if isinstance(name, str) else name
    if key not in DATASETS:
        raise ValueError(f"load_dataset: unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key](**kwargs)
