"""Every example in examples/ runs in quick mode (a subprocess, as a user runs it) and prints
what it claims; the pictures it promises are written as PNG files."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_example(name, out):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", "--out", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def number_after(label, text):
    match = re.search(re.escape(label) + r"\s*([-+0-9.e]+)", text)
    assert match, f"no {label!r} in the output:\n{text}"
    return float(match.group(1))


def assert_png(path):
    assert path.is_file(), f"{path.name} was not written"
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"


def test_xor_tensors(tmp_path):
    out = run_example("xor_tensors.py", tmp_path)  # it takes no flags and ignores them
    predictions = re.search(r"predictions: \[(.*)\]", out).group(1).split()
    assert [round(float(p)) for p in predictions] == [0, 1, 1, 0]


def test_xor_restarts_rescue_a_stuck_run(tmp_path):
    out = run_example("xor.py", tmp_path)
    assert "stuck in a local minimum" in out and "solved" in out
    run_losses = [float(v) for v in re.findall(r"run \d: final loss (\d+\.\d+)", out)]
    assert len(run_losses) == 4 and run_losses[0] > 0.1  # the seed that gets stuck is run 0
    assert min(run_losses) < 0.01
    assert number_after("final loss", out.split("chosen run:")[1]) == pytest.approx(min(run_losses), abs=1e-4)
    assert_png(tmp_path / "xor_restarts.png")
    # the stuck run's boundary beside the rescue, and the restarts' boundaries as a GIF
    assert_png(tmp_path / "xor_boundaries.png")
    from PIL import Image

    with Image.open(tmp_path / "xor_restarts.gif") as gif:
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB")))
    assert len(frames) == 12 and "(12 frames: 4 runs, epochs 0 to 2000 each)" in out
    assert not np.array_equal(frames[2], frames[-1])  # run 0 ends stuck, run 3 solved


def test_digits_mlp(tmp_path):
    out = run_example("digits_mlp.py", tmp_path)
    assert number_after("test accuracy:", out) > 0.85  # 5 epochs already do this; the full run ~0.98
    assert_png(tmp_path / "digits_mlp_history.png")


@pytest.mark.parametrize("name", ["mnist1d_cnn", "mnist1d_gru", "mnist1d_transformer"])
def test_mnist1d_examples(tmp_path, name):
    out = run_example(f"{name}.py", tmp_path)
    assert "MNIST-1D: " in out
    assert 0.15 < number_after("test accuracy:", out) <= 1  # 10 classes: chance is 0.1
    assert_png(tmp_path / f"{name}_history.png")


def test_attention_task_learns_to_reverse_and_draws_the_anti_diagonal(tmp_path):
    out = run_example("attention_task.py", tmp_path)
    assert number_after("test digit accuracy:", out) > 0.9  # chance is 0.1; 40 quick steps reach 1.0
    assert number_after("test sequence accuracy:", out) > 0.5
    shares = [float(s) for s in re.findall(r"head \d+ (\d\.\d+)", out.split("per head:")[1].split("the picture")[0])]
    assert len(shares) == 4 and max(shares) > 0.8, shares  # some head looks at the mirrored digit
    assert "anti-diagonal" in out
    assert_png(tmp_path / "attention_reverse.png")


def test_autoencoder(tmp_path):
    out = run_example("autoencoder.py", tmp_path)
    error = number_after("test reconstruction error (MSE):", out)
    baseline = number_after("the mean image scores", out)
    assert 0 < error < baseline
    assert_png(tmp_path / "autoencoder.png")


def test_vanishing_gradients(tmp_path):
    out = run_example("vanishing_gradients.py", tmp_path)
    ratios = {name.strip(): float(ratio) for name, ratio in
              re.findall(r"^\s+(.+?)\s+gradient norm first/last layer (\S+)", out, re.M)}
    assert set(ratios) == {"sigmoid", "ReLU + He init", "sigmoid + residual", "sigmoid + batch norm"}
    assert ratios.pop("sigmoid") < 1e-6
    assert all(r > 1e-3 for r in ratios.values()), ratios
    assert out.count("VANISHING") == 1
    assert_png(tmp_path / "vanishing_gradients.png")


def test_architecture_search(tmp_path):
    out = run_example("architecture_search.py", tmp_path)
    assert number_after("test accuracy", out) > 0.8
    with open(tmp_path / "architecture_search.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    accuracies = [float(r["val_accuracy"]) for r in rows]
    assert len(rows) == 2 and accuracies == sorted(accuracies, reverse=True)


def test_pinn(tmp_path):
    out = run_example("pinn.py", tmp_path)
    assert number_after("max error against the exact solution sin(pi x):", out) < 1e-2
    assert_png(tmp_path / "pinn.png")
