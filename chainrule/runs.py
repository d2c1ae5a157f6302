"""Training runs as the command line makes them: a configuration in, a run folder out (config,
History, resumable checkpoint, final weights, preprocessing, test results, loss-curve and
gradient-flow plots), and the evaluate/predict steps that read such a folder back.

A run folder survives a kill at any moment: config.json and the preprocessing statistics are
written before the first epoch, the checkpoint after every epoch, and the final weights, history,
plots and results.json (last) at the end, every file atomically. ``train(config, resume=True)``
continues from whatever a killed run left and ends with the files an uninterrupted run writes.
"""

import codecs
import contextlib
import csv
import dataclasses
import hashlib
import io
import itertools
import json
import math
import numbers
import time
from pathlib import Path

import numpy as np

from chainrule import distributed, nn, optim, random, serialization
from chainrule._arguments import int_arg
from chainrule.data import DATASETS, StandardScaler, load_dataset, split
from chainrule.models import ACTIVATIONS, INITS, SequenceClassifier, autoencoder, cnn, mlp
from chainrule.optim import lr_scheduler
from chainrule.train import EarlyStopping, Trainer, load_checkpoint
from chainrule.train.callbacks import format_record

MODELS = ("mlp", "cnn", "rnn", "gru", "lstm", "autoencoder")
OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop,
              "adagrad": optim.Adagrad}
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 0.01}
SCHEDULES = ("none", "step", "cosine", "cyclic", "onecycle", "plateau", "warmup")
LOSSES = ("auto", "cross_entropy", "mse", "l1", "huber")
TASKS = ("classification", "reconstruction")
# Per-sample shapes for models that need structure: (channels, height, width) images and
# (steps, features) sequences.
IMAGE_SIDES = {"digits": 8, "mnist": 28, "fashion_mnist": 28}

# The files of a run folder. results.json is written last: a folder holding it has finished.
CONFIG, CHECKPOINT, MODEL, PREPROCESSING = "config.json", "checkpoint.safetensors", "model.safetensors", \
    "preprocessing.safetensors"
HISTORY, RESULTS, PLOTS = "history.json", "results.json", ("loss_curve.png", "gradient_flow.png")

# Upper bounds that keep a typo or a damaged config.json from asking for gigabytes (a hidden width
# of 10^8 would allocate 24 GiB before training starts).
MAX_WIDTH = 65_536
MAX_LAYERS = 64
MAX_PARAMETERS = 100_000_000
MAX_EPOCHS = 1_000_000
MAX_BATCH_SIZE = 1 << 20
MAX_RESTARTS = 1000
MAX_FEATURES = 1 << 24


@dataclasses.dataclass(frozen=True)
class Bound:
    """The values a numeric setting may take: an integer, or a finite float, in [low, high] (an
    end excluded where ``open`` says: "low", "high" or "both")."""

    kind: type
    low: float
    high: float = math.inf
    open: str = ""

    def describe(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        low, high = (str(int(v)) if float(v).is_integer() else f"{v:g}" for v in (self.low, self.high))
        if self.high == math.inf:
            return f"{what} {'>' if self.open in ('low', 'both') else '>='} {low}"
        left = "(" if self.open in ("low", "both") else "["
        right = ")" if self.open in ("high", "both") else "]"
        return f"{what} in {left}{low}, {high}{right}"

    def problem(self, value) -> str | None:
        """Why ``value`` is not allowed, or None when it is."""
        wanted = numbers.Integral if self.kind is int else numbers.Real
        if isinstance(value, bool) or not isinstance(value, wanted):
            return f"expected {self.describe()}, got {value!r}"
        if not math.isfinite(value):
            return f"expected {self.describe().replace('a number', 'a finite number', 1)}, got {value}"
        low_ok = value > self.low if self.open in ("low", "both") else value >= self.low
        high_ok = value < self.high if self.open in ("high", "both") else value <= self.high
        return None if low_ok and high_ok else f"expected {self.describe()}, got {value!r}"

    def parse(self, text: str):
        """``text`` (a command-line value) as a number within the bound; ValueError saying why not."""
        try:
            value = self.kind(text)
        except ValueError:
            raise ValueError(f"expected {self.describe()}, got {text!r}") from None
        problem = self.problem(value)
        if problem:
            raise ValueError(problem)
        return value


# Every numeric setting of a run, checked the same way on the command line, in RunConfig.check and
# in a run folder's config.json.
BOUNDS = {
    "dropout": Bound(float, 0, 1, "high"),
    "lr": Bound(float, 0, open="low"),
    "momentum": Bound(float, 0, 1, "high"),
    "weight_decay": Bound(float, 0),
    "batch_size": Bound(int, 1, MAX_BATCH_SIZE),
    "epochs": Bound(int, 1, MAX_EPOCHS),
    "grad_clip": Bound(float, 0, open="low"),
    "early_stopping": Bound(int, 1, MAX_EPOCHS),
    "restarts": Bound(int, 1, MAX_RESTARTS),
    "seed": Bound(int, 0, 2**32 - 1),
    "val_fraction": Bound(float, 0, 1, "high"),
    "test_fraction": Bound(float, 0, 1, "high"),
}
WIDTH = Bound(int, 1, MAX_WIDTH)
CHOICES = {"data": tuple(DATASETS), "model": MODELS, "activation": ACTIVATIONS, "init": INITS, "loss": LOSSES,
           "optimizer": tuple(OPTIMIZERS), "schedule": SCHEDULES}
FLAGS = ("batch_norm", "residual")
PATHS = ("data_path", "label_column", "run_dir")
OPTIONAL = ("lr", "grad_clip", "early_stopping", *PATHS)


@dataclasses.dataclass
class RunConfig:
    """Everything that defines a run (the command line's flags, with the same defaults)."""

    data: str = "digits"
    data_path: str | None = None
    label_column: str | None = None
    encoding: str = "utf-8-sig"
    model: str = "mlp"
    hidden: tuple = (128, 64)
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm: bool = False
    residual: bool = False
    init: str = "default"
    loss: str = "auto"
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "none"
    batch_size: int = 64
    epochs: int = 30
    grad_clip: float | None = None
    early_stopping: int | None = None
    restarts: int = 1
    seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    run_dir: str | None = None

    def check(self, source=None) -> "RunConfig":
        """Refuse settings that cannot work, saying which flag (or, with ``source``, which field of
        that file) and what is allowed."""
        for name in (f.name for f in dataclasses.fields(self)):
            problem = _field_problem(name, getattr(self, name))
            if problem:
                where = f"{source}: field {name!r}" if source else f"--{name.replace('_', '-')}"
                raise ValueError(f"{where}: {problem}")
        self.hidden = tuple(int(h) for h in self.hidden)
        return self

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]


