"""Run folders: a run killed at any moment resumes to the parameters of an uninterrupted run, bit
for bit; every file of a run folder is checked field by field when it is read back."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from chainrule import cli
from chainrule.runs import RunConfig, read_config
from chainrule.serialization import load

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "MPLBACKEND": "Agg"}
# Dropout and a schedule make the random generator's and the scheduler's state part of what must resume.
FLAGS = ["--data", "digits", "--hidden", "8", "--dropout", "0.1", "--schedule", "cosine", "--optimizer", "sgd",
         "--quiet"]
FINAL_FILES = {"config.json", "checkpoint.safetensors", "model.safetensors", "preprocessing.safetensors",
               "history.json", "results.json"}


def train(*args) -> int:
    return cli.main(["train", *map(str, args)])


def weights(run) -> dict:
    return dict(load(run / "model.safetensors"))


def assert_same_weights(run, reference):
    got, expected = weights(run), weights(reference)
    assert list(got) == list(expected)
    for name in expected:
        assert got[name].dtype == expected[name].dtype and np.array_equal(got[name], expected[name]), name


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 12-epoch run."""
    run = tmp_path_factory.mktemp("reference") / "run"
    assert train(*FLAGS, "--epochs", 12, "--run-dir", run) == 0
    return run


def test_config_is_written_before_the_first_epoch(tmp_path, monkeypatch):
    from chainrule.train import Trainer

    seen = {}

    def fit(self, *args, **kwargs):
        seen["files"] = {p.name for p in (tmp_path / "run").iterdir()}
        raise KeyboardInterrupt  # killed before the first epoch

    monkeypatch.setattr(Trainer, "fit", fit)
    assert train(*FLAGS, "--epochs", 2, "--run-dir", tmp_path / "run") == 130
    assert seen["files"] == {"config.json", "preprocessing.safetensors"}
    config, extra = read_config(tmp_path / "run")
    assert config.epochs == 2 and extra["n_outputs"] == 10


@pytest.mark.parametrize("left", ["config only", "checkpoint", "final checkpoint, no outputs", "finished"])
def test_resume_from_what_a_kill_leaves_matches_an_uninterrupted_run(tmp_path, reference, left, capsys,
                                                                      monkeypatch):
    """The states a kill can leave, made exactly: the folder as it was at that moment."""
    from chainrule.train import Trainer

    run = tmp_path / "run"
    if left == "checkpoint":  # killed right after the fifth epoch's checkpoint
        save = Trainer.save_checkpoint

        def save_then_die(self, path):
            save(self, path)
            if self.epoch == 5:
                raise KeyboardInterrupt

        with monkeypatch.context() as patch:
            patch.setattr(Trainer, "save_checkpoint", save_then_die)
            assert train(*FLAGS, "--epochs", 12, "--run-dir", run) == 130
    else:
        assert train(*FLAGS, "--epochs", 12, "--run-dir", run) == 0
    keep = {"config only": {"config.json", "preprocessing.safetensors"},
            "checkpoint": {"config.json", "preprocessing.safetensors", "checkpoint.safetensors"},
            "final checkpoint, no outputs": {"config.json", "preprocessing.safetensors", "checkpoint.safetensors"},
            "finished": FINAL_FILES | {"loss_curve.png", "gradient_flow.png"}}[left]
    for path in run.iterdir():
        if path.name not in keep:
            path.unlink()
    (run / ".checkpoint.safetensors.999999.tmp").write_bytes(b"cut off mid-write")  # a kill during a save
    (run / ".loss_curve.png.999999.tmp").write_bytes(b"cut off mid-plot")  # a kill while plotting
    capsys.readouterr()
    assert train("--resume", run, "--quiet") == 0
    assert "test: test_loss" in capsys.readouterr().out
    assert {p.name for p in run.iterdir()} >= FINAL_FILES
    # Temporaries of a killed writer go when their file is next written (the checkpoint only if
    # epochs were left to train).
    left = {".checkpoint.safetensors.999999.tmp"} if left in ("final checkpoint, no outputs", "finished") else set()
    assert {p.name for p in run.iterdir() if p.name.startswith(".")} == left
    assert_same_weights(run, reference)
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert [r["epoch"] for r in history] == list(range(1, 13))
    assert json.loads((run / "results.json").read_text())["epochs_run"] == 12


