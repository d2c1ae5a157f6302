"""The chainrule command end to end, on tiny settings, in subprocesses (as a user runs it)."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from chainrule.data import digits

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "MPLBACKEND": "Agg"}


def chainrule(*args, cwd=None):
    result = subprocess.run([sys.executable, "-m", "chainrule", *map(str, args)], capture_output=True, text=True,
                            env=ENV, cwd=cwd, timeout=300)
    return result


def test_train_writes_a_run_folder_and_reports(tmp_path):
    run = tmp_path / "run"
    result = chainrule("train", "--epochs", 3, "--hidden", "32", "--lr", "0.01", "--run-dir", run)
    assert result.returncode == 0, result.stderr
    assert "test: test_loss" in result.stdout and "test_accuracy" in result.stdout
    assert "epoch 3/3" in result.stderr  # progress, one line per epoch when not on a terminal
    names = {p.name for p in run.iterdir()}
    assert names >= {"config.json", "history.json", "checkpoint.safetensors", "model.safetensors",
                     "preprocessing.safetensors", "results.json", "loss_curve.png", "gradient_flow.png"}
    results = json.loads((run / "results.json").read_text())
    assert results["test"]["test_accuracy"] > 0.8 and results["epochs_run"] == 3

    evaluated = chainrule("evaluate", run)
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"test_accuracy {results['test']['test_accuracy']:.4f}" in evaluated.stdout

    X, y = digits()
    np.savetxt(tmp_path / "in.csv", X[:20], delimiter=",", header=",".join(f"p{i}" for i in range(64)), comments="")
    predicted = chainrule("predict", run, "--input", tmp_path / "in.csv", "--output", tmp_path / "out.csv")
    assert predicted.returncode == 0, predicted.stderr
    rows = list(csv.reader(open(tmp_path / "out.csv")))
    assert rows[0][:2] == ["prediction", "p_0"] and len(rows) == 21
    assert np.mean([int(r[0]) for r in rows[1:]] == y[:20]) >= 0.8
    assert all(abs(sum(float(v) for v in r[1:]) - 1) < 1e-3 for r in rows[1:])

    resumed = chainrule("train", "--resume", run, "--epochs", 5, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "results.json").read_text())["epochs_run"] == 5
    assert len(json.loads((run / "history.json").read_text())["epochs"]) == 5


@pytest.mark.parametrize(
    "flags",
    [
        ["--model", "cnn", "--hidden", "4,8"],
        ["--model", "gru", "--hidden", "8", "--data", "mnist1d"],
        ["--model", "lstm", "--hidden", "8"],
        ["--model", "rnn", "--hidden", "8"],
        ["--model", "autoencoder", "--hidden", "16,4"],
        ["--hidden", "16,16", "--residual", "--batch-norm", "--dropout", "0.1", "--optimizer", "sgd",
         "--schedule", "onecycle", "--grad-clip", "1", "--early-stopping", "1", "--restarts", "2", "--init", "he"],
        ["--data", "moons", "--hidden", "8", "--schedule", "cyclic", "--optimizer", "rmsprop"],
        ["--model", "cnn", "--hidden", "4,8", "--optimizer", "sgd", "--grad-clip", "1"],
    ],
    ids=["cnn", "gru-mnist1d", "lstm", "rnn", "autoencoder", "mlp-everything", "moons-cyclic", "cnn-sgd-clipped"],
)
def test_every_architecture_trains(tmp_path, flags):
    result = chainrule("train", "--epochs", 2, "--quiet", "--run-dir", tmp_path / "r", *flags)
    assert result.returncode == 0, result.stderr
    assert "test: test_loss" in result.stdout


def test_explain_prints_the_four_steps_and_json():
    text = chainrule("explain")
    assert text.returncode == 0, text.stderr
    for heading in ("1. Forward pass", "2.", "3.", "4."):
        assert heading in text.stdout
    as_json = chainrule("explain", "--json", "--lr", "0.1")
    assert as_json.returncode == 0 and isinstance(json.loads(as_json.stdout), dict)


def test_gradcheck_reports_every_parameter():
    result = chainrule("gradcheck", "--model", "cnn", "--hidden", "3")
    assert result.returncode == 0, result.stderr
    assert "4 of 4 gradients agree" in result.stdout


def test_compare_prints_one_table_for_all_learners(tmp_path):
    result = chainrule("compare", "--epochs", 5, "--hidden", "32", "--repeats", 2, "--plot", tmp_path / "bars.png")
    assert result.returncode == 0, result.stderr
    for learner in ("chainrule MLP", "decision tree", "SVM", "k-NN", "logistic regression"):
        assert learner in result.stdout
    assert "2 stratified 80/20 splits" in result.stdout and "corrected resampled t-test" in result.stdout
    assert result.stdout.count(" ± ") == 3 * 5 + 1  # accuracy, train and predict time of each learner; the footnote
    assert (tmp_path / "bars.png").stat().st_size > 1000


def test_no_arguments_trains_the_default(tmp_path):
    result = chainrule("--epochs", 1, "--quiet", "--run-dir", tmp_path / "d")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "d" / "config.json").read_text())["data"] == "digits"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--model", "transformer"], "invalid choice: 'transformer'"),
        (["train", "--hidden", "8,x"], "expected comma-separated integers"),
        (["train", "--epochs", "0"], "argument --epochs: expected an integer in [1, 1000000], got 0"),
        (["train", "--data", "mnist"], "--data mnist needs --data-path"),
        (["train", "--data", "csv", "--data-path", "missing.csv", "--label-column", "y"], "missing.csv"),
        (["evaluate", "nowhere"], "nowhere is not a run folder"),
        (["predict", "nowhere"], "the following arguments are required: --input, --output"),
        (["train", "--resume", "nowhere"], "nowhere is not a run folder"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["train", "--compile-step"], "unrecognized arguments: --compile-step"),
        (["curvature", "nowhere"], "nowhere is not a run folder"),
        (["curvature", "nowhere", "--every", "2"], "--every goes with --over-training"),
    ],
)
def test_errors_are_messages_not_tracebacks(args, message):
    result = chainrule(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_every_command_has_complete_help():
    from chainrule.cli import COMMANDS

    for command in COMMANDS:
        result = chainrule(command, "--help")
        assert result.returncode == 0 and "usage: chainrule " + command in result.stdout


def test_search_prints_a_ranked_table():
    result = chainrule("search", "--hidden", "16", "32,16", "--activation", "relu", "--lr", "0.01", "--epochs", "3",
                       "--cv", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("rank") and len(lines) == 3
    scores = [float(line.split()[1]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.5


def test_curvature_reports_the_eigenvalues_and_a_verdict_for_a_run(tmp_path):
    run = tmp_path / "run"
    assert chainrule("train", "--epochs", 2, "--hidden", "8", "--quiet", "--run-dir", run).returncode == 0
    result = chainrule("curvature", run, "--samples", 64)
    assert result.returncode == 0, result.stderr
    assert "largest Hessian eigenvalue" in result.stdout and "smallest Hessian eigenvalue" in result.stdout
    assert "verdict: " in result.stdout
    (record,) = json.loads(chainrule("curvature", run, "--samples", 64, "--json").stdout)
    assert record["epoch"] is None and record["verdict"] in ("saddle", "sharp minimum", "flat minimum")
    assert record["smallest"] <= record["largest"] and record["sharp_above"] == 1 / 1e-3  # adam's default lr


def test_curvature_over_training_replays_the_run_and_plots_it(tmp_path):
    run = tmp_path / "run"
    assert chainrule("train", "--epochs", 3, "--hidden", "8", "--quiet", "--run-dir", run).returncode == 0
    result = chainrule("curvature", run, "--samples", 64, "--over-training", "--json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["epoch"] for r in records] == [0, 1, 2, 3]
    final = json.loads(chainrule("curvature", run, "--samples", 64, "--json").stdout)[0]
    assert records[-1]["largest"] == pytest.approx(final["largest"], rel=1e-3)  # float32 replay, float64 final
    assert (run / "curvature.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
