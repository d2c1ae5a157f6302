"""Decision boundaries on 2-D data: the class a model predicts at every point of a grid over the
plane, shaded by its confidence, with the data on top; and ``DecisionBoundaryAnimation``, a
callback for ``fit`` that records the boundary as training bends it and writes a GIF."""

import os
import tempfile
from pathlib import Path

import numpy as np

from chainrule import distributed
from chainrule._arguments import int_arg, number_arg
from chainrule._tensor import Tensor
from chainrule.autograd.mode import no_grad
from chainrule.creation import from_numpy
from chainrule.nn.activation import Sigmoid, Softmax
from chainrule.nn.containers import Sequential
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.train.callbacks import Callback

__all__ = ["DecisionBoundaryAnimation", "plot_decision_boundary"]

_OUTPUTS = ("auto", "probabilities", "logits")
_SHADE = 0.6  # how far a fully confident pixel moves from white to its class colour: points stay visible
_CHUNK = 16384  # grid points per forward pass: bounds the activations' memory for wide networks


# -- the data ---------------------------------------------------------------------------------
def _points(X, name: str, where: str) -> np.ndarray:
    """``X`` as a float64 array of shape (n, 2), every value finite."""
    array = X.numpy() if isinstance(X, Tensor) else X
    try:
        array = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {name} must be an array of numbers of shape (n_samples, 2), "
                        f"got {type(X).__name__}") from None
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise ValueError(
            f"{where}: {name} must have shape (n_samples, 2), two features to draw on the plane, got shape "
            f"{array.shape}; project the data onto two features first (two columns, or PCA)"
        )
    if not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0][0])
        raise ValueError(f"{where}: {name} holds NaN or infinity (row {row}); the plane cannot be drawn around it")
    return array


def _labels(y, n: int, name: str, where: str) -> np.ndarray:
    """``y`` as n class labels (a column of shape (n, 1) is accepted; 0.0/1.0 floats become ints)."""
    array = np.asarray(y.numpy() if isinstance(y, Tensor) else y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or len(array) != n:
        raise ValueError(f"{where}: {name} must hold one class label per point ({n}), got shape {array.shape}")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            raise ValueError(f"{where}: {name} must hold class labels, got non-integer values such as "
                             f"{array[array != np.round(array)][:3].tolist()}; a decision boundary needs classes")
        array = array.astype(np.int64)
    return array


def _pair(X, y, names: tuple, where: str):
    X = _points(X, names[0], where)
    return X, _labels(y, len(X), names[1], where)


def _test_pair(X_test, y_test, where: str):
    if (X_test is None) != (y_test is None):
        raise ValueError(f"{where}: give X_test and y_test together, or neither")
    if X_test is None:
        return None
    return _pair(X_test, y_test, ("X_test", "y_test"), where)


def _grid(clouds: list, resolution: int, margin: float):
    """Two coordinate axes of ``resolution`` points spanning every point of ``clouds``, widened by
    ``margin`` times the span on each side (so the boundary is seen beyond the data)."""
    points = np.concatenate(clouds)
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    low, high = low - margin * span, high + margin * span
    return np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)


# -- the model ---------------------------------------------------------------------------------
def _last_layer(model: Module):
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    return leaves[-1] if leaves else model


