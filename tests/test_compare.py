"""chainrule.compare: the corrected resampled t-test by hand, the splits every learner shares,
the table and the bar chart as a reader sees them, and the command end to end."""

import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import matplotlib
import numpy as np
import pytest

import chainrule.compare as compare_module
from chainrule.compare import (
    Comparison,
    bar_chart,
    compare,
    corrected_resampled_ttest,
    format_table,
    resampling_splits,
)
from chainrule.data import StandardScaler, split
from chainrule.runs import RunConfig, load_data

TINY = RunConfig(data="digits", hidden=(8,), epochs=2, seed=3)


# --- the corrected resampled t-test ------------------------------------------------------------------

def test_ttest_matches_a_hand_computation():
    d = [0.02, 0.01, 0.03, 0.0, 0.02]
    # by hand: mean 0.016; deviations 4, -6, 14, -16, 4 (x 1e-3); s² = (16+36+196+256+16)e-6 / 4 = 130e-6;
    # correction 1/5 + 20/80 = 0.45; t = 0.016 / sqrt(0.45 · 130e-6) = 0.016 / 0.0076485 = 2.0919
    t, p = corrected_resampled_ttest(d, n_train=80, n_test=20)
    assert t == pytest.approx(0.016 / math.sqrt(0.45 * 130e-6), rel=1e-12)
    assert t == pytest.approx(2.0919, abs=1e-4)
    from scipy.stats import t as student_t
    assert p == pytest.approx(2 * student_t.sf(t, df=4), rel=1e-12)


def test_ttest_p_is_five_percent_at_the_tabulated_critical_value():
    # Student's t table: the two-sided 5% critical value with 4 degrees of freedom is 2.7764.
    # Differences with mean 1 and s² = 1 give t = 1 / sqrt(1/5 + 1/4); scale so t lands on 2.7764.
    base = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    base /= base.std(ddof=1)
    mean = 2.776445 * math.sqrt(1 / 5 + 1 / 4)
    t, p = corrected_resampled_ttest(base + mean, n_train=4, n_test=1)
    assert t == pytest.approx(2.776445, rel=1e-9)
    assert p == pytest.approx(0.05, abs=1e-6)


def test_the_correction_is_what_separates_it_from_the_plain_paired_test():
    from scipy.stats import ttest_1samp

    d = np.array([0.03, 0.01, 0.02, 0.04, 0.0, 0.02])
    plain = ttest_1samp(d, 0.0)
    t, p = corrected_resampled_ttest(d, n_train=300, n_test=100)
    assert t == pytest.approx(plain.statistic * math.sqrt((1 / 6) / (1 / 6 + 100 / 300)), rel=1e-12)
    assert p > plain.pvalue  # overlapping training sets: the plain test claims too much


def test_ttest_edges():
    assert corrected_resampled_ttest([0.0, 0.0, 0.0], 10, 5) == (0.0, 1.0)
    assert corrected_resampled_ttest([0.1, 0.1], 10, 5) == (math.inf, 0.0)
    assert corrected_resampled_ttest([-0.1, -0.1], 10, 5) == (-math.inf, 0.0)
    assert all(math.isnan(v) for v in corrected_resampled_ttest([0.1], 10, 5))
    with pytest.raises(ValueError, match="expected positive n_train and n_test, got 0 and 5"):
        corrected_resampled_ttest([0.1, 0.2], 0, 5)


# --- the splits -----------------------------------------------------------------------------------

def _labels():
    return np.array([0] * 30 + [1] * 20 + [2] * 10)


def test_repeated_splits_are_stratified_disjoint_different_and_seeded():
    y = _labels()
    pairs = resampling_splits(y, repeats=4, test_fraction=0.2, seed=7)
    assert len(pairs) == 4
    for train, test in pairs:
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(60))
        assert np.bincount(y[test]).tolist() == [6, 4, 2]  # each class's share
    assert len({tuple(sorted(test.tolist())) for _, test in pairs}) == 4
    again = resampling_splits(y, repeats=4, test_fraction=0.2, seed=7)
    assert all(np.array_equal(a, b) for pa, pb in zip(pairs, again, strict=True) for a, b in zip(pa, pb, strict=True))
    # repeat 0 holds out what `chainrule train --seed 7` tests on
    _, test_order, _, _ = split(np.arange(60), y, 0.2, seed=7)
    assert np.array_equal(pairs[0][1], test_order)


