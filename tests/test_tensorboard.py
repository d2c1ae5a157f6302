"""The TensorBoard callback, checked by reading its event files back as TensorBoard does: TFRecord
framing (length, masked CRC-32C, data, masked CRC-32C) around ``Event`` protos, a purge marker
hiding what a killed run logged after its checkpoint. Its scalars are History's numbers, its
histograms describe every parameter and gradient."""

import importlib.util
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import ModelCheckpoint, TensorBoard, fit

needs_tensorboardx = pytest.mark.skipif(
    importlib.util.find_spec("tensorboardX") is None,
    reason="the 'tensorboard' extra (tensorboardX) is not installed")


# -- reading event files, independently of tensorboardX's writer -----------------------------------
def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_the_checksum_is_crc32c():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C (Castagnoli)


def read_records(path: Path) -> list:
    """The payloads of a TFRecord file, every length and payload checksum verified."""
    data, at, records = path.read_bytes(), 0, []
    while at < len(data):
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[at + 8:at + 12])[0] == masked_crc(header), f"{path}: bad length CRC"
        payload = data[at + 12:at + 12 + length]
        assert len(payload) == length, f"{path}: a record cut short"
        assert struct.unpack("<I", data[at + 12 + length:at + 16 + length])[0] == masked_crc(payload)
        records.append(payload)
        at += 16 + length
    return records


def read_events(folder: Path) -> list:
    """The Events of a folder's event files (not its subfolders), in the order TensorBoard reads them."""
    from tensorboardX.proto.event_pb2 import Event

    files = sorted(folder.glob("events.out.tfevents.*"))
    assert files, f"no event file in {folder}"
    return [Event.FromString(record) for path in files for record in read_records(path)]


def visible(folder: Path):
    """({tag: [(step, value)]}, {tag: {step: HistogramProto}}) as TensorBoard shows the folder: a
    SessionLog START at step s (a resumed run's purge marker) hides what came before at steps >= s."""
    from tensorboardX.proto.event_pb2 import SessionLog

    scalars, histograms = {}, {}
    for event in read_events(folder):
        if event.HasField("session_log") and event.session_log.status == SessionLog.START:
            scalars = {tag: [(s, v) for s, v in points if s < event.step] for tag, points in scalars.items()}
            histograms = {tag: {s: h for s, h in by_step.items() if s < event.step}
                          for tag, by_step in histograms.items()}
        for value in event.summary.value:
            if value.HasField("simple_value"):
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
            elif value.HasField("histo"):
                assert event.step not in histograms.get(value.tag, {}), f"{value.tag} twice at step {event.step}"
                histograms.setdefault(value.tag, {})[event.step] = value.histo
    return scalars, histograms


