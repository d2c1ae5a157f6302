"""chainrule.train: the fit loop, its History, callbacks, metrics and checkpoints."""

from chainrule.train import metrics
from chainrule.train.callbacks import (
    Callback,
    ConvergenceStop,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    ModelCheckpoint,
    ProgressBar,
    TerminateOnNaN,
)
from chainrule.train.checkpoint import load_checkpoint, save_checkpoint
from chainrule.train.history import History
from chainrule.train.loop import Trainer, fit
from chainrule.train.tensorboard import TensorBoard

__all__ = [
    "CSVLogger", "Callback", "ConvergenceStop", "EarlyStopping", "History", "JSONLogger",
    "ModelCheckpoint", "ProgressBar", "TensorBoard", "TerminateOnNaN", "Trainer", "fit", "load_checkpoint",
    "metrics", "save_checkpoint",
]  # fmt: skip
