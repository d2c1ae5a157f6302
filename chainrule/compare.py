"""An honest comparison of a backprop-trained network with the classic learners (decision tree,
SVM, k-nearest neighbours, logistic regression): the same resampled splits (repeated stratified
train/test splits or stratified k-fold) and the same standardisation for every learner, mean ± sd
of test accuracy and of training and prediction time, and a corrected resampled t-test of the
network against each learner. Needs scikit-learn."""

import dataclasses
import math
import sys
import time

import numpy as np

from chainrule import random
from chainrule.data import StandardScaler, split
from chainrule.runs import (
    RunConfig,
    _prepared,
    _split_sizes_ok,
    build_loss,
    build_model,
    build_optimizer,
    load_data,
    writing,
)
from chainrule.train import Trainer
from chainrule.train.metrics import accuracy

DEFAULT_REPEATS = 5  # repeated splits when neither is given: five network fits keep a digits run under a minute


def _classic_learners(seed: int) -> dict:
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.svm import SVC
        from sklearn.tree import DecisionTreeClassifier
    except ImportError:
        raise ImportError("compare needs scikit-learn: pip install 'chainrule[sklearn]'") from None
    return {
        "decision tree": DecisionTreeClassifier(random_state=seed),
        "SVM (RBF kernel)": SVC(random_state=seed),
        "k-NN (k=5)": KNeighborsClassifier(n_neighbors=5),
        "logistic regression": LogisticRegression(max_iter=2000),
    }


def corrected_resampled_ttest(differences, n_train: int, n_test: int) -> tuple:
    """``(t, p)`` of the corrected resampled t-test: is the mean of ``differences`` (one score
    difference of two learners per resample, both trained and tested on the same split) zero?

    With J resamples, mean d̄ and sample variance s² (ddof 1) of the differences::

        t = d̄ / sqrt((1/J + n_test/n_train) · s²),   J - 1 degrees of freedom, p two-sided.

    The plain paired t-test divides s² by J alone and, because the training sets of different
    resamples overlap, finds differences far too often; the n_test/n_train term corrects for that
    (Nadeau & Bengio 2003, "Inference for the generalization error", Machine Learning 52:239-281).
    For k-fold repeated r times, J = r·k and n_test/n_train = 1/(k - 1) (Bouckaert & Frank 2004).
    No variance: p is 1 when the mean is 0 too, else 0. One resample cannot be tested: nan.

    >>> t, p = corrected_resampled_ttest([0.02, 0.01, 0.03, 0.0, 0.02], n_train=80, n_test=20)
    >>> round(t, 3), round(p, 3)
    (2.092, 0.105)
    """
    d = np.asarray(differences, dtype=np.float64).reshape(-1)
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"corrected_resampled_ttest: expected positive n_train and n_test, got {n_train} and {n_test}")
    if len(d) < 2:
        return math.nan, math.nan
    mean, variance = float(d.mean()), float(d.var(ddof=1))
    if variance == 0:
        return (0.0, 1.0) if mean == 0 else (math.copysign(math.inf, mean), 0.0)
    from scipy.stats import t as student_t

    t = mean / math.sqrt((1 / len(d) + n_test / n_train) * variance)
    return t, float(2 * student_t.sf(abs(t), len(d) - 1))


