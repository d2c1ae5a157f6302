"""save/load: round trips, PyTorch-compatible names, damage detection, atomic writes."""


from pathlib import Path

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
    np.testing.assert_array_equal(fresh(x)._data, model(x)._data)


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
    with pytest.raises(IsADirectoryError, match=r"^load: .* is a folder, not a file"):
        load(Path(__file__).parent)
    with pytest.raises(TypeError, match="only numeric arrays"):
        save({"s": np.array(["a"])}, "/tmp/never-written.safetensors")


def test_atomic_write_replaces_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.bin"
    write_atomic(path, b"old")
    write_atomic(path, b"new content")
    assert path.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


# -- the digest covers the whole header (metadata included) ----------------------------------------
def _edit_header(path, edit):
    """Rewrite the JSON header of a safetensors file with ``edit(header)``, keeping the data: what
    someone editing the file by hand can do."""
    import json
    import struct

    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + size:])


def _checkpoint_like(path):
    save({"a": np.arange(4, dtype=np.float32), "b": np.arange(4, 8, dtype=np.float32)}, path,
         metadata={"lr": 0.01, "epoch": 2})


def _set_metadata(field, value):
    import json

    def edit(header):
        meta = json.loads(header["__metadata__"]["chainrule"])
        meta[field] = value
        header["__metadata__"]["chainrule"] = json.dumps(meta)
    return edit


def _swap_offsets(header):
    header["a"]["data_offsets"], header["b"]["data_offsets"] = header["b"]["data_offsets"], header["a"]["data_offsets"]


def _drop(key):
    return lambda header: header["__metadata__"].pop(key)


@pytest.mark.parametrize("edit, message", [
    (_set_metadata("lr", 5.0), r"modified or damaged.*checksum"),
    (_set_metadata("epoch", 7), r"modified or damaged.*checksum"),
    (_swap_offsets, r"modified or damaged.*checksum"),
    (lambda h: h["__metadata__"].update({"note": "added"}), r"modified or damaged.*checksum"),
    (lambda h: h["__metadata__"].update({"chainrule.order": '["b", "a"]'}), r"modified or damaged.*checksum"),
    (_drop("chainrule.sha256"), r"chainrule metadata but no digest"),
    (_drop("chainrule.format"), r"older chainrule \(file format 1.*metadata cannot be verified"),
    (lambda h: h["__metadata__"].update({"chainrule.format": "3"}), r"file format '3'.*reads format 2"),
])
def test_every_edit_of_the_header_is_refused(tmp_path, edit, message):
    path = tmp_path / "c.safetensors"
    _checkpoint_like(path)
    assert load(path, with_metadata=True)[1] == {"lr": 0.01, "epoch": 2}
    _edit_header(path, edit)
    with pytest.raises(ValueError, match=message):
        load(path, with_metadata=True)


def test_a_file_of_the_old_format_is_refused_with_an_explanation(tmp_path):
    # Format 1 wrote a digest over the tensors only and no format key.
    path = tmp_path / "old.safetensors"
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    safetensors_numpy.save_file({"w": np.ones(2, np.float32)}, str(path),
                                metadata={"chainrule.sha256": "0" * 64, "chainrule.order": '["w"]'})
    with pytest.raises(ValueError, match=r"older chainrule.*safetensors.numpy.load_file"):
        load(path)


