"""The playground's settings: what the page may choose (``options()``), the defaults, the presets
that show the classic failures and their fixes, and ``check_config``, which fills the defaults in
and refuses a bad field with a message naming it, what it received and what it expects.

No web framework here: this module and ``session`` are plain Python, tested without a server."""

import csv
import io
import math

import numpy as np

from chainrule.models import ACTIVATIONS, INITS

DATASETS = ("xor", "moons", "circles", "spirals", "csv")
LOSSES = ("cross_entropy", "mse")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("constant", "cosine", "step")

# Per-session memory and time bounds: the largest network is 32 x 64 x 64 weights (x restarts),
# the data 2000 points, the boundary grid 100 x 100, the history one point per epoch.
LIMITS = {
    "max_layers": 32, "max_width": 64, "max_points": 2000, "max_csv_bytes": 200_000, "max_classes": 10,
    "max_restarts": 8, "max_epochs": 20_000, "max_resolution": 100, "min_resolution": 10, "max_batch_size": 2000,
}  # fmt: skip

DEFAULTS = {
    "dataset": "moons", "csv_text": "", "noise": 0.1, "n_points": 200, "test_fraction": 0.25,
    "hidden": [8, 8], "activation": "tanh", "init": "default", "dropout": 0.0, "batch_norm": False,
    "residual": False, "loss": "cross_entropy", "optimizer": "sgd", "lr": 0.1, "momentum": 0.0,
    "schedule": "constant", "batch_size": 32, "seed": 0, "restarts": 1, "epochs": 2000, "resolution": 50,
}  # fmt: skip