# -- a tiny training problem ----------------------------------------------------------------------------
def problem(seed=0):
    cr.manual_seed(seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(48, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    return model, optim.SGD(model.parameters(), lr=0.2, momentum=0.9), (X, y)


def loss_fn(output, target):
    return nn.functional.cross_entropy(output, target)


def train(log_dir, epochs=3, **kwargs):
    model, optimizer, data = problem()
    callback = TensorBoard(log_dir, **{k: kwargs.pop(k) for k in ("histogram_every",) if k in kwargs})
    history = fit(model, loss_fn, optimizer, data, val_data=data, epochs=epochs, batch_size=16, verbose=0,
                  callbacks=[callback, *kwargs.pop("callbacks", [])], seed=0, **kwargs)
    return model, history, callback


# -- scalars and histograms --------------------------------------------------------------------------
@needs_tensorboardx
def test_scalars_are_the_history_numbers_under_tensorboard_tags(tmp_path):
    _, history, callback = train(tmp_path / "tb")
    scalars, _ = visible(tmp_path / "tb")
    layers = {"0": ("grad_norm", "mean_abs_grad", "update_ratio"), "1": ("dead_relu",),
              "2": ("grad_norm", "mean_abs_grad", "update_ratio")}
    expected = {"loss/train": "loss", "loss/val": "val_loss", "accuracy/train": "accuracy",
                "accuracy/val": "val_accuracy", "lr": "lr", "time": "time"}
    assert set(scalars) == set(expected) | {f"{s}/{layer}" for layer, stats in layers.items() for s in stats}
    for tag, key in expected.items():
        # event files hold 32-bit floats: History's float64, rounded once
        assert scalars[tag] == [(r["epoch"], np.float32(r[key])) for r in history.epochs], tag
    for layer, stats in layers.items():
        for statistic in stats:
            assert scalars[f"{statistic}/{layer}"] == [
                (r["epoch"], np.float32(r["grad_norms"][layer][statistic])) for r in history.epochs]
    assert scalars["loss/train"][-1][1] < scalars["loss/train"][0][1]  # it learned something
    assert callback._writer is None  # closed at the end of training


@needs_tensorboardx
def test_histograms_describe_every_weight_and_gradient(tmp_path):
    initial = {name: p.numpy().copy() for name, p in problem()[0].named_parameters()}  # train() builds the same
    model, _, _ = train(tmp_path / "tb", epochs=3)
    _, histograms = visible(tmp_path / "tb")
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert set(histograms) == {f"weights/{n}" for n in names} | {f"gradients/{n}" for n in names}
    for name, parameter in model.named_parameters():
        weights, gradients = histograms[f"weights/{name}"], histograms[f"gradients/{name}"]
        assert sorted(weights) == [0, 1, 2, 3] and sorted(gradients) == [1, 2, 3]  # step 0: the initial weights
        for histogram, values in ((weights[0], initial[name]), (weights[3], parameter.numpy()),
                                  (gradients[3], parameter.grad.numpy())):  # the last batch's gradient
            values = values.astype(np.float64)
            assert histogram.num == values.size == sum(histogram.bucket)
            assert len(histogram.bucket) <= 31  # 30 buckets (and an empty one on the left): small files
            assert (histogram.min, histogram.max) == (values.min(), values.max())
            assert histogram.sum == pytest.approx(values.sum(), rel=1e-12, abs=1e-15)
            assert histogram.sum_squares == pytest.approx(np.square(values).sum(), rel=1e-12)
        assert weights[0].min != weights[3].min  # the weights moved, and the pictures show it


@needs_tensorboardx
@pytest.mark.parametrize(("every", "weight_steps", "gradient_steps"), [(2, [0, 2, 4], [2, 4]), (0, [], [])])
def test_histogram_every_sets_the_epochs_that_get_histograms(tmp_path, every, weight_steps, gradient_steps):
    train(tmp_path / "tb", epochs=4, histogram_every=every)
    scalars, histograms = visible(tmp_path / "tb")
    assert [s for s, _ in scalars["loss/train"]] == [1, 2, 3, 4]  # scalars every epoch regardless
    assert sorted(histograms.get("weights/0.weight", {})) == weight_steps
    assert sorted(histograms.get("gradients/2.bias", {})) == gradient_steps


@needs_tensorboardx
def test_non_finite_entries_are_left_out_of_a_histogram(tmp_path):
    class Stub:
        model, epoch, resumed = nn.Linear(3, 2), 0, False

    Stub.model.weight._data[0, 0] = np.nan
    Stub.model.bias._data[...] = np.inf
    callback = TensorBoard(tmp_path / "tb")
    callback.on_train_begin(Stub())
    callback.on_train_end(Stub())
    _, histograms = visible(tmp_path / "tb")
    assert set(histograms) == {"weights/weight"}  # the bias has nothing finite to show
    assert histograms["weights/weight"][0].num == 5


# -- runs that go on: resumed, restarted ---------------------------------------------------------------
@needs_tensorboardx
def test_a_resumed_run_appends_and_hides_the_epochs_logged_after_its_checkpoint(tmp_path):
    checkpoints = str(tmp_path / "ck-{epoch}.safetensors")
    # the first run gets to epoch 3, as if killed then; it resumes from epoch 2's checkpoint
    train(tmp_path / "tb", epochs=3, callbacks=[ModelCheckpoint(checkpoints, monitor="loss")])
    model, optimizer, data = problem(seed=1)  # other weights: the checkpoint must bring them back
    history = fit(model, loss_fn, optimizer, data, val_data=data, epochs=4, batch_size=16, verbose=0,
                  callbacks=[TensorBoard(tmp_path / "tb"), ModelCheckpoint(checkpoints, monitor="loss")],
                  resume_from=checkpoints.format(epoch=2))
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 2  # appended, the first file kept
    scalars, histograms = visible(tmp_path / "tb")
    for tag, key in (("loss/train", "loss"), ("accuracy/val", "val_accuracy")):
        assert scalars[tag] == [(r["epoch"], np.float32(r[key])) for r in history.epochs]  # each epoch once
    assert sorted(histograms["weights/0.weight"]) == [0, 1, 2, 3, 4]  # no step 0 again
    resumed = read_events(tmp_path / "tb")
    starts = [e.step for e in resumed if e.HasField("session_log")]
    assert starts == [3]


@needs_tensorboardx
def test_each_restart_logs_to_a_folder_of_its_own(tmp_path):
    _, history, callback = train(tmp_path / "tb", epochs=2, restarts=2)
    for run, folder in enumerate((tmp_path / "tb", tmp_path / "tb" / "restart-2")):
        scalars, _ = visible(folder)
        assert scalars["loss/train"] == [(epoch, np.float32(loss))
                                         for epoch, loss in enumerate(history.runs[run]["loss"], start=1)]
    assert callback.run_dir == tmp_path / "tb" / "restart-2"


# -- refusals --------------------------------------------------------------------------------------------
def test_a_missing_tensorboardx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[tensorboard\]'"):
        TensorBoard("runs/x")


@needs_tensorboardx
def test_bad_arguments_are_refused_by_name(tmp_path):
    (tmp_path / "file").write_text("")
    for kwargs, error, message in [
        ({"log_dir": 3}, TypeError, "log_dir must be a folder path"),
        ({"log_dir": " "}, ValueError, "log_dir must name a folder"),
        ({"log_dir": tmp_path / "file"}, ValueError, "is a file; expected a folder"),
        ({"log_dir": tmp_path, "histogram_every": -1}, ValueError, "histogram_every must be an integer >= 0"),
        ({"log_dir": tmp_path, "histogram_every": 1.5}, TypeError, "histogram_every must be an integer"),
    ]:
        with pytest.raises(error, match=message):
            TensorBoard(**kwargs)


# -- the command line ----------------------------------------------------------------------------------
def chainrule(*args, pythonpath=()):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, pythonpath), *sys.path]), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "chainrule", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


