"""Callbacks: code that runs at fixed points of the training loop (early stopping, checkpoints,
convergence and NaN guards, the progress bar, loggers). Each method receives the Trainer, whose
``stop_training`` a callback may set."""

import csv
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from chainrule import distributed
from chainrule._arguments import bool_arg, int_arg, number_arg
from chainrule.train.validation import field


class Callback:
    """Base class: override any of the hooks below. A callback that keeps state across epochs
    (counters, best values) gives it ``state_dict()`` and ``load_state_dict(state)``: checkpoints
    then carry it, and a resumed run continues it exactly."""

    def on_train_begin(self, trainer) -> None:
        """Before the first epoch of each run (each random restart starts a run). On a run resumed
        from a checkpoint (``trainer.resumed`` is True) the state saved by ``state_dict()`` is
        loaded right after this hook, so a reset here does not undo it."""

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        """Before an epoch's first batch."""

    def on_after_backward(self, trainer, logs: dict) -> None:
        """After a batch's backward pass, before clipping and the optimizer step."""

    def on_batch_end(self, trainer, batch: int, logs: dict) -> None:
        """After a batch's optimizer step; ``logs`` holds its loss."""

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        """After an epoch; ``logs`` is its History record. The epoch's checkpoint is written after
        every callback has seen it, so it holds their decisions (a stop included)."""

    def on_train_end(self, trainer) -> None:
        """After the last epoch of a run."""


HOOKS = ("on_train_begin", "on_epoch_begin", "on_after_backward", "on_batch_end", "on_epoch_end",
         "on_train_end")