def resampling_splits(y, repeats: int | None = None, folds: int | None = None, test_fraction: float = 0.2,
                      seed: int = 0) -> list:
    """``(train_indices, test_indices)`` pairs, stratified by the labels ``y``: ``repeats`` random
    splits holding out ``test_fraction`` (default 5; repeat j draws with ``seed + j``, so repeat 0
    holds out what ``chainrule train`` tests on), or, with ``folds``, k-fold repeated ``repeats``
    times (default once).

    >>> import numpy as np
    >>> pairs = resampling_splits(np.array([0, 1] * 10), folds=4)
    >>> len(pairs), sorted(np.concatenate([test for _, test in pairs]).tolist()) == list(range(20))
    (4, True)
    """
    y = np.asarray(y)
    labels, counts = np.unique(y, return_counts=True)
    if folds is None:
        if not _split_sizes_ok(len(y), test_fraction, len(labels)):
            raise ValueError(f"compare: {len(y)} samples are too few to hold out {test_fraction:g} of them with one "
                             f"sample of each of {len(labels)} classes in both parts")
        everything = np.arange(len(y))
        pairs = []
        for j in range(DEFAULT_REPEATS if repeats is None else repeats):
            train, test, _, _ = split(everything, y, test_fraction, seed=seed + j)
            pairs.append((train, test))
        return pairs
    if counts.min() < folds:
        raise ValueError(f"compare: --folds {folds}: the smallest class has {counts.min()} samples, fewer than the "
                         f"folds (each fold tests on every class); use at most {counts.min()} folds")
    from sklearn.model_selection import RepeatedStratifiedKFold

    folding = RepeatedStratifiedKFold(n_splits=folds, n_repeats=1 if repeats is None else repeats, random_state=seed)
    return list(folding.split(np.zeros(len(y)), y))


def describe_resampling(repeats: int | None = None, folds: int | None = None, test_fraction: float = 0.2) -> str:
    """The resampling in words, for tables and titles: "5 stratified 80/20 splits"."""
    if folds is None:
        count = DEFAULT_REPEATS if repeats is None else repeats
        train_percent = round(100 * (1 - test_fraction))
        return f"{count} stratified {train_percent}/{100 - train_percent} split{'s' if count > 1 else ''}"
    times = 1 if repeats is None else repeats
    return f"stratified {folds}-fold" + (f", repeated {times} times" if times > 1 else "")


@dataclasses.dataclass
class Comparison:
    """What ``compare`` measured: one row per learner (best mean accuracy first), the splits they
    all used, and the words for them."""

    rows: list  # dicts: model, test_accuracy (mean), test_accuracy_sd, accuracies (one per split), train_seconds(_sd),
    # predict_seconds(_sd), and for the classic learners difference (network - learner), t_statistic, p_value
    splits: list  # (train_indices, test_indices) into the data set as loaded
    data: str
    network: str
    resampling: str
    notes: list = dataclasses.field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.data}: {self.network} against classic learners, {self.resampling}"


def _network_name(config: RunConfig) -> str:
    return f"chainrule {config.model.upper()} {','.join(map(str, config.hidden))} (backprop)"


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _fit_network(config: RunConfig, part, seed: int):
    """Test accuracy, training and prediction seconds of a fresh network on one split."""
    random.manual_seed(seed)  # each split's network starts from its own seeded weights: init varies too
    model = build_model(config, part.input_shape, part.n_outputs)
    trainer = Trainer(model, build_loss(config, part.task), build_optimizer(config, model),
                      batch_size=config.batch_size, metrics=(), verbose=0)
    _, train_seconds = _timed(lambda: trainer.fit(part.train, epochs=config.epochs))
    scores, predict_seconds = _timed(lambda: trainer.predict(part.test[0]))
    return accuracy(part.test[1], scores), train_seconds, predict_seconds


def _fit_classic(learner, part):
    x_fit = part.train[0].reshape(len(part.train[0]), -1)  # the classic learners see the features flattened
    x_test = part.test[0].reshape(len(part.test[0]), -1)
    _, train_seconds = _timed(lambda: learner.fit(x_fit, part.train[1]))
    predicted, predict_seconds = _timed(lambda: learner.predict(x_test))
    return float(np.mean(predicted == part.test[1])), train_seconds, predict_seconds


