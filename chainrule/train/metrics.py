"""Metrics computed on a whole epoch's predictions: accuracy, top-k accuracy, macro precision,
recall and F1 for classifiers; MSE, MAE and R^2 for regressors.

Each takes ``(y_true, output)`` as arrays, where ``output`` is what the model produced: class
scores (N, C) (logits or probabilities), or one column (N,) / (N, 1) for binary classification
(read as logits when any value lies outside [0, 1], else as probabilities) or for regression.
"""

import re

import numpy as np


def predicted_classes(output) -> np.ndarray:
    """The class each row of ``output`` votes for."""
    output = np.asarray(output)
    if output.ndim >= 2 and output.shape[-1] > 1:
        return output.argmax(axis=-1)
    column = output.reshape(len(output), -1)[:, 0] if output.ndim else output.reshape(1)
    threshold = 0.5 if (column.min() >= 0 and column.max() <= 1) else 0.0
    return (column > threshold).astype(np.int64)


def _labels(y_true):
    y_true = np.asarray(y_true)
    return y_true.reshape(len(y_true), -1)[:, 0] if y_true.ndim > 1 else y_true


def accuracy(y_true, output) -> float:
    """Fraction of samples whose predicted class equals the label."""
    return float(np.mean(predicted_classes(output) == _labels(y_true)))


def top_k_accuracy(y_true, output, k: int = 5) -> float:
    """Fraction of samples whose label is among the k highest scores."""
    output = np.asarray(output)
    if output.ndim != 2:
        raise ValueError(f"top_k_accuracy: needs class scores of shape (N, C), got {output.shape}")
    k = min(k, output.shape[1])
    top = np.argpartition(-output, k - 1, axis=1)[:, :k]
    return float(np.mean((top == _labels(y_true)[:, None]).any(axis=1)))


def _per_class(y_true, output):
    truth, predicted = _labels(y_true), predicted_classes(output)
    classes = np.union1d(truth, predicted)
    tp = np.array([np.sum((predicted == c) & (truth == c)) for c in classes], dtype=float)
    predicted_count = np.array([np.sum(predicted == c) for c in classes], dtype=float)
    true_count = np.array([np.sum(truth == c) for c in classes], dtype=float)
    return tp, predicted_count, true_count


def _safe_divide(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def precision(y_true, output) -> float:
    """Macro-averaged precision (a class never predicted counts as 0, as scikit-learn)."""
    tp, predicted_count, _ = _per_class(y_true, output)
    return float(np.mean(_safe_divide(tp, predicted_count)))


def recall(y_true, output) -> float:
    """Macro-averaged recall."""
    tp, _, true_count = _per_class(y_true, output)
    return float(np.mean(_safe_divide(tp, true_count)))


def f1(y_true, output) -> float:
    """Macro-averaged F1: the mean over classes of 2 P R / (P + R)."""
    tp, predicted_count, true_count = _per_class(y_true, output)
    p, r = _safe_divide(tp, predicted_count), _safe_divide(tp, true_count)
    return float(np.mean(_safe_divide(2 * p * r, p + r)))


def _regression_pair(y_true, output):
    y_true, output = np.asarray(y_true, dtype=float), np.asarray(output, dtype=float)
    if y_true.size != output.size:
        raise ValueError(f"regression metric: {y_true.shape} targets against {output.shape} outputs")
    return y_true.reshape(-1), output.reshape(-1)


def mse(y_true, output) -> float:
    y, p = _regression_pair(y_true, output)
    return float(np.mean((y - p) ** 2))


def mae(y_true, output) -> float:
    y, p = _regression_pair(y_true, output)
    return float(np.mean(np.abs(y - p)))


def r2(y_true, output) -> float:
    """Coefficient of determination: 1 - SS_res / SS_tot."""
    y, p = _regression_pair(y_true, output)
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - p) ** 2) / total) if total > 0 else 0.0


_BY_NAME = {
    "accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1,
    "mse": mse, "mae": mae, "r2": r2,
}  # fmt: skip


def get_metric(spec):
    """``(name, function)`` for a metric name ("accuracy", "top3_accuracy", "f1", ...) or a callable."""
    if callable(spec):
        return getattr(spec, "__name__", "metric"), spec
    if not isinstance(spec, str):
        raise TypeError(f"a metric must be a name such as 'accuracy' or a callable(y_true, output), got {spec!r}")
    top_k = re.fullmatch(r"top_?(\d+)_accuracy", spec)
    if top_k:
        k = int(top_k.group(1))
        return spec, lambda y, out: top_k_accuracy(y, out, k)
    if spec not in _BY_NAME:
        raise ValueError(
            f"unknown metric {spec!r}; expected one of {sorted(_BY_NAME)}, 'topK_accuracy' or a callable"
        )
    return spec, _BY_NAME[spec]
