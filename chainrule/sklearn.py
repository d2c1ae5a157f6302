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
import functools
import itertools
import math
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np

try:
    from scipy import sparse
    from scipy.optimize import minimize
    from scipy.special import expit, softmax, xlogy
    from sklearn.base import BaseEstimator, ClassifierMixin, MultiOutputMixin, RegressorMixin, _fit_context
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils._param_validation import Interval, InvalidParameterError, Options, StrOptions
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data
except ImportError:  # pragma: no cover - the message is the point
    raise ImportError(
        "chainrule.sklearn needs scikit-learn 1.6 or later: pip install 'chainrule[sklearn]'"
    ) from None

from chainrule import models, nn, optim, random
from chainrule._arguments import is_int
from chainrule._tensor import Tensor
from chainrule.autograd.mode import no_grad
from chainrule.nn import functional as F
from chainrule.optim import lr_scheduler
from chainrule.train import Trainer
from chainrule.train.callbacks import Callback
from chainrule.train.history import History

__all__ = [
    "MLPClassifier", "MLPRegressor", "NeuralNetClassifier", "NeuralNetRegressor", "format_results", "search",
]  # fmt: skip

class _LearningRate:
    """scikit-learn's ``_optimizer.learning_rate``: the current rate of every parameter group.
    Setting it keeps each momentum buffer's step (lr times the buffer) as it was: scikit-learn's
    velocity is a step, chainrule's (PyTorch's) buffer a sum of gradients that the rate multiplies."""

    @property
    def learning_rate(self) -> float:
        return self.param_groups[0]["lr"]

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        for group in self.param_groups:
            ratio = group["lr"] / value
            for p in group["params"]:
                buffer = self.state.get(p, {}).get("momentum_buffer")
                if buffer is not None:
                    buffer *= ratio
            group["lr"] = value


# Module-level classes, so that a fitted estimator pickles with its optimizer.
class _SGD(_LearningRate, optim.SGD):
    pass


class _Adam(_LearningRate, optim.Adam):
    pass


class _Adagrad(_LearningRate, optim.Adagrad):
    pass


class _RMSprop(_LearningRate, optim.RMSprop):
    pass


SOLVERS = {"sgd": _SGD, "adam": _Adam, "adagrad": _Adagrad, "rmsprop": _RMSprop}
# scikit-learn's four names, then the other units chainrule.models knows.
ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "gelu", "sigmoid", "softplus")
LR_SCHEDULES = ("constant", "cosine", "step", "plateau")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_PREDICT_BATCH = 4096  # rows per forward pass at prediction: bounds memory, not results
_NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain large values and need "
               "to be preprocessed.")  # scikit-learn's words


# -- parameters, checked at fit ------------------------------------------------------------------
def _finite(value) -> bool:
    """Not infinite (scikit-learn's intervals let inf through, where chainrule would train on it)."""
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


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
    cross-entropy, the log loss summed over labels, half the mean squared error, half the Poisson
    deviance) plus the L2 penalty ``alpha / 2 * sum(W ** 2) / n`` over the weight matrices; its
    gradient is the one scikit-learn's backpropagation computes, and its value is what ``tol`` is
    compared with. With ``sample_weight`` (w, one per sample) the data loss is the w-weighted mean of
    ``per_sample(output, target)`` and n becomes sum(w), as scikit-learn's."""

    def __init__(self, data_loss, scale: float, weights: list, alpha: float, per_sample=None):
        self.data_loss, self.scale, self.weights, self.alpha = data_loss, scale, weights, alpha
        self.per_sample = per_sample

    def __call__(self, output: Tensor, target: Tensor, sample_weight=None) -> Tensor:
        if sample_weight is None:
            loss = self.data_loss(output, target)
            if self.scale != 1.0:
                loss = loss * self.scale
            n = output.shape[0]
        else:
            w = np.asarray(sample_weight, dtype=output.dtype)
            n = float(w.sum())
            loss = (self.per_sample(output, target) * Tensor(w / n, dtype=output.dtype)).sum()
        if self.alpha and self.weights:
            squares = sum((w * w).sum() for w in self.weights)
            loss = loss + squares * (0.5 * self.alpha / n)
        return loss


class _Weighted:
    """The loss for chainrule's Trainer, which hands a loss (output, target) only: the sample
    weights travel as the targets' last column and are split off here (``integer``: the targets
    are class indices, carried as floats beside the weights)."""

    def __init__(self, loss: _Loss, integer: bool):
        self.loss, self.integer = loss, integer

    def __call__(self, output: Tensor, target: Tensor) -> Tensor:
        packed = target._data
        values = packed[:, :-1]
        target = Tensor._make(values[:, 0].astype(np.int64) if self.integer else values, False, None)
        return self.loss(output, target, packed[:, -1])