def _summary_row(name: str, measured: np.ndarray) -> dict:
    accuracies, train, predict = measured.T
    sd = (lambda v: float(v.std(ddof=1)) if len(v) > 1 else 0.0)
    return {"model": name, "test_accuracy": float(accuracies.mean()), "test_accuracy_sd": sd(accuracies),
            "accuracies": accuracies.tolist(), "train_seconds": float(train.mean()), "train_seconds_sd": sd(train),
            "predict_seconds": float(predict.mean()), "predict_seconds_sd": sd(predict)}


def compare(config: RunConfig, repeats: int | None = None, folds: int | None = None, plot=None,
            verbose: int = 0) -> Comparison:
    """Train ``config``'s network and the classic learners on the same resampled splits.

    ``repeats`` stratified splits holding out ``config.test_fraction`` (default 5), or ``folds``-fold
    stratified cross-validation repeated ``repeats`` times (default once). On each split every learner
    trains on the same training part (no validation part is held out), standardised with that part's
    statistics, and is tested on the same test part; the network's weights are seeded with
    ``config.seed + j`` on split j. Each classic learner's row carries the mean accuracy difference
    (network - learner) and the corrected resampled t-test of it (``corrected_resampled_ttest``).
    ``plot`` writes a bar chart (``bar_chart``); ``verbose`` prints one line per split to stderr.
    """
    config = dataclasses.replace(config, val_fraction=0.0).check()
    if config.model == "autoencoder":
        raise ValueError("compare: an autoencoder does not classify; choose mlp, cnn, rnn, gru or lstm")
    for name, value, low in (("repeats", repeats, 1), ("folds", folds, 2)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low):
            raise ValueError(f"compare: --{name}: expected an integer >= {low}, got {value!r}")
    if folds is None and config.test_fraction == 0:
        raise ValueError("compare: --test-fraction must be > 0: the learners are compared on the test set")
    learners = _classic_learners(config.seed)
    data = load_data(config)
    X, y = np.asarray(data[0], dtype=np.float32).reshape(len(data[0]), -1), np.asarray(data[1])
    if folds is None and not _split_sizes_ok(len(y), config.test_fraction, len(np.unique(y))):
        raise ValueError(f"compare: {config.data} has {len(y)} samples, too few to compare learners on held-out "
                         f"data (a test part of {config.test_fraction:g} with one sample of each class)")
    pairs = resampling_splits(y, repeats, folds, config.test_fraction, config.seed)
    notes = ["mnist1d: resampled from all its samples, not its reference split (the last 1000 test)"] \
        if config.data == "mnist1d" else []
    measured = {name: [] for name in [_network_name(config), *learners]}  # per learner: (accuracy, train s, predict s)
    for j, (train, test) in enumerate(pairs):
        part = _prepared(config, data, X, y, (X[train], y[train]), None, (X[test], y[test]),
                         StandardScaler().fit(X[train]), [])
        measured[_network_name(config)].append(_fit_network(config, part, config.seed + j))
        for name, learner in learners.items():
            measured[name].append(_fit_classic(learner, part))
        if verbose:
            scores = ", ".join(f"{name} {values[-1][0]:.4f}" for name, values in measured.items())
            print(f"split {j + 1}/{len(pairs)}: {scores}", file=sys.stderr, flush=True)
    rows = [_summary_row(name, np.array(values)) for name, values in measured.items()]
    n_train, n_test = np.mean([len(t) for t, _ in pairs]), np.mean([len(t) for _, t in pairs])
    network = np.array(rows[0]["accuracies"])
    for row in rows[1:]:
        differences = network - np.array(row["accuracies"])
        row["difference"] = float(differences.mean())
        row["t_statistic"], row["p_value"] = corrected_resampled_ttest(differences, n_train, n_test)
    rows.sort(key=lambda row: -row["test_accuracy"])
    result = Comparison(rows, pairs, config.data, _network_name(config),
                        describe_resampling(repeats, folds, config.test_fraction), notes)
    if plot:
        bar_chart(result, plot)
    return result


