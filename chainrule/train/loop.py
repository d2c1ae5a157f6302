"""The training loop: forward pass, loss, backward pass, weight update, repeated over mini-batches
and epochs, with validation, metrics, schedules, clipping, callbacks, random restarts and
checkpoints that resume exactly."""

import copy
import os
import time

import numpy as np

from chainrule import distributed, random
from chainrule._arguments import bool_arg, int_arg, number_arg
from chainrule._tensor import Tensor
from chainrule.autograd.mode import no_grad
from chainrule.nn.embedding import Embedding
from chainrule.nn.utils import clip_grad_norm_
from chainrule.optim.lr_scheduler import CyclicLR, OneCycleLR, ReduceLROnPlateau
from chainrule.train.callbacks import HOOKS, ProgressBar
from chainrule.train.checkpoint import load_checkpoint, save_checkpoint
from chainrule.train.history import History
from chainrule.train.metrics import get_metric
from chainrule.train.validation import check_data, field

# Schedulers that move the learning rate every batch, not every epoch.
_PER_BATCH_SCHEDULERS = (CyclicLR, OneCycleLR)


def _as_array(value, what, name):
    """One side of a data pair as a checked array: numbers, every one finite."""
    if value is None:
        raise TypeError(f"{what}: the {name} are None; expected an array or tensor with one entry per sample")
    try:
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{what}: the {name} cannot be made into one array ({err})") from None
    return check_data(what, name, array)


def _check_batch(x, y, what, batch):
    """A DataLoader batch, checked as it comes (arrays given whole are checked once, up front)."""
    where = f"{what}: DataLoader batch {batch}"
    check_data(where, "inputs", x)
    check_data(where, "targets", y)


def _arrays(data, what):
    if hasattr(data, "tensors") and len(data.tensors) == 2:  # a TensorDataset (inputs, targets)
        data = data.tensors
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(
            f"{what}: expected a pair (inputs, targets) of arrays or tensors, a TensorDataset of two or a "
            f"DataLoader, got {type(data).__name__}"
        )
    x, y = _as_array(data[0], what, "inputs"), _as_array(data[1], what, "targets")
    if len(x) != len(y):
        raise ValueError(f"{what}: {len(x)} inputs but {len(y)} targets")
    if len(x) == 0:
        raise ValueError(f"{what}: the data set is empty")
    return x, y


class _Arrays:
    """Training data held as two arrays: the loop draws each epoch's order itself (seeded), and
    under MPI each rank takes its rows of every global batch (chainrule.distributed)."""

    def __init__(self, data, what):
        self.x, self.y = _arrays(data, what)

    def __len__(self):
        return len(self.x)

    def batches_per_epoch(self, batch_size):
        return distributed.batches_per_epoch(len(self.x), batch_size)

    def epoch(self, batch_size, shuffle):
        """This rank's rows r, r + N, ... of each global batch of ``batch_size`` x N samples (N ranks),
        cut from the epoch's order as one process with that batch cuts it: nothing padded, and a
        rank's rows of the last, short batch may be none. The random ops of the forward pass learn
        which rows these are (random.set_batch_share); in one process they are all of them (None)."""
        n, world, me = len(self.x), distributed.world_size(), distributed.rank()
        order = random.get_generator().permutation(n) if shuffle else np.arange(n)
        size = batch_size * world
        try:
            for start in range(0, n, size):
                index = order[start:start + size]
                if world > 1:
                    random.set_batch_share(slice(me, None, world), len(index))
                    index = index[me::world]
                yield self.x[index], self.y[index]
        finally:
            random.set_batch_share(None)
        # A rank without rows in the last batch drew nothing for it: rank 0's generator for everyone.
        distributed.broadcast_rng_state()

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
            yield tuple(b._data if isinstance(b, Tensor) else np.asarray(b) for b in batch)

    def in_order(self, batch_size):
        return self.epoch(batch_size, False)


def _source(data, what):
    is_loader = hasattr(data, "dataset") and hasattr(data, "batch_size") and hasattr(data, "__iter__")
    return _Loader(data, what) if is_loader else _Arrays(data, what)


