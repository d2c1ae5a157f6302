"""Training runs as the command line makes them: a configuration in, a run folder out (config,
History, resumable checkpoint, final weights, preprocessing, test results, loss-curve and
gradient-flow plots), and the evaluate/predict steps that read such a folder back."""

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from chainrule import distributed, nn, optim, random
from chainrule.data import StandardScaler, load_dataset, split
from chainrule.models import SequenceClassifier, autoencoder, cnn, mlp
from chainrule.optim import lr_scheduler
from chainrule.serialization import load, save, write_atomic
from chainrule.train import EarlyStopping, Trainer
from chainrule.train.callbacks import format_record

MODELS = ("mlp", "cnn", "rnn", "gru", "lstm", "autoencoder")
OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop,
              "adagrad": optim.Adagrad}
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 0.01}
SCHEDULES = ("none", "step", "cosine", "cyclic", "onecycle", "plateau", "warmup")
LOSSES = ("auto", "cross_entropy", "mse", "l1", "huber")
# Per-sample shapes for models that need structure: (channels, height, width) images and
# (steps, features) sequences.
IMAGE_SIDES = {"digits": 8, "mnist": 28, "fashion_mnist": 28}


@dataclasses.dataclass
class RunConfig:
    """Everything that defines a run (the command line's flags, with the same defaults)."""

    data: str = "digits"
    data_path: str | None = None
    label_column: str | None = None
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
    compile_step: bool = False
    seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    run_dir: str | None = None

    def check(self) -> "RunConfig":
        """Refuse settings that cannot work, saying which flag and what is allowed."""
        choices = {"model": MODELS, "optimizer": tuple(OPTIMIZERS), "schedule": SCHEDULES, "loss": LOSSES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"--{name}: {getattr(self, name)!r} is not one of {', '.join(allowed)}")
        for name in ("epochs", "batch_size", "restarts"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(self, name)}")
        for name in ("val_fraction", "test_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')}: must be in [0, 1), got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"--dropout: must be in [0, 1), got {self.dropout}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"--hidden: needs positive layer widths, got {self.hidden}")
        return self

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]


@dataclasses.dataclass
class PreparedData:
    train: tuple
    val: tuple | None
    test: tuple
    input_shape: tuple
    n_outputs: int
    task: str  # "classification" or "reconstruction"
    classes: list | None
    scaler: StandardScaler


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
        kwargs = {"path": config.data_path, "label_column": config.label_column}
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


def prepare_data(config: RunConfig) -> PreparedData:
    """Load, split (test, then validation from the rest, stratified, seeded), standardise with
    statistics of the training part only, and shape the samples for the model."""
    data = load_data(config)
    X, y = np.asarray(data[0], dtype=np.float32).reshape(len(data[0]), -1), np.asarray(data[1])
    if config.data == "mnist1d":  # the reference's own split: first 4000 train, last 1000 test
        cut = int(0.8 * len(X))
        X_train, X_test, y_train, y_test = X[:cut], X[cut:], y[:cut], y[cut:]
    else:
        X_train, X_test, y_train, y_test = split(X, y, config.test_fraction, seed=config.seed)
    val = None
    if config.val_fraction > 0:
        X_train, X_val, y_train, y_val = split(X_train, y_train, config.val_fraction, seed=config.seed + 1)
        val = (X_val, y_val)
    scaler = StandardScaler().fit(X_train)
    shape = sample_shape(config, X.shape[1])

    def shaped(part):
        features = scaler.transform(part[0]).astype(np.float32).reshape(len(part[0]), *shape)
        target = features.reshape(len(features), -1) if config.model == "autoencoder" else part[1]
        return features, target

    task = "reconstruction" if config.model == "autoencoder" else "classification"
    n_outputs = X.shape[1] if task == "reconstruction" else int(y.max()) + 1
    classes = list(data.classes) if getattr(data, "classes", None) else None
    return PreparedData(shaped((X_train, y_train)), shaped(val) if val else None, shaped((X_test, y_test)),
                        shape, n_outputs, task, classes, scaler)


def build_model(config: RunConfig, input_shape: tuple, n_outputs: int) -> nn.Module:
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
    return Path("runs") / f"{config.data}-{config.model}-{time.strftime('%Y%m%d-%H%M%S')}"


def _write_json(path: Path, value) -> None:
    write_atomic(path, json.dumps(value, indent=1).encode())


def _plots(run_dir: Path, history) -> list:
    try:
        from chainrule.diagnostics import plot_gradient_flow, plot_history

        return [str(plot_history(history, run_dir / "loss_curve.png")),
                str(plot_gradient_flow(history, run_dir / "gradient_flow.png"))]
    except (ImportError, ValueError):  # no matplotlib, or nothing to plot
        return []


