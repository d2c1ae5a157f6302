"""Callbacks: code that runs at fixed points of the training loop (early stopping, checkpoints,
convergence and NaN guards, the progress bar, loggers). Each method receives the Trainer, whose
``stop_training`` a callback may set."""

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from chainrule import distributed


class Callback:
    """Base class: override any of the hooks below."""

    def on_train_begin(self, trainer) -> None:
        """Before the first epoch of each run (each random restart starts a run)."""

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        """Before an epoch's first batch."""

    def on_after_backward(self, trainer, logs: dict) -> None:
        """After a batch's backward pass, before clipping and the optimizer step."""

    def on_batch_end(self, trainer, batch: int, logs: dict) -> None:
        """After a batch's optimizer step; ``logs`` holds its loss."""

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        """After an epoch; ``logs`` is its History record."""

    def on_train_end(self, trainer) -> None:
        """After the last epoch of a run."""


def _resolve_mode(monitor, mode):
    if mode == "auto":
        return "max" if any(word in monitor for word in ("acc", "f1", "precision", "recall", "r2")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


def _monitored(logs, monitor, who):
    if monitor not in logs:
        available = sorted(k for k, v in logs.items() if isinstance(v, (int, float)))
        raise KeyError(f"{who}: no {monitor!r} in the epoch's record; available: {available}")
    return logs[monitor]


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs
    (the remedy for overfitting); optionally put back the best epoch's weights at the end."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", patience: int = 5,
                 min_delta: float = 0.0, restore_best_weights: bool = False):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        if min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta}")
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode)
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best_weights = restore_best_weights
        self.on_train_begin(None)

    def on_train_begin(self, trainer):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.wait = 0
        self.best_weights = None
        self.stopped_epoch = None

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer, epoch, logs):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: v.copy() for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            trainer.stop(
                f"early stopping at epoch {epoch}: {self.monitor} did not improve on "
                f"{self.best:.6g} (epoch {self.best_epoch}) for {self.wait} epochs"
            )

    def on_train_end(self, trainer):
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_weights": self.best_weights}

    def load_state_dict(self, state):
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.best_weights = state["best_weights"]


class ConvergenceStop(Callback):
    """Stop when ``monitor`` changes by less than ``tol`` (absolute) for ``patience`` epochs in a
    row: training has converged, more epochs will not change the answer."""

    def __init__(self, monitor: str = "loss", tol: float = 1e-4, patience: int = 3):
        if tol < 0 or patience < 1:
            raise ValueError(f"ConvergenceStop: need tol >= 0 and patience >= 1, got {tol}, {patience}")
        self.monitor, self.tol, self.patience = monitor, tol, patience
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
        self.previous = value
        if self.calm >= self.patience:
            trainer.stop(
                f"converged at epoch {epoch}: {self.monitor} changed by less than {self.tol} "
                f"for {self.patience} epochs"
            )

    def state_dict(self):
        return {"previous": self.previous, "calm": self.calm}

    def load_state_dict(self, state):
        self.previous, self.calm = state["previous"], state["calm"]


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
                if not np.isfinite(p.data).all():
                    culprit = f"weight {name!r} is not finite"
                    break
                if p.grad is not None and not np.isfinite(p.grad).all():
                    culprit = f"the gradient of {name!r} is not finite"
                    break
        if culprit:
            trainer.stop(f"terminated on NaN at epoch {trainer.epoch}, step {trainer.step}: {culprit}")


class ModelCheckpoint(Callback):
    """Write a resumable checkpoint (see ``fit(resume_from=...)``) after each epoch, or only when
    ``monitor`` improves with ``save_best_only``. ``path`` may contain ``{epoch}``."""

    def __init__(self, path, monitor: str = "val_loss", mode: str = "auto", save_best_only: bool = False):
        self.path = str(path)
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode)
        self.save_best_only = save_best_only
        self.best = None

    def on_train_begin(self, trainer):
        self.best = None

    def on_epoch_end(self, trainer, epoch, logs):
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            better = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
            if not better:
                return
            self.best = value
        trainer.save_checkpoint(self.path.format(epoch=epoch))


class ProgressBar(Callback):
    """Progress of training, by ``verbose``: 0 nothing; 1 a tqdm bar per epoch with the running
    loss, then the epoch's metrics, on a terminal only (silent when the output is not one);
    2 one summary line per epoch, on any output (logs, CI)."""

    def __init__(self, verbose: int = 1, stream=None):
        self.verbose = verbose
        self.stream = stream
        self._bar = None

    def _out(self):
        return self.stream if self.stream is not None else sys.stderr

    def on_epoch_begin(self, trainer, epoch):
        if self.verbose == 1 and self._out().isatty():
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=trainer.batches_per_epoch, desc=f"epoch {epoch}/{trainer.epochs}",
                             file=self._out(), leave=True, dynamic_ncols=True)

    def on_batch_end(self, trainer, batch, logs):
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)

    def on_epoch_end(self, trainer, epoch, logs):
        summary = format_record(logs)
        if self._bar is not None:
            self._bar.set_postfix_str(summary)
            self._bar.close()
            self._bar = None
        elif self.verbose >= 2:
            print(f"epoch {epoch}/{trainer.epochs}  {summary}", file=self._out(), flush=True)


def format_record(record: dict) -> str:
    """'loss 0.1234  accuracy 0.9500  val_loss ...' for an epoch record."""
    parts = []
    for key, value in record.items():
        if key in ("epoch", "grad_norms") or not isinstance(value, (int, float)):
            continue
        parts.append(f"{key} {value:.4g}" if key in ("lr", "time") else f"{key} {value:.4f}")
    return "  ".join(parts)


class CSVLogger(Callback):
    """Append one row per epoch (scalar entries of the record) to a CSV file."""

    def __init__(self, path):
        self.path = Path(path)

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
    """Append one JSON object per epoch (JSON Lines) to a file."""

    def __init__(self, path):
        self.path = Path(path)

    def on_epoch_end(self, trainer, epoch, logs):
        if not distributed.is_main():  # one file, written by rank 0 under MPI
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(logs) + "\n")
