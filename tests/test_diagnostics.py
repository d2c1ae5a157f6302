"""GradientMonitor statistics against NumPy, dead ReLUs, the vanishing/exploding-gradient detector
on deep networks, check_gradient_flow, and the plots."""

import json
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.diagnostics import (
    GradientFlowWarning,
    GradientMonitor,
    check_gradient_flow,
    layer_parameters,
    plot_gradient_flow,
    plot_history,
)


def test_layer_parameters_lists_modules_owning_parameters_in_model_order():
    net = nn.Sequential(
        nn.Linear(2, 3), nn.ReLU(), nn.Residual(nn.Sequential(nn.Linear(3, 3), nn.Tanh())), nn.Linear(3, 1)
    )
    assert [(name, type(m).__name__) for name, m in layer_parameters(net)] == [
        ("0", "Linear"), ("2.body.0", "Linear"), ("3", "Linear")
    ]
    assert [name for name, _ in layer_parameters(nn.Linear(2, 2))] == ["Linear"]


def train_batches(net, monitor, batches, lr=0.1, momentum=0.0):
    """Train on the batches, calling the monitor as the fit loop does; returns per batch the
    gradients and the weights before and after each step, as NumPy arrays."""
    opt = optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    record = []
    for x, y in batches:
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        monitor.after_backward()
        grads = {name: [p.grad._data.copy() for p in m.parameters()] for name, m in layer_parameters(net)}
        before = {name: [p._data.copy() for p in m.parameters()] for name, m in layer_parameters(net)}
        opt.step()
        monitor.after_step()
        after = {name: [p._data.copy() for p in m.parameters()] for name, m in layer_parameters(net)}
        record.append((grads, before, after))
    return record


def expected_stats(record, name):
    norms, means, ratios = [], [], []
    for grads, before, after in record:
        g = np.concatenate([a.ravel() for a in grads[name]]).astype(np.float64)
        w0 = np.concatenate([a.ravel() for a in before[name]]).astype(np.float64)
        w1 = np.concatenate([a.ravel() for a in after[name]]).astype(np.float64)
        norms.append(np.linalg.norm(g))
        means.append(np.abs(g).mean())
        ratios.append(np.linalg.norm(w1 - w0) / np.linalg.norm(w0))
    return {"grad_norm": np.mean(norms), "mean_abs_grad": np.mean(means), "update_ratio": np.mean(ratios)}


def random_batches(count, n=8, d_in=3, d_out=2):
    return [(cr.randn(n, d_in), cr.randn(n, d_out)) for _ in range(count)]


def test_epoch_summary_equals_numpy_statistics_and_resets():
    cr.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    monitor = GradientMonitor(net)
    record = train_batches(net, monitor, random_batches(3), momentum=0.9)
    summary = monitor.epoch_summary()
    assert list(summary) == ["0", "1", "2"]  # model order, ReLU under its own name
    assert set(summary["1"]) == {"dead_relu"}
    for name in ("0", "2"):
        assert set(summary[name]) == {"grad_norm", "mean_abs_grad", "update_ratio"}
        for key, value in expected_stats(record, name).items():
            assert type(summary[name][key]) is float
            assert summary[name][key] == pytest.approx(value, rel=1e-5), (name, key)
    assert json.loads(json.dumps(summary)) == summary
    # a new epoch starts from nothing
    record = train_batches(net, monitor, random_batches(1))
    again = monitor.epoch_summary()
    assert again["0"]["grad_norm"] == pytest.approx(expected_stats(record, "0")["grad_norm"], rel=1e-5)
    assert monitor.epoch_summary()["0"] == {"grad_norm": None, "mean_abs_grad": None, "update_ratio": None}
    monitor.close()


def test_update_ratio_of_plain_sgd_is_lr_times_gradient_norm_over_weight_norm():
    cr.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 2))
    w = np.concatenate([p._data.ravel() for p in net.parameters()])
    monitor = GradientMonitor(net)
    train_batches(net, monitor, random_batches(1), lr=0.05)
    stats = monitor.epoch_summary()["0"]
    assert stats["update_ratio"] == pytest.approx(0.05 * stats["grad_norm"] / np.linalg.norm(w), rel=1e-5)


def test_every_n_samples_only_those_batches():
    cr.manual_seed(2)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    monitor = GradientMonitor(net, every=2)
    record = train_batches(net, monitor, random_batches(5))
    summary = monitor.epoch_summary()
    sampled = [record[0], record[2], record[4]]
    for key, value in expected_stats(sampled, "2").items():
        assert summary["2"][key] == pytest.approx(value, rel=1e-5)
    assert summary["2"]["grad_norm"] != pytest.approx(expected_stats(record, "2")["grad_norm"], rel=1e-5)
    with pytest.raises(ValueError, match="every must be a positive integer, got 0"):
        GradientMonitor(net, every=0)
    with pytest.raises(TypeError, match=r"GradientMonitor: low must be a finite number > 0, got '0\.1' \(str\)"):
        GradientMonitor(net, low="0.1")
    with pytest.raises(ValueError, match=r"GradientMonitor: high must be a finite number > 0, got inf \(float\)"):
        GradientMonitor(net, high=float("inf"))
    with pytest.raises(ValueError, match=r"expected finite 0 < low < high, got low=0\.1, high=0\.01"):
        GradientMonitor(net, low=0.1, high=0.01)


