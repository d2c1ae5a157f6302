"""The curvature diagnostic: Hessian eigenvalues by Lanczos on Hessian-vector products against
quadratic forms with known eigenvalues, a saddle, and the full Hessian of a small network built
from finite differences of its gradient; the verdict on XOR before and after training; the
monitor, the plot and the argument errors."""

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.diagnostics import (
    VERDICTS,
    CurvatureMonitor,
    CurvatureWarning,
    curvature,
    hessian_eigenvalues,
    plot_curvature,
)
from chainrule.train import fit

NO_DATA = (np.zeros(1), np.zeros(1))


class Weights(nn.Module):
    """A model that is its weights: loss_fn(model(x), t) is then any function of them."""

    def __init__(self, values):
        super().__init__()
        self.w = nn.Parameter(cr.tensor(np.asarray(values, dtype=np.float64)))

    def forward(self, x):
        return self.w


def quadratic_form(eigenvalues, seed=0):
    """loss(w) = 0.5 w^T A w + b^T w with A = Q diag(eigenvalues) Q^T, Q a random rotation."""
    rng = np.random.default_rng(seed)
    n = len(eigenvalues)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = cr.tensor(q @ np.diag(eigenvalues) @ q.T)
    b = cr.tensor(rng.standard_normal(n))
    return Weights(rng.standard_normal(n)), lambda w, _: 0.5 * (w * (a @ w)).sum() + (b * w).sum()


def test_quadratic_form_gives_its_eigenvalues_at_both_ends_with_few_products():
    rng = np.random.default_rng(1)
    eigenvalues = np.sort(np.concatenate([rng.uniform(-1, 30, 97), [-7.0, 50.0, 50.0]]))  # 50 twice
    model, loss_fn = quadratic_form(eigenvalues)
    got = hessian_eigenvalues(model, loss_fn, NO_DATA, k=3, which="both", tol=1e-8)
    np.testing.assert_allclose(got, np.concatenate([eigenvalues[:3], eigenvalues[-3:]]), atol=1e-8)
    np.testing.assert_allclose(hessian_eigenvalues(model, loss_fn, NO_DATA, k=2), [50.0, 50.0], rtol=1e-7)
    np.testing.assert_allclose(hessian_eigenvalues(model, loss_fn, NO_DATA, which="smallest"), [-7.0], rtol=1e-6)
    report = curvature(model, loss_fn, NO_DATA)
    assert report.hessian_vector_products < len(eigenvalues) / 2  # the matrix is never formed


def test_saddle_x2_minus_y2():
    model = Weights([0.0, 0.0])
    report = curvature(model, lambda w, _: w[0] ** 2 - w[1] ** 2, NO_DATA)
    assert report.verdict == "saddle"
    assert report.largest == pytest.approx(2) and report.smallest == pytest.approx(-2)
    assert report.gradient_norm == 0 and report.loss == 0
    assert "verdict: saddle" in str(report)


@pytest.mark.parametrize(("lr", "verdict"), [(0.1, "flat minimum"), (0.5, "sharp minimum")])
def test_a_minimum_is_sharp_when_its_largest_eigenvalue_exceeds_one_over_lr(lr, verdict):
    model, loss_fn = quadratic_form([0.5, 1.0, 3.0])  # sharp above 1/lr: 10 (flat), then 2 (sharp)
    report = curvature(model, loss_fn, NO_DATA, lr=lr)
    assert report.verdict == verdict and report.sharp_above == pytest.approx(1 / lr)
    assert report.largest == pytest.approx(3.0) and report.smallest == pytest.approx(0.5)


def test_negative_curvature_counts_only_when_significant_next_to_the_largest():
    model, loss_fn = quadratic_form([-1e-5, 1.0, 3.0])
    assert curvature(model, loss_fn, NO_DATA, lr=0.1).verdict == "flat minimum"  # -1e-5 is noise next to 3
    assert curvature(model, loss_fn, NO_DATA, lr=0.1, saddle_ratio=1e-6).verdict == "saddle"


def mlp_loss(widths, seed=0):
    cr.manual_seed(seed)
    layers = []
    for n_in, n_out in itertools.pairwise(widths):
        layers += [nn.Linear(n_in, n_out), nn.Tanh()]
    model = nn.Sequential(*layers[:-1]).double()
    rng = np.random.default_rng(seed)
    data = (rng.standard_normal((7, widths[0])), rng.integers(0, widths[-1], 7))
    return model, nn.CrossEntropyLoss(), data


def finite_difference_hessian(model, loss_fn, data, eps=1e-5):
    """The full Hessian from central differences of the first-order gradient, in float64."""
    params = list(model.parameters())
    x, t = cr.tensor(data[0]), cr.tensor(data[1])

    def gradient():
        model.zero_grad()
        loss_fn(model(x), t).backward()
        return np.concatenate([p.grad._data.ravel() for p in params])

    columns = []
    for p in params:
        for i in np.ndindex(p.shape):  # in C order, as the flat vectors hold them (wide weights are F-ordered)
            saved = p._data[i]
            p._data[i] = saved + eps
            plus = gradient()
            p._data[i] = saved - eps
            minus = gradient()
            p._data[i] = saved
            columns.append((plus - minus) / (2 * eps))
    h = np.array(columns)
    return (h + h.T) / 2