def _field_problem(name: str, value) -> str | None:
    if value is None and name in OPTIONAL:
        return None
    if name in BOUNDS:
        return BOUNDS[name].problem(value)
    if name in CHOICES:
        return None if isinstance(value, str) and value in CHOICES[name] else \
            f"expected one of {', '.join(CHOICES[name])}, got {value!r}"
    if name in FLAGS:
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if name in PATHS:
        return None if isinstance(value, str) and value else f"expected a non-empty text, got {value!r}"
    if name == "encoding":
        try:
            codecs.lookup(value)
        except (LookupError, TypeError):
            return f"expected a text encoding such as utf-8 or latin-1, got {value!r}"
        return None
    if name == "hidden":
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_LAYERS:
            return f"expected 1 to {MAX_LAYERS} layer widths such as 128,64, got {value!r}"
        problems = [WIDTH.problem(h) for h in value]
        return next((f"a width: {p}" for p in problems if p), None)
    return f"unknown setting {name!r}"


@dataclasses.dataclass
class PreparedData:
    train: tuple
    val: tuple | None
    test: tuple | None  # None when the run holds out no test set (test_fraction 0)
    input_shape: tuple
    n_outputs: int
    task: str  # "classification" or "reconstruction"
    classes: list | None
    scaler: StandardScaler
    notes: list = dataclasses.field(default_factory=list)  # what was done differently, and why
    held_out: bool = True  # False: too few samples to split, so the test set is the training set
    digest: str = ""  # SHA-256 of the data set as loaded: a resumed or evaluated run must see the same


def load_data(config: RunConfig):
    """The data set a configuration names, as (X, y) (with .classes where known)."""
    kwargs = {}
    if config.data in ("mnist", "fashion_mnist"):
        if not config.data_path:
            raise ValueError(f"--data {config.data} needs --data-path, the folder holding its IDX files")
        kwargs["path"] = config.data_path
    if config.data == "csv":
        if not config.data_path or not config.label_column:
            raise ValueError("--data csv needs --data-path FILE and --label-column NAME")
        kwargs = {"path": config.data_path, "label_column": config.label_column, "encoding": config.encoding}
    elif config.encoding != RunConfig.encoding:
        raise ValueError(f"--encoding {config.encoding}: only --data csv reads text; {config.data} does not")
    if config.data in ("moons", "circles", "spirals"):
        kwargs["seed"] = config.seed
    return load_dataset(config.data, **kwargs)


def sample_shape(config: RunConfig, n_features: int) -> tuple:
    """The shape one sample is given to the model: flat for MLPs, (C, H, W) or (C, L) for CNNs,
    (steps, features) for recurrent nets."""
    side = IMAGE_SIDES.get(config.data)
    if config.model in ("mlp", "autoencoder"):
        return (n_features,)
    if config.model == "cnn":
        return (1, side, side) if side and side * side == n_features else (1, n_features)
    return (side, side) if side and side * side == n_features else (n_features, 1)