def test_dead_relu_fraction_on_units_forced_dead():
    cr.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    net[0].bias._data[...] = [100.0, -100.0, 100.0, -100.0]  # units 1 and 3 never fire
    monitor = GradientMonitor(net)
    train_batches(net, monitor, random_batches(3), lr=1e-4)
    net.eval()
    net(cr.randn(8, 3) - 1000)  # evaluation forwards (all dead here) are not training statistics
    net.train()
    assert monitor.epoch_summary()["1"]["dead_relu"] == 0.5
    monitor.close()
    net(cr.randn(8, 3))
    assert monitor.epoch_summary()["1"]["dead_relu"] is None  # hooks removed


def test_dead_relu_counts_every_entry_but_the_batch_dim():
    relu = nn.ReLU()
    monitor = GradientMonitor(nn.Sequential(relu))
    x = np.random.default_rng(0).normal(size=(4, 3, 5, 5)).astype(np.float32)
    x[:, 1] = -1.0  # a dead channel
    relu(cr.tensor(x))
    expected = 1.0 - (x > 0).any(axis=0).mean()
    assert monitor.epoch_summary()["0"]["dead_relu"] == pytest.approx(expected)
    assert expected > 1 / 3  # the dead channel and a few positions negative for all four samples


def test_no_dead_relu_tracking_when_asked():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    monitor = GradientMonitor(net, track_dead_relu=False)
    net(cr.randn(2, 3))
    assert list(monitor.epoch_summary()) == ["0"]


# -- the detector on deep networks -----------------------------------------------------------------
WIDTH, DEPTH, D_IN, D_OUT, BATCH = 32, 20, 16, 4, 64  # DEPTH Linear layers in every network


def he_init(net):
    for module in net.modules():
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return net


def sigmoid_mlp():
    layers = [nn.Linear(D_IN, WIDTH), nn.Sigmoid()]
    for _ in range(DEPTH - 2):
        layers += [nn.Linear(WIDTH, WIDTH), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(WIDTH, D_OUT))  # default init


def residual_relu_mlp():
    blocks = (DEPTH - 2) // 2
    body = [nn.Residual(nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH)))
            for _ in range(blocks)]
    net = he_init(nn.Sequential(nn.Linear(D_IN, WIDTH), nn.ReLU(), *body, nn.Linear(WIDTH, D_OUT)))
    # Each unscaled He block doubles the activations' variance, so 9 of them make outputs ~500x
    # and SGD diverges; scaling each branch's last layer by blocks^-1/2 (as Fixup does) keeps
    # the forward pass bounded. The gradient flow under test is the residual path's.
    for block in body:
        block.body[2].weight._data *= blocks**-0.5
    return net


def batchnorm_relu_mlp():
    normalization = pytest.importorskip("chainrule.nn.normalization")
    batchnorm = getattr(normalization, "BatchNorm1d", None)
    if batchnorm is None:
        pytest.skip("chainrule.nn.normalization has no BatchNorm1d yet")
    layers, d = [], D_IN
    for _ in range(DEPTH - 1):
        layers += [nn.Linear(d, WIDTH), batchnorm(WIDTH), nn.ReLU()]
        d = WIDTH
    return he_init(nn.Sequential(*layers, nn.Linear(WIDTH, D_OUT)))


def train_deep(make, seed, epochs=2, steps=4):
    """A few SGD steps on random data; returns the GradientFlowWarnings and the per-step ratios of
    first- to last-layer gradient norm. (Over 40 seeds the epoch ratios were 1e-17..1e-16
    for the sigmoid MLP, 0.23..0.92 residual and 4..19 with batch norm.)"""
    cr.manual_seed(seed)
    net = make()
    opt = optim.SGD(net.parameters(), lr=1e-3)
    x, y = cr.randn(BATCH, D_IN), cr.randn(BATCH, D_OUT)
    ratios = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor = GradientMonitor(net)
        for _ in range(epochs):
            for _ in range(steps):
                opt.zero_grad()
                ((net(x) - y) ** 2).mean().backward()
                monitor.after_backward()
                opt.step()
                monitor.after_step()
            norms = [s["grad_norm"] for s in monitor.epoch_summary().values() if "grad_norm" in s]
            ratios.append(norms[0] / norms[-1])
        monitor.close()
    return [w for w in caught if issubclass(w.category, GradientFlowWarning)], ratios


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_detector_warns_once_on_a_deep_sigmoid_network(seed):
    caught, ratios = train_deep(sigmoid_mlp, seed)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("vanishing gradients: the first layer '0'")
    assert "the last layer '38'" in message and "below 0.001" in message
    assert max(ratios) < 1e-6  # far beyond the threshold, not by luck


@pytest.mark.parametrize("make", [residual_relu_mlp, batchnorm_relu_mlp])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_detector_is_silent_with_he_init_and_residuals_or_batch_norm(make, seed):
    caught, ratios = train_deep(make, seed)
    assert caught == []
    assert all(0.03 < r < 100 for r in ratios), ratios


