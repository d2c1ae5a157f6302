"""Resuming from a checkpoint is exact: with every callback and scheduler, a run interrupted after
any epoch and resumed ends with the weights and History of an uninterrupted run; a run that a
callback stopped stays stopped; a damaged or mismatched checkpoint is refused naming the field."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim, serialization
from chainrule.optim import lr_scheduler
from chainrule.train import (
    Callback,
    ConvergenceStop,
    CSVLogger,
    EarlyStopping,
    History,
    JSONLogger,
    ModelCheckpoint,
    Trainer,
    fit,
    load_checkpoint,
)

EPOCHS = 9


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, 4)) + 1.5 * np.eye(3, 4)[y]).astype(np.float32)
    return x, y


def nll(out, target):
    return -cr.log_softmax(out, 1)[np.arange(len(target._data)), target._data].mean()


class Crash(Callback):
    """Interrupts training the way a kill would: an exception at the start of epoch ``at``."""

    def __init__(self, at):
        self.at = at

    def on_epoch_begin(self, trainer, epoch):
        if epoch == self.at:
            raise KeyboardInterrupt


class CrashAtTheEnd(Callback):
    """Interrupts after the last checkpoint, before the other callbacks' on_train_end."""

    def on_train_end(self, trainer):
        raise KeyboardInterrupt


class CountBatches(Callback):
    def __init__(self):
        self.batches = 0

    def on_batch_end(self, trainer, batch, logs):
        self.batches += 1


def settings(name, tmp_path):
    """(callbacks, scheduler factory) for one of the cases below."""
    none = lambda opt: None
    if name == "early_stopping":  # min_delta large enough that it stops around epoch 5
        return [EarlyStopping(patience=2, min_delta=0.02)], none
    if name == "early_stopping_last_weights":
        return [EarlyStopping(patience=3, min_delta=0.01, restore_best_weights=False)], none
    if name == "convergence_stop":
        return [ConvergenceStop("loss", tol=0.1, patience=2)], none
    if name == "model_checkpoint_best":
        return [ModelCheckpoint(tmp_path / "best.safetensors", save_best_only=True)], none
    if name == "reduce_on_plateau":
        return [], lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0, threshold=0.05)
    if name == "step_lr":
        return [], lambda opt: lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    if name == "one_cycle":
        return [], lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=EPOCHS * 6)
    if name == "all_together":
        return ([EarlyStopping(patience=3, min_delta=0.005), ConvergenceStop("val_loss", tol=1e-3, patience=3),
                 ModelCheckpoint(tmp_path / "best.safetensors", save_best_only=True)],
                lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1))
    raise AssertionError(name)


def run(name, tmp_path, extra=(), epochs=EPOCHS, **kwargs):
    cr.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    callbacks, scheduler = settings(name, tmp_path)
    history = fit(model, nll, opt, data(), val_data=data(24, seed=1), epochs=epochs, batch_size=8, verbose=0,
                  seed=7, callbacks=[*extra, *callbacks], scheduler=scheduler(opt), **kwargs)
    return model, history, callbacks


def same_run(model_a, history_a, model_b, history_b):
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        assert np.array_equal(a._data, b._data)
    strip = lambda h: [{k: v for k, v in r.items() if k != "time"} for r in h.epochs]
    assert strip(history_a) == strip(history_b)
    assert history_a.stopped == history_b.stopped


CASES = ["early_stopping", "early_stopping_last_weights", "convergence_stop", "model_checkpoint_best",
         "reduce_on_plateau", "step_lr", "one_cycle", "all_together"]