# The vanishing gradient: 20 sigmoid layers; then the three buttons that fix it, one at a time.
_STUCK = {**DEFAULTS, "dataset": "moons", "hidden": [8] * 20, "activation": "sigmoid", "init": "default",
          "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "epochs": 300}
# XOR 2-2-1 as `chainrule explain` builds it; seed 2 ends in a true local minimum (seed 0 only
# sits on a long plateau, then solves XOR).
_LOCAL = {**DEFAULTS, "dataset": "xor", "n_points": 4, "noise": 0.0, "test_fraction": 0.0, "hidden": [2],
          "activation": "sigmoid", "init": "default", "loss": "mse", "optimizer": "sgd", "lr": 0.5,
          "momentum": 0.0, "batch_size": 4, "seed": 2, "epochs": 5000}
PRESETS = {
    "stuck": _STUCK,
    # 20 narrow ReLU layers at lr 0.1 die (every unit inactive); 0.02 trains them.
    "fix_relu_he": {**_STUCK, "activation": "relu", "init": "he", "lr": 0.02},
    "fix_residual": {**_STUCK, "residual": True},
    "fix_batch_norm": {**_STUCK, "batch_norm": True},
    "local_minimum": _LOCAL,
    "fix_restarts": {**_LOCAL, "restarts": 4},
}
PRESET_NOTES = {
    "stuck": "20 sigmoid layers: the gradient shrinks by a factor of at most 1/4 at every sigmoid on its way back, "
             "so the first layers get almost none of it (see the gradient norms: the verdict says vanishing) and "
             "the boundary barely moves. Fix it with ReLU + He init, residual connections or batch norm.",
    "fix_relu_he": "ReLU passes the gradient unchanged where a unit is active, and He init keeps the signal's scale "
                   "from layer to layer: the same 20 layers now learn (with a smaller learning rate, 0.02: at 0.1 "
                   "so deep and narrow a ReLU stack can die, every unit inactive).",
    "fix_residual": "Residual connections (x + f(x)) give the gradient a path around every sigmoid: the same 20 "
                    "sigmoid layers now learn.",
    "fix_batch_norm": "Batch norm re-centres every layer's input to the sigmoid's steep middle, where its slope is "
                      "largest: the same 20 sigmoid layers now learn.",
    "local_minimum": "XOR with 2 hidden sigmoid units from seed 2: training ends with the loss stuck at 0.25 and two "
                     "points predicted 0.5 - a local minimum, where no small step lowers the loss. Step mode shows "
                     "the numbers of `chainrule explain --seed 2`. Fix: restarts (several initialisations, keep the "
                     "best) or more hidden units.",
    "fix_restarts": "4 restarts from seeds 2 to 5, trained side by side; the page shows the best. Seed 2 stays "
                    "stuck, others solve XOR.",
}


class ConfigError(ValueError):
    """A bad setting: ``field`` names it (None when the message itself is malformed)."""

    def __init__(self, field, message: str):
        super().__init__(message)
        self.field = field


def options() -> dict:
    """The answer of GET /api/options: every choice, the limits, the defaults and the presets."""
    return {
        "datasets": list(DATASETS), "activations": list(ACTIVATIONS), "inits": list(INITS), "losses": list(LOSSES),
        "optimizers": list(OPTIMIZERS), "schedules": list(SCHEDULES), "limits": dict(LIMITS),
        "defaults": _copy(DEFAULTS), "presets": {k: _copy(v) for k, v in PRESETS.items()},
        "preset_notes": dict(PRESET_NOTES),
    }  # fmt: skip


def _copy(config):
    return {k: list(v) if isinstance(v, list) else v for k, v in config.items()}


def _shown(value) -> str:
    text = repr(value) if isinstance(value, str) else str(value).replace("True", "true").replace("False", "false")
    return text if len(text) <= 60 else text[:57] + "..."


def _number(config, name, expected, low=None, high=None, low_open=False, high_open=False, integer=False):
    value = config[name]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise ConfigError(name, f"{name} must be {expected}, got {_shown(value)}")
    return int(value) if integer else float(value)


def _choice(config, name, choices):
    value = config[name]
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(name, f"{name} must be one of {', '.join(choices)}; got {_shown(value)}")
    return value


def _flag(config, name):
    value = config[name]
    if not isinstance(value, bool):
        raise ConfigError(name, f"{name} must be true or false, got {_shown(value)}")
    return value


def check_config(config) -> dict:
    """The full config: ``config``'s fields checked, the missing ones filled from ``DEFAULTS``.
    Raises ConfigError naming the first bad field."""
    if not isinstance(config, dict):
        raise ConfigError(None, f"config must be a JSON object, got {_shown(config)}")
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ConfigError(unknown[0], f"unknown setting {unknown[0]!r}; expected some of {', '.join(DEFAULTS)}")
    c = {**_copy(DEFAULTS), **config}
    L = LIMITS
    out = {"dataset": _choice(c, "dataset", DATASETS)}
    if not isinstance(c["csv_text"], str):
        raise ConfigError("csv_text", f"csv_text must be the text of a CSV file, got {_shown(c['csv_text'])}")
    if len(c["csv_text"].encode("utf-8", "replace")) > L["max_csv_bytes"]:
        raise ConfigError("csv_text", f"csv_text must be at most {L['max_csv_bytes']} bytes, got "
                                      f"{len(c['csv_text'].encode('utf-8', 'replace'))}")
    if out["dataset"] == "csv" and not c["csv_text"].strip():
        raise ConfigError("csv_text", "csv_text must hold the CSV file's rows (x1,x2,label) when dataset is csv, "
                                      "got an empty text")
    out["csv_text"] = c["csv_text"] if out["dataset"] == "csv" else ""
    out["noise"] = _number(c, "noise", "a number from 0 to 1", 0, 1)
    out["n_points"] = _number(c, "n_points", f"a whole number from 4 to {L['max_points']}", 4, L["max_points"],
                              integer=True)
    out["test_fraction"] = _number(c, "test_fraction", "a number from 0 to 0.9", 0, 0.9)
    hidden = c["hidden"]
    if not isinstance(hidden, list) or len(hidden) > L["max_layers"]:
        raise ConfigError("hidden", f"hidden must be a list of at most {L['max_layers']} layer widths such as "
                                    f"[8, 8], got {_shown(hidden)}")
    for i, width in enumerate(hidden):
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not float(width).is_integer() \
                or not 1 <= width <= L["max_width"]:
            raise ConfigError("hidden", f"hidden layer {i + 1} must have a whole number of units from 1 to "
                                        f"{L['max_width']}, got {_shown(width)}")
    out["hidden"] = [int(w) for w in hidden]
    out["activation"] = _choice(c, "activation", ACTIVATIONS)
    out["init"] = _choice(c, "init", INITS)
    out["dropout"] = _number(c, "dropout", "a number from 0 to 0.9", 0, 0.9)
    out["batch_norm"] = _flag(c, "batch_norm")
    out["residual"] = _flag(c, "residual")
    out["loss"] = _choice(c, "loss", LOSSES)
    out["optimizer"] = _choice(c, "optimizer", OPTIMIZERS)
    out["lr"] = _number(c, "lr", "a positive number up to 10", 0, 10, low_open=True)
    out["momentum"] = _number(c, "momentum", "a number from 0 up to (not including) 1", 0, 1, high_open=True)
    out["schedule"] = _choice(c, "schedule", SCHEDULES)
    out["batch_size"] = _number(c, "batch_size", f"a whole number from 1 to {L['max_batch_size']}", 1,
                                L["max_batch_size"], integer=True)
    out["seed"] = _number(c, "seed", "a whole number from 0 to 2147483647", 0, 2**31 - 1, integer=True)
    out["restarts"] = _number(c, "restarts", f"a whole number from 1 to {L['max_restarts']}", 1,
                              L["max_restarts"], integer=True)
    out["epochs"] = _number(c, "epochs", f"a whole number from 1 to {L['max_epochs']}", 1, L["max_epochs"],
                            integer=True)
    out["resolution"] = _number(c, "resolution", f"a whole number from {L['min_resolution']} to "
                                f"{L['max_resolution']}", L["min_resolution"], L["max_resolution"], integer=True)
    return out


def read_csv(text: str):
    """(X, labels, class names) of a CSV text of rows x1,x2,label (a first row that is not numbers
    is a header). Labels may be any text; classes are sorted. Raises ConfigError("csv_text", ...)
    naming the line at fault."""
    rows = [(i + 1, row) for i, row in enumerate(csv.reader(io.StringIO(text))) if any(c.strip() for c in row)]
    if rows and not _finite(rows[0][1][:1]):
        rows = rows[1:]  # a header row
    if len(rows) < 4:
        raise ConfigError("csv_text", f"csv_text must hold at least 4 rows x1,x2,label, got {len(rows)}")
    if len(rows) > LIMITS["max_points"]:
        raise ConfigError("csv_text", f"csv_text must hold at most {LIMITS['max_points']} rows, got {len(rows)}")
    points, labels = [], []
    for line, row in rows:
        if len(row) != 3:
            raise ConfigError("csv_text", f"csv_text line {line} must be x1,x2,label (3 values), got {len(row)} "
                                          f"values: {_shown(','.join(row))}")
        if not _finite(row[:2]):
            raise ConfigError("csv_text", f"csv_text line {line}: x1 and x2 must be finite numbers, got "
                                          f"{_shown(','.join(row[:2]))}")
        points.append([float(row[0]), float(row[1])])
        labels.append(row[2].strip())
    classes = sorted(set(labels), key=lambda s: (not _finite([s]), float(s) if _finite([s]) else 0, s))
    if not 2 <= len(classes) <= LIMITS["max_classes"]:
        raise ConfigError("csv_text", f"csv_text must have 2 to {LIMITS['max_classes']} distinct labels, got "
                                      f"{len(classes)}")
    index = {name: k for k, name in enumerate(classes)}
    return (np.array(points, dtype=np.float32), np.array([index[s] for s in labels], dtype=np.int64),
            tuple(classes))


def _finite(cells) -> bool:
    try:
        return all(math.isfinite(float(c)) for c in cells)
    except ValueError:
        return False
