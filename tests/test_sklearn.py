"""The scikit-learn estimators: scikit-learn's own estimator checks, pipelines and searches,
reproducibility, continued training, the target kinds, and a user's CNN as an estimator."""

import functools
import itertools
import pickle
import re
import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.datasets import make_blobs, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import chainrule as cr
from chainrule import nn, optim, random
from chainrule.data import digits
from chainrule.optim.lr_scheduler import StepLR
from chainrule.sklearn import (
    MLPClassifier,
    MLPRegressor,
    NeuralNetClassifier,
    NeuralNetRegressor,
    format_results,
    search,
)
from chainrule.train import fit

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
ROOT = Path(__file__).resolve().parent.parent


class TwoLayer(nn.Sequential):
    """A Module class is a factory as NeuralNet* take it: (n_features_in, n_outputs) -> Module."""

    def __init__(self, n_features, n_outputs, width=16):
        super().__init__(nn.Linear(n_features, width), nn.Tanh(), nn.Linear(width, n_outputs))


class SmallCNN(nn.Module):
    """Convolution, pooling and a linear head for 8x8 images given flat (N, 64) or as (N, 1, 8, 8)."""

    def __init__(self, n_features, n_classes, channels=8):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(channels * 16, n_classes),
        )

    def forward(self, x):
        return self.body(x.reshape(-1, 1, 8, 8))


# -- scikit-learn's estimator checks ---------------------------------------------------------------
# random_state makes every check deterministic. No check is expected to fail.
@parametrize_with_checks([
    MLPClassifier(random_state=0),
    MLPRegressor(random_state=0),
    MLPClassifier((16, 16), solver="sgd", learning_rate_init=0.05, batch_norm=True, dropout=0.1,
                  lr_schedule="cosine", random_state=0),
    NeuralNetClassifier(TwoLayer, random_state=0),
    NeuralNetRegressor(TwoLayer, random_state=0),
])  # fmt: skip
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# -- pipelines and searches --------------------------------------------------------------------------
def test_pipeline_grid_search_on_digits_finds_a_network_above_95_percent():
    X, y = digits()
    net = MLPClassifier(max_iter=20, learning_rate_init=0.01, random_state=0)
    pipe = make_pipeline(StandardScaler(), net)
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (64,)]},
                        cv=StratifiedKFold(3, shuffle=True, random_state=0)).fit(X, y)
    scores = grid.cv_results_["mean_test_score"]
    assert grid.best_score_ > 0.95
    assert grid.best_params_ == {"mlpclassifier__hidden_layer_sizes": (64,)}
    assert scores[0] < scores[1]  # 8 hidden units are too few: the search had a real choice
    assert grid.best_estimator_.score(X, y) > 0.97


def test_randomized_search_over_a_module_factory():
    X, y = make_blobs(150, centers=5, random_state=0)
    net = NeuralNetClassifier(TwoLayer, max_iter=40, learning_rate_init=0.05, random_state=0)
    widths = [functools.partial(TwoLayer, width=w) for w in (1, 32)]
    found = RandomizedSearchCV(net, {"module": widths, "alpha": [0.0, 1e-3]}, n_iter=4, cv=2,
                               random_state=0, error_score="raise").fit(X, y)
    assert found.best_params_["module"].keywords == {"width": 32}
    assert found.best_score_ > 0.8


def test_search_returns_ranked_rows_and_a_table():
    X, y = make_blobs(120, centers=3, cluster_std=3.0, random_state=1)
    grid = {"hidden_layer_sizes": [(2,), (32,)], "activation": ["relu", "tanh"]}
    net = MLPClassifier(max_iter=30, learning_rate_init=0.02, random_state=0)
    rows = search(X, y, grid, cv=2, estimator=net)
    assert len(rows) == 4
    assert [r["rank"] for r in rows] == sorted(r["rank"] for r in rows) and rows[0]["rank"] == 1
    means = [r["mean_score"] for r in rows]
    assert means == sorted(means, reverse=True)
    assert {tuple(sorted(r["params"])) for r in rows} == {("activation", "hidden_layer_sizes")}
    table = format_results(rows, top=2)
    assert len(table.splitlines()) == 3 and "hidden_layer_sizes=" in table.splitlines()[1]

    Xr, yr = make_regression(80, 3, noise=1.0, random_state=0)
    rows = search(Xr, yr, {"learning_rate_init": [0.01, 0.03]}, cv=2, n_iter=2)
    assert len(rows) == 2 and all(0.9 < r["mean_score"] <= 1.0 for r in rows)  # an MLPRegressor's R^2