def test_detector_warns_on_exploding_gradients_and_can_be_switched_off():
    net = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2))

    def warnings_over_three_batches(**kwargs):
        monitor = GradientMonitor(net, **kwargs)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(3):
                for i, p in enumerate(net.parameters()):  # first layer's gradients 1e4 times the last's
                    p.grad = cr.full(p.shape, 1e4 if i < 2 else 1.0, dtype=np.float32)
                monitor.after_backward()
        return [str(w.message) for w in caught if issubclass(w.category, GradientFlowWarning)]

    (message,) = warnings_over_three_batches()
    assert message.startswith("exploding gradients: the first layer '0'") and "1e+04 times" in message
    assert warnings_over_three_batches(warn=False) == []
    assert warnings_over_three_batches(high=1e5) == []


def test_check_gradient_flow():
    assert check_gradient_flow({"0": 0.3, "1": 0.1, "2": 0.5}) is None
    vanishing = check_gradient_flow({"a": 2e-6, "b": 1.0, "c": 1e-2})
    assert vanishing.startswith(
        "vanishing gradients: the first layer 'a' gets a gradient norm of 2e-06, 0.0002 times"
    )
    assert "last layer 'c' (0.01)" in vanishing and "He (kaiming)" in vanishing
    exploding = check_gradient_flow({"a": 5e3, "c": 1.0})
    assert exploding.startswith("exploding gradients:")
    assert "5e+03 times" in exploding and "above 1000" in exploding
    # thresholds, summary-shaped input (entries without grad_norm skipped), degenerate cases
    assert check_gradient_flow({"a": 5e3, "c": 1.0}, high=1e4) is None
    assert check_gradient_flow({"a": 0.05, "c": 1.0}, low=0.1).startswith("vanishing")
    summary = {
        "0": {"grad_norm": 1e-5}, "1": {"dead_relu": 0.5}, "2": {"grad_norm": 1.0}, "3": {"dead_relu": 0.0}
    }
    assert "last layer '2'" in check_gradient_flow(summary)
    assert check_gradient_flow({"0": {"grad_norm": None}, "1": {"grad_norm": 1.0}}) is None
    assert check_gradient_flow({"only": 1e-9}) is None
    assert check_gradient_flow({"a": 1.0, "b": 0.0}) is None
    assert check_gradient_flow({"a": 0.0, "b": 1.0}).startswith("vanishing")
    overflow = check_gradient_flow({"a": 1.0, "b": float("nan"), "c": 1.0})
    assert overflow.startswith("exploding gradients: layer 'b' has a non-finite gradient norm (nan)")


# -- plots -------------------------------------------------------------------------------------------
def history():
    epochs = []
    for i in range(1, 6):
        norms = {"0": {"grad_norm": 1e-3 * i}, "1": {"dead_relu": 0.1}, "2": {"grad_norm": 0.5}}
        epoch = {"epoch": i, "loss": 1 / i, "accuracy": 0.5 + i / 20, "lr": 0.1 * 0.5**i, "time": 0.3,
                 "grad_norms": norms}
        if i % 2:
            epoch.update(val_loss=1.2 / i, val_accuracy=0.45 + i / 20)
        epochs.append(epoch)
    return SimpleNamespace(epochs=epochs)


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_plots_write_png_files(tmp_path):
    pytest.importorskip("matplotlib")
    assert plot_history(history(), tmp_path / "history.png") == tmp_path / "history.png"
    assert_png(tmp_path / "history.png")
    assert_png(plot_gradient_flow(history(), tmp_path / "flow.png"))
    # missing keys are simply not plotted; a plain list of epochs works too
    assert_png(plot_history([{"loss": 1.0}, {"loss": 0.5}], tmp_path / "loss_only.png"))


def test_plots_refuse_histories_with_nothing_to_plot(tmp_path):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="no epoch has a loss, a metric or a learning rate"):
        plot_history(SimpleNamespace(epochs=[{"epoch": 1, "time": 2.0}]), tmp_path / "h.png")
    with pytest.raises(ValueError, match="no epoch has positive 'grad_norms'"):
        plot_gradient_flow(SimpleNamespace(epochs=[{"epoch": 1, "loss": 2.0}]), tmp_path / "g.png")
    assert not list(tmp_path.iterdir())


def test_plots_without_matplotlib_say_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r"pip install chainrule\[viz\]"):
        plot_history(history(), tmp_path / "h.png")


def test_every_epoch_samples_its_first_batch_however_sparse_the_sampling():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    monitor = GradientMonitor(model, every=5)
    x = cr.randn(8, 3)
    for _epoch in range(3):
        for _batch in range(2):  # fewer batches than `every`
            opt.zero_grad()
            (model(x) ** 2).mean().backward()
            monitor.after_backward()
            opt.step()
            monitor.after_step()
        summary = monitor.epoch_summary()
        assert summary["0"]["grad_norm"] is not None and summary["2"]["update_ratio"] is not None
    monitor.close()
