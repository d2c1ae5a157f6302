"""solver='lbfgs' in chainrule.sklearn: full-batch L-BFGS-B over the packed parameters of any
network the estimators wrap, with scikit-learn's max_fun, max_iter, tol, n_iter_ and warnings."""

import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.datasets import load_digits, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer, MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import chainrule.sklearn
from chainrule import nn
from chainrule.sklearn import (
    MLPClassifier,
    MLPRegressor,
    NeuralNetClassifier,
    NeuralNetRegressor,
    _lbfgs_layout,
    _lbfgs_pack,
)

X_DIGITS, Y_DIGITS = load_digits(n_class=3, return_X_y=True)
X_DIGITS, Y_DIGITS = MinMaxScaler().fit_transform(X_DIGITS[:90]), Y_DIGITS[:90]
X_REG, Y_REG = make_regression(n_samples=60, n_features=5, noise=1.0, random_state=0)
Y_REG = Y_REG / Y_REG.std()


class SmallCNN(nn.Module):
    """A convolutional network on the 8x8 digits, given flat: not a chain of Linear layers."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                                  nn.Linear(3 * 16, n_outputs))

    def forward(self, x):
        return self.body(x.reshape(-1, 1, 8, 8))


class TwoLayer(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, 8), nn.Tanh(), nn.Linear(8, n_outputs))

    def forward(self, x):
        return self.body(x)


# scikit-learn's estimator checks with solver='lbfgs' (sample-weight equivalence included); none may fail
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([
    MLPClassifier((8,), solver="lbfgs", max_iter=50, random_state=0),
    MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=50, random_state=0),
    NeuralNetClassifier(TwoLayer, solver="lbfgs", max_iter=50, random_state=0),
])  # fmt: skip
def test_scikit_learn_estimator_checks_with_lbfgs(estimator, check):
    check(estimator)


def _quiet_fit(estimator, X, y, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, sample_weight=sample_weight)


def _numeric_gradient(objective, theta, eps=1e-6):
    steps = np.eye(len(theta)) * eps
    return np.array([(objective(theta + s)[0] - objective(theta - s)[0]) / (2 * eps) for s in steps])


def test_lbfgs_fits_and_its_loss_decreases():
    net = MLPClassifier((16,), solver="lbfgs", max_iter=200, random_state=0).fit(X_DIGITS, Y_DIGITS)
    assert net.score(X_DIGITS, Y_DIGITS) == 1.0
    curve = np.array(net.loss_curve_)
    assert len(curve) == net.n_iter_ > 1
    assert (np.diff(curve) <= 1e-12).all()  # L-BFGS-B's line search accepts only decreasing steps
    assert net.loss_ == pytest.approx(curve[-1]) and net.loss_ < curve[0] / 10
    assert net.best_loss_ == net.loss_ and net.validation_scores_ is None and net.best_validation_score_ is None
    assert net.t_ == 0  # as scikit-learn: lbfgs does not count samples


def test_lbfgs_regressor_matches_least_squares_with_identity_units():
    # a linear network reaches the least-squares fit: the minimum of half the mean squared error
    net = MLPRegressor((3,), activation="identity", solver="lbfgs", alpha=0.0, tol=1e-10, max_iter=500,
                       random_state=0).fit(X_REG, Y_REG)
    design = np.hstack([X_REG, np.ones((len(X_REG), 1))])
    best = np.linalg.lstsq(design, Y_REG, rcond=None)[0]
    assert np.allclose(net.predict(X_REG), design @ best, atol=1e-5)


@pytest.mark.parametrize("n_labels", [2, 3])
def test_lbfgs_gradient_in_scikit_learns_layout(n_labels):
    # scikit-learn's test_gradient: theta packs coefs_ (in, out) then intercepts_; extra buffers are ignored
    rng = np.random.RandomState(42)
    X = rng.rand(5, 4)
    y = 1 + np.mod(np.arange(5) + 1, n_labels)
    Y = LabelBinarizer().fit_transform(y)
    net = _quiet_fit(MLPClassifier((3, 2), activation="tanh", solver="lbfgs", alpha=0.1, max_iter=1,
                                   random_state=1), X, y)
    theta = np.hstack([a.ravel() for a in net.coefs_ + net.intercepts_])
    assert np.array_equal(_lbfgs_pack(_lbfgs_layout(net.module_)), theta)

    def objective(t):
        return net._loss_grad_lbfgs(t, X, Y, None, [X], [], [], [])

    loss, grad = objective(theta)
    assert grad.shape == theta.shape and np.isfinite(loss)
    assert np.allclose(grad, _numeric_gradient(objective, theta), atol=1e-7)
    # the network's own targets (class indices) give the same objective as the binarized labels
    targets = y - 1 if n_labels == 3 else (y - 1).reshape(-1, 1)
    assert np.allclose(net._loss_grad_lbfgs(theta, X, targets)[1], grad)


def test_lbfgs_penalty_is_scikit_learns():
    # alpha / 2 * sum(W ** 2) / n over the weight matrices, not the biases
    net = _quiet_fit(MLPRegressor((3,), solver="lbfgs", alpha=0.0, max_iter=1, random_state=0), X_REG, Y_REG)
    theta = _lbfgs_pack(_lbfgs_layout(net.module_))
    plain = net._loss_grad_lbfgs(theta, X_REG, Y_REG.reshape(-1, 1))[0]
    net.set_params(alpha=0.7)
    n_weights = 5 * 3 + 3 * 1
    penalty = 0.5 * 0.7 * np.sum(theta[:n_weights] ** 2) / len(X_REG)
    assert net._loss_grad_lbfgs(theta, X_REG, Y_REG.reshape(-1, 1))[0] == pytest.approx(plain + penalty)


def test_lbfgs_on_a_cnn_through_neural_net_classifier():
    net = NeuralNetClassifier(SmallCNN, solver="lbfgs", max_iter=60, alpha=1e-4, random_state=0)
    _quiet_fit(net, X_DIGITS, Y_DIGITS)
    assert net.score(X_DIGITS, Y_DIGITS) > 0.95
    assert net.loss_curve_[-1] < net.loss_curve_[0]
    layout = _lbfgs_layout(net.module_)
    assert [p for p, _ in layout] == list(net.module_.parameters())  # not Linear-only: the module's own order
    theta = _lbfgs_pack(layout)
    X, y = X_DIGITS[:6], np.searchsorted(net.classes_, Y_DIGITS[:6])

    def objective(t):
        return net._loss_grad_lbfgs(t, X, y)

    assert np.allclose(objective(theta)[1], _numeric_gradient(objective, theta), atol=1e-7)


def test_lbfgs_max_fun_limits_evaluations():
    net = MLPClassifier((16,), solver="lbfgs", max_iter=150, max_fun=10, random_state=0)
    evaluations = []
    objective = net._loss_grad_lbfgs
    net._loss_grad_lbfgs = lambda *args: evaluations.append(1) or objective(*args)
    with pytest.warns(ConvergenceWarning, match=r"lbfgs failed to converge after \d+ iteration\(s\) \(status=1\)"):
        net.fit(X_DIGITS, Y_DIGITS)
    assert 1 <= net.n_iter_ <= 10 and len(net.loss_curve_) == net.n_iter_
    assert len(evaluations) == 11  # scipy stops once the count exceeds max_fun, as in scikit-learn
    assert "F,G EVALUATIONS EXCEEDS LIMIT" in net.history_.stopped


def test_lbfgs_max_iter_warning_and_n_iter():
    net = MLPRegressor((8,), solver="lbfgs", max_iter=3, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning) as record:
        net.fit(X_REG, Y_REG)
    message = str(record[0].message)
    assert record[0].filename == __file__  # it points at the caller's fit
    assert "lbfgs failed to converge after 3 iteration(s)" in message
    assert "Increase the number of iterations to improve the convergence (max_iter=3)." in message
    assert "https://scikit-learn.org/stable/modules/preprocessing.html" in message
    assert net.n_iter_ == 3 and len(net.loss_curve_) == 3


def test_lbfgs_converges_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        net = MLPRegressor((4,), solver="lbfgs", tol=1e-3, max_iter=500, random_state=0).fit(X_REG, Y_REG)
    assert net.n_iter_ < 500


def test_lbfgs_is_reproducible_with_random_state():
    def weights(seed):
        net = _quiet_fit(MLPClassifier((6,), solver="lbfgs", max_iter=15, random_state=seed), X_DIGITS, Y_DIGITS)
        return _lbfgs_pack(_lbfgs_layout(net.module_))

    assert np.array_equal(weights(3), weights(3))
    assert not np.allclose(weights(3), weights(4))


def test_lbfgs_warm_start_continues():
    net = MLPRegressor((8,), solver="lbfgs", max_iter=5, tol=0.0, warm_start=True, random_state=0)
    _quiet_fit(net, X_REG, Y_REG)
    first, start = net.loss_, _lbfgs_pack(_lbfgs_layout(net.module_))
    _quiet_fit(net, X_REG, Y_REG)
    assert net.n_iter_ == 5 and len(net.loss_curve_) == 10  # n_iter_ counts this fit, the curve goes on
    assert net.loss_curve_[5] <= first and net.loss_ < first
    cold = _quiet_fit(MLPRegressor((8,), solver="lbfgs", max_iter=5, tol=0.0, random_state=0), X_REG, Y_REG)
    assert np.array_equal(_lbfgs_pack(_lbfgs_layout(cold.module_)), start)  # the warm fit started there


def test_lbfgs_float32_input_keeps_float32_weights():
    X32 = X_DIGITS.astype(np.float32)
    net32 = _quiet_fit(MLPClassifier((6,), solver="lbfgs", max_iter=20, random_state=0), X32, Y_DIGITS)
    net64 = _quiet_fit(MLPClassifier((6,), solver="lbfgs", max_iter=20, random_state=0), X_DIGITS, Y_DIGITS)
    assert all(p.dtype == np.float32 for p in net32.module_.parameters())
    assert np.array_equal(net32.predict(X32), net64.predict(X_DIGITS))


def test_lbfgs_verbose_prints_scikit_learns_lines(capsys):
    _quiet_fit(MLPClassifier((4,), solver="lbfgs", max_iter=2, verbose=True, random_state=0), X_DIGITS, Y_DIGITS)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Iteration 1, loss = ")


def test_lbfgs_restarts_keep_the_lowest_loss():
    net = _quiet_fit(MLPRegressor((3,), solver="lbfgs", max_iter=10, restarts=3, random_state=0), X_REG, Y_REG)
    losses = [run["loss"] for run in net.history_.runs]
    assert len(losses) == 3 and net.loss_ == min(losses) == losses[net.history_.best_run]


def test_lbfgs_refuses_dropout():
    with pytest.raises(ValueError, match=r"lbfgs.*dropout"):
        MLPClassifier((4,), solver="lbfgs", dropout=0.5).fit(X_DIGITS, Y_DIGITS)


def test_lbfgs_batch_norm_needs_two_samples():
    with pytest.raises(ValueError, match="n_samples=1"):
        MLPRegressor(solver="lbfgs", batch_norm=True).fit(X_REG[:1], Y_REG[:1])


def test_lbfgs_batch_norm_keeps_the_training_sets_statistics():
    net = _quiet_fit(MLPRegressor((4,), solver="lbfgs", batch_norm=True, max_iter=10, random_state=0), X_REG, Y_REG)
    modules = list(net.module_.modules())
    linear, norm = (next(m for m in modules if isinstance(m, kind)) for kind in (nn.Linear, nn.BatchNorm1d))
    pre = X_REG @ linear.weight._data.T + linear.bias._data
    assert np.allclose(norm.running_mean._data, pre.mean(axis=0))
    assert np.allclose(norm.running_var._data, pre.var(axis=0, ddof=1))


def test_lbfgs_neural_net_regressor():
    def linear(n_features, n_outputs):
        return nn.Sequential(nn.Linear(n_features, n_outputs))

    net = NeuralNetRegressor(linear, solver="lbfgs", alpha=0.0, tol=1e-10, max_iter=100, random_state=0)
    net.fit(X_REG, Y_REG)
    assert net.score(X_REG, Y_REG) > 0.99


def _same_start(ours, theirs, X, y, sample_weight):
    """Fit both for one iteration, then copy chainrule's weights into scikit-learn's estimator."""
    _quiet_fit(ours, X, y, sample_weight)
    _quiet_fit(theirs, X, y, sample_weight)
    for mine, its in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        its[...] = mine


_RNG = np.random.RandomState(0)
X_LABELS, Y_LABELS = make_multilabel_classification(n_samples=40, n_features=6, n_classes=3, random_state=0)
SCIKIT_LEARN_CASES = {
    "multiclass": ("MLPClassifier", X_DIGITS[:60], Y_DIGITS[:60], {}, None),
    "binary": ("MLPClassifier", X_DIGITS[:60], Y_DIGITS[:60] == 1, {}, None),
    "multilabel": ("MLPClassifier", X_LABELS, Y_LABELS, {}, None),
    "squared_error": ("MLPRegressor", X_REG, Y_REG, {}, None),
    "poisson": ("MLPRegressor", X_REG, _RNG.poisson(np.exp(X_REG[:, 0] / 2)), {"loss": "poisson"}, None),
    "sample_weight": ("MLPClassifier", X_DIGITS[:60], Y_DIGITS[:60], {}, _RNG.uniform(0.5, 2.0, 60)),
}


@pytest.mark.parametrize("case", SCIKIT_LEARN_CASES)
def test_lbfgs_follows_scikit_learns_iterates(case):
    # the same objective and gradient from the same weights: L-BFGS-B takes the same steps
    name, X, y, kwargs, sample_weight = SCIKIT_LEARN_CASES[case]
    settings = dict(hidden_layer_sizes=(5,), activation="tanh", solver="lbfgs", max_iter=1, warm_start=True,
                    random_state=0, **kwargs)
    ours = getattr(chainrule.sklearn, name)(**settings)
    theirs = getattr(neural_network, name)(**settings)
    _same_start(ours, theirs, X, y, sample_weight)
    for net in (ours, theirs):
        _quiet_fit(net.set_params(max_iter=25), X, y, sample_weight)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    for mine, its in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, its, atol=1e-8)


def test_lbfgs_sample_weight_counts_as_repeated_samples():
    net = _quiet_fit(MLPClassifier((4,), solver="lbfgs", alpha=0.3, max_iter=2, random_state=0), X_DIGITS, Y_DIGITS)
    theta = _lbfgs_pack(_lbfgs_layout(net.module_))
    targets = np.searchsorted(net.classes_, Y_DIGITS)
    weights = np.where(np.arange(len(Y_DIGITS)) < 10, 3.0, 1.0)
    repeated = np.r_[np.arange(len(Y_DIGITS)), np.repeat(np.arange(10), 2)]
    weighted = net._loss_grad_lbfgs(theta, X_DIGITS, targets, weights)
    copies = net._loss_grad_lbfgs(theta, X_DIGITS[repeated], targets[repeated])
    assert weighted[0] == pytest.approx(copies[0], rel=1e-12)
    np.testing.assert_allclose(weighted[1], copies[1], rtol=1e-10, atol=1e-14)


def test_lbfgs_has_no_partial_fit():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPClassifier(solver="adam"), "partial_fit")
