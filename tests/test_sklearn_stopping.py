"""The scikit-learn estimators stop where scikit-learn's MLPs stop: the same rule on the same loss
(or validation score) sequence, the same loss, and end to end the same n_iter_, t_, best_loss_ and
loss_curve_ as scikit-learn's own MLPClassifier/MLPRegressor started from the same weights."""

import inspect
import itertools
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network
from sklearn.datasets import make_blobs, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._base import LOSS_FUNCTIONS
from sklearn.preprocessing import StandardScaler

import chainrule as cr
from chainrule import nn
from chainrule.sklearn import MLPClassifier, MLPRegressor, NeuralNetClassifier, NeuralNetRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# -- the rule on scripted sequences -------------------------------------------------------------
def sklearn_rule(values, tol, early_stopping):
    """scikit-learn's own _update_no_improvement_count fed ``values`` (training losses, or
    validation scores with early stopping): the count after each epoch, and the final best."""
    est = neural_network.MLPClassifier(tol=tol, early_stopping=early_stopping)
    est._no_improvement_count = 0
    est.loss_curve_ = []
    if early_stopping:
        est.validation_scores_, est.best_validation_score_ = [], -np.inf
        scores = iter(values)
        est._score = lambda *args, **kwargs: next(scores)
        est.coefs_, est.intercepts_ = [], []
    else:
        est.best_loss_ = np.inf
    n_args = len(inspect.signature(est._update_no_improvement_count).parameters)
    counts = []
    for value in values:
        est.loss_curve_.append(value)
        est._update_no_improvement_count(early_stopping, *[None] * (n_args - 1))
        counts.append(est._no_improvement_count)
    return counts, est.best_validation_score_ if early_stopping else est.best_loss_


def chainrule_rule(values, tol, early_stopping):
    est = MLPClassifier(tol=tol, early_stopping=early_stopping)
    est._reset_stopping()
    counts = []
    for value in values:
        if early_stopping:
            est._update_no_improvement_count(None, value)
        else:
            est._update_no_improvement_count(value)
        counts.append(est._no_improvement_count)
    return counts, est.best_validation_score_ if early_stopping else est.best_loss_


def stop_epoch(counts, n_iter_no_change):
    """The epoch (from 1) after which training stops, or None."""
    return next((i + 1 for i, c in enumerate(counts) if c > n_iter_no_change), None)


def sequences():
    rng = np.random.default_rng(0)
    # slow improvement by less than tol each epoch: scikit-learn counts every such epoch, while a
    # reference that moves only on improvements larger than tol never would be beaten
    yield [1.0 - 0.4e-4 * t for t in range(40)]
    yield [1.0, 0.9, 0.9, 0.9 - 1e-4, 0.85, 0.85 + 1e-5, 0.84, 0.9, 0.8, 0.8, 0.8, 0.8]  # ties and tol edges
    yield [0.5, float("nan"), 0.4, 0.4, float("nan"), 0.41, 0.39]  # NaN: never better, resets the count
    for _ in range(20):
        steps = rng.choice([-1e-3, -2e-5, 0.0, 1e-5, 5e-4], size=60)
        yield list(1.0 + np.cumsum(steps))


@pytest.mark.parametrize("early_stopping", [False, True], ids=["training loss", "validation score"])
@pytest.mark.parametrize("tol", [1e-4, 0.0, 1e-3])
def test_the_rule_is_scikit_learns_on_any_sequence(tol, early_stopping):
    for values in sequences():
        values = [-v for v in values] if early_stopping else values  # scores: higher is better
        expected_counts, expected_best = sklearn_rule(values, tol, early_stopping)
        counts, best = chainrule_rule(values, tol, early_stopping)
        assert counts == expected_counts
        assert best == expected_best
        for n in (1, 2, 5, 10):
            assert stop_epoch(counts, n) == stop_epoch(expected_counts, n)


def test_slow_steady_improvement_stops_as_scikit_learn_does():
    # The hostile test's case: each epoch improves by 0.4 * tol. scikit-learn stops after
    # n_iter_no_change + 1 epochs without beating best - tol; the old rule never stopped.
    losses = [1.0 - 0.4e-4 * t for t in range(40)]
    counts, _ = chainrule_rule(losses, 1e-4, False)
    assert stop_epoch(counts, 10) == 12 == stop_epoch(sklearn_rule(losses, 1e-4, False)[0], 10)


# -- the loss -----------------------------------------------------------------------------------
def test_the_training_loss_is_scikit_learns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    cases = [
        (MLPClassifier, rng.integers(0, 3, 30), "log_loss", "softmax"),
        (MLPClassifier, make_multilabel_classification(30, n_classes=3, random_state=0)[1], "binary_log_loss",
         "logistic"),
        (MLPRegressor, rng.normal(size=(30, 2)), "squared_error", "identity"),
        (MLPRegressor, rng.normal(size=30), "squared_error", "identity"),
    ]
    for make, y, loss_name, activation in cases:
        net = make((5,), alpha=0.3, max_iter=2, random_state=0).fit(X, y)
        out = net.module_(cr.tensor(X))
        target = net._targets(y, fresh=False)[0]
        got = float(net._training_loss()(out, cr.tensor(target))._data)
        probabilities = {"softmax": lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
                         "logistic": lambda z: 1 / (1 + np.exp(-z)), "identity": lambda z: z}[activation](out._data)
        y_2d = np.asarray(y, dtype=float).reshape(len(X), -1)
        if activation == "softmax":
            y_2d = np.eye(3)[y]
        squares = sum(float((p._data**2).sum()) for p in net.module_.parameters() if p.ndim == 2)
        expected = LOSS_FUNCTIONS[loss_name](y_2d, probabilities) + 0.5 * 0.3 * squares / len(X)
        assert got == pytest.approx(expected, rel=1e-10)