def test_foreign_safetensors_files_still_load(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "foreign.safetensors"
    safetensors_numpy.save_file({"z": np.zeros(3, np.float32), "a": np.ones((2, 2), np.int64)}, str(path),
                                metadata={"format": "pt"})
    arrays, meta = load(path, with_metadata=True)
    assert list(arrays) == ["a", "z"] and meta is None
    np.testing.assert_array_equal(arrays["a"], np.ones((2, 2)))


# -- crafted headers and JSON ---------------------------------------------------------------------
def _write_header(path, text: bytes, data: bytes = b""):
    import struct

    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


@pytest.mark.parametrize("text, message", [
    (b"[" * 100_000 + b"]" * 100_000, r"damaged header: damaged JSON: nested more than 100 deep"),
    (b'{"__metadata__": {"x": "1"}, "n": ' + b"7" * 5000 + b"}", r"an integer of 5000 digits"),
    (b'{"a": 1e999}', r"overflows a float"),
    (b'{"a": 1, "a": 2}', r"the key 'a' twice"),
    (b'{"a": "\xff"}', r"not UTF-8"),
])
def test_crafted_json_headers_are_refused_with_value_errors(tmp_path, text, message):
    path = tmp_path / "crafted.safetensors"
    _write_header(path, text if text.startswith(b"{") else b'{"a": ' + text + b"}")  # a header opens with "{"
    with pytest.raises(ValueError, match=message):
        load(path)


def test_crafted_metadata_inside_a_valid_file_is_refused(tmp_path):
    path = tmp_path / "deep.safetensors"
    _checkpoint_like(path)
    _edit_header(path, lambda h: h["__metadata__"].update({"chainrule": "[" * 50_000 + "]" * 50_000}))
    with pytest.raises(ValueError, match=r"modified or damaged"):  # the digest is checked first
        load(path, with_metadata=True)


def test_crafted_metadata_with_a_recomputed_digest_is_refused_by_the_decoder(tmp_path):
    # The digest is no signature: whoever edits a file can recompute it. The decoder still holds.
    path = tmp_path / "deep.safetensors"
    nested = []
    for _ in range(150):
        nested = [nested]
    save({"w": np.ones(2)}, path, metadata={"deep": nested})
    with pytest.raises(ValueError, match=r"metadata: damaged JSON: nested more than 100 deep"):
        load(path, with_metadata=True)
    save({"w": np.ones(2)}, path, metadata={"n": 10**450})
    with pytest.raises(ValueError, match=r"metadata: damaged JSON: an integer of 451 digits"):
        load(path, with_metadata=True)


def test_huge_or_non_object_headers_are_refused(tmp_path):
    import struct

    path = tmp_path / "big.safetensors"
    path.write_bytes(struct.pack("<Q", 10**15) + b"{}")
    with pytest.raises(ValueError, match=r"header claims 1000000000000000 bytes, more than"):
        load(path)
    path.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(ValueError, match=r"truncated: its header claims 1000 bytes"):
        load(path)
    _write_header(path, b"{}" + b" " * 6)
    assert load(path) == {}
    path.write_bytes(b"hello, this is a text file\n")
    with pytest.raises(ValueError, match=r"not a safetensors file: a safetensors file starts with"):
        load(path)


def test_a_header_length_that_looks_like_a_pickle_is_still_safetensors(tmp_path):
    # A 640-byte header starts the file with 80 02, a protocol-2 pickle's first bytes.
    text = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    path = tmp_path / "640.safetensors"
    _write_header(path, text + b" " * (640 - len(text)), np.float32(3).tobytes())
    assert path.read_bytes()[:2] == b"\x80\x02"
    assert load(path)["w"].tolist() == [3.0]


def test_decode_json_and_read_json_refuse_what_would_crash_json_loads(tmp_path):
    from chainrule.serialization import decode_json, read_json

    assert decode_json('{"best": Infinity, "loss": NaN, "n": 12}', "x")["n"] == 12
    with pytest.raises(ValueError, match=r"^config.json: damaged JSON: nested more than 100 deep"):
        decode_json("[" * 100_000 + "]" * 100_000, "config.json")
    with pytest.raises(ValueError, match=r"integer of 5000 digits"):
        decode_json("9" * 5000, "x")
    with pytest.raises(ValueError, match=r"nested more than 100 deep"):
        decode_json("[" * 101 + "]" * 101, "x")  # deep enough to refuse, not to exhaust the stack
    assert len(decode_json("[" * 100 + "]" * 100, "x")) == 1  # 100 deep is allowed
    path = tmp_path / "config.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"config.json holds a JSON list, expected an object"):
        read_json(path, "chainrule train")
    path.write_text('{"epochs": 3,')
    with pytest.raises(ValueError, match=r"^chainrule train: .*config.json: damaged JSON \("):
        read_json(path, "chainrule train")
    path.write_text('{"epochs": 3}')
    assert read_json(path) == {"epochs": 3}
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_json(tmp_path / "absent.json")


# -- files in other formats are named, never unpickled --------------------------------------------
class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def test_a_pickle_is_named_and_never_unpickled(tmp_path):
    import pickle

    marker = tmp_path / "unpickled"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps(_Exploit(str(marker)), protocol=2))
    with pytest.raises(ValueError, match=r"not a safetensors file: it is a Python pickle.*save_file"):
        load(path)
    assert not marker.exists()