def test_format_results_names_partials_and_callables():
    rows = [{"rank": 1, "mean_score": 0.5, "std_score": 0.0, "fit_time": 0.1,
             "params": {"module": functools.partial(SmallCNN, channels=4), "lr_schedule": StepLR}}]
    assert "module=SmallCNN(channels=4)  lr_schedule=StepLR" in format_results(rows)


# -- reproducibility --------------------------------------------------------------------------------
def test_random_state_makes_fits_identical_and_leaves_the_callers_generator_alone():
    X, y = make_blobs(60, centers=3, random_state=0)
    make = functools.partial(MLPClassifier, (16,), max_iter=15, dropout=0.2, batch_size=16)
    cr.manual_seed(123)
    before = random.get_rng_state()
    a, b = make(random_state=7).fit(X, y), make(random_state=7).fit(X, y)
    assert random.get_rng_state() == before
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = make(random_state=8).fit(X, y)
    assert c.loss_curve_ != a.loss_curve_

    # random_state=k trains exactly as a plain chainrule fit after chainrule.manual_seed(k), the
    # network initialised as scikit-learn's (Glorot-uniform weights and biases).
    cr.manual_seed(7)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3)).double()
    for linear in (model[0], model[3]):
        bound = np.sqrt(6 / (linear.in_features + linear.out_features))
        for p in (linear.weight, linear.bias):
            p._data[...] = random.get_generator().uniform(-bound, bound, p.shape)
    weights = list(model.parameters())[::2]
    cross_entropy = nn.CrossEntropyLoss()

    def loss_fn(out, target):  # scikit-learn's loss: alpha / 2 * sum(W ** 2) / batch size on the weights
        return cross_entropy(out, target) + sum((w * w).sum() for w in weights) * (0.5 * 1e-4 / out.shape[0])

    opt = optim.Adam(model.parameters(), lr=1e-3)
    history = fit(model, loss_fn, opt, (X, y), epochs=15, batch_size=16, verbose=0)
    assert history["loss"] == a.loss_curve_

    # None draws the seed from chainrule's generator, so manual_seed repeats it, and fits differ.
    cr.manual_seed(5)
    d, e = make().fit(X, y), make().fit(X, y)
    cr.manual_seed(5)
    assert make().fit(X, y).loss_curve_ == d.loss_curve_
    assert e.loss_curve_ != d.loss_curve_

    rs = np.random.RandomState(0)
    assert make(random_state=rs).fit(X, y).loss_curve_ != make(random_state=rs).fit(X, y).loss_curve_


