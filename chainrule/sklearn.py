"""scikit-learn estimators around chainrule networks, so that a backprop-trained network drops into
Pipeline, GridSearchCV and cross_val_score: MLPClassifier and MLPRegressor (scikit-learn's
parameters), NeuralNetClassifier and NeuralNetRegressor (any chainrule.nn.Module), and ``search``,
a cross-validated architecture search that returns a ranked table. Needs scikit-learn 1.6 or later.

>>> import numpy as np
>>> from chainrule.data import xor
>>> X, y = xor()
>>> net = MLPClassifier((8,), activation="tanh", learning_rate_init=0.05, max_iter=300,
...                     batch_size=4, random_state=0).fit(X, y)
>>> net.predict(X).tolist(), net.n_features_in_, net.classes_.tolist()
([0, 1, 1, 0], 2, [0, 1])
"""

import contextlib
import copy
import math
import warnings

import numpy as np

try:
    from scipy.optimize import minimize
    from scipy.special import expit, softmax
    from sklearn.base import BaseEstimator, ClassifierMixin, MultiOutputMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils._param_validation import InvalidParameterError
    from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError:  # pragma: no cover - the message is the point
    raise ImportError(
        "chainrule.sklearn needs scikit-learn 1.6 or later: pip install 'chainrule[sklearn]'"
    ) from None

from chainrule import models, nn, optim, random
from chainrule._arguments import is_int, is_real
from chainrule._tensor import Tensor
from chainrule.autograd.mode import no_grad
from chainrule.optim import lr_scheduler
from chainrule.train import Trainer
from chainrule.train.callbacks import Callback
from chainrule.train.history import History

__all__ = [
    "MLPClassifier", "MLPRegressor", "NeuralNetClassifier", "NeuralNetRegressor", "format_results", "search",
]  # fmt: skip

SOLVERS = {"sgd": optim.SGD, "adam": optim.Adam, "adagrad": optim.Adagrad, "rmsprop": optim.RMSprop}
# scikit-learn's four names, then the other units chainrule.models knows.
ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "gelu", "sigmoid", "softplus")
LR_SCHEDULES = ("constant", "cosine", "step", "plateau")
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_PREDICT_BATCH = 4096  # rows per forward pass at prediction: bounds memory, not results


# -- parameters, checked at fit ------------------------------------------------------------------
def _in(value, low: float, high: float = math.inf, *, low_closed: bool = True, high_closed: bool = False) -> bool:
    """A finite real number (not a bool) in the interval: NaN and infinities are refused."""
    try:
        if not is_real(value) or not math.isfinite(value):
            return False
    except OverflowError:  # an int beyond the float range
        return False
    above = value >= low if low_closed else value > low
    return above and (value <= high if high_closed else value < high)


def _is_name(value, names) -> bool:
    return isinstance(value, str) and value in names


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


_BOOL = "an instance of 'bool' or an instance of 'numpy.bool'"


def _seed(random_state) -> int:
    """An integer for chainrule.manual_seed: the int itself, one drawn from a RandomState, or with
    None one drawn from chainrule's generator (so ``chainrule.manual_seed`` repeats the fit)."""
    if random_state is None:
        return int(random.get_generator().integers(2**32))
    if is_int(random_state) and random_state >= 0:
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _scheduler(spec, optimizer, max_iter: int, where: str):
    """The learning-rate schedule ``lr_schedule`` names, stepped once per epoch."""
    if spec is None or spec == "constant":
        return None
    if callable(spec):
        scheduler = spec(optimizer)
        if not hasattr(scheduler, "step"):
            raise TypeError(f"{where}: lr_schedule(optimizer) must return a scheduler, got "
                            f"{type(scheduler).__name__}")
        return scheduler
    if spec == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_iter)
    if spec == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(1, max_iter // 3), gamma=0.1)
    if spec == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.2, patience=3)
    raise ValueError(f"{where}: lr_schedule must be None, one of {LR_SCHEDULES} or a callable "
                     f"optimizer -> scheduler, got {spec!r}")


class _Loss:
    """scikit-learn's MLP loss on a batch of n samples: ``scale`` times the data loss (mean
    cross-entropy, the log loss summed over labels, half the mean squared error) plus the L2
    penalty ``alpha / 2 * sum(W ** 2) / n`` over the weight matrices; its gradient is the one
    scikit-learn's backpropagation computes, and its value is what ``tol`` is compared with."""

    def __init__(self, data_loss: nn.Module, scale: float, weights: list, alpha: float):
        self.data_loss, self.scale, self.weights, self.alpha = data_loss, scale, weights, alpha

    def __call__(self, output: Tensor, target: Tensor) -> Tensor:
        loss = self.data_loss(output, target)
        if self.scale != 1.0:
            loss = loss * self.scale
        if self.alpha and self.weights:
            squares = sum((w * w).sum() for w in self.weights)
            loss = loss + squares * (0.5 * self.alpha / output.shape[0])
        return loss


