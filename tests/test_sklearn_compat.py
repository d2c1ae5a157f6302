"""chainrule's MLPs as drop-in scikit-learn MLPs: scikit-learn's parameters (learning_rate,
power_t, loss, n_iter_no_change=inf), its fitted attributes (coefs_ and intercepts_ as views of
the network's weights, loss_, n_layers_, n_outputs_), sample_weight, sparse X, its messages and
verbose lines, each checked against scikit-learn's own MLP started from the same weights."""

import contextlib
import io
import itertools
import re
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from scipy import sparse
from sklearn import neural_network
from sklearn.datasets import make_blobs, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._base import LOSS_FUNCTIONS
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import chainrule as cr
from chainrule import nn
from chainrule.sklearn import MLPClassifier, MLPRegressor, NeuralNetClassifier, NeuralNetRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
REGRESSION = make_regression(60, 4, noise=5.0, random_state=0)
BLOBS = make_blobs(90, centers=3, cluster_std=2.5, random_state=0)


def sklearn_initial_weights(layer_units, random_state, factor=6.0):
    """scikit-learn's Glorot-uniform initialisation (``_init_coef``) for these layer widths."""
    rs = np.random.RandomState(random_state)
    coefs, intercepts = [], []
    for fan_in, fan_out in itertools.pairwise(layer_units):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rs.uniform(-bound, bound, (fan_in, fan_out)))
        intercepts.append(rs.uniform(-bound, bound, fan_out))
    return coefs, intercepts


def started_from(estimator, coefs, intercepts):
    """Our estimator set to begin its first fit from these weights: assigned, then a warm start."""
    estimator.set_params(warm_start=True)
    estimator.coefs_ = [c.copy() for c in coefs]
    estimator.intercepts_ = [b.copy() for b in intercepts]
    return estimator


def scaled_regression():
    X, y = REGRESSION
    return StandardScaler().fit_transform(X), y / y.std()


def message(error) -> str:
    """An error's text with the members of each {...} sorted: scikit-learn lists a set's options in
    the set's order, which varies with Python's string hashing."""
    return re.sub(r"\{([^}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", str(error))