def _split_sizes_ok(n: int, fraction: float, n_classes: int) -> bool:
    held_out = math.ceil(fraction * n)
    return held_out >= n_classes and n - held_out >= n_classes


def prepare_data(config: RunConfig) -> PreparedData:
    """Load, split (test, then validation from the rest, stratified, seeded), standardise with
    statistics of the training part only, and shape the samples for the model.

    A data set too small to hold out a part with one sample of each class (xor's 4 points) trains
    and tests on all its samples, and ``notes`` says so; ``test_fraction`` 0 holds out no test set.
    """
    data = load_data(config)
    X, y = np.asarray(data[0], dtype=np.float32).reshape(len(data[0]), -1), np.asarray(data[1])
    n_classes = len(np.unique(y))
    notes = []
    X_test = y_test = None
    if config.data == "mnist1d" and config.test_fraction > 0:  # the reference's split: first 4000 train, last 1000 test
        cut = int(0.8 * len(X))
        X_train, X_test, y_train, y_test = X[:cut], X[cut:], y[:cut], y[cut:]
        if config.test_fraction != RunConfig.test_fraction:
            notes.append("mnist1d keeps its reference split (the last 1000 samples test); --test-fraction only "
                         "turns the test set off (0)")
    elif config.test_fraction > 0 and not _split_sizes_ok(len(X), config.test_fraction, n_classes):
        notes.append(f"{config.data} has {len(X)} samples, too few to hold out a test set with one sample of each "
                     f"of its {n_classes} classes: training on all of them, and the test metrics are on these same "
                     "samples (no validation set)")
        prepared = _prepared(config, data, X, y, (X, y), None, (X, y), StandardScaler().fit(X), notes)
        prepared.held_out = False
        return prepared
    elif config.test_fraction > 0:
        X_train, X_test, y_train, y_test = split(X, y, config.test_fraction, seed=config.seed)
    else:
        X_train, y_train = X, y
    val = None
    if config.val_fraction > 0:
        if _split_sizes_ok(len(X_train), config.val_fraction, n_classes):
            X_train, X_val, y_train, y_val = split(X_train, y_train, config.val_fraction, seed=config.seed + 1)
            val = (X_val, y_val)
        else:
            notes.append(f"{len(X_train)} training samples are too few to hold out a validation set with one "
                         f"sample of each of {n_classes} classes: no validation set")
    scaler = StandardScaler().fit(X_train)
    test = (X_test, y_test) if X_test is not None else None
    return _prepared(config, data, X, y, (X_train, y_train), val, test, scaler, notes)


def _prepared(config, data, X, y, train, val, test, scaler, notes) -> PreparedData:
    shape = sample_shape(config, X.shape[1])

    def shaped(part):
        if part is None:
            return None
        features = scaler.transform(part[0]).astype(np.float32).reshape(len(part[0]), *shape)
        target = features.reshape(len(features), -1) if config.model == "autoencoder" else part[1]
        return features, target

    task = "reconstruction" if config.model == "autoencoder" else "classification"
    n_outputs = X.shape[1] if task == "reconstruction" else int(y.max()) + 1
    classes = list(data.classes) if getattr(data, "classes", None) else None
    digest = hashlib.sha256(repr(classes).encode())
    for array in (X, y):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes() if array.dtype.kind != "O" else repr(array.tolist()).encode())
    return PreparedData(shaped(train), shaped(val), shaped(test), shape, n_outputs, task, classes, scaler, notes,
                        digest=digest.hexdigest())


def parameter_estimate(config: RunConfig, input_shape: tuple, n_outputs: int) -> int:
    """About how many parameters ``build_model`` makes (an upper bound for CNNs, whose pooling
    shrinks the classifier), found without allocating them."""
    hidden, n_in = list(config.hidden), math.prod(input_shape)
    if config.model == "mlp":
        return sum((a + 1) * b for a, b in itertools.pairwise([n_in, *hidden, n_outputs]))
    if config.model == "autoencoder":
        return 2 * sum((a + 1) * b for a, b in itertools.pairwise([n_in, *hidden]))
    if config.model == "cnn":
        convolutions = sum(9 * a * b + b for a, b in itertools.pairwise([input_shape[0], *hidden]))
        return convolutions + (hidden[-1] * math.prod(input_shape[1:]) + 1) * n_outputs
    gates, width = {"rnn": 1, "gru": 3, "lstm": 4}[config.model], hidden[0]
    first = gates * width * (input_shape[-1] + width + 2)
    return first + (len(hidden) - 1) * gates * width * (2 * width + 2) + (width + 1) * n_outputs