@needs_tensorboardx
def test_chainrule_train_logs_for_tensorboard_and_a_resume_appends(tmp_path):
    run, tb = tmp_path / "run", tmp_path / "tb"
    flags = ["--data", "moons", "--hidden", "8", "--quiet", "--run-dir", run, "--tensorboard", tb]
    result = chainrule("train", "--epochs", 2, *flags)
    assert result.returncode == 0, result.stderr
    resumed = chainrule("train", "--resume", run, "--epochs", 3, "--quiet", "--tensorboard", tb)
    assert resumed.returncode == 0, resumed.stderr
    epochs = json.loads((run / "history.json").read_text())["epochs"]
    scalars, histograms = visible(tb)
    assert scalars["loss/train"] == [(r["epoch"], np.float32(r["loss"])) for r in epochs]
    assert scalars["loss/val"] == [(r["epoch"], np.float32(r["val_loss"])) for r in epochs]
    assert sorted(histograms["gradients/0.weight"]) == [1, 2, 3]


def test_chainrule_train_without_tensorboardx_says_what_to_install(tmp_path):
    shadow = tmp_path / "shadow" / "tensorboardX"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not installed')\n")
    result = chainrule("train", "--data", "moons", "--epochs", 1, "--quiet", "--run-dir", tmp_path / "run",
                       "--tensorboard", tmp_path / "tb", pythonpath=[shadow.parent])
    assert result.returncode == 2
    assert result.stderr.startswith("chainrule train: error: TensorBoard needs the tensorboardX package")
    assert "pip install 'chainrule[tensorboard]'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was written
    assert "--tensorboard DIR" in chainrule("train", "--help").stdout
