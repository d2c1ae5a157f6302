"""save/load: round trips, PyTorch-compatible names, damage detection, atomic writes."""


import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.serialization import load, save, write_atomic

pytest.importorskip("safetensors")


def test_state_dict_round_trip_keeps_names_order_dtypes_and_values(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    save(model.state_dict(), tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    assert list(loaded) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for name, value in model.state_dict().items():
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name], value)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh.load_state_dict(loaded)
    x = cr.randn(5, 3)
    np.testing.assert_array_equal(fresh(x).data, model(x).data)


def test_metadata_and_scalars(tmp_path):
    path = tmp_path / "s.safetensors"
    save({"count": np.array(7, dtype=np.int64), "w": cr.ones(2)}, path, metadata={"epoch": 3, "lr": [0.1]})
    arrays, meta = load(path, with_metadata=True)
    assert arrays["count"].shape == () and arrays["count"] == 7
    assert meta == {"epoch": 3, "lr": [0.1]}
    assert cr.save is save and cr.load is load


def test_file_is_plain_safetensors(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "plain.safetensors"
    save({"weight": np.arange(6, dtype=np.float32).reshape(2, 3)}, path)
    weight = safetensors_numpy.load_file(str(path))["weight"]
    np.testing.assert_array_equal(weight, np.arange(6).reshape(2, 3))


def test_truncated_file_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "t.safetensors"
    save({"w": np.ones(100, dtype=np.float32)}, path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"damaged|truncated"):
        load(path)
    path.write_bytes(raw[:5])
    with pytest.raises(ValueError, match="only 5 bytes"):
        load(path)


def test_tampered_values_are_refused(tmp_path):
    path = tmp_path / "x.safetensors"
    save({"w": np.ones(10, dtype=np.float32)}, path)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x40  # flip a bit inside the tensor data
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"modified or damaged.*checksum"):
        load(path)


def test_tampered_header_is_refused(tmp_path):
    path = tmp_path / "h.safetensors"
    save({"w": np.ones(4, dtype=np.float32)}, path)
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b'"F32"', b'"I32"', 1))  # same length: only the checksum can tell
    with pytest.raises(ValueError, match=r"modified or damaged"):
        load(path)
    path.write_bytes(raw.replace(b'"shape"', b'"shape:', 1))  # no longer valid JSON
    with pytest.raises(ValueError, match=r"damaged header"):
        load(path)


def test_missing_file_and_bad_input():
    with pytest.raises(FileNotFoundError, match="no such file"):
        load("/nonexistent/file.safetensors")
    with pytest.raises(TypeError, match="only numeric arrays"):
        save({"s": np.array(["a"])}, "/tmp/never-written.safetensors")


def test_atomic_write_replaces_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.bin"
    write_atomic(path, b"old")
    write_atomic(path, b"new content")
    assert path.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]
