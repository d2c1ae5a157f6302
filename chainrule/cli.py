"""The ``chainrule`` command: argument parsing only; every command calls the library.

    chainrule                      train an MLP on the digits (the same as `chainrule train`)
    chainrule train [flags]        train, show progress, write a run folder, print test metrics
    chainrule evaluate RUN         test metrics of a finished run
    chainrule predict RUN --input features.csv --output predictions.csv
    chainrule explain              one backprop step on XOR, with every number
    chainrule gradcheck [flags]    check an architecture's gradients on random data
    chainrule curvature RUN        the loss Hessian's extreme eigenvalues: a saddle, a sharp or a flat minimum
    chainrule summary RUN          the run's network layer by layer: output shapes, parameters, memory
    chainrule compare [--data D]   the network against decision tree, SVM, k-NN, logistic regression,
                                   mean ± sd over resampled splits, with a paired t-test
    chainrule search [--data D]    cross-validated search over hidden sizes, depth, activation, lr
    chainrule playground           a local web page that trains a network live (pip install 'chainrule[playground]')

Exit status: 0 done; 1 the work failed while running (disk full, permission denied, training
diverged); 2 a usage error (a bad flag, a missing or malformed input file or run folder); 130
interrupted (Ctrl-C: a run continues with 'chainrule train --resume RUN'); 141 the output's reader
stopped reading (as `| head` does), quietly.
Every error is one line: "chainrule COMMAND: error: ...".
"""

import argparse
import csv
import io
import json
import math
import os
import sys
from pathlib import Path

import numpy as np


def _widths(text: str) -> tuple:
    from chainrule.runs import MAX_LAYERS, WIDTH

    try:
        widths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 128,64, got {text!r}") from None
    if not 1 <= len(widths) <= MAX_LAYERS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_LAYERS} widths such as 128,64, got {text!r}")
    problem = next(filter(None, map(WIDTH.problem, widths)), None)
    if problem:
        raise argparse.ArgumentTypeError(f"expected positive widths such as 128,64: {problem}")
    return widths


def _number(name: str, bound=None):
    """An argparse type for the setting ``name``: a number within its bound (chainrule.runs.BOUNDS),
    finite, refused at parse time with the range it must lie in."""
    from chainrule.runs import BOUNDS

    bound = bound or BOUNDS[name]

    def parse(text: str):
        try:
            return bound.parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def _add_architecture(parser, defaults):
    from chainrule.models import ACTIVATIONS, INITS
    from chainrule.runs import MODELS

    group = parser.add_argument_group("architecture")
    group.add_argument("--model", choices=MODELS, default=defaults.model, help="network family (default: %(default)s)")
    group.add_argument("--hidden", type=_widths, default=defaults.hidden, metavar="W1,W2,...",
                       help="hidden layer widths; channels for cnn; the state size (and layer count) for "
                            "rnn/gru/lstm (default: 128,64)")
    group.add_argument("--activation", default=defaults.activation, choices=ACTIVATIONS,
                       help="hidden activation (default: %(default)s)")
    group.add_argument("--dropout", type=_number("dropout"), default=defaults.dropout,
                       help="dropout probability, in [0, 1) (default: 0)")
    group.add_argument("--batch-norm", action="store_true", help="batch normalisation before each activation")
    group.add_argument("--residual", action="store_true", help="residual connections around equal-width layers")
    group.add_argument("--init", choices=INITS, default=defaults.init,
                       help="weight initialisation (default: PyTorch's)")


def _add_data(parser, defaults):
    from chainrule.data import DATASETS

    group = parser.add_argument_group("data")
    group.add_argument("--data", choices=sorted(DATASETS), default=defaults.data,
                       help="data set (default: %(default)s, bundled)")
    group.add_argument("--data-path", help="folder of IDX files (mnist, fashion_mnist) or a CSV file (csv)")
    group.add_argument("--label-column", help="the label column of a CSV file")
    group.add_argument("--encoding", default=defaults.encoding, help="text encoding of a CSV file (default: UTF-8)")
    group.add_argument("--seed", type=_number("seed"), default=defaults.seed, help="random seed (default: %(default)s)")


