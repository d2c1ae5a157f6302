"""Callbacks driven by scripted sequences of monitored values: EarlyStopping stops after exactly
``patience`` epochs without improvement and puts the best weights back by default (Keras'
meanings); callbacks refuse bad settings and bad state by name."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import ConvergenceStop, CSVLogger, EarlyStopping, JSONLogger, ModelCheckpoint, ProgressBar, fit


class Stub:
    """A stand-in trainer: a model whose weight is set to the epoch number, and a stop flag."""

    def __init__(self):
        self.model, self.stop_training, self.reason = nn.Linear(1, 1), False, None

    def stop(self, reason):
        self.stop_training, self.reason = True, reason


def drive(callback, values, monitor="val_loss"):
    """Feed ``values`` epoch by epoch (weight = epoch number) until the callback stops; return the
    stub and the epoch it stopped at (None if it never did). on_train_end runs at the end."""
    stub = Stub()
    callback.on_train_begin(stub)
    stopped = None
    for epoch, value in enumerate(values, start=1):
        stub.model.weight._data[...] = epoch
        callback.on_epoch_end(stub, epoch, {monitor: value})
        if stub.stop_training:
            stopped = epoch
            break
    callback.on_train_end(stub)
    return stub, stopped


def test_early_stopping_stops_after_exactly_patience_epochs_without_improvement():
    # best at epoch 3; epochs 4..8 do not improve: patience=5 stops at the end of epoch 8 (Keras)
    values = [1.0, 0.8, 0.5, 0.6, 0.55, 0.7, 0.5, 0.51, 0.4, 0.3]
    stub, stopped = drive(EarlyStopping(patience=5), values)
    assert stopped == 8
    assert stub.reason == "early stopping at epoch 8: val_loss did not improve on 0.5 (epoch 3) for 5 epochs"
    assert drive(EarlyStopping(patience=1), values)[1] == 4
    assert drive(EarlyStopping(patience=0), values)[1] == 4  # the first epoch without improvement
    assert drive(EarlyStopping(patience=6), values)[1] is None  # epoch 9 improves in time


def test_early_stopping_restores_the_best_weights_by_default():
    values = [1.0, 0.8, 0.5, 0.6, 0.7, 0.9]
    stub, stopped = drive(EarlyStopping(patience=3), values)
    assert stopped == 6 and stub.model.weight._data.item() == 3  # epoch 3's weights are back
    stub, _ = drive(EarlyStopping(patience=3, restore_best_weights=False), values)
    assert stub.model.weight._data.item() == 6  # the opt-out keeps the last epoch's


def test_early_stopping_restores_the_best_weights_when_all_epochs_ran():
    stub, stopped = drive(EarlyStopping(patience=10), [1.0, 0.5, 0.7, 0.9])
    assert stopped is None and stub.model.weight._data.item() == 2


def test_early_stopping_min_delta_and_max_mode():
    # an improvement must exceed min_delta: 0.995 is no better than 1.0 with min_delta 0.01
    assert drive(EarlyStopping(patience=2, min_delta=0.01), [1.0, 0.995, 0.992, 0.5])[1] == 3
    stub, stopped = drive(EarlyStopping("val_accuracy", patience=2), [0.5, 0.7, 0.6, 0.7], "val_accuracy")
    assert stopped == 4 and stub.model.weight._data.item() == 2


def test_early_stopping_never_takes_nan_as_best():
    stub, stopped = drive(EarlyStopping(patience=2), [float("nan"), 1.0, float("nan"), float("nan")])
    assert stopped == 4 and stub.model.weight._data.item() == 2
    assert "did not improve on 1 (epoch 2)" in stub.reason


def test_early_stopping_as_the_readme_uses_it_keeps_the_best_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    xv = rng.normal(size=(40, 4)).astype(np.float32)
    yv = rng.integers(0, 2, 40)  # noise: validation loss rises as the model fits the training set
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    loss = nn.CrossEntropyLoss()
    history = fit(model, loss, optim.Adam(model.parameters(), lr=0.05), (x, y), val_data=(xv, yv), epochs=40,
                  batch_size=8, callbacks=[EarlyStopping(patience=5)], verbose=0)
    best = int(np.nanargmin(history["val_loss"]))
    assert history.stopped is not None and len(history) == best + 1 + 5
    with cr.no_grad():
        final = loss(model(cr.tensor(xv)), cr.tensor(yv)).item()
    assert final == pytest.approx(history["val_loss"][best], rel=1e-5)


def test_convergence_stop_counts_calm_epochs():
    stop = ConvergenceStop(tol=1e-3, patience=2)
    assert drive(stop, [1.0, 0.5, 0.4995, 0.4991, 0.49], "loss")[1] == 4


@pytest.mark.parametrize("make, error, message", [
    (lambda: EarlyStopping(patience=2.5), TypeError, "EarlyStopping: patience must be an integer >= 0, got 2.5"),
    (lambda: EarlyStopping(patience=-1), ValueError, "patience must be an integer >= 0, got -1"),
    (lambda: EarlyStopping(patience=True), TypeError, "patience must be an integer"),
    (lambda: EarlyStopping(min_delta=float("nan")), ValueError, "min_delta must be a finite number >= 0"),
    (lambda: EarlyStopping(min_delta="0.1"), TypeError, "min_delta must be a finite number >= 0"),
    (lambda: EarlyStopping(restore_best_weights="yes"), TypeError, "restore_best_weights must be True or False"),
    (lambda: EarlyStopping(mode="down"), ValueError, "EarlyStopping: mode must be 'min', 'max' or 'auto'"),
    (lambda: EarlyStopping(monitor=3), TypeError, "monitor must be the name of a record entry"),
    (lambda: ConvergenceStop(tol=-1), ValueError, "ConvergenceStop: tol must be a finite number >= 0"),
    (lambda: ConvergenceStop(patience=0), ValueError, "ConvergenceStop: patience must be an integer >= 1"),
    (lambda: ModelCheckpoint(3), TypeError, "ModelCheckpoint: path must be a str or a path"),
    (lambda: ModelCheckpoint("run-{step}.safetensors"), ValueError, "path may hold {epoch} and no other field"),
    (lambda: CSVLogger(None), TypeError, "CSVLogger: path must be a str or a path, got None"),
    (lambda: JSONLogger(1), TypeError, "JSONLogger: path must be a str or a path"),
    (lambda: ProgressBar(verbose="2"), TypeError, "ProgressBar: verbose must be an integer >= 0"),
])
def test_callback_settings_are_checked(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_callback_state_round_trips_and_bad_state_is_refused():
    early = EarlyStopping(patience=3)
    drive(early, [1.0, 0.5, 0.7])
    again = EarlyStopping(patience=3)
    again.load_state_dict(early.state_dict())
    assert (again.best, again.best_epoch, again.wait) == (0.5, 2, 1)
    np.testing.assert_array_equal(again.best_weights["weight"], [[2.0]])
    with pytest.raises(ValueError, match=r"EarlyStopping\.load_state_dict: the field 'wait' must be a count of epochs"):
        again.load_state_dict({**early.state_dict(), "wait": "1"})
    with pytest.raises(ValueError, match="the field 'best_weights' must be a dict of arrays"):
        again.load_state_dict({**early.state_dict(), "best_weights": {"weight": [1]}})
    with pytest.raises(ValueError, match="expected a dict, got list"):
        ConvergenceStop().load_state_dict([])