def _resolve_mode(monitor, mode, who):
    if not isinstance(monitor, str):
        raise TypeError(f"{who}: monitor must be the name of a record entry (a str), got {monitor!r}")
    if mode == "auto":
        return "max" if any(word in monitor for word in ("acc", "f1", "precision", "recall", "r2")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"{who}: mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


def _monitored(logs, monitor, who):
    if monitor not in logs:
        available = sorted(k for k, v in logs.items() if isinstance(v, (int, float)))
        raise KeyError(f"{who}: no {monitor!r} in the epoch's record; available: {available}")
    return logs[monitor]


def _better(value, best, mode, min_delta=0.0):
    """Whether ``value`` improves on ``best`` (None: nothing yet) by more than ``min_delta``; NaN
    never improves."""
    if value != value:
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _is_count(value, minimum=0):
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= 2**53


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_best(value):
    return value is None or (_is_number(value) and value == value)  # a best value is never NaN


class EarlyStopping(Callback):
    """Stop once ``monitor`` has gone ``patience`` epochs without improving by more than
    ``min_delta`` (the remedy for overfitting), as Keras does: with ``patience=5`` and the best
    value at epoch 3, training stops at the end of epoch 8. With ``restore_best_weights`` (the
    default) the model gets the best epoch's weights back when training ends, whether it stopped
    early or ran all its epochs; ``restore_best_weights=False`` keeps the last epoch's."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", patience: int = 5,
                 min_delta: float = 0.0, restore_best_weights: bool = True):
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode, "EarlyStopping")
        self.patience = int_arg(patience, "patience", "EarlyStopping", minimum=0)
        self.min_delta = number_arg(min_delta, "min_delta", "EarlyStopping", low=0)
        self.restore_best_weights = bool_arg(restore_best_weights, "restore_best_weights", "EarlyStopping")
        self.on_train_begin(None)

    def on_train_begin(self, trainer):
        self.best = None
        self.best_epoch = None
        self.wait = 0
        self.best_weights = None
        self.stopped_epoch = None

    def on_epoch_end(self, trainer, epoch, logs):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if _better(value, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = float(value), epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            best = "nothing" if self.best is None else f"{self.best:.6g} (epoch {self.best_epoch})"
            trainer.stop(
                f"early stopping at epoch {epoch}: {self.monitor} did not improve on "
                f"{best} for {self.wait} epochs"
            )

    def on_train_end(self, trainer):
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        where = "EarlyStopping.load_state_dict"
        best = field(where, state, "best", _is_best, "a number or None")
        best_epoch = field(where, state, "best_epoch", lambda v: v is None or _is_count(v, 1),
                            "an epoch number or None")
        wait = field(where, state, "wait", _is_count, "a count of epochs")
        stopped = field(where, state, "stopped_epoch", lambda v: v is None or _is_count(v, 1),
                         "an epoch number or None")
        weights = field(where, state, "best_weights", lambda v: v is None or (
            isinstance(v, dict) and all(isinstance(a, np.ndarray) for a in v.values())), "a dict of arrays or None")
        self.best, self.best_epoch, self.wait, self.stopped_epoch = best, best_epoch, wait, stopped
        self.best_weights = weights


class ConvergenceStop(Callback):
    """Stop when ``monitor`` changes by less than ``tol`` (absolute) for ``patience`` epochs in a
    row: training has converged, more epochs will not change the answer."""

    def __init__(self, monitor: str = "loss", tol: float = 1e-4, patience: int = 3):
        if not isinstance(monitor, str):
            raise TypeError(f"ConvergenceStop: monitor must be the name of a record entry (a str), got {monitor!r}")
        self.monitor = monitor
        self.tol = number_arg(tol, "tol", "ConvergenceStop", low=0)
        self.patience = int_arg(patience, "patience", "ConvergenceStop", minimum=1)
        self.on_train_begin(None)

    def on_train_begin(self, trainer):
        self.previous = None
        self.calm = 0

    def on_epoch_end(self, trainer, epoch, logs):
        value = _monitored(logs, self.monitor, "ConvergenceStop")
        if self.previous is not None and abs(value - self.previous) < self.tol:
            self.calm += 1
        else:
            self.calm = 0
        self.previous = float(value)
        if self.calm >= self.patience:
            trainer.stop(
                f"converged at epoch {epoch}: {self.monitor} changed by less than {self.tol} "
                f"for {self.patience} epochs"
            )

    def state_dict(self) -> dict:
        return {"previous": self.previous, "calm": self.calm}

    def load_state_dict(self, state: dict) -> None:
        previous = field("ConvergenceStop.load_state_dict", state, "previous", lambda v: v is None or _is_number(v),
                          "a number or None")
        self.calm = field("ConvergenceStop.load_state_dict", state, "calm", _is_count, "a count of epochs")
        self.previous = previous


class TerminateOnNaN(Callback):
    """Stop as soon as the loss, a gradient or a weight is NaN or infinite, before the optimizer
    can write it into the weights; the message names the epoch, the step and the tensor. Earlier
    checkpoints are left intact."""

    def on_after_backward(self, trainer, logs):
        culprit = None
        if not math.isfinite(logs["loss"]):
            culprit = f"the loss is {logs['loss']}"
        else:
            for name, p in trainer.model.named_parameters():
                if not np.isfinite(p._data).all():
                    culprit = f"weight {name!r} is not finite"
                    break
                if p._grad is not None and not np.isfinite(p._grad._data).all():
                    culprit = f"the gradient of {name!r} is not finite"
                    break
        if culprit:
            trainer.stop(f"terminated on NaN at epoch {trainer.epoch}, step {trainer.step}: {culprit}")


class ModelCheckpoint(Callback):
    """Write a resumable checkpoint (see ``fit(resume_from=...)``) after each epoch, or only when
    ``monitor`` improves with ``save_best_only``. ``path`` may contain ``{epoch}``. The file is
    written once every callback has seen the epoch, so it holds their state and decisions."""

    def __init__(self, path, monitor: str = "val_loss", mode: str = "auto", save_best_only: bool = False):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"ModelCheckpoint: path must be a str or a path, got {path!r}")
        self.path = str(path)
        try:
            self.path.format(epoch=1)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(f"ModelCheckpoint: path may hold {{epoch}} and no other field, got {self.path!r} "
                             f"({type(err).__name__}: {err})") from None
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode, "ModelCheckpoint")
        self.save_best_only = bool_arg(save_best_only, "save_best_only", "ModelCheckpoint")
        self.best = None

    def on_train_begin(self, trainer):
        self.best = None

    def on_epoch_end(self, trainer, epoch, logs):
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not _better(value, self.best, self.mode):
                return
            self.best = float(value)
        trainer.request_checkpoint(self.path.format(epoch=epoch))

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = field("ModelCheckpoint.load_state_dict", state, "best", _is_best, "a number or None")


class ProgressBar(Callback):
    """Progress of training, by ``verbose``:

    - 0: nothing;
    - 1 (the default): on a terminal or in a notebook, a bar per epoch with the running loss (tqdm,
      ``tqdm.auto`` in notebooks), then the epoch's metrics on the lines under it, wrapped to the
      terminal's width so that none is cut off; on any other output (a pipe, a file, a CI log) one
      line per epoch;
    - 2: one line per epoch on any output.
    """

    def __init__(self, verbose: int = 1, stream=None):
        self.verbose = int_arg(verbose, "verbose", "ProgressBar", minimum=0)
        self.stream = stream
        self._bar = None

    def _out(self):
        return self.stream if self.stream is not None else sys.stderr

    def _wants_bar(self) -> bool:
        if self.verbose != 1:
            return False
        out = self._out()
        return bool(getattr(out, "isatty", lambda: False)()) or (out in (sys.stderr, sys.stdout) and in_notebook())

    def on_epoch_begin(self, trainer, epoch):
        if not self._wants_bar():
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return  # no tqdm: the epoch's line is printed at its end instead
        self._bar = tqdm(total=trainer.batches_per_epoch, desc=f"epoch {epoch}/{trainer.epochs}",
                         file=self._out(), leave=True, dynamic_ncols=True)

    def on_batch_end(self, trainer, batch, logs):
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)

    def on_epoch_end(self, trainer, epoch, logs):
        summary = format_record(logs)
        if self._bar is not None:
            # The bar keeps its running loss; the metrics go under it, as many lines as the width
            # needs: a postfix on the bar line is cut off at the edge of the terminal.
            self._bar.close()
            self._bar = None
            lines = wrap_record(summary, terminal_width(self._out()) - 1, indent="  ")
            print("\n".join(lines), file=self._out(), flush=True)
        elif self.verbose:
            print(f"epoch {epoch}/{trainer.epochs}  {summary}", file=self._out(), flush=True)

    def on_train_end(self, trainer):
        if self._bar is not None:  # a run stopped inside an epoch (TerminateOnNaN)
            self._bar.close()
            self._bar = None


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where output is no terminal, yet a bar shows)."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def terminal_width(stream, default: int = 80) -> int:
    """The width in columns of the terminal ``stream`` writes to; ``default`` when it is none."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or default
    except (AttributeError, OSError, ValueError):
        return default


def wrap_record(summary: str, width: int, indent: str = "") -> list:
    """``format_record``'s 'name value  name value' split into lines of at most ``width``
    characters, never inside a 'name value' pair (a pair longer than a line gets a line of its own).

    >>> wrap_record("loss 0.5000  accuracy 0.7500  val_loss 0.6000", 30, indent="  ")
    ['  loss 0.5000  accuracy 0.7500', '  val_loss 0.6000']
    """
    lines, line = [], ""
    for pair in summary.split("  "):
        candidate = f"{line}  {pair}" if line else indent + pair
        if line and len(candidate) > width:
            lines.append(line)
            candidate = indent + pair
        line = candidate
    return [*lines, line] if line else lines


def format_record(record: dict) -> str:
    """'loss 0.1234  accuracy 0.9500  val_loss ...' for an epoch record."""
    parts = []
    for key, value in record.items():
        if key in ("epoch", "grad_norms") or not isinstance(value, (int, float)):
            continue
        parts.append(f"{key} {value:.4g}" if key in ("lr", "time") else f"{key} {value:.4f}")
    return "  ".join(parts)


def _log_path(who, path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who}: path must be a str or a path, got {path!r}")
    return Path(path)


def _drop_rows_after(path: Path, epoch: int, epoch_of) -> None:
    """On a resumed run: remove the rows at the end of a log that record epochs after ``epoch``
    (written after the checkpoint the run resumed from, so about to be run again) and a row cut
    off by a kill; the rest of the file is kept as it is."""
    if not distributed.is_main() or not path.is_file():
        return
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    keep = len(lines)
    while keep and (not lines[keep - 1].endswith("\n") or _epoch_or_none(epoch_of, lines[keep - 1]) > epoch):
        keep -= 1
    if keep < len(lines):
        from chainrule.serialization import write_atomic

        write_atomic(path, "".join(lines[:keep]).encode())


def _epoch_or_none(epoch_of, line):
    try:
        return int(epoch_of(line))
    except (ValueError, TypeError, KeyError, AttributeError):
        return -1  # a header or a row without an epoch: not one of this run's later epochs


class CSVLogger(Callback):
    """Append one row per epoch (scalar entries of the record) to a CSV file. A resumed run first
    removes the rows of epochs after its checkpoint, so no epoch is logged twice."""

    def __init__(self, path):
        self.path = _log_path(type(self).__name__, path)

    def on_train_begin(self, trainer):
        if getattr(trainer, "resumed", False):
            _drop_rows_after(self.path, trainer.epoch, lambda line: line.split(",", 1)[0])

    def on_epoch_end(self, trainer, epoch, logs):
        if not distributed.is_main():  # one file, written by rank 0 under MPI
            return
        row = {k: v for k, v in logs.items() if isinstance(v, (int, float, str))}
        new = not self.path.exists() or self.path.stat().st_size == 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)


class JSONLogger(Callback):
    """Append one JSON object per epoch (JSON Lines) to a file. A resumed run first removes the
    lines of epochs after its checkpoint, so no epoch is logged twice."""

    def __init__(self, path):
        self.path = _log_path(type(self).__name__, path)

    def on_train_begin(self, trainer):
        if getattr(trainer, "resumed", False):
            _drop_rows_after(self.path, trainer.epoch, lambda line: json.loads(line)["epoch"])

    def on_epoch_end(self, trainer, epoch, logs):
        if not distributed.is_main():  # one file, written by rank 0 under MPI
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(logs) + "\n")