def build_model(config: RunConfig, input_shape: tuple, n_outputs: int) -> nn.Module:
    size = parameter_estimate(config, input_shape, n_outputs)
    if size > MAX_PARAMETERS:
        raise ValueError(f"--hidden {','.join(map(str, config.hidden))}: this {config.model} would have about "
                         f"{size:,} parameters ({size * 4 / 2**30:.1f} GiB), more than the {MAX_PARAMETERS:,} "
                         "a run may; choose smaller widths")
    hidden = tuple(config.hidden)
    common = dict(activation_name=config.activation, dropout=config.dropout, batch_norm=config.batch_norm)
    if config.model == "mlp":
        return mlp(input_shape[0], hidden, n_outputs, residual=config.residual, init_scheme=config.init, **common)
    if config.model == "cnn":
        return cnn(input_shape, n_outputs, channels=hidden, init_scheme=config.init, **common)
    if config.model == "autoencoder":
        return autoencoder(input_shape[0], hidden, activation_name=config.activation)
    return SequenceClassifier(config.model, input_shape[-1], hidden[0], n_outputs, num_layers=len(hidden),
                              dropout=config.dropout)


def build_loss(config: RunConfig, task: str):
    name = config.loss if config.loss != "auto" else ("mse" if task == "reconstruction" else "cross_entropy")
    return {"cross_entropy": nn.CrossEntropyLoss, "mse": nn.MSELoss, "l1": nn.L1Loss, "huber": nn.HuberLoss}[name]()


def build_optimizer(config: RunConfig, model: nn.Module) -> optim.Optimizer:
    kwargs = dict(lr=config.learning_rate, weight_decay=config.weight_decay)
    if config.optimizer in ("sgd", "rmsprop"):
        kwargs["momentum"] = config.momentum
    return OPTIMIZERS[config.optimizer](model.parameters(), **kwargs)


def build_scheduler(config: RunConfig, optimizer, steps_per_epoch: int):
    lr, epochs = config.learning_rate, config.epochs
    if config.schedule == "none":
        return None
    if config.schedule == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)
    if config.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if config.schedule == "cyclic":
        return lr_scheduler.CyclicLR(optimizer, base_lr=lr / 10, max_lr=lr, step_size_up=2 * steps_per_epoch,
                                     cycle_momentum=config.optimizer in ("sgd", "rmsprop", "adam", "adamw"))
    if config.schedule == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch,
                                       cycle_momentum=config.optimizer != "adagrad")
    if config.schedule == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    warm = max(1, min(5, epochs // 4))
    return lr_scheduler.SequentialLR(optimizer, [
        lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warm),
        lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs - warm)),
    ], milestones=[warm])


def metrics_for(task: str) -> tuple:
    return ("accuracy", "f1") if task == "classification" else ("mse", "r2")


def default_run_dir(config: RunConfig) -> Path:
    """runs/DATA-MODEL-TIME, with a counter added when a run started in the same second (a new run
    never replaces one it was not pointed at)."""
    base = Path("runs") / f"{config.data}-{config.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidates = itertools.chain([base], (base.with_name(f"{base.name}-{k}") for k in itertools.count(2)))
    return next(path for path in candidates if not path.exists())


# -- files ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def writing(path, doing: str = "write"):
    """Name ``path`` in an OSError raised while writing (or ``doing`` something else to) it: a
    full disk's ENOSPC from write or fsync carries no file name, and a failed temporary names
    the temporary."""
    try:
        yield
    except OSError as err:
        if isinstance(err, FileNotFoundError) and err.errno is None:
            raise  # chainrule's own "no such file" message already names the file
        named = Path(err.filename).name if err.filename is not None else None
        if named is not None and named != Path(path).name and not named.startswith(f".{Path(path).name}."):
            raise  # about another file, which it names
        raise OSError(err.errno, f"cannot {doing} {path}: {err.strerror or err}") from err


def check_output_path(path, flag: str, folder: bool = False) -> Path:
    """Refuse an output path that a file is in the way of (``path`` itself, or a folder above it),
    or a file path that is a folder, naming the flag."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {path}: is a file, not a folder")
    if not folder and path.is_dir():
        raise ValueError(f"{flag} {path}: is a folder; expected a file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{flag} {path}: {parent} is a file, not a folder")
            break
    return path


def write_atomically(path, data: bytes) -> None:
    """Write a file atomically (see ``serialization.write_atomic``), naming it in any OSError."""
    with writing(path):
        serialization.write_atomic(path, data)


def write_text(path, text: str) -> None:
    write_atomically(path, text.encode())


def write_json(path, value) -> None:
    write_text(path, json.dumps(value, indent=1))


def write_csv(path, header: list, rows) -> None:
    """Write a CSV file atomically: a full disk leaves the previous file, never a cut-off one."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def model_description(config: RunConfig, input_shape: tuple, n_outputs: int) -> str:
    """A run's model in a few words for figure titles: 'mlp 64-128-64-10, relu'."""
    sizes = "-".join(map(str, (input_shape[-1] if config.model != "cnn" else "x".join(map(str, input_shape)),
                               *config.hidden, n_outputs)))
    activation = f", {config.activation}" if config.model in ("mlp", "cnn", "autoencoder") else ""
    return f"{config.model} {sizes}{activation}"