def test_an_early_stopped_run_killed_anywhere_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """EarlyStopping's counters and best weights are part of the checkpoint: every kill point of a run
    that stops early (after epoch 6 of 40 here) resumes to its restored best weights."""
    from chainrule.train import Trainer

    flags = ["--data", "moons", "--hidden", "8", "--epochs", 40, "--early-stopping", 2, "--lr", 0.05, "--quiet"]
    assert train(*flags, "--run-dir", tmp_path / "whole") == 0
    epochs = len(json.loads((tmp_path / "whole" / "history.json").read_text())["epochs"])
    assert epochs < 40
    save = Trainer.save_checkpoint
    for killed_after in range(1, epochs + 1):
        def save_then_die(self, path, killed_after=killed_after):
            save(self, path)
            if self.epoch == killed_after:
                raise KeyboardInterrupt

        run = tmp_path / f"killed-{killed_after}"
        with monkeypatch.context() as patch:
            patch.setattr(Trainer, "save_checkpoint", save_then_die)
            assert train(*flags, "--run-dir", run) == 130
        assert train("--resume", run, "--quiet") == 0
        assert_same_weights(run, tmp_path / "whole")
        assert len(json.loads((run / "history.json").read_text())["epochs"]) == epochs


def _kill_when(run, name, timeout=60.0):
    """Start a 12-epoch training in a subprocess and SIGKILL it as soon as ``run/name`` appears."""
    process = subprocess.Popen([sys.executable, "-m", "chainrule", "train", *FLAGS, "--epochs", "12",
                                "--run-dir", str(run)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not (run / name).exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return process.returncode


@pytest.mark.parametrize("moment", ["config.json", "checkpoint.safetensors", "model.safetensors"])
def test_a_real_kill_at_any_moment_resumes_bit_for_bit(tmp_path, reference, moment):
    run = tmp_path / "run"
    returncode = _kill_when(run, moment)
    assert returncode in (-signal.SIGKILL, 0)  # 0: it had finished before the kill landed
    # config.json comes before the final weights, the checkpoint before the results.
    later = {"config.json": "model.safetensors", "checkpoint.safetensors": "results.json"}.get(moment)
    assert (run / "config.json").exists() and not (later and (run / later).exists())
    assert train("--resume", run, "--quiet") == 0
    assert_same_weights(run, reference)
    assert json.loads((run / "results.json").read_text())["epochs_run"] == 12


def test_resume_extends_a_finished_run_and_refuses_to_shorten_it(tmp_path, capsys):
    run, whole = tmp_path / "run", tmp_path / "whole"
    flags = ["--data", "digits", "--hidden", "8", "--dropout", "0.1", "--quiet"]
    assert train(*flags, "--epochs", 5, "--run-dir", whole) == 0
    assert train(*flags, "--epochs", 3, "--run-dir", run) == 0
    assert train("--resume", run, "--epochs", 2) == 2
    assert "already trained 3 epochs" in capsys.readouterr().err
    assert train("--resume", run, "--epochs", 5, "--quiet") == 0
    assert len(json.loads((run / "history.json").read_text())["epochs"]) == 5
    assert read_config(run)[0].epochs == 5
    assert_same_weights(run, whole)  # no schedule: extending equals having asked for 5 epochs


def test_resume_refuses_to_extend_a_schedule_planned_for_fewer_epochs(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(*FLAGS, "--epochs", 3, "--run-dir", run) == 0  # cosine over 3 epochs
    assert train("--resume", run, "--epochs", 5) == 2
    assert f"--epochs 5: the run in {run} follows a cosine schedule planned for 3 epochs" in capsys.readouterr().err
    assert read_config(run)[0].epochs == 3
    assert train("--resume", run, "--epochs", 3, "--quiet") == 0  # the same plan: nothing to extend


def test_a_new_run_replaces_the_run_a_folder_held(tmp_path):
    run = tmp_path / "run"
    assert train(*FLAGS, "--epochs", 3, "--run-dir", run) == 0
    assert train("--data", "xor", "--hidden", "3", "--epochs", 2, "--run-dir", run, "--quiet") == 0
    config, extra = read_config(run)
    assert config.data == "xor" and extra["n_outputs"] == 2
    assert weights(run)["0.weight"].shape == (3, 2)


def test_runs_in_the_same_second_get_their_own_default_folders(tmp_path, monkeypatch, capsys):
    from chainrule import runs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20260101-000000")
    for _ in range(3):
        assert train("--data", "xor", "--hidden", "2", "--epochs", 1, "--quiet") == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "xor-mlp-20260101-000000", "xor-mlp-20260101-000000-2", "xor-mlp-20260101-000000-3"]
    assert "run folder: runs/xor-mlp-20260101-000000-3" in capsys.readouterr().out


def test_a_restarts_run_resumes_by_training_again(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    flags = [*FLAGS, "--epochs", 3, "--restarts", 2]
    assert train(*flags, "--run-dir", whole) == 0
    assert train(*flags, "--run-dir", killed) == 0
    (killed / "model.safetensors").unlink()
    (killed / "results.json").unlink()
    assert train("--resume", killed, "--quiet") == 0
    assert_same_weights(killed, whole)


# -- config.json, field by field ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run = tmp_path_factory.mktemp("finished") / "run"
    assert train("--data", "xor", "--hidden", "3", "--epochs", 1, "--run-dir", run, "--quiet") == 0
    return run


def _edited(finished, tmp_path, change):
    run = tmp_path / "edited"
    run.mkdir()
    for path in finished.iterdir():
        (run / path.name).write_bytes(path.read_bytes())
    config = json.loads((finished / "config.json").read_text())
    change(config)
    (run / "config.json").write_text(json.dumps(config))
    return run


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("n_outputs"), "field 'n_outputs' is missing"),
        (lambda c: c.pop("seed"), "field 'seed' is missing"),
        (lambda c: c.update(hidden=[10**8]), "field 'hidden': a width: expected an integer in [1, 65536]"),
        (lambda c: c.update(hidden=[60000, 60000]), "parameters, more than the 100,000,000"),
        (lambda c: c.update(hidden="8"), "field 'hidden': expected 1 to 64 layer widths"),
        (lambda c: c.update(epochs="3"), "field 'epochs': expected an integer in [1, 1000000], got '3'"),
        (lambda c: c.update(epochs=True), "field 'epochs': expected an integer"),
        (lambda c: c.update(epochs=10**9), "field 'epochs': expected an integer in [1, 1000000]"),
        (lambda c: c.update(batch_size=2.5), "field 'batch_size': expected an integer"),
        (lambda c: c.update(lr=-1.0), "field 'lr': expected a number > 0"),
        (lambda c: c.update(dropout=1.5), "field 'dropout': expected a number in [0, 1)"),
        (lambda c: c.update(model="transformer"), "field 'model': expected one of mlp, cnn"),
        (lambda c: c.update(batch_norm="yes"), "field 'batch_norm': expected true or false"),
        (lambda c: c.update(n_outputs="2"), "field 'n_outputs': expected an integer"),
        (lambda c: c.update(input_shape=[2, "x"]), "field 'input_shape': expected a list"),
        (lambda c: c.update(input_shape=[1, 2]), "field 'input_shape' [1, 2] does not fit"),
        (lambda c: c.update(task="regression"), "field 'task': expected one of classification, reconstruction"),
        (lambda c: c.update(classes=["a"]), "field 'classes' names 1 classes, but 'n_outputs' is 2"),
        (lambda c: c.update(epoch=3), "unknown field 'epoch'"),
    ],
)
def test_a_damaged_config_names_the_file_and_field(finished, tmp_path, change, message, capsys):
    run = _edited(finished, tmp_path, change)
    for command in (["evaluate", str(run)], ["train", "--resume", str(run)]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err
        assert f"{run / 'config.json'}: " in err and message in err, err
        assert err.count("\n") == 1


def test_train_runs_the_callbacks_it_is_given_after_its_own(tmp_path):
    from chainrule.runs import train as train_run
    from chainrule.train import Callback

    class Epochs(Callback):
        def __init__(self):
            self.seen = []

        def on_epoch_end(self, trainer, epoch, logs):
            self.seen.append((epoch, [type(c).__name__ for c in trainer.callbacks]))

    counter = Epochs()
    config = RunConfig(data="xor", hidden=(3,), epochs=2, early_stopping=5, run_dir=str(tmp_path / "run"))
    train_run(config, verbose=0, callbacks=[counter])
    assert counter.seen == [(1, ["EarlyStopping", "Epochs"]), (2, ["EarlyStopping", "Epochs"])]
    with pytest.raises(TypeError, match="train: callbacks must be a list of Callback objects, got <"):
        train_run(config, verbose=0, callbacks=counter)


@pytest.mark.parametrize("compile_step", [False, True])
def test_a_config_that_still_has_compile_step_loads_and_evaluates(finished, tmp_path, compile_step, capsys):
    # older versions wrote the captured step's flag; the eager step computes the same numbers
    run = _edited(finished, tmp_path, lambda c: c.update(compile_step=compile_step))
    assert read_config(run) == read_config(finished)
    assert cli.main(["evaluate", str(run)]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("text", "message"),
    [("[" * 100_000 + "]" * 100_000, "nested more than"), ("{\"seed\": " + "9" * 5000 + "}", "digits"),
     ("[1, 2]", "expected an object"), ("{\"seed\": 1", "damaged JSON")],
    ids=["deep", "huge-int", "list", "cut-off"],
)
def test_malformed_config_json_is_a_message(finished, tmp_path, text, message, capsys):
    run = _edited(finished, tmp_path, lambda c: None)
    (run / "config.json").write_text(text)
    assert cli.main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and message in err and "Traceback" not in err


def test_weights_of_another_network_are_named(finished, tmp_path, capsys):
    run = _edited(finished, tmp_path, lambda c: c.update(hidden=[5]))
    assert cli.main(["evaluate", str(run)]) == 2
    assert "model.safetensors does not hold the weights of the network" in capsys.readouterr().err


def test_an_unfinished_run_says_how_to_finish_it(finished, tmp_path, capsys):
    run = _edited(finished, tmp_path, lambda c: None)
    (run / "model.safetensors").unlink()
    assert cli.main(["evaluate", str(run)]) == 2
    assert f"has not finished training: no model.safetensors (continue it with 'chainrule train --resume {run}')" \
        in capsys.readouterr().err


def test_run_config_check_names_the_flag():
    with pytest.raises(ValueError, match=r"--lr: expected a finite number"):
        RunConfig(lr=float("nan")).check()
    with pytest.raises(ValueError, match=r"--hidden: a width: expected an integer in \[1, 65536\], got 0"):
        RunConfig(hidden=(8, 0)).check()
    assert RunConfig(hidden=[4, 2]).check().hidden == (4, 2)


@pytest.mark.parametrize(
    ("stats", "message"),
    [({"mean": np.zeros(2, np.float32)}, "'scale' must be 2 finite floats (config.json's input_shape), got missing"),
     ({"mean": np.zeros(3, np.float32), "scale": np.ones(3, np.float32)}, "'mean' must be 2 finite floats"),
     ({"mean": np.array([0, np.nan], np.float32), "scale": np.ones(2, np.float32)}, "'mean' must be 2 finite"),
     ({"mean": np.zeros(2, np.float32), "scale": np.zeros(2, np.float32)}, "'scale' must be positive")],
    ids=["missing", "shape", "nan", "zero-scale"],
)
def test_damaged_preprocessing_statistics_are_named(finished, tmp_path, stats, message, capsys):
    from chainrule.serialization import save

    run = _edited(finished, tmp_path, lambda c: None)
    save(stats, run / "preprocessing.safetensors")
    assert cli.main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'preprocessing.safetensors'}: {message}" in err, err


