"""A fair comparison of a backprop-trained network with the classic learners (decision tree,
SVM, k-nearest neighbours, logistic regression): the same split, the same standardised features,
one table of test accuracy, training time and prediction time. Needs scikit-learn."""

import dataclasses
import time

import numpy as np

from chainrule import random
from chainrule.runs import RunConfig, build_loss, build_model, build_optimizer, prepare_data, writing
from chainrule.train import Trainer
from chainrule.train.metrics import accuracy


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


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def compare(config: RunConfig, plot=None, verbose: int = 0) -> list:
    """Train ``config``'s network and the classic learners on one split; rows sorted by accuracy.

    Every learner trains on the same training part (no validation part is held out) with the same
    standardisation; the classic learners see the features flattened.
    """
    config = dataclasses.replace(config, val_fraction=0.0).check()
    if config.test_fraction == 0:
        raise ValueError("compare: --test-fraction must be > 0: the learners are compared on the test set")
    if config.model == "autoencoder":
        raise ValueError("compare: an autoencoder does not classify; choose mlp, cnn, rnn, gru or lstm")
    learners = _classic_learners(config.seed)
    random.manual_seed(config.seed)
    data = prepare_data(config)
    if not data.held_out:
        raise ValueError(f"compare: {config.data} has {len(data.train[0])} samples, too few to compare learners on "
                         "held-out data")
    model = build_model(config, data.input_shape, data.n_outputs)
    trainer = Trainer(model, build_loss(config, data.task), build_optimizer(config, model),
                      batch_size=config.batch_size, metrics=(), verbose=verbose)
    _, train_seconds = _timed(lambda: trainer.fit(data.train, epochs=config.epochs))
    x_test, y_test = data.test
    scores, predict_seconds = _timed(lambda: trainer.predict(x_test))
    rows = [{"model": f"chainrule {config.model.upper()} (backprop)", "test_accuracy": accuracy(y_test, scores),
             "train_seconds": train_seconds, "predict_seconds": predict_seconds}]
    x_fit, y_fit = data.train[0].reshape(len(data.train[0]), -1), data.train[1]
    x_test_flat = x_test.reshape(len(x_test), -1)
    for name, learner in learners.items():
        _, fit_seconds = _timed(lambda learner=learner: learner.fit(x_fit, y_fit))
        predicted, seconds = _timed(lambda learner=learner: learner.predict(x_test_flat))
        rows.append({"model": name, "test_accuracy": float(np.mean(predicted == y_test)),
                     "train_seconds": fit_seconds, "predict_seconds": seconds})
    rows.sort(key=lambda row: -row["test_accuracy"])
    if plot:
        _bar_chart(rows, plot, config.data)
    return rows


def format_table(rows: list) -> str:
    """The comparison as an aligned text table."""
    width = max(len(row["model"]) for row in rows)
    lines = [f"{'model':<{width}}  test accuracy  train time  predict time",
             f"{'-' * width}  -------------  ----------  ------------"]
    for row in rows:
        lines.append(f"{row['model']:<{width}}  {row['test_accuracy']:13.4f}  {row['train_seconds']:9.2f}s  "
                     f"{row['predict_seconds'] * 1000:10.1f}ms")
    return "\n".join(lines)


def _bar_chart(rows, path, data_name):
    from chainrule.diagnostics import new_figure, save_figure

    figure = new_figure(7, 3.2)
    axes = figure.add_subplot()
    names = [row["model"] for row in rows][::-1]
    axes.barh(names, [row["test_accuracy"] for row in rows][::-1], color="tab:blue")
    axes.set_xlim(0, 1)
    axes.set_xlabel("test accuracy")
    axes.set_title(f"{data_name}: the same split for every learner")
    with writing(path):
        save_figure(figure, path, dpi=100)
