"""The captured training step (chainrule.compile_step) against the eager step it must equal: same
losses, gradients and weights, bit for bit, for every captured layer; eager fallbacks; refusals."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim


def _pair(build, make_optimizer):
    """Two identical models (same seed), each with its own optimizer."""
    models = []
    for _ in range(2):
        cr.manual_seed(0)
        models.append(build())
    return [(m, make_optimizer(m.parameters())) for m in models]


def _eager_step(model, loss_fn, optimizer, x, y):
    optimizer.zero_grad()
    loss = loss_fn(model(cr.from_numpy(x)), cr.from_numpy(y))
    loss.backward()
    optimizer.step()
    return loss.item()


def _assert_same_training(build, loss_fn, x, y, make_optimizer=lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                          steps=4):
    (eager, eager_opt), (captured, captured_opt) = _pair(build, make_optimizer)
    step = cr.compile_step(captured, loss_fn, captured_opt)
    for _ in range(steps):
        assert step(x, y) == _eager_step(eager, loss_fn, eager_opt, x, y)
    for (name, p), q in zip(eager.named_parameters(), captured.parameters()):
        np.testing.assert_array_equal(q._data, p._data, err_msg=name)
        if p.grad is None:
            assert q.grad is None, name
        else:
            np.testing.assert_array_equal(q.grad, p.grad, err_msg=name)
            assert q.grad.dtype == p._data.dtype
    assert step.eager_calls == 0
    return step


rng = np.random.default_rng(0)
CLASSES = rng.integers(0, 3, 6)


@pytest.mark.parametrize("build, x", [
    (lambda: nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3)), rng.standard_normal((6, 5))),
    (lambda: nn.Sequential(nn.Linear(9, 4), nn.Tanh(), nn.Sequential(nn.Linear(4, 4), nn.Sigmoid()),
                           nn.Identity(), nn.Linear(4, 3)), rng.standard_normal((6, 9))),
    (lambda: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 4, 2, stride=2),
                           nn.Flatten(), nn.Linear(8, 3)), rng.standard_normal((6, 2, 8, 7))),
    (lambda: nn.Sequential(nn.Conv1d(2, 4, 3, dilation=2, groups=2), nn.MaxPool1d(3, stride=1, padding=1),
                           nn.Tanh(), nn.Flatten(), nn.Linear(4 * 6, 3)), rng.standard_normal((6, 2, 10))),
    # ReLU then MaxPool, which the captured step runs as MaxPool then ReLU: windows that are all
    # negative (shifted inputs), padding, ceil_mode
    (lambda: nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True),
                           nn.Flatten(), nn.Linear(4 * 5, 3)), rng.standard_normal((6, 2, 10)) - 1.0),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_captured_step_equals_the_eager_step_bit_for_bit(build, x, dtype):
    def typed():
        model = build()
        return model.double() if dtype == np.float64 else model

    _assert_same_training(typed, nn.CrossEntropyLoss(), x.astype(dtype), CLASSES)


def test_a_relu_before_a_max_pool_runs_after_it_in_the_captured_step():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten())
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    assert [type(layer.m).__name__ if hasattr(layer, "m") else type(layer).__name__ for layer in step.layers] == [
        "Conv2d", "MaxPool2d", "_Elementwise", "_Elementwise", "_Flatten"]


def test_captured_step_with_mse_adam_and_a_frozen_layer():
    def build():
        model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())
        model[0].bias.requires_grad = False
        return model

    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    step = _assert_same_training(build, nn.MSELoss(), x, y, lambda p: optim.Adam(p, lr=0.05))
    assert step.model[0].bias.grad is None


def test_parameters_outside_the_optimizer_accumulate_as_in_eager():
    def build():
        return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))

    (eager, _), (captured, _) = _pair(build, lambda p: None)
    make = lambda m: optim.SGD(m[2].parameters(), lr=0.1)
    eager_opt, captured_opt = make(eager), make(captured)
    x, y = rng.standard_normal((5, 3)).astype(np.float32), rng.integers(0, 2, 5)
    step = cr.compile_step(captured, nn.CrossEntropyLoss(), captured_opt)
    for _ in range(3):
        assert step(x, y) == _eager_step(eager, nn.CrossEntropyLoss(), eager_opt, x, y)
    np.testing.assert_array_equal(captured[0].weight.grad, eager[0].weight.grad)


def test_calls_eager_cannot_capture_fall_back_to_the_eager_step():
    model = nn.Sequential(nn.Linear(3, 2))
    step = cr.compile_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    x = rng.standard_normal((4, 3)).astype(np.float32)
    seen = []
    handle = model[0].register_forward_hook(lambda module, args, out: seen.append(out.shape))
    step(x, np.array([0, 1, 1, 0]))
    assert seen == [(4, 2)] and step.eager_calls == 1  # the hook ran: the call was eager
    handle.remove()
    with pytest.raises(ValueError, match="cross_entropy"):  # eager's own error for a bad class index
        step(x, np.array([0, 1, 2, 0]))
    assert step.eager_calls == 2
    step(x, np.array([0, 1, 1, 0]))
    assert step.eager_calls == 2


def test_inputs_of_another_dtype_are_refused_as_eager_refuses_them():
    model = nn.Sequential(nn.Linear(3, 2))
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    for dtype in (np.float64, np.int64):
        with pytest.raises(RuntimeError, match="linear: expected operands of one dtype"):
            step(np.ones((4, 3), dtype), np.zeros((4, 2), np.float32))
    assert step.eager_calls == 2


def test_unsupported_models_layers_and_losses_are_refused_by_name():
    sgd = lambda m: optim.SGD(m.parameters(), lr=0.1)
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5))
    with pytest.raises(NotImplementedError, match=r"Dropout is not captured .*Linear, ReLU"):
        cr.compile_step(model, nn.MSELoss(), sgd(model))
    lstm = nn.LSTM(3, 2)
    with pytest.raises(NotImplementedError, match=r"captures an nn\.Sequential, got LSTM"):
        cr.compile_step(lstm, nn.MSELoss(), sgd(lstm))
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(NotImplementedError, match="L1Loss is not captured"):
        cr.compile_step(model, nn.L1Loss(), sgd(model))
    with pytest.raises(NotImplementedError, match="label smoothing"):
        cr.compile_step(model, nn.CrossEntropyLoss(label_smoothing=0.1), sgd(model))


def test_mse_targets_of_another_shape_are_refused_as_in_eager():
    model = nn.Sequential(nn.Linear(3, 1))
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=r"target has shape \(4,\), expected the input's shape \(4, 1\)"):
        step(np.ones((4, 3), np.float32), np.ones(4, np.float32))


def test_fit_with_compile_step_trains_exactly_as_eager_fit():
    from chainrule.train import Trainer

    X = rng.standard_normal((40, 6)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    build = lambda: nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    runs = []
    for compile_step in (False, True):
        (model, opt), _ = _pair(build, lambda p: optim.SGD(p, lr=0.1, momentum=0.9))
        cr.manual_seed(1)  # the same shuffles
        trainer = Trainer(model, nn.CrossEntropyLoss(), opt, batch_size=8, grad_clip=0.5, verbose=0,
                          compile_step=compile_step)
        history = trainer.fit((X, y), val_data=(X[:10], y[:10]), epochs=3)
        assert (trainer.captured is None) != compile_step
        runs.append((model, history))
    assert trainer.captured.eager_calls == 0
    (eager, eager_history), (captured, captured_history) = runs
    for key in ("loss", "accuracy", "val_loss"):
        assert captured_history[key] == eager_history[key], key
    assert captured_history.last["grad_norms"]["0"] == eager_history.last["grad_norms"]["0"]
    for p, q in zip(eager.parameters(), captured.parameters()):
        np.testing.assert_array_equal(q._data, p._data)


def test_fit_refuses_compile_step_for_a_model_it_cannot_capture():
    from chainrule.train import fit

    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.2), nn.Linear(4, 2))
    with pytest.raises(NotImplementedError, match="compile_step: Dropout is not captured"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
            (np.ones((4, 3), np.float32), np.zeros(4, int)), epochs=1, verbose=0, compile_step=True)