def test_network_eigenvalues_match_the_finite_difference_hessian():
    model, loss_fn, data = mlp_loss([3, 4, 3])
    exact = np.linalg.eigvalsh(finite_difference_hessian(model, loss_fn, data))
    got = hessian_eigenvalues(model, loss_fn, data, k=2, which="both", tol=1e-9)
    np.testing.assert_allclose(got, np.concatenate([exact[:2], exact[-2:]]), atol=1e-6)
    report = curvature(model, loss_fn, data, tol=1e-9)
    assert report.largest == pytest.approx(exact[-1], abs=1e-6)
    assert report.smallest == pytest.approx(exact[0], abs=1e-6)


XOR = (np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64), np.array([[0.0], [1.0], [1.0], [0.0]]))


def xor_network(seed):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1), nn.Sigmoid()).double()


def test_xor_2_2_1_is_at_a_saddle_at_initialisation_and_at_a_minimum_after_training():
    model, loss_fn = xor_network(seed=3), nn.MSELoss()
    before = curvature(model, loss_fn, XOR, lr=0.5)
    assert before.verdict == "saddle" and before.smallest < 0 < before.largest
    monitor = CurvatureMonitor(loss_fn, XOR, every=500)
    history = fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.5, momentum=0.9), XOR, epochs=2000,
                  batch_size=4, metrics=(), callbacks=[monitor], verbose=0)
    assert history.last["loss"] < 1e-3  # solved
    after = curvature(model, loss_fn, XOR, lr=0.5)
    assert after.verdict in ("flat minimum", "sharp minimum") and after.gradient_norm < 1e-2
    assert [r["epoch"] for r in monitor.records] == [0, 500, 1000, 1500, 2000]
    assert monitor.records[0]["verdict"] == "saddle" and monitor.records[-1]["verdict"] == after.verdict
    assert monitor.records[-1]["largest"] == pytest.approx(after.largest, rel=1e-6)
    assert all(r["verdict"] in VERDICTS for r in monitor.records)


def test_plot_curvature_writes_a_png(tmp_path):
    records = [{"epoch": e, "largest": 3.0 / (e + 1), "smallest": -1.0 + e, "verdict": v, "sharp_above": 2.0}
               for e, v in enumerate(["saddle", "saddle", "flat minimum"])]
    path = plot_curvature(records, tmp_path / "curvature.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no record with an epoch"):
        plot_curvature([], tmp_path / "none.png")


def test_the_model_keeps_its_training_mode_and_dropout_is_off_while_measured():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Dropout(0.5), nn.Linear(4, 2)).double()
    data = (np.random.default_rng(0).standard_normal((5, 3)), np.array([0, 1, 0, 1, 1]))
    first = curvature(model, nn.CrossEntropyLoss(), data)
    assert model.training and all(m.training for m in model.modules())
    assert curvature(model, nn.CrossEntropyLoss(), data).largest == pytest.approx(first.largest, rel=1e-9)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m, f: hessian_eigenvalues(m, f, NO_DATA, which="top"), ValueError, "which must be 'largest'"),
        (lambda m, f: hessian_eigenvalues(m, f, NO_DATA, k=0), ValueError, "k"),
        (lambda m, f: hessian_eigenvalues(m, f, NO_DATA, k=2, which="both"), ValueError,
         "asked for 4 eigenvalues of a Hessian of size 3"),
        (lambda m, f: hessian_eigenvalues(m, f, np.zeros(3)), TypeError, "data must be an \\(inputs, targets\\) pair"),
        (lambda m, f: curvature(m, f, NO_DATA, lr=0), ValueError, "lr"),
        (lambda m, f: curvature(m, lambda w, _: w * w, NO_DATA), ValueError, "must return a scalar loss"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(call, error, message):
    model, loss_fn = quadratic_form([1.0, 2.0, 3.0])
    with pytest.raises(error, match=message):
        call(model, loss_fn)


class TwoWeights(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(cr.tensor([1.0, 2.0], dtype="float64"))
        self.b = nn.Parameter(cr.tensor([3.0], dtype="float64"))

    def forward(self, x):
        return self.a, self.b


def test_weights_the_loss_is_linear_in_are_a_zero_block():
    loss_fn = lambda out, _: (out[0] * out[0]).sum() + 3 * out[1].sum()  # gradient in b: a constant
    got = hessian_eigenvalues(TwoWeights(), loss_fn, NO_DATA, k=2, which="smallest")
    np.testing.assert_allclose(got, [0.0, 2.0], atol=1e-12)
    report = curvature(TwoWeights(), loss_fn, NO_DATA)
    assert report.largest == pytest.approx(2.0) and report.verdict == "flat minimum"


def test_an_eigenvalue_short_of_the_tolerance_warns_and_errs_towards_the_middle():
    eigenvalues = np.linspace(-1.0, 1.0, 60)
    model, loss_fn = quadratic_form(eigenvalues)
    with pytest.warns(CurvatureWarning, match="did not converge in 3 Hessian-vector products"):
        got = hessian_eigenvalues(model, loss_fn, NO_DATA, which="both", max_iter=3)
    assert -1.0 < got[0] < got[1] < 1.0  # Ritz values lie inside the spectrum