class _StoppingRule(Callback):
    """scikit-learn's per-epoch bookkeeping (``_fit_stochastic``) inside chainrule's loop: n_iter_,
    t_, loss_curve_, the no-improvement count and the stop once it exceeds n_iter_no_change; with
    early stopping the validation score and the best epoch's weights, put back at the end. Each
    random restart starts from the state the fit started with; ``keep`` adopts the kept run's."""

    _ATTRIBUTES = ("n_iter_", "t_", "loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_",
                   "_no_improvement_count", "_best_state")

    def __init__(self, estimator, val, n_samples: int):
        self.estimator, self.val, self.n_samples = estimator, val, n_samples
        estimator.n_iter_ = 0  # n_iter_ counts this call's epochs, t_ and the rest carry on
        self.start = self._attributes()
        self.runs = []
        self.stopped = False

    def _attributes(self) -> dict:
        return {name: copy.deepcopy(getattr(self.estimator, name)) for name in self._ATTRIBUTES}

    def _weights(self) -> dict:
        return {k: np.array(v, copy=True) for k, v in self.estimator.module_.state_dict().items()}

    def on_train_begin(self, trainer):
        est = self.estimator
        for name, value in copy.deepcopy(self.start).items():
            setattr(est, name, value)
        self.stopped = False
        if est.early_stopping and est._best_state is None:  # scikit-learn's best start as the initial weights
            est._best_state = self._weights()

    def on_epoch_end(self, trainer, epoch, logs):
        est = self.estimator
        est.n_iter_ += 1
        est.t_ += self.n_samples
        est.loss_curve_.append(logs["loss"])
        score = est._validation_score(*self.val) if self.val is not None else None
        if est._update_no_improvement_count(logs["loss"], score):
            est._best_state = self._weights()
        if est._no_improvement_count > est.n_iter_no_change:
            self.stopped = True
            what = "Validation score" if est.early_stopping else "Training loss"
            trainer.stop(f"{what} did not improve more than tol={est.tol} for {est.n_iter_no_change} "
                         "consecutive epochs")

    def on_train_end(self, trainer):
        est = self.estimator
        if est.early_stopping:
            est.module_.load_state_dict(est._best_state)
        self.runs.append((self._attributes(), self.stopped))

    def keep(self, run: int) -> bool:
        """Adopt run ``run``'s bookkeeping; returns whether that run stopped by the rule."""
        attributes, stopped = self.runs[run]
        for name, value in attributes.items():
            setattr(self.estimator, name, value)
        return stopped


