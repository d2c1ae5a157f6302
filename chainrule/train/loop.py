"""The training loop: forward pass, loss, backward pass, weight update, repeated over mini-batches
and epochs, with validation, metrics, schedules, clipping, callbacks, random restarts and
checkpoints that resume exactly."""

import copy
import time

import numpy as np

from chainrule import capture, distributed, random
from chainrule.autograd.mode import no_grad
from chainrule.nn.utils import clip_grad_norm_
from chainrule.tensor import Tensor
from chainrule.train.callbacks import ProgressBar
from chainrule.train.checkpoint import load_checkpoint, save_checkpoint
from chainrule.train.history import History
from chainrule.train.metrics import get_metric

# Schedulers that move the learning rate every batch, not every epoch.
_PER_BATCH_SCHEDULERS = ("CyclicLR", "OneCycleLR")


def _arrays(data, what):
    if hasattr(data, "tensors") and len(data.tensors) == 2:  # a TensorDataset (inputs, targets)
        data = data.tensors
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(
            f"{what}: expected a pair (inputs, targets) of arrays or tensors, a TensorDataset of two or a "
            f"DataLoader, got {type(data).__name__}"
        )
    x, y = (d.data if isinstance(d, Tensor) else np.asarray(d) for d in data)
    if len(x) != len(y):
        raise ValueError(f"{what}: {len(x)} inputs but {len(y)} targets")
    if len(x) == 0:
        raise ValueError(f"{what}: the data set is empty")
    return x, y