def test_k_fold_tests_every_sample_once_per_repetition():
    y = _labels()
    pairs = resampling_splits(y, repeats=2, folds=5, seed=0)
    assert len(pairs) == 10
    for repetition in (pairs[:5], pairs[5:]):
        tested = np.concatenate([test for _, test in repetition])
        assert sorted(tested.tolist()) == list(range(60))
        assert all(np.bincount(y[test]).tolist() == [6, 4, 2] for _, test in repetition)
    assert len(resampling_splits(y, folds=3)) == 3  # k-fold once unless repeats say otherwise
    assert len(resampling_splits(y)) == 5  # five random splits by default


def test_too_many_folds_or_too_few_samples_are_refused():
    with pytest.raises(ValueError, match="--folds 11: the smallest class has 10 samples"):
        resampling_splits(_labels(), folds=11)
    with pytest.raises(ValueError, match="4 samples are too few"):
        resampling_splits(np.array([0, 1, 0, 1]), repeats=2, test_fraction=0.2)


# --- compare itself ---------------------------------------------------------------------------------

def test_every_learner_sees_the_same_split_indices(monkeypatch):
    seen = []  # (learner, split's training features, training labels, test features)

    def recording(original, name_of):
        def wrapped(first, part, *rest):
            seen.append((name_of(first), part.train[0].reshape(len(part.train[0]), -1), part.train[1],
                         part.test[0].reshape(len(part.test[0]), -1), part.test[1]))
            return original(first, part, *rest)
        return wrapped

    monkeypatch.setattr(compare_module, "_fit_network", recording(compare_module._fit_network, lambda _: "network"))
    monkeypatch.setattr(compare_module, "_fit_classic",
                        recording(compare_module._fit_classic, lambda learner: type(learner).__name__))
    result = compare(TINY, repeats=3)
    assert len(seen) == 3 * 5 and len(result.splits) == 3
    X, y = load_data(TINY)
    X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    for j, (train, test) in enumerate(result.splits):
        scaler = StandardScaler().fit(X[train])
        expected = (scaler.transform(X[train]), y[train], scaler.transform(X[test]), y[test])
        learners = seen[5 * j:5 * j + 5]
        assert [name for name, *_ in learners] == ["network", "DecisionTreeClassifier", "SVC",
                                                   "KNeighborsClassifier", "LogisticRegression"]
        for _, *arrays in learners:
            for got, want in zip(arrays, expected, strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_rows_carry_means_sds_and_the_paired_test():
    result = compare(TINY, repeats=3)
    assert isinstance(result, Comparison) and len(result.rows) == 5
    network = next(row for row in result.rows if "difference" not in row)
    assert network["model"] == "chainrule MLP 8 (backprop)"
    means = [row["test_accuracy"] for row in result.rows]
    assert means == sorted(means, reverse=True)
    n_train = np.mean([len(train) for train, _ in result.splits])
    n_test = np.mean([len(test) for _, test in result.splits])
    for row in result.rows:
        assert len(row["accuracies"]) == 3
        assert row["test_accuracy"] == pytest.approx(np.mean(row["accuracies"]))
        assert row["test_accuracy_sd"] == pytest.approx(np.std(row["accuracies"], ddof=1))
        assert row["train_seconds"] >= 0 and row["predict_seconds"] > 0
        if row is not network:
            differences = np.subtract(network["accuracies"], row["accuracies"])
            assert row["difference"] == pytest.approx(differences.mean())
            assert (row["t_statistic"], row["p_value"]) == pytest.approx(
                corrected_resampled_ttest(differences, n_train, n_test))
    tree = next(row for row in result.rows if row["model"] == "decision tree")
    assert tree["accuracies"][0] == pytest.approx(_tree_accuracy(result.splits[0], TINY.seed))


def _tree_accuracy(pair, seed):
    """The decision tree's accuracy on one split, computed here from the indices alone."""
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_data(TINY)
    X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    train, test = pair
    scaler = StandardScaler().fit(X[train])
    tree = DecisionTreeClassifier(random_state=seed).fit(scaler.transform(X[train]).astype(np.float32), y[train])
    return np.mean(tree.predict(scaler.transform(X[test]).astype(np.float32)) == y[test])


def test_the_same_seed_gives_the_same_comparison():
    first, second = compare(TINY, repeats=2), compare(TINY, repeats=2)
    assert [row["accuracies"] for row in first.rows] == [row["accuracies"] for row in second.rows]
    other = compare(RunConfig(**{**TINY.__dict__, "seed": 4}), repeats=2)
    assert not np.array_equal(first.splits[0][1], other.splits[0][1])


def test_k_fold_comparison_and_bad_arguments():
    result = compare(TINY, folds=3)
    assert len(result.splits) == 3 and result.resampling == "stratified 3-fold"
    with pytest.raises(ValueError, match="--folds: expected an integer >= 2, got 1"):
        compare(TINY, folds=1)
    with pytest.raises(ValueError, match="--repeats: expected an integer >= 1, got 0"):
        compare(TINY, repeats=0)
    with pytest.raises(ValueError, match="an autoencoder does not classify"):
        compare(RunConfig(model="autoencoder"))


# --- what a reader sees -------------------------------------------------------------------------------

def _made_up(means, sds, p_values):
    rows = [{"model": "chainrule MLP 32 (backprop)", "test_accuracy": means[0], "test_accuracy_sd": sds[0],
             "accuracies": [means[0]] * 5, "train_seconds": 1.5, "train_seconds_sd": 0.25,
             "predict_seconds": 0.0045, "predict_seconds_sd": 0.0005}]
    for name, mean, sd, p in zip(("SVM (RBF kernel)", "decision tree"), means[1:], sds[1:], p_values, strict=True):
        rows.append({"model": name, "test_accuracy": mean, "test_accuracy_sd": sd, "accuracies": [mean] * 5,
                     "train_seconds": 0.06, "train_seconds_sd": 0.01, "predict_seconds": 0.025,
                     "predict_seconds_sd": 0.002, "difference": means[0] - mean, "t_statistic": 1.0, "p_value": p})
    rows.sort(key=lambda row: -row["test_accuracy"])
    splits = [(np.arange(8), np.arange(8, 10))] * 5
    return Comparison(rows, splits, "digits", "chainrule MLP 32 (backprop)", "5 stratified 80/20 splits")


def test_table_text():
    table = format_table(_made_up([0.98, 0.975, 0.85], [0.004, 0.006, 0.011], [0.42, 0.0004]))
    lines = table.splitlines()
    assert lines[0] == "digits: chainrule MLP 32 (backprop) against classic learners, 5 stratified 80/20 splits"
    assert lines[1].split() == ["model", "test", "accuracy", "train", "time", "predict", "time", "network", "-",
                                "model", "p"]
    assert lines[3].split() == ["chainrule", "MLP", "32", "(backprop)", "0.9800", "±", "0.0040", "1.50", "±", "0.25",
                                "s", "4.5", "±", "0.5", "ms", "—", "—"]
    assert lines[4].split()[-2:] == ["+0.0050", "0.420"]
    assert lines[5].split()[-3:] == ["+0.1300", "<", "0.001"]
    assert len({len(line) for line in lines[1:4]}) == 1  # aligned columns
    assert "corrected resampled t-test (Nadeau & Bengio 2003), 4 degrees of freedom" in lines[6]
    markdown = format_table(_made_up([0.98, 0.975, 0.85], [0.004, 0.006, 0.011], [0.42, 0.0004]), markdown=True)
    assert "| SVM (RBF kernel) | 0.9750 ± 0.0060 | 0.06 ± 0.01 s | 25.0 ± 2.0 ms | +0.0050 | 0.420 |" in markdown
    assert "| --- | ---: | ---: | ---: | ---: | ---: |" in markdown


def _texts(figure):
    axes = figure.axes[0]
    return axes, [text.get_text() for text in axes.texts], [label.get_text() for label in axes.get_yticklabels()]


def test_bar_chart_zooms_to_the_differences_and_says_so(tmp_path):
    path = tmp_path / "bars.png"
    figure = bar_chart(_made_up([0.98, 0.975, 0.85], [0.004, 0.006, 0.011], [0.42, 0.0004]), path)
    axes, values, names = _texts(figure)
    assert axes.get_title() == ("digits: chainrule MLP 32 (backprop) against classic learners\n"
                                "5 stratified 80/20 splits, the same splits for every learner")
    start = axes.get_xlim()[0]
    assert 0.8 < start < 0.85  # the bars' differences fill the axis
    assert f"the axis starts at {start:.2f}, not 0" in axes.get_xlabel()
    assert "p: corrected resampled t-test of the network against that learner" in axes.get_xlabel()
    assert names == ["decision tree", "SVM (RBF kernel)", "chainrule MLP 32 (backprop)"]  # best on top
    assert values == ["0.850 ± 0.011, p < 0.001", "0.975 ± 0.006, p = 0.420", "0.980 ± 0.004"]
    from matplotlib.container import ErrorbarContainer
    error_bars = next(c for c in axes.containers if isinstance(c, ErrorbarContainer))
    segments = error_bars.lines[2][0].get_segments()  # one horizontal line per bar, mean - sd to mean + sd
    assert [round(float(s[1][0] - s[0][0]), 6) for s in segments] == [0.022, 0.012, 0.008]
    assert max(tick for tick in axes.get_xticks()) <= 1.0
    from PIL import Image
    assert Image.open(path).size == (800, 330)


def test_bar_chart_starts_at_zero_when_a_learner_is_far_below(tmp_path):
    path = tmp_path / "bars.svg"
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as <text>, readable back
        figure = bar_chart(_made_up([0.6, 0.9, 0.1], [0.05, 0.02, 0.03], [0.01, 0.2]), path)
    axes, _, _ = _texts(figure)
    assert axes.get_xlim()[0] == 0 and "the axis starts at 0" in axes.get_xlabel()
    texts = " ".join("".join(node.itertext()) for node in ElementTree.parse(path).iter()
                     if node.tag.endswith("text"))
    for expected in ("digits: chainrule MLP 32 (backprop) against classic learners", "0.600 ± 0.050",
                     "0.100 ± 0.030, p = 0.200", "the axis starts at 0", "decision tree"):
        assert expected in texts


# --- the command ------------------------------------------------------------------------------------

def _chainrule(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "chainrule", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


def test_command_prints_the_table_and_one_line_per_split(tmp_path):
    result = _chainrule("compare", "--epochs", 2, "--hidden", 8, "--repeats", 2, "--markdown",
                        "--plot", tmp_path / "bars.png")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digits: chainrule MLP 8 (backprop) against classic learners, "
                                    "2 stratified 80/20 splits\n")
    assert result.stdout.count("| ") >= 7 and "1 degree of freedom" in result.stdout
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == ["split 1/2", "split 2/2"]
    assert (tmp_path / "bars.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--folds", "1"], "argument --folds: expected an integer in [2, 100], got 1"),
        (["--repeats", "0"], "argument --repeats: expected an integer in [1, 1000], got 0"),
        (["--folds", "3", "--test-fraction", "0.3"], "--test-fraction goes with random splits"),
        (["--data", "xor"], "compare: xor has 4 samples, too few to compare learners on held-out data"),
        (["--data", "xor", "--folds", "3"], "--folds 3: the smallest class has 2 samples"),
    ],
)
def test_command_errors_are_one_line(args, message):
    result = _chainrule("compare", "--quiet", *args)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]  # argparse's usage lines come before it
    assert last.startswith("chainrule compare: error: ") and message in last and "Traceback" not in result.stderr


def test_command_help_names_the_resampling():
    result = _chainrule("compare", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for flag in ("--repeats", "--folds", "--test-fraction", "--plot", "--markdown", "corrected resampled t-test"):
        assert flag in text