def run_quietly(fit):
    """``fit()`` with its stdout captured and ConvergenceWarnings silenced; returns the stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit()
    return out.getvalue()


# -- parameters -----------------------------------------------------------------------------------
@pytest.mark.parametrize("ours, theirs", [(MLPClassifier, neural_network.MLPClassifier),
                                          (MLPRegressor, neural_network.MLPRegressor)])
def test_every_scikit_learn_parameter_with_its_default(ours, theirs):
    expected = theirs().get_params()
    got = ours().get_params()
    assert {name: got.get(name, "missing") for name in expected} == expected


@pytest.mark.parametrize("name, value", [
    ("alpha", -1.0), ("learning_rate", "optimal"), ("power_t", -0.5), ("max_fun", 0), ("batch_size", 0),
    ("n_iter_no_change", 0), ("n_iter_no_change", 2.5), ("tol", -1.0), ("beta_1", 1.0), ("epsilon", 0.0),
    ("max_iter", 0), ("shuffle", "no"), ("learning_rate_init", 0), ("early_stopping", 1), ("verbose", -1),
])  # fmt: skip
def test_bad_parameters_are_refused_in_scikit_learns_words(name, value):
    X, y = make_blobs(20, centers=2, random_state=0)
    for ours, theirs in [(MLPClassifier, neural_network.MLPClassifier), (MLPRegressor, neural_network.MLPRegressor)]:
        with pytest.raises(InvalidParameterError) as expected:
            theirs(**{name: value}).fit(X, y)
        with pytest.raises(InvalidParameterError) as got:
            ours(**{name: value}).fit(X, y)
        assert message(got.value) == message(expected.value)
    with pytest.raises(InvalidParameterError) as expected:
        neural_network.MLPRegressor(loss="huber").fit(X, y)
    with pytest.raises(InvalidParameterError) as got:
        MLPRegressor(loss="huber").fit(X, y)
    assert message(got.value) == message(expected.value)


def test_lbfgs_is_a_solver_without_partial_fit():
    for make in (MLPClassifier, MLPRegressor, lambda **kw: NeuralNetRegressor(TwoLayer, **kw)):
        net = make(solver="lbfgs")
        net._validate_params()  # an accepted name
        assert not hasattr(net, "partial_fit")
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as caught:
            net.partial_fit  # noqa: B018
        assert str(caught.value.__cause__) == "partial_fit is only available for stochastic optimizers. lbfgs is not " \
                                              "stochastic."
        assert hasattr(net.set_params(solver="sgd"), "partial_fit")


def test_learning_rate_and_lr_schedule_cannot_both_move_sgds_rate():
    X, y = make_blobs(20, centers=2, random_state=0)
    with pytest.raises(ValueError, match="learning_rate='adaptive' and lr_schedule='cosine' both set"):
        MLPClassifier(solver="sgd", learning_rate="adaptive", lr_schedule="cosine").fit(X, y)
    # adam ignores learning_rate, as scikit-learn's
    MLPClassifier((4,), max_iter=2, learning_rate="adaptive", lr_schedule="cosine").fit(X, y)


# -- learning_rate ----------------------------------------------------------------------------------
@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive", "constant"])
def test_learning_rate_schedules_step_as_scikit_learns(learning_rate):
    X, y = scaled_regression()
    settings = dict(hidden_layer_sizes=(6,), activation="tanh", solver="sgd", learning_rate=learning_rate,
                    learning_rate_init=0.2, power_t=0.3, batch_size=len(X), shuffle=False, momentum=0.5, tol=1e-2,
                    n_iter_no_change=2, max_iter=150, verbose=True)
    theirs = neural_network.MLPRegressor(random_state=0, **settings)
    their_lines = run_quietly(lambda: theirs.fit(X, y))
    ours = started_from(MLPRegressor(**settings), *sklearn_initial_weights([4, 6, 1], 0))
    our_lines = run_quietly(lambda: ours.fit(X, y))
    assert ours.n_iter_ == theirs.n_iter_ > 5 and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)
    # the verbose lines too: each epoch's loss, and the adaptive rule's decisions
    assert our_lines == their_lines
    if learning_rate == "adaptive":
        assert "Setting learning rate to" in our_lines and ours.n_iter_ < 150
        assert ours._optimizer.learning_rate < 1e-6 and our_lines.endswith("Learning rate too small. Stopping.\n")
    if learning_rate == "invscaling":
        lrs = ours.history_["lr"]
        assert lrs[:3] == [0.2, 0.2 / 61**0.3, 0.2 / 121**0.3]  # t counts samples, +1


def test_the_learning_rate_of_a_warm_start():
    # scikit-learn's test_learning_rate_warmstart: the rate after the second fit reflects t_ = 8
    X, y = [[3, 2], [1, 6], [5, 6], [-2, -4]], [1, 1, 1, 0]
    for learning_rate in ["invscaling", "constant"]:
        net = MLPClassifier(4, solver="sgd", learning_rate=learning_rate, max_iter=1, power_t=0.25, warm_start=True)
        run_quietly(lambda net=net: net.fit(X, y))
        first = net._optimizer.learning_rate
        run_quietly(lambda net=net: net.fit(X, y))
        if learning_rate == "constant":
            assert first == net._optimizer.learning_rate == 0.001
        else:
            assert first == 0.001 / 5**0.25 and net._optimizer.learning_rate == 0.001 / 9**0.25


def test_n_iter_no_change_inf_never_stops():
    X, y = make_blobs(40, centers=2, random_state=0)
    net = MLPClassifier((4,), solver="sgd", tol=1e9, n_iter_no_change=np.inf, max_iter=25)
    with pytest.warns(ConvergenceWarning, match=re.escape("Stochastic Optimizer: Maximum iterations (25) reached and "
                                                          "the optimization hasn't converged yet.")):
        net.fit(X, y)
    assert net.n_iter_ == 25 and net._no_improvement_count == 24  # every epoch after the first counted


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_warm_start_runs_max_iter_epochs_each_fit(solver):
    X, y = make_blobs(40, centers=3, random_state=0)
    net = MLPClassifier((3,), solver=solver, warm_start=True, max_iter=4, n_iter_no_change=np.inf, random_state=0)
    for max_iter in (4, 7):
        with pytest.warns(ConvergenceWarning):
            net.set_params(max_iter=max_iter).fit(X, y)
        assert net.n_iter_ == max_iter
    assert len(net.loss_curve_) == 11 and net.t_ == 11 * 40


# -- fitted attributes ------------------------------------------------------------------------------
def test_coefs_and_intercepts_are_views_of_the_network():
    X, y = scaled_regression()
    net = MLPRegressor((5, 3), activation="tanh", max_iter=5, random_state=0)
    run_quietly(lambda: net.fit(X, y))
    assert [c.shape for c in net.coefs_] == [(4, 5), (5, 3), (3, 1)]
    assert [b.shape for b in net.intercepts_] == [(5,), (3,), (1,)]
    assert net.n_layers_ == 4 and net.n_outputs_ == 1 and net.out_activation_ == "identity"

    def forward(X):  # scikit-learn's _forward_pass_fast on coefs_ and intercepts_
        a = X
        for i, (w, b) in enumerate(zip(net.coefs_, net.intercepts_)):
            a = a @ w + b
            a = np.tanh(a) if i < len(net.coefs_) - 1 else a
        return a.ravel()

    np.testing.assert_allclose(net.predict(X), forward(X), rtol=1e-12)
    net.coefs_[0][1, 2] += 0.5  # writing into coefs_ changes the network
    net.intercepts_[2][0] -= 1.0
    assert net.module_[0].weight._data[2, 1] == net.coefs_[0][1, 2]
    np.testing.assert_allclose(net.predict(X), forward(X), rtol=1e-12)

    # float32 X: float32 weights, as scikit-learn's
    single = MLPClassifier((3,), max_iter=2, random_state=0)
    run_quietly(lambda: single.fit(X.astype(np.float32), y > 0))
    assert {c.dtype for c in single.coefs_ + single.intercepts_} == {np.dtype(np.float32)}
    assert single.n_outputs_ == 1 and single.out_activation_ == "logistic"


def test_a_network_that_is_not_a_chain_of_linear_layers_has_no_coefs():
    X, y = make_blobs(30, centers=3, random_state=0)
    bn = MLPClassifier((4,), batch_norm=True, max_iter=2, random_state=0)
    run_quietly(lambda: bn.fit(X, y))
    assert not hasattr(bn, "coefs_") and not hasattr(bn, "intercepts_") and not hasattr(bn, "n_layers_")
    with pytest.raises(AttributeError, match=r"it also holds BatchNorm1d parameters\): read module_ instead"):
        bn.coefs_  # noqa: B018
    with pytest.raises(AttributeError, match="not fitted yet"):
        MLPClassifier().coefs_  # noqa: B018
    assert bn.n_outputs_ == 3 and bn.predict(X).shape == (30,)
    # a user's module of Linear layers has them
    net = NeuralNetClassifier(TwoLayer, max_iter=2, random_state=0)
    run_quietly(lambda: net.fit(X, y))
    assert [c.shape for c in net.coefs_] == [(2, 16), (16, 3)] and net.n_layers_ == 3 and net.n_outputs_ == 3


class TwoLayer(nn.Sequential):
    def __init__(self, n_features, n_outputs):
        super().__init__(nn.Linear(n_features, 16), nn.Tanh(), nn.Linear(16, n_outputs))


def test_assigned_weights_start_partial_fit_as_scikit_learns_worked_example():
    # scikit-learn's test_fit: weights set by hand on an unfitted estimator, then one partial_fit
    X, y = np.array([[0.6, 0.8, 0.7]]), np.array([0])
    results = []
    for make in (neural_network.MLPClassifier, MLPClassifier):
        mlp = make(solver="sgd", learning_rate_init=0.1, alpha=0.1, activation="logistic", random_state=1,
                   max_iter=1, hidden_layer_sizes=2, momentum=0)
        mlp.coefs_ = [0] * 2
        mlp.intercepts_ = [0] * 2
        mlp.coefs_[0] = np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0]])  # set after the assignment, as there
        mlp.coefs_[1] = np.array([[0.1], [0.2]])
        mlp.intercepts_[0] = np.array([0.1, 0.1])
        mlp.intercepts_[1] = np.array([1.0])
        mlp.n_outputs_, mlp.n_layers_, mlp.out_activation_, mlp.t_, mlp.n_iter_ = 1, 3, "logistic", 0, 0
        mlp.best_loss_, mlp.loss_curve_, mlp._no_improvement_count = np.inf, [], 0
        mlp.partial_fit(X, y, classes=[0, 1])
        results.append(mlp)
    theirs, ours = results
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(ours.coefs_[0], [[0.098, 0.195756], [0.2956664, 0.096008], [0.4939998, -0.002244]],
                               atol=1e-3)
    assert ours.predict_proba(X)[0, 1] == pytest.approx(theirs.predict_proba(X)[0, 1], rel=1e-12)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-12) and ours.loss_curve_ == [ours.loss_]

    # arrays of the wrong shapes are refused
    wrong = MLPClassifier(hidden_layer_sizes=2, solver="sgd")
    wrong.coefs_ = [np.zeros((3, 4)), np.zeros((4, 1))]
    with pytest.raises(ValueError, match=r"coefs_ was assigned arrays of shapes \[\(3, 4\), \(4, 1\)\]"):
        wrong.partial_fit(X, y, classes=[0, 1])


def test_a_fresh_fit_ignores_assigned_weights_and_prediction_uses_them():
    X, y = scaled_regression()
    net = MLPRegressor((3,), max_iter=3, random_state=0)
    coefs, intercepts = sklearn_initial_weights([4, 3, 1], 5)
    net.coefs_, net.intercepts_ = coefs, intercepts
    run_quietly(lambda: net.fit(X, y))  # no warm start: initialised anew, as scikit-learn's
    assert not np.allclose(net.coefs_[0], coefs[0])
    net.coefs_, net.intercepts_ = coefs, intercepts  # on a fitted estimator: the next prediction uses them
    expected = (np.maximum(X @ coefs[0] + intercepts[0], 0) @ coefs[1] + intercepts[1]).ravel()
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-12)


# -- sample_weight ----------------------------------------------------------------------------------
def test_the_weighted_loss_is_scikit_learns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    w = rng.uniform(0, 3, size=30)
    cases = [
        (MLPClassifier(), rng.integers(0, 3, 30), "log_loss", lambda z: np.exp(z) / np.exp(z).sum(1, keepdims=True)),
        (MLPClassifier(), rng.integers(0, 2, 30), "log_loss", lambda z: 1 / (1 + np.exp(-z))),
        (MLPClassifier(), make_multilabel_classification(30, n_classes=3, random_state=0)[1], "binary_log_loss",
         lambda z: 1 / (1 + np.exp(-z))),
        (MLPRegressor(), rng.normal(size=(30, 2)), "squared_error", lambda z: z),
        (MLPRegressor(loss="poisson"), rng.poisson(2.0, size=(30, 2)).astype(float), "poisson", np.exp),
    ]
    for net, y, name, activation in cases:
        run_quietly(lambda net=net, y=y: net.set_params(hidden_layer_sizes=(5,), alpha=0.3, max_iter=2).fit(X, y))
        out = net.module_(cr.tensor(X))
        target = net._targets(y, fresh=False)[0]
        got = float(net._training_loss()(out, cr.tensor(target), w)._data)
        y_2d = np.asarray(y, dtype=float).reshape(len(X), -1)
        if y_2d.shape[1] == 1 and name == "log_loss" and len(np.unique(y)) == 3:
            y_2d = np.eye(3)[y]
        squares = sum(float((c**2).sum()) for c in net.coefs_)
        expected = LOSS_FUNCTIONS[name](y_2d, activation(out._data), w) + 0.5 * 0.3 * squares / w.sum()
        assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("task", ["classifier", "regressor", "poisson"])
def test_weighted_fits_follow_scikit_learns_from_the_same_weights(task):
    X, y = BLOBS if task == "classifier" else scaled_regression()
    X = StandardScaler().fit_transform(X)
    if task == "poisson":
        y = np.random.default_rng(0).poisson(np.exp(0.3 * X[:, 0]))
    w = np.random.default_rng(1).integers(0, 4, len(X)).astype(float)
    settings = dict(hidden_layer_sizes=(6,), activation="tanh", solver="sgd", learning_rate_init=0.05,
                    batch_size=len(X), shuffle=False, alpha=1e-3, tol=1e-4, max_iter=40)
    if task != "classifier":
        settings["loss"] = "poisson" if task == "poisson" else "squared_error"
    ours_class, theirs_class = ((MLPClassifier, neural_network.MLPClassifier) if task == "classifier"
                                else (MLPRegressor, neural_network.MLPRegressor))
    theirs = theirs_class(random_state=0, **settings)
    run_quietly(lambda: theirs.fit(X, y, sample_weight=w))
    n_outputs = 3 if task == "classifier" else 1
    ours = started_from(ours_class(**settings), *sklearn_initial_weights([2 if task == "classifier" else 4, 6,
                                                                          n_outputs], 0))
    run_quietly(lambda: ours.fit(X, y, sample_weight=w))
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)
    if task == "poisson":
        assert ours.out_activation_ == "exp" and (ours.predict(X) > 0).all()


def test_integer_weights_are_repeated_samples():
    X, y = make_blobs(40, centers=3, random_state=0)
    w = np.random.default_rng(0).integers(0, 3, len(X))
    make = lambda: MLPClassifier((5,), solver="sgd", learning_rate_init=0.05, shuffle=False,
                                 max_iter=20, random_state=0)
    weighted, repeated = make(), make()
    run_quietly(lambda: weighted.fit(X, y, sample_weight=w))
    run_quietly(lambda: repeated.fit(X.repeat(w, axis=0), y.repeat(w)))
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-10)
    # partial_fit takes them too
    stepped = MLPClassifier((5,), solver="sgd", learning_rate_init=0.05, shuffle=False,
                            random_state=0).partial_fit(X, y, sample_weight=w, classes=[0, 1, 2])
    assert stepped.loss_curve_ == weighted.loss_curve_[:1]
    with pytest.raises(ValueError, match="sample_weight"):
        make().fit(X, y, sample_weight=w[:-1])


# -- input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csc_array, sparse.coo_matrix])
def test_sparse_X_trains_and_predicts_as_dense_X(container):
    X, y = make_blobs(40, centers=3, random_state=0)
    X[X < 0] = 0
    dense, sparse_ = (MLPClassifier((6,), max_iter=5, random_state=0) for _ in range(2))
    run_quietly(lambda: dense.fit(X, y))
    run_quietly(lambda: sparse_.fit(container(X), y))
    assert sparse_.loss_curve_ == dense.loss_curve_
    np.testing.assert_array_equal(sparse_.predict_proba(container(X)), dense.predict_proba(X))
    sparse_.partial_fit(container(X), y)
    assert len(sparse_.loss_curve_) == 6


def test_pandas_input_keeps_the_feature_names():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 2)), columns=["a", "b"])
    y = pd.Series(np.arange(20) % 2, name="y")
    net = MLPClassifier((3,), max_iter=3, early_stopping=True, validation_fraction=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "X does not have valid feature names"
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(X, y)
        net.predict(X)
    assert net.feature_names_in_.tolist() == ["a", "b"]


# -- early stopping -----------------------------------------------------------------------------------
def test_early_stopping_splits_as_scikit_learn():
    # stratified for binary targets: scikit-learn's own error for a class with one member
    X, y = [[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1]
    with pytest.raises(ValueError, match=r"The least populated classes in y have only 1 member.*Classes with too "
                                         r"few members are: \['True'\]"):
        MLPClassifier(early_stopping=True).fit(X, y)
    with pytest.raises(ValueError, match=re.escape("The validation set is too small. Increase 'validation_fraction' "
                                                   "or the size of your dataset.")):
        MLPRegressor(early_stopping=True).fit(np.ones((2, 3)), [1.0, 2.0])
    # sample weights are split with the samples; all ones are no weights
    X, y = make_regression(60, 2, random_state=0)
    make = lambda: MLPRegressor((8,), early_stopping=True, learning_rate_init=0.01, batch_size=10, max_iter=15,
                                random_state=0)
    with_ones, without = make(), make()
    run_quietly(lambda: with_ones.fit(X, y, sample_weight=np.ones(60)))
    run_quietly(lambda: without.fit(X, y))
    np.testing.assert_allclose(with_ones.predict(X), without.predict(X), rtol=1e-9)
    assert with_ones.validation_scores_ == pytest.approx(without.validation_scores_, rel=1e-9)


def test_early_stopping_verbose_lines_and_a_diverging_score():
    X, y = make_blobs(60, centers=2, random_state=0)
    net = MLPClassifier((4,), early_stopping=True, max_iter=4, verbose=True, random_state=0)
    lines = run_quietly(lambda: net.fit(X, y)).splitlines()
    assert lines[0::2] == [f"Iteration {i + 1}, loss = {loss:.8f}" for i, loss in enumerate(net.loss_curve_)]
    assert lines[1::2] == [f"Validation score: {s:f}" for s in net.validation_scores_]
    # a diverging regressor: its R^2 is NaN, a float, and the fit does not fail
    Xr, yr = make_regression(40, 3, random_state=0)
    diverging = MLPRegressor(100, activation="identity", solver="sgd", learning_rate_init=1.0, max_iter=8,
                             early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        run_quietly(lambda: diverging.fit(Xr * 100, yr))
    assert isinstance(diverging.validation_scores_[-1], float) and np.isnan(diverging.validation_scores_[-1])


def test_non_finite_weights_are_refused_in_scikit_learns_words():
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=re.escape("Solver produced non-finite parameter weights. The input data "
                                                       "may contain large values and need to be preprocessed.")):
            MLPRegressor().fit(X, rng.standard_normal(10))


def test_poisson_targets_must_not_be_negative():
    with pytest.raises(ValueError, match=r"loss='poisson' needs targets y >= 0"):
        MLPRegressor(loss="poisson").fit(np.ones((4, 2)), [1.0, -1.0, 2.0, 0.0])
