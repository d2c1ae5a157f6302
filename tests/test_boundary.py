"""Decision boundaries, as a person sees them: the shading and the boundary line of models whose
boundary is known by hand, the titles and legends, the GIF's frames read back with Pillow, clear
errors for data that is not 2-D, and the examples' pictures."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.collections import PathCollection
from matplotlib.contour import ContourSet
from PIL import Image

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import moons, xor
from chainrule.diagnostics import new_figure
from chainrule.train import fit
from chainrule.viz import DecisionBoundaryAnimation, plot_decision_boundary

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SHADE = 0.6  # a fully confident pixel lies 60% of the way from white to its class colour


def class_colors(k):
    return np.array(colormaps["tab10"].colors[:k])


def linear(weight, bias, *end):
    """A Linear layer with the given weights (rows: outputs), then the modules ``end``."""
    layer = nn.Linear(len(weight[0]), len(weight))
    layer.load_state_dict({"weight": cr.tensor(weight), "bias": cr.tensor(bias)})
    return nn.Sequential(layer, *end)


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def boundary_vertices(ax):
    return np.concatenate([path.vertices for cs in ax.collections if isinstance(cs, ContourSet)
                           for path in cs.get_paths() if len(path.vertices)])


def expected_image(probabilities, resolution):
    """The shading computed here by hand: white moved toward the predicted class's colour by
    the confidence (top probability rescaled from [1/k, 1] to [0, 1])."""
    k = probabilities.shape[1]
    colors = class_colors(k)
    confidence = (probabilities.max(axis=1) - 1 / k) / (1 - 1 / k)
    pixels = 1 - SHADE * confidence[:, None] * (1 - colors[probabilities.argmax(axis=1)])
    return pixels.reshape(resolution, resolution, 3)


def grid_points(ax, resolution):
    x0, x1, y0, y1 = ax.images[0].get_extent()
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)


# -- one picture ---------------------------------------------------------------------------------
def test_a_logit_unit_draws_its_line_and_shades_by_the_sigmoid(tmp_path):
    # one output, logit x1 - 0.5: the boundary is the vertical line x1 = 0.5
    model = linear([[1.0, 0.0]], [-0.5])
    X, y = xor()
    ax = plot_decision_boundary(model, X, y, tmp_path / "xor.png", resolution=41, data_name="XOR")
    assert (tmp_path / "xor.png").read_bytes()[:8] == PNG_SIGNATURE
    vertices = boundary_vertices(ax)
    assert np.allclose(vertices[:, 0], 0.5, atol=1e-6) and np.ptp(vertices[:, 1]) > 1
    grid = grid_points(ax, 41)
    p1 = 1 / (1 + np.exp(-(grid[:, 0] - 0.5)))
    shading = expected_image(np.stack([1 - p1, p1], axis=1), 41)
    assert np.allclose(ax.images[0].get_array(), shading, atol=1e-6)
    title = ax.get_title().splitlines()
    assert title == ["XOR: linear model (2->1, no hidden layer)", "train accuracy 0.500"]
    assert legend_texts(ax) == ["class 0", "class 1", "decision boundary"]
    colorbar = [a for a in ax.figure.axes if a is not ax]
    assert len(colorbar) == 1 and colorbar[0].get_xlabel() == "P(class 1), the model's probability"


def test_a_sigmoid_output_is_read_as_a_probability_and_a_softmax_as_one():
    X, y = xor()
    # sigmoid at the end: its output is P(class 1), so the boundary is where it is 0.5 (x1 = 0.5)
    ax = plot_decision_boundary(linear([[4.0, 0.0]], [-2.0], nn.Sigmoid()), X, y, resolution=21)
    assert np.allclose(boundary_vertices(ax)[:, 0], 0.5, atol=1e-6)
    # the same through output="probabilities" on a model that does not say so
    ax = plot_decision_boundary(linear([[0.0, 0.5]], [0.25]), X, y, resolution=21, output="probabilities")
    assert np.allclose(boundary_vertices(ax)[:, 1], 0.5, atol=1e-6)
    with pytest.raises(ValueError, match=r"output='probabilities', but the model's outputs reach"):
        plot_decision_boundary(linear([[3.0, 0.0]], [0.0]), X, y, resolution=21, output="probabilities")


def test_three_classes_by_softmax_with_test_points_and_class_names(tmp_path):
    # logits x1, x2 + 0.1 and 0.45: class 2 near the origin, else the larger one (no ties on the grid)
    model = linear([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], [0.0, 0.1, 0.45])
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 0.2]], dtype=np.float32)
    y = np.array([0, 1, 2, 0])
    X_test, y_test = np.array([[0.1, 0.9], [0.9, 0.1]]), np.array([1, 1])
    ax = plot_decision_boundary(model, X, y, tmp_path / "three.svg", X_test=X_test, y_test=y_test, resolution=31,
                                class_names=["right", "up", "corner"], data_name="three")
    assert "<svg" in (tmp_path / "three.svg").read_text()[:500]
    grid = grid_points(ax, 31)
    logits = np.stack([grid[:, 0], grid[:, 1] + 0.1, np.full(len(grid), 0.45)], axis=1)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(ax.images[0].get_array(), expected_image(softmax, 31), atol=1e-6)
    assert legend_texts(ax) == ["right", "up", "corner", "train (4)", "test (2)", "decision boundary"]
    assert ax.get_title().splitlines() == ["three: linear model (2->3, no hidden layer)",
                                           "train accuracy 1.000, test accuracy 0.500"]
    markers = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sorted(len(m.get_offsets()) for m in markers) == [2, 4]  # train and test drawn apart
    assert len(ax.figure.axes) == 1  # no probability colour bar for more than two classes


def test_a_trained_network_draws_a_bent_boundary_and_leaves_the_model_as_it_was():
    cr.manual_seed(0)
    X, y = moons(120, noise=0.1, seed=0)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Dropout(0.1), nn.Linear(32, 2))
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), (X, y), epochs=60,
        batch_size=32, verbose=0)
    model.train()
    gradients = [p.grad.numpy().copy() for p in model.parameters()]  # the last step's
    first = plot_decision_boundary(model, X, y, resolution=40, data_name="moons")
    second = plot_decision_boundary(model, X, y, resolution=40)
    # eval mode: dropout off, so both drawings agree; the mode and the gradients are left alone
    assert np.array_equal(first.images[0].get_array(), second.images[0].get_array())
    assert model.training
    assert all(np.array_equal(p.grad.numpy(), g) for p, g in zip(model.parameters(), gradients))
    assert first.get_title().splitlines()[0] == "moons: 2-32-2 network (tanh, dropout)"
    assert float(first.get_title().split("train accuracy ")[1]) > 0.95  # a line gets about 0.85
    assert second.get_title().splitlines()[0] == "decision boundary of the 2-32-2 network (tanh, dropout)"
    vertices = boundary_vertices(first)
    off_the_line = np.polyval(np.polyfit(vertices[:, 0], vertices[:, 1], 1), vertices[:, 0]) - vertices[:, 1]
    assert np.ptp(off_the_line) > 0.5  # bent: a straight boundary would lie on its fitted line


def test_no_gradient_is_recorded_while_drawing():
    model = linear([[1.0, -1.0]], [0.0])
    X, y = xor()
    plot_decision_boundary(model, X, y, resolution=10)
    assert all(p.grad is None for p in model.parameters())


def test_estimators_with_predict_proba_or_only_predict(tmp_path):
    from sklearn.linear_model import LogisticRegression, Perceptron

    from chainrule.sklearn import MLPClassifier

    X, y = moons(80, noise=0.1, seed=1)
    names = np.array(["north", "south"])[y]
    ax = plot_decision_boundary(LogisticRegression().fit(X, names), X, names, resolution=30, data_name="moons")
    assert legend_texts(ax)[:2] == ["class north", "class south"]
    assert ax.get_title().splitlines()[0] == "moons: LogisticRegression"
    grid = grid_points(ax, 30)
    proba = LogisticRegression().fit(X, names).predict_proba(grid)
    assert np.allclose(ax.images[0].get_array(), expected_image(proba, 30), atol=1e-6)
    # only labels: every region at full colour
    ax = plot_decision_boundary(Perceptron(random_state=0).fit(X, y), X, y, resolution=30)
    pixels = ax.images[0].get_array().reshape(-1, 3)
    full = 1 - SHADE * (1 - class_colors(2))
    assert all(np.isclose(pixels, c, atol=1e-6).all(axis=1).any() for c in full)
    assert np.isclose(pixels[:, None], full[None], atol=1e-6).all(axis=2).any(axis=1).all()
    assert len(ax.figure.axes) == 1  # no probabilities, no colour bar
    cr.manual_seed(0)
    mlp = MLPClassifier((8,), max_iter=300, learning_rate_init=0.05).fit(X, y)
    ax = plot_decision_boundary(mlp, X, y, tmp_path / "mlp.png", resolution=30)
    assert ax.get_title().splitlines()[0] == "decision boundary of the MLPClassifier (8,)"
    assert (tmp_path / "mlp.png").read_bytes()[:8] == PNG_SIGNATURE


def test_drawing_on_given_axes():
    fig = new_figure(8, 3)
    left, right = fig.subplots(1, 2)
    X, y = xor()
    returned = plot_decision_boundary(linear([[1.0, 0.0]], [-0.5]), X, y, ax=right, resolution=10, title="mine")
    assert returned is right and right.get_title().splitlines()[0] == "mine" and not left.images


@pytest.mark.parametrize(("X", "message"), [
    (np.zeros((5, 3)), r"X must have shape \(n_samples, 2\), two features to draw on the plane, got shape \(5, 3\)"),
    (np.zeros(5), r"X must have shape \(n_samples, 2\).*got shape \(5,\)"),
    (np.zeros((0, 2)), r"got shape \(0, 2\)"),
    (np.array([[0.0, np.nan]] * 5), r"X holds NaN or infinity \(row 0\)"),
])
def test_data_that_is_not_2d_is_refused(X, message):
    with pytest.raises(ValueError, match=message):
        plot_decision_boundary(linear([[1.0, 0.0]], [0.0]), X, np.zeros(len(X), dtype=int))


def test_other_bad_input_is_named():
    model = linear([[1.0, 0.0]], [0.0])
    X, y = xor()
    cases = [
        (dict(y=y[:3]), ValueError, r"y must hold one class label per point \(4\), got shape \(3,\)"),
        (dict(y=np.array([0, 0.5, 1, 0])), ValueError, r"y must hold class labels, got non-integer values"),
        (dict(y=np.array([0, 1, 2, 0])), ValueError, r"y holds labels \[2\], which are not among the model's "
                                                     r"classes \[0, 1\]; a network's class k is its output column k"),
        (dict(X_test=X), ValueError, "give X_test and y_test together"),
        (dict(X_test=np.zeros((2, 4)), y_test=[0, 1]), ValueError, r"X_test must have shape \(n_samples, 2\)"),
        (dict(model=object()), TypeError, "model must be a chainrule nn.Module or an estimator with predict_proba"),
        (dict(resolution=1), ValueError, "resolution must be an integer >= 2"),
        (dict(output="odds"), ValueError, "output must be one of"),
        (dict(class_names=["a"]), ValueError, "class_names has 1 names, but the model has 2 classes"),
        (dict(ax="left"), TypeError, "ax must be a matplotlib Axes"),
    ]
    for change, error, message in cases:
        arguments = {"model": model, "X": X, "y": y, **change}
        with pytest.raises(error, match=message):
            plot_decision_boundary(arguments.pop("model"), arguments.pop("X"), arguments.pop("y"), **arguments)


def test_a_column_of_float_targets_is_read_as_labels():
    X, y = xor()
    ax = plot_decision_boundary(linear([[1.0, 0.0]], [-0.5]), X, y.astype(np.float32).reshape(-1, 1),
                                resolution=10)
    assert ax.get_title().endswith("train accuracy 0.500")


# -- over training -------------------------------------------------------------------------------
def gif_frames(path):
    with Image.open(path) as gif:
        frames, durations = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB")))
            durations.append(gif.info["duration"])
    return frames, durations


def train_moons(callbacks, epochs, restarts=1):
    cr.manual_seed(0)
    X, y = moons(60, noise=0.1, seed=0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    return fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), (X, y), epochs=epochs,
               batch_size=60, verbose=0, callbacks=callbacks, restarts=restarts)


def test_the_gif_has_a_frame_per_recorded_epoch_titled_with_it(tmp_path):
    X, y = moons(60, noise=0.1, seed=0)
    animation = DecisionBoundaryAnimation(X, y, tmp_path / "moons.gif", every=3, resolution=24, dpi=40,
                                          data_name="moons")
    train_moons([animation], epochs=10)
    assert [f["epoch"] for f in animation.frames] == [0, 3, 6, 9, 10]  # the last epoch always
    frames, durations = gif_frames(tmp_path / "moons.gif")
    assert len(frames) == 5 and frames[0].shape == (int(5.2 * 40), int(6.4 * 40), 3)
    assert not np.array_equal(frames[0], frames[-1])
    assert durations[-1] >= 1000 > durations[0]  # the end is held
    titles = [animation.frame_title(f) for f in animation.frames]
    assert titles[0] == ("moons: 2-8-2 network (tanh)\nepoch 0 (before training), accuracy "
                         f"{animation.frames[0]['accuracy']:.3f}")
    assert [re.search(r"epoch (\d+)", t).group(1) for t in titles] == ["0", "3", "6", "9", "10"]
    assert all("loss " in t for t in titles[1:])
    assert animation.frames[-1]["accuracy"] > animation.frames[0]["accuracy"]


def test_the_titles_drawn_are_the_frames_titles(tmp_path, monkeypatch):
    drawn = []
    from chainrule.viz import boundary

    show = boundary._Canvas.show
    monkeypatch.setattr(boundary._Canvas, "show", lambda self, p, title: (drawn.append(title), show(self, p, title)))
    X, y = moons(60, noise=0.1, seed=0)
    animation = DecisionBoundaryAnimation(X, y, every=5, resolution=16, dpi=30)
    train_moons([animation], epochs=5)
    animation.save(tmp_path / "a.gif")
    assert drawn == [animation.frame_title(f) for f in animation.frames] and "epoch 5" in drawn[-1]


def test_frames_are_bounded_by_thinning_evenly():
    X, y = moons(60, noise=0.1, seed=0)
    animation = DecisionBoundaryAnimation(X, y, every=1, max_frames=10, resolution=8)
    train_moons([animation], epochs=40)
    assert [f["epoch"] for f in animation.frames] == [0, 8, 16, 24, 32, 40]
    animation = DecisionBoundaryAnimation(X, y, every=1, max_frames=4, resolution=8)
    train_moons([animation], epochs=7)
    epochs = [f["epoch"] for f in animation.frames]
    assert len(epochs) <= 4 and epochs[0] == 0 and epochs[-1] == 7


def test_each_restart_is_a_run_of_its_own(tmp_path):
    X, y = moons(60, noise=0.1, seed=0)
    animation = DecisionBoundaryAnimation(X, y, every=2, resolution=12, dpi=30)
    train_moons([animation], epochs=4, restarts=2)
    assert [(f["run"], f["epoch"]) for f in animation.frames] == [(0, 0), (0, 2), (0, 4), (1, 0), (1, 2), (1, 4)]
    titles = [animation.frame_title(f) for f in animation.frames]
    assert "run 0 (of 2)" in titles[0] and "run 1 (of 2)" in titles[-1]
    frames, _ = gif_frames(animation.save(tmp_path / "runs.gif"))
    assert len(frames) == 6


def test_animation_arguments_are_checked():
    X, y = moons(20, seed=0)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 2\)"):
        DecisionBoundaryAnimation(np.zeros((20, 3)), y)
    with pytest.raises(ValueError, match=r"path must name a .gif file"):
        DecisionBoundaryAnimation(X, y, "boundary.png")
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        DecisionBoundaryAnimation(X, y, every=0)
    with pytest.raises(ValueError, match="max_frames must be an integer >= 2"):
        DecisionBoundaryAnimation(X, y, max_frames=1)
    with pytest.raises(ValueError, match="no frame recorded; pass the callback to fit"):
        DecisionBoundaryAnimation(X, y).save("never.gif")


# -- the examples ----------------------------------------------------------------------------------
def run_example(name, out):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--quick", "--out", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_moons_spirals_example_bends_the_boundary(tmp_path):
    out = run_example("moons_spirals.py", tmp_path)
    linear_accuracy = float(re.search(r"no hidden layer.*test accuracy (\S+)", out).group(1))
    network_accuracy = float(re.search(r"moons, hidden layers.*test accuracy (\S+)", out).group(1))
    assert linear_accuracy < 0.92 < network_accuracy
    assert float(re.search(r"spirals.*test accuracy (\S+)", out).group(1)) > 0.8  # chance is 1/3
    for name in ("moons_boundary.png", "spirals_boundary.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE
    frames, _ = gif_frames(tmp_path / "spirals_training.gif")
    assert len(frames) == 11 and "(11 frames, epochs 0 to 60)" in out
    assert not np.array_equal(frames[0], frames[-1])


def test_a_resumed_run_starts_its_frames_where_it_stopped(tmp_path):
    X, y = moons(60, noise=0.1, seed=0)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    fit(model, nn.CrossEntropyLoss(), optimizer, (X, y), epochs=3, verbose=0, checkpoint=tmp_path / "run.ckpt")
    animation = DecisionBoundaryAnimation(X, y, every=2, resolution=8)
    fit(model, nn.CrossEntropyLoss(), optimizer, (X, y), epochs=6, verbose=0, resume_from=tmp_path / "run.ckpt",
        callbacks=[animation])
    assert [f["epoch"] for f in animation.frames] == [3, 4, 6]
    assert "(before training)" not in animation.frame_title(animation.frames[0])
    assert animation.frames[0]["loss"] is not None
