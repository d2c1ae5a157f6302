"""One playground session (one browser tab): its data, its networks (one per restart, trained
side by side), optimizers, schedule and random generator, all seeded from its config; a
background training thread stopped by an event; and a bounded outbox of messages for the page,
where the newest frame replaces unsent ones when the page reads slowly.

``Session.handle(message)`` answers one client message (see the protocol in
chainrule.playground.app) with a list of messages; the thread adds frames to ``outbox``."""

import contextlib
import math
import threading
import time
from collections import deque

import numpy as np

from chainrule import nn
from chainrule import random as _random
from chainrule._tensor import Tensor
from chainrule.data import circles, moons, spirals
from chainrule.diagnostics import check_gradient_flow, layer_label, layer_parameters
from chainrule.explain import HalfSumOfSquares, explain_step
from chainrule.models import mlp, xor_network
from chainrule.optim import SGD, Adagrad, Adam, AdamW, RMSprop, lr_scheduler
from chainrule.playground.config import DEFAULTS, ConfigError, check_config, read_csv
from chainrule.random import manual_seed

# chainrule's initialisers and dropout draw from one process-wide generator. A session swaps its
# own in under this lock (to build its networks, and for each dropout forward pass), so that its
# numbers depend on its seed alone, whatever other tabs do, and the process's generator is left alone.
_RNG_LOCK = threading.Lock()


@contextlib.contextmanager
def own_generator(generator=None):
    """chainrule's generator is ``generator`` inside (a ``manual_seed`` inside replaces it), the
    previous one again after; one thread at a time."""
    with _RNG_LOCK:
        saved = _random._generator, _random._seed
        if generator is not None:
            _random._generator = generator
        try:
            yield
        finally:
            _random._generator, _random._seed = saved
_OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}
FRAME_INTERVAL = 0.1  # seconds between two frames while training


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else None  # JSON has no NaN


class Outbox:
    """A bounded, thread-safe queue of messages: a new frame replaces any unsent one, and at most
    ``size`` other messages wait (the oldest go first when it is full). ``notify`` is called after
    each put (the server wakes its sender with it)."""

    def __init__(self, size: int = 16):
        self._items = deque(maxlen=size)
        self._lock = threading.Lock()
        self.notify = lambda: None

    def put(self, message: dict) -> None:
        with self._lock:
            if message.get("type") == "frame":
                kept = [m for m in self._items if m.get("type") != "frame"]
                self._items.clear()
                self._items.extend(kept)
            self._items.append(message)
        self.notify()

    def take_all(self) -> list:
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items

    def drop_frames(self) -> None:
        with self._lock:
            kept = [m for m in self._items if m.get("type") != "frame"]
            self._items.clear()
            self._items.extend(kept)


def make_data(config: dict, rng: np.random.Generator):
    """(X, y, K) for the config's data set; "xor" is the four corners repeated to n_points with
    Gaussian noise (exactly chainrule.data.xor() for 4 points without noise)."""
    name, n, noise = config["dataset"], config["n_points"], config["noise"]
    seed = int(rng.integers(2**31))
    if name == "xor":
        corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
        index = np.arange(n) % 4
        X = corners[index] + (rng.normal(0, noise, (n, 2)).astype(np.float32) if noise else 0)
        return X.astype(np.float32), np.array([0, 1, 1, 0])[index].astype(np.int64), 2
    if name == "csv":
        X, y, classes = read_csv(config["csv_text"])
        return X, y, len(classes)
    if name == "moons":
        X, y = moons(n, noise=noise, seed=seed)
    elif name == "circles":
        X, y = circles(n, noise=noise, seed=seed)
    else:
        X, y = spirals(n, n_classes=3, noise=noise, seed=seed)
    return X.astype(np.float32), y.astype(np.int64), int(y.max()) + 1


