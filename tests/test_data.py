"""chainrule.data: data sets, loaders, scaling and splitting, against NumPy (and scikit-learn /
scipy where installed), on small files the tests write."""

import gzip
import pickle
import struct

import numpy as np
import pytest

import chainrule
from chainrule._tensor import Tensor
from chainrule.data.builtin import DATASETS, circles, digits, load_dataset, moons, spirals, xor
from chainrule.data.dataset import Dataset, LabeledData, Subset, TensorDataset, random_split
from chainrule.data.files import FASHION_MNIST_CLASSES, csv, fashion_mnist, mnist, read_idx
from chainrule.data.loader import DataLoader, default_collate
from chainrule.data.mnist1d import mnist1d
from chainrule.data.preprocessing import StandardScaler, split

# -- built-in data sets ------------------------------------------------------------------------

GENERATED = {
    "moons": lambda seed: moons(101, noise=0.1, seed=seed),
    "circles": lambda seed: circles(101, noise=0.05, seed=seed),
    "spirals": lambda seed: spirals(101, n_classes=4, seed=seed),
}


@pytest.mark.parametrize(
    ("make", "shape", "n_classes"),
    [
        (xor, (4, 2), 2),
        (lambda: moons(101, seed=0), (101, 2), 2),
        (lambda: circles(101, seed=0), (101, 2), 2),
        (lambda: spirals(101, n_classes=4, seed=0), (101, 2), 4),
        (digits, (1797, 64), 10),
        (lambda: mnist1d(200, seed=1), (200, 40), 10),
    ],
    ids=["xor", "moons", "circles", "spirals", "digits", "mnist1d"],
)
def test_shapes_and_dtypes(make, shape, n_classes):
    data = make()
    X, y = data
    assert isinstance(data, LabeledData)
    assert X.shape == shape and X.dtype == np.float32 and np.isfinite(X).all()
    assert y.shape == shape[:1] and y.dtype == np.int64
    assert sorted(set(y.tolist())) == list(range(n_classes))
    assert len(data.classes) == n_classes


def test_xor_is_the_truth_table():
    X, y = xor()
    np.testing.assert_array_equal(y, np.logical_xor(X[:, 0], X[:, 1]).astype(np.int64))


@pytest.mark.parametrize("name", list(GENERATED))
def test_generated_sets_repeat_with_a_seed_and_follow_manual_seed(name):
    make = GENERATED[name]
    a, b, c = make(3), make(3), make(4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    chainrule.manual_seed(11)
    d = make(None)
    chainrule.manual_seed(11)
    e = make(None)
    np.testing.assert_array_equal(d.X, e.X)
    assert not np.array_equal(d.X, make(None).X)


def test_generated_geometry_without_noise():
    X, y = moons(40, noise=0.0, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 0.5 + 1e-6).all()

    X, y = circles(41, noise=0.0, factor=0.3, seed=0)
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1, atol=1e-6)
    np.testing.assert_allclose(np.hypot(*X[y == 1].T), 0.3, atol=1e-6)
    assert np.bincount(y).tolist() == [20, 21]

    X, y = spirals(30, n_classes=3, noise=0.0, turns=1.0, seed=0)
    assert np.bincount(y).tolist() == [10, 10, 10]
    for k in range(3):
        arm = X[y == k]
        r = np.hypot(*arm.T)
        first = arm[np.argmax(r)]  # r = 1: the angle is 2 pi (k / 3 + 1)
        np.testing.assert_allclose(first, [np.cos(2 * np.pi * k / 3), np.sin(2 * np.pi * k / 3)], atol=1e-6)
        np.testing.assert_allclose(np.sort(r), np.linspace(0, 1, 10), atol=1e-6)


def test_generated_sets_reject_bad_arguments():
    with pytest.raises(ValueError, match="n_samples"):
        moons(1)
    with pytest.raises(ValueError, match="noise"):
        moons(10, noise=-1)
    with pytest.raises(ValueError, match="factor"):
        circles(10, factor=1.5)
    with pytest.raises(ValueError, match="n_classes"):
        spirals(10, n_classes=1)


