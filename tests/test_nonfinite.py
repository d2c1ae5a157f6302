"""Non-finite and non-numeric data is refused at the training boundary (fit, val_data, evaluate,
predict, DataLoader batches) with the row and column named, before any weight changes; and the
gradient-flow verdict names the real cause of a non-finite gradient instead of blaming the
learning rate."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.diagnostics import GradientFlowWarning, GradientMonitor, check_gradient_flow
from chainrule.train import Trainer, fit


def data(n=24):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n)


def model_and_optimizer():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    return model, optim.SGD(model.parameters(), lr=0.1)


def untouched(model, before):
    return all(np.array_equal(p._data, b) for p, b in zip(model.parameters(), before))


@pytest.mark.parametrize("bad, shown", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_fit_refuses_non_finite_inputs_naming_row_and_column(bad, shown):
    x, y = data()
    x[17, 3] = bad
    x[20, 0] = bad  # the first one (row-major) is named
    model, opt = model_and_optimizer()
    before = [p._data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=rf"^fit: the inputs hold {shown} at row 17, column 3; non-finite data "
                                         "cannot be trained on"):
        fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=1, verbose=0)
    assert untouched(model, before)


def test_fit_refuses_non_finite_targets_and_validation_data():
    x, y = data()
    model, opt = model_and_optimizer()
    targets = np.zeros((24, 2), dtype=np.float64)
    targets[5, 1] = np.nan
    with pytest.raises(ValueError, match="fit: the targets hold NaN at row 5, column 1"):
        fit(model, lambda o, t: ((o[:, :2] - t) ** 2).mean(), opt, (x, targets), epochs=1, verbose=0)
    xv = x.copy()
    xv[2, 2] = np.inf
    with pytest.raises(ValueError, match=r"fit\(val_data\): the inputs hold inf at row 2, column 2"):
        fit(model, nn.CrossEntropyLoss(), opt, (x, y), val_data=(xv, y), epochs=1, verbose=0)
    images = np.zeros((3, 1, 4, 4), dtype=np.float32)
    images[1, 0, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"the inputs hold NaN at row 1, position \(0, 2, 3\)"):
        fit(model, nn.CrossEntropyLoss(), opt, (images, y[:3]), epochs=1, verbose=0)


def test_evaluate_and_predict_refuse_non_finite_inputs():
    x, y = data()
    model, opt = model_and_optimizer()
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, verbose=0)
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="evaluate: the inputs hold NaN at row 3, column 1"):
        trainer.evaluate((x, y))
    with pytest.raises(ValueError, match="predict: the inputs hold NaN at row 3, column 1"):
        trainer.predict(x)
    assert trainer.predict(np.nan_to_num(x)).shape == (24, 3)
    with pytest.raises(ValueError, match="predict: the inputs hold no sample"):
        trainer.predict(np.zeros((0, 4), np.float32))


def test_dataloader_batches_are_checked_as_they_come():
    x, y = data()
    x[13, 2] = np.nan
    model, opt = model_and_optimizer()
    before = [p._data.copy() for p in model.parameters()]
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=False)
    with pytest.raises(ValueError, match="fit: DataLoader batch 1: the inputs hold NaN at row 5, column 2"):
        fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1, verbose=0)
    assert not untouched(model, before)  # batch 0 trained; batch 1 was refused before its forward pass
    assert all(np.isfinite(p._data).all() for p in model.parameters())
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, verbose=0)
    with pytest.raises(ValueError, match="evaluate: DataLoader batch 1: the inputs hold NaN"):
        trainer.evaluate(loader)


@pytest.mark.parametrize("inputs, message", [
    (np.array([["a", "b", "c", "d"]] * 24), r"fit: the inputs have dtype <U1; expected numbers"),
    (np.array([[1, "x", 2.0, None]] * 24, dtype=object), r"fit: the inputs have dtype object; expected numbers"),
    (np.array([[1 + 2j] * 4] * 24), r"fit: the inputs have dtype complex128; expected numbers"),
])
def test_fit_refuses_text_and_object_data(inputs, message):
    model, opt = model_and_optimizer()
    with pytest.raises(TypeError, match=message):
        fit(model, nn.CrossEntropyLoss(), opt, (inputs, data()[1]), epochs=1, verbose=0)


def test_fit_refuses_missing_or_ragged_data():
    x, _ = data()
    model, opt = model_and_optimizer()
    with pytest.raises(TypeError, match="fit: the targets are None; expected an array"):
        fit(model, nn.CrossEntropyLoss(), opt, (x, None), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="fit: the inputs cannot be made into one array"):
        fit(model, nn.CrossEntropyLoss(), opt, ([[1.0, 2.0], [3.0]], [0, 1]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="fit: the targets are a single value"):
        fit(model, nn.CrossEntropyLoss(), opt, (x, 3), epochs=1, verbose=0)


# -- the gradient-flow verdict ----------------------------------------------------------------------
def test_verdict_blames_the_loss_not_the_learning_rate_when_the_loss_is_not_finite():
    norms = {"0": float("nan"), "2": float("nan")}
    message = check_gradient_flow(norms, loss=float("nan"))
    assert message.startswith("non-finite loss (nan) while every weight is finite")
    assert "learning rate is not the cause" in message and "lower the learning rate" not in message
    assert check_gradient_flow(norms, loss=float("nan"), weights_finite=False).startswith("non-finite weights")
    assert check_gradient_flow({"0": float("inf"), "2": 1.0}, loss=0.5).startswith("exploding gradients")
    # finite weights of ordinary size: still the data or the loss
    assert "learning rate is not the cause" in check_gradient_flow(norms, loss=float("nan"), largest_weight=3.0)


def test_verdict_blames_diverging_updates_when_huge_finite_weights_overflow_the_forward_pass():
    norms = {"0": float("nan"), "2": float("nan")}
    message = check_gradient_flow(norms, loss=float("nan"), largest_weight=1e20)
    assert message.startswith("non-finite loss (nan) from weights grown to 1e+20: the updates diverged")
    assert "lower the learning rate" in message and "not the cause" not in message
    # as the monitor sees it: weights blown up by updates, the forward pass overflows float32
    model, _ = model_and_optimizer()
    monitor = GradientMonitor(model)
    with cr.no_grad():
        for p in model.parameters():
            p.mul_(1e20)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = nn.CrossEntropyLoss()(model(cr.tensor(data()[0] * 1e20)), cr.tensor(data()[1]))
        loss.backward()
    assert not np.isfinite(float(loss._data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor.after_backward(loss=float(loss._data))
    messages = [str(w.message) for w in caught if issubclass(w.category, GradientFlowWarning)]
    assert len(messages) == 1 and "the updates diverged" in messages[0], messages


def test_monitor_warning_names_a_non_finite_loss_from_the_data():
    # the data is fine for fit's check, but the loss is undefined on it: log(0) of a probability
    model, _ = model_and_optimizer()
    monitor = GradientMonitor(model)
    out = model(cr.tensor(data()[0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = (out * 0).sum().log()  # log(0) = -inf, and its gradient is inf * 0 = nan
        loss.backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor.after_backward(loss=float(loss._data))
    messages = [str(w.message) for w in caught if issubclass(w.category, GradientFlowWarning)]
    assert len(messages) == 1 and messages[0].startswith("non-finite loss (-inf) while every weight is finite")
    monitor.close()
