"""Data sets read from the user's files: IDX (MNIST, Fashion-MNIST, raw or gzipped) and CSV
tables. Nothing is downloaded: a missing file says which files are expected and where to get them."""

import codecs
import csv as _csv
import gzip
import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from chainrule.data.dataset import LabeledData

# IDX type codes (the third byte of the magic number) -> big-endian dtypes.
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


_CHUNK = 1 << 24  # read in pieces: a header may announce far more than the file holds


def _open_maybe_gzip(path: Path, where: str):
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no such file: {path}")
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb"), gz


def _read_at_most(f, n: int) -> bytearray:
    """Up to n bytes (fewer at the end of the file), never allocating more than the file holds."""
    out = bytearray()
    while len(out) < n:
        piece = f.read(min(_CHUNK, n - len(out)))
        if not piece:
            break
        out += piece
    return out


def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file (the format of MNIST), raw or gzip-compressed.

    The header is checked: two zero bytes, a type code, the number of dims, then the dims; the
    data must be exactly as long as they announce, which is checked before the data are read.
    Returned in native byte order.
    """
    path = Path(path)
    f, gz = _open_maybe_gzip(path, "read_idx")
    try:
        with f:
            return _parse_idx(f, path, gz)
    except (EOFError, OSError, zlib.error) as err:
        if not gz or isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"read_idx: {path} is a damaged or truncated gzip file ({err})") from None


def _parse_idx(f, path: Path, gz: bool) -> np.ndarray:
    magic = _read_at_most(f, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES:
        raise ValueError(
            f"read_idx: {path} is not an IDX file: magic number 0x{magic.hex()}, expected two zero "
            f"bytes, a type code (one of {', '.join(f'{c:02x}' for c in _IDX_TYPES)}) and the number of dims"
        )
    ndim = magic[3]
    header = 4 + 4 * ndim
    dims = _read_at_most(f, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"read_idx: {path} is truncated: its header needs {header} bytes, the file has {4 + len(dims)}"
        )
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = np.dtype(_IDX_TYPES[magic[2]])
    expected = math.prod(shape) * dtype.itemsize  # exact: Python ints do not overflow
    if gz:
        data = _read_at_most(f, expected + 1)
        found = len(data) + (len(f.read(_CHUNK)) if len(data) > expected else 0)
    else:
        found = path.stat().st_size - header
    if found < expected:
        raise ValueError(
            f"read_idx: {path} is truncated: the header announces shape {shape} of {dtype.name} "
            f"({expected} bytes of data), but only {found} bytes follow"
        )
    if found > expected:
        more = "at least " if gz and found - expected > 1 else ""
        raise ValueError(
            f"read_idx: {path} has {more}{found - expected} bytes more than its header announces "
            f"(shape {shape} of {dtype.name}, {expected} bytes of data)"
        )
    if not gz:
        data = _read_at_most(f, expected)
        if len(data) != expected:
            raise ValueError(f"read_idx: {path} changed while it was read")
    return np.frombuffer(data, dtype).reshape(shape).astype(dtype.newbyteorder("="))


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
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{name}: labels must be integers 0..{len(classes) - 1}, {files[1]} holds {labels.dtype}")
    outside = np.flatnonzero((labels < 0) | (labels >= len(classes)))
    if len(outside):
        i = int(outside[0])
        raise ValueError(
            f"{name}: labels must lie in 0..{len(classes) - 1}, {files[1]} holds {labels[i]} (label {i}; "
            f"{len(outside)} outside the range)"
        )
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        i = int(np.flatnonzero(~np.isfinite(images).reshape(len(images), -1).all(axis=1))[0])
        raise ValueError(f"{name}: {files[0]} holds NaN or infinite pixels (image {i}); pixels must be finite")
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
        if header.count(column) > 1:
            raise ValueError(f"csv: {path} has {header.count(column)} columns named {column!r}; "
                             f"give the {what} by position (0..{len(header) - 1})")
        return header.index(column)
    raise ValueError(f"csv: no {what} {column!r} in {path}; its columns are {header}")


def _where(lines: list, i: int) -> str:
    return f"row {i + 1} (line {lines[i]})"


def _numbers(values: list, name: str, lines: list, path: Path) -> np.ndarray:
    """Parse one column's strings as finite float32 values, naming the first cell that is not a
    number, not finite, or beyond float32's range (which would silently become infinite)."""
    try:
        column = np.asarray(values).astype(np.float64)
    except ValueError:
        column = None
    if column is None:  # find the cell the same parser refuses
        for i, v in enumerate(values):
            try:
                np.asarray([v]).astype(np.float64)
            except ValueError:
                what = "a missing value" if not v.strip() else f"{v[:40]!r}, not a number"
                raise ValueError(f"csv: column {name!r}, {_where(lines, i)} of {path}: {what}") from None
    with np.errstate(over="ignore"):
        bad = ~np.isfinite(column.astype(np.float32))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "beyond float32's range" if np.isfinite(column[i]) else "not finite"
        raise ValueError(
            f"csv: column {name!r}, {_where(lines, i)} of {path}: {values[i].strip()[:40]} is {what}; "
            "values must be finite numbers (fill or drop missing values first)"
        )
    return column.astype(np.float32)