def test_digits_equal_scikit_learns_copy():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    reference = sklearn_datasets.load_digits()
    X, y = digits()
    np.testing.assert_array_equal(X, reference.data.astype(np.float32))
    np.testing.assert_array_equal(y, reference.target)


def test_digits_scale_and_image_shape():
    X, _ = digits()
    assert X.min() == 0 and X.max() == 16
    assert np.array_equal(X, np.round(X))
    scaled, _ = digits(scale=True)
    np.testing.assert_allclose(scaled, X / 16)
    images, labels = digits(flatten=False)
    assert images.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    assert np.bincount(labels).min() >= 170


def test_mnist1d_matches_the_published_reference():
    # Values of the reference implementation (pip package mnist1d 0.0.2.post1, make_dataset with
    # get_dataset_args()): its x/y and x_test/y_test are our first 4000 / last 1000 samples.
    X, y = mnist1d()
    assert X.shape == (5000, 40)
    assert y[:20].tolist() == [2, 6, 4, 5, 6, 6, 6, 0, 3, 1, 6, 9, 4, 3, 4, 5, 1, 9, 0, 3]
    assert y[-10:].tolist() == [8, 3, 3, 6, 1, 2, 5, 9, 6, 4]
    np.testing.assert_allclose(
        X[0, :8], [-0.332006, -0.47191, -0.778697, -1.009741, -0.882353, 0.103935, 1.643284, 1.652507],
        atol=2e-6)
    np.testing.assert_allclose(
        X[-1, -8:], [-0.540012, -0.558772, -0.395911, -0.098646, 0.447233, 0.659876, 0.877734, 1.193152],
        atol=2e-6)
    assert np.bincount(y[:4000]).tolist() == [398, 396, 411, 394, 394, 402, 401, 404, 402, 398]


def _mnist1d_by_loop(n, seed):
    """The published procedure, one sample at a time, with scipy's filter and interpolation."""
    ndimage, interpolate = pytest.importorskip("scipy.ndimage"), pytest.importorskip("scipy.interpolate")
    from chainrule.data.mnist1d import _templates

    def stretch(x, n):
        return interpolate.interp1d(np.linspace(0, 1, len(x)), x, kind="linear")(np.linspace(0, 1, n))

    rs = np.random.RandomState(seed)
    xs, ys = [], []
    for label in range(10):
        for _ in range(n // 10):
            x = _templates()[label] + 1e-8
            x = np.concatenate([x, np.zeros(36 + int(rs.rand() * 25))])
            x = stretch(x, 72)
            x = x * (1 + 0.4 * (rs.rand() - 0.5))
            x = np.roll(x, rs.choice(48))
            noise = ndimage.gaussian_filter(0.25 * rs.randn(72), 2)
            x = np.where(x != 0, x, noise) + 0.02 * rs.randn(72)
            x = x - 0.75 * (rs.rand() - 0.5) * np.linspace(-0.5, 0.5, 72)
            xs.append(stretch(x, 40))
            ys.append(label)
    order = rs.permutation(n)
    X, y = np.stack(xs)[order], np.array(ys)[order]
    return (X - X.mean()) / X.std(), y


def test_mnist1d_matches_a_per_sample_loop_for_other_seeds():
    X, y = mnist1d(120, seed=5)
    X_ref, y_ref = _mnist1d_by_loop(120, 5)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(X, X_ref, atol=1e-6)


def test_mnist1d_balance_split_determinism():
    X, y = mnist1d(300, seed=2)
    assert np.bincount(y).tolist() == [30] * 10
    assert abs(X.mean()) < 1e-5 and abs(X.std() - 1) < 1e-5
    X2, y2 = mnist1d(300, seed=2)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, mnist1d(300, seed=3).X)
    X_train, y_train = mnist1d(300, seed=2, train=True)
    X_test, y_test = mnist1d(300, seed=2, train=False)
    assert len(X_train) == 240 and len(X_test) == 60
    np.testing.assert_array_equal(np.concatenate([X_train, X_test]), X)
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), y)
    with pytest.raises(ValueError, match="multiple of 10"):
        mnist1d(105)
    with pytest.raises(ValueError, match="train_split"):
        mnist1d(100, train_split=1.0)