def figure_context(run_dir) -> dict:
    """What a figure of a finished run names under its title: its data, model and folder."""
    config, extra = read_config(run_dir)
    return {"data": config.data, "model": model_description(config, extra["input_shape"], extra["n_outputs"]),
            "run": Path(run_dir).name}


def _plots(run_dir: Path, history, model=None, context=None) -> list:
    """The run's pictures, titled with its data, model and folder (``context``)."""
    try:
        from chainrule.diagnostics import plot_gradient_flow, plot_history

        paths = []
        with writing(run_dir / PLOTS[0]):
            paths.append(str(plot_history(history, run_dir / PLOTS[0], context=context)))
        with writing(run_dir / PLOTS[1]):
            paths.append(str(plot_gradient_flow(history, run_dir / PLOTS[1], model=model, context=context)))
        return paths
    except (ImportError, ValueError):  # no matplotlib, or nothing to plot
        return []


def _start_run_folder(run_dir: Path, config: RunConfig, data: PreparedData, replace: bool) -> None:
    """Write what a resume needs before the first epoch: config.json and the scaler's statistics.
    A new run in a folder that held another replaces it: its files go first (config.json first of
    all, so that a kill half-way leaves no folder that resumes the old config with a new checkpoint)."""
    # A resumed run is unfinished again until its results are written.
    for name in (CONFIG, RESULTS, CHECKPOINT, MODEL, PREPROCESSING, HISTORY, *PLOTS) if replace else (RESULTS,):
        with writing(run_dir / name, "remove"), contextlib.suppress(FileNotFoundError):
            (run_dir / name).unlink()
    with writing(run_dir / PREPROCESSING):
        serialization.save({"mean": data.scaler.mean_, "scale": data.scaler.scale_}, run_dir / PREPROCESSING)
    write_json(run_dir / CONFIG, {**dataclasses.asdict(config), "input_shape": list(data.input_shape),
                                  "n_outputs": data.n_outputs, "task": data.task, "classes": data.classes,
                                  "data_digest": data.digest})


def _check_same_data(run_dir, extra: dict, data: PreparedData) -> None:
    """Refuse to resume or evaluate a run on data other than it was trained on (an edited CSV file
    would silently give another split)."""
    if extra.get("data_digest") not in (None, data.digest):
        raise ValueError(f"{Path(run_dir) / CONFIG}: the data set is not the one this run was trained on "
                         "(its SHA-256 differs from field 'data_digest'); resume or evaluate it with that data")


def _checkpoint_epoch(path: Path) -> int:
    with writing(path, "read"):
        return int(load_checkpoint(path)["epoch"])


# -- a run ------------------------------------------------------------------------------------------
def train(config: RunConfig, *, verbose: int = 1, resume: bool = False, callbacks=()) -> dict:
    """Train as ``config`` says, write the run folder, and return the test results.
    ``callbacks``: Callback objects for fit besides the run's own (early stopping), which run first.

    ``resume=True`` continues the run in ``config.run_dir`` from whatever a kill left there: from
    its checkpoint, or from the start when it died before the first one (the same numbers as an
    uninterrupted run either way); a finished run trains on only when ``config.epochs`` asks for
    more. A run with ``restarts`` > 1 resumes by training again from the start.
    """
    config.check()
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"train: callbacks must be a list of Callback objects, got {callbacks!r}")
    distributed.init_if_launched()
    run_dir = Path(config.run_dir) if config.run_dir else default_run_dir(config)
    check_output_path(run_dir, "--run-dir", folder=True)
    config.run_dir = str(run_dir)
    checkpoint = run_dir / CHECKPOINT
    resume_from = checkpoint if resume and config.restarts == 1 and checkpoint.is_file() else None
    if resume_from is not None:
        done = _checkpoint_epoch(checkpoint)
        if done > config.epochs:
            raise ValueError(f"--epochs {config.epochs}: the run in {run_dir} has already trained {done} epochs; "
                             f"ask for at least {done}")
    random.manual_seed(config.seed)
    data = prepare_data(config)
    if resume:
        _check_same_data(run_dir, read_config(run_dir)[1], data)
    model = build_model(config, data.input_shape, data.n_outputs)
    optimizer = build_optimizer(config, model)
    # per-batch schedules (one-cycle, cyclic) are planned over the steps fit takes: under MPI each
    # step is a global batch of batch_size x N samples
    scheduler = build_scheduler(config, optimizer, distributed.batches_per_epoch(len(data.train[0]), config.batch_size))
    callbacks = list(callbacks)
    if config.early_stopping:
        callbacks.insert(0, EarlyStopping("val_loss" if data.val else "loss", patience=config.early_stopping,
                                          restore_best_weights=True))
    trainer = Trainer(model, build_loss(config, data.task), optimizer, batch_size=config.batch_size,
                      metrics=metrics_for(data.task), scheduler=scheduler, grad_clip=config.grad_clip,
                      callbacks=callbacks, verbose=verbose)
    if distributed.is_main():
        with writing(run_dir):
            run_dir.mkdir(parents=True, exist_ok=True)
        _start_run_folder(run_dir, config, data, replace=not resume)
    started = time.perf_counter()
    with writing(checkpoint):
        history = trainer.fit(data.train, epochs=config.epochs, val_data=data.val, restarts=config.restarts,
                              resume_from=resume_from, checkpoint=checkpoint)
    seconds = time.perf_counter() - started
    test = trainer.evaluate(data.test, prefix="test_") if data.test is not None else None
    losses = [record.get("loss") for record in history.epochs]
    results = {"test": test, "epochs_run": len(history), "train_seconds": seconds, "stopped": history.stopped,
               "parameters": model.num_parameters(), "notes": data.notes,
               "diverged": not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in losses)}
    if not distributed.is_main():  # under mpiexec, rank 0 writes the run folder
        return results
    with writing(run_dir / MODEL):
        serialization.save(model.state_dict(), run_dir / MODEL)
    with writing(run_dir / HISTORY):
        history.save(run_dir / HISTORY)
    context = {"data": config.data, "model": model_description(config, data.input_shape, data.n_outputs),
               "run": run_dir.name}
    results["plots"] = _plots(run_dir, history, model, context)
    write_json(run_dir / RESULTS, results)
    return results


