"""chainrule.save / chainrule.load as PyTorch scripts use them: paths and open files, tensors,
state dicts, optimizer state and nested checkpoints round trip; modules and pickles are refused."""

import io
import json
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

pytest.importorskip("safetensors")


def _model():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _step(model, opt, seed):
    x = cr.tensor(np.random.default_rng(seed).standard_normal((8, 3)))
    opt.zero_grad()
    model(x.float()).pow(2).mean().backward()
    opt.step()


def _round_trip(obj, **load_options):
    buffer = io.BytesIO()
    cr.save(obj, buffer)
    buffer.seek(0)
    return cr.load(buffer, **load_options)


def test_a_tensor_round_trips_through_a_path_and_an_open_file(tmp_path):
    t = cr.arange(6, dtype=cr.float64).reshape(2, 3)
    cr.save(t, tmp_path / "t.pt")
    back = cr.load(tmp_path / "t.pt")
    assert type(back) is cr.Tensor and back.dtype == np.float64 and back.tolist() == t.tolist()
    with open(tmp_path / "u.pt", "wb") as f:
        cr.save(t, f)
    with open(tmp_path / "u.pt", "rb") as f:
        again = cr.load(f)
    assert again.tolist() == t.tolist()
    back._data[0, 0] = 9.0  # a loaded tensor is writable (optimizer state is updated in place)
    assert cr.load(str(tmp_path / "t.pt")).tolist()[0][0] == 0.0


def test_a_state_dict_is_stored_under_its_own_keys_and_loads_into_a_new_model(tmp_path):
    model = _model()
    path = tmp_path / "model.safetensors"
    cr.save(model.state_dict(), path)
    loaded = cr.load(path)
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(model.state_dict())
    assert all(type(v) is cr.Tensor for v in loaded.values())
    assert loaded["2.num_batches_tracked"].dtype == np.int64
    # any safetensors reader (PyTorch's safetensors.torch.load_file too) sees the same names
    from safetensors.numpy import load_file

    plain = load_file(str(path))
    assert sorted(plain) == sorted(model.state_dict())
    np.testing.assert_array_equal(plain["0.weight"], model[0].weight._data)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))
    assert repr(fresh.load_state_dict(loaded)) == "<All keys matched successfully>"
    x = cr.randn(5, 3)
    np.testing.assert_array_equal(fresh.eval()(x)._data, model.eval()(x)._data)


def test_the_usual_checkpoint_resumes_training_on_the_same_trajectory(tmp_path):
    model = _model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    _step(model, opt, 1)
    path = tmp_path / "checkpoint.pt"
    cr.save(
        {
            "epoch": 3,
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": opt.state_dict(),
            "loss": 0.125,
            "note": "after epoch 3",
            "best": None,
        },
        path,
    )
    _step(model, opt, 2)  # the run that is not interrupted

    checkpoint = cr.load(path, map_location="cpu", weights_only=True)
    assert checkpoint["epoch"] == 3 and type(checkpoint["epoch"]) is int
    assert checkpoint["loss"] == 0.125 and checkpoint["note"] == "after epoch 3" and checkpoint["best"] is None
    state = checkpoint["optimizer_state_dict"]
    assert set(state["state"]) == {0, 1, 2, 3, 4, 5}  # integer keys stay integers
    assert state["param_groups"][0]["betas"] == (0.9, 0.999)  # tuples stay tuples
    resumed = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))
    resumed.load_state_dict(checkpoint["model_state_dict"])
    resumed_opt = optim.Adam(resumed.parameters(), lr=0.01)
    resumed_opt.load_state_dict(state)
    _step(resumed, resumed_opt, 2)
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    from safetensors.numpy import load_file

    assert "model_state_dict.0.weight" in load_file(str(path))  # nested tensors under dotted paths


