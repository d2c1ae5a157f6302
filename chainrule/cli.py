"""The ``chainrule`` command: argument parsing only; every command calls the library.

    chainrule                      train an MLP on the digits (the same as `chainrule train`)
    chainrule train [flags]        train, show progress, write a run folder, print test metrics
    chainrule evaluate RUN         test metrics of a finished run
    chainrule predict RUN --input features.csv --output predictions.csv
    chainrule explain              one backprop step on XOR, with every number
    chainrule gradcheck [flags]    check an architecture's gradients on random data
    chainrule compare [--data D]   the network against decision tree, SVM, k-NN, logistic regression
    chainrule search [--data D]    cross-validated search over hidden sizes, depth, activation, lr
"""

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np


def _widths(text: str) -> tuple:
    try:
        widths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 128,64, got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected positive widths such as 128,64, got {text!r}")
    return widths


def _add_architecture(parser, defaults):
    from chainrule.runs import MODELS

    group = parser.add_argument_group("architecture")
    group.add_argument("--model", choices=MODELS, default=defaults.model, help="network family (default: %(default)s)")
    group.add_argument("--hidden", type=_widths, default=defaults.hidden, metavar="W1,W2,...",
                       help="hidden layer widths; channels for cnn; the state size (and layer count) for "
                            "rnn/gru/lstm (default: 128,64)")
    group.add_argument("--activation", default=defaults.activation,
                       choices=("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "softplus"),
                       help="hidden activation (default: %(default)s)")
    group.add_argument("--dropout", type=float, default=defaults.dropout, help="dropout probability (default: 0)")
    group.add_argument("--batch-norm", action="store_true", help="batch normalisation before each activation")
    group.add_argument("--residual", action="store_true", help="residual connections around equal-width layers")
    group.add_argument("--init", choices=("default", "xavier", "he"), default=defaults.init,
                       help="weight initialisation (default: PyTorch's)")


def _add_data(parser, defaults):
    from chainrule.data import DATASETS

    group = parser.add_argument_group("data")
    group.add_argument("--data", choices=sorted(DATASETS), default=defaults.data,
                       help="data set (default: %(default)s, bundled)")
    group.add_argument("--data-path", help="folder of IDX files (mnist, fashion_mnist) or a CSV file (csv)")
    group.add_argument("--label-column", help="the label column of a CSV file")
    group.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)")


def _add_optimization(group, defaults):
    from chainrule.runs import OPTIMIZERS

    group.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=defaults.optimizer,
                       help="optimizer (default: %(default)s)")
    group.add_argument("--lr", type=float, help="learning rate (default: 0.05 for sgd, 0.01 adagrad, 0.001 others)")
    group.add_argument("--momentum", type=float, default=defaults.momentum, help="sgd/rmsprop momentum (default: 0.9)")
    group.add_argument("--batch-size", type=int, default=defaults.batch_size, help="mini-batch size (default: 64)")
    group.add_argument("--epochs", type=int, help=f"epochs (default: {defaults.epochs})")
    group.add_argument("--weight-decay", type=float, default=defaults.weight_decay, help="L2 weight decay")