@pytest.mark.parametrize("name", CASES)
def test_interrupted_and_resumed_equals_uninterrupted(name, tmp_path):
    straight, straight_history, _ = run(name, tmp_path)
    stopped_at = len(straight_history)
    assert stopped_at >= 3
    best = tmp_path / "best.safetensors"  # ModelCheckpoint(save_best_only)'s file, where there is one
    best_epoch = load_checkpoint(best)["epoch"] if best.exists() else None
    ckpt = tmp_path / "run.safetensors"
    for crash_at in sorted({2, stopped_at}):  # early, and in the epoch the run would stop
        ckpt.unlink(missing_ok=True)
        best.unlink(missing_ok=True)
        with pytest.raises(KeyboardInterrupt):
            run(name, tmp_path, extra=[Crash(crash_at)], checkpoint=ckpt)
        assert load_checkpoint(ckpt)["epoch"] == crash_at - 1
        resumed, history, _ = run(name, tmp_path, checkpoint=ckpt, resume_from=ckpt)
        same_run(resumed, history, straight, straight_history)
        if best_epoch is not None:  # the best file is the best epoch's, not the first resumed one's
            assert load_checkpoint(best)["epoch"] == best_epoch


@pytest.mark.parametrize("name", ["early_stopping", "convergence_stop"])
def test_a_stopped_run_stays_stopped_on_resume(name, tmp_path):
    straight, straight_history, _ = run(name, tmp_path)
    assert straight_history.stopped is not None and len(straight_history) < EPOCHS
    ckpt = tmp_path / "run.safetensors"
    # killed after the stop was decided and written, before the best weights were put back
    with pytest.raises(KeyboardInterrupt):
        run(name, tmp_path, extra=[CrashAtTheEnd()], checkpoint=ckpt)
    saved = load_checkpoint(ckpt)
    assert saved["extra"]["stop_training"] is True and saved["history"].stopped == straight_history.stopped
    counter = CountBatches()
    resumed, history, _ = run(name, tmp_path, extra=[counter], checkpoint=ckpt, resume_from=ckpt)
    assert counter.batches == 0  # nothing trained
    same_run(resumed, history, straight, straight_history)  # the best weights restored, as uninterrupted
    # asking for more epochs than the stopped run was given lets it go on
    counter = CountBatches()
    _, longer, _ = run(name, tmp_path, extra=[counter], epochs=EPOCHS + 3, resume_from=ckpt)
    assert counter.batches > 0 and len(longer) > len(straight_history)


def test_a_run_killed_after_its_last_checkpoint_resumes_to_the_same_end(tmp_path):
    # all epochs ran (no stop); killed before on_train_end put EarlyStopping's best weights back
    straight, straight_history, _ = run("all_together", tmp_path)
    assert straight_history.stopped is None and len(straight_history) == EPOCHS
    ckpt = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        run("all_together", tmp_path, extra=[CrashAtTheEnd()], checkpoint=ckpt)
    counter = CountBatches()
    resumed, history, _ = run("all_together", tmp_path, extra=[counter], checkpoint=ckpt, resume_from=ckpt)
    assert counter.batches == 0
    same_run(resumed, history, straight, straight_history)


def test_a_finished_run_is_extended_by_more_epochs(tmp_path):
    straight, straight_history, _ = run("step_lr", tmp_path, epochs=EPOCHS)
    ckpt = tmp_path / "run.safetensors"
    run("step_lr", tmp_path, epochs=5, checkpoint=ckpt)
    counter = CountBatches()
    _, again, _ = run("step_lr", tmp_path, extra=[counter], epochs=5, resume_from=ckpt)
    assert counter.batches == 0 and len(again) == 5  # the same target: nothing more to do
    resumed, history, _ = run("step_lr", tmp_path, epochs=EPOCHS, resume_from=ckpt)
    same_run(resumed, history, straight, straight_history)


def test_model_checkpoint_files_hold_every_callbacks_decision(tmp_path):
    # ModelCheckpoint listed before EarlyStopping: its file still holds EarlyStopping's state of that epoch
    _, history, (early,) = run("early_stopping", tmp_path, extra=[ModelCheckpoint(tmp_path / "e{epoch}.safetensors")])
    assert early.stopped_epoch == len(history) < EPOCHS
    last = load_checkpoint(tmp_path / f"e{early.stopped_epoch}.safetensors")
    assert last["callbacks"][1]["state"]["wait"] == early.wait == 2
    assert last["extra"]["stop_training"] is True