def train(config: RunConfig, *, verbose: int = 1, resume: bool = False) -> dict:
    """Train as ``config`` says, write the run folder, and return the test results."""
    config.check()
    distributed.init_if_launched()
    run_dir = Path(config.run_dir) if config.run_dir else default_run_dir(config)
    config.run_dir = str(run_dir)
    random.manual_seed(config.seed)
    data = prepare_data(config)
    model = build_model(config, data.input_shape, data.n_outputs)
    optimizer = build_optimizer(config, model)
    steps = -(-len(data.train[0]) // config.batch_size)
    scheduler = build_scheduler(config, optimizer, steps)
    callbacks = []
    if config.early_stopping:
        callbacks.append(EarlyStopping("val_loss" if data.val else "loss", patience=config.early_stopping,
                                       restore_best_weights=True))
    trainer = Trainer(model, build_loss(config, data.task), optimizer, batch_size=config.batch_size,
                      metrics=metrics_for(data.task), scheduler=scheduler, grad_clip=config.grad_clip,
                      callbacks=callbacks, verbose=verbose, compile_step=config.compile_step)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = run_dir / "checkpoint.safetensors"
    if resume and not checkpoint.exists():
        raise FileNotFoundError(f"--resume: no checkpoint in {run_dir}")
    started = time.perf_counter()
    history = trainer.fit(data.train, epochs=config.epochs, val_data=data.val, restarts=config.restarts,
                          resume_from=checkpoint if resume else None, checkpoint=checkpoint)
    seconds = time.perf_counter() - started
    test = trainer.evaluate(data.test, prefix="test_")
    results = {"test": test, "epochs_run": len(history), "train_seconds": seconds, "stopped": history.stopped,
               "parameters": model.num_parameters()}
    if not distributed.is_main():  # under mpiexec, rank 0 writes the run folder
        return results
    save(model.state_dict(), run_dir / "model.safetensors")
    save({"mean": data.scaler.mean_, "scale": data.scaler.scale_}, run_dir / "preprocessing.safetensors")
    _write_json(run_dir / "config.json", {**dataclasses.asdict(config), "input_shape": list(data.input_shape),
                                          "n_outputs": data.n_outputs, "task": data.task,
                                          "classes": data.classes})
    history.save(run_dir / "history.json")
    results["plots"] = _plots(run_dir, history)
    _write_json(run_dir / "results.json", results)
    return results


def summary(results: dict) -> str:
    """The lines the command line prints after training."""
    lines = [f"test: {format_record(results['test'])}",
             f"trained {results['epochs_run']} epochs in {results['train_seconds']:.1f} s "
             f"({results['parameters']:,} parameters)"]
    if results.get("stopped"):
        lines.append(f"stopped: {results['stopped']}")
    return "\n".join(lines)


def read_config(run_dir) -> tuple:
    """``(RunConfig, extra)`` from a run folder's config.json."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: no config.json (train one with 'chainrule train')")
    stored = json.loads(path.read_text())
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    config = RunConfig(**{k: v for k, v in stored.items() if k in fields})
    config.hidden = tuple(config.hidden)
    return config, {k: v for k, v in stored.items() if k not in fields}


def load_run(run_dir):
    """The trained model of a run folder, with its config and scaler."""
    config, extra = read_config(run_dir)
    model = build_model(config, tuple(extra["input_shape"]), extra["n_outputs"])
    model.load_state_dict(load(Path(run_dir) / "model.safetensors"))
    model.eval()
    stats = load(Path(run_dir) / "preprocessing.safetensors")
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_, scaler.n_features_in_ = stats["mean"], stats["scale"], len(stats["mean"])
    return config, extra, model, scaler


def evaluate_run(run_dir) -> dict:
    """Test-set loss and metrics of a finished run (the split is rebuilt from its seed)."""
    config, extra, model, _ = load_run(run_dir)
    data = prepare_data(config)
    trainer = Trainer(model, build_loss(config, extra["task"]), build_optimizer(config, model),
                      batch_size=config.batch_size, metrics=metrics_for(extra["task"]), verbose=0)
    return trainer.evaluate(data.test, prefix="test_")


def predict_run(run_dir, inputs: np.ndarray) -> tuple:
    """``(header, rows)`` of predictions for raw feature rows: the class and class
    probabilities for classifiers, the reconstruction for autoencoders."""
    config, extra, model, scaler = load_run(run_dir)
    inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.ndim != 2 or inputs.shape[1] != scaler.n_features_in_:
        raise ValueError(
            f"predict: the input has {inputs.shape[1] if inputs.ndim == 2 else '?'} columns, "
            f"the model was trained on {scaler.n_features_in_} features"
        )
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


def gradcheck_architecture(config: RunConfig, batch: int = 3) -> list:
    """Check every parameter's gradient of the loss of ``config``'s architecture, in float64, on
    random inputs shaped like its data: ``[(name, shape, ok, message), ...]``."""
    from chainrule.autograd import GradcheckError, gradcheck
    from chainrule.tensor import Tensor

    config.check()
    random.manual_seed(config.seed)
    n_features = IMAGE_SIDES.get(config.data, 4) ** 2 if config.data in IMAGE_SIDES else 12
    shape = sample_shape(config, n_features)
    task = "reconstruction" if config.model == "autoencoder" else "classification"
    model = build_model(config, shape, n_features if task == "reconstruction" else 3).double()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.eval()  # a fresh random mask per call would defeat finite differences
    rng = np.random.default_rng(config.seed)
    x = Tensor(rng.standard_normal((batch, *shape)))
    target = Tensor(x.data.reshape(batch, -1) if task == "reconstruction" else rng.integers(0, 3, batch))
    loss_fn = build_loss(config, task)
    report = []
    for name, param in model.named_parameters():
        try:
            gradcheck(lambda *_: loss_fn(model(x), target), (param,))
            report.append((name, param.shape, True, ""))
        except GradcheckError as err:
            report.append((name, param.shape, False, str(err)))
    return report