def test_load_dataset_by_name(tmp_path):
    X, _ = load_dataset("moons", n_samples=30, seed=1)
    np.testing.assert_array_equal(X, moons(30, seed=1).X)
    assert load_dataset("xor").X.shape == (4, 2)
    assert set(DATASETS) == {"xor", "moons", "circles", "spirals", "digits", "mnist1d", "mnist",
                             "fashion_mnist", "csv"}
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        load_dataset("Fashion-MNIST", path=tmp_path)
    with pytest.raises(ValueError, match=r"unknown data set 'cifar'.*moons"):
        load_dataset("cifar")


def test_labeled_data_unpacks_and_pickles():
    data = LabeledData(np.ones((2, 3)), np.array([1, 0]), classes=["a", "b"], feature_names=["p", "q", "r"])
    X, y = data
    assert data.X is X and data.y is y and data.classes == ("a", "b")
    back = pickle.loads(pickle.dumps(data))
    assert back.classes == ("a", "b") and back.feature_names == ("p", "q", "r")
    np.testing.assert_array_equal(back.X, X)


# -- IDX files ---------------------------------------------------------------------------------

_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int16): 0x0B, np.dtype(np.float32): 0x0D}


def write_idx(path, array, gz=None):
    header = bytes([0, 0, _CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    gz = str(path).endswith(".gz") if gz is None else gz
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return raw


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_read_idx_round_trip(tmp_path, name, dtype):
    array = (np.arange(24).reshape(2, 3, 4) * 7 - 50).astype(dtype) if dtype != np.uint8 else \
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == dtype and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_read_idx_rejects_bad_files(tmp_path):
    raw = write_idx(tmp_path / "ok", np.arange(100, dtype=np.uint8).reshape(10, 10))
    (tmp_path / "short").write_bytes(raw[:-3])
    with pytest.raises(ValueError, match=r"truncated.*\(10, 10\).*100 bytes.*only 97"):
        read_idx(tmp_path / "short")
    (tmp_path / "short.gz").write_bytes(gzip.compress(raw[:-3]))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(raw)[:-10])
    with pytest.raises(ValueError, match="damaged or truncated gzip"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "header").write_bytes(raw[:6])
    with pytest.raises(ValueError, match="header needs 12 bytes"):
        read_idx(tmp_path / "header")
    (tmp_path / "long").write_bytes(raw + b"\0\0")
    with pytest.raises(ValueError, match="2 bytes more"):
        read_idx(tmp_path / "long")
    (tmp_path / "magic").write_bytes(b"\x01\x02" + raw[2:])
    with pytest.raises(ValueError, match="not an IDX file: magic number 0x01020802"):
        read_idx(tmp_path / "magic")
    (tmp_path / "type").write_bytes(b"\0\0\x07" + raw[3:])
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "type")
    with pytest.raises(FileNotFoundError, match="nothing"):
        read_idx(tmp_path / "nothing")


def _fake_mnist(folder, n_train=5, n_test=3, gz=True, rows=28):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, rows, rows), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return images, labels  # the test part


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files(tmp_path, gz):
    images, labels = _fake_mnist(tmp_path, gz=gz)
    X, y = mnist(tmp_path, train=False)
    assert X.shape == (3, 784) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X, images.reshape(3, -1))
    np.testing.assert_array_equal(y, labels)
    X_train, _ = mnist(tmp_path)
    assert X_train.shape == (5, 784)
    X_img, _ = mnist(tmp_path, train=False, flatten=False, scale=True)
    assert X_img.shape == (3, 1, 28, 28) and X_img.max() <= 1
    np.testing.assert_allclose(X_img[:, 0], images / 255, rtol=1e-6)
    data = fashion_mnist(tmp_path, train=False)
    assert data.classes == FASHION_MNIST_CLASSES and data.classes[0] == "T-shirt/top"


