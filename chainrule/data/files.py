"""Data sets read from the user's files: IDX (MNIST, Fashion-MNIST, raw or gzipped) and CSV
tables. Nothing is downloaded: a missing file says which files are expected and where to get them."""

import csv as _csv
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from chainrule.data.dataset import LabeledData

# IDX type codes (the third byte of the magic number) -> big-endian dtypes.
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: Path, where: str) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no such file: {path}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise ValueError(f"{where}: {path} is a damaged or truncated gzip file ({err})") from None
    return raw


def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file (the format of MNIST), raw or gzip-compressed.

    The header is checked: two zero bytes, a type code, the number of dims, then the dims; the
    data must be exactly as long as they announce. Returned in native byte order.
    """
    path = Path(path)
    raw = _read_bytes(path, "read_idx")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(
            f"read_idx: {path} is not an IDX file: magic number 0x{raw[:4].hex()}, expected two zero "
            f"bytes, a type code (one of {', '.join(f'{c:02x}' for c in _IDX_TYPES)}) and the number of dims"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"read_idx: {path} is truncated: its header needs {header} bytes, the file has {len(raw)}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected, found = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize, len(raw) - header
    if found < expected:
        raise ValueError(
            f"read_idx: {path} is truncated: the header announces shape {shape} of {dtype.name} "
            f"({expected} bytes of data), but only {found} bytes follow"
        )
    if found > expected:
        raise ValueError(
            f"read_idx: {path} has {found - expected} bytes more than its header announces "
            f"(shape {shape} of {dtype.name}, {expected} bytes of data)"
        )
    return np.frombuffer(raw, dtype, count=expected // dtype.itemsize, offset=header).reshape(shape).astype(
        dtype.newbyteorder("=")
    )


_IDX_NAMES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def _idx_pair(path, train: bool, name: str, url: str, classes, flatten: bool, scale: bool) -> LabeledData:
    folder = Path(path)
    files = []
    for stem in _IDX_NAMES[bool(train)]:
        found = [p for p in (folder / f"{stem}.gz", folder / stem) if p.is_file()]
        if not found:
            expected = ", ".join(f"{stem}.gz" for pair in _IDX_NAMES.values() for stem in pair)
            raise FileNotFoundError(
                f"{name}: {stem}(.gz) not found in {folder}; expected the IDX files {expected} "
                f"(gzipped or not) in that directory; get them from {url}"
            )
        files.append(found[0])
    images, labels = read_idx(files[0]), read_idx(files[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{name}: expected images (N, rows, cols) and N labels, got shapes {images.shape} from "
            f"{files[0].name} and {labels.shape} from {files[1].name}"
        )
    if len(labels) and labels.max() >= len(classes):
        raise ValueError(
            f"{name}: labels must lie in 0..{len(classes) - 1}, {files[1].name} holds {labels.max()}"
        )
    X = images.astype(np.float32)
    if scale:
        X /= 255.0
    X = X.reshape(len(X), -1) if flatten else X[:, None]
    return LabeledData(X, labels.astype(np.int64), classes=classes)


def mnist(path, train: bool = True, flatten: bool = True, scale: bool = False) -> LabeledData:
    """MNIST's 70,000 handwritten digits, read from the IDX files in the directory ``path``:
    train-images-idx3-ubyte, train-labels-idx1-ubyte (60,000, ``train=True``) or t10k-... (10,000),
    each raw or ``.gz``, as distributed at http://yann.lecun.com/exdb/mnist/.

    Returns ``(X, y)``: X float32 pixels 0..255 (0..1 with ``scale=True``) of shape (N, 784), or
    (N, 1, 28, 28) with ``flatten=False``; y int64 labels 0..9.
    """
    return _idx_pair(path, train, "mnist", "http://yann.lecun.com/exdb/mnist/",
                     tuple(str(d) for d in range(10)), flatten, scale)


def fashion_mnist(path, train: bool = True, flatten: bool = True, scale: bool = False) -> LabeledData:
    """Fashion-MNIST (Zalando; 28x28 grey images of 10 kinds of clothing, MIT licence), read as
    ``mnist`` reads MNIST: the same file names, from https://github.com/zalandoresearch/fashion-mnist.
    ``classes`` holds the names (``FASHION_MNIST_CLASSES``)."""
    return _idx_pair(path, train, "fashion_mnist", "https://github.com/zalandoresearch/fashion-mnist",
                     FASHION_MNIST_CLASSES, flatten, scale)


def _column(header: list, column, path: Path, what: str) -> int:
    is_int = isinstance(column, (int, np.integer)) and not isinstance(column, bool)
    if is_int and -len(header) <= column < len(header):
        return int(column) % len(header)
    if isinstance(column, str) and column in header:
        return header.index(column)
    raise ValueError(f"csv: no {what} {column!r} in {path}; its columns are {header}")


def _where(lines: list, i: int) -> str:
    return f"row {i + 1} (line {lines[i]})"


def _numbers(values: list, name: str, lines: list, path: Path) -> np.ndarray:
    """Parse one column's strings as float64, naming the first cell that is not a number."""
    try:
        return np.asarray(values).astype(np.float64)
    except ValueError:
        for i, v in enumerate(values):
            try:
                float(v)
            except ValueError:
                what = "a missing value" if not v.strip() else f"{v!r}, not a number"
                raise ValueError(f"csv: column {name!r}, {_where(lines, i)} of {path}: {what}") from None
        raise