def _p_text(p: float) -> str:
    if math.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def format_table(comparison: Comparison, markdown: bool = False) -> str:
    """The comparison as an aligned text table (or a Markdown one) with a caption and a footnote."""
    header = ["model", "test accuracy", "train time", "predict time", "network - model", "p"]
    body = []
    for row in comparison.rows:
        network = "difference" not in row
        body.append([row["model"], f"{row['test_accuracy']:.4f} ± {row['test_accuracy_sd']:.4f}",
                     f"{row['train_seconds']:.2f} ± {row['train_seconds_sd']:.2f} s",
                     f"{row['predict_seconds'] * 1000:.1f} ± {row['predict_seconds_sd'] * 1000:.1f} ms",
                     "—" if network else f"{row['difference']:+.4f}", "—" if network else _p_text(row["p_value"])])
    count = len(comparison.splits)
    footnote = (f"mean ± sd over the {count} split{'s' if count > 1 else ''}, the same for every learner; "
                "network - model: mean difference of test accuracy; p: two-sided corrected resampled t-test "
                f"(Nadeau & Bengio 2003), {count - 1} degree{'s' if count != 2 else ''} of freedom")
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join([comparison.title, "", *lines, "", footnote, *comparison.notes])
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    line = (lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                    for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip())
    lines = [line(header), line(["-" * w for w in widths]), *map(line, body)]
    return "\n".join([comparison.title, *lines, footnote, *comparison.notes])


def bar_chart(comparison: Comparison, path=None):
    """Mean test accuracy per learner with sd error bars, each bar labelled with its mean ± sd and
    p-value, on an axis zoomed to the differences (its label says where it starts); written to
    ``path`` (PNG, SVG ... by its suffix) when given. Returns the matplotlib Figure."""
    from chainrule.diagnostics import new_figure, save_figure

    rows = comparison.rows[::-1]  # barh draws bottom-up: the best learner on top
    means = np.array([row["test_accuracy"] for row in rows])
    sds = np.array([row["test_accuracy_sd"] for row in rows])
    figure = new_figure(8, 0.5 * len(rows) + 1.8)
    axes = figure.add_subplot()
    colours = ["tab:orange" if "difference" not in row else "tab:blue" for row in rows]
    axes.barh([row["model"] for row in rows], means, xerr=sds, color=colours, capsize=4)
    low, high = float((means - sds).min()), float((means + sds).max())
    span = max(high - low, 0.02)
    # Zoom in only when every bar is long (all near 0.9, say): then lengths differ too little to see. When
    # some bar is under half the longest, lengths from 0 show the differences and cannot mislead.
    start = 0.0 if low < 0.5 * high else low - 0.15 * span
    end = high + 0.6 * span if start > 0 else high * 1.45  # room for the value labels
    axes.set_xlim(start, end)
    axes.set_xticks([tick for tick in axes.get_xticks() if start <= tick <= 1.0])  # accuracy ends at 1; labels go on
    for y_position, (row, mean, sd) in enumerate(zip(rows, means, sds, strict=True)):
        p_value = _p_text(row.get("p_value", math.nan))
        label = f"{mean:.3f} ± {sd:.3f}" + ("" if "difference" not in row else
                                            f", p {p_value}" if p_value.startswith("<") else f", p = {p_value}")
        axes.text(mean + sd + 0.02 * (end - start), y_position, label, va="center", fontsize=9)
    where = f"the axis starts at {start:.2f}, not 0" if start > 0 else "the axis starts at 0"
    axes.set_xlabel(f"test accuracy, mean ± sd over {len(comparison.splits)} splits ({where})\n"
                    "p: corrected resampled t-test of the network against that learner")
    axes.set_title(f"{comparison.data}: {comparison.network} against classic learners\n{comparison.resampling}, "
                   "the same splits for every learner", fontsize=10)
    if path is not None:
        with writing(path):
            save_figure(figure, path, dpi=100)
    return figure
