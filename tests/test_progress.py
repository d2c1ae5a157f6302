"""The progress of a fit as a person sees it with the default verbosity: in a terminal of 80 (and
120) columns, a pseudo-terminal, every metric is visible and no line is wider than the terminal;
in a pipe, one line per epoch."""

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from chainrule.train.callbacks import ProgressBar, wrap_record

pytest.importorskip("tqdm")

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 3
# A fit whose epoch summary is longer than 80 columns: two metrics, each on train and validation.
CHILD = f"""
import numpy as np, chainrule as cr
from chainrule import nn, optim
from chainrule.train import fit
cr.manual_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(48, 3)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int64)
model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (x, y), val_data=(x[:16], y[:16]),
    epochs={EPOCHS}, batch_size=8, metrics=("accuracy", "f1"))
"""
METRICS = ("loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr", "time")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def child_env():
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # the terminal's size only
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])  # this checkout's chainrule
    return env


def run_in_terminal(columns: int) -> str:
    """The fit's output as a terminal of ``columns`` columns receives it."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=slave, stdout=slave, stderr=slave,
                             env=child_env(), close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not data:
                break
            chunks.append(data)
        elif child.poll() is not None:
            break
    os.close(master)
    assert child.wait(timeout=30) == 0, b"".join(chunks).decode(errors="replace")
    return ANSI.sub("", b"".join(chunks).decode())


@pytest.mark.parametrize("columns", [80, 120])
def test_a_terminal_shows_every_metric_of_every_epoch_within_its_width(columns):
    output = run_in_terminal(columns)
    segments = [s for line in output.split("\n") for s in line.split("\r")]
    assert max(len(s) for s in segments) <= columns, max(segments, key=len)
    for epoch in range(1, EPOCHS + 1):
        assert f"epoch {epoch}/{EPOCHS}" in output
    # the metrics of the last epoch, each as 'name value' on the lines after its bar
    after_last_bar = output[output.rindex(f"epoch {EPOCHS}/{EPOCHS}"):]
    for name in METRICS:
        assert re.search(rf"(^|\s){name} [0-9]", after_last_bar), (name, after_last_bar)
    assert "100%" in output  # a bar, not the pipe's lines


def test_a_pipe_gets_one_line_per_epoch_with_every_metric():
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=child_env(),
                            timeout=120, check=True)
    lines = result.stderr.splitlines()
    assert [line.split("  ")[0] for line in lines] == [f"epoch {e}/{EPOCHS}" for e in range(1, EPOCHS + 1)]
    for line in lines:
        assert [pair.split()[0] for pair in line.split("  ")[1:]] == list(METRICS)
    assert "\r" not in result.stderr and "%" not in result.stderr


def test_wrapping_never_splits_a_pair_and_keeps_them_all():
    summary = "  ".join(f"{name} 0.1234" for name in METRICS)
    for width in (24, 40, 79):
        lines = wrap_record(summary, width, indent="  ")
        assert all(len(line) <= width for line in lines)
        assert [p for line in lines for p in line.strip().split("  ")] == summary.split("  ")
    assert wrap_record("", 80) == []


def test_verbose_two_prints_lines_even_on_a_terminal_and_zero_nothing():
    class Terminal:
        def __init__(self):
            self.text = ""

        def isatty(self):
            return True

        def write(self, text):
            self.text += text

        def flush(self):
            pass

    assert not ProgressBar(2, stream=Terminal())._wants_bar() and ProgressBar(1, stream=Terminal())._wants_bar()
    assert not ProgressBar(0, stream=Terminal())._wants_bar()