def _class_labels(values: list) -> tuple:
    """Encode labels as 0..K-1 in sorted order: numerically when they are all numbers."""
    for kind in (np.int64, np.float64):
        try:
            typed = np.asarray(values).astype(kind)
            break
        except ValueError:
            continue
    else:
        typed = np.asarray(values)
    classes, y = np.unique(typed, return_inverse=True)
    return y.reshape(-1).astype(np.int64), tuple(classes.tolist())


def csv(path, label_column, feature_columns=None, delimiter: str = ",",
        task: str = "classification") -> LabeledData:
    """A table with a header row: the feature columns as X (float32) and ``label_column`` as y.

    label_column / feature_columns: names (or positions) of columns; features default to every
    other column.
    task: "classification": labels (strings or numbers) become int64 codes 0..K-1 in sorted
    order, and ``classes[k]`` is the original label of code k; "regression": y is float32 and
    ``classes`` is None.

    Returns ``(X, y)`` with ``.classes`` and ``.feature_names`` (a LabeledData). Every feature
    must be a finite number: an empty cell, text, NaN or infinity is an error naming the
    column and the row.
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"csv: task must be 'classification' or 'regression', got {task!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"csv: no such file: {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = _csv.reader(f, delimiter=delimiter)
        rows, lines = [], []
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(reader.line_num)
    if not rows:
        raise ValueError(f"csv: {path} is empty; expected a header row naming the columns, then data rows")
    header, rows, lines = [h.strip() for h in rows[0]], rows[1:], lines[1:]
    if not rows:
        raise ValueError(f"csv: {path} has a header but no data rows")
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(
                f"csv: {_where(lines, i)} of {path} has {len(row)} fields, but the header has {len(header)}"
            )
    label = _column(header, label_column, path, "label column")
    if feature_columns is None:
        features = [j for j in range(len(header)) if j != label]
    else:
        features = [_column(header, c, path, "feature column") for c in feature_columns]
        if label in features:
            raise ValueError(f"csv: the label column {header[label]!r} is also among the feature columns")
    if not features:
        raise ValueError(f"csv: {path} has no feature columns besides the label column {header[label]!r}")

    X = np.empty((len(rows), len(features)), dtype=np.float64)
    for k, j in enumerate(features):
        X[:, k] = _numbers([row[j] for row in rows], header[j], lines, path)
    bad = ~np.isfinite(X)
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise ValueError(
            f"csv: column {header[features[k]]!r}, {_where(lines, i)} of {path}: {X[i, k]}; "
            "features must be finite numbers (fill or drop missing values first)"
        )

    labels = [row[label].strip() for row in rows]
    missing = [i for i, v in enumerate(labels) if not v]
    if missing:
        raise ValueError(f"csv: label column {header[label]!r}, {_where(lines, missing[0])} of {path}: "
                         "a missing label")
    if task == "regression":
        y = _numbers(labels, header[label], lines, path)
        if not np.isfinite(y).all():
            i = int(np.flatnonzero(~np.isfinite(y))[0])
            raise ValueError(f"csv: label column {header[label]!r}, {_where(lines, i)} of {path}: "
                             f"{y[i]}; regression targets must be finite")
        return LabeledData(X.astype(np.float32), y.astype(np.float32),
                           feature_names=[header[j] for j in features])
    y, classes = _class_labels(labels)
    return LabeledData(X.astype(np.float32), y, classes=classes, feature_names=[header[j] for j in features])
