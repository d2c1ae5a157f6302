"""Architecture search with scikit-learn's tools: hidden-layer widths, depth, activation and
learning rate of a chainrule MLPClassifier on the bundled 8x8 digits, each setting scored by
3-fold cross-validation inside a Pipeline (StandardScaler, then the network), ranked best first.

    python examples/sklearn_search.py [--quick] [--jobs N] [--out DIR]

--quick tries 2 settings for 5 epochs (a smoke test); the full grid (16 settings, 48 fits) takes
under a minute on 2 cores and its best settings reach about 97-98% cross-validated accuracy.
Writes DIR/sklearn_search.csv (the ranked table).
"""

import argparse
import csv
import time
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold

from chainrule.data import digits
from chainrule.sklearn import MLPClassifier, format_results, search

GRID = {
    "hidden_layer_sizes": [(32,), (128,), (64, 64), (128, 64)],  # width and depth
    "activation": ["relu", "tanh"],
    "learning_rate_init": [1e-3, 1e-2],
}
QUICK_GRID = {"hidden_layer_sizes": [(16,), (64,)], "learning_rate_init": [1e-2]}


def main(quick: bool = False, jobs: int | None = None, out: str = "runs/examples") -> list:
    X, y = digits()
    grid = QUICK_GRID if quick else GRID
    # The digits come grouped by writer: shuffled, stratified folds give each fold every writer.
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    net = MLPClassifier(max_iter=5 if quick else 40, random_state=0)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short runs stop at max_iter by design
        rows = search(X, y, grid, cv=folds, estimator=net, n_jobs=jobs)
    print(f"{len(rows)} settings x 3 folds on {len(X)} digits in {time.perf_counter() - started:.1f} s\n")
    print(format_results(rows))

    path = Path(out) / "sklearn_search.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["rank", "mean_accuracy", "std_accuracy", "fit_seconds", *grid])
        for row in rows:
            settings = [row["params"][name] for name in grid]
            writer.writerow([row["rank"], f"{row['mean_score']:.4f}", f"{row['std_score']:.4f}",
                             f"{row['fit_time']:.2f}", *settings])
    print("\nwrote", path)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 settings, 5 epochs (a smoke test)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel fits (default: 1)")
    parser.add_argument("--out", default="runs/examples", help="folder for the ranked table")
    main(**vars(parser.parse_args()))