def summary(results: dict) -> str:
    """The lines the command line prints after training."""
    lines = [f"note: {note}" for note in results.get("notes", ())]
    test = results["test"]
    lines.append(f"test: {format_record(test)}" if test is not None else "test: none (--test-fraction 0)")
    lines.append(f"trained {results['epochs_run']} epochs in {results['train_seconds']:.1f} s "
                 f"({results['parameters']:,} parameters)")
    if results.get("stopped"):
        lines.append(f"stopped: {results['stopped']}")
    return "\n".join(lines)


# -- reading a run folder back ----------------------------------------------------------------------
EXTRAS = {"input_shape", "n_outputs", "task", "classes", "data_digest"}
ADDED_LATER = {"encoding", "data_digest"}  # fields older run folders lack (encoding: they read UTF-8)
# Fields older run folders have and that mean nothing now, so they are read and ignored
# (compile_step: the captured step is gone; the eager step computed the same numbers).
REMOVED = {"compile_step"}


def _extras_problem(name: str, value) -> str | None:
    if name == "input_shape":
        ok = isinstance(value, list) and 1 <= len(value) <= 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_FEATURES for v in value)
        ok = ok and math.prod(value) <= MAX_FEATURES
        return None if ok else f"expected a list of 1 to 3 positive sizes (at most {MAX_FEATURES:,} in all), " \
                               f"got {value!r}"[:300]
    if name == "n_outputs":
        return Bound(int, 1, MAX_WIDTH).problem(value)
    if name == "task":
        return None if value in TASKS else f"expected one of {', '.join(TASKS)}, got {value!r}"[:300]
    if name == "data_digest":
        ok = isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
        return None if ok else f"expected 64 hexadecimal digits (a SHA-256), got {value!r}"[:300]
    if value is None:  # classes
        return None
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        return f"expected null or a list of class labels, got {value!r}"[:300]
    return None


def read_config(run_dir) -> tuple:
    """``(RunConfig, extra)`` from a run folder's config.json, every field checked (type, range,
    a sane upper bound): ValueError naming the file and the field. A field that older versions
    wrote and that no longer exists (``compile_step``) is ignored."""
    path = Path(run_dir) / CONFIG
    if not Path(run_dir).is_dir():
        what = "a file" if Path(run_dir).exists() else "no such folder"
        raise FileNotFoundError(f"{run_dir} is not a run folder: {what}")
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: no {CONFIG} (train one with 'chainrule train')")
    stored = serialization.read_json(path, "run folder")
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    stored = {k: v for k, v in stored.items() if k not in REMOVED}
    unknown = sorted(set(stored) - fields - EXTRAS)
    if unknown:
        raise ValueError(f"{path}: unknown field {unknown[0]!r}"[:300])
    missing = [name for name in [f.name for f in dataclasses.fields(RunConfig)] + sorted(EXTRAS)
               if name not in stored and name not in ADDED_LATER]
    if missing:
        raise ValueError(f"{path}: field {missing[0]!r} is missing")
    for name in sorted(EXTRAS & set(stored)):
        problem = _extras_problem(name, stored[name])
        if problem:
            raise ValueError(f"{path}: field {name!r}: {problem}")
    config = RunConfig(**{k: v for k, v in stored.items() if k in fields}).check(source=path)
    extra = {k: v for k, v in stored.items() if k in EXTRAS}
    extra["input_shape"] = tuple(extra["input_shape"])
    expected_task = "reconstruction" if config.model == "autoencoder" else "classification"
    if extra["task"] != expected_task:
        raise ValueError(f"{path}: field 'task' is {extra['task']!r}, but a {config.model} does {expected_task}")
    if extra["input_shape"] != sample_shape(config, math.prod(extra["input_shape"])):
        raise ValueError(f"{path}: field 'input_shape' {list(extra['input_shape'])} does not fit a {config.model} "
                         f"on {config.data}")
    # (an autoencoder's outputs are its features: the data set's class names do not count them)
    classes = extra["classes"] if expected_task == "classification" else None
    if classes is not None and len(classes) != extra["n_outputs"]:
        raise ValueError(f"{path}: field 'classes' names {len(extra['classes'])} classes, but 'n_outputs' is "
                         f"{extra['n_outputs']}")
    size = parameter_estimate(config, extra["input_shape"], extra["n_outputs"])
    if size > MAX_PARAMETERS:
        raise ValueError(f"{path}: field 'hidden' {list(config.hidden)} makes a {config.model} of about {size:,} "
                         f"parameters, more than the {MAX_PARAMETERS:,} a run may")
    return config, extra