# -- end to end against scikit-learn ------------------------------------------------------------
def sklearn_initial_weights(layer_units, random_state):
    """scikit-learn's Glorot-uniform initialisation of a tanh network (``_init_coef``)."""
    rs = np.random.RandomState(random_state)
    weights = []
    for fan_in, fan_out in itertools.pairwise(layer_units):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append((rs.uniform(-bound, bound, (fan_in, fan_out)), rs.uniform(-bound, bound, fan_out)))
    return weights


def network_from(weights):
    """A module factory for NeuralNet*: the tanh network with these (coef, intercept) layers."""

    def build(n_features, n_outputs):
        layers = []
        for coef, intercept in weights:
            linear = nn.Linear(*coef.shape).double()
            linear.weight._data[...] = coef.T
            linear.bias._data[...] = intercept
            layers += [linear, nn.Tanh()]
        return nn.Sequential(*layers[:-1])

    return build


REGRESSION = make_regression(60, 4, noise=5.0, random_state=0)
BLOBS = make_blobs(90, centers=3, cluster_std=2.5, random_state=0)
BINARY = make_blobs(80, centers=2, cluster_std=4.0, random_state=3)


class BinaryMLP(MLPClassifier):
    """MLPClassifier (one sigmoid output for two classes) on a network given by ``module``."""

    def __init__(self, module=None, **kwargs):
        super().__init__((6,), "tanh", **kwargs)
        self.module = module

    def _network(self, n_features, n_outputs):
        return self.module(n_features, n_outputs)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("task", ["classifier", "binary", "regressor"])
def test_same_n_iter_as_scikit_learn_from_the_same_weights(task, solver):
    X, y = BLOBS if task == "classifier" else BINARY if task == "binary" else REGRESSION
    X = StandardScaler().fit_transform(X)
    y = y / y.std() if task == "regressor" else y
    n_outputs = 3 if task == "classifier" else 1
    settings = dict(solver=solver, learning_rate_init=0.02, batch_size=len(X), shuffle=False, alpha=1e-3,
                    tol=1e-3, n_iter_no_change=4, max_iter=400)
    theirs_class = neural_network.MLPRegressor if task == "regressor" else neural_network.MLPClassifier
    theirs = theirs_class(hidden_layer_sizes=(6,), activation="tanh", random_state=0, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # both must stop by the rule
        theirs.fit(X, y)
        ours_class = {"classifier": NeuralNetClassifier, "binary": BinaryMLP, "regressor": NeuralNetRegressor}[task]
        weights = sklearn_initial_weights([X.shape[1], 6, n_outputs], 0)
        ours = ours_class(network_from(weights), random_state=0, **settings).fit(X, y)
    assert 10 < theirs.n_iter_ < 400
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    # sgd: the same arithmetic up to rounding; adam: scikit-learn adds epsilon after the bias correction
    rtol = 1e-10 if solver == "sgd" else 1e-5
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=rtol)
    assert ours._no_improvement_count == theirs._no_improvement_count

    # A warm start continues the count and the best loss, as scikit-learn's does: one more epoch
    # each, since neither improves by tol any more.
    theirs.set_params(warm_start=True).fit(X, y)
    ours.warm_start = True  # (BinaryMLP's own signature hides the parameters from set_params)
    ours.fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    assert ours._no_improvement_count == theirs._no_improvement_count


def test_the_convergence_warning_comes_exactly_when_scikit_learns_does():
    X, y = REGRESSION
    X, y = StandardScaler().fit_transform(X), y / y.std()
    settings = dict(solver="sgd", learning_rate_init=0.02, batch_size=len(X), shuffle=False, tol=1e-3,
                    n_iter_no_change=4)
    weights = sklearn_initial_weights([4, 6, 1], 0)
    stops_at = NeuralNetRegressor(network_from(weights), max_iter=400, **settings).fit(X, y).n_iter_
    for max_iter, warns in [(stops_at, False), (stops_at - 1, True)]:
        for make in (lambda: neural_network.MLPRegressor(hidden_layer_sizes=(6,), activation="tanh", random_state=0),
                     lambda: NeuralNetRegressor(network_from(weights))):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                make().set_params(max_iter=max_iter, **settings).fit(X, y)
            assert any(issubclass(w.category, ConvergenceWarning) for w in caught) == warns


def test_early_stopping_keeps_scikit_learns_bookkeeping():
    X, y = make_blobs(120, centers=2, cluster_std=3.0, random_state=0)
    net = MLPClassifier((8,), learning_rate_init=0.05, early_stopping=True, n_iter_no_change=3, tol=1e-3,
                        max_iter=200, random_state=0).fit(X, y)
    scores = net.validation_scores_
    assert len(scores) == net.n_iter_ < 200 and net.best_validation_score_ == max(scores)
    assert net.best_loss_ is None and len(net.loss_curve_) == net.n_iter_
    # the stop: the count (epochs whose score is below best + tol) exceeded n_iter_no_change
    counts, best = chainrule_rule(scores, 1e-3, True)
    assert stop_epoch(counts, 3) == net.n_iter_ and best == net.best_validation_score_
    # the score is the hold-out accuracy of the kept (best) weights; the split is stratified (binary)
    assert 0 < net.best_validation_score_ <= 1
    without = MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    assert without.validation_scores_ is None and without.best_validation_score_ is None