def _add_optimization(group, defaults):
    from chainrule.runs import OPTIMIZERS

    group.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=defaults.optimizer,
                       help="optimizer (default: %(default)s)")
    group.add_argument("--lr", type=_number("lr"),
                       help="learning rate, > 0 (default: 0.05 for sgd, 0.01 adagrad, 0.001 others)")
    group.add_argument("--momentum", type=_number("momentum"), default=defaults.momentum,
                       help="sgd/rmsprop momentum, in [0, 1) (default: 0.9)")
    group.add_argument("--batch-size", type=_number("batch_size"), default=defaults.batch_size,
                       help="mini-batch size (default: 64)")
    group.add_argument("--epochs", type=_number("epochs"), help=f"epochs (default: {defaults.epochs})")
    group.add_argument("--weight-decay", type=_number("weight_decay"), default=defaults.weight_decay,
                       help="L2 weight decay, >= 0 (default: 0)")


def _build_parser() -> argparse.ArgumentParser:
    from chainrule.runs import LOSSES, SCHEDULES, Bound, RunConfig

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
    fit.add_argument("--grad-clip", type=_number("grad_clip"), help="clip the gradient norm to this value (> 0)")
    fit.add_argument("--early-stopping", type=_number("early_stopping"), metavar="PATIENCE",
                     help="stop when the validation loss has not improved for PATIENCE epochs")
    fit.add_argument("--restarts", type=_number("restarts"), default=defaults.restarts,
                     help="train K times from fresh initialisations, keep the best")
    fit.add_argument("--val-fraction", type=_number("val_fraction"), default=defaults.val_fraction,
                     help="validation share, in [0, 1); 0: none (default: 0.1)")
    fit.add_argument("--test-fraction", type=_number("test_fraction"), default=defaults.test_fraction,
                     help="test share, in [0, 1); 0: no test set (default: 0.2)")
    fit.add_argument("--run-dir", help="where to write the run folder (default: runs/DATA-MODEL-TIME); a run "
                                       "already there is replaced (continue one with --resume instead)")
    fit.add_argument("--resume", metavar="RUN", help="continue the run in folder RUN from wherever it stopped, "
                                                    "even if it was killed (its config is reused; only --epochs "
                                                    "may change, to extend it)")
    fit.add_argument("--quiet", action="store_true", help="no progress output")
    fit.add_argument("--tensorboard", metavar="DIR", help="also log every epoch for TensorBoard to folder DIR "
                                                         "(view it with: tensorboard --logdir DIR; needs "
                                                         "pip install 'chainrule[tensorboard]'); with --resume "
                                                         "the run appends to it")

    evaluate = commands.add_parser("evaluate", help="test metrics of a finished run")
    evaluate.add_argument("run", metavar="RUN", help="a run folder written by 'chainrule train'")

    predict = commands.add_parser("predict", help="predictions of a finished run for a CSV of features")
    predict.add_argument("run", metavar="RUN", help="a run folder written by 'chainrule train'")
    predict.add_argument("--input", required=True, help="CSV file of feature rows (a header row is skipped)")
    predict.add_argument("--output", required=True, help="CSV file to write (replaced atomically)")
    predict.add_argument("--encoding", default="utf-8-sig", help="text encoding of --input (default: UTF-8)")
    predict.add_argument("--header", choices=("auto", "yes", "no"), default="auto",
                         help="whether --input's first row names the columns (default: auto, when it holds text "
                              "that is not a number)")

    explain = commands.add_parser("explain", help="one training step of a small network, every number shown")
    explain.add_argument("--hidden", type=_number("hidden", Bound(int, 1, 16)), default=2,
                         help="hidden units of the 2-H-1 network, 1 to 16 (default: 2)")
    explain.add_argument("--activation", choices=("sigmoid", "tanh", "relu"), default="sigmoid")
    explain.add_argument("--lr", type=_number("lr"), default=0.5, help="learning rate (default: 0.5)")
    explain.add_argument("--seed", type=_number("seed"), default=0, help="seed for the initial weights")
    explain.add_argument("--json", action="store_true", help="print JSON instead of text")

    gradcheck = commands.add_parser("gradcheck", help="check an architecture's gradients on random data")
    _add_data(gradcheck, defaults)
    _add_architecture(gradcheck, defaults)
    gradcheck.set_defaults(hidden=(6, 5))
    gradcheck.add_argument("--batch", type=_number("batch", Bound(int, 1, 1000)), default=3,
                           help="random samples, 1 to 1000 (default: 3)")

    curvature = commands.add_parser(
        "curvature", help="the loss Hessian's largest and smallest eigenvalues at a run's weights, and a verdict",
        description="The largest and smallest eigenvalues of the Hessian of a finished run's training loss with "
                    "respect to its weights (Lanczos on Hessian-vector products; the matrix is never formed), and "
                    "a verdict: a saddle (negative curvature), a sharp minimum (largest eigenvalue above 1/lr) or a "
                    "flat minimum.")
    curvature.add_argument("run", metavar="RUN", help="a run folder written by 'chainrule train'")
    curvature.add_argument("--samples", type=_number("samples", Bound(int, 1, 10**6)), default=256,
                           help="training samples the loss is taken over (default: %(default)s)")
    curvature.add_argument("--over-training", action="store_true",
                           help="replay the run's training (same config and seed, same numbers) and take the "
                                "curvature before the first epoch and after every --every epochs; plot it")
    curvature.add_argument("--every", type=_number("every", Bound(int, 1, 10**6)), default=1,
                           help="with --over-training: epochs between two points (default: 1)")
    curvature.add_argument("--plot", help="with --over-training: the picture to write (default: RUN/curvature.png)")
    curvature.add_argument("--json", action="store_true", help="print JSON instead of text")

    summary = commands.add_parser(
        "summary", help="a run's network layer by layer: output shapes, parameters, memory for one batch",
        description="The network of a run folder, layer by layer (torchinfo's table): each layer's output shape on "
                    "a batch of the run's input size, its parameter count and whether it trains; the totals; the "
                    "memory of the parameters, their gradients and the layers' outputs for one batch.")
    summary.add_argument("run", metavar="RUN", help="a run folder written by 'chainrule train'")
    summary.add_argument("--batch-size", type=_number("batch_size"),
                         help="the batch the shapes and memory are for (default: the run's)")
    summary.add_argument("--depth", type=_number("depth", Bound(int, 0, 100)), default=3,
                         help="nesting levels shown, 0 to 100 (default: %(default)s)")

    compare = commands.add_parser(
        "compare", help="the network against classic learners on the same resampled splits",
        description="Train the network, a decision tree, an SVM, k-NN and logistic regression on the same "
                    "stratified splits (repeated train/test splits, or k-fold); print mean ± sd of test accuracy "
                    "and of training and prediction time, and the corrected resampled t-test (Nadeau & Bengio "
                    "2003) of the network against each learner.")
    _add_data(compare, defaults)
    _add_architecture(compare, defaults)
    _add_optimization(compare.add_argument_group("training"), defaults)
    resampling = compare.add_argument_group("resampling")
    resampling.add_argument("--repeats", type=_number("repeats", Bound(int, 1, 1000)),
                            help="random stratified splits (default: 5); with --folds, how often k-fold is repeated "
                                 "(default: 1)")
    resampling.add_argument("--folds", type=_number("folds", Bound(int, 2, 100)),
                            help="stratified k-fold cross-validation with this many folds, 2 to 100, instead of "
                                 "random splits")
    resampling.add_argument("--test-fraction", type=_number("test_fraction", Bound(float, 0, 1, "both")),
                            help="test share of each random split, in (0, 1) (default: 0.2)")
    compare.add_argument("--plot", help="also write a bar chart (mean ± sd, p-values) to this PNG or SVG")
    compare.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    compare.add_argument("--quiet", action="store_true", help="no line per split on stderr")

    playground = commands.add_parser(
        "playground", help="a local web page that trains a small network live, backprop step by step",
        description="Serve the playground page on this machine (it opens no browser: visit the printed address). "
                    "Needs the playground extra: pip install 'chainrule[playground]'.")
    playground.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    playground.add_argument("--port", type=_number("port", Bound(int, 1, 65535)), default=8765,
                            help="port to listen on (default: %(default)s)")
    playground.add_argument("--max-sessions", type=_number("max_sessions", Bound(int, 1, 64)), default=8,
                            help="browser tabs served at once, 1 to 64 (default: %(default)s)")

    search = commands.add_parser("search", help="cross-validated search over architectures and learning rates",
                                 description="Grid search with scikit-learn's GridSearchCV over MLPClassifier "
                                             "settings (standardised features, stratified shuffled folds); "
                                             "prints the settings ranked by mean validation accuracy.")
    _add_data(search, defaults)
    search.add_argument("--hidden", type=_widths, nargs="+", default=[(32,), (128,), (64, 64)], metavar="W1,W2",
                        help="hidden layer sizes to try, each a comma list (default: 32 128 64,64)")
    search.add_argument("--activation", nargs="+", default=["relu", "tanh"], help="activations to try")
    search.add_argument("--lr", type=_number("lr"), nargs="+", default=[1e-3, 1e-2], help="learning rates to try")
    search.add_argument("--epochs", type=_number("epochs"), default=20, help="epochs per fit (default: 20)")
    search.add_argument("--cv", type=_number("cv", Bound(int, 2, 100)), default=3,
                        help="cross-validation folds, 2 to 100 (default: 3)")
    search.add_argument("--top", type=_number("top", Bound(int, 1, 10**6)), help="show only the best TOP rows")
    return parser


