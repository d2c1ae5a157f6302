"""TensorBoard: a callback that writes what ``fit`` measures, epoch by epoch, as TensorBoard event
files (through tensorboardX, the ``tensorboard`` extra), so that ``tensorboard --logdir DIR`` shows
the losses, metrics, learning rate, per-layer gradient statistics and histograms of every weight
and gradient of a run while it trains."""

import os
import time
from pathlib import Path

import numpy as np

from chainrule import distributed
from chainrule._arguments import int_arg
from chainrule.train.callbacks import Callback

# History's scalars that belong to the epoch, not to the training or validation data.
EPOCH_SCALARS = ("lr", "time")
HISTOGRAM_BUCKETS = 30


def scalar_tags(record: dict) -> list:
    """``(tag, value)`` for every number of an epoch's History record, named as TensorBoard groups
    them: ``loss`` -> ``loss/train``, ``val_loss`` -> ``loss/val`` (the same for every metric),
    ``lr`` and ``time`` as they are, ``grad_norms`` -> ``grad_norm/LAYER``, ``update_ratio/LAYER`` ...

    >>> scalar_tags({"epoch": 3, "loss": 0.5, "val_accuracy": 0.75, "lr": 0.1,
    ...              "grad_norms": {"0": {"grad_norm": 2.0, "update_ratio": None}}})
    [('loss/train', 0.5), ('accuracy/val', 0.75), ('lr', 0.1), ('grad_norm/0', 2.0)]
    """
    tags = []
    for key, value in record.items():
        if key == "grad_norms" and isinstance(value, dict):
            tags.extend((f"{statistic}/{layer}", number) for layer, stats in value.items() if isinstance(stats, dict)
                        for statistic, number in stats.items() if _is_number(number))
        elif key == "epoch" or not _is_number(value):
            continue
        elif key in EPOCH_SCALARS:
            tags.append((key, value))
        elif key.startswith("val_"):
            tags.append((f"{key[len('val_'):]}/val", value))
        else:
            tags.append((f"{key}/train", value))
    return tags


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


class TensorBoard(Callback):
    """Log a run for TensorBoard in ``log_dir``, one step per epoch (step = epoch number).

    Every epoch: the scalars of its History record (``loss/train``, ``loss/val``,
    ``accuracy/train``, ``accuracy/val`` and every other metric; ``lr``; ``time``) and the per-layer
    gradient statistics ``fit`` measures (``grad_norm/LAYER``, ``update_ratio/LAYER``,
    ``mean_abs_grad/LAYER``, ``dead_relu/RELU``: means over the epoch's sampled batches). Every
    ``histogram_every`` epochs (0: never): a histogram per named parameter of its weights
    (``weights/NAME``) and of its gradient on the epoch's last batch, after clipping
    (``gradients/NAME``); the initial weights are step 0. Non-finite entries are left out of a
    histogram. The events are flushed after every epoch, so a killed run loses nothing it finished,
    and the file is closed when training ends.

    A run resumed from a checkpoint (``fit(resume_from=...)``) appends to the same ``log_dir``
    from the epoch after the checkpoint, and marks the epochs a killed run logged after it as
    purged, so TensorBoard shows one unbroken curve. Each further run of the same callback (the
    random restarts of ``fit(restarts=K)``) logs to its own folder ``log_dir/restart-K``, which
    TensorBoard shows as a run of its own. Under MPI, rank 0 writes.

    Needs tensorboardX: ``pip install 'chainrule[tensorboard]'``. Then ``tensorboard --logdir DIR``
    (``pip install tensorboard``) with DIR ``log_dir`` or a folder above several runs.
    """

    def __init__(self, log_dir, histogram_every: int = 1):
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"TensorBoard: log_dir must be a folder path (a str or os.PathLike), got {log_dir!r}")
        if not str(log_dir).strip():
            raise ValueError(f"TensorBoard: log_dir must name a folder, got {log_dir!r}")
        self.log_dir = Path(log_dir)
        if self.log_dir.exists() and not self.log_dir.is_dir():
            raise ValueError(f"TensorBoard: log_dir {str(log_dir)!r} is a file; expected a folder (it is made if "
                             "missing)")
        self.histogram_every = int_arg(histogram_every, "histogram_every", "TensorBoard", minimum=0)
        self._writer_class = _summary_writer_class()  # now, not at the first epoch: a missing extra fails fast
        self._writer = None
        self._runs = 0

    @property
    def run_dir(self) -> Path:
        """The folder the current (or last) run writes to: ``log_dir``, or ``log_dir/restart-K``."""
        return self.log_dir if self._runs <= 1 else self.log_dir / f"restart-{self._runs}"

    def on_train_begin(self, trainer) -> None:
        if not distributed.is_main():
            return
        self._close()  # a run that raised leaves its writer open; close it before starting the next
        resumed = getattr(trainer, "resumed", False)
        if not resumed:
            self._runs += 1
        elif self._runs == 0:  # resumed by a new process: the first run's folder
            self._runs = 1
        # purge_step: TensorBoard hides the events at or after it that earlier files of this folder
        # hold (the epochs a killed run logged after its last checkpoint, which run again now).
        purge = trainer.epoch + 1 if resumed else None
        # tensorboardX names a file by the second and the host, and would overwrite the file of a run
        # started in the same second (a quick resume): nanoseconds make the name unique and keep
        # the files in the order they were written, the order TensorBoard reads them in.
        self._writer = self._writer_class(logdir=str(self.run_dir), purge_step=purge, flush_secs=30,
                                          filename_suffix=f".{time.time_ns()}")
        if not resumed and self.histogram_every:
            self._histograms(trainer.model, 0, gradients=False)
            self._writer.flush()

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        if self._writer is None:
            return
        for tag, value in scalar_tags(logs):
            self._writer.add_scalar(tag, float(value), epoch)
        if self.histogram_every and epoch % self.histogram_every == 0:
            self._histograms(trainer.model, epoch, gradients=True)
        self._writer.flush()

    def on_train_end(self, trainer) -> None:
        self._close()

    def _histograms(self, model, step, gradients):
        for name, parameter in model.named_parameters():
            self._histogram(f"weights/{name}", parameter._data, step)
            if gradients and parameter._grad is not None:
                self._histogram(f"gradients/{name}", parameter._grad._data, step)

    def _histogram(self, tag, values, step):
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        finite = values[np.isfinite(values)]
        if finite.size:  # a histogram needs a finite range; a diverged tensor shows as a gap
            # 30 equal buckets over the range, as TensorFlow 2's histograms: tensorboardX's default
            # of TensorFlow 1's ~1500 fixed buckets costs about 10 KB a histogram however small the tensor
            self._writer.add_histogram(tag, finite, step, bins=HISTOGRAM_BUCKETS)

    def _close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __repr__(self):
        return f"TensorBoard(log_dir={str(self.log_dir)!r}, histogram_every={self.histogram_every})"


def _summary_writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("TensorBoard needs the tensorboardX package, which chainrule's 'tensorboard' extra "
                          "installs: pip install 'chainrule[tensorboard]' (or pip install tensorboardX)") from None
    return SummaryWriter