def test_containers_scalars_and_shared_tensors_keep_their_types():
    shared = cr.ones(2)
    weight = nn.Parameter(cr.zeros(3))
    obj = {
        "list": [cr.ones(1), 2, 3.5, True, None, "s"],
        "tuple": (cr.zeros(2, 2), [shared, shared]),
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
        "numbers": {1: np.float64(0.5), 2.5: np.int64(7), None: np.bool_(True), "inf": float("inf")},
        "array": np.arange(3, dtype=np.int32),
        "param": weight,
        "grad": cr.ones(2, requires_grad=True),
    }
    back = _round_trip(obj)
    assert isinstance(back["list"], list) and back["list"][1:] == [2, 3.5, True, None, "s"]
    assert type(back["list"][1]) is int and type(back["list"][3]) is bool
    assert isinstance(back["tuple"], tuple) and back["tuple"][0].shape == (2, 2)
    first, second = back["tuple"][1]
    assert first is second  # a tensor held twice is stored once and loads as one tensor
    assert type(back["ordered"]) is OrderedDict and list(back["ordered"]) == ["b", "a"]
    assert back["numbers"] == {1: 0.5, 2.5: 7, None: True, "inf": float("inf")}
    assert type(back["numbers"][2.5]) is int and type(back["numbers"][None]) is bool
    assert type(back["array"]) is np.ndarray and back["array"].dtype == np.int32
    assert isinstance(back["param"], nn.Parameter) and back["param"].requires_grad
    assert type(back["grad"]) is cr.Tensor and back["grad"].requires_grad
    assert _round_trip([]) == [] and _round_trip({}) == {} and _round_trip(3) == 3


def test_saving_a_module_or_an_optimizer_says_to_save_its_state_dict(tmp_path):
    model = _model()
    with pytest.raises(TypeError, match=r"module Sequential; chainrule saves no modules.*save its state_dict\(\)"):
        cr.save(model, tmp_path / "m.pt")
    with pytest.raises(TypeError, match=r"module Sequential at 'model'.*state_dict\(\)"):
        cr.save({"model": model}, tmp_path / "m.pt")
    with pytest.raises(TypeError, match=r"module ModuleDict; chainrule saves no modules"):
        cr.save(nn.ModuleDict({"a": nn.Linear(1, 1)}), tmp_path / "m.pt")
    with pytest.raises(TypeError, match=r"got a SGD object at 'opt'; save its state_dict\(\)"):
        cr.save({"opt": optim.SGD(model.parameters(), lr=0.1)}, tmp_path / "m.pt")
    with pytest.raises(TypeError, match=r"f must be a path .* or a file opened for binary writing, got int"):
        cr.save(cr.ones(1), 3)
    assert not (tmp_path / "m.pt").exists()


def test_map_location_is_accepted_for_the_cpu_and_other_devices_are_refused():
    t = cr.ones(2)
    for where in (None, "cpu", "cpu:0", {"cuda:0": "cpu"}, lambda storage, loc: storage):
        assert _round_trip(t, map_location=where).tolist() == [1.0, 1.0]
    with pytest.raises(
        RuntimeError,
        match=r"map_location='cuda:0': that device is not available; chainrule runs on "
        r"the CPU only",
    ):
        _round_trip(t, map_location="cuda:0")
    assert _round_trip(t, weights_only=False).tolist() == [1.0, 1.0]  # nothing is ever unpickled either way
    with pytest.raises(TypeError, match="weights_only must be a bool"):
        _round_trip(t, weights_only="yes")