@pytest.mark.parametrize("world", [1, 3])
def test_a_per_batch_schedule_is_planned_over_the_steps_fit_takes(tmp_path, monkeypatch, world):
    """Under MPI each step is a global batch of batch_size x N rows: a one-cycle schedule planned
    for one process's step count would stop at a third of its cycle on 3 ranks."""
    from chainrule import distributed, runs

    planned = []
    build = runs.build_scheduler
    monkeypatch.setattr(runs, "build_scheduler",
                        lambda config, opt, steps: planned.append(steps) or build(config, opt, steps))
    monkeypatch.setattr(distributed, "world_size", lambda: world)

    def stop_before_training(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs.Trainer, "fit", stop_before_training)
    config = RunConfig(data="moons", hidden=(4,), epochs=1, batch_size=16, schedule="onecycle",
                       run_dir=str(tmp_path / "run"))
    with pytest.raises(KeyboardInterrupt):
        runs.train(config, verbose=0)
    train_rows = len(runs.prepare_data(config).train[0])
    assert planned == [-(-train_rows // (16 * world))]


def test_an_autoencoder_run_on_a_labelled_data_set_reads_back_and_evaluates(tmp_path, capsys):
    """The digits' ten class names stay in the run's config, but an autoencoder's outputs are its
    64 features: reading the run back must not compare the two."""
    run = tmp_path / "run"
    assert train("--data", "digits", "--model", "autoencoder", "--hidden", "16,4", "--epochs", 1, "--quiet",
                 "--run-dir", run) == 0
    config, extra = read_config(run)
    assert config.model == "autoencoder" and extra["task"] == "reconstruction" and extra["n_outputs"] == 64
    assert cli.main(["evaluate", str(run)]) == 0
    assert "mse" in capsys.readouterr().out