# Schedules planned over the run's epochs: extending such a run would carry them past their end.
PLANNED_SCHEDULES = ("step", "cosine", "onecycle", "warmup")


def resume_config(run_dir, epochs: int | None = None) -> RunConfig:
    """The config to continue the run in ``run_dir`` with, ``epochs`` (when given) extending it."""
    config, _ = read_config(run_dir)
    if epochs is not None and epochs != config.epochs:
        problem = BOUNDS["epochs"].problem(epochs)
        if problem:
            raise ValueError(f"--epochs: {problem}")
        if config.schedule in PLANNED_SCHEDULES and (Path(run_dir) / CHECKPOINT).is_file():
            raise ValueError(f"--epochs {epochs}: the run in {run_dir} follows a {config.schedule} schedule planned "
                             f"for {config.epochs} epochs, which would run past its end; train a new run with "
                             f"--epochs {epochs} instead")
        config.epochs = epochs
    config.run_dir = str(run_dir)
    return config


def _finished_file(run_dir, name: str) -> Path:
    path = Path(run_dir) / name
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has not finished training: no {name} "
                                f"(continue it with 'chainrule train --resume {run_dir}')")
    return path


def load_run(run_dir):
    """The trained model of a run folder, with its config and scaler."""
    config, extra = read_config(run_dir)
    model = build_model(config, extra["input_shape"], extra["n_outputs"])
    weights = _finished_file(run_dir, MODEL)
    try:
        model.load_state_dict(serialization.load(weights))
    except (KeyError, RuntimeError) as err:  # the weights of another architecture
        raise ValueError(f"{weights} does not hold the weights of the network {Path(run_dir) / CONFIG} "
                         f"describes: {err}") from None
    model.eval()
    path = _finished_file(run_dir, PREPROCESSING)
    stats = serialization.load(path)
    n_features = math.prod(extra["input_shape"])
    for name in ("mean", "scale"):
        value = stats.get(name)
        if value is None or value.shape != (n_features,) or value.dtype.kind != "f" or not np.isfinite(value).all():
            got = "missing" if value is None else f"{value.dtype} of shape {value.shape}"
            raise ValueError(f"{path}: {name!r} must be {n_features} finite floats (config.json's input_shape), "
                             f"got {got}")
    if (stats["scale"] <= 0).any():
        raise ValueError(f"{path}: 'scale' must be positive")
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_, scaler.n_features_in_ = stats["mean"], stats["scale"], n_features
    return config, extra, model, scaler


def evaluate_run(run_dir) -> dict:
    """Test-set loss and metrics of a finished run (the split is rebuilt from its seed)."""
    config, extra, model, _ = load_run(run_dir)
    data = prepare_data(config)
    _check_same_data(run_dir, extra, data)
    if data.test is None:
        raise ValueError(f"{run_dir} has no test set: it was trained with --test-fraction 0")
    trainer = Trainer(model, build_loss(config, extra["task"]), build_optimizer(config, model),
                      batch_size=config.batch_size, metrics=metrics_for(extra["task"]), verbose=0)
    return trainer.evaluate(data.test, prefix="test_")