def test_a_pytorch_pickle_is_refused_with_the_reason_and_the_way_to_convert(tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:  # the layout of torch.save's files
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        z.writestr("archive/version", b"3\n")
    archive.seek(0)
    with pytest.raises(
        ValueError,
        match=r"a PyTorch file .*never unpickled here, since unpickling can run any "
        r"code.*save_file\(torch.load\(",
    ):
        cr.load(archive)
    path = tmp_path / "old.pt"
    path.write_bytes(b"\x80\x02" + b"\0" * 40)  # an older torch.save: a bare pickle
    with pytest.raises(ValueError, match=r"old.pt is not a safetensors file: it is a Python pickle"):
        cr.load(path)
    with open(path, encoding="latin-1") as text:
        with pytest.raises(TypeError, match=r"open the file in binary mode \('rb'\)"):
            cr.load(text)


def test_a_safetensors_file_written_by_pytorch_loads_into_a_model(tmp_path):
    # safetensors.torch.save_file(model.state_dict(), path) writes what safetensors.numpy writes
    # here: the tensors under their state-dict keys and {"format": "pt"} as metadata
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    weights = {"weight": rng.standard_normal((2, 3)).astype(np.float32), "bias": np.array([0.5, -1.0], np.float32)}
    path = tmp_path / "from_pytorch.safetensors"
    save_file(weights, str(path), metadata={"format": "pt"})
    state = cr.load(path)
    assert list(state) == ["bias", "weight"] and all(type(v) is cr.Tensor for v in state.values())
    layer = nn.Linear(3, 2)
    layer.load_state_dict(state)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(layer(cr.tensor(x))._data, x @ weights["weight"].T + weights["bias"], rtol=1e-6)


def test_a_crafted_structure_is_refused_even_with_a_valid_digest(tmp_path):
    from chainrule import serialization

    path = tmp_path / "c.pt"
    cr.save({"w": [cr.ones(2)]}, path)
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    meta = header["__metadata__"]
    for crafted, message in [
        ({"tensor": "missing"}, "is not in the file"),
        ({"set": []}, "unknown node"),
        ({"dict": [[1]]}, "not a \\[key, value\\] pair"),
        ([1, 2], "damaged structure"),
    ]:
        meta["chainrule.structure"] = json.dumps(crafted)
        arrays = serialization._safetensors().load(raw)
        meta["chainrule.sha256"] = serialization._digest(arrays, meta)
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + size :])
        with pytest.raises(ValueError, match=message):
            cr.load(path)


def test_a_file_of_an_earlier_chainrule_still_loads_as_arrays(tmp_path):
    from chainrule import serialization

    path = tmp_path / "old.safetensors"
    arrays = OrderedDict([("b", np.ones(2, np.float32)), ("a", np.zeros(1, np.float32))])
    meta = {"chainrule.format": "2", "chainrule.order": json.dumps(list(arrays))}
    meta["chainrule.sha256"] = serialization._digest(arrays, meta)
    path.write_bytes(serialization._safetensors().save(dict(arrays), metadata=meta))
    loaded = cr.load(path)
    assert list(loaded) == ["b", "a"] and type(loaded["b"]) is np.ndarray


def test_pytorchs_pickle_options_are_accepted_and_change_nothing():
    import pickle

    buffer = io.BytesIO()
    cr.save({"w": cr.ones(2)}, buffer, pickle_module=pickle, pickle_protocol=2, _use_new_zipfile_serialization=True)
    buffer.seek(0)
    back = cr.load(buffer, "cpu", pickle, weights_only=False, mmap=False, encoding="latin1")
    assert list(back) == ["w"] and back["w"].tolist() == [1.0, 1.0]


def test_fit_checkpoints_keep_tensors_in_optimizer_state(tmp_path):
    from chainrule.train.checkpoint import join_arrays, split_arrays

    arrays = {}
    meta = split_arrays({"state": {0: {"buf": cr.ones(2), "old": np.zeros(1)}}}, "optimizer", arrays)
    assert meta == {
        "state": {"0": {"buf": {"__array__": "optimizer/state/0/buf"}, "old": {"__array__": "optimizer/state/0/old"}}}
    }
    cr.save(arrays, tmp_path / "c", metadata=meta)
    back = join_arrays(*reversed(cr.load(tmp_path / "c", with_metadata=True)))["state"]["0"]
    assert type(back["buf"]) is cr.Tensor and back["buf"].tolist() == [1.0, 1.0]
    assert type(back["old"]) is np.ndarray


def test_every_dtype_comes_back_as_it_was_saved():
    state = {"i": cr.tensor(np.arange(3)), "d": cr.tensor(np.ones(2)), "f": cr.ones(2), "b": cr.tensor([True])}
    for obj in (state, {"model": state, "epoch": 3}):
        buffer = io.BytesIO()
        cr.save(obj, buffer)
        buffer.seek(0)
        loaded = cr.load(buffer)
        loaded = loaded.get("model", loaded)
        assert {k: v.dtype for k, v in loaded.items()} == {k: v.dtype for k, v in state.items()}