class Trainer:
    """Everything a training run needs, and the state callbacks see (``epoch``, ``step``,
    ``history``, ``stop_training``, ``resumed``). ``fit`` is the one-call front end."""

    def __init__(self, model, loss_fn, optimizer, *, batch_size: int = 32, shuffle: bool = True,
                 metrics=("accuracy",), scheduler=None, scheduler_interval: str = "auto",
                 grad_clip=None, callbacks=(), verbose: int = 1, monitor_gradients: bool = True):
        where = "fit"  # the arguments are fit's; Trainer is its engine
        if not callable(loss_fn):
            raise TypeError(f"{where}: loss_fn must be callable as loss_fn(output, target), got {loss_fn!r}")
        if not all(callable(getattr(optimizer, m, None)) for m in ("step", "zero_grad")) \
                or not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{where}: optimizer must be a chainrule.optim optimizer, got {type(optimizer).__name__}")
        batch_size = int_arg(batch_size, "batch_size", where, minimum=1)
        shuffle = bool_arg(shuffle, "shuffle", where)
        if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
            raise TypeError(f"{where}: metrics must be a list of metric names or callables, got {metrics!r}")
        if scheduler is not None:
            if not callable(getattr(scheduler, "step", None)):
                raise TypeError(f"{where}: scheduler must be an lr_scheduler (LRScheduler or ReduceLROnPlateau) "
                                f"with a step() method, got {scheduler!r}")
            if getattr(scheduler, "optimizer", optimizer) is not optimizer:
                raise ValueError(f"{where}: the scheduler was built on another optimizer than the one given to fit; "
                                 "its learning rates would never reach the training")
        if scheduler_interval not in ("auto", "epoch", "batch"):
            raise ValueError(
                f"{where}: scheduler_interval must be 'auto', 'epoch' or 'batch', got {scheduler_interval!r}"
            )
        if grad_clip is not None:
            grad_clip = number_arg(grad_clip, "grad_clip", where, low=0, low_open=True)
        if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, (list, tuple)):
            raise TypeError(f"{where}: callbacks must be a list of Callback objects, got {callbacks!r}")
        for cb in callbacks:
            missing = [hook for hook in HOOKS if not callable(getattr(cb, hook, None))]
            if missing:
                raise TypeError(f"{where}: callbacks must be Callback objects (subclass chainrule.train.Callback), "
                                f"got {cb!r}, which lacks {missing}")
        verbose = int_arg(verbose, "verbose", where, minimum=0)
        if verbose > 2:
            raise ValueError(f"{where}: verbose must be 0, 1 or 2, got {verbose}")
        monitor_gradients = bool_arg(monitor_gradients, "monitor_gradients", where)
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self._numeric_inputs = not any(isinstance(m, Embedding) for m in model.modules())
        self.batch_size, self.shuffle = batch_size, shuffle
        try:
            self.metrics = [get_metric(m) for m in metrics]
        except (TypeError, ValueError) as err:
            raise type(err)(f"{where}: {err}") from None
        self.scheduler = scheduler
        if scheduler_interval == "auto":
            scheduler_interval = "batch" if isinstance(scheduler, _PER_BATCH_SCHEDULERS) else "epoch"
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
        self.resumed = False  # True on a run continued from a checkpoint (callbacks may ask)
        self.checkpoint_path = None
        self._requested = []  # checkpoints that callbacks asked for this epoch
        self._callback_states = None  # a checkpoint's callback states, loaded after on_train_begin

    # -- control ----------------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """Ask the loop to stop after the current step; the reason goes into the History."""
        self.stop_training = True
        self.history.stopped = reason

    def request_checkpoint(self, path) -> None:
        """Write a checkpoint to ``path`` at the end of this epoch, once every callback has seen it
        (``ModelCheckpoint`` asks this way, so its file holds every callback's decision)."""
        self._requested.append(path)

    def _write_checkpoints(self):
        paths = [*self._requested, *([self.checkpoint_path] if self.checkpoint_path is not None else [])]
        self._requested = []
        for path in paths:
            self.save_checkpoint(path)

    def _emit(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    def _param_dtype(self):
        for p in self.model.parameters():
            return p._data.dtype
        return None

    @staticmethod
    def _as_tensor(array, dtype, integers_too: bool = False):
        """A batch as a tensor; floating data in the model's dtype ``dtype``, and integer or boolean
        data too when ``integers_too`` (features; class labels and token indices stay as they are)."""
        if dtype is not None and array.dtype != dtype and (
                array.dtype.kind == "f" or (integers_too and array.dtype.kind in "biu")):
            array = array.astype(dtype)
        return Tensor._make(array, False, None)

    def _as_input(self, array, dtype):
        """A batch of inputs as a tensor: integer features become the model's floating dtype (as
        scikit-learn's and Keras' fit convert them), except for a model with an Embedding, whose
        inputs are indices."""
        return self._as_tensor(array, dtype, integers_too=self._numeric_inputs)

    # -- one epoch --------------------------------------------------------------------------
    def _train_epoch(self, data, monitor):
        self.model.train()
        total, seen = 0.0, 0
        outputs, targets = [], []
        dtype = self._param_dtype()
        whole = isinstance(data, _Arrays)  # checked once in fit; a DataLoader's batches as they come
        for batch, (x, y) in enumerate(data.epoch(self.batch_size, self.shuffle)):
            if not whole:
                _check_batch(x, y, "fit", batch)
            xb, yb = self._as_input(x, dtype), self._as_tensor(y, dtype)
            if len(x) == 0:  # under MPI a rank may hold no row of the last batch: it adds nothing (count 0)
                self.optimizer.zero_grad()
                loss_value, output = 0.0, None
            else:
                out = self.model(xb)
                loss = self.loss_fn(out, yb)
                self.optimizer.zero_grad()
                loss.backward()
                loss_value, output = float(loss._data), out._data
            # the mean gradient and loss over all ranks' batches (one Allreduce; nothing in one process)
            batch_loss = distributed.average_gradients(self.model.parameters(), loss_value, count=len(x))
            self.step += 1
            logs = {"loss": batch_loss}
            self._emit("on_after_backward", logs)
            if self.stop_training:
                return None
            if self.grad_clip is not None:
                clip_grad_norm_(self.model.parameters(), self.grad_clip)
            if monitor is not None:
                monitor.after_backward(loss=batch_loss)
            self.optimizer.step()
            if monitor is not None:
                monitor.after_step()
            if self.scheduler is not None and self.scheduler_interval == "batch":
                self.scheduler.step()
            total += logs["loss"] * len(x)
            seen += len(x)
            if self.metrics and output is not None:
                outputs.append(output)
                targets.append(yb._data)
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
                for batch, (x, y) in enumerate(source.in_order(self.batch_size)):
                    if not isinstance(source, _Arrays):
                        _check_batch(x, y, "evaluate", batch)
                    out = self.model(self._as_input(x, dtype))
                    total += float(self.loss_fn(out, self._as_tensor(y, dtype))._data) * len(x)
                    seen += len(x)
                    outputs.append(out._data)
                    targets.append(y)
        finally:
            self.model.train(was_training)
        record = {f"{prefix}loss": total / seen}
        record.update(self._metric_values(np.concatenate(targets), np.concatenate(outputs), prefix))
        return record

    def predict(self, inputs) -> np.ndarray:
        """The model's outputs for ``inputs`` in eval mode, batch by batch; inputs holding text,
        NaN or infinity are refused."""
        x = _as_array(inputs, "predict", "inputs")
        if len(x) == 0:
            raise ValueError("predict: the inputs hold no sample; expected at least one row")
        dtype = self._param_dtype()
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                return np.concatenate([
                    self.model(self._as_input(x[s:s + self.batch_size], dtype))._data
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
        monitor = GradientMonitor(self.model, every=every) if self.monitor_gradients else None
        distributed.broadcast_parameters(self.model)  # every rank starts from rank 0's weights
        distributed.broadcast_rng_state()  # ... and draws rank 0's shuffles
        self._emit("on_train_begin")
        if self._callback_states is not None:  # a resumed run: the checkpoint's state wins over the resets
            self._load_callback_states(self._callback_states)
        try:
            for epoch in range(first_epoch, self.epochs + 1):
                if self.stop_training:  # resumed from a run that a callback had stopped: it stays stopped
                    break
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
                    if isinstance(self.scheduler, ReduceLROnPlateau):
                        self.scheduler.step(record.get("val_loss", record["loss"]))
                    else:
                        self.scheduler.step()
                self.history.append(record)
                self._emit("on_epoch_end", epoch, record)
                # after the callbacks: the checkpoint holds their state and this epoch's stop decision
                self._write_checkpoints()
                if self.stop_training:
                    break
        finally:
            if monitor is not None:
                monitor.close()
        self._emit("on_train_end")

    def fit(self, train_data, *, epochs: int, val_data=None, restarts: int = 1, seed=None,
            resume_from=None, checkpoint=None) -> History:
        """Train for ``epochs`` epochs (see ``chainrule.train.fit``) and return the History. Each
        call is a new run (fresh History and counters) unless ``resume_from`` continues one."""
        epochs = int_arg(epochs, "epochs", "fit", minimum=1)
        restarts = int_arg(restarts, "restarts", "fit", minimum=1)
        if seed is not None:
            seed = int_arg(seed, "seed", "fit", minimum=0)
        for name, path in (("resume_from", resume_from), ("checkpoint", checkpoint)):
            if path is not None and not isinstance(path, (str, os.PathLike)):
                raise TypeError(f"fit: {name} must be a file path (str or os.PathLike), got {path!r}")
        distributed.init_if_launched()
        data = _source(train_data, "fit")
        val = _source(val_data, "fit(val_data)") if val_data is not None else None
        if distributed.is_distributed():  # before the first collective: every rank holds the same data
            distributed.check_same_data((data.x, data.y), None if val is None else (val.x, val.y))
        if val is None:  # found now, not after the first epoch
            for cb in self.callbacks:
                monitor = getattr(cb, "monitor", None)
                if isinstance(monitor, str) and monitor.startswith("val_"):
                    raise ValueError(f"fit: {type(cb).__name__} monitors {monitor!r}, which needs val_data; "
                                     "pass val_data or monitor a training quantity such as 'loss'")
        if resume_from is not None and restarts != 1:
            raise ValueError(
                "fit: resume_from continues a single run; it cannot be combined with restarts > 1"
            )
        self.epochs = epochs
        self.batches_per_epoch = data.batches_per_epoch(self.batch_size)
        self.checkpoint_path = checkpoint
        self.history, self.epoch, self.step, self.stop_training = History(), 0, 0, False
        self.resumed, self._callback_states, self._requested = False, None, []
        if seed is not None:
            random.manual_seed(seed)
        if resume_from is not None:
            target = self.load_checkpoint(resume_from)
            if self.stop_training and target is not None and epochs > target:
                # more epochs than the stopped run was given: the user asks it to go on
                self.stop_training, self.history.stopped = False, None
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
                best = (score, run, {k: v.numpy().copy() for k, v in self.model.state_dict().items()}, self.history)
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
                        extra={"stop_training": self.stop_training, "epochs": self.epochs})

    def load_checkpoint(self, path):
        """Restore model, optimizer, scheduler, callbacks, RNG, counters and History from a
        checkpoint of a run with the same model, optimizer, scheduler and stateful callbacks (in
        the same order); return the ``epochs`` that run was given (None if not recorded).

        Everything is checked before anything changes; a mismatch raises ValueError naming the
        file. The callbacks' state is loaded again after ``on_train_begin`` when the run resumes.
        """
        state = load_checkpoint(path)
        where = f"load_checkpoint: {path}"
        extra = state["extra"] or {}
        stopped = field(where, {"stop_training": False, **extra}, "stop_training",
                        lambda v: isinstance(v, bool), "true or false")
        target = field(where, {"epochs": None, **extra}, "epochs", lambda v: v is None or (
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 10**9), "an epoch count")
        saved = [c for c in state["callbacks"] if c is not None]
        stateful = [cb for cb in self.callbacks if hasattr(cb, "state_dict")]
        if [c["type"] for c in saved] != [type(cb).__name__ for cb in stateful]:
            raise ValueError(
                f"{where} holds the state of the callbacks {[c['type'] for c in saved]}, but this run has "
                f"{[type(cb).__name__ for cb in stateful]}; resume with the same callbacks, in the same order"
            )
        for name, ours, theirs in (("optimizer", self.optimizer, state["optimizer"]),
                                   ("scheduler", self.scheduler, state["scheduler"])):
            if (ours is None) != (theirs is None):
                raise ValueError(f"{where} holds {'no' if theirs is None else 'a'} {name} state, but this run has "
                                 f"{'no' if ours is None else 'a'} {name}; resume with the same settings")
        states = [c["state"] for c in saved]
        callbacks_before = [copy.deepcopy(cb.state_dict()) for cb in stateful]
        model_before = {k: v.numpy().copy() for k, v in self.model.state_dict().items()}
        optimizer_before = copy.deepcopy(self.optimizer.state_dict())
        try:  # each load is all or nothing; together, too
            self._load_callback_states(states, where)
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
        except (ValueError, TypeError, KeyError, RuntimeError) as err:
            self._load_callback_states(callbacks_before)
            self.model.load_state_dict(model_before)
            self.optimizer.load_state_dict(optimizer_before)
            raise ValueError(err if str(err).startswith(where) else f"{where}: {err}") from None
        random.set_rng_state(state["rng"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.history = state["history"] or History()
        self.stop_training = stopped
        self.resumed, self._callback_states = True, states
        return target

    def _load_callback_states(self, states, where="resume"):
        stateful = [cb for cb in self.callbacks if hasattr(cb, "state_dict")]
        for callback, saved in zip(stateful, states):
            try:
                callback.load_state_dict(saved)
            except (ValueError, TypeError, KeyError) as err:
                raise ValueError(f"{where}: the state of callback {type(callback).__name__}: {err}") from None


def fit(model, loss_fn, optimizer, train_data, *, val_data=None, epochs: int, batch_size: int = 32,
        shuffle: bool = True, metrics=("accuracy",), scheduler=None, grad_clip=None, callbacks=(),
        restarts: int = 1, seed=None, verbose: int = 1, resume_from=None, checkpoint=None) -> History:
    """Train ``model`` by backpropagation and return its History.

    train_data / val_data: pairs (inputs, targets) of arrays or tensors, a TensorDataset of the
    two, or a DataLoader yielding such pairs (which then sets the batches itself). Each epoch
    shuffles (with chainrule's seeded generator) and walks the data in batches of ``batch_size``: 1 is
    stochastic gradient descent, ``len(data)`` full-batch gradient descent, anything between
    mini-batch. For every batch: forward, ``loss_fn(output, target)``, backward, optional
    gradient clipping to norm ``grad_clip``, ``optimizer.step()``. ``scheduler`` steps each epoch
    (each batch for CyclicLR and OneCycleLR; ReduceLROnPlateau gets the validation loss).
    ``restarts=K`` trains K times from fresh initialisations and keeps the best run. ``verbose``:
    0 silent; 1 a progress bar on a terminal or in a notebook (every metric under it) and one line
    per epoch on other output (a pipe, a file); 2 one line per epoch on any output.
    ``checkpoint=path`` writes a resumable checkpoint after every epoch, once the callbacks have
    seen it; ``resume_from=path`` continues such a run exactly (the same weights and History as an
    uninterrupted run), with the same model, optimizer, scheduler and stateful callbacks (whose
    patience counters, best values and best weights the checkpoint holds). Resuming runs up to
    ``epochs``: a run that finished its epochs is extended by a larger ``epochs``; a run that a
    callback stopped (``history.stopped`` says why) stays stopped and trains nothing, unless
    ``epochs`` is larger than the run was first given: that asks it to go on, with the callbacks'
    state as saved (give EarlyStopping a larger ``patience`` to let it run longer).
    Arguments are checked before the first epoch; inputs or targets holding text, NaN or
    infinity are refused (TypeError / ValueError naming the row and column).

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
                      scheduler=scheduler, grad_clip=grad_clip, callbacks=callbacks, verbose=verbose)
    return trainer.fit(train_data, epochs=epochs, val_data=val_data, restarts=restarts, seed=seed,
                       resume_from=resume_from, checkpoint=checkpoint)