def _build_parser() -> argparse.ArgumentParser:
    from chainrule.runs import LOSSES, SCHEDULES, RunConfig

    defaults = RunConfig()
    parser = argparse.ArgumentParser(
        prog="chainrule", description="Train neural networks by backpropagation, and look inside.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", help="train a network and write a run folder",
                                description="Train a network by backpropagation; print progress and test "
                                            "metrics; write config, history, checkpoint and plots to a run folder.")
    _add_data(train, defaults)
    _add_architecture(train, defaults)
    fit = train.add_argument_group("training")
    fit.add_argument("--loss", choices=LOSSES, default=defaults.loss,
                     help="loss (default: cross-entropy for classifiers, MSE for autoencoders)")
    _add_optimization(fit, defaults)
    fit.add_argument("--schedule", choices=SCHEDULES, default=defaults.schedule, help="learning-rate schedule")
    fit.add_argument("--grad-clip", type=float, help="clip the gradient norm to this value")
    fit.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                     help="stop when the validation loss has not improved for PATIENCE epochs")
    fit.add_argument("--restarts", type=int, default=1, help="train K times from fresh initialisations, keep the best")
    fit.add_argument("--compile-step", action="store_true",
                     help="run each batch as a captured step (chainrule.compile_step): same numbers, faster for "
                          "small networks; MLPs and CNNs without dropout or batch norm")
    fit.add_argument("--val-fraction", type=float, default=defaults.val_fraction, help="validation share (0.1)")
    fit.add_argument("--test-fraction", type=float, default=defaults.test_fraction, help="test share (0.2)")
    fit.add_argument("--run-dir", help="where to write the run folder (default: runs/DATA-MODEL-TIME)")
    fit.add_argument("--resume", metavar="RUN", help="continue the run in folder RUN from its checkpoint "
                                                    "(its config is reused; --epochs may extend it)")
    fit.add_argument("--quiet", action="store_true", help="no progress output")

    evaluate = commands.add_parser("evaluate", help="test metrics of a finished run")
    evaluate.add_argument("run", metavar="RUN", help="a run folder written by 'chainrule train'")

    predict = commands.add_parser("predict", help="predictions of a finished run for a CSV of features")
    predict.add_argument("run", metavar="RUN", help="a run folder written by 'chainrule train'")
    predict.add_argument("--input", required=True, help="CSV file of feature rows (a header row is skipped)")
    predict.add_argument("--output", required=True, help="CSV file to write")

    explain = commands.add_parser("explain", help="one training step of a small network, every number shown")
    explain.add_argument("--hidden", type=int, default=2, help="hidden units of the 2-H-1 network (default: 2)")
    explain.add_argument("--activation", choices=("sigmoid", "tanh", "relu"), default="sigmoid")
    explain.add_argument("--lr", type=float, default=0.5, help="learning rate (default: 0.5)")
    explain.add_argument("--seed", type=int, default=0, help="seed for the initial weights")
    explain.add_argument("--json", action="store_true", help="print JSON instead of text")

    gradcheck = commands.add_parser("gradcheck", help="check an architecture's gradients on random data")
    _add_data(gradcheck, defaults)
    _add_architecture(gradcheck, defaults)
    gradcheck.set_defaults(hidden=(6, 5))
    gradcheck.add_argument("--batch", type=int, default=3, help="random samples (default: 3)")

    compare = commands.add_parser("compare", help="the network against classic learners on one split")
    _add_data(compare, defaults)
    _add_architecture(compare, defaults)
    _add_optimization(compare.add_argument_group("training"), defaults)
    compare.add_argument("--test-fraction", type=float, default=defaults.test_fraction, help="test share (0.2)")
    compare.add_argument("--plot", help="also write a bar chart of test accuracy to this PNG")

    search = commands.add_parser("search", help="cross-validated search over architectures and learning rates",
                                 description="Grid search with scikit-learn's GridSearchCV over MLPClassifier "
                                             "settings (standardised features, stratified shuffled folds); "
                                             "prints the settings ranked by mean validation accuracy.")
    _add_data(search, defaults)
    search.add_argument("--hidden", type=_widths, nargs="+", default=[(32,), (128,), (64, 64)], metavar="W1,W2",
                        help="hidden layer sizes to try, each a comma list (default: 32 128 64,64)")
    search.add_argument("--activation", nargs="+", default=["relu", "tanh"], help="activations to try")
    search.add_argument("--lr", type=float, nargs="+", default=[1e-3, 1e-2], help="learning rates to try")
    search.add_argument("--epochs", type=int, default=20, help="epochs per fit (default: 20)")
    search.add_argument("--cv", type=int, default=3, help="cross-validation folds (default: 3)")
    search.add_argument("--top", type=int, help="show only the best TOP rows")
    return parser


def _train(args) -> int:
    from chainrule import distributed
    from chainrule.runs import RunConfig, read_config, summary, train

    if args.resume:
        config, _ = read_config(args.resume)
        config.epochs = args.epochs or config.epochs
        config.run_dir = args.resume
        resume = True
    else:
        fields = {k: v for k, v in vars(args).items() if k in RunConfig.__dataclass_fields__ and v is not None}
        config, resume = RunConfig(**fields), False
    # A bar on a terminal; one line per epoch where the output is a log (CI, a pipe).
    verbose = 0 if args.quiet else (1 if sys.stderr.isatty() else 2)
    results = train(config, verbose=verbose, resume=resume)
    if distributed.is_main():
        print(summary(results))
        print(f"run folder: {config.run_dir}")
    return 0