def test_loggers_do_not_repeat_the_epochs_run_again(tmp_path):
    ckpt = tmp_path / "run.safetensors"

    def loggers():
        return [CSVLogger(tmp_path / "log.csv"), JSONLogger(tmp_path / "log.jsonl")]

    with pytest.raises(KeyboardInterrupt):
        run("step_lr", tmp_path, extra=[*loggers(), Crash(4)], checkpoint=ckpt)
    with open(tmp_path / "log.jsonl", "a") as f:  # an epoch logged after the checkpoint, cut off by the kill
        f.write('{"epoch": 4, "loss"')
    with open(tmp_path / "log.csv", "a") as f:
        f.write("4,0.5,0.5,")
    run("step_lr", tmp_path, extra=loggers(), checkpoint=ckpt, resume_from=ckpt)
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, EPOCHS + 1))
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == list(range(1, EPOCHS + 1))


def test_resuming_with_other_callbacks_or_scheduler_is_refused(tmp_path):
    ckpt = tmp_path / "run.safetensors"
    run("early_stopping", tmp_path, epochs=2, checkpoint=ckpt)
    with pytest.raises(ValueError, match=r"holds the state of the callbacks \['EarlyStopping'\], but this run "
                                         r"has \['ConvergenceStop'\]"):
        run("convergence_stop", tmp_path, resume_from=ckpt)
    with pytest.raises(ValueError, match="holds no scheduler state, but this run has a scheduler"):
        cr.manual_seed(2)
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        fit(model, nll, opt, data(), val_data=data(24, seed=1), epochs=3, verbose=0,
            callbacks=[EarlyStopping(patience=2)], scheduler=lr_scheduler.StepLR(opt, 1), resume_from=ckpt)


# -- damaged checkpoints: every field is checked ----------------------------------------------------
def rewrite_metadata(path, change):
    """Re-save a checkpoint with its metadata changed by ``change(meta)`` (a fresh digest: only
    the content is wrong, as a buggy writer or a hand edit would leave it)."""
    arrays, meta = serialization.load(path, with_metadata=True)
    change(meta)
    serialization.save(arrays, path, metadata=meta)


def fresh_checkpoint(tmp_path):
    ckpt = tmp_path / "c.safetensors"
    run("all_together", tmp_path, epochs=2, checkpoint=ckpt)
    return ckpt


DAMAGE = [
    (lambda m: m.pop("model_keys"), "the field 'model_keys' is missing"),
    (lambda m: m.update(model_keys="0.weight"), "the field 'model_keys' must be a list"),
    (lambda m: m.update(epoch="2"), "the field 'epoch' must be an epoch count"),
    (lambda m: m.update(epoch=True), "the field 'epoch' must be an epoch count"),
    (lambda m: m.update(epoch=10**12), "the field 'epoch' must be an epoch count"),
    (lambda m: m.update(step=-1), "the field 'step' must be a step count"),
    (lambda m: m.update(history=[]), "the field 'history' must be a History dict"),
    (lambda m: m["history"].update(epochs={"1": {}}), "'epochs' must be a list"),
    (lambda m: m["history"]["epochs"][0].update(loss="low"), r"epochs\[0\]\['loss'\] must be a number"),
    (lambda m: m["history"].update(stopped=3), "'stopped' must be a reason"),
    (lambda m: m.update(rng="garbage"), "the field 'rng' must be a random generator state"),
    (lambda m: m.update(rng={"bit_generator": "MT19937", "state": {}}), "holds a 'MT19937' generator state"),
    (lambda m: m["rng"].update(state={"state": "x", "inc": 1}), "the field 'rng' is not a valid PCG64 state"),
    (lambda m: m.update(optimizer=[1, 2]), "the field 'optimizer' must be an optimizer state dict"),
    (lambda m: m.update(scheduler="StepLR"), "the field 'scheduler' must be a scheduler state dict"),
    (lambda m: m.update(callbacks={"0": None}), "the field 'callbacks' must be a list"),
    (lambda m: m["callbacks"].pop(0), r"holds the state of the callbacks \['ConvergenceStop', 'ModelCheckpoint'\]"),
    (lambda m: m["callbacks"][0]["state"].update(wait=-3), "EarlyStopping.load_state_dict: the field 'wait' must be"),
    (lambda m: m["callbacks"][0]["state"].pop("best"), "EarlyStopping.load_state_dict: the field 'best' is missing"),
    (lambda m: m["callbacks"][1]["state"].update(calm="2"), "ConvergenceStop.load_state_dict: the field 'calm'"),
    (lambda m: m["callbacks"][2]["state"].update(best=[0.5]), "ModelCheckpoint.load_state_dict: the field 'best'"),
    (lambda m: m.update(extra={"stop_training": "no"}), "the field 'stop_training' must be true or false"),
    (lambda m: m.update(extra={"epochs": -1}), "the field 'epochs' must be an epoch count"),
    (lambda m: m.update(version=1), "has checkpoint version 1, expected 2"),
]