def test_pytorch_zip_npz_npy_and_hdf5_files_are_named(tmp_path):
    import pickle
    import zipfile

    pt = tmp_path / "model.pth"
    with zipfile.ZipFile(pt, "w") as archive:  # torch.save's layout: NAME/data.pkl, NAME/data/0, ...
        archive.writestr("model/data.pkl", pickle.dumps({"w": 1}))
        archive.writestr("model/data/0", b"\0" * 16)
    with pytest.raises(ValueError, match=r"a PyTorch file .*safetensors.torch import save_file"):
        load(pt)
    npz = tmp_path / "w.npz"
    np.savez(npz, w=np.ones(2))
    with pytest.raises(ValueError, match=r"a NumPy .npz archive.*chainrule.save\(dict\(numpy.load\("):
        load(npz)
    npy = tmp_path / "w.npy"
    np.save(npy, np.ones(2))
    with pytest.raises(ValueError, match=r"a NumPy .npy array"):
        load(npy)
    h5 = tmp_path / "w.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ValueError, match=r"an HDF5 file"):
        load(h5)


def test_save_refuses_names_and_metadata_it_cannot_write(tmp_path):
    with pytest.raises(TypeError, match=r"cannot save a set at 'w'"):
        save({"w": {1, 2}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match=r"has a key of type tuple"):
        save({(1, 2): np.ones(2)}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match=r"only numeric arrays can be saved"):
        save({"w": np.array(["text"])}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match=r"metadata must be JSON-serialisable"):
        save({"w": np.ones(2)}, tmp_path / "x.safetensors", metadata={"f": object()})
    assert not (tmp_path / "x.safetensors").exists()


def test_big_endian_and_strided_arrays_round_trip(tmp_path):
    path = tmp_path / "e.safetensors"
    big = np.arange(6, dtype=">f4").reshape(2, 3)
    save({"big": big, "strided": np.arange(10.0)[::2]}, path)
    loaded = load(path)
    np.testing.assert_array_equal(loaded["big"], big)
    np.testing.assert_array_equal(loaded["strided"], [0, 2, 4, 6, 8])


# -- temporaries of killed writers ----------------------------------------------------------------
def _dead_pid():
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_successful_write_removes_temporaries_of_dead_writers_only(tmp_path):
    import os
    import subprocess
    import sys
    import time

    path = tmp_path / "ckpt.safetensors"
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # alive for sure
    dead, live = _dead_pid(), writer.pid
    stale = tmp_path / f".ckpt.safetensors.{dead}.tmp"
    busy = tmp_path / f".ckpt.safetensors.{live}.tmp"  # a live process may be writing it right now
    abandoned = tmp_path / ".ckpt.safetensors.1.tmp"  # PID 1 is always alive
    others = [tmp_path / f".other.safetensors.{dead}.tmp", tmp_path / f".ckpt.safetensors.{dead}.tmp.keep",
              tmp_path / f".ckpt.safetensors.x{dead}.tmp", tmp_path / f"ckpt.safetensors.{dead}.tmp"]
    for p in [stale, busy, abandoned, *others]:
        p.write_bytes(b"partial")
    hours_ago = time.time() - 7200
    os.utime(abandoned, (hours_ago, hours_ago))  # so old that its PID, if alive, was reused
    try:
        write_atomic(path, b"complete")
    finally:
        writer.kill()
        writer.wait()
    assert path.read_bytes() == b"complete"
    assert not stale.exists() and not abandoned.exists()
    assert busy.exists() and all(p.exists() for p in others)


def test_a_failed_write_names_the_file_asked_for(tmp_path, monkeypatch):
    """ENOSPC from write() names no file: the error names the target, not nothing or the temporary,
    and the old file stays whole."""
    import errno
    import os

    from chainrule import serialization

    target = tmp_path / "weights.safetensors"
    cr.save({"w": np.ones(3)}, target)
    before = target.read_bytes()

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left on device") as caught:
        serialization.write_atomic(target, b"new content")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