# Flags that --resume takes; every other training flag would be silently ignored, so it is refused.
_RESUME_FLAGS = {"resume", "epochs", "quiet", "tensorboard", "command"}


def _train(args, parser) -> int:
    from chainrule import distributed
    from chainrule.runs import RunConfig, resume_config, summary, train
    from chainrule.train import TensorBoard

    if args.resume:
        defaults = vars(parser.parse_args(["train"]))
        changed = sorted(k for k, v in vars(args).items() if k not in _RESUME_FLAGS and v != defaults[k])
        if changed:
            raise ValueError(f"--resume reuses the run's config.json; it takes only --epochs and --quiet, "
                             f"got --{changed[0].replace('_', '-')}")
        config, resume = resume_config(args.resume, args.epochs), True
    else:
        fields = {k: v for k, v in vars(args).items() if k in RunConfig.__dataclass_fields__ and v is not None}
        config, resume = RunConfig(**fields), False
    # A bar on a terminal; one line per epoch where the output is a log (CI, a pipe).
    verbose = 0 if args.quiet else 1
    # made before training, so a missing tensorboardX or a bad DIR stops the command at once
    callbacks = [TensorBoard(args.tensorboard)] if args.tensorboard is not None else []
    results = train(config, verbose=verbose, resume=resume, callbacks=callbacks)
    if not distributed.is_main():
        return 0
    print(summary(results))
    print(f"run folder: {config.run_dir}")
    if results["diverged"]:
        raise RuntimeError(f"training diverged: the loss became non-finite (see {config.run_dir}/history.json); "
                           "lower --lr, or try --grad-clip")
    return 0