class _Arrays:
    """Training data held as two arrays: the loop draws each epoch's order itself (seeded, and
    sharded across MPI ranks)."""

    def __init__(self, data, what):
        self.x, self.y = _arrays(data, what)

    def __len__(self):
        return len(self.x)

    def batches_per_epoch(self, batch_size):
        return -(-len(distributed.shard(np.arange(len(self.x)))) // batch_size)

    def epoch(self, batch_size, shuffle):
        n = len(self.x)
        order = random.get_generator().permutation(n) if shuffle else np.arange(n)
        order = distributed.shard(order)  # this rank's share of the epoch (all of it in one process)
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            yield self.x[index], self.y[index]

    def in_order(self, batch_size):
        for start in range(0, len(self.x), batch_size):
            yield self.x[start:start + batch_size], self.y[start:start + batch_size]


class _Loader:
    """Training data given as a DataLoader of (inputs, targets) batches: its own batch size,
    shuffling (from chainrule's generator, so runs still repeat and resume) and collation."""

    def __init__(self, loader, what):
        if distributed.is_distributed():
            raise ValueError(f"{what}: a DataLoader is not sharded across MPI ranks; pass (inputs, targets) arrays")
        if len(loader) == 0:
            raise ValueError(f"{what}: the DataLoader yields no batch")
        self.loader, self.what = loader, what

    def __len__(self):
        return len(self.loader.dataset)

    def batches_per_epoch(self, batch_size):
        return len(self.loader)

    def epoch(self, batch_size, shuffle):
        for batch in self.loader:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise TypeError(f"{self.what}: the DataLoader must yield (inputs, targets) pairs")
            yield tuple(b.data if isinstance(b, Tensor) else np.asarray(b) for b in batch)

    def in_order(self, batch_size):
        return self.epoch(batch_size, False)


def _source(data, what):
    is_loader = hasattr(data, "dataset") and hasattr(data, "batch_size") and hasattr(data, "__iter__")
    return _Loader(data, what) if is_loader else _Arrays(data, what)


class Trainer:
    """Everything a training run needs, and the state callbacks see (``epoch``, ``step``,
    ``history``, ``stop_training``). ``fit`` is the one-call front end."""

    def __init__(self, model, loss_fn, optimizer, *, batch_size: int = 32, shuffle: bool = True,
                 metrics=("accuracy",), scheduler=None, scheduler_interval: str = "auto",
                 grad_clip=None, callbacks=(), verbose: int = 1, monitor_gradients: bool = True,
                 compile_step: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if grad_clip is not None and not grad_clip > 0:
            raise ValueError(f"grad_clip must be a positive max norm, got {grad_clip}")
        if scheduler_interval not in ("auto", "epoch", "batch"):
            raise ValueError(
                f"scheduler_interval must be 'auto', 'epoch' or 'batch', got {scheduler_interval!r}"
            )
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        # forward, loss and backward of each batch as a captured step (refused here, by layer name,
        # for a model it cannot capture)
        self.captured = capture.compile_step(model, loss_fn, optimizer) if compile_step else None
        self.batch_size, self.shuffle = batch_size, shuffle
        self.metrics = [get_metric(m) for m in metrics]
        self.scheduler = scheduler
        if scheduler_interval == "auto":
            scheduler_interval = "batch" if type(scheduler).__name__ in _PER_BATCH_SCHEDULERS else "epoch"
        self.scheduler_interval = scheduler_interval
        self.grad_clip = grad_clip
        self.callbacks = list(callbacks)
        if verbose and distributed.is_main() and not any(isinstance(c, ProgressBar) for c in self.callbacks):
            self.callbacks.append(ProgressBar(verbose))
        self.monitor_gradients = monitor_gradients
        self.history = History()
        self.epoch = 0
        self.step = 0
        self.epochs = 0
        self.batches_per_epoch = 0
        self.stop_training = False
        self.checkpoint_path = None

    # -- control ----------------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """Ask the loop to stop after the current step; the reason goes into the History."""
        self.stop_training = True
        self.history.stopped = reason

    def _emit(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    def _param_dtype(self):
        for p in self.model.parameters():
            return p.data.dtype
        return None

    @staticmethod
    def _as_tensor(array, dtype):
        """A batch as a tensor; floating data in the model's dtype ``dtype`` (integer class labels
        and token indices stay as they are)."""
        if array.dtype.kind == "f" and dtype is not None and array.dtype != dtype:
            array = array.astype(dtype)
        return Tensor._make(array, False, None)

    # -- one epoch --------------------------------------------------------------------------
    def _train_epoch(self, data, monitor):
        self.model.train()
        total, seen = 0.0, 0
        outputs, targets = [], []
        dtype = self._param_dtype()
        for batch, (x, y) in enumerate(data.epoch(self.batch_size, self.shuffle)):
            xb, yb = self._as_tensor(x, dtype), self._as_tensor(y, dtype)
            if self.captured is None:
                out = self.model(xb)
                loss = self.loss_fn(out, yb)
                self.optimizer.zero_grad()
                loss.backward()
                loss_value, output = float(loss.data), out.data
            else:
                loss_value, output = self.captured.forward_backward(xb, yb)
            # the mean gradient and loss over all ranks' batches (one Allreduce; nothing in one process)
            batch_loss = distributed.average_gradients(self.model.parameters(), loss_value)
            self.step += 1
            logs = {"loss": batch_loss}
            self._emit("on_after_backward", logs)
            if self.stop_training:
                return None
            if self.grad_clip is not None:
                clip_grad_norm_(self.model.parameters(), self.grad_clip)
            if monitor is not None:
                monitor.after_backward()
            self.optimizer.step()
            if monitor is not None:
                monitor.after_step()
            if self.scheduler is not None and self.scheduler_interval == "batch":
                self.scheduler.step()
            total += logs["loss"] * len(x)
            seen += len(x)
            if self.metrics:
                outputs.append(output)
                targets.append(yb.data)
            self._emit("on_batch_end", batch, logs)
            if self.stop_training:
                break
        record = {"loss": total / max(seen, 1)}
        if self.metrics and outputs:
            record.update(self._metric_values(np.concatenate(targets), np.concatenate(outputs), ""))
        return distributed.reduce_metrics(record, seen)  # every rank sees (and decides on) the same record

    def _metric_values(self, targets, outputs, prefix):
        return {f"{prefix}{name}": fn(targets, outputs) for name, fn in self.metrics}

    def evaluate(self, data, prefix: str = "") -> dict:
        """Loss and metrics on ``data`` (inputs and targets, as ``fit`` takes them) in eval mode,
        without recording a graph."""
        source = data if isinstance(data, (_Arrays, _Loader)) else _source(data, "evaluate")
        was_training = self.model.training
        self.model.eval()
        total, seen, outputs, targets = 0.0, 0, [], []
        try:
            with no_grad():
                dtype = self._param_dtype()
                for x, y in source.in_order(self.batch_size):
                    out = self.model(self._as_tensor(x, dtype))
                    total += float(self.loss_fn(out, self._as_tensor(y, dtype)).data) * len(x)
                    seen += len(x)
                    outputs.append(out.data)
                    targets.append(y)
        finally:
            self.model.train(was_training)
        record = {f"{prefix}loss": total / seen}
        record.update(self._metric_values(np.concatenate(targets), np.concatenate(outputs), prefix))
        return record

    def predict(self, inputs) -> np.ndarray:
        """The model's outputs for ``inputs`` in eval mode, batch by batch."""
        x = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        dtype = self._param_dtype()
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                return np.concatenate([
                    self.model(self._as_tensor(x[s:s + self.batch_size], dtype)).data
                    for s in range(0, len(x), self.batch_size)
                ])
        finally:
            self.model.train(was_training)

    # -- a run ------------------------------------------------------------------------------
    def _run(self, data, val, first_epoch):
        from chainrule.diagnostics import GradientMonitor

        # About 8 sampled batches per epoch: the statistics cost a few passes over the weights
        # (a copy for the update ratio), as much as the step itself for small networks.
        every = max(1, self.batches_per_epoch // 8)
        # A captured step runs no forward hooks, so it is not asked for dead-ReLU counts (which
        # would need them on every sampled batch, each then run eagerly).
        monitor = (GradientMonitor(self.model, every=every, track_dead_relu=self.captured is None)
                   if self.monitor_gradients else None)
        distributed.broadcast_parameters(self.model)  # every rank starts from rank 0's weights
        distributed.broadcast_rng_state()  # ... and draws rank 0's shuffles
        self._emit("on_train_begin")
        try:
            for epoch in range(first_epoch, self.epochs + 1):
                self.epoch = epoch
                self._emit("on_epoch_begin", epoch)
                started = time.perf_counter()
                lr = self.optimizer.param_groups[0]["lr"]
                record = self._train_epoch(data, monitor)
                if record is None:  # stopped before the update: nothing of this epoch is kept
                    break
                distributed.broadcast_buffers(self.model)  # rank 0's batch norm statistics everywhere
                if val is not None:
                    record.update(self.evaluate(val, prefix="val_"))
                record = {"epoch": epoch, **record, "lr": lr, "time": time.perf_counter() - started}
                if monitor is not None:
                    record["grad_norms"] = monitor.epoch_summary()
                if self.scheduler is not None and self.scheduler_interval == "epoch":
                    if type(self.scheduler).__name__ == "ReduceLROnPlateau":
                        self.scheduler.step(record.get("val_loss", record["loss"]))
                    else:
                        self.scheduler.step()
                self.history.append(record)
                if self.checkpoint_path is not None:
                    self.save_checkpoint(self.checkpoint_path)
                self._emit("on_epoch_end", epoch, record)
                if self.stop_training:
                    break
        finally:
            if monitor is not None:
                monitor.close()
        self._emit("on_train_end")

    def fit(self, train_data, *, epochs: int, val_data=None, restarts: int = 1, seed=None,
            resume_from=None, checkpoint=None) -> History:
        """Train for ``epochs`` epochs (see ``chainrule.train.fit``) and return the History."""
        distributed.init_if_launched()
        data = _source(train_data, "fit")
        val = _source(val_data, "fit(val_data)") if val_data is not None else None
        if epochs < 1:
            raise ValueError(f"fit: epochs must be >= 1, got {epochs}")
        if restarts < 1:
            raise ValueError(f"fit: restarts must be >= 1, got {restarts}")
        if resume_from is not None and restarts != 1:
            raise ValueError(
                "fit: resume_from continues a single run; it cannot be combined with restarts > 1"
            )
        self.epochs = epochs
        self.batches_per_epoch = data.batches_per_epoch(self.batch_size)
        self.checkpoint_path = checkpoint
        if seed is not None:
            random.manual_seed(seed)
        if resume_from is not None:
            self.load_checkpoint(resume_from)
            if not self.stop_training:
                self._run(data, val, self.epoch + 1)
            return self.history
        if restarts == 1:
            self._run(data, val, 1)
            return self.history
        return self._fit_with_restarts(data, val, restarts)

    def _fit_with_restarts(self, data, val, restarts):
        """K runs from fresh random initialisations; keep the one with the lowest final validation
        loss (training loss without validation data): the classic escape from local minima."""
        layers_without_reset = [
            name for name, m in self.model.named_modules()
            if m._parameters and not hasattr(m, "reset_parameters")
        ]
        if layers_without_reset:
            raise ValueError(
                f"fit(restarts=...): layers {layers_without_reset} have no reset_parameters(), "
                "so they cannot be re-initialised"
            )
        fresh_optimizer = copy.deepcopy(self.optimizer.state_dict())
        fresh_scheduler = self.scheduler.state_dict() if self.scheduler is not None else None
        best = None
        runs = []
        for run in range(restarts):
            if run > 0:
                for module in self.model.modules():
                    if hasattr(module, "reset_parameters"):
                        module.reset_parameters()
                self.optimizer.load_state_dict(copy.deepcopy(fresh_optimizer))
                if self.scheduler is not None:
                    self.scheduler.load_state_dict(fresh_scheduler)
            self.history, self.stop_training, self.step = History(), False, 0
            self._run(data, val, 1)
            final = self.history.last
            score = final.get("val_loss", final.get("loss", float("inf")))
            score = score if np.isfinite(score) else float("inf")
            runs.append({"run": run, "score": score, "epochs": len(self.history),
                         "loss": self.history["loss"], "val_loss": self.history["val_loss"]})
            if best is None or score < best[0]:
                best = (score, run, {k: v.copy() for k, v in self.model.state_dict().items()}, self.history)
        score, best_run, weights, history = best
        self.model.load_state_dict(weights)
        history.runs, history.best_run = runs, best_run
        self.history = history
        return history

    # -- checkpoints ------------------------------------------------------------------------
    def save_checkpoint(self, path) -> None:
        """Write a checkpoint from which ``fit(resume_from=path)`` continues exactly (under MPI,
        rank 0 writes it; the ranks hold the same state)."""
        if not distributed.is_main():
            return
        save_checkpoint(path, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                        epoch=self.epoch, step=self.step, history=self.history, callbacks=self.callbacks,
                        extra={"stop_training": self.stop_training})

    def load_checkpoint(self, path) -> None:
        """Restore model, optimizer, scheduler, callbacks, RNG, counters and History."""
        state = load_checkpoint(path)
        self.model.load_state_dict(state["model"])
        if state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for callback, saved in zip(self.callbacks, state["callbacks"]):
            if saved is not None and hasattr(callback, "load_state_dict"):
                callback.load_state_dict(saved)
        random.set_rng_state(state["rng"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.history = History.from_dict(state["history"]) if state["history"] else History()
        self.stop_training = bool((state["extra"] or {}).get("stop_training"))


def fit(model, loss_fn, optimizer, train_data, *, val_data=None, epochs: int, batch_size: int = 32,
        shuffle: bool = True, metrics=("accuracy",), scheduler=None, grad_clip=None, callbacks=(),
        restarts: int = 1, seed=None, verbose: int = 1, resume_from=None, checkpoint=None,
        compile_step: bool = False) -> History:
    """Train ``model`` by backpropagation and return its History.

    train_data / val_data: pairs (inputs, targets) of arrays or tensors, a TensorDataset of the
    two, or a DataLoader yielding such pairs (which then sets the batches itself). Each epoch
    shuffles (with chainrule's seeded generator) and walks the data in batches of ``batch_size``: 1 is
    stochastic gradient descent, ``len(data)`` full-batch gradient descent, anything between
    mini-batch. For every batch: forward, ``loss_fn(output, target)``, backward, optional
    gradient clipping to norm ``grad_clip``, ``optimizer.step()``. ``scheduler`` steps each epoch
    (each batch for CyclicLR and OneCycleLR; ReduceLROnPlateau gets the validation loss).
    ``restarts=K`` trains K times from fresh initialisations and keeps the best run. ``verbose``:
    0 silent, 1 a progress bar on a terminal, 2 one line per epoch on any output.
    ``checkpoint=path`` writes a resumable checkpoint after every epoch; ``resume_from=path``
    continues such a run exactly (same final weights as an uninterrupted run).
    ``compile_step=True`` runs each batch's forward, loss and backward as a captured step
    (``chainrule.compile_step``: the same numbers, less time per batch for small networks; an
    ``nn.Sequential`` of the layers it lists, else a NotImplementedError naming the layer); the
    gradient statistics then leave out the dead-ReLU fractions.

    >>> import numpy as np, chainrule as cr
    >>> from chainrule import nn, optim
    >>> _ = cr.manual_seed(0)
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    >>> y = np.array([0, 1, 1, 0])
    >>> model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    >>> loss = lambda out, t: cr.nn.functional.cross_entropy(out, t)
    >>> history = fit(model, loss, optim.Adam(model.parameters(), lr=0.05), (X, y),
    ...               epochs=150, batch_size=4, verbose=0)
    >>> history.last["accuracy"]
    1.0
    """
    trainer = Trainer(model, loss_fn, optimizer, batch_size=batch_size, shuffle=shuffle, metrics=metrics,
                      scheduler=scheduler, grad_clip=grad_clip, callbacks=callbacks, verbose=verbose,
                      compile_step=compile_step)
    return trainer.fit(train_data, epochs=epochs, val_data=val_data, restarts=restarts, seed=seed,
                       resume_from=resume_from, checkpoint=checkpoint)