def build_network(config: dict, classes: int, seed: int) -> nn.Module:
    """The network for ``config`` from ``seed``. With the mse loss the outputs pass a sigmoid (one
    unit for two classes); a plain 2-H-1 sigmoid-output network is chainrule explain's, built by
    the same function (models.xor_network)."""
    outputs = 1 if config["loss"] == "mse" and classes == 2 else classes
    plain = not (config["dropout"] or config["batch_norm"] or config["residual"]) and config["init"] == "default"
    with own_generator():
        if config["loss"] == "mse" and outputs == 1 and len(config["hidden"]) == 1 and plain:
            return xor_network(config["hidden"][0], config["activation"], seed)
        manual_seed(seed)
        if config["residual"]:
            model = _residual_mlp(config, outputs)
        else:
            model = mlp(2, config["hidden"], outputs, activation_name=config["activation"],
                        dropout=config["dropout"], batch_norm=config["batch_norm"], init_scheme=config["init"])
        if config["loss"] == "mse":
            model = nn.Sequential(*model.children(), nn.Sigmoid())
        return model


def _residual_mlp(config, outputs):
    """Residual connections: every hidden layer after the first (all of equal width here: a width
    change has no identity to add) computes x + f(x)."""
    hidden = config["hidden"]
    if len(set(hidden)) > 1:
        raise ConfigError("residual", f"residual connections need hidden layers of equal width, got {hidden}")
    return mlp(2, hidden, outputs, activation_name=config["activation"], dropout=config["dropout"],
               batch_norm=config["batch_norm"], residual=True, init_scheme=config["init"])