def _evaluate(args, parser) -> int:
    from chainrule.runs import evaluate_run
    from chainrule.train.callbacks import format_record

    print(format_record(evaluate_run(args.run)))
    return 0


def _read_features(path, encoding: str, header: str = "auto") -> np.ndarray:
    """The feature rows of a CSV file, every value a finite number: ValueError naming the file,
    line and column otherwise. ``header``: "yes", "no", or "auto" (the first row is a header when
    it holds text that is not a number; "nan" or an empty cell there is bad data, not a header)."""
    import codecs

    path = Path(path)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"--encoding: unknown text encoding {encoding!r}") from None
    if path.is_dir():
        raise ValueError(f"--input {path}: is a folder; expected a CSV file")
    if not path.is_file():
        raise FileNotFoundError(f"--input: no such file: {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise ValueError(f"--input {path}: line {line}: byte {raw[err.start]:#04x} is not {encoding} text "
                         "(name the file's encoding with --encoding, e.g. latin-1)") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, lines = [], []
    for row in reader:
        if any(cell.strip() for cell in row):
            rows.append(row)
            lines.append(reader.line_num)
    names_columns = any(cell.strip() and not _is_number(cell) for cell in rows[0]) if rows else False
    if header == "yes" or (header == "auto" and names_columns):
        rows, lines = rows[1:], lines[1:]
    if not rows:
        raise ValueError(f"--input {path}: no rows of numbers")
    for row, line in zip(rows, lines):
        bad = _first_bad(row)
        if bad is not None:
            value = row[bad].strip()
            what = "an empty cell" if not value else f"{value[:40]!r}, not a finite number"
            raise ValueError(f"--input {path}: line {line}, column {bad + 1}: {what}")
        if len(row) != len(rows[0]):
            raise ValueError(f"--input {path}: line {line} has {len(row)} values, the first row {len(rows[0])}")
    return np.array(rows, dtype=np.float64).astype(np.float32)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_bad(row) -> int | None:
    """The index of the first cell of ``row`` that is not a finite number, or None."""
    for i, value in enumerate(row):
        try:
            if math.isfinite(float(value)):
                continue
        except ValueError:
            pass
        return i
    return None


def _predict(args, parser) -> int:
    from chainrule.runs import check_output_path, predict_run, write_csv

    output = check_output_path(args.output, "--output")
    header, rows = predict_run(args.run, _read_features(args.input, args.encoding, args.header))
    write_csv(output, header, rows.tolist())
    print(f"wrote {len(rows)} predictions to {output}")
    return 0


def _explain(args, parser) -> int:
    from chainrule.data import xor
    from chainrule.explain import HalfSumOfSquares, explain_step
    from chainrule.models import xor_network

    X, y = xor()
    model = xor_network(args.hidden, args.activation, args.seed)
    target = y.reshape(-1, 1).astype(np.float32)
    explanation = explain_step(model, HalfSumOfSquares(), X, target, args.lr)
    print(json.dumps(explanation.to_dict(), indent=1) if args.json else explanation.to_text())
    return 0


def _gradcheck(args, parser) -> int:
    from chainrule.runs import RunConfig, gradcheck_architecture

    fields = {k: v for k, v in vars(args).items() if k in RunConfig.__dataclass_fields__}
    report = gradcheck_architecture(RunConfig(**fields), batch=args.batch)
    for name, shape, ok, detail in report:
        print(f"{'ok  ' if ok else 'FAIL'}  {name:<28} {shape!s:<16} {detail}")
    if not report:
        raise RuntimeError("the architecture has no parameters: nothing was checked")
    failed = sum(not ok for *_, ok, _ in report)
    print(f"{len(report) - failed} of {len(report)} gradients agree with finite differences")
    return 1 if failed else 0


def _curvature(args, parser) -> int:
    from chainrule.diagnostics import Curvature, plot_curvature
    from chainrule.runs import check_output_path, figure_context, run_curvature

    if not args.over_training and (args.plot or args.every != 1):
        raise ValueError(f"{'--plot' if args.plot else '--every'} goes with --over-training")
    plot = check_output_path(args.plot or Path(args.run) / "curvature.png", "--plot") if args.over_training else None
    records = run_curvature(args.run, samples=args.samples, over_training=args.over_training, every=args.every)
    if args.over_training:
        plot_curvature(records, plot, context=figure_context(args.run))
    if args.json:
        print(json.dumps(records, indent=1))
    elif not args.over_training:
        print(f"the loss on {args.samples} training samples at the run's final weights:")
        print(Curvature(**{k: v for k, v in records[0].items() if k != "epoch"}))
    else:
        print(f"{'epoch':>5}  {'largest':>12}  {'smallest':>12}  {'grad norm':>10}  {'loss':>10}  verdict")
        for r in records:
            print(f"{r['epoch']:>5}  {r['largest']:12.5g}  {r['smallest']:12.5g}  {r['gradient_norm']:10.4g}  "
                  f"{r['loss']:10.4g}  {r['verdict']}")
    if plot is not None and not args.json:
        print(f"plot: {plot}")
    return 0


def _summary(args, parser) -> int:
    from chainrule.model_summary import run_summary

    print(run_summary(args.run, batch_size=args.batch_size, depth=args.depth))
    return 0


def _compare(args, parser) -> int:
    from chainrule.compare import compare, format_table
    from chainrule.runs import RunConfig, check_output_path

    if args.folds is not None and args.test_fraction is not None:
        raise ValueError("--test-fraction goes with random splits; --folds K tests on 1/K of the data")
    if args.plot:
        check_output_path(args.plot, "--plot")
    fields = {k: v for k, v in vars(args).items() if k in RunConfig.__dataclass_fields__ and v is not None}
    comparison = compare(RunConfig(**fields), repeats=args.repeats, folds=args.folds, plot=args.plot,
                         verbose=0 if args.quiet else 1)
    print(format_table(comparison, markdown=args.markdown))
    if args.plot:
        print(f"bar chart: {args.plot}")
    return 0


def _search(args, parser) -> int:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    from chainrule.runs import RunConfig, load_data
    from chainrule.sklearn import MLPClassifier, format_results, search

    config = RunConfig(data=args.data, data_path=args.data_path, label_column=args.label_column,
                       encoding=args.encoding, seed=args.seed).check()
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


def _playground(args, parser) -> int:
    try:
        from chainrule.playground.app import serve
    except ImportError as err:
        raise ImportError(f"the playground needs its extra: pip install 'chainrule[playground]' ({err})") from None
    print(f"chainrule playground: http://{args.host}:{args.port}/", flush=True)
    print("Ctrl-C stops it", flush=True)
    serve(args.host, args.port, args.max_sessions)
    return 0


COMMANDS = {"train": _train, "evaluate": _evaluate, "predict": _predict, "explain": _explain,
            "gradcheck": _gradcheck, "curvature": _curvature, "compare": _compare, "search": _search,
            "summary": _summary, "playground": _playground}

# Exit status 2: the request cannot be done as asked (a bad flag, a missing or malformed input file
# or run folder, a missing optional package), as argparse's usage errors; 1: the work failed while
# running (a full or read-only disk, permission denied, training that diverged).
USAGE_ERRORS = (ValueError, TypeError, ImportError, NotImplementedError, FileNotFoundError, FileExistsError,
                NotADirectoryError, IsADirectoryError)
RUNTIME_ERRORS = (OSError, RuntimeError, MemoryError)


def _message(err: BaseException) -> str:
    """One line for an error: an OSError says its file and reason, without "[Errno 28]"."""
    if isinstance(err, OSError) and err.strerror:
        names = [str(n) for n in (err.filename, err.filename2) if n is not None]
        return f"{' -> '.join(names)}: {err.strerror}" if names else err.strerror
    if isinstance(err, MemoryError):
        return f"out of memory{': ' + str(err) if str(err) else ''}"
    return " ".join(str(err).split()) or type(err).__name__  # one line, whatever the library wrote


def main(argv=None) -> int:
    """Entry point of the ``chainrule`` console script. Exit status: 0 done, 1 the work failed
    while running (disk full, permission denied, training diverged), 2 a usage error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["train", *argv]
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        status = COMMANDS[args.command](args, parser)
        sys.stdout.flush()  # (here, not at exit: a reader that closed the pipe is caught below)
        return status
    except BrokenPipeError:
        # The reader stopped reading (`chainrule explain | head`): its choice, not an error. Send
        # what is left in the buffer nowhere, so that the interpreter's last flush is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command whose reader left
    except USAGE_ERRORS as err:
        print(f"chainrule {args.command}: error: {_message(err)}", file=sys.stderr)
        return 2
    except RUNTIME_ERRORS as err:
        print(f"chainrule {args.command}: error: {_message(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = f"; continue with 'chainrule train --resume {args.resume or args.run_dir}'" \
            if args.command == "train" and (args.resume or args.run_dir) else ""
        print(f"chainrule {args.command}: interrupted{hint}", file=sys.stderr)
        return 130
