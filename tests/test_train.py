"""The fit loop: learning, History, metrics, callbacks, restarts, clipping, and checkpoints that
resume exactly (including after SIGKILL) and refuse damage."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import (
    Callback,
    ConvergenceStop,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    ModelCheckpoint,
    ProgressBar,
    TerminateOnNaN,
    Trainer,
    fit,
    load_checkpoint,
)
from chainrule.train import metrics as M

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def nll(out, target):
    """Cross-entropy written with primitive ops (independent of chainrule.nn's losses)."""
    return -cr.log_softmax(out, 1)[np.arange(len(target._data)), target._data].mean()


def mse(out, target):
    return ((out - target) ** 2).mean()


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)).astype(np.float32) + 2.5 * np.eye(3, 4)[y].astype(np.float32)
    return x, y


def small_net(dropout=0.0):
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))


def test_fit_learns_and_records_history(tmp_path):
    cr.manual_seed(0)
    x, y = blobs()
    model = small_net()
    history = fit(model, nll, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), (x, y),
                  val_data=blobs(60, seed=1), epochs=15, batch_size=16, metrics=("accuracy", "f1"), verbose=0)
    assert len(history) == 15 and history["epoch"] == list(range(1, 16))
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history.last["val_accuracy"] > 0.85 and 0 <= history.last["f1"] <= 1
    assert set(history.last) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time", "grad_norms"}
    layers = history.last["grad_norms"]  # per layer, by module name: the two Linear layers and the ReLU
    assert layers["0"]["grad_norm"] > 0 and layers["3"]["grad_norm"] > 0
    assert 0 <= layers["1"]["dead_relu"] <= 1
    history.save(tmp_path / "h.json")
    again = type(history).load(tmp_path / "h.json")
    assert again["loss"] == history["loss"]
    json.loads((tmp_path / "h.json").read_text())


@pytest.mark.parametrize("batch_size", [1, 3, 4])
def test_batch_size_one_is_sgd_and_full_batch_is_gd(batch_size):
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    trainer = Trainer(model, nll, optim.SGD(model.parameters(), lr=0.1), batch_size=batch_size, verbose=0)
    trainer.fit((XOR_X, XOR_Y), epochs=2)
    assert trainer.batches_per_epoch == -(-4 // batch_size)
    assert trainer.step == 2 * trainer.batches_per_epoch


def test_metrics_against_hand_counts():
    y = np.array([0, 0, 1, 1, 2, 2])
    scores = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    assert M.accuracy(y, scores) == pytest.approx(4 / 6)
    # per class: precision 1/2, 2/3, 1; recall 1/2, 1, 1/2
    assert M.precision(y, scores) == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert M.recall(y, scores) == pytest.approx((0.5 + 1 + 0.5) / 3)
    f1s = [2 * p * r / (p + r) for p, r in [(0.5, 0.5), (2 / 3, 1), (1, 0.5)]]
    assert M.f1(y, scores) == pytest.approx(np.mean(f1s))
    ranked = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1]])
    assert M.top_k_accuracy(np.array([2, 2]), ranked, k=2) == 0.5
    assert M.accuracy(np.array([1, 0]), np.array([[2.0], [-1.0]])) == 1.0  # logits: threshold 0
    assert M.accuracy(np.array([1, 0]), np.array([0.7, 0.2])) == 1.0  # probabilities: threshold 0.5
    t, p = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0])
    assert M.mse(t, p) == pytest.approx((0.25 + 1) / 3) and M.mae(t, p) == pytest.approx(0.5)
    assert M.r2(t, p) == pytest.approx(1 - 1.25 / 2)
    name, fn = M.get_metric("top3_accuracy")
    assert name == "top3_accuracy" and fn(np.array([0]), np.array([[0.3, 0.2, 0.1, 0.4]])) == 1.0
    assert fn(np.array([2]), np.array([[0.3, 0.2, 0.1, 0.4]])) == 0.0
    with pytest.raises(ValueError, match="unknown metric 'accurasy'"):
        M.get_metric("accurasy")


class Stub:
    """A stand-in trainer for driving callbacks by hand."""

    def __init__(self, model=None):
        self.model, self.stop_training, self.reason, self.epoch, self.step = model, False, None, 0, 0

    def stop(self, reason):
        self.stop_training, self.reason = True, reason


