"""History: what happened in training, one record per epoch (losses, metrics, learning rate,
wall time, per-layer gradient norms), plus a summary of each random restart; saved as JSON."""

import json

MAX_RECORDS = 10**7  # epochs or runs: far beyond any real training; more is damage


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__}"


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
    def from_dict(cls, data: dict, where: str = "History.from_dict") -> "History":
        """The History ``to_dict`` wrote; ValueError naming ``where`` and the field for anything
        else (a file's content is checked here before training relies on it)."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a dict with 'epochs', got {type(data).__name__}")
        unknown = sorted(set(data) - {"epochs", "runs", "best_run", "stopped"})
        if unknown:
            raise ValueError(f"{where}: unknown fields {unknown[:5]}")
        epochs = data.get("epochs") or []
        if not isinstance(epochs, list) or len(epochs) > MAX_RECORDS:
            raise ValueError(f"{where}: 'epochs' must be a list of at most {MAX_RECORDS} records, "
                             f"got {_shown(epochs)}")
        for i, record in enumerate(epochs):
            if not isinstance(record, dict) or not all(isinstance(k, str) for k in record):
                raise ValueError(f"{where}: epochs[{i}] must be a record (a dict), got {_shown(record)}")
            epoch = record.get("epoch", i + 1)
            if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= MAX_RECORDS:
                raise ValueError(f"{where}: epochs[{i}]['epoch'] must be an epoch number, got {_shown(epoch)}")
            for key in ("loss", "val_loss", "lr", "time"):
                value = record.get(key)
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    raise ValueError(f"{where}: epochs[{i}][{key!r}] must be a number, got {_shown(value)}")
        runs = data.get("runs") or []
        if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs) or len(runs) > MAX_RECORDS:
            raise ValueError(f"{where}: 'runs' must be a list of run summaries (dicts), got {_shown(runs)}")
        best_run = data.get("best_run")
        if best_run is not None and (isinstance(best_run, bool) or not isinstance(best_run, int)
                                     or not 0 <= best_run < max(len(runs), 1)):
            raise ValueError(f"{where}: 'best_run' must be the index of one of the {len(runs)} runs, "
                             f"got {_shown(best_run)}")
        stopped = data.get("stopped")
        if stopped is not None and not isinstance(stopped, str):
            raise ValueError(f"{where}: 'stopped' must be a reason (a str) or null, got {_shown(stopped)}")
        return cls(epochs, runs, best_run, stopped)

    def save(self, path) -> None:
        """Write the history as JSON (atomically)."""
        from chainrule.serialization import write_atomic

        write_atomic(path, json.dumps(self.to_dict(), indent=1).encode())

    @classmethod
    def load(cls, path) -> "History":
        """Read a history ``save`` wrote; ValueError naming the file for damaged content."""
        from chainrule.serialization import read_json

        return cls.from_dict(read_json(path, "History.load"), where=f"History.load: {path}")

    def __repr__(self):
        last = {k: v for k, v in self.last.items() if k != "grad_norms"}
        return f"History({len(self.epochs)} epochs, last={last})"
