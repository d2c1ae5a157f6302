"""MNIST-1D: ten one-dimensional "digit" outlines, distorted into a 40-point classification task
that is hard for linear models yet trains on a CPU in seconds; generated here, never downloaded.

References: S. Greydanus, "Scaling down deep learning", arXiv:2011.14439 (2020); S. Greydanus
and D. Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024. Reference code (and the
outline values below): https://github.com/greydanus/mnist1d, Apache-2.0. This is a NumPy
re-implementation of its ``make_dataset`` with its default arguments; it draws the same random
numbers in the same order from a legacy ``RandomState(seed)``, so ``mnist1d()`` matches the
reference data set for the same seed (42 by default) to float32 rounding.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from chainrule._arguments import number_arg, seed_arg
from chainrule.data.dataset import LabeledData

# The ten outlines, 12 points each (the reference's templates).
_OUTLINES = np.array([
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
])

# The reference's default arguments.
_PADDING = (36, 60)  # zeros appended after the 12-point outline, drawn uniformly from this range
_WIDTH = 12 + _PADDING[1]  # every padded signal is stretched to this many points
_SCALE_COEFF = 0.4
_MAX_TRANSLATION = 48
_CORR_NOISE, _IID_NOISE = 0.25, 0.02
_SHEAR = 0.75
_LENGTH = 40
_EPS = 1e-8  # marks the outline as non-zero, so noise fills only the padding


def _templates() -> np.ndarray:
    x = _OUTLINES - _OUTLINES.mean(1, keepdims=True)
    x /= x.std(1, keepdims=True)
    x -= x[:, :1]  # each outline starts (and ends) at 0
    return x / 6.0


def _resample(x: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of each row onto n evenly spaced points (scipy's interp1d formula,
    so that the numbers match the reference)."""
    old, new = np.linspace(0, 1, x.shape[-1]), np.linspace(0, 1, n)
    hi = np.clip(np.searchsorted(old, new), 1, len(old) - 1)
    lo = hi - 1
    slope = (x[:, hi] - x[:, lo]) / (old[hi] - old[lo])
    return slope * (new - old[lo]) + x[:, lo]


def _smooth(x: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Gaussian smoothing of each row, as scipy.ndimage.gaussian_filter (radius 4 sigma, edges
    mirrored)."""
    radius = int(4 * sigma + 0.5)
    k = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * k**2 / sigma**2)
    weights /= weights.sum()
    padded = np.pad(x, [(0, 0), (radius, radius)], mode="symmetric")
    return sliding_window_view(padded, 2 * radius + 1, axis=-1) @ weights


def mnist1d(n_samples: int = 5000, seed: int = 42, train: bool | None = None,
            train_split: float = 0.8) -> LabeledData:
    """MNIST-1D: ``n_samples`` signals of 40 points in 10 balanced classes.

    Each sample is its class's outline, padded with 36..60 zeros and stretched to 72 points,
    scaled by 0.8..1.2, rotated by 0..47 points, its padding filled with smoothed noise, plus
    white noise, sheared, and resampled to 40 points; the whole set is shuffled and standardised
    (mean 0, standard deviation 1). The reference splits it into the first ``train_split``
    (4000 of 5000) for training and the rest (1000) for testing: ``train=True`` / ``False``
    returns that part, None (the default) all samples in order.

    Returns ``(X, y)``: X float32 (N, 40), y int64 labels 0..9.

    >>> X, y = mnist1d(train=True)
    >>> X.shape, X.dtype, y.dtype
    ((4000, 40), dtype('float32'), dtype('int64'))
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples <= 0 \
            or n_samples % 10:
        raise ValueError(
            f"mnist1d: n_samples must be a positive multiple of 10 (10 balanced classes), got {n_samples!r}"
        )
    seed_arg(seed, "mnist1d")
    if seed is None:
        raise TypeError("mnist1d: seed must be a non-negative integer (the reference data set uses 42), got None")
    train_split = number_arg(train_split, "train_split", "mnist1d", low=0, high=1, low_open=True, high_open=True)
    labels = np.repeat(np.arange(10), n_samples // 10)
    n = len(labels)

    # The reference draws per sample, in this order; drawing the same way keeps its data set.
    rs = np.random.RandomState(seed)
    pad_u, scale_u, shear_u = np.empty(n), np.empty(n), np.empty(n)
    shift = np.empty(n, dtype=np.int64)
    corr, iid = np.empty((n, _WIDTH)), np.empty((n, _WIDTH))
    for i in range(n):
        pad_u[i], scale_u[i] = rs.rand(), rs.rand()
        shift[i] = rs.choice(_MAX_TRANSLATION)
        corr[i], iid[i] = rs.randn(_WIDTH), rs.randn(_WIDTH)
        shear_u[i] = rs.rand()
    order = rs.permutation(n)

    # Pad with a random number of zeros and stretch to _WIDTH points: one resampling per length.
    padded = np.zeros((n, _WIDTH))
    padded[:, :12] = _templates()[labels] + _EPS
    lengths = 12 + _PADDING[0] + (pad_u * (_PADDING[1] - _PADDING[0] + 1)).astype(np.int64)
    x = np.empty((n, _WIDTH))
    for length in np.unique(lengths):
        rows = lengths == length
        x[rows] = _resample(padded[rows, :length], _WIDTH)
    x *= (1 + _SCALE_COEFF * (scale_u - 0.5))[:, None]
    x = np.take_along_axis(x, (np.arange(_WIDTH) - shift[:, None]) % _WIDTH, axis=1)  # rotate right
    x = np.where(x != 0, x, _smooth(_CORR_NOISE * corr))
    x = x + _IID_NOISE * iid
    x = x - (_SHEAR * (shear_u - 0.5))[:, None] * np.linspace(-0.5, 0.5, _WIDTH)
    x = _resample(x, _LENGTH)[order]
    x = (x - x.mean()) / x.std()
    y = labels[order]
    if train is not None:
        cut = int(n * train_split)
        part = slice(None, cut) if train else slice(cut, None)
        x, y = x[part], y[part]
    return LabeledData(x.astype(np.float32), y.astype(np.int64), classes=tuple(str(d) for d in range(10)))