def _evaluate(args) -> int:
    from chainrule.runs import evaluate_run
    from chainrule.train.callbacks import format_record

    print(format_record(evaluate_run(args.run)))
    return 0


def _read_features(path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--input: no such file: {path}")
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f) if row]
    if rows and not _numeric(rows[0]):
        rows = rows[1:]
    for i, row in enumerate(rows):
        if not _numeric(row):
            raise ValueError(f"--input: row {i + 1} of {path} is not all numbers: {row[:5]}")
    if not rows:
        raise ValueError(f"--input: {path} has no rows")
    return np.array(rows, dtype=np.float32)


def _numeric(row) -> bool:
    try:
        [float(v) for v in row]
    except ValueError:
        return False
    return True


def _predict(args) -> int:
    from chainrule.runs import predict_run

    header, rows = predict_run(args.run, _read_features(args.input))
    with open(args.output, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows.tolist())
    print(f"wrote {len(rows)} predictions to {args.output}")
    return 0


def _explain(args) -> int:
    import chainrule as cr
    from chainrule import nn
    from chainrule.data import xor
    from chainrule.explain import explain_step
    from chainrule.models import activation

    cr.manual_seed(args.seed)
    X, y = xor()
    model = nn.Sequential(nn.Linear(2, args.hidden), activation(args.activation), nn.Linear(args.hidden, 1),
                          nn.Sigmoid())
    target = y.reshape(-1, 1).astype(np.float32)
    explanation = explain_step(model, lambda out, t: 0.5 * ((t - out) ** 2).sum(), X, target, args.lr)
    print(json.dumps(explanation.to_dict(), indent=1) if args.json else explanation.to_text())
    return 0


def _gradcheck(args) -> int:
    from chainrule.runs import RunConfig, gradcheck_architecture

    fields = {k: v for k, v in vars(args).items() if k in RunConfig.__dataclass_fields__}
    report = gradcheck_architecture(RunConfig(**fields), batch=args.batch)
    for name, shape, ok, detail in report:
        print(f"{'ok  ' if ok else 'FAIL'}  {name:<28} {shape!s:<16} {detail}")
    failed = sum(not ok for *_, ok, _ in report)
    print(f"{len(report) - failed} of {len(report)} gradients agree with finite differences")
    return 1 if failed else 0


def _compare(args) -> int:
    from chainrule.compare import compare, format_table
    from chainrule.runs import RunConfig

    fields = {k: v for k, v in vars(args).items() if k in RunConfig.__dataclass_fields__ and v is not None}
    rows = compare(RunConfig(**fields), plot=args.plot)
    print(format_table(rows))
    if args.plot:
        print(f"bar chart: {args.plot}")
    return 0


def _search(args) -> int:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    from chainrule.runs import RunConfig, load_data
    from chainrule.sklearn import MLPClassifier, format_results, search

    config = RunConfig(data=args.data, data_path=args.data_path, label_column=args.label_column, seed=args.seed)
    X, y = load_data(config)
    grid = {"hidden_layer_sizes": [tuple(h) for h in args.hidden], "activation": args.activation,
            "learning_rate_init": args.lr}
    folds = StratifiedKFold(args.cv, shuffle=True, random_state=args.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short fits are the point of a search
        rows = search(X.reshape(len(X), -1), y, grid, cv=folds,
                      estimator=MLPClassifier(max_iter=args.epochs, random_state=args.seed))
    print(format_results(rows, top=args.top))
    return 0


COMMANDS = {"train": _train, "evaluate": _evaluate, "predict": _predict, "explain": _explain,
            "gradcheck": _gradcheck, "compare": _compare, "search": _search}


def main(argv=None) -> int:
    """Entry point of the ``chainrule`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["train", *argv]
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, TypeError, ImportError, NotImplementedError) as err:
        print(f"chainrule {args.command}: error: {err}", file=sys.stderr)
        return 2