def _poisson(output: Tensor, target: Tensor) -> Tensor:
    """Half the Poisson deviance of rates exp(output) per sample, summed over targets (scikit-learn's
    ``poisson_loss``, its constant ``y log y - y`` included so that the value is the deviance)."""
    y = target._data
    constant = np.sum(xlogy(y, y) - y, axis=1)
    return (output.exp() - target * output).sum(1) + Tensor(constant, dtype=output.dtype)


def _glorot_uniform(linear: nn.Linear, factor: float) -> None:
    """scikit-learn's MLP initialisation (``_init_coef``), drawn from chainrule's generator: weights
    and biases uniform in +-sqrt(factor / (fan_in + fan_out)), factor 2 for logistic units, else 6."""
    bound = math.sqrt(factor / (linear.in_features + linear.out_features))
    nn.init.uniform_(linear.weight, -bound, bound)
    nn.init.uniform_(linear.bias, -bound, bound)


class _PoissonLoss:
    """``_poisson`` averaged over the samples."""

    def __call__(self, output: Tensor, target: Tensor) -> Tensor:
        return _poisson(output, target).mean()


class _StoppingRule(Callback):
    """scikit-learn's per-epoch bookkeeping (``_fit_stochastic``) inside chainrule's loop: n_iter_,
    t_, loss_, loss_curve_, the verbose lines, the no-improvement count, the learning rate of
    ``learning_rate`` and the stop once the count exceeds n_iter_no_change; with early stopping the
    validation score and the best epoch's weights, put back at the end. Each random restart starts
    from the state the fit started with; ``keep`` adopts the kept run's."""

    _ATTRIBUTES = ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_", "validation_scores_",
                   "best_validation_score_", "_no_improvement_count", "_best_state")

    def __init__(self, estimator, val, n_samples: int):
        self.estimator, self.val, self.n_samples = estimator, val, n_samples
        estimator.n_iter_ = 0  # n_iter_ counts this call's epochs, t_ and the rest carry on
        self.start = self._attributes()
        self.runs = []
        self.stopped = False

    def _attributes(self) -> dict:
        return {name: copy.deepcopy(getattr(self.estimator, name, None)) for name in self._ATTRIBUTES}

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
        est.loss_ = logs["loss"]
        est.loss_curve_.append(logs["loss"])
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        score = est._validation_score(*self.val) if self.val is not None else None
        if score is not None and est.verbose:
            print(f"Validation score: {score:f}")
        if est._update_no_improvement_count(logs["loss"], score):
            est._best_state = self._weights()
        est._iteration_ends()
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if est.early_stopping else "Training loss"
            message = (f"{what} did not improve more than tol={est.tol:f} for {int(est.n_iter_no_change)} "
                       "consecutive epochs.")
            if est._trigger_stopping(message):
                self.stopped = True
                trainer.stop(message)
            else:
                est._no_improvement_count = 0

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
        loss = self._training_loss()(module(Tensor(X, dtype=dtype)), Tensor(y, dtype=y.dtype), sample_weight)
        loss.backward()
        return float(loss._data), _lbfgs_pack(_lbfgs_layout(module), grads=True)

    def _fit_lbfgs(self, X, targets, sample_weight=None, *, fresh: bool):
        """Fit by L-BFGS-B over the whole training set (``max_iter`` iterations and ``max_fun``
        loss evaluations at most, stopping once the projected gradient is below ``tol``), as
        scikit-learn's ``_fit_lbfgs``: X validated, targets as ``_targets`` gives them, module_
        built. Computes in float64 whatever X's dtype (scikit-learn's packed vector is float64
        too); the network ends in X's dtype. A fresh fit with ``restarts`` keeps the lowest loss."""
        if len(X) < 2 and any(isinstance(m, _BATCH_NORMS) for m in self.module_.modules()):
            raise ValueError(f"{type(self).__name__}: batch normalisation needs 2 or more samples, got "
                             f"n_samples={len(X)}")
        runs = []
        for run in range(self.restarts if fresh else 1):
            if run:  # each restart a new network, initialised as the first
                self.module_ = self._network(self.n_features_in_, self.n_outputs_)
                self._initialize(self.module_)
            if any(isinstance(m, _DROPOUTS) and m.p > 0 for m in self.module_.modules()):
                raise ValueError(f"{type(self).__name__}: solver='lbfgs' minimises one fixed full-batch loss, "
                                 "which dropout would make random; use dropout with 'adam' or 'sgd'")
            runs.append((self.module_, *self._lbfgs_run(X.astype(np.float64, copy=False), targets, sample_weight)))
        best = min(range(len(runs)), key=lambda i: runs[i][1].fun)
        self.module_, result, curve = runs[best]
        self.module_.to(X.dtype)
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)
        self.loss_curve_.extend(curve)
        self.best_loss_ = self.loss_
        self.validation_scores_ = self.best_validation_score_ = None  # scikit-learn's lbfgs has no hold-out
        self.history_ = History([{"epoch": i + 1, "loss": loss} for i, loss in enumerate(curve)],
                                runs=[{"loss": float(r.fun), "iterations": int(r.nit)} for _, r, _ in runs],
                                best_run=best, stopped=str(result.message))
        if result.status != 0:  # scikit-learn's words (sklearn.utils.optimize._check_optimize_result)
            message = (f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result.status}):\n"
                       f"{result.message}\n")
            if self.n_iter_ == self.max_iter:
                message += ("\nIncrease the number of iterations to improve the convergence "
                            f"(max_iter={self.max_iter}).")
            message += ("\nYou might also want to scale the data as shown in:\n"
                        "    https://scikit-learn.org/stable/modules/preprocessing.html")
            warnings.warn(message, ConvergenceWarning, stacklevel=5)  # the caller of fit

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
    build (``_network``, ``_initialize``) and how targets become network outputs and losses
    (``_targets``, ``_data_loss``, ``_sample_losses``)."""

    _allow_nd = False

    # -- hooks ------------------------------------------------------------------------------
    def _network(self, n_features: int, n_outputs: int) -> nn.Module:
        raise NotImplementedError

    def _initialize(self, module: nn.Module) -> None:
        """Initialise a new network's parameters in place (a user's module keeps its own initialisation)."""

    # -- checks -----------------------------------------------------------------------------
    # scikit-learn's constraints (its messages, through its parameter validation at fit and
    # partial_fit), with chainrule's solvers and its own parameters added; momentum stays below 1,
    # where chainrule's SGD takes it.
    _parameter_constraints: ClassVar[dict] = {
        "solver": [StrOptions({"lbfgs", *SOLVERS})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(LEARNING_RATES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],  # 0: early_stopping's split refuses it
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "restarts": [Interval(Integral, 1, None, closed="left")],
        "lr_schedule": [None, StrOptions(set(LR_SCHEDULES)), callable],
    }

    def _param_checks(self) -> list:
        """(parameter, is it valid, what is expected) beyond the constraints: numbers must be finite
        (scikit-learn lets inf through where chainrule would train on it)."""
        return [(name, _finite(getattr(self, name)), f"a finite float in the range {bounds}")
                for name, bounds in (("alpha", "[0.0, inf)"), ("learning_rate_init", "(0.0, inf)"),
                                     ("power_t", "[0.0, inf)"), ("tol", "[0.0, inf)"),
                                     ("epsilon", "(0.0, inf)"))]

    def _check_params(self) -> None:
        for name, ok, expected in self._param_checks():
            if not ok:
                value = getattr(self, name)
                raise InvalidParameterError(f"The {name!r} parameter of {type(self).__name__} must be {expected}. "
                                            f"Got {value!r} instead.")
        scheduled = self.lr_schedule is not None and self.lr_schedule != "constant"
        if scheduled and self.solver == "sgd" and self.learning_rate != "constant":
            raise ValueError(f"{type(self).__name__}: learning_rate={self.learning_rate!r} and "
                             f"lr_schedule={self.lr_schedule!r} both set sgd's learning rate; choose one")

    def _validate(self, X, y="no_validation", *, reset: bool):
        """scikit-learn's own validation: array conversion, finiteness, n_features_in_ and
        feature names; floating X keeps its dtype (float32 or float64), anything else becomes
        float64, and the network computes in that dtype. Sparse X (CSR, CSC or any format scipy
        converts to them) becomes a dense array: the network's first layer multiplies dense inputs."""
        kwargs = dict(dtype=(np.float64, np.float32), allow_nd=self._allow_nd, reset=reset,
                      accept_sparse=("csr", "csc"))
        if isinstance(y, str) and y == "no_validation":  # scikit-learn's marker: X alone
            X = validate_data(self, X, **kwargs)
            return X.toarray() if sparse.issparse(X) else X
        X, y = validate_data(self, X, y, multi_output=True, **kwargs)
        return (X.toarray() if sparse.issparse(X) else X), y

    def _sample_weight(self, sample_weight, X):
        """scikit-learn's check of sample_weight (one finite number per sample), or None."""
        return None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float64)

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
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                              UserWarning, stacklevel=6)
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
        parameter of 2 or more dimensions (the weight matrices, not the biases). Call it as
        ``loss(module_(X), Tensor(targets), sample_weight=None)``, targets as ``_targets`` gives them."""
        data_loss, scale = self._data_loss()
        weights = [p for p in self.module_.parameters() if p.ndim > 1]
        return _Loss(data_loss, scale, weights, float(self.alpha), self._sample_losses)

    def _iteration_ends(self) -> None:
        """scikit-learn's 'invscaling' after each epoch: learning_rate_init / (t_ + 1) ** power_t
        (t_ counts samples), for sgd as scikit-learn's SGDOptimizer."""
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            self._optimizer.learning_rate = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t

    def _trigger_stopping(self, message: str) -> bool:
        """Whether to stop once the count exceeds n_iter_no_change; with 'adaptive' (sgd) the rate is
        divided by 5 instead, until it is 1e-6 or less (scikit-learn's SGDOptimizer)."""
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(message + " Stopping.")
            return True
        if self._optimizer.learning_rate <= 1e-6:
            if self.verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self._optimizer.learning_rate /= 5.0
        if self.verbose:
            print(f"{message} Setting learning rate to {self._optimizer.learning_rate:f}")
        return False

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

    def _train(self, X, y, *, incremental: bool, classes=None, sample_weight=None):
        """Fit (``incremental=False``) or one more epoch (partial_fit); X and y already validated."""
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        fresh = not hasattr(self, "module_") or (not incremental and not self.warm_start)
        targets, n_outputs = self._targets(y, fresh=fresh, classes=classes, incremental=incremental)
        with self._own_generator(fresh):
            if fresh:
                self.module_ = self._network(self.n_features_in_, n_outputs).to(X.dtype)
                self._initialize(self.module_)
                self._reset_stopping()
            self.n_outputs_ = n_outputs
            self._describe_network()
            # weights a user assigned to coefs_/intercepts_: the start of a partial_fit or a warm start;
            # a fresh fit initialises anew, as scikit-learn's does
            self._load_assigned(use=incremental or self.warm_start)
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, targets, sample_weight, fresh=fresh)
            else:
                self._fit_stochastic(X, targets, sample_weight, incremental=incremental, fresh=fresh)
        self.module_.zero_grad()  # the last batch's gradients would only weigh down pickles
        self._check_finite_weights()
        return self

    def _fit_stochastic(self, X, targets, sample_weight, *, incremental: bool, fresh: bool):
        """Mini-batch epochs through chainrule's Trainer with scikit-learn's bookkeeping."""
        where = type(self).__name__
        # partial_fit continues the optimizer; fit starts a new one, as scikit-learn's
        if fresh or not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._new_optimizer()
            self._scheduler = _scheduler(self.lr_schedule, self._optimizer, self.max_iter, where)
        val = trainer_val = None
        if self.early_stopping:
            X, X_val, targets, y_val, sample_weight, w_val = self._split(X, targets, sample_weight)
            val = (X_val, y_val, w_val)
            trainer_val = (X_val, self._pack(y_val, w_val))
        loss = self._training_loss()
        if sample_weight is not None:
            loss = _Weighted(loss, integer=targets.ndim == 1)
        batch_size = self._batch_size(len(X))
        rule = _StoppingRule(self, val, len(X))
        trainer = Trainer(self.module_, loss, self._optimizer, batch_size=batch_size, shuffle=bool(self.shuffle),
                          metrics=(), scheduler=self._scheduler, callbacks=[rule], verbose=0,
                          monitor_gradients=False)
        history = trainer.fit((X, self._pack(targets, sample_weight)), epochs=1 if incremental else self.max_iter,
                              val_data=trainer_val, restarts=self.restarts if fresh and not incremental else 1)
        stopped = rule.keep(history.best_run or 0)
        self.history_ = history
        if not incremental and not stopped and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                          "hasn't converged yet.", ConvergenceWarning, stacklevel=5)

    @staticmethod
    def _pack(targets, sample_weight):
        """The targets as the Trainer carries them: with weights, the weights as a last column."""
        if sample_weight is None:
            return targets
        return np.column_stack([targets.reshape(len(targets), -1).astype(np.float64), sample_weight])

    def _check_finite_weights(self) -> None:
        if not all(np.isfinite(p._data).all() for p in self.module_.parameters()):
            raise ValueError(_NON_FINITE)

    def _split(self, X, targets, sample_weight=None):
        """The early-stopping hold-out, drawn from the estimator's stream; stratified where
        scikit-learn stratifies (classifiers with one output: binary targets)."""
        stratify = self._stratify(targets)
        seed = int(random.get_generator().integers(np.iinfo(np.int32).max))
        arrays = (X, targets) if sample_weight is None else (X, targets, sample_weight)
        parts = train_test_split(*arrays, test_size=self.validation_fraction, random_state=seed, stratify=stratify)
        if len(parts[1]) < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                             "your dataset.")
        if sample_weight is None:
            parts += [None, None]
        return parts

    def _stratify(self, targets):
        """What scikit-learn's split stratifies on (None: no stratification)."""
        return None

    # -- coefs_ and intercepts_ -------------------------------------------------------------------
    def _linear_chain(self) -> list:
        """The network's Linear layers, when they hold every parameter and chain by shape (in the
        order registered, as in nn.Sequential): what scikit-learn's coefs_ and intercepts_ describe."""
        if "module_" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__} is not fitted yet: coefs_ and intercepts_ come with fit")
        owners = [m for m in self.module_.modules() if m._parameters]
        others = sorted({type(m).__name__ for m in owners if not isinstance(m, nn.Linear) or m.bias is None})
        chained = not others and all(a.out_features == b.in_features for a, b in itertools.pairwise(owners))
        if others or not owners or not chained:
            reason = (f"it also holds {', '.join(others)} parameters" if others
                      else "its Linear layers do not chain by shape")
            raise AttributeError(f"{type(self).__name__}: coefs_ and intercepts_ describe a chain of Linear layers "
                                 f"with biases; module_ is not one ({reason}): read module_ instead")
        return owners

    @property
    def coefs_(self) -> list:
        """The weight matrices, (in, out) as scikit-learn's: views of the Linear layers' weights."""
        if "_coefs" in self.__dict__:
            return self._coefs
        return [linear.weight._data.T for linear in self._linear_chain()]

    @coefs_.setter
    def coefs_(self, value) -> None:
        self._coefs = value  # used at the next partial_fit, warm start or prediction

    @property
    def intercepts_(self) -> list:
        """The bias vectors: views of the Linear layers' biases."""
        if "_intercepts" in self.__dict__:
            return self._intercepts
        return [linear.bias._data for linear in self._linear_chain()]

    @intercepts_.setter
    def intercepts_(self, value) -> None:
        self._intercepts = value

    def _describe_network(self) -> None:
        """n_layers_ as scikit-learn counts them (inputs, hidden layers, outputs), where the network
        is a chain of Linear layers."""
        try:
            self.n_layers_ = len(self._linear_chain()) + 1
        except AttributeError:
            self.__dict__.pop("n_layers_", None)

    def _load_assigned(self, use: bool = True) -> None:
        """Copy arrays a user assigned to coefs_ or intercepts_ into the network (``use``), or drop them."""
        assigned = [(name, self.__dict__.pop(name)) for name in ("_coefs", "_intercepts") if name in self.__dict__]
        if not use or not assigned:
            return
        chain = self._linear_chain()
        for name, arrays in assigned:
            public = name[1:] + "_"
            targets = [(linear.weight._data.T if name == "_coefs" else linear.bias._data) for linear in chain]
            arrays = [np.asarray(a) for a in arrays]
            if len(arrays) != len(targets) or any(a.shape != t.shape for a, t in zip(arrays, targets)):
                raise ValueError(f"{type(self).__name__}: {public} was assigned arrays of shapes "
                                 f"{[a.shape for a in arrays]}; the network's are {[t.shape for t in targets]}")
            for a, t in zip(arrays, targets):
                t[...] = a

    # -- fitting ----------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on X (n_samples, n_features) and targets y; returns self.

        A fresh fit seeds chainrule's generator from ``random_state``; with ``warm_start`` a
        later fit continues from the current weights (with a fresh optimizer, as scikit-learn).
        ``sample_weight`` weighs each sample's loss (scikit-learn's weighted mean).
        """
        first = not hasattr(self, "module_") or not self.warm_start
        X, y = self._validate(X, y, reset=first)
        return self._train(X, y, incremental=False, sample_weight=self._sample_weight(sample_weight, X))

    def _check_solver(self) -> bool:
        if self.solver == "lbfgs":
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                                 "stochastic.")
        return True

    # -- prediction -------------------------------------------------------------------------
    def _outputs(self, X) -> np.ndarray:
        """The network's raw outputs for X, validated as at fit."""
        check_is_fitted(self, "module_")
        self._load_assigned()
        return self._forward(self._validate(X, reset=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags


class _Classifier(ClassifierMixin, _Network):
    """Class labels in, class probabilities out: softmax cross-entropy over ``classes_`` (any
    label type), or a sigmoid per label with BCE-with-logits for multi-label indicator targets,
    and with ``_binary_logistic`` for two classes (one sigmoid output, as scikit-learn's MLP)."""

    _binary_logistic = False

    def _targets(self, y, *, fresh: bool, classes=None, incremental: bool = False):
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
        present = unique_labels(y)
        # scikit-learn's rules: a warm fit needs the same classes; any later call only known ones
        if not fresh and not incremental and set(present) != set(self.classes_):
            raise ValueError("warm_start can only be used where `y` has the same classes as in the previous call "
                             f"to fit. Previously got {self.classes_}, `y` has {present}")
        index = np.searchsorted(self.classes_, y).clip(0, len(self.classes_) - 1)
        if (self.classes_[index] != y).any():
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                             f"'y' has {present}.")
        if self.out_activation_ == "logistic":  # two classes, one output: the probability of classes_[1]
            return index.astype(np.float64).reshape(-1, 1), 1
        return index.astype(np.int64), len(self.classes_)

    def _data_loss(self):
        # scikit-learn's log loss: mean cross-entropy; for labels, summed over labels, mean over samples
        if self.out_activation_ == "logistic":
            return nn.BCEWithLogitsLoss(), float(len(self.classes_)) if self._multilabel else 1.0
        return nn.CrossEntropyLoss(), 1.0

    def _sample_losses(self, output: Tensor, target: Tensor) -> Tensor:
        """Each sample's log loss (n,), summed over labels."""
        if self.out_activation_ == "logistic":
            return F.binary_cross_entropy_with_logits(output, target, reduction="none").sum(1)
        return F.cross_entropy(output, target, reduction="none")

    def _validation_score(self, X_val, y_val, sample_weight=None) -> float:
        """scikit-learn's early-stopping score: the accuracy (of whole label rows for multi-label)."""
        out = self._forward(X_val)
        if self.out_activation_ == "logistic":  # labels, or the second of two classes
            return float(accuracy_score(y_val.astype(int), (out > 0).astype(int), sample_weight=sample_weight))
        return float(accuracy_score(y_val, out.argmax(axis=1), sample_weight=sample_weight))

    def _stratify(self, targets):
        # scikit-learn stratifies when its network has one output (binary class targets), on the
        # 0/1 column as booleans: its message then names the class True or False
        if self._multilabel or len(self.classes_) > 2:
            return None
        return targets.reshape(len(targets), -1)[:, :1] == 1 if len(self.classes_) == 2 else targets

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One more epoch over (X, y), continuing the optimizer. The first call needs
        ``classes`` (every label that will ever occur), unless y is a multi-label indicator."""
        first = not hasattr(self, "module_")
        if first and classes is None and type_of_target(y) != "multilabel-indicator":
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if not first and classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(f"`classes={unique_labels(classes)!r}` is not the same as on last call to partial_fit, "
                             f"was: {self.classes_!r}")
        X, y = self._validate(X, y, reset=first)
        return self._train(X, y, incremental=True, classes=classes,
                           sample_weight=self._sample_weight(sample_weight, X))

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

    def _targets(self, y, *, fresh: bool, classes=None, incremental: bool = False):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        targets = y.reshape(len(y), -1).astype(np.float64)
        if not fresh and targets.shape[1] != self.n_outputs_:
            raise ValueError(f"{type(self).__name__}: y has {targets.shape[1]} target columns, the "
                             f"network was fitted with {self.n_outputs_}")
        if getattr(self, "loss", "squared_error") == "poisson" and (targets < 0).any():
            raise ValueError(f"{type(self).__name__}: loss='poisson' needs targets y >= 0, got a minimum of "
                             f"{targets.min()}")
        if fresh:
            self.out_activation_ = "exp" if getattr(self, "loss", "squared_error") == "poisson" else "identity"
        return targets, targets.shape[1]

    def _data_loss(self):
        if self.out_activation_ == "exp":
            return _PoissonLoss(), 1.0
        return nn.MSELoss(), 0.5  # scikit-learn's squared loss is half the mean squared error

    def _sample_losses(self, output: Tensor, target: Tensor) -> Tensor:
        """Each sample's loss (n,): half the squared error averaged over targets, or half the
        Poisson deviance summed over them, as scikit-learn's."""
        if self.out_activation_ == "exp":
            return _poisson(output, target)
        difference = output - target
        return (difference * difference).mean(1) * 0.5

    def _forward(self, X: np.ndarray) -> np.ndarray:
        out = super()._forward(X)
        return np.exp(out) if self.out_activation_ == "exp" else out  # the network gives log-rates

    def _validation_score(self, X_val, y_val, sample_weight=None) -> float:
        """scikit-learn's early-stopping score: R^2 (NaN when the predictions are not finite)."""
        out = self._forward(X_val)
        if not np.isfinite(out).all():
            return math.nan
        return float(r2_score(y_val, out, sample_weight=sample_weight))

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One more epoch over (X, y), continuing the optimizer."""
        first = not hasattr(self, "module_")
        X, y = self._validate(X, y, reset=first)
        return self._train(X, y, incremental=True, sample_weight=self._sample_weight(sample_weight, X))

    def predict(self, X) -> np.ndarray:
        """Predictions (n_samples,) for one target, else (n_samples, n_targets)."""
        out = self._outputs(X)
        return out.ravel() if out.shape[1] == 1 else out


# -- multilayer perceptrons ----------------------------------------------------------------------
class _MLP(_Network):
    _parameter_constraints: ClassVar[dict] = {
        **_Network._parameter_constraints,
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dropout=0.0, batch_norm=False, restarts=1,
                 lr_schedule=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
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
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.restarts = restarts
        self.lr_schedule = lr_schedule

    def _hidden(self) -> list:
        sizes = self.hidden_layer_sizes
        return [sizes] if is_int(sizes) else list(sizes)

    def _param_checks(self):
        # scikit-learn's constraint lets any array-like through, and refuses sizes of 0 later
        return [*super()._param_checks(), ("hidden_layer_sizes", all(is_int(h) and h > 0 for h in self._hidden()),
                "an int in the range [1, inf) or an array-like of them, one per hidden layer")]

    def _network(self, n_features, n_outputs):
        name = {"logistic": "sigmoid", "identity": "relu"}.get(self.activation, self.activation)
        net = models.mlp(n_features, self._hidden(), n_outputs, activation_name=name,
                         dropout=float(self.dropout), batch_norm=bool(self.batch_norm))
        if self.activation == "identity":  # models.mlp builds nonlinear units only: take them out
            net = nn.Sequential(*(nn.Identity() if isinstance(m, nn.ReLU) else m for m in net))
        # scikit-learn's initialisation (in _initialize, once in X's dtype), also for each random
        # restart, which resets every layer
        factor = 2.0 if self.activation == "logistic" else 6.0
        for linear in net.modules():
            if isinstance(linear, nn.Linear):
                linear.reset_parameters = functools.partial(_glorot_uniform, linear, factor)
        return net

    def _initialize(self, module: nn.Module) -> None:
        for linear in module.modules():
            if "reset_parameters" in vars(linear):  # the layers _network gave scikit-learn's initialisation
                linear.reset_parameters()


_MLP_DOC = """

    Parameters (scikit-learn's names and defaults, then chainrule's own)
    ----------
    hidden_layer_sizes : widths of the hidden layers, e.g. (128, 64); () is a linear model.
    activation : {activations}; 'logistic' is the sigmoid.
    solver : 'adam', 'sgd', 'lbfgs' (full-batch L-BFGS through scipy, with max_fun), or chainrule's
        'adagrad' and 'rmsprop'.
    alpha : L2 penalty on the weight matrices (not the biases): scikit-learn's
        ``alpha / 2 * sum(W ** 2) / batch size``, part of the loss.
    batch_size : 'auto' is min(200, n_samples).
    learning_rate : for 'sgd', as scikit-learn's: 'constant'; 'invscaling', after each epoch
        ``learning_rate_init / (t_ + 1) ** power_t`` (t_ counts samples); 'adaptive', divided by 5
        whenever the stopping rule would stop (stopping once it is 1e-6 or less). A change keeps the
        momentum's step as it was (scikit-learn's velocity). Other solvers ignore it.
    learning_rate_init, power_t, max_iter (epochs; iterations for 'lbfgs'), max_fun ('lbfgs'),
        shuffle, momentum and nesterovs_momentum (sgd only), beta_1, beta_2 and epsilon (adam only).
    loss (regressors) : 'squared_error' (half the mean squared error) or 'poisson' (half the Poisson
        deviance of the rate exp(output); targets >= 0; ``out_activation_`` 'exp').
    tol, n_iter_no_change : scikit-learn's rule: after each epoch, the count of epochs grows when
        the training loss is above the best so far minus tol and is reset otherwise; the best is
        recorded whenever the loss falls; training stops once the count exceeds n_iter_no_change
        (``np.inf``: never). With early_stopping the same rule runs on the validation score
        (accuracy, R^2).
    early_stopping, validation_fraction : hold out that fraction (stratified for binary
        classifiers, as scikit-learn), stop on its score and keep the best-scoring epoch's weights.
    random_state : None, an int or a RandomState; an int k trains exactly as
        ``chainrule.manual_seed(k)`` would (initialisation, shuffling, dropout); None draws the
        seed from chainrule's generator. The caller's generator state is left as it was.
    warm_start : a later fit continues from the current weights (and refuses targets whose classes
        differ from the first fit's, as scikit-learn).
    verbose : print scikit-learn's lines on stdout (``Iteration 1, loss = 0.69314718``, the
        validation score, the stopping rule's decisions).
    dropout : dropout probability after each hidden activation.
    batch_norm : BatchNorm1d before each hidden activation.
    restarts : train this many times from fresh initialisations and keep the best run.
    lr_schedule : None/'constant', 'cosine' (to zero over max_iter epochs), 'step' (x0.1 every
        max_iter // 3 epochs), 'plateau' (x0.2 after 3 epochs without improvement), or a callable
        ``optimizer -> chainrule.optim.lr_scheduler`` object, stepped once per epoch; not with an
        sgd ``learning_rate`` other than 'constant'.

    ``fit(X, y, sample_weight=None)`` and ``partial_fit`` take sample weights (the loss is their
    weighted mean, the penalty divided by their sum, as scikit-learn's) and sparse X (made dense).
    The weights start as scikit-learn's (Glorot-uniform), drawn from chainrule's generator.

    Fitted attributes: ``module_`` (the trained chainrule network), ``coefs_`` and ``intercepts_``
    (views of its Linear layers' weights, coefs_ (in, out) as scikit-learn's: writing into them
    changes the network; arrays assigned to them start the next partial_fit or warm start),
    ``n_layers_``, ``classes_`` (classifiers), ``n_features_in_``, ``feature_names_in_`` (for
    X with column names), ``n_outputs_``, ``out_activation_``, ``loss_`` (the last epoch's),
    ``loss_curve_`` (scikit-learn's loss, penalty included, of every epoch, over warm starts and
    partial fits), ``n_iter_`` (epochs of the latest fit or partial_fit), ``t_`` (training samples
    seen), ``best_loss_`` (None with early_stopping), ``validation_scores_`` and
    ``best_validation_score_`` (with early_stopping, else None), ``history_`` (the latest fit's
    chainrule History, with validation loss and learning rates). With batch_norm the network is not
    a chain of Linear layers: coefs_, intercepts_ and n_layers_ are then absent (read module_).
    """.format(activations=", ".join(ACTIVATIONS))


class MLPClassifier(_Classifier, _MLP):
    __doc__ = """A multilayer perceptron classifier trained by backpropagation: scikit-learn's
    MLPClassifier, built from chainrule layers (softmax cross-entropy; one sigmoid output for two
    classes and one per label for multi-label targets, as scikit-learn).""" + _MLP_DOC

    _binary_logistic = True


class MLPRegressor(_Regressor, _MLP):
    __doc__ = """A multilayer perceptron regressor trained by backpropagation on half the mean
    squared error (``loss='squared_error'``) or half the Poisson deviance of exp(output) (``'poisson'``):
    scikit-learn's MLPRegressor, built from chainrule layers; one output per target.""" + _MLP_DOC

    _parameter_constraints: ClassVar[dict] = {**_MLP._parameter_constraints,
                                              "loss": [StrOptions({"squared_error", "poisson"})]}

    # scikit-learn puts loss first, before hidden_layer_sizes; here it is keyword-only, so that
    # MLPRegressor((64,)) keeps meaning what it always meant
    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error", solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dropout=0.0, batch_norm=False,
                 restarts=1, lr_schedule=None):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose, warm_start=warm_start,
            momentum=momentum, nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            n_iter_no_change=n_iter_no_change, max_fun=max_fun, dropout=dropout, batch_norm=batch_norm,
            restarts=restarts, lr_schedule=lr_schedule)
        self.loss = loss


# -- any chainrule module ------------------------------------------------------------------------
class _NeuralNet(_Network):
    _allow_nd = True  # images (N, C, H, W) and sequences (N, L, F) go to the module as they are
    _parameter_constraints: ClassVar[dict] = {**_Network._parameter_constraints, "module": [callable]}

    def __init__(self, module, *, solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, restarts=1, lr_schedule=None):
        self.module = module
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
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
        self.max_fun = max_fun
        self.restarts = restarts
        self.lr_schedule = lr_schedule

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
    seeded from ``random_state`` and keeps its own initialisation. Every other parameter and
    fitted attribute is MLPClassifier's (``loss`` MLPRegressor's); ``alpha`` decays every parameter
    of 2 or more dimensions. ``coefs_``, ``intercepts_`` and ``n_layers_`` exist when the module's
    parameters all belong to Linear layers with biases that chain by shape, in the order they are
    registered (an nn.Sequential of Linear layers and parameter-free units); for any other module
    they are absent (AttributeError, saying why) and ``module_`` is the network.
    """


class NeuralNetClassifier(_Classifier, _NeuralNet):
    __doc__ = """Any chainrule network as a scikit-learn classifier (fit, predict,
    predict_proba, partial_fit, pipelines and searches).""" + _NET_DOC


class NeuralNetRegressor(_Regressor, _NeuralNet):
    __doc__ = """Any chainrule network as a scikit-learn regressor (fit, predict, partial_fit,
    pipelines and searches); ``loss`` as MLPRegressor's.""" + _NET_DOC

    _parameter_constraints: ClassVar[dict] = {**_NeuralNet._parameter_constraints,
                                    "loss": [StrOptions({"squared_error", "poisson"})]}

    def __init__(self, module, *, loss="squared_error", solver="adam", alpha=0.0001, batch_size="auto",
                 learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, restarts=1, lr_schedule=None):
        super().__init__(
            module, solver=solver, alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter, shuffle=shuffle,
            random_state=random_state, tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            n_iter_no_change=n_iter_no_change, max_fun=max_fun, restarts=restarts, lr_schedule=lr_schedule)
        self.loss = loss


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