def run_curvature(run_dir, samples: int = 256, over_training: bool = False, every: int = 1, **options) -> list:
    """The curvature of a finished run's loss on its first ``samples`` training samples (``chainrule
    curvature RUN``), as records ``{"epoch": ..., **Curvature.to_dict()}``: one for the run's final
    weights (epoch None; computed in float64), or, with ``over_training``, one before the first
    epoch and one after every ``every``-th epoch, from a replay of the training (the same config and seed, so the same
    numbers: the replay's final weights must equal the run's). ``lr`` is the run's; ``options`` go
    to ``curvature``."""
    import tempfile

    from chainrule.diagnostics import CurvatureMonitor, curvature

    samples = int_arg(samples, "samples", "run_curvature", minimum=1)
    config, extra, model, _ = load_run(run_dir)
    data = prepare_data(config)
    _check_same_data(run_dir, extra, data)
    batch = tuple(part[:samples] for part in data.train)
    loss_fn = build_loss(config, extra["task"])
    options = {"lr": config.learning_rate, **options}
    if not over_training:
        report = curvature(model.double(), loss_fn, batch, **options)
        return [{"epoch": None, **report.to_dict()}]  # epoch None: the final weights
    if config.restarts > 1:
        raise ValueError(f"--over-training replays one training; {run_dir} kept the best of {config.restarts} "
                         "restarts")
    monitor = CurvatureMonitor(loss_fn, batch, every=every, **options)
    with tempfile.TemporaryDirectory() as replay_dir:
        replay = dataclasses.replace(config, run_dir=replay_dir)
        train(replay, verbose=0, callbacks=[monitor])
        replay_model = load_run(replay_dir)[2]
    for (name, saved), (_, again) in zip(model.state_dict().items(), replay_model.state_dict().items()):
        if not np.array_equal(saved, again):
            raise RuntimeError(f"the replay of {run_dir} ended with other weights than the run ({name} differs): "
                               "the run was trained by another version of chainrule, or on other data")
    return monitor.records


def predict_run(run_dir, inputs: np.ndarray) -> tuple:
    """``(header, rows)`` of predictions for raw feature rows: the class and class
    probabilities for classifiers, the reconstruction for autoencoders."""
    config, extra, model, scaler = load_run(run_dir)
    with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below
        inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.ndim != 2 or inputs.shape[1] != scaler.n_features_in_:
        raise ValueError(
            f"predict: the input has {inputs.shape[1] if inputs.ndim == 2 else '?'} columns, "
            f"the model was trained on {scaler.n_features_in_} features"
        )
    if not np.isfinite(inputs).all():
        row, column = (int(i) for i in np.argwhere(~np.isfinite(inputs))[0])
        raise ValueError(f"predict: row {row + 1}, column {column + 1} of the input is {inputs[row, column]} "
                         "(as float32); features must be finite numbers")
    x = scaler.transform(inputs).astype(np.float32).reshape(len(inputs), *extra["input_shape"])
    trainer = Trainer(model, build_loss(config, extra["task"]), build_optimizer(config, model),
                      batch_size=config.batch_size, metrics=(), verbose=0)
    out = trainer.predict(x)
    if extra["task"] == "reconstruction":
        return [f"x{i}" for i in range(out.shape[1])], out
    shifted = np.exp(out - out.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    names = extra.get("classes") or [str(k) for k in range(out.shape[1])]
    predicted = np.array(names, dtype=object)[out.argmax(axis=1)]
    rows = np.column_stack([predicted, probabilities.round(6)])
    return ["prediction", *[f"p_{n}" for n in names]], rows


MAX_GRADCHECK_PARAMETERS = 20_000  # finite differences run two forward passes per parameter entry


def gradcheck_architecture(config: RunConfig, batch: int = 3) -> list:
    """Check every parameter's gradient of the loss of ``config``'s architecture, in float64, on
    random inputs shaped like its data: ``[(name, shape, ok, message), ...]``."""
    from chainrule._tensor import Tensor
    from chainrule.autograd import GradcheckError, gradcheck

    config.check()
    problem = Bound(int, 1, 1000).problem(batch)
    if problem:
        raise ValueError(f"--batch: {problem}")
    random.manual_seed(config.seed)
    n_features = IMAGE_SIDES.get(config.data, 4) ** 2 if config.data in IMAGE_SIDES else 12
    shape = sample_shape(config, n_features)
    task = "reconstruction" if config.model == "autoencoder" else "classification"
    n_outputs = n_features if task == "reconstruction" else 3
    size = parameter_estimate(config, shape, n_outputs)
    if size > MAX_GRADCHECK_PARAMETERS:
        raise ValueError(f"gradcheck: --hidden {','.join(map(str, config.hidden))} makes about {size:,} parameters; "
                         f"finite differences check at most {MAX_GRADCHECK_PARAMETERS:,} in reasonable time")
    model = build_model(config, shape, n_outputs).double()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.eval()  # a fresh random mask per call would defeat finite differences
    rng = np.random.default_rng(config.seed)
    x = Tensor(rng.standard_normal((batch, *shape)), dtype=np.float64)
    target = x._data.reshape(batch, -1) if task == "reconstruction" else rng.integers(0, 3, batch)
    target = Tensor(target, dtype=target.dtype)
    loss_fn = build_loss(config, task)
    report = []
    for name, param in model.named_parameters():
        try:
            gradcheck(lambda *_: loss_fn(model(x), target), (param,))
            report.append((name, param.shape, True, ""))
        except GradcheckError as err:
            report.append((name, param.shape, False, str(err)))
    return report