class _Run:
    """One initialisation: its network, optimizer and schedule, and its last gradient norms."""

    def __init__(self, config, classes, seed, steps_per_epoch):
        self.seed = seed
        self.model = build_network(config, classes, seed)
        self.rng = np.random.default_rng([seed, 1])  # its dropout masks
        kwargs = {"lr": config["lr"]}
        if config["optimizer"] in ("sgd", "rmsprop"):
            kwargs["momentum"] = config["momentum"]
        self.optimizer = _OPTIMIZERS[config["optimizer"]](self.model.parameters(), **kwargs)
        self.schedule = None
        if config["schedule"] == "cosine":
            self.schedule = lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=config["epochs"])
        elif config["schedule"] == "step":
            self.schedule = lr_scheduler.StepLR(self.optimizer, step_size=max(1, config["epochs"] // 3), gamma=0.1)
        self.grad_norms = []
        self.loss = None


class Session:
    """A tab's state; ``handle`` answers its messages, a thread trains between ``start`` and ``pause``."""

    def __init__(self, frame_interval: float = FRAME_INTERVAL):
        self.frame_interval = frame_interval
        self.outbox = Outbox()
        self.lock = threading.RLock()
        # The server's event loop takes history under this small lock, never waiting on a step.
        self.history_lock = threading.Lock()
        self.thread = None
        self.stop_event = threading.Event()
        self.config = None
        self._setup(check_config({}))

    # -- state ---------------------------------------------------------------------------------
    def _setup(self, config):
        """Build data and networks for ``config``; the old state stays if this raises."""
        rng = np.random.default_rng(config["seed"])
        X, y, K = make_data(config, rng)
        n_test = round(len(X) * config["test_fraction"])
        if n_test and len(X) - n_test < 1:
            raise ConfigError("test_fraction", f"test_fraction leaves no training points out of {len(X)}")
        if n_test:
            order = rng.permutation(len(X))
            train, test = order[n_test:], order[:n_test]
        else:  # the data in its own order: 4 XOR points are exactly chainrule explain's batch
            train, test = np.arange(len(X)), np.arange(0)
        steps = math.ceil(len(train) / config["batch_size"])
        runs = [_Run(config, K, config["seed"] + r, steps) for r in range(config["restarts"])]
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = np.maximum((hi - lo) * 0.1, 0.25)
        self.config, self.rng, self.X, self.y, self.K = config, rng, X, y, K
        self.train_idx, self.test_idx, self.runs = train, test, runs
        self.extent = [float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])]
        self.loss_fn = HalfSumOfSquares() if config["loss"] == "mse" else nn.CrossEntropyLoss()
        self.epoch, self.step_count, self.order, self.position = 0, 0, None, 0
        with self.history_lock:
            self.history = {"epoch": [], "train_loss": [], "test_loss": []}
            self.history_sent = 0
        self.best = 0
        self.outbox.drop_frames()

    def _targets(self, idx):
        y = self.y[idx]
        if self.config["loss"] == "cross_entropy":
            return Tensor(y, dtype=np.int64)
        if self.K == 2:
            return Tensor(y.reshape(-1, 1).astype(np.float32))
        return Tensor(np.eye(self.K, dtype=np.float32)[y])

    def _next_batch(self):
        n, size = len(self.train_idx), self.config["batch_size"]
        if self.order is None:
            # One batch of everything keeps the data's order (step mode equals chainrule explain).
            self.order = self.rng.permutation(n) if size < n else np.arange(n)
            self.position = 0
        batch = self.order[self.position: self.position + size]
        self.position += size
        if self.position >= n:
            self.order = None
            self.epoch += 1
            for run in self.runs:
                if run.schedule is not None:
                    run.schedule.step()
        return self.train_idx[batch]

    def _train_step(self, run, x, t):
        run.model.train()
        if self.config["dropout"]:
            with own_generator(run.rng):
                out = run.model(x)
        else:
            out = run.model(x)
        loss = self.loss_fn(out, t)
        run.optimizer.zero_grad()
        loss.backward()
        run.grad_norms = self._norms(run.model, {id(p): p.grad._data if p.grad is not None else None
                                                 for p in run.model.parameters()})
        run.optimizer.step()
        run.loss = float(loss.item())

    @staticmethod
    def _norms(model, grads):
        norms = []
        for name, module in layer_parameters(model):
            total = 0.0
            for p in module._parameters.values():
                g = grads.get(id(p)) if p is not None else None
                if g is not None:
                    total += float(np.sum(np.square(g, dtype=np.float64)))
            norms.append({"layer": layer_label(name, module), "norm": math.sqrt(total)})
        return norms

    def train_batch(self, explain: bool = False):
        """Train every run on the next batch; with ``explain``, the shown run's step is recorded by
        chainrule.explain.explain_step (the same code as `chainrule explain`). Returns the
        explain message or None."""
        idx = self._next_batch()
        x, t = Tensor(self.X[idx]), self._targets(idx)
        message = None
        self.step_count += 1
        for i, run in enumerate(self.runs):
            if explain and i == self.best:
                message = self._explained_step(run, x, t)
            else:
                self._train_step(run, x, t)
        return message

    def _explained_step(self, run, x, t):
        lr = run.optimizer.param_groups[0]["lr"]
        plain_sgd = self.config["optimizer"] == "sgd" and self.config["momentum"] == 0
        params = list(run.model.parameters())
        before = [p._data.copy() for p in params]
        try:
            run.model.train()
            explanation = explain_step(run.model, self.loss_fn, x._data, t._data, lr)
        except (TypeError, ValueError) as err:
            self._train_step(run, x, t)
            return {"type": "explain", "explanation": None,
                    "text": f"Step mode shows the numbers of plain networks (Linear layers and activations, no "
                            f"dropout, batch norm or residual connections): {err}. The batch was trained."}
        grads = {id(p): step.grad for layer in explanation.layers for name, step in layer.parameters.items()
                 for p in [dict(run.model.named_parameters())[f"{layer.name}.{name}"]]}
        run.grad_norms = self._norms(run.model, grads)
        run.loss = explanation.loss
        text = explanation.to_text()
        if not plain_sgd:
            # explain_step's update is plain gradient descent; put the weights back and let the
            # session's own optimizer make the real update from the same gradients.
            for p, b in zip(params, before):
                p._data[...] = b
            self._train_step(run, x, t)
            text += (f"\n\nNote: the update shown is plain gradient descent, w - lr dL/dw; this session's "
                     f"{self.config['optimizer']} optimizer (momentum {self.config['momentum']:g}) made its own "
                     f"update from the same gradients.")
        return {"type": "explain", "text": text, "explanation": explanation.to_dict()}

    # -- measurements ---------------------------------------------------------------------------
    def _evaluate(self, model, idx):
        """(mean loss per sample, accuracy) on the points ``idx``; (None, None) when there are none."""
        if len(idx) == 0:
            return None, None
        model.eval()
        out = model(Tensor(self.X[idx]))
        loss = float(self.loss_fn(out, self._targets(idx)).item())
        if self.config["loss"] == "mse":
            loss /= len(idx)  # the half sum of squares, per sample
        predicted = self._classes(out._data)[0]
        return _finite(loss), float(np.mean(predicted == self.y[idx]))

    def _classes(self, out):
        """(class, confidence) of each row of network outputs."""
        out = np.nan_to_num(out.astype(np.float64), nan=0.0, posinf=1e6, neginf=-1e6)
        if self.config["loss"] == "cross_entropy":
            e = np.exp(out - out.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
        elif self.K == 2:
            p = np.concatenate([1 - out, out], axis=1)
        else:
            p = np.clip(out, 0, 1)
        return p.argmax(axis=1), np.clip(p.max(axis=1), 0, 1)

    def frame(self) -> dict:
        """The current state for the page: losses, accuracies, the boundary, gradient norms and verdict."""
        scores = [self._evaluate(run.model, self.train_idx) for run in self.runs]
        self.best = min(range(len(self.runs)), key=lambda i: math.inf if scores[i][0] is None else scores[i][0])
        run = self.runs[self.best]
        train_loss, train_acc = scores[self.best]
        test_loss, test_acc = self._evaluate(run.model, self.test_idx)
        R = self.config["resolution"]
        x0, x1, y0, y1 = self.extent
        gx, gy = np.meshgrid(np.linspace(x0, x1, R), np.linspace(y0, y1, R))
        run.model.eval()
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
        classes, confidence = self._classes(run.model(Tensor(grid))._data)
        run.model.train()
        with self.history_lock:  # one point per epoch: at most max_epochs + 1 of them
            if not self.history["epoch"] or self.history["epoch"][-1] != self.epoch:
                self.history["epoch"].append(self.epoch)
                self.history["train_loss"].append(train_loss)
                self.history["test_loss"].append(test_loss)
        return {
            "type": "frame", "epoch": self.epoch, "step": self.step_count, "train_loss": train_loss,
            "test_loss": test_loss, "train_accuracy": train_acc, "test_accuracy": test_acc,
            "boundary": {"resolution": R, "classes": self.K, "grid": classes.astype(int).tolist(),
                         "confidence": [round(float(c), 4) for c in confidence]},
            "grad_norms": [{"layer": g["layer"], "norm": _finite(g["norm"])} for g in run.grad_norms],
            "verdict": self._verdict(run), "restart": self.best,
            "restart_losses": [s[0] for s in scores], "lr": run.optimizer.param_groups[0]["lr"],
        }  # fmt: skip

    def _verdict(self, run):
        if not run.grad_norms:
            return {"kind": "healthy", "text": "no step taken yet: press start or step"}
        norms = {g["layer"]: g["norm"] for g in run.grad_norms}
        finite = all(np.isfinite(p._data).all() for p in run.model.parameters())
        text = check_gradient_flow(norms, loss=run.loss, weights_finite=finite)
        if text is None:
            first, last = run.grad_norms[0], run.grad_norms[-1]
            return {"kind": "healthy", "text": f"gradients reach every layer: the first layer's norm is "
                                               f"{first['norm']:.3g}, the last layer's {last['norm']:.3g}"}
        if not all(math.isfinite(v) for v in norms.values()) or (run.loss is not None and not math.isfinite(run.loss)):
            return {"kind": "nonfinite", "text": text}
        return {"kind": "vanishing" if text.startswith("vanishing") else "exploding", "text": text}

    def ready(self) -> dict:
        def points(idx):
            return [[float(self.X[i, 0]), float(self.X[i, 1]), int(self.y[i])] for i in idx]

        hidden = "-".join(str(w) for w in self.config["hidden"])
        outputs = 1 if self.config["loss"] == "mse" and self.K == 2 else self.K
        architecture = "-".join(filter(None, ["2", hidden, str(outputs)])) + " " + self.config["activation"]
        extras = [name for name in ("batch_norm", "residual") if self.config[name]]
        if self.config["dropout"]:
            extras.append(f"dropout {self.config['dropout']:g}")
        if extras:
            architecture += " (" + ", ".join(e.replace("_", " ") for e in extras) + ")"
        return {"type": "ready", "config": dict(self.config), "train": points(self.train_idx),
                "test": points(self.test_idx), "classes": self.K, "architecture": architecture,
                "extent": self.extent}

    def take_history(self) -> dict:
        """The history points not yet sent (a frame carries them under "history")."""
        with self.history_lock:
            start = self.history_sent
            self.history_sent = len(self.history["epoch"])
            return {k: v[start:] for k, v in self.history.items()}

    def status(self) -> dict:
        return {"type": "status", "running": self.running, "epoch": self.epoch}

    # -- the training thread ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        if self.running or self.epoch >= self.config["epochs"]:
            return
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, args=(self.stop_event,), daemon=True,
                                       name="chainrule-playground")
        self.thread.start()

    def pause(self) -> None:
        """Stop the thread and wait for it; unsent frames are dropped (the caller sends a fresh one)."""
        self.stop_event.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join()
        self.thread = None
        self.outbox.drop_frames()

    def _loop(self, stop: threading.Event) -> None:
        last = 0.0
        ended = None
        while not stop.is_set():
            with self.lock:
                self.train_batch()
                if self.epoch >= self.config["epochs"]:
                    ended = f"stopped: reached the last epoch ({self.config['epochs']})"
                elif any(run.loss is not None and not math.isfinite(run.loss) for run in self.runs):
                    ended = "stopped: the loss is no longer finite (see the verdict)"
                if ended or time.monotonic() - last >= self.frame_interval:
                    self.outbox.put(self.frame())
                    last = time.monotonic()
            if ended:
                self.outbox.put({"type": "status", "running": False, "epoch": self.epoch, "message": ended})
                return
            time.sleep(0)  # let the server's threads in

    def close(self) -> None:
        self.pause()

    # -- messages -------------------------------------------------------------------------------
    def handle(self, message) -> list:
        """The replies to one client message (already parsed from JSON). Configure, step and reset
        pause a running session first and then say so: a status (running false) leads their replies."""
        was_running = self.running
        replies = self._handle(message)
        if was_running and not self.running and replies[0]["type"] != "status":
            replies.insert(0, self.status())
        return replies

    def _handle(self, message) -> list:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return [_error(None, "a message must be a JSON object with a \"type\"")]
        kind = message["type"]
        if kind == "configure":
            if "config" not in message:
                return [_error(None, "configure needs a \"config\" object")]
            try:
                config = check_config(message["config"])
                self.pause()
                with self.lock:
                    self._setup(config)
            except ConfigError as err:
                return [_error(err.field, str(err))]
            return self._fresh()
        if kind == "start":
            self.start()
            if not self.running:
                return [{**self.status(), "message": f"reached the last epoch ({self.config['epochs']}): reset, "
                                                     "or configure more epochs"}]
            return [self.status()]
        if kind == "pause":
            self.pause()
            return [self.status()]
        if kind == "step":
            self.pause()
            with self.lock:
                explained = self.train_batch(explain=True)
                return [explained, self.frame()]
        if kind == "reset":
            self.pause()
            with self.lock:
                self._setup(self.config)
            return self._fresh()
        return [_error(None, f"unknown message type {kind!r}; expected configure, start, pause, step or reset")]

    def _fresh(self):
        with self.lock:
            return [self.ready(), self.frame()]


def _error(field, message):
    return {"type": "error", "field": field, "message": message}


__all__ = ["DEFAULTS", "Outbox", "Session", "build_network", "make_data"]