def _class_labels(values: list, name: str, lines: list, path: Path) -> tuple:
    """Encode labels as 0..K-1 in sorted order: numerically when they are all numbers (integers
    beyond int64 stay text, so that no two of them merge into one float)."""
    typed = np.asarray(values)
    for kind in (np.int64, np.float64):
        try:
            typed = np.asarray(values).astype(kind)
            break
        except ValueError:
            continue
        except OverflowError:
            break
    if typed.dtype.kind == "f" and not np.isfinite(typed).all():
        i = int(np.flatnonzero(~np.isfinite(typed))[0])
        raise ValueError(f"csv: label column {name!r}, {_where(lines, i)} of {path}: {values[i]!r} is not a class "
                         "label (a missing or infinite value)")
    classes, y = np.unique(typed, return_inverse=True)
    return y.reshape(-1).astype(np.int64), tuple(classes.tolist())


def _read_text(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = raw[:err.start].decode(encoding, errors="replace").count("\n") + 1
        raise ValueError(
            f"csv: {path}, line {line}: byte 0x{raw[err.start]:02x} (at offset {err.start}) is not {encoding} "
            f"text ({err.reason}); pass the file's encoding, e.g. encoding='latin-1' or 'cp1252'"
        ) from None


def _rows(path: Path, encoding: str, delimiter: str) -> tuple:
    """The non-blank rows of the file and the line each starts on."""
    reader = _csv.reader(io.StringIO(_read_text(path, encoding), newline=""), delimiter=delimiter, strict=True)
    rows, lines = [], []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(reader.line_num)
    except _csv.Error as err:
        raise ValueError(f"csv: {path}, line {reader.line_num}: {err}") from None
    return rows, lines


def _check_csv_arguments(label_column, feature_columns, delimiter, task, encoding) -> None:
    if task not in ("classification", "regression"):
        raise ValueError(f"csv: task must be 'classification' or 'regression', got {task!r}")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise ValueError(f"csv: delimiter must be one character other than a quote or newline, got {delimiter!r}")
    if not isinstance(encoding, str):
        raise TypeError(f"csv: encoding must be a str such as 'utf-8', got {type(encoding).__name__}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"csv: unknown encoding {encoding!r}") from None
    if feature_columns is not None and (isinstance(feature_columns, (str, bytes))
                                        or not hasattr(feature_columns, "__iter__")):
        raise TypeError(
            f"csv: feature_columns must be a list of column names or positions, got {feature_columns!r}"
        )
    if isinstance(label_column, (list, tuple)):
        raise TypeError(f"csv: label_column must be one column name or position, got {label_column!r}")


def csv(path, label_column, feature_columns=None, delimiter: str = ",",
        task: str = "classification", encoding: str = "utf-8-sig") -> LabeledData:
    """A table with a header row: the feature columns as X (float32) and ``label_column`` as y.

    label_column / feature_columns: names (or positions) of columns; features default to every
    other column.
    task: "classification": labels (strings or numbers) become int64 codes 0..K-1 in sorted
    order, and ``classes[k]`` is the original label of code k; "regression": y is float32 and
    ``classes`` is None.
    encoding: the file's text encoding (default UTF-8, with or without a byte-order mark).

    Returns ``(X, y)`` with ``.classes`` and ``.feature_names`` (a LabeledData). Every feature
    must be a finite number within float32's range: an empty cell, text, NaN or infinity is an
    error naming the column and the row, as is a byte the encoding cannot read (naming the line).
    """
    _check_csv_arguments(label_column, feature_columns, delimiter, task, encoding)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"csv: no such file: {path}")
    rows, lines = _rows(path, encoding, delimiter)
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
        if len(set(features)) != len(features):
            raise ValueError(f"csv: feature_columns {list(feature_columns)!r} name a column twice")
    if not features:
        raise ValueError(f"csv: {path} has no feature columns besides the label column {header[label]!r}")

    X = np.empty((len(rows), len(features)), dtype=np.float32)
    for k, j in enumerate(features):
        X[:, k] = _numbers([row[j] for row in rows], header[j], lines, path)

    labels = [row[label].strip() for row in rows]
    missing = [i for i, v in enumerate(labels) if not v]
    if missing:
        raise ValueError(f"csv: label column {header[label]!r}, {_where(lines, missing[0])} of {path}: "
                         "a missing label")
    if task == "regression":
        y = _numbers(labels, header[label], lines, path)
        return LabeledData(X, y, feature_names=[header[j] for j in features])
    y, classes = _class_labels(labels, header[label], lines, path)
    return LabeledData(X, y, classes=classes, feature_names=[header[j] for j in features])