def test_mnist_missing_and_mismatched_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*t10k-labels-idx1-ubyte\.gz.*"
                                                r"yann\.lecun\.com/exdb/mnist"):
        mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"github\.com/zalandoresearch/fashion-mnist"):
        fashion_mnist(tmp_path / "absent")
    _fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r"shapes \(3, 28, 28\).*\(4,\)"):
        mnist(tmp_path, train=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 10], np.uint8))
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.9"):
        mnist(tmp_path, train=False)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_refuses_dims_that_overflow_before_allocating(tmp_path, gz):
    # 65536**4 = 2**64: an int64 product wraps to 0, which matched an empty data part.
    raw = bytes([0, 0, 0x08, 4]) + struct.pack(">4I", 65536, 65536, 65536, 65536)
    path = tmp_path / "huge"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(ValueError, match=r"truncated: .*\(65536, 65536, 65536, 65536\).*18446744073709551616 bytes"):
        read_idx(path)
    huge = bytes([0, 0, 0x0E, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1) + b"\0" * 64
    path.write_bytes(gzip.compress(huge) if gz else huge)
    with pytest.raises(ValueError, match=r"truncated.*only 64 bytes follow"):
        read_idx(path)


def _idx_bytes(code, array_bytes, shape):
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + array_bytes


def test_mnist_refuses_labels_outside_0_to_9_and_bad_pixels(tmp_path):
    _fake_mnist(tmp_path, gz=False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(_idx_bytes(0x09, np.array([1, -1, 2], np.int8).tobytes(), (3,)))  # int8 -1
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.9, .*t10k-labels-idx1-ubyte holds -1 \(label 1"):
        mnist(tmp_path, train=False)
    labels.write_bytes(_idx_bytes(0x0D, np.array([1, 2.5, 2], ">f4").tobytes(), (3,)))
    with pytest.raises(ValueError, match=r"labels must be integers 0\.\.9, .*t10k-labels-idx1-ubyte holds float32"):
        mnist(tmp_path, train=False)
    labels.write_bytes(_idx_bytes(0x08, bytes([1, 2, 3]), (3,)))
    images = np.zeros((3, 28, 28), ">f4")
    images[2, 5, 5] = np.nan
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(0x0D, images.tobytes(), images.shape))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte holds NaN or infinite pixels \(image 2\)"):
        mnist(tmp_path, train=False)


# -- CSV files ---------------------------------------------------------------------------------


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_features_and_string_labels(tmp_path):
    path = write(tmp_path, "a,species,b\n1.5,setosa,2\n-3,virginica,4e1\n\n0,setosa,0.25\n")
    data = csv(path, "species")
    X, y = data
    np.testing.assert_array_equal(X, np.array([[1.5, 2], [-3, 40], [0, 0.25]], np.float32))
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert y.tolist() == [0, 1, 0]
    assert data.classes == ("setosa", "virginica") and data.feature_names == ("a", "b")
    only_b = csv(path, 1, feature_columns=["b"])
    assert only_b.X.shape == (3, 1) and only_b.feature_names == ("b",)


def test_csv_numeric_labels_and_regression(tmp_path):
    path = write(tmp_path, "x;label\n1;10\n2;2\n3;10\n")
    data = csv(path, "label", delimiter=";")
    assert data.classes == (2, 10) and data.y.tolist() == [1, 0, 1]  # sorted numerically, not as text
    reg = csv(path, "label", delimiter=";", task="regression")
    assert reg.y.dtype == np.float32 and reg.y.tolist() == [10, 2, 10] and reg.classes is None


@pytest.mark.parametrize(
    ("text", "kwargs", "error", "message"),
    [
        ("a,b\n1,2\n", {"label_column": "c"}, ValueError, r"no label column 'c'.*\['a', 'b'\]"),
        ("a,b\n1,2\n", {"label_column": 5}, ValueError, "no label column 5"),
        ("a,b,y\n1,2,0\n3,x,1\n", {"label_column": "y"}, ValueError,
         r"column 'b', row 2 \(line 3\).*'x', not a number"),
        ("a,b,y\n1,,0\n", {"label_column": "y"}, ValueError, r"column 'b', row 1 \(line 2\).*missing value"),
        ("a,b,y\n1,2,0\n1,nan,1\n", {"label_column": "y"}, ValueError, r"column 'b', row 2.*nan.*finite"),
        ("a,b,y\n1,2,0\n-inf,2,1\n", {"label_column": "y"}, ValueError, r"column 'a', row 2.*-inf.*finite"),
        ("a,b,y\n1,2,0\n1,2\n", {"label_column": "y"}, ValueError,
         r"row 2 \(line 3\).*2 fields.*header has 3"),
        ("a,y\n1,\n", {"label_column": "y"}, ValueError, "missing label"),
        ("a,y\n1,big\n", {"label_column": "y", "task": "regression"}, ValueError, r"'y', row 1.*'big'"),
        ("", {"label_column": "y"}, ValueError, "empty"),
        ("a,y\n", {"label_column": "y"}, ValueError, "no data rows"),
        ("a,y\n1,0\n", {"label_column": "y", "feature_columns": ["a", "y"]}, ValueError, "also among"),
        ("a,y\n1,0\n", {"label_column": "y", "task": "ranking"}, ValueError, "task"),
    ],
)
def test_csv_bad_data_messages(tmp_path, text, kwargs, error, message):
    path = write(tmp_path, text)
    with pytest.raises(error, match=message):
        csv(path, **kwargs)


def test_csv_names_the_line_of_a_byte_its_encoding_cannot_read(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("a,y\n1,yes\n2,no\n3,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.csv, line 4: byte 0xe9 .*not utf-8-sig text.*encoding="):
        csv(path, "y")
    data = csv(path, "y", encoding="latin-1")
    assert data.classes == ("café", "no", "yes")
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffa,y\n1,0\n".encode())  # the default still reads a byte-order mark
    assert csv(bom, "y").feature_names == ("a",)
    with pytest.raises(ValueError, match=r"unknown encoding 'klingon'"):
        csv(path, "y", encoding="klingon")


@pytest.mark.parametrize(
    ("text", "kwargs", "error", "message"),
    [
        ('a,y\n1,0\n2,"x"z\n', {}, ValueError, r"line 3: ',' expected after '\"'"),
        ("a,y\n1e300,0\n", {}, ValueError, r"column 'a', row 1 \(line 2\).*1e300 is beyond float32's range"),
        ("a,y\n1,1e300\n", {"task": "regression"}, ValueError, r"column 'y', row 1.*beyond float32's range"),
        ("a,y\n1,0\n2,nan\n", {}, ValueError, r"label column 'y', row 2 \(line 3\).*'nan' is not a class label"),
        ("a,a,y\n1,2,0\n", {"feature_columns": ["a"]}, ValueError, r"2 columns named 'a'.*by position"),
        ("ab,y\n1,0\n", {"feature_columns": "ab"}, TypeError, r"feature_columns must be a list"),
        ("a,b,y\n1,2,0\n", {"feature_columns": ["a", 0]}, ValueError, r"name a column twice"),
        ("a,y\n1,0\n", {"delimiter": ";;"}, ValueError, r"delimiter must be one character"),
    ],
)
def test_csv_refuses_what_it_would_read_wrongly(tmp_path, text, kwargs, error, message):
    path = write(tmp_path, text)
    with pytest.raises(error, match=message):
        csv(path, "y", **kwargs)


def test_csv_integer_labels_beyond_int64_stay_distinct(tmp_path):
    path = write(tmp_path, "a,y\n1,99999999999999999999\n2,99999999999999999998\n3,99999999999999999999\n")
    data = csv(path, "y")
    assert data.classes == ("99999999999999999998", "99999999999999999999") and data.y.tolist() == [1, 0, 1]


def test_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such file.*missing\.csv"):
        csv(tmp_path / "missing.csv", "y")


def test_csv_through_load_dataset(tmp_path):
    path = write(tmp_path, "f,y\n0.5,b\n1.5,a\n")
    X, y = load_dataset("csv", path=path, label_column="y")
    assert X.tolist() == [[0.5], [1.5]] and y.tolist() == [1, 0]


# -- Dataset, DataLoader, random_split ---------------------------------------------------------


class RowDataset(Dataset):
    """A plain map-style data set (no fast path)."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


def _data(n=10):
    return np.arange(n * 3, dtype=np.float32).reshape(n, 3), np.arange(n, dtype=np.int64)


def test_tensor_dataset():
    X, y = _data()
    ds = TensorDataset(X, y)
    assert len(ds) == 10
    x5, y5 = ds[5]
    assert isinstance(x5, Tensor) and x5.tolist() == [15, 16, 17] and y5.item() == 5
    assert np.shares_memory(ds.tensors[0]._data, X)
    with pytest.raises(ValueError, match=r"first dimension: shapes \(10, 3\), \(9,\)"):
        TensorDataset(X, y[:9])
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())


@pytest.mark.parametrize("dataset_type", [TensorDataset, RowDataset])
@pytest.mark.parametrize(("batch_size", "drop_last", "sizes"), [
    (3, False, [3, 3, 3, 1]), (3, True, [3, 3, 3]), (5, False, [5, 5]), (5, True, [5, 5]),
    (16, False, [10]), (16, True, []), (1, False, [1] * 10),
])
def test_loader_batches(dataset_type, batch_size, drop_last, sizes):
    X, y = _data()
    loader = DataLoader(dataset_type(X, y), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(sizes) == len(batches)
    assert [len(b[0]) for b in batches] == sizes
    for xb, yb in batches:
        assert isinstance(xb, Tensor) and isinstance(yb, Tensor)
        assert xb.dtype == np.float32 and yb.dtype == np.int64
    if batches:
        np.testing.assert_array_equal(np.concatenate([b[0]._data for b in batches]), X[:sum(sizes)])


def test_loader_shuffle_follows_manual_seed():
    X, y = _data(50)
    loader = DataLoader(TensorDataset(X, y), batch_size=7, shuffle=True)

    def epoch():
        return np.concatenate([yb._data for _, yb in loader])

    chainrule.manual_seed(3)
    first, second = epoch(), epoch()
    assert sorted(first.tolist()) == list(range(50))  # every sample once
    assert not np.array_equal(first, second)  # a new order each epoch
    np.testing.assert_array_equal(first, np.random.default_rng(3).permutation(50))
    chainrule.manual_seed(3)
    np.testing.assert_array_equal(epoch(), first)
    chainrule.manual_seed(4)
    assert not np.array_equal(epoch(), first)
    for xb, yb in loader:  # rows stay paired
        np.testing.assert_array_equal(xb._data, X[yb._data])


def test_fast_path_equals_per_sample_collate():
    X, y = _data(23)
    fast = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, generator=np.random.default_rng(1))
    slow = DataLoader(RowDataset(X, y), batch_size=4, shuffle=True, generator=np.random.default_rng(1))
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        assert xf.dtype == xs.dtype and yf.dtype == ys.dtype
        np.testing.assert_array_equal(xf._data, xs._data)
        np.testing.assert_array_equal(yf._data, ys._data)


def test_loader_over_subsets_takes_the_right_rows():
    X, y = _data(20)
    chainrule.manual_seed(0)
    train, val = random_split(TensorDataset(X, y), [15, 5])
    inner = Subset(train, [4, 0, 2])
    for subset in (train, val, inner):
        batches = list(DataLoader(subset, batch_size=4))
        got = np.concatenate([yb._data for _, yb in batches])
        np.testing.assert_array_equal(got, [subset[i][1].item() for i in range(len(subset))])
    np.testing.assert_array_equal(inner[0][0]._data, X[train.indices[4]])


def test_collate_dtypes_and_structures():
    x, label, weight, flag = default_collate([(np.ones(2), 1, 0.5, True), (np.zeros(2), 2, 1.5, False)])
    assert x.dtype == np.float64  # arrays keep their dtype
    assert label.dtype == np.int64 and weight.dtype == np.float64 and flag.dtype == np.bool_  # as PyTorch
    batch = default_collate([{"a": np.float32(1), "b": [1, 2]}, {"a": np.float32(2), "b": [3, 4]}])
    assert batch["a"].dtype == np.float32 and batch["a"].tolist() == [1, 2]
    assert [t.tolist() for t in batch["b"]] == [[1, 3], [2, 4]]
    w = chainrule.tensor([1.0, 2.0], requires_grad=True)
    stacked = default_collate([w, w * 2])
    stacked.sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]  # tensors that require grad stay in the graph
    with pytest.raises(ValueError, match=r"shapes \[\(2,\), \(3,\)\].*collate_fn"):
        default_collate([np.ones(2), np.ones(3)])
    assert default_collate(["a", "b"]) == ["a", "b"]  # strings stay a list, as PyTorch's
    with pytest.raises(TypeError, match="cannot collate samples of type object"):
        default_collate([object(), object()])


def test_loader_custom_collate_and_bad_arguments():
    X, y = _data(6)
    loader = DataLoader(RowDataset(X, y), batch_size=4, collate_fn=lambda samples: len(samples))
    assert list(loader) == [4, 2]
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(RowDataset(X, y), batch_size=bad)


def test_random_split_sizes_disjoint_and_seeded():
    chainrule.manual_seed(7)
    parts = random_split(range(10), [0.33, 0.33, 0.34])
    assert [len(p) for p in parts] == [4, 3, 3]  # floors 3, 3, 3; the leftover one goes to the first
    indices = np.concatenate([p.indices for p in parts])
    assert sorted(indices.tolist()) == list(range(10))
    chainrule.manual_seed(7)
    again = random_split(range(10), [4, 3, 3])
    for p, q in zip(parts, again):
        np.testing.assert_array_equal(p.indices, q.indices)
    np.testing.assert_array_equal(indices, np.random.default_rng(7).permutation(10))
    assert parts[0][1] == parts[0].indices[1]
    explicit = random_split(range(10), [5, 5], generator=np.random.default_rng(1))
    np.testing.assert_array_equal(explicit[0].indices, np.random.default_rng(1).permutation(10)[:5])
    with pytest.raises(ValueError, match="sum to the data set's length 10"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(range(10), [0.5, 0.6])


# -- StandardScaler and split ------------------------------------------------------------------


def test_standard_scaler_against_numpy_fitted_on_training_data_only():
    rng = np.random.default_rng(0)
    train = rng.normal(3, 2, (50, 4)).astype(np.float32)
    train[:, 2] = 7.0  # a constant feature
    test = rng.normal(-1, 5, (20, 4)).astype(np.float32)
    scaler = StandardScaler().fit(train)
    mean, std = train.astype(np.float64).mean(0), train.astype(np.float64).std(0)
    std[2] = 1.0
    np.testing.assert_allclose(scaler.mean_, mean)
    np.testing.assert_allclose(scaler.scale_, std)
    z = scaler.transform(test)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z, (test - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scaler.inverse_transform(z), test, rtol=1e-5, atol=1e-5)
    z_train = StandardScaler().fit_transform(train)
    np.testing.assert_allclose(z_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z_train.std(0), [1, 1, 0, 1], atol=1e-5)
    assert StandardScaler().fit_transform(train.astype(np.float64)).dtype == np.float64
    assert StandardScaler().fit_transform(np.arange(6).reshape(3, 2)).dtype == np.float32


def test_standard_scaler_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        StandardScaler().transform(np.ones((2, 2)))
    scaler = StandardScaler().fit(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"3 features \(shape \(2, 3\)\).*fitted on 4"):
        scaler.transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match="fitted on 4"):
        scaler.inverse_transform(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"2-d array.*\(5,\)"):
        StandardScaler().fit(np.ones(5))
    with pytest.raises(ValueError, match="NaN or infinite"):
        StandardScaler().fit(np.array([[1.0], [np.nan]]))


def test_split_sizes_stratification_and_seed():
    X = np.arange(200, dtype=np.float32).reshape(100, 2)
    y = np.repeat([0, 1, 2], [45, 35, 20])
    X_train, X_test, y_train, y_test = split(X, y, test_fraction=0.25, seed=0)
    assert len(X_test) == 25 and len(X_train) == 75
    assert sorted(np.concatenate([X_train[:, 0], X_test[:, 0]]).tolist()) == X[:, 0].tolist()
    np.testing.assert_array_equal(y[(X_train[:, 0] // 2).astype(int)], y_train)  # rows stay paired
    np.testing.assert_array_equal(y[(X_test[:, 0] // 2).astype(int)], y_test)
    assert np.bincount(y_test).tolist() == [11, 9, 5]  # shares 11.25, 8.75, 5: the largest remainder wins
    again = split(X, y, test_fraction=0.25, seed=0)
    np.testing.assert_array_equal(again[1], X_test)
    assert not np.array_equal(split(X, y, test_fraction=0.25, seed=1)[1], X_test)

    targets = np.linspace(0, 1, 100)
    _, X_te, _, t_te = split(X, targets, test_fraction=0.1, seed=0, stratify=False)
    assert len(t_te) == 10
    np.testing.assert_array_equal(targets[(X_te[:, 0] // 2).astype(int)], t_te)
    with pytest.raises(ValueError, match="stratify=False"):
        split(X, targets, test_fraction=0.1, seed=0)
    with pytest.raises(ValueError,
                       match=r"split: test_fraction must be a finite number > 0 and < 1, got 1\.0 \(float\)"):
        split(X, y, test_fraction=1.0)
    with pytest.raises(ValueError, match="as many samples"):
        split(X, y[:10])
    with pytest.raises(ValueError, match="empty"):
        split(X[:2], y[:2], test_fraction=0.9)


def test_split_stratified_shares_stay_close():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 503)
    _, _, y_train, y_test = split(np.zeros((503, 1)), y, test_fraction=0.3, seed=3)
    counts = np.bincount(y, minlength=7)
    assert len(y_test) == 151
    assert (np.abs(np.bincount(y_test, minlength=7) - counts * 151 / 503) < 1).all()
    np.testing.assert_array_equal(np.bincount(y_test, minlength=7) + np.bincount(y_train, minlength=7),
                                  counts)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: moons(10, noise=float("nan")), ValueError, r"moons: noise must be a finite number >= 0, got nan"),
        (lambda: moons(10, noise="0.1"), TypeError, r"moons: noise must be a finite number >= 0, got '0\.1' \(str\)"),
        (lambda: spirals(30, turns=float("inf")), ValueError, r"spirals: turns must be a finite number"),
        (lambda: circles(10, factor="a"), TypeError,
         r"circles: factor .* must be a finite number >= 0 and < 1, got 'a' \(str\)"),
        (lambda: circles(10, factor=1.0), ValueError, r"circles: factor .* >= 0 and < 1, got 1\.0 \(float\)"),
        (lambda: moons(10, seed=1.5), TypeError, r"moons: seed must be None or a non-negative integer, got 1.5"),
        (lambda: mnist1d(100, seed=None), TypeError, r"mnist1d: seed must be a non-negative integer"),
        (lambda: mnist1d(100, train_split="0.5"), TypeError,
         r"mnist1d: train_split must be a finite number > 0 and < 1, got '0\.5' \(str\)"),
        (lambda: split(np.zeros((10, 2)), np.arange(10) % 2, test_fraction="0.2"), TypeError,
         r"split: test_fraction must be a finite number > 0 and < 1, got '0\.2' \(str\)"),
        (lambda: split(np.zeros((10, 2)), np.arange(10) % 2, seed=-1), ValueError, r"split: seed must be"),
        (lambda: Subset(range(5), [0.5, 1.7]), TypeError, r"Subset: indices must be a 1-d sequence of integers"),
        (lambda: random_split(range(4), [0.5, "a"]), TypeError, r"random_split: lengths must be integers or fractions"),
        (lambda: random_split(range(4), [2, 2], generator=0), TypeError, r"random_split: generator must be a numpy"),
        (lambda: DataLoader(range(4), collate_fn=3), TypeError, r"DataLoader: collate_fn must be callable"),
        (lambda: DataLoader(range(4), generator=0), TypeError, r"DataLoader: generator must be a numpy"),
        (lambda: DataLoader(iter(range(4))), TypeError, r"DataLoader: dataset must support len\(\) and \[i\]"),
    ],
)
def test_data_arguments_name_themselves(call, error, message):
    with pytest.raises(error, match=message):
        call()
