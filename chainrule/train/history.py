"""History: what happened in training, one record per epoch (losses, metrics, learning rate,
wall time, per-layer gradient norms), plus a summary of each random restart; saved as JSON."""

import json
from pathlib import Path


class History:
    """Per-epoch records: ``history.epochs[i]`` is a dict such as
    ``{"epoch": 1, "loss": 0.41, "accuracy": 0.88, "val_loss": 0.45, "lr": 0.1, "time": 0.8,
    "grad_norms": {"0": {"grad_norm": ...}, ...}}``; ``history["loss"]`` lists one key over epochs.
    """

    def __init__(self, epochs=None, runs=None, best_run=None, stopped=None):
        self.epochs = list(epochs or [])
        self.runs = list(runs or [])  # one summary per restart
        self.best_run = best_run
        self.stopped = stopped  # why training ended early, if it did

    def append(self, record: dict) -> None:
        self.epochs.append(record)

    def __getitem__(self, key: str) -> list:
        return [record.get(key) for record in self.epochs]

    def __len__(self):
        return len(self.epochs)

    @property
    def last(self) -> dict:
        return self.epochs[-1] if self.epochs else {}

    def to_dict(self) -> dict:
        return {"epochs": self.epochs, "runs": self.runs, "best_run": self.best_run, "stopped": self.stopped}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls(data.get("epochs"), data.get("runs"), data.get("best_run"), data.get("stopped"))

    def save(self, path) -> None:
        """Write the history as JSON (atomically)."""
        from chainrule.serialization import write_atomic

        write_atomic(path, json.dumps(self.to_dict(), indent=1).encode())

    @classmethod
    def load(cls, path) -> "History":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def __repr__(self):
        last = {k: v for k, v in self.last.items() if k != "grad_norms"}
        return f"History({len(self.epochs)} epochs, last={last})"