def test_early_stopping_patience_min_delta_and_restore_best_weights():
    model = nn.Linear(1, 1)
    stub = Stub(model)
    early = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.01, restore_best_weights=True)
    early.on_train_begin(stub)
    for epoch, value in enumerate([1.0, 0.5, 0.495, 0.6, 0.7], start=1):
        if epoch == 2:
            best = model.weight._data.copy()
        model.weight._data[...] = epoch  # the weights change every epoch
        if epoch == 2:
            best = model.weight._data.copy()
        early.on_epoch_end(stub, epoch, {"val_loss": value})
        assert stub.stop_training == (epoch == 4)  # two epochs (3, 4) without improvement: patience=2
        if stub.stop_training:
            break
    assert "did not improve on 0.5 (epoch 2) for 2 epochs" in stub.reason
    early.on_train_end(stub)
    np.testing.assert_array_equal(model.weight._data, best)
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    with pytest.raises(KeyError, match="no 'val_loss' in the epoch's record"):
        EarlyStopping().on_epoch_end(stub, 1, {"loss": 1.0})


def test_early_stopping_ends_fit_and_says_why():
    cr.manual_seed(0)
    x, y = blobs()
    model = small_net()
    history = fit(model, nll, optim.SGD(model.parameters(), lr=0.0), (x, y), val_data=(x, y), epochs=50,
                  callbacks=[EarlyStopping(patience=2)], verbose=0)
    assert len(history) == 3 and history.stopped.startswith("early stopping at epoch 3")


def test_convergence_stop():
    stub = Stub()
    stop = ConvergenceStop(monitor="loss", tol=1e-3, patience=2)
    for epoch, value in enumerate([1.0, 0.5, 0.4995, 0.4991, 0.49], start=1):
        stop.on_epoch_end(stub, epoch, {"loss": value})
        if stub.stop_training:
            break
    assert epoch == 4 and "converged at epoch 4" in stub.reason


def test_terminate_on_nan_stops_before_the_update_and_keeps_the_last_checkpoint(tmp_path):
    cr.manual_seed(0)
    x, y = blobs(64)
    model = small_net()
    calls = {"n": 0}
    snapshots = {}

    class Snapshot(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            snapshots[epoch] = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}

    def poisoned(out, target):
        calls["n"] += 1
        loss = nll(out, target)
        return loss * float("nan") if calls["n"] == 11 else loss

    path = tmp_path / "ckpt.safetensors"
    history = fit(model, poisoned, optim.SGD(model.parameters(), lr=0.1), (x, y), epochs=5, batch_size=16,
                  callbacks=[TerminateOnNaN(), Snapshot()], checkpoint=path, verbose=0)
    assert history.stopped == "terminated on NaN at epoch 3, step 11: the loss is nan"
    assert len(history) == 2
    assert all(np.isfinite(p._data).all() for p in model.parameters())  # the NaN step was not applied
    saved = load_checkpoint(path)
    assert saved["epoch"] == 2
    for key, value in snapshots[2].items():
        np.testing.assert_array_equal(saved["model"][key], value)


def test_terminate_on_nan_names_a_non_finite_gradient():
    model = nn.Linear(1, 1)
    model.weight.grad = cr.tensor([[np.inf]])
    stub = Stub(model)
    TerminateOnNaN().on_after_backward(stub, {"loss": 1.0})
    assert stub.reason.endswith("the gradient of 'weight' is not finite")