# -- solver='lbfgs' ------------------------------------------------------------------------------
_DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def _lbfgs_layout(module: nn.Module) -> list:
    """The parameters in the order of L-BFGS's packed vector, each with whether it is packed
    transposed. A network whose parameters are all Linear weights and biases packs as scikit-learn's
    ``_pack(coefs_, intercepts_)``: every weight raveled in scikit-learn's (in, out) orientation,
    layer by layer, then every bias; any other module packs ``module.parameters()`` in order."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    params = list(module.parameters())
    weights = [(m.weight, True) for m in linears]
    biases = [(m.bias, False) for m in linears if m.bias is not None]
    if linears and sorted(map(id, params)) == sorted(id(p) for p, _ in weights + biases):
        return weights + biases
    return [(p, False) for p in params]


def _lbfgs_pack(layout: list, grads: bool = False) -> np.ndarray:
    """The parameters (or their gradients, zero where a parameter got none) as one float64 vector."""
    parts = []
    for p, transposed in layout:
        if grads:
            value = p._grad._data if p._grad is not None else np.zeros_like(p._data)
        else:
            value = p._data
        parts.append((value.T if transposed else value).ravel())
    return np.concatenate(parts).astype(np.float64, copy=False) if parts else np.zeros(0)


def _lbfgs_unpack(layout: list, packed: np.ndarray) -> None:
    """Write the vector into the parameters in place (views of them, such as coefs_, stay valid)."""
    start = 0
    for p, transposed in layout:
        view = p._data.T if transposed else p._data
        view[...] = packed[start:start + view.size].reshape(view.shape)
        p._bump_version()
        start += view.size
    if start != len(packed):
        raise ValueError(f"the packed parameters hold {len(packed)} values; the network has {start}")


class _LBFGS:
    """scikit-learn's solver='lbfgs' for the estimators: full-batch L-BFGS-B (scipy) over every
    parameter of the network as one float64 vector, its loss and gradient from chainrule's forward
    and backward passes. The loss is the one the stochastic solvers minimise (data loss plus
    ``alpha / 2 * sum(W ** 2) / n``); batch_size, shuffle, learning rates, momentum, early_stopping
    and n_iter_no_change are not used, as in scikit-learn."""

    def _loss_grad_lbfgs(self, packed, X, y, sample_weight=None, *buffers):
        """The training loss at the parameters ``packed`` (laid out by ``_lbfgs_layout``) and its
        gradient packed the same way, as scikit-learn's ``_loss_grad_lbfgs``. ``y`` holds the
        network's targets (class indices; 0/1 columns for sigmoid outputs; values) or scikit-learn's
        binarized labels (one column per class). ``buffers`` takes scikit-learn's work arrays
        (activations, deltas, coef_grads, intercept_grads), which chainrule's engine does not use."""
        module = self.module_
        _lbfgs_unpack(_lbfgs_layout(module), np.asarray(packed, dtype=np.float64))
        params = list(module.parameters())
        dtype = params[0].dtype if params else np.float64
        y = np.asarray(y)
        if y.ndim > 1 or y.dtype.kind == "f":  # class indices stay integers; the rest is the network's dtype
            y = y.astype(dtype, copy=False)
        module.train()
        module.zero_grad()
        X = np.asarray(X, dtype=dtype)
        loss = self._training_loss()(module(Tensor(X, dtype=dtype)), Tensor(y, dtype=y.dtype))
        loss.backward()
        return float(loss._data), _lbfgs_pack(_lbfgs_layout(module), grads=True)

    def _fit_lbfgs(self, X, y, sample_weight=None):
        """Fit by L-BFGS-B over the whole training set (``max_iter`` iterations and ``max_fun``
        loss evaluations at most, stopping once the projected gradient is below ``tol``), as
        scikit-learn's ``_fit_lbfgs``; X and y already validated. Computes in float64 whatever X's
        dtype (scikit-learn's packed vector is float64 too); the network ends in X's dtype."""
        where = type(self).__name__
        fresh = not hasattr(self, "module_") or not self.warm_start
        targets, n_outputs = self._targets(y, fresh=fresh)
        dtype = X.dtype
        X = X.astype(np.float64, copy=False)
        runs = []
        with self._own_generator(fresh):
            for _ in range(self.restarts if fresh else 1):
                if fresh:
                    self.module_ = self._network(self.n_features_in_, n_outputs)
                if any(isinstance(m, _DROPOUTS) and m.p > 0 for m in self.module_.modules()):
                    raise ValueError(f"{where}: solver='lbfgs' minimises one fixed full-batch loss, which "
                                     "dropout would make random; use dropout with 'adam' or 'sgd'")
                runs.append((self.module_, *self._lbfgs_run(X, targets, sample_weight)))
        best = min(range(len(runs)), key=lambda i: runs[i][1].fun)
        self.module_, result, curve = runs[best]
        if fresh:
            self._reset_stopping()
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)
        self.loss_curve_.extend(curve)
        self.best_loss_ = self.loss_
        self.validation_scores_ = self.best_validation_score_ = None  # scikit-learn's lbfgs has no hold-out
        self.history_ = History([{"epoch": i + 1, "loss": loss} for i, loss in enumerate(curve)],
                                runs=[{"loss": float(r.fun), "iterations": int(r.nit)} for _, r, _ in runs],
                                best_run=best, stopped=str(result.message))
        self.module_.to(dtype)
        self.module_.zero_grad()  # the last evaluation's gradients would only weigh down pickles
        if not all(np.isfinite(p._data).all() for p in self.module_.parameters()):
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed.")
        if result.status != 0:  # scikit-learn's words (sklearn.utils.optimize._check_optimize_result)
            message = (f"{where}: lbfgs failed to converge after {self.n_iter_} iteration(s) "
                       f"(status={result.status}):\n{result.message}\n")
            if self.n_iter_ == self.max_iter:
                message += ("\nIncrease the number of iterations to improve the convergence "
                            f"(max_iter={self.max_iter}).")
            message += ("\nYou might also want to scale the data as shown in:\n"
                        "    https://scikit-learn.org/stable/modules/preprocessing.html")
            warnings.warn(message, ConvergenceWarning, stacklevel=3)
        return self

    def _lbfgs_run(self, X, targets, sample_weight):
        """One L-BFGS-B minimisation from the module's current weights: (scipy's result, the loss
        after each iteration). Batch normalisation takes the whole training set's statistics."""
        self.module_.to(np.float64)
        layout = _lbfgs_layout(self.module_)
        last = {}  # the latest evaluation: L-BFGS-B's callback gets the iterate, which it evaluated last
        curve = []

        def objective(packed):
            last["x"], (last["loss"], grad) = packed.copy(), self._loss_grad_lbfgs(packed, X, targets, sample_weight)
            return last["loss"], grad

        def iteration(packed):
            loss = last["loss"] if np.array_equal(packed, last["x"]) else objective(packed)[0]
            curve.append(loss)
            if self.verbose:
                print(f"Iteration {len(curve)}, loss = {loss:.8f}")

        result = minimize(objective, _lbfgs_pack(layout), method="L-BFGS-B", jac=True, callback=iteration,
                          options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        _lbfgs_unpack(layout, result.x)
        norms = [m for m in self.module_.modules() if isinstance(m, _BATCH_NORMS) and m.track_running_stats]
        if norms:  # running statistics of the whole set at the final weights (momentum 1: replace, not average)
            momenta = [m.momentum for m in norms]
            for m in norms:
                m.momentum = 1.0
            with no_grad():
                self.module_.train()
                self.module_(Tensor(X, dtype=X.dtype))
            for m, momentum in zip(norms, momenta):
                m.momentum = momentum
        return result, curve


# -- the shared estimator ------------------------------------------------------------------------
class _Network(_LBFGS, BaseEstimator):
    """Training and prediction shared by the four estimators. A subclass says what network to
    build (``_network``) and how targets become network outputs (``_targets``, ``_loss``)."""

    _allow_nd = False

    # -- hooks ------------------------------------------------------------------------------
    def _network(self, n_features: int, n_outputs: int) -> nn.Module:
        raise NotImplementedError

    # -- checks -----------------------------------------------------------------------------
    def _param_checks(self) -> list:
        """(parameter, is it valid, what is expected) for every parameter, in scikit-learn's words;
        numbers must also be finite (scikit-learn lets inf through where chainrule would train on it)."""
        solvers = "{" + ", ".join(map(repr, sorted((*SOLVERS, "lbfgs")))) + "}"
        return [
            ("solver", _is_name(self.solver, (*SOLVERS, "lbfgs")), f"a str among {solvers}"),
            ("alpha", _in(self.alpha, 0), "a finite float in the range [0.0, inf)"),
            ("batch_size", _is_name(self.batch_size, ("auto",)) or (is_int(self.batch_size) and self.batch_size >= 1),
             "a str among {'auto'} or an int in the range [1, inf)"),
            ("learning_rate_init", _in(self.learning_rate_init, 0, low_closed=False),
             "a finite float in the range (0.0, inf)"),
            ("max_iter", is_int(self.max_iter) and self.max_iter >= 1, "an int in the range [1, inf)"),
            ("shuffle", _is_bool(self.shuffle), _BOOL),
            ("tol", _in(self.tol, 0), "a finite float in the range [0.0, inf)"),
            ("verbose", _is_bool(self.verbose) or (is_int(self.verbose) and self.verbose >= 0),
             "an int in the range [0, inf) or an instance of 'bool'"),
            ("warm_start", _is_bool(self.warm_start), _BOOL),
            ("momentum", _in(self.momentum, 0, 1), "a float in the range [0.0, 1.0)"),
            ("nesterovs_momentum", _is_bool(self.nesterovs_momentum), _BOOL),
            ("early_stopping", _is_bool(self.early_stopping), _BOOL),
            ("validation_fraction", _in(self.validation_fraction, 0, 1, low_closed=False),
             "a float in the range (0.0, 1.0)"),
            ("beta_1", _in(self.beta_1, 0, 1), "a float in the range [0.0, 1.0)"),
            ("beta_2", _in(self.beta_2, 0, 1), "a float in the range [0.0, 1.0)"),
            ("epsilon", _in(self.epsilon, 0, low_closed=False), "a finite float in the range (0.0, inf)"),
            ("n_iter_no_change", (is_int(self.n_iter_no_change) and self.n_iter_no_change >= 1)
             or (is_real(self.n_iter_no_change) and self.n_iter_no_change == math.inf),
             "an int in the range [1, inf) or a float among {inf}"),
            ("restarts", is_int(self.restarts) and self.restarts >= 1, "an int in the range [1, inf)"),
            ("lr_schedule", self.lr_schedule is None or callable(self.lr_schedule)
             or _is_name(self.lr_schedule, LR_SCHEDULES),
             f"None, a str among {{{', '.join(map(repr, LR_SCHEDULES))}}} or a callable optimizer -> scheduler"),
            ("random_state", self.random_state is None or isinstance(self.random_state, np.random.RandomState)
             or (is_int(self.random_state) and 0 <= self.random_state < 2**32),
             "an int in the range [0, 4294967295], an instance of 'numpy.random.mtrand.RandomState' or None"),
        ]  # fmt: skip

    def _check_params(self) -> None:
        for name, ok, expected in self._param_checks():
            if not ok:
                value = getattr(self, name)
                raise InvalidParameterError(f"The {name!r} parameter of {type(self).__name__} must be {expected}. "
                                            f"Got {value!r} instead.")

    def _validate(self, X, y="no_validation", *, reset: bool):
        """scikit-learn's own validation: array conversion, finiteness, n_features_in_ and
        feature names; floating X keeps its dtype (float32 or float64), anything else becomes
        float64, and the network computes in that dtype."""
        kwargs = dict(dtype=(np.float64, np.float32), allow_nd=self._allow_nd, reset=reset)
        if isinstance(y, str) and y == "no_validation":  # scikit-learn's marker: X alone
            return validate_data(self, X, **kwargs)
        return validate_data(self, X, y, multi_output=True, **kwargs)

    # -- the random stream ------------------------------------------------------------------
    @contextlib.contextmanager
    def _own_generator(self, fresh: bool):
        """Train with chainrule's generator on this estimator's own stream: seeded from
        random_state on a fresh fit, continued by warm_start and partial_fit; the caller's
        stream is put back afterwards, so one fit does not shift another's randomness."""
        seed = _seed(self.random_state) if fresh else None  # before saving: None advances the caller
        caller = random.get_rng_state()
        if fresh:
            random.manual_seed(seed)
        else:
            random.set_rng_state(self._rng_state)
        try:
            yield
        finally:
            self._rng_state = random.get_rng_state()
            random.set_rng_state(caller)

    # -- training ---------------------------------------------------------------------------
    def _batch_size(self, n_samples: int) -> int:
        where = type(self).__name__
        if self.batch_size == "auto":
            size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(f"{where}: batch_size={self.batch_size} is larger than the {n_samples} "
                              f"training samples; using {n_samples}", UserWarning, stacklevel=4)
            size = min(self.batch_size, n_samples)
        if any(isinstance(m, _BATCH_NORMS) for m in self.module_.modules()):
            if n_samples < 2:
                raise ValueError(f"{where}: batch normalisation needs batches of 2 or more samples, got "
                                 f"n_samples={n_samples}")
            while n_samples % size == 1:  # a last batch of one sample would have no batch statistics
                size += 1
        return size

    def _new_optimizer(self):
        """The solver over the network's parameters (beta_1, beta_2 and epsilon for 'adam',
        momentum and nesterovs_momentum for 'sgd', as scikit-learn)."""
        kwargs = {"lr": self.learning_rate_init}
        if self.solver == "sgd":
            nesterov = bool(self.nesterovs_momentum and self.momentum > 0)  # SGD refuses it without momentum
            kwargs.update(momentum=self.momentum, nesterov=nesterov)
        elif self.solver == "adam":
            kwargs.update(betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        return SOLVERS[self.solver](self.module_.parameters(), **kwargs)

    def _training_loss(self) -> _Loss:
        """scikit-learn's loss for this network: the data loss plus the L2 penalty on every
        parameter of 2 or more dimensions (the weight matrices, not the biases)."""
        data_loss, scale = self._data_loss()
        weights = [p for p in self.module_.parameters() if p.ndim > 1]
        return _Loss(data_loss, scale, weights, float(self.alpha))

    def _reset_stopping(self) -> None:
        """A fresh fit's bookkeeping, as scikit-learn's ``_initialize``."""
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self.best_loss_ = None if self.early_stopping else math.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -math.inf if self.early_stopping else None
        self._best_state = None

    def _update_no_improvement_count(self, loss: float, score: float | None = None) -> bool:
        """scikit-learn's stopping rule after an epoch (BaseMultilayerPerceptron.
        _update_no_improvement_count): count the epochs that fail to beat the best by tol, and
        record a new best whenever the value improves at all. Without early stopping the value is
        the training loss (lower is better); with it, the validation score (accuracy, R^2: higher
        is better). Returns whether ``score`` is a new best, whose weights early stopping keeps."""
        if self.early_stopping:
            if self.validation_scores_ is None:  # warm start after a fit without early stopping
                self.validation_scores_, self.best_validation_score_ = [], -math.inf
            self.validation_scores_.append(score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                return True
            return False
        if self.best_loss_ is None:  # warm start after a fit with early stopping
            self.best_loss_ = math.inf
        if loss > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if loss < self.best_loss_:
            self.best_loss_ = loss
        return False

    def _forward(self, X: np.ndarray) -> np.ndarray:
        """The network's raw outputs for the array X, in eval mode and without a graph."""
        params = list(self.module_.parameters())
        X = X.astype(params[0].dtype if params else X.dtype, copy=False)
        module = self.module_
        was_training = module.training
        module.eval()
        try:
            with no_grad():
                return np.concatenate([module(Tensor(X[i:i + _PREDICT_BATCH], dtype=X.dtype))._data
                                       for i in range(0, len(X), _PREDICT_BATCH)])
        finally:
            module.train(was_training)

    def _train(self, X, y, *, incremental: bool, classes=None):
        """Fit (``incremental=False``) or one more epoch (partial_fit); X and y already validated."""
        where = type(self).__name__
        if incremental and self.early_stopping:
            raise ValueError(f"{where}.partial_fit: early_stopping=True needs whole fits; use fit")
        fresh = not hasattr(self, "module_") or (not incremental and not self.warm_start)
        targets, n_outputs = self._targets(y, fresh=fresh, classes=classes)
        with self._own_generator(fresh):
            if fresh:
                self.module_ = self._network(self.n_features_in_, n_outputs).to(X.dtype)
                self._reset_stopping()
            if fresh or not incremental:  # partial_fit continues the optimizer; fit starts a new one
                self._optimizer = self._new_optimizer()
                self._scheduler = _scheduler(self.lr_schedule, self._optimizer, self.max_iter, where)
            val = None
            if self.early_stopping:
                X, X_val, targets, y_val = self._split(X, targets)
                val = (X_val, y_val)
            batch_size = self._batch_size(len(X))
            rule = _StoppingRule(self, val, len(X))
            trainer = Trainer(self.module_, self._training_loss(), self._optimizer, batch_size=batch_size,
                              shuffle=bool(self.shuffle), metrics=(), scheduler=self._scheduler, callbacks=[rule],
                              verbose=2 if self.verbose else 0, monitor_gradients=False)
            history = trainer.fit((X, targets), epochs=1 if incremental else self.max_iter, val_data=val,
                                  restarts=self.restarts if fresh and not incremental else 1)
        stopped = rule.keep(history.best_run or 0)
        self.module_.zero_grad()  # the last batch's gradients would only weigh down pickles
        if not all(np.isfinite(p._data).all() for p in self.module_.parameters()):
            raise ValueError(f"{where}: training produced non-finite weights; scale the inputs (e.g. "
                             "StandardScaler) or lower learning_rate_init")
        self.history_ = history
        if not incremental and not stopped and self.n_iter_ == self.max_iter:
            warnings.warn(f"{where}: Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          f"optimization hasn't converged yet (max_iter={self.max_iter}, tol={self.tol}, "
                          f"n_iter_no_change={self.n_iter_no_change})", ConvergenceWarning, stacklevel=3)
        return self

    def _split(self, X, targets):
        """The early-stopping hold-out, drawn from the estimator's stream; stratified where
        scikit-learn stratifies (single-output classifiers: binary targets)."""
        stratify = targets.reshape(len(targets), -1)[:, 0] if self._stratify_split() else None
        seed = int(random.get_generator().integers(np.iinfo(np.int32).max))
        X, X_val, targets, y_val = train_test_split(X, targets, test_size=self.validation_fraction,
                                                    random_state=seed, stratify=stratify)
        if len(X_val) < 2:
            raise ValueError(f"{type(self).__name__}: the validation set holds {len(X_val)} sample(s); "
                             "increase validation_fraction or the data set for early_stopping")
        return X, X_val, targets, y_val

    def _stratify_split(self) -> bool:
        return False

    def fit(self, X, y):
        """Train the network on X (n_samples, n_features) and targets y; returns self.

        A fresh fit seeds chainrule's generator from ``random_state``; with ``warm_start`` a
        later fit continues from the current weights (with a fresh optimizer, as scikit-learn).
        """
        self._check_params()
        first = not hasattr(self, "module_") or not self.warm_start
        X, y = self._validate(X, y, reset=first)
        if self.solver == "lbfgs":
            return self._fit_lbfgs(X, y)
        return self._train(X, y, incremental=False)

    # -- prediction -------------------------------------------------------------------------
    def _outputs(self, X) -> np.ndarray:
        """The network's raw outputs for X, validated as at fit."""
        check_is_fitted(self, "module_")
        return self._forward(self._validate(X, reset=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class _Classifier(ClassifierMixin, _Network):
    """Class labels in, class probabilities out: softmax cross-entropy over ``classes_`` (any
    label type), or a sigmoid per label with BCE-with-logits for multi-label indicator targets,
    and with ``_binary_logistic`` for two classes (one sigmoid output, as scikit-learn's MLP)."""

    _binary_logistic = False

    def _targets(self, y, *, fresh: bool, classes=None):
        where = type(self).__name__
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind == "multiclass-multioutput":
            raise ValueError(f"{where}: multi-output targets must be a 0/1 label indicator matrix "
                             f"(multi-label); got several columns of multi-class labels, shape {y.shape}")
        multilabel = kind == "multilabel-indicator"
        if fresh:
            if multilabel:
                self.classes_ = np.arange(y.shape[1])
            else:
                self.classes_ = unique_labels(y if classes is None else classes)
            self._multilabel = multilabel
            binary = self._binary_logistic and len(self.classes_) == 2
            self.out_activation_ = "logistic" if multilabel or binary else "softmax"
        if multilabel != self._multilabel:
            raise ValueError(f"{where}: fitted on {'multi-label' if not multilabel else 'class'} targets, "
                             f"now given {'multi-label' if multilabel else 'class'} targets")
        if multilabel:
            if y.shape[1] != len(self.classes_):
                raise ValueError(f"{where}: y has {y.shape[1]} labels, the network was fitted with "
                                 f"{len(self.classes_)}")
            return y.astype(np.float64), len(self.classes_)
        index = np.searchsorted(self.classes_, y).clip(0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(f"{where}: y holds labels {sorted(set(y[unknown].tolist()))[:5]} that are not "
                             f"among classes_ {self.classes_.tolist()}; pass every class to the first "
                             "partial_fit (classes=...) or refit without warm_start")
        if self.out_activation_ == "logistic":  # two classes, one output: the probability of classes_[1]
            return index.astype(np.float64).reshape(-1, 1), 1
        return index.astype(np.int64), len(self.classes_)

    def _data_loss(self):
        # scikit-learn's log loss: mean cross-entropy; for labels, summed over labels, mean over samples
        if self.out_activation_ == "logistic":
            return nn.BCEWithLogitsLoss(), float(len(self.classes_)) if self._multilabel else 1.0
        return nn.CrossEntropyLoss(), 1.0

    def _validation_score(self, X_val, y_val) -> float:
        """scikit-learn's early-stopping score: the accuracy (of whole label rows for multi-label)."""
        out = self._forward(X_val)
        if self.out_activation_ == "logistic":  # labels, or the second of two classes
            return float(accuracy_score(y_val.astype(int), (out > 0).astype(int)))
        return float(accuracy_score(y_val, out.argmax(axis=1)))

    def _stratify_split(self) -> bool:
        # scikit-learn stratifies when its network has one output: binary class targets
        return not self._multilabel and len(self.classes_) <= 2

    def partial_fit(self, X, y, classes=None):
        """One more epoch over (X, y), continuing the optimizer. The first call needs
        ``classes`` (every label that will ever occur), unless y is a multi-label indicator."""
        self._check_params()
        first = not hasattr(self, "module_")
        if first and classes is None and type_of_target(y) != "multilabel-indicator":
            raise ValueError(f"{type(self).__name__}.partial_fit: the first call needs classes=, every "
                             "class label that will occur (as in scikit-learn)")
        if not first and classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(f"{type(self).__name__}.partial_fit: classes={list(classes)} differs from "
                             f"classes_ {self.classes_.tolist()} of the first call")
        X, y = self._validate(X, y, reset=first)
        return self._train(X, y, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes); for multi-label targets the probability of
        each label (n_samples, n_labels)."""
        out = self._outputs(X)
        if self.out_activation_ == "softmax":
            return softmax(out, axis=1)
        proba = expit(out)
        return proba if self._multilabel else np.hstack([1 - proba, proba])

    def predict_log_proba(self, X) -> np.ndarray:
        """The logarithm of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample, in the labels' own type; for multi-label
        targets a 0/1 matrix (probability above 0.5)."""
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba > 0.5).astype(int)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class _Regressor(MultiOutputMixin, RegressorMixin, _Network):
    """Real-valued targets, one output per target column, mean squared error."""

    def _targets(self, y, *, fresh: bool, classes=None):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        targets = y.reshape(len(y), -1).astype(np.float64)
        if not fresh and targets.shape[1] != self.n_outputs_:
            raise ValueError(f"{type(self).__name__}: y has {targets.shape[1]} target columns, the "
                             f"network was fitted with {self.n_outputs_}")
        self.n_outputs_ = targets.shape[1]
        return targets, self.n_outputs_

    def _data_loss(self):
        return nn.MSELoss(), 0.5  # scikit-learn's squared loss is half the mean squared error

    def _validation_score(self, X_val, y_val) -> float:
        """scikit-learn's early-stopping score: R^2 (NaN when the predictions are not finite)."""
        out = self._forward(X_val)
        if not np.isfinite(out).all():
            return math.nan
        return float(r2_score(y_val, out))

    def partial_fit(self, X, y):
        """One more epoch over (X, y), continuing the optimizer."""
        self._check_params()
        first = not hasattr(self, "module_")
        X, y = self._validate(X, y, reset=first)
        return self._train(X, y, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predictions (n_samples,) for one target, else (n_samples, n_targets)."""
        out = self._outputs(X)
        return out.ravel() if out.shape[1] == 1 else out


# -- multilayer perceptrons ----------------------------------------------------------------------
class _MLP(_Network):
    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, dropout=0.0, batch_norm=False, restarts=1, lr_schedule=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.restarts = restarts
        self.lr_schedule = lr_schedule

    def _hidden(self) -> list:
        sizes = self.hidden_layer_sizes
        return [sizes] if is_int(sizes) else list(sizes)

    def _param_checks(self):
        sizes = self.hidden_layer_sizes
        listed = is_int(sizes) or (hasattr(sizes, "__iter__") and not isinstance(sizes, str))
        return [
            *super()._param_checks(),
            ("hidden_layer_sizes", listed and all(is_int(h) and h > 0 for h in self._hidden()),
             "an int in the range [1, inf) or an array-like of them, one per hidden layer"),
            ("activation", _is_name(self.activation, ACTIVATIONS),
             f"a str among {{{', '.join(map(repr, ACTIVATIONS))}}}"),
            ("dropout", _in(self.dropout, 0, 1), "a float in the range [0.0, 1.0)"),
            ("batch_norm", _is_bool(self.batch_norm), _BOOL),
        ]

    def _network(self, n_features, n_outputs):
        name = {"logistic": "sigmoid", "identity": "relu"}.get(self.activation, self.activation)
        net = models.mlp(n_features, self._hidden(), n_outputs, activation_name=name,
                         dropout=float(self.dropout), batch_norm=bool(self.batch_norm))
        if self.activation == "identity":  # models.mlp builds nonlinear units only: take them out
            net = nn.Sequential(*(nn.Identity() if isinstance(m, nn.ReLU) else m for m in net))
        return net


_MLP_DOC = """

    Parameters (scikit-learn's names and defaults, then chainrule's own)
    ----------
    hidden_layer_sizes : widths of the hidden layers, e.g. (128, 64); () is a linear model.
    activation : {activations}; 'logistic' is the sigmoid.
    solver : 'adam', 'sgd', 'adagrad' or 'rmsprop' (chainrule.optim; scikit-learn's 'lbfgs' is
        not offered).
    alpha : L2 penalty on the weight matrices (not the biases): scikit-learn's
        ``alpha / 2 * sum(W ** 2) / batch size``, part of the loss.
    batch_size : 'auto' is min(200, n_samples).
    learning_rate_init, max_iter (epochs), shuffle, momentum and nesterovs_momentum (sgd only),
        beta_1, beta_2 and epsilon (adam only).
    tol, n_iter_no_change : scikit-learn's rule: after each epoch, the count of epochs grows when
        the training loss is above the best so far minus tol and is reset otherwise; the best is
        recorded whenever the loss falls; training stops once the count exceeds n_iter_no_change.
        With early_stopping the same rule runs on the validation score (accuracy, R^2).
    early_stopping, validation_fraction : hold out that fraction (stratified for binary
        classifiers, as scikit-learn), stop on its score and keep the best-scoring epoch's weights.
    random_state : None, an int or a RandomState; an int k trains exactly as
        ``chainrule.manual_seed(k)`` would (initialisation, shuffling, dropout); None draws the
        seed from chainrule's generator. The caller's generator state is left as it was.
    warm_start : a later fit continues from the current weights.
    verbose : print one line per epoch.
    dropout : dropout probability after each hidden activation.
    batch_norm : BatchNorm1d before each hidden activation.
    restarts : train this many times from fresh initialisations and keep the best run.
    lr_schedule : None/'constant', 'cosine' (to zero over max_iter epochs), 'step' (x0.1 every
        max_iter // 3 epochs), 'plateau' (x0.2 after 3 epochs without improvement), or a callable
        ``optimizer -> chainrule.optim.lr_scheduler`` object, stepped once per epoch.

    Fitted attributes: ``module_`` (the trained chainrule network), ``classes_`` (classifiers),
    ``n_features_in_``, ``n_outputs_`` (regressors), ``out_activation_`` (classifiers),
    ``loss_curve_`` (scikit-learn's loss, penalty included, of every epoch, over warm starts and
    partial fits), ``n_iter_`` (epochs of the latest fit or partial_fit), ``t_`` (training samples
    seen), ``best_loss_`` (None with early_stopping), ``validation_scores_`` and
    ``best_validation_score_`` (with early_stopping, else None), ``history_`` (the latest fit's
    chainrule History, with validation loss and learning rates).
    """.format(activations=", ".join(ACTIVATIONS))


class MLPClassifier(_Classifier, _MLP):
    __doc__ = """A multilayer perceptron classifier trained by backpropagation: scikit-learn's
    MLPClassifier, built from chainrule layers (softmax cross-entropy; one sigmoid output for two
    classes and one per label for multi-label targets, as scikit-learn).""" + _MLP_DOC

    _binary_logistic = True


class MLPRegressor(_Regressor, _MLP):
    __doc__ = """A multilayer perceptron regressor trained by backpropagation on the mean squared
    error: scikit-learn's MLPRegressor, built from chainrule layers; one output per target.""" + _MLP_DOC


# -- any chainrule module ------------------------------------------------------------------------
class _NeuralNet(_Network):
    _allow_nd = True  # images (N, C, H, W) and sequences (N, L, F) go to the module as they are

    def __init__(self, module, *, solver="adam", alpha=0.0001, batch_size="auto", learning_rate_init=0.001,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, restarts=1, lr_schedule=None):
        self.module = module
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.restarts = restarts
        self.lr_schedule = lr_schedule

    def _param_checks(self):
        return [*super()._param_checks(), ("module", callable(self.module),
                "a callable (n_features_in, n_outputs) -> chainrule.nn.Module, such as a Module class")]

    def _network(self, n_features, n_outputs):
        net = self.module(n_features, n_outputs)
        if not isinstance(net, nn.Module):
            raise TypeError(f"{type(self).__name__}: module({n_features}, {n_outputs}) returned "
                            f"{type(net).__name__}, expected a chainrule.nn.Module")
        return net


_NET_DOC = """

    ``module`` is called as ``module(n_features_in, n_outputs)`` at the first fit and must return
    a chainrule.nn.Module mapping a batch of X (n_samples, n_features_in, ...) to raw outputs
    (n_samples, n_outputs): logits for classifiers (n_outputs = number of classes, or of labels
    for multi-label targets), predictions for regressors. A Module class with that constructor
    works as it is; settings of your own go in with ``functools.partial(MyNet, width=64)``, and a
    search tries several by listing partials under ``"module"``. n_features_in is X.shape[1] (the
    channels of images (N, C, H, W)). The module is cast to X's dtype and its randomness is
    seeded from ``random_state``. Every other parameter and fitted attribute is MLPClassifier's;
    ``alpha`` decays every parameter of 2 or more dimensions.
    """


class NeuralNetClassifier(_Classifier, _NeuralNet):
    __doc__ = """Any chainrule network as a scikit-learn classifier (fit, predict,
    predict_proba, partial_fit, pipelines and searches).""" + _NET_DOC


class NeuralNetRegressor(_Regressor, _NeuralNet):
    __doc__ = """Any chainrule network as a scikit-learn regressor (fit, predict, partial_fit,
    pipelines and searches).""" + _NET_DOC


# -- architecture search -------------------------------------------------------------------------
def search(X, y, param_grid, cv=3, *, estimator=None, scale: bool = True, n_iter: int | None = None,
           scoring=None, n_jobs=None, random_state: int = 0, verbose: int = 0) -> list:
    """Cross-validate every setting in ``param_grid`` and return the rows, best first.

    ``param_grid`` maps the estimator's parameter names to the values to try (or is a list of
    such dicts), e.g. ``{"hidden_layer_sizes": [(64,), (128, 64)], "activation": ["relu",
    "tanh"]}``. ``estimator`` defaults to MLPClassifier (MLPRegressor for real-valued y) with
    ``random_state``; with ``scale`` a StandardScaler fitted on each training fold comes first.
    ``n_iter`` samples that many settings (RandomizedSearchCV; values may be distributions)
    instead of trying all (GridSearchCV). Each row: ``rank``, ``mean_score``, ``std_score``,
    ``fit_time`` (mean seconds per fit) and ``params``.

    >>> from chainrule.data import moons
    >>> X, y = moons(120, seed=0)
    >>> rows = search(X, y, {"hidden_layer_sizes": [(4,), (16,)]}, cv=2,
    ...               estimator=MLPClassifier(max_iter=20, learning_rate_init=0.05, random_state=0))
    >>> [sorted(row) for row in rows][0], len(rows)
    (['fit_time', 'mean_score', 'params', 'rank', 'std_score'], 2)
    """
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if estimator is None:
        regression = type_of_target(y) in ("continuous", "continuous-multioutput")
        estimator = (MLPRegressor if regression else MLPClassifier)(random_state=random_state)
    model = Pipeline([("scale", StandardScaler()), ("net", estimator)] if scale else [("net", estimator)])
    grids = param_grid if isinstance(param_grid, list) else [param_grid]
    grids = [{f"net__{name}": values for name, values in grid.items()} for grid in grids]
    common = dict(cv=cv, scoring=scoring, n_jobs=n_jobs, verbose=verbose, refit=False, error_score="raise")
    if n_iter is None:
        searcher = GridSearchCV(model, grids, **common)
    else:
        searcher = RandomizedSearchCV(model, grids, n_iter=n_iter, random_state=random_state, **common)
    searcher.fit(X, y)
    results = searcher.cv_results_
    rows = [
        {"rank": int(results["rank_test_score"][i]), "mean_score": float(results["mean_test_score"][i]),
         "std_score": float(results["std_test_score"][i]), "fit_time": float(results["mean_fit_time"][i]),
         "params": {name.removeprefix("net__"): value for name, value in results["params"][i].items()}}
        for i in range(len(results["params"]))
    ]
    return sorted(rows, key=lambda row: (row["rank"], -row["mean_score"]))


def _shown(value) -> str:
    """A parameter value as a table cell: callables by name, partials as Name(arg=value)."""
    func = getattr(value, "func", None)
    if func is not None and hasattr(value, "keywords"):
        args = [*map(repr, value.args), *(f"{k}={v!r}" for k, v in value.keywords.items())]
        return f"{getattr(func, '__name__', repr(func))}({', '.join(args)})"
    return value.__name__ if callable(value) and hasattr(value, "__name__") else repr(value)


def format_results(rows, top: int | None = None) -> str:
    """``search``'s rows as a text table: rank, mean score +- std, seconds per fit, settings.

    >>> print(format_results([{"rank": 1, "mean_score": 0.97, "std_score": 0.01, "fit_time": 1.5,
    ...                        "params": {"hidden_layer_sizes": (64,)}}]))
    rank  score            fit s  params
       1  0.9700 +- 0.0100   1.5  hidden_layer_sizes=(64,)
    """
    lines = ["rank  score            fit s  params"]
    for row in rows[:top]:
        params = "  ".join(f"{name}={_shown(value)}" for name, value in row["params"].items())
        lines.append(f"{row['rank']:4d}  {row['mean_score']:.4f} +- {row['std_score']:.4f}  "
                     f"{row['fit_time']:4.1f}  {params}")
    return "\n".join(lines)