def _module_probabilities(model: Module, points: np.ndarray, output: str, where: str) -> np.ndarray:
    """Class probabilities (n, n_classes) from a Module's forward pass, in eval mode and without a
    graph. One output column is a binary model: a probability of class 1 when the network ends in
    a sigmoid (``output="auto"``), else a logit; several columns are softmax probabilities when
    the network ends in a softmax, else logits (LogSoftmax's log-probabilities included)."""
    parameter = next(iter(model.parameters()), None)
    dtype = np.float32 if parameter is None else parameter.data.numpy().dtype
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            chunks = [model(from_numpy(points[s:s + _CHUNK].astype(dtype))) for s in range(0, len(points), _CHUNK)]
    finally:
        model.train(was_training)
    if not all(isinstance(c, Tensor) for c in chunks):
        raise TypeError(f"{where}: the model's forward must return a Tensor, got {type(chunks[0]).__name__}")
    scores = np.concatenate([c.numpy() for c in chunks]).astype(np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or len(scores) != len(points):
        raise ValueError(f"{where}: the model maps {len(points)} points to an output of shape {scores.shape}; "
                         "expected (n,), (n, 1) for two classes or (n, n_classes)")
    if not np.isfinite(scores).all():
        raise ValueError(f"{where}: the model's output holds NaN or infinity; is the training diverging?")
    if output == "auto":
        ends_in = _last_layer(model)
        output = "probabilities" if isinstance(ends_in, Sigmoid if scores.shape[1] == 1 else Softmax) else "logits"
    if output == "probabilities" and ((scores < 0).any() or (scores > 1).any()):
        raise ValueError(f"{where}: output='probabilities', but the model's outputs reach "
                         f"[{scores.min():.3g}, {scores.max():.3g}], outside [0, 1]; use output='logits'")
    if scores.shape[1] == 1:
        p1 = scores[:, 0] if output == "probabilities" else 1 / (1 + np.exp(-np.clip(scores[:, 0], -500, 500)))
        return np.stack([1 - p1, p1], axis=1)
    if output == "probabilities":
        return scores / scores.sum(axis=1, keepdims=True)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class _Classifier:
    """A model seen as a classifier of points of the plane: ``classes`` (the labels, in column
    order) and ``probabilities(points)`` of shape (n, len(classes)); a model that only predicts
    labels gives one-hot rows (full confidence everywhere)."""

    def __init__(self, model, labels: np.ndarray, output: str, where: str):
        if output not in _OUTPUTS:
            raise ValueError(f"{where}: output must be one of {_OUTPUTS}, got {output!r}")
        self.model, self.output, self.where = model, output, where
        self.is_module = isinstance(model, Module)
        if not self.is_module and not callable(getattr(model, "predict_proba", None)) \
                and not callable(getattr(model, "predict", None)):
            raise TypeError(f"{where}: model must be a chainrule nn.Module or an estimator with predict_proba or "
                            f"predict (scikit-learn's, chainrule.sklearn's), got {type(model).__name__}")
        self.has_probabilities = self.is_module or callable(getattr(model, "predict_proba", None))
        fitted = getattr(model, "classes_", None)
        self.classes = None if fitted is None else np.asarray(fitted)
        self._labels = labels  # the data's labels: the classes of a model that does not list its own

    def probabilities(self, points: np.ndarray) -> np.ndarray:
        if self.is_module:
            probabilities = _module_probabilities(self.model, points, self.output, self.where)
            self.classes = np.arange(probabilities.shape[1])
            return probabilities
        if self.has_probabilities:
            probabilities = np.asarray(self.model.predict_proba(points), dtype=np.float64)
            if self.classes is None:
                self.classes = np.arange(probabilities.shape[1])
            if probabilities.shape != (len(points), len(self.classes)):
                raise ValueError(f"{self.where}: predict_proba returned shape {probabilities.shape} for "
                                 f"{len(points)} points and {len(self.classes)} classes")
            return probabilities
        predicted = np.asarray(self.model.predict(points))
        if self.classes is None:
            self.classes = np.unique(np.concatenate([self._labels, predicted.ravel()]))
        index = self.index_of(predicted.ravel(), "predict returned")
        return np.eye(len(self.classes))[index]

    def index_of(self, labels: np.ndarray, what: str) -> np.ndarray:
        """The column of each label in ``classes``; a label the model does not know is an error."""
        position = {label: i for i, label in enumerate(self.classes.tolist())}
        unknown = sorted({label for label in labels.tolist() if label not in position}, key=str)
        if unknown:
            hint = "; a network's class k is its output column k" if self.is_module else ""
            raise ValueError(f"{self.where}: {what} labels {unknown[:5]}, which are not among the model's classes "
                             f"{self.classes.tolist()}{hint}")
        return np.array([position[label] for label in labels.tolist()], dtype=np.int64)


def _model_name(model) -> str:
    """A short name for titles: '2-8-2 network (tanh)' for a Sequential of Linear layers and
    activations, the layers in order for other flat Sequentials, else the class name."""
    if not isinstance(model, Module):
        sizes = getattr(model, "hidden_layer_sizes", None)
        return f"{type(model).__name__}{'' if sizes is None else f' {sizes}'}"
    layers = list(model.children())
    if not isinstance(model, Sequential) or not layers or any(list(layer.children()) for layer in layers):
        return type(model).__name__
    linear = [layer for layer in layers if isinstance(layer, Linear)]
    others = [layer for layer in layers if not isinstance(layer, Linear)]
    if linear and not any(any(True for _ in layer.parameters()) for layer in others):
        if len(linear) == 1:
            return f"linear model ({linear[0].in_features}->{linear[0].out_features}, no hidden layer)"
        sizes = [linear[0].in_features, *(layer.out_features for layer in linear)]
        activations = list(dict.fromkeys(type(layer).__name__.lower() for layer in others))
        return f"{'-'.join(map(str, sizes))} network" + (f" ({', '.join(activations)})" if activations else "")
    names = [f"Linear({m.in_features}->{m.out_features})" if isinstance(m, Linear) else type(m).__name__
             for m in layers]
    text = ", ".join(names)
    return text if len(text) <= 60 else text[:57] + "..."


# -- the picture -------------------------------------------------------------------------------
def _class_colors(n: int) -> np.ndarray:
    from matplotlib import colormaps

    palette = colormaps["tab10" if n <= 10 else "tab20"]
    return np.array([palette(i % palette.N)[:3] for i in range(n)])


class _Canvas:
    """One axes showing a boundary: the shaded grid (replaced frame by frame), the boundary line,
    the points, the legend; and for two classes a colour bar of the probability of the second."""

    def __init__(self, ax, xs, ys, train, test, class_labels: list, has_probabilities: bool):
        from matplotlib.lines import Line2D

        self.ax, self.xs, self.ys = ax, xs, ys
        self.colors = _class_colors(len(class_labels))
        extent = (xs[0], xs[-1], ys[0], ys[-1])
        self.image = ax.imshow(np.ones((len(ys), len(xs), 3)), origin="lower", extent=extent,
                               interpolation="bilinear", aspect="auto")
        self.lines = []
        handles = []
        for k, label in enumerate(class_labels):
            handles.append(Line2D([], [], marker="o", linestyle="", color=self.colors[k], markeredgecolor="k",
                                  label=label))
        for pair, marker, name in ((train, "o", "train"), (test, "^", "test")):
            if pair is None:
                continue
            X, index = pair
            size = 80 if len(X) <= 20 else 30 if len(X) <= 200 else 14
            ax.scatter(X[:, 0], X[:, 1], c=self.colors[index], marker=marker, s=size, edgecolors="k",
                       linewidths=0.6, zorder=3)
            if test is not None:
                handles.append(Line2D([], [], marker=marker, linestyle="", color="0.6", markeredgecolor="k",
                                      label=f"{name} ({len(X)})"))
        handles.append(Line2D([], [], color="k", linewidth=1.2, label="decision boundary"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small", borderaxespad=0)
        if len(class_labels) == 2 and has_probabilities:
            from matplotlib.cm import ScalarMappable
            from matplotlib.colors import LinearSegmentedColormap

            faded = [1 - _SHADE * (1 - c) for c in self.colors]
            cmap = LinearSegmentedColormap.from_list("boundary", [faded[0], (1, 1, 1), faded[1]])
            bar = ax.figure.colorbar(ScalarMappable(cmap=cmap), ax=ax, location="bottom", shrink=0.8, aspect=30)
            bar.set_label(f"P({class_labels[1]}), the model's probability")
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(ys[0], ys[-1])
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")

    def show(self, probabilities: np.ndarray, title: str) -> None:
        """Shade each grid point toward its predicted class's colour by the confidence (white where
        the top two classes tie), and draw the boundary: where the predicted class changes."""
        k = probabilities.shape[-1]
        field = probabilities.reshape(len(self.ys), len(self.xs), k)
        top = field.max(axis=-1)
        confidence = np.clip((top - 1 / k) / (1 - 1 / k), 0, 1)[..., None]
        self.image.set_data(1 - _SHADE * confidence * (1 - self.colors[field.argmax(axis=-1)]))
        for line in self.lines:
            line.remove()
        self.lines = []
        for c in range(1 if k == 2 else 0, k):  # with two classes both margins trace the same line
            others = np.delete(field, c, axis=-1).max(axis=-1)
            margin = field[..., c] - others
            if margin.min() < 0 < margin.max():
                self.lines.append(self.ax.contour(self.xs, self.ys, margin, levels=[0], colors="k",
                                                  linewidths=1.2, zorder=2))
        self.ax.set_title(title, fontsize="medium")


def _class_labels(classes: np.ndarray, class_names, where: str) -> list:
    if class_names is None:
        return [f"class {c}" for c in classes.tolist()]
    names = list(class_names)
    if len(names) != len(classes):
        raise ValueError(f"{where}: class_names has {len(names)} names, but the model has {len(classes)} classes "
                         f"{classes.tolist()}")
    return [str(name) for name in names]


def _accuracy(classifier: _Classifier, pair) -> float:
    X, y = pair
    predicted = classifier.probabilities(X).argmax(axis=1)
    return float((predicted == classifier.index_of(y, "y holds")).mean())


def _header(title, data_name, model) -> str:
    if title is not None:
        return str(title)
    name = _model_name(model)
    return f"{data_name}: {name}" if data_name else f"decision boundary of the {name}"


def plot_decision_boundary(model, X, y, path=None, *, X_test=None, y_test=None, ax=None, resolution: int = 200,
                           title: str | None = None, data_name: str | None = None, class_names=None,
                           output: str = "auto", margin: float = 0.15):
    """Draw the class ``model`` predicts over the plane of 2-D data: each grid point is shaded
    toward its predicted class's colour by the model's confidence (white where classes tie), a
    black line marks the decision boundary, the points of ``X`` are circles coloured by their
    class ``y`` and those of ``X_test`` triangles. The title names the data and the model and
    gives the accuracy on both sets (``title`` replaces its first line).

    model: a chainrule ``nn.Module`` (run in eval mode under ``no_grad``; its output column k is
    class k: one column for two classes, read as a probability when the network ends in a
    sigmoid and as a logit otherwise, several columns as softmax probabilities or logits alike;
    ``output="probabilities"`` or ``"logits"`` overrides), or an estimator with ``predict_proba``
    (shaded by probability) or only ``predict`` (regions at full colour), as scikit-learn's and
    ``chainrule.sklearn``'s. ``resolution``: grid points per axis; the grid spans the data and
    ``margin`` times its extent on each side. ``class_names``: one name per class for the legend.

    Draws on ``ax`` when given, else on a new figure; writes the figure to ``path`` when given
    (PNG, SVG, PDF by its suffix). Returns the axes.

    >>> from chainrule import nn
    >>> from chainrule.data import xor
    >>> X, y = xor()
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    >>> ax = plot_decision_boundary(net, X, y, data_name="XOR", resolution=50)
    >>> ax.get_title().splitlines()[0]
    'XOR: 2-2-1 network (sigmoid)'
    """
    where = "plot_decision_boundary"
    train = _pair(X, y, ("X", "y"), where)
    test = _test_pair(X_test, y_test, where)
    resolution = int_arg(resolution, "resolution", where, minimum=2, maximum=1000)
    margin = number_arg(margin, "margin", where, low=0)
    if ax is not None and not callable(getattr(ax, "imshow", None)):
        raise TypeError(f"{where}: ax must be a matplotlib Axes, got {type(ax).__name__}")
    labels = train[1] if test is None else np.concatenate([train[1], test[1]])
    classifier = _Classifier(model, labels, output, where)
    xs, ys = _grid([train[0]] + ([] if test is None else [test[0]]), resolution, margin)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    probabilities = classifier.probabilities(grid)
    label_names = _class_labels(classifier.classes, class_names, where)
    index_train = classifier.index_of(train[1], "y holds")
    index_test = None if test is None else classifier.index_of(test[1], "y_test holds")
    scores = [f"train accuracy {_accuracy(classifier, train):.3f}"]
    if test is not None:
        scores.append(f"test accuracy {_accuracy(classifier, test):.3f}")
    if ax is None:
        from chainrule.diagnostics import new_figure

        ax = new_figure(6.4, 5.2).subplots()
    canvas = _Canvas(ax, xs, ys, (train[0], index_train), None if test is None else (test[0], index_test),
                     label_names, classifier.has_probabilities)
    canvas.show(probabilities, f"{_header(title, data_name, model)}\n{', '.join(scores)}")
    if path is not None:
        from chainrule.diagnostics import save_figure

        save_figure(ax.figure, path)
    return ax


# -- over training -----------------------------------------------------------------------------
class DecisionBoundaryAnimation(Callback):
    """A callback for ``fit`` that records the decision boundary on a grid over ``X`` before
    training and every ``every`` epochs (the last epoch always), and writes them as an animated
    GIF (matplotlib's animation writer for Pillow) with the epoch, loss and accuracy in each
    frame's title. Frames are bounded: past ``max_frames`` in a run, every other frame is dropped
    and the spacing doubles. Each random restart is a run of its own, shown one after the other.

    ``path``: a .gif written when each run ends (with restarts the file is rewritten after every
    run; ``save(path)`` after ``fit`` writes it once). The other arguments are
    ``plot_decision_boundary``'s; the model is the one ``fit`` trains. ``frames`` holds what was
    recorded: dicts with ``run``, ``epoch``, ``loss`` (None before training), ``accuracy`` on ``X``
    and ``probabilities`` on the grid.

    >>> import chainrule as cr
    >>> from chainrule import nn, optim
    >>> from chainrule.data import xor
    >>> from chainrule.train import fit
    >>> X, y = xor()
    >>> _ = cr.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    >>> recorder = DecisionBoundaryAnimation(X, y, every=10, resolution=20)
    >>> _ = fit(net, nn.CrossEntropyLoss(), optim.Adam(net.parameters(), lr=0.05), (X, y), epochs=30,
    ...         batch_size=4, verbose=0, callbacks=[recorder])
    >>> [frame["epoch"] for frame in recorder.frames]
    [0, 10, 20, 30]
    """

    def __init__(self, X, y, path=None, *, X_test=None, y_test=None, every: int = 1, max_frames: int = 50,
                 resolution: int = 80, fps: float = 6, title: str | None = None, data_name: str | None = None,
                 class_names=None, output: str = "auto", margin: float = 0.15, dpi: int = 80):
        where = "DecisionBoundaryAnimation"
        self.train = _pair(X, y, ("X", "y"), where)
        self.test = _test_pair(X_test, y_test, where)
        if path is not None:
            path = _gif_path(path, where)
        self.path = path
        self.every = int_arg(every, "every", where, minimum=1)
        self.max_frames = int_arg(max_frames, "max_frames", where, minimum=2)
        resolution = int_arg(resolution, "resolution", where, minimum=2, maximum=1000)
        self.fps = number_arg(fps, "fps", where, low=0, low_open=True, high=100)
        self.dpi = int_arg(dpi, "dpi", where, minimum=10, maximum=600)
        if output not in _OUTPUTS:
            raise ValueError(f"{where}: output must be one of {_OUTPUTS}, got {output!r}")
        self.title, self.data_name, self.class_names, self.output = title, data_name, class_names, output
        margin = number_arg(margin, "margin", where, low=0)
        clouds = [self.train[0]] + ([] if self.test is None else [self.test[0]])
        self.xs, self.ys = _grid(clouds, resolution, margin)
        self.grid = np.stack(np.meshgrid(self.xs, self.ys), axis=-1).reshape(-1, 2)
        self.frames, self.model, self._classifier, self._run, self._spacing = [], None, None, -1, self.every

    def on_train_begin(self, trainer) -> None:
        self.model, self._run, self._spacing = trainer.model, self._run + 1, self.every
        labels = self.train[1] if self.test is None else np.concatenate([self.train[1], self.test[1]])
        self._classifier = _Classifier(trainer.model, labels, self.output, "DecisionBoundaryAnimation")
        done = trainer.history.last if len(trainer.history) else {}  # a resumed run starts where it stopped
        self._record(done.get("epoch", 0), done.get("loss"))

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        if epoch % self._spacing == 0:
            self._record(epoch, logs.get("loss"))
        run = [f for f in self.frames if f["run"] == self._run]
        if len(run) > self.max_frames:  # keep the first and every other one after it; record half as often
            dropped = {id(f) for f in run[1::2]}
            self.frames = [f for f in self.frames if id(f) not in dropped]
            self._spacing *= 2

    def on_train_end(self, trainer) -> None:
        last = trainer.history.last if len(trainer.history) else {}
        epoch = last.get("epoch", 0)
        run = [f for f in self.frames if f["run"] == self._run]
        if run and run[-1]["epoch"] != epoch:
            if len(run) >= self.max_frames:  # the last epoch takes the place of the one before it
                self.frames.remove(run[-1])
            self._record(epoch, last.get("loss"))
        if self.path is not None and distributed.is_main():  # one file, written by rank 0 under MPI
            self.save(self.path)

    def _record(self, epoch: int, loss) -> None:
        probabilities = self._classifier.probabilities(self.grid).astype(np.float32)
        accuracy = _accuracy(self._classifier, self.train)
        test_accuracy = None if self.test is None else _accuracy(self._classifier, self.test)
        self.frames.append({"run": self._run, "epoch": epoch, "loss": None if loss is None else float(loss),
                            "accuracy": accuracy, "test_accuracy": test_accuracy, "probabilities": probabilities})

    def frame_title(self, frame: dict) -> str:
        """The title of one frame: the data and model (and the run, with restarts), then the epoch,
        the loss and the accuracy."""
        header = _header(self.title, self.data_name, self.model)
        runs = 1 + max(f["run"] for f in self.frames)
        if runs > 1:
            header += f", run {frame['run']} (of {runs})"  # numbered from 0, as History.runs
        status = [f"epoch {frame['epoch']}" + (" (before training)" if frame["epoch"] == 0 else "")]
        if frame["loss"] is not None:
            status.append(f"loss {frame['loss']:.4f}")
        if frame["test_accuracy"] is None:
            status.append(f"accuracy {frame['accuracy']:.3f}")
        else:
            status.append(f"train accuracy {frame['accuracy']:.3f}, test {frame['test_accuracy']:.3f}")
        return f"{header}\n{', '.join(status)}"

    def save(self, path) -> Path:
        """Write the recorded frames to ``path`` (.gif), atomically; returns the path."""
        path = _gif_path(path, "DecisionBoundaryAnimation.save")
        if not self.frames:
            raise ValueError("DecisionBoundaryAnimation.save: no frame recorded; pass the callback to fit "
                             "(callbacks=[...]) and train first")
        from chainrule.diagnostics import new_figure
        from chainrule.serialization import write_atomic

        train = (self.train[0], self._classifier.index_of(self.train[1], "y holds"))
        test = None if self.test is None else (self.test[0], self._classifier.index_of(self.test[1], "y_test holds"))
        labels = _class_labels(self._classifier.classes, self.class_names, "DecisionBoundaryAnimation")
        fig = new_figure(6.4, 5.2)
        canvas = _Canvas(fig.subplots(), self.xs, self.ys, train, test, labels, self._classifier.has_probabilities)
        writer = _gif_writer(self.fps, canvas.colors)
        # The writer wants a file name: the GIF is built in a temporary folder, then written whole.
        with tempfile.TemporaryDirectory() as folder:
            building = os.path.join(folder, path.name)
            with writer.saving(fig, building, self.dpi):
                for frame in self.frames:
                    canvas.show(frame["probabilities"], self.frame_title(frame))
                    writer.grab_frame()
            write_atomic(path, Path(building).read_bytes())
        return path


def _gif_writer(fps: float, class_colors: np.ndarray):
    """matplotlib's Pillow writer with one fixed palette: greys for text and lines, each class's
    colour and its ramp from white (the shading). The default adaptive palette of each frame
    spends its colours on the large shaded areas and turns small markers grey."""
    from matplotlib.animation import PillowWriter
    from PIL import Image

    greys = [(v, v, v) for v in range(0, 256, 8)] + [(255, 255, 255)]
    steps = (256 - len(greys) - len(class_colors)) // len(class_colors)
    colors = [tuple(c) for c in class_colors]
    for c in class_colors:
        colors += [tuple(1 - _SHADE * t * (1 - c)) for t in np.linspace(0, 1, steps)[1:]]
    palette = greys + [tuple(int(255 * v + 0.5) for v in c) for c in colors]
    reference = Image.new("P", (1, 1))
    reference.putpalette([v for rgb in palette for v in rgb] + [0] * (3 * (256 - len(palette))))

    class GifWriter(PillowWriter):
        def finish(self):
            frames = [f.convert("RGB").quantize(palette=reference, dither=Image.Dither.NONE) for f in self._frames]
            pause = int(1000 / self.fps)
            frames[0].save(self.outfile, save_all=True, append_images=frames[1:],
                           duration=[pause] * (len(frames) - 1) + [max(pause, 1000)], loop=0)

    return GifWriter(fps=fps)


def _gif_path(path, where: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a file path (str or os.PathLike), got {type(path).__name__}")
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"{where}: path must name a .gif file (the animation is a GIF), got {str(path)!r}")
    return path