def test_model_checkpoint_every_epoch_and_best_only(tmp_path):
    cr.manual_seed(0)
    x, y = blobs(40)
    model = small_net()
    fit(model, nll, optim.SGD(model.parameters(), lr=0.05), (x, y), val_data=(x, y), epochs=3, verbose=0,
        callbacks=[ModelCheckpoint(tmp_path / "e{epoch}.safetensors"),
                   ModelCheckpoint(tmp_path / "best.safetensors", save_best_only=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.safetensors", "e1.safetensors", "e2.safetensors", "e3.safetensors"]
    assert load_checkpoint(tmp_path / "e2.safetensors")["epoch"] == 2


def test_progress_output_and_silence(capsys):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
    fit(model, nll, optim.SGD(model.parameters(), lr=0.1), (XOR_X, XOR_Y), epochs=2, verbose=2)
    err = capsys.readouterr().err
    assert "epoch 1/2  loss" in err and "epoch 2/2" in err and "accuracy" in err
    fit(model, nll, optim.SGD(model.parameters(), lr=0.1), (XOR_X, XOR_Y), epochs=2, verbose=1)
    err = capsys.readouterr().err  # the bar is for terminals; captured output gets a line per epoch
    assert err.count("\n") == 2 and err.startswith("epoch 1/2  loss") and "epoch 2/2  loss" in err
    fit(model, nll, optim.SGD(model.parameters(), lr=0.1), (XOR_X, XOR_Y), epochs=2, verbose=0)
    assert capsys.readouterr().err == ""
    assert ProgressBar().verbose == 1


def test_csv_and_json_loggers(tmp_path):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
    fit(model, nll, optim.SGD(model.parameters(), lr=0.1), (XOR_X, XOR_Y), epochs=3, verbose=0,
        callbacks=[CSVLogger(tmp_path / "log.csv"), JSONLogger(tmp_path / "log.jsonl")])
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,loss,accuracy") and len(lines) == 4
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3] and "grad_norms" in records[0]


def test_restarts_keep_the_best_run():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    y = XOR_Y.reshape(-1, 1).astype(np.float32)
    history = fit(model, mse, optim.SGD(model.parameters(), lr=1.0, momentum=0.9), (XOR_X, y), epochs=400,
                  batch_size=4, restarts=6, metrics=(), val_data=(XOR_X, y), verbose=0)
    scores = [run["score"] for run in history.runs]
    assert len(scores) == 6 and history.best_run == int(np.argmin(scores))
    assert max(scores) > 0.1 and min(scores) < 0.01  # a run stuck in a local minimum, others escaped
    with cr.no_grad():
        final = mse(model(cr.tensor(XOR_X)), cr.tensor(y)).item()
    assert final == pytest.approx(min(scores), rel=1e-5)
    assert history["loss"] == history.runs[history.best_run]["loss"]


def test_gradient_clipping_bounds_each_update():
    cr.manual_seed(0)
    x, y = blobs(32)
    model = small_net()
    before = [p._data.copy() for p in model.parameters()]
    fit(model, nll, optim.SGD(model.parameters(), lr=1.0), (x, y), epochs=1, batch_size=32, grad_clip=1e-3,
        verbose=0)
    moved = np.sqrt(sum(((p._data - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert moved <= 1e-3 * 1.0001


def test_resume_from_checkpoint_continues_exactly(tmp_path):
    x, y = blobs(50)

    def run(epochs, **kwargs):
        cr.manual_seed(3)
        model = small_net(dropout=0.3)
        opt = optim.Adam(model.parameters(), lr=0.01)
        history = fit(model, nll, opt, (x, y), epochs=epochs, batch_size=8, verbose=0, seed=11, **kwargs)
        return model, history

    straight, straight_history = run(6)
    run(3, checkpoint=tmp_path / "c.safetensors")
    resumed, history = run(6, resume_from=tmp_path / "c.safetensors")
    for a, b in zip(resumed.parameters(), straight.parameters()):
        np.testing.assert_array_equal(a._data, b._data)
    assert history["loss"] == straight_history["loss"]


def test_tampered_checkpoint_is_refused(tmp_path):
    model = small_net()
    trainer = Trainer(model, nll, optim.SGD(model.parameters(), lr=0.1), verbose=0)
    trainer.save_checkpoint(tmp_path / "c.safetensors")
    raw = bytearray((tmp_path / "c.safetensors").read_bytes())
    raw[-3] ^= 0x01
    (tmp_path / "c.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="modified or damaged"):
        trainer.load_checkpoint(tmp_path / "c.safetensors")
    cr.save({"w": np.ones(2)}, tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="not a chainrule checkpoint"):
        load_checkpoint(tmp_path / "plain.safetensors")


SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.train import Callback, fit

    mode, ckpt, out = sys.argv[1], sys.argv[2], sys.argv[3]
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 96)
    x = (rng.normal(size=(96, 4)) + 2 * np.eye(3, 4)[y]).astype(np.float32)

    class KillMidEpoch(Callback):
        def on_batch_end(self, trainer, batch, logs):
            if trainer.epoch == 4 and batch == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    def loss(o, t):
        return -cr.log_softmax(o, 1)[np.arange(len(t._data)), t._data].mean()

    cr.manual_seed(5)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    kwargs = dict(epochs=7, batch_size=16, verbose=0, seed=1)
    if mode == "killed":
        fit(model, loss, opt, (x, y), checkpoint=ckpt, callbacks=[KillMidEpoch()], **kwargs)
    elif mode == "resume":
        fit(model, loss, opt, (x, y), checkpoint=ckpt, resume_from=ckpt, **kwargs)
    else:
        fit(model, loss, opt, (x, y), **kwargs)
    np.savez(out, *[p._data for p in model.parameters()])
""")


def test_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    ckpt = tmp_path / "run.safetensors"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def call(mode, out):
        return subprocess.run([sys.executable, str(script), mode, str(ckpt), str(tmp_path / out)],
                              env=env, capture_output=True, text=True, timeout=120)

    killed = call("killed", "killed.npz")
    assert killed.returncode == -9, killed.stderr
    assert not (tmp_path / "killed.npz").exists()
    assert load_checkpoint(ckpt)["epoch"] == 3  # the last epoch finished before the kill
    assert call("resume", "resumed.npz").returncode == 0
    assert call("straight", "straight.npz").returncode == 0
    resumed = np.load(tmp_path / "resumed.npz", allow_pickle=False)
    straight = np.load(tmp_path / "straight.npz", allow_pickle=False)
    for key in straight.files:
        np.testing.assert_array_equal(resumed[key], straight[key])


def test_bad_arguments_are_refused():
    model = small_net()
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = blobs(10)
    with pytest.raises(ValueError, match="10 inputs but 9 targets"):
        fit(model, nll, opt, (x, y[:9]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="fit: epochs must be an integer >= 1, got 0"):
        fit(model, nll, opt, (x, y), epochs=0, verbose=0)
    with pytest.raises(ValueError, match="fit: batch_size must be an integer >= 1, got 0"):
        fit(model, nll, opt, (x, y), epochs=1, batch_size=0, verbose=0)
    with pytest.raises(TypeError, match=r"expected a pair \(inputs, targets\)"):
        fit(model, nll, opt, x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="cannot be combined with restarts"):
        fit(model, nll, opt, (x, y), epochs=1, restarts=2, resume_from="x", verbose=0)


def fit_args_case(**kwargs):
    model = small_net()
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = blobs(10)
    settings = {"epochs": 1, "verbose": 0, **kwargs}
    return lambda: fit(model, nll, opt, settings.pop("data", (x, y)), **settings)


class Ticks(Callback):
    """Counts the batches a fit runs (so a refusal is shown to come before any)."""

    batches = 0

    def on_batch_end(self, trainer, batch, logs):
        Ticks.batches += 1


@pytest.mark.parametrize("kwargs, error, message", [
    ({"batch_size": 2.5}, TypeError, r"fit: batch_size must be an integer >= 1, got 2.5 \(float\)"),
    ({"batch_size": None}, TypeError, r"fit: batch_size must be an integer >= 1, got None"),
    ({"batch_size": True}, TypeError, r"fit: batch_size must be an integer >= 1, got True \(bool\)"),
    ({"batch_size": 0}, ValueError, r"fit: batch_size must be an integer >= 1, got 0"),
    ({"epochs": 1.5}, TypeError, r"fit: epochs must be an integer >= 1, got 1.5"),
    ({"epochs": "3"}, TypeError, r"fit: epochs must be an integer >= 1, got '3' \(str\)"),
    ({"epochs": 0}, ValueError, r"fit: epochs must be an integer >= 1, got 0"),
    ({"restarts": 0}, ValueError, r"fit: restarts must be an integer >= 1, got 0"),
    ({"seed": 1.0}, TypeError, r"fit: seed must be an integer >= 0, got 1.0"),
    ({"seed": "0"}, TypeError, r"fit: seed must be an integer >= 0"),
    ({"scheduler": 3}, TypeError, r"fit: scheduler must be an lr_scheduler .* with a step\(\) method, got 3"),
    ({"callbacks": [Ticks(), "EarlyStopping"]}, TypeError, r"fit: callbacks must be Callback objects"),
    ({"callbacks": EarlyStopping()}, TypeError, r"fit: callbacks must be a list of Callback objects"),
    ({"metrics": "accuracy"}, TypeError, r"fit: metrics must be a list of metric names or callables"),
    ({"metrics": ["accuracy", "auc"]}, ValueError, r"unknown metric 'auc'"),
    ({"metrics": [3]}, TypeError, r"fit: a metric must be a name .* or a callable\(y_true, output\), got 3"),
    ({"grad_clip": float("nan")}, ValueError, r"fit: grad_clip must be a finite number > 0, got nan"),
    ({"grad_clip": float("inf")}, ValueError, r"fit: grad_clip must be a finite number > 0, got inf"),
    ({"grad_clip": -1.0}, ValueError, r"fit: grad_clip must be a finite number > 0"),
    ({"grad_clip": "1"}, TypeError, r"fit: grad_clip must be a finite number > 0, got '1'"),
    ({"verbose": 3}, ValueError, r"fit: verbose must be 0, 1 or 2, got 3"),
    ({"shuffle": "no"}, TypeError, r"fit: shuffle must be True or False"),
    ({"checkpoint": 3}, TypeError, r"fit: checkpoint must be a file path"),
    ({"data": (np.ones((10, 4), np.float32), None)}, TypeError, r"fit: the targets are None"),
    ({"callbacks": [EarlyStopping()]}, ValueError, r"fit: EarlyStopping monitors 'val_loss', which needs val_data"),
])
def test_fit_arguments_are_checked_before_any_epoch(kwargs, error, message):
    Ticks.batches = 0
    call = fit_args_case(callbacks=[Ticks()], **kwargs) if "callbacks" not in kwargs else fit_args_case(**kwargs)
    with pytest.raises(error, match=message):
        call()
    assert Ticks.batches == 0


def test_a_scheduler_of_another_optimizer_is_refused():
    from chainrule.optim import lr_scheduler

    model = small_net()
    other = optim.SGD(small_net().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="fit: the scheduler was built on another optimizer"):
        fit(model, nll, optim.SGD(model.parameters(), lr=0.1), blobs(10), epochs=1, verbose=0,
            scheduler=lr_scheduler.StepLR(other, 1))


def test_schedulers_step_per_epoch_per_batch_and_on_plateau():
    from chainrule.optim import lr_scheduler

    x, y = blobs(32)
    model = small_net()
    opt = optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, nll, opt, (x, y), epochs=4, batch_size=8, verbose=0,
                  scheduler=lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    np.testing.assert_allclose(history["lr"], [0.1, 0.05, 0.025, 0.0125])
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    cycle = lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=8)
    fit(model, nll, opt, (x, y), epochs=2, batch_size=8, verbose=0, scheduler=cycle)
    assert cycle.last_epoch == 8  # stepped once per batch
    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    history = fit(model, nll, optim_with_zero_effect(opt), (x, y), epochs=3, batch_size=8, verbose=0,
                  scheduler=plateau)
    assert history["lr"] == [0.1, 0.1, 0.05]  # epoch 2 does not improve on epoch 1: the rate halves


def optim_with_zero_effect(opt):
    """The optimizer, made to leave the weights alone (so the loss plateaus)."""
    opt.step = lambda closure=None: None
    return opt


def test_fit_takes_a_dataloader_or_a_tensordataset_and_trains_identically():
    from chainrule.data import DataLoader, TensorDataset

    x, y = blobs(40)

    def run(train_data, **kwargs):
        cr.manual_seed(4)
        model = small_net()
        history = fit(model, nll, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), train_data, epochs=3,
                      verbose=0, val_data=(x, y), **kwargs)
        return model, history

    reference, ref_history = run((x, y), batch_size=8)
    for data in (DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True), TensorDataset(x, y)):
        model, history = run(data, batch_size=8)
        for a, b in zip(model.parameters(), reference.parameters()):
            np.testing.assert_allclose(a._data, b._data, rtol=1e-6)
        assert history["val_loss"] == pytest.approx(ref_history["val_loss"], rel=1e-6)
    trainer = Trainer(small_net(), nll, optim.SGD(small_net().parameters(), lr=0.1), verbose=0)
    assert set(trainer.evaluate(DataLoader(TensorDataset(x, y), batch_size=7))) == {"loss", "accuracy"}
    with pytest.raises(TypeError, match="must yield"):
        fit(small_net(), nll, optim.SGD(small_net().parameters(), lr=0.1),
            DataLoader(TensorDataset(x), batch_size=8), epochs=1, verbose=0)


def test_integer_features_train_in_the_models_dtype_and_token_indices_stay_indices():
    """Integer or boolean features are converted to the model's floating dtype (the float32 network
    stays float32 and trains exactly as on float features); a model with an Embedding keeps its
    integer inputs, which are indices."""
    runs = []
    for features in (XOR_X.astype(np.int64), XOR_X.astype(bool), XOR_X):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
        fit(model, nll, optim.SGD(model.parameters(), lr=0.5), (features, XOR_Y), epochs=3, batch_size=2,
            seed=0, verbose=0)
        trainer = Trainer(model, nll, optim.SGD(model.parameters(), lr=0.5), verbose=0)
        assert trainer.predict(features).dtype == np.float32
        assert trainer.evaluate((features, XOR_Y))["loss"] > 0
        runs.append([p._data.copy() for p in model.parameters()])
    for run in runs[:2]:
        assert all(np.array_equal(a, b) for a, b in zip(run, runs[2]))

    tokens = np.array([[0, 1, 2], [2, 1, 0], [1, 1, 1], [0, 0, 2]])
    model = nn.Sequential(nn.Embedding(3, 4), nn.Flatten(), nn.Linear(12, 2))
    history = fit(model, nll, optim.SGD(model.parameters(), lr=0.1), (tokens, XOR_Y), epochs=2, verbose=0)
    assert len(history) == 2