@pytest.mark.parametrize("change, message", DAMAGE, ids=[m for _, m in DAMAGE])
def test_damaged_checkpoint_fields_are_refused_by_name(tmp_path, change, message):
    ckpt = fresh_checkpoint(tmp_path)
    rewrite_metadata(ckpt, change)
    cr.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    before = [p._data.copy() for p in model.parameters()]
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    callbacks, scheduler = settings("all_together", tmp_path)
    trainer = Trainer(model, nll, opt, callbacks=callbacks, scheduler=scheduler(opt), verbose=0)
    with pytest.raises(ValueError, match=message) as info:
        trainer.load_checkpoint(ckpt)
    assert str(ckpt) in str(info.value)  # the file is named
    assert all(np.array_equal(p._data, b) for p, b in zip(model.parameters(), before))  # nothing changed
    assert callbacks[0].wait == 0 and callbacks[0].best is None and callbacks[2].best is None


def test_a_checkpoint_for_another_model_changes_nothing(tmp_path):
    ckpt = fresh_checkpoint(tmp_path)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 5))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    before = [p._data.copy() for p in model.parameters()]
    callbacks, scheduler = settings("all_together", tmp_path)
    trainer = Trainer(model, nll, opt, callbacks=callbacks, scheduler=scheduler(opt), verbose=0)
    with pytest.raises(ValueError, match="size mismatch"):
        trainer.load_checkpoint(ckpt)
    assert all(np.array_equal(p._data, b) for p, b in zip(model.parameters(), before))
    assert callbacks[0].best is None and callbacks[1].previous is None  # the callbacks' state too


def test_history_from_dict_and_load_check_their_input(tmp_path):
    good = History([{"epoch": 1, "loss": 0.5}], stopped="early stopping").to_dict()
    assert History.from_dict(good).to_dict() == good
    for bad, message in [([], "expected a dict"), ({"epochs": "x"}, "'epochs' must be a list"),
                         ({"epochs": [1]}, r"epochs\[0\] must be a record"),
                         ({"epochs": [{"epoch": "1"}]}, r"epochs\[0\]\['epoch'\] must be an epoch number"),
                         ({"runs": [{}], "best_run": 4}, "'best_run' must be the index"),
                         ({"epochz": []}, "unknown fields")]:
        with pytest.raises(ValueError, match=message):
            History.from_dict(bad)
    path = tmp_path / "history.json"
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(ValueError, match=r"history\.json"):
        History.load(path)
    path.write_text('{"epochs": [{"epoch": 1, "loss": "nan"}]}')
    with pytest.raises(ValueError, match=r"History.load: .*history.json: epochs\[0\]\['loss'\]"):
        History.load(path)