# -- continued training -----------------------------------------------------------------------------
def test_partial_fit_epochs_continue_exactly_as_one_fit():
    X, y = make_blobs(80, centers=3, random_state=2)
    fitted = MLPClassifier((8,), max_iter=6, batch_size=16, random_state=3).fit(X, y)
    stepped = MLPClassifier((8,), batch_size=16, random_state=3)
    for _ in range(6):
        stepped.partial_fit(X, y, classes=[0, 1, 2])
    assert stepped.n_iter_ == 1 and len(stepped.loss_curve_) == 6
    np.testing.assert_allclose(stepped.loss_curve_, fitted.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(stepped.predict_proba(X), fitted.predict_proba(X), rtol=1e-12)
    assert stepped.loss_curve_[-1] < stepped.loss_curve_[0]

    # partial_fit after fit continues fit's optimizer
    more = pickle.loads(pickle.dumps(fitted)).partial_fit(X, y)
    assert len(more.loss_curve_) == 7 and more.loss_curve_[-1] < fitted.loss_curve_[0]


def test_partial_fit_needs_the_classes_first_and_keeps_them():
    X, y = make_blobs(30, centers=3, random_state=0)
    net = MLPClassifier((4,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        net.partial_fit(X, y)
    net.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # class 2 arrives later
    assert net.classes_.tolist() == [0, 1, 2] and net.predict_proba(X).shape == (30, 3)
    net.partial_fit(X, y)
    with pytest.raises(ValueError, match=re.escape("`y` has classes not in `self.classes_`. `self.classes_` has "
                                                   "[0 1 2]. 'y' has [1 2 3].")):
        net.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match=r"`classes=array\(\[0, 1\]\)` is not the same as on last call"):
        net.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_warm_start_continues_from_the_current_weights():
    X, y = make_regression(60, 4, noise=0.5, random_state=0)
    y = y / y.std()
    # Plain SGD keeps no optimizer state, so 5 + 5 warm epochs are exactly 10 epochs.
    make = functools.partial(MLPRegressor, (8,), solver="sgd", momentum=0.0, learning_rate_init=0.01,
                             batch_size=20, random_state=0)
    whole = make(max_iter=10).fit(X, y)
    warm = make(max_iter=5, warm_start=True).fit(X, y)
    first_half = list(warm.loss_curve_)
    warm.fit(X, y)
    assert warm.n_iter_ == 5 and len(warm.loss_curve_) == 10 and warm.loss_curve_[:5] == first_half
    np.testing.assert_allclose(warm.loss_curve_, whole.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(warm.predict(X), whole.predict(X), rtol=1e-12)

    # Without warm_start the second fit starts over.
    cold = make(max_iter=5).fit(X, y)
    cold.fit(X, y)
    assert cold.loss_curve_ == first_half

    # With Adam (a fresh optimizer each fit) the loss still carries on from where it was.
    adam = MLPRegressor((16,), max_iter=20, learning_rate_init=0.01, warm_start=True, random_state=0)
    adam.fit(X, y)
    start = adam.loss_curve_[0]
    adam.fit(X, y)
    assert adam.loss_curve_[20] < 0.5 * start

    # warm_start refuses labels it has never seen, and (as scikit-learn) labels that went missing
    Xc, yc = make_blobs(30, centers=3, random_state=0)
    clf = MLPClassifier((4,), max_iter=3, warm_start=True, random_state=0).fit(Xc[yc < 2], yc[yc < 2])
    with pytest.raises(ValueError, match=re.escape("warm_start can only be used where `y` has the same classes as in "
                                                   "the previous call to fit. Previously got [0 1], `y` has [0 1 2]")):
        clf.fit(Xc, yc)
    clf.set_params(warm_start=False).fit(Xc, yc)
    with pytest.raises(ValueError, match=re.escape("Previously got [0 1 2], `y` has [0 1]")):
        clf.set_params(warm_start=True).fit(Xc[yc < 2], yc[yc < 2])


# -- targets ------------------------------------------------------------------------------------------
def test_string_labels_come_back_as_strings():
    X, y = make_blobs(90, centers=3, random_state=0)
    names = np.array(["cat", "dog", "emu"])[y]
    net = MLPClassifier((16,), learning_rate_init=0.02, max_iter=100, random_state=0).fit(X, names)
    assert net.classes_.tolist() == ["cat", "dog", "emu"]
    predicted = net.predict(X)
    assert predicted.dtype == names.dtype and set(predicted) <= {"cat", "dog", "emu"}
    assert net.score(X, names) > 0.9


def test_binary_targets():
    X, y = make_blobs(60, centers=2, random_state=1)
    labels = np.where(y == 1, 1, -1)
    net = MLPClassifier((8,), learning_rate_init=0.02, max_iter=100, random_state=0).fit(X, labels)
    proba = net.predict_proba(X)
    assert net.classes_.tolist() == [-1, 1] and proba.shape == (60, 2)
    # one sigmoid output, the probability of the second class, as scikit-learn's MLPClassifier
    assert net.out_activation_ == "logistic" and net.module_[-1].out_features == 1
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-net.module_(cr.tensor(X))._data[:, 0])), rtol=1e-12)
    # a user's module keeps one output per class
    assert NeuralNetClassifier(TwoLayer, max_iter=2).fit(X, labels).out_activation_ == "softmax"
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(net.predict(X), net.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(net.predict_log_proba(X), np.log(proba))
    assert net.score(X, labels) > 0.95


def test_multilabel_targets_train_one_sigmoid_per_label():
    X, Y = make_multilabel_classification(200, n_features=6, n_classes=4, random_state=0)
    X = StandardScaler().fit_transform(X)
    net = MLPClassifier((32,), learning_rate_init=0.01, max_iter=150, random_state=0).fit(X, Y)
    assert net.out_activation_ == "logistic" and net.classes_.tolist() == [0, 1, 2, 3]
    assert isinstance(net._data_loss()[0], nn.BCEWithLogitsLoss)
    proba, predicted = net.predict_proba(X), net.predict(X)
    assert proba.shape == predicted.shape == Y.shape and predicted.dtype.kind == "i"
    assert ((proba > 0) & (proba < 1)).all() and not np.allclose(proba.sum(axis=1), 1.0)
    assert (predicted == Y).mean() > 0.85  # per-label accuracy, far above the majority rule
    assert (predicted == Y).mean() > max((Y == 0).mean(), (Y == 1).mean()) + 0.1
    with pytest.raises(ValueError, match="multi-label"):
        net.set_params(warm_start=True).fit(X, Y.argmax(axis=1))
    with pytest.raises(ValueError, match="indicator"):
        MLPClassifier().fit(X[:4], [[0, 2], [1, 2], [2, 0], [1, 1]])


def test_multioutput_regression_and_losses():
    X, Y = make_regression(80, 5, n_targets=3, random_state=0)
    net = MLPRegressor((32,), learning_rate_init=0.01, max_iter=200, random_state=0).fit(X, Y / Y.std())
    assert net.predict(X).shape == (80, 3) and net.n_outputs_ == 3
    assert net.score(X, Y / Y.std()) > 0.9
    assert isinstance(net._data_loss()[0], nn.MSELoss)
    assert isinstance(MLPClassifier().fit(X[:6], [0, 1, 2, 0, 1, 2])._data_loss()[0], nn.CrossEntropyLoss)


def test_a_single_sample():
    X = np.array([[0.5, -1.0, 2.0]])
    clf = MLPClassifier(max_iter=5, random_state=0).fit(X, ["only"])
    assert clf.predict(X).tolist() == ["only"] and clf.predict_proba(X).tolist() == [[1.0]]
    reg = MLPRegressor(max_iter=50, learning_rate_init=0.01, random_state=0).fit(X, [3.0])
    assert abs(reg.predict(X)[0] - 3.0) < abs(0.0 - 3.0)
    with pytest.raises(ValueError, match="n_samples=1"):
        MLPRegressor(batch_norm=True).fit(X, [3.0])


# -- chainrule's own options ---------------------------------------------------------------------------
def test_early_stopping_holds_out_data_and_keeps_the_best_epoch():
    X, y = make_blobs(200, centers=3, cluster_std=4.0, random_state=0)
    net = MLPClassifier((64,), learning_rate_init=0.05, max_iter=300, early_stopping=True, n_iter_no_change=5,
                        random_state=0).fit(X, y)
    scores = net.validation_scores_
    best = int(np.argmax(scores))  # the first epoch with the highest validation accuracy
    assert net.n_iter_ < 300 and "Validation score did not improve" in net.history_.stopped
    assert len(scores) == net.n_iter_ == len(net.history_) and len(net.history_["val_loss"]) == net.n_iter_
    assert net.best_validation_score_ == scores[best] and net.best_loss_ is None
    # the weights are the best epoch's: those of the same run stopped there
    short = clone(net).set_params(max_iter=best + 1).fit(X, y)
    np.testing.assert_allclose(short.predict_proba(X), net.predict_proba(X), rtol=1e-12)
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPRegressor(early_stopping=True, validation_fraction=0.1).fit(X[:9], y[:9])


def test_restarts_keep_the_best_run():
    X, y = make_blobs(60, centers=3, random_state=0)
    net = MLPClassifier((4,), max_iter=5, restarts=3, random_state=0).fit(X, y)
    runs = net.history_.runs
    assert len(runs) == 3 and net.history_.best_run == int(np.argmin([r["score"] for r in runs]))
    assert len({r["score"] for r in runs}) == 3  # three different initialisations
    assert net.loss_curve_ == runs[net.history_.best_run]["loss"]


def test_lr_schedules():
    X, y = make_blobs(40, centers=2, random_state=0)
    cosine = MLPClassifier((4,), max_iter=10, lr_schedule="cosine", learning_rate_init=0.1, random_state=0)
    cosine.fit(X, y)
    lrs = cosine.history_["lr"]
    assert lrs[0] == 0.1 and all(a > b for a, b in itertools.pairwise(lrs))
    step = MLPClassifier((4,), max_iter=6, random_state=0,
                         lr_schedule=functools.partial(StepLR, step_size=2, gamma=0.5)).fit(X, y)
    np.testing.assert_allclose(step.history_["lr"], [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4])
    with pytest.raises(ValueError, match="lr_schedule"):
        MLPClassifier(lr_schedule="warp").fit(X, y)


def test_alpha_is_scikit_learns_penalty_on_the_weights_not_the_biases():
    X, y = make_blobs(40, centers=3, random_state=0)
    make = functools.partial(MLPClassifier, (8,), max_iter=50, batch_size=10, learning_rate_init=0.01,
                             random_state=0)
    plain, decayed = make(alpha=0.0).fit(X, y), make(alpha=5.0).fit(X, y)
    loss = decayed._training_loss()
    assert [p.ndim for p in loss.weights] == [2, 2] and loss.alpha == 5.0
    out, target = decayed.module_(cr.tensor(X)), cr.tensor(y)
    squares = sum(float((p._data**2).sum()) for p in loss.weights)
    expected = float(nn.CrossEntropyLoss()(out, target)._data) + 0.5 * 5.0 * squares / len(X)
    assert float(loss(out, target)._data) == pytest.approx(expected, rel=1e-12)
    norm = lambda net: sum(float((p._data**2).sum()) for p in net.module_.parameters() if p.ndim == 2)
    assert norm(decayed) < 0.8 * norm(plain)


def test_architecture_parameters_build_the_network():
    X, y = make_blobs(30, centers=3, random_state=0)
    net = MLPClassifier((5, 4), activation="logistic", dropout=0.1, batch_norm=True, max_iter=2).fit(X, y)
    kinds = [type(m).__name__ for m in net.module_]
    block = ["BatchNorm1d", "Sigmoid", "Dropout"]
    assert kinds == ["Linear", *block, "Linear", *block, "Linear"]
    assert [net.module_[i].out_features for i in (0, 4, 8)] == [5, 4, 3]

    # 'identity' units: the network is affine in its input.
    Xr, yr = make_regression(30, 2, random_state=0)
    linear = MLPRegressor((6,), activation="identity", max_iter=3, random_state=0).fit(Xr, yr)
    assert not any(isinstance(m, nn.ReLU) for m in linear.module_)
    ends_and_middle = linear.predict(np.array([[1.0, 2.0], [3.0, -1.0], [2.0, 0.5]]))
    assert ends_and_middle[2] == pytest.approx(ends_and_middle[:2].mean())
    assert MLPRegressor((), max_iter=2).fit(Xr, yr).module_.num_parameters() == 3  # () is linear regression


def test_the_network_computes_in_the_dtype_of_X():
    X, y = make_blobs(30, centers=3, random_state=0)
    single = MLPClassifier((4,), max_iter=2).fit(X.astype(np.float32), y)
    assert {p.dtype for p in single.module_.parameters()} == {np.dtype(np.float32)}
    assert single.predict_proba(X).dtype == np.float32
    double = MLPClassifier((4,), max_iter=2).fit(X.astype(int), y)
    assert {p.dtype for p in double.module_.parameters()} == {np.dtype(np.float64)}


def test_parameters_are_checked_at_fit_not_at_construction():
    X, y = make_blobs(20, centers=2, random_state=0)
    bad = [("solver", "newton"), ("learning_rate", "optimal"), ("power_t", -0.5), ("max_fun", 0),
           ("power_t", np.inf), ("hidden_layer_sizes", (4, 0)), ("activation", "swish"), ("alpha", -1.0),
           ("batch_size", 0), ("max_iter", 0), ("dropout", 1.0), ("momentum", 1.0), ("validation_fraction", 1.0),
           ("restarts", 0), ("learning_rate_init", 0.0), ("random_state", -1), ("tol", -1.0),
           ("n_iter_no_change", 0),
           # not finite, or of the wrong type
           ("alpha", np.nan), ("learning_rate_init", np.inf), ("tol", np.nan), ("epsilon", np.inf), ("beta_1", 1.0),
           ("beta_2", np.nan), ("momentum", "0.9"), ("batch_size", 2.5), ("max_iter", 1.5),
           ("n_iter_no_change", 2.5), ("hidden_layer_sizes", "64"), ("shuffle", "no"), ("early_stopping", 1),
           ("validation_fraction", np.nan), ("batch_norm", None), ("warm_start", "yes"), ("verbose", -1),
           ("alpha", 10**400)]
    for name, value in bad:
        net = MLPClassifier(**{name: value})  # no error yet: __init__ only stores
        message = f"The '{name}' parameter of MLPClassifier must be .*\\. Got {re.escape(repr(value))} instead\\."
        with pytest.raises(InvalidParameterError, match=message):
            net.fit(X, y)
    with pytest.raises(ValueError, match="The 'module' parameter of NeuralNetRegressor must be a callable"):
        NeuralNetRegressor("not a module").fit(X, y.astype(float))
    with pytest.raises(TypeError, match=r"expected a chainrule\.nn\.Module"):
        NeuralNetRegressor(lambda n_in, n_out: "nope").fit(X, y.astype(float))
    with pytest.warns(UserWarning, match="Got `batch_size` less than 1 or larger than sample size"):
        MLPClassifier(batch_size=50, max_iter=1).fit(X, y)
    # scikit-learn's own settings that mean "never stop early" and adam's
    net = MLPClassifier((4,), max_iter=3, n_iter_no_change=np.inf, tol=0.0, beta_1=0.0, epsilon=1e-3).fit(X, y)
    assert net.n_iter_ == 3 and net._optimizer.param_groups[0]["betas"] == (0.0, 0.999)


def test_convergence_warning_when_max_iter_runs_out():
    X, y = make_blobs(20, centers=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match=re.escape("Stochastic Optimizer: Maximum iterations (2) reached "
                                                               "and the optimization hasn't converged yet.")):
            MLPClassifier(max_iter=2).fit(X, y)
        MLPClassifier(max_iter=500, tol=0.5, n_iter_no_change=1).fit(X, y)  # converges: no warning


def test_verbose_prints_each_epoch(capsys):
    X, y = make_blobs(20, centers=2, random_state=0)
    net = MLPClassifier((4,), max_iter=3, verbose=True).fit(X, y)
    out = capsys.readouterr().out.splitlines()  # scikit-learn's lines, on stdout
    assert out == [f"Iteration {i + 1}, loss = {loss:.8f}" for i, loss in enumerate(net.loss_curve_)]


# -- a user's own module ----------------------------------------------------------------------------
def test_neural_net_classifier_with_a_small_cnn():
    X, y = digits(scale=True)
    net = NeuralNetClassifier(SmallCNN, max_iter=10, batch_size=64, learning_rate_init=0.01, random_state=0)
    net.fit(X[:1000], y[:1000])
    assert isinstance(net.module_, SmallCNN) and net.n_features_in_ == 64
    assert net.score(X[1000:], y[1000:]) > 0.9

    # images as (N, C, H, W): n_features_in is the channel count
    images = X.reshape(-1, 1, 8, 8)
    cnn = clone(net).set_params(module=functools.partial(SmallCNN, channels=4)).fit(images[:1000], y[:1000])
    assert cnn.n_features_in_ == 1 and cnn.module_.body[0].out_channels == 4
    assert cnn.score(images[1000:], y[1000:]) > 0.85

    # and inside a pipeline, flattened, after a scaler
    pipe = make_pipeline(StandardScaler(), clone(net)).fit(X[:1000], y[:1000])
    assert pipe.score(X[1000:], y[1000:]) > 0.9


# -- the example and the docs -------------------------------------------------------------------------
def test_the_search_example_runs(capsys, tmp_path):
    rows = runpy.run_path(str(ROOT / "examples" / "sklearn_search.py"))["main"](quick=True, out=tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert len(rows) == 2 and rows[0]["mean_score"] >= rows[1]["mean_score"] > 0.5
    assert lines[2].startswith("rank") and lines[3].startswith("   1  ")
    table = (tmp_path / "sklearn_search.csv").read_text().splitlines()
    assert table[0] == "rank,mean_accuracy,std_accuracy,fit_seconds,hidden_layer_sizes,learning_rate_init"
    assert len(table) == 3 and table[1].startswith("1,")


def test_the_chainrule_code_in_the_docs_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "sklearn.md").read_text(), re.DOTALL)
    ours = [block for block in blocks if "from chainrule" in block]
    assert len(ours) == 3
    for block in ours:
        exec(compile(block, "docs/sklearn.md", "exec"), {"__name__": "docs_sklearn"})
    out = capsys.readouterr().out.splitlines()
    assert float(out[0]) > 0.9  # cross-validated accuracy on the digits
    assert out[1].startswith("{'module': functools.partial(")
    assert out[2].startswith("rank") and len(out) == 3 + 4
