"""Plots that explain themselves, read back as a person sees them: the words in the saved SVG (title
with data, model and run; legends naming layers and splits), the number of panels, the colours."""

import html
import re
from types import SimpleNamespace

import pytest

from chainrule import diagnostics, nn
from chainrule.diagnostics import (
    TRAIN_COLOR,
    VALIDATION_COLOR,
    history_figure,
    plot_curvature,
    plot_gradient_flow,
    plot_history,
)

pytest.importorskip("matplotlib")
from matplotlib.colors import to_hex


def svg_texts(path) -> list:
    """Every piece of text in an SVG that chainrule saved (words are kept as text, not outlines)."""
    found = re.findall(r"<text[^>]*>([^<]*)</text>", path.read_text())
    return [re.sub(r"\s+", " ", html.unescape(t)).strip() for t in found]


def epochs(lr=lambda i: 0.1, grad_norms=True):
    records = []
    for i in range(1, 5):
        record = {"epoch": i, "loss": 1 / i, "val_loss": 1.2 / i, "accuracy": 0.5 + i / 10,
                  "val_accuracy": 0.45 + i / 10, "lr": lr(i), "time": 0.2}
        if grad_norms:
            record["grad_norms"] = {"0": {"grad_norm": 1e-3 * i}, "1": {"dead_relu": 0.2},
                                    "2": {"grad_norm": 0.5}}
        records.append(record)
    return SimpleNamespace(epochs=records)


CONTEXT = {"data": "moons", "model": "mlp 2-4-2, relu", "run": "moons-demo"}


def test_history_names_data_model_and_run_and_has_no_panel_for_a_constant_learning_rate(tmp_path):
    texts = svg_texts(plot_history(epochs(), tmp_path / "h.svg", context=CONTEXT))
    assert "loss and accuracy per epoch (learning rate 0.1 throughout)" in texts
    assert "data moons · model mlp 2-4-2, relu · run moons-demo" in texts
    assert texts.count("train") == 2 and texts.count("validation") == 2  # a legend in each panel
    assert "learning rate" not in texts  # no y label of a learning-rate panel
    assert len(history_figure(epochs()).axes) == 2


def test_a_changing_learning_rate_gets_its_own_panel(tmp_path):
    decaying = epochs(lr=lambda i: 0.1 * 0.5**i)
    texts = svg_texts(plot_history(decaying, tmp_path / "h.svg", context="data xor · run r7"))
    assert "learning rate" in texts and "loss and accuracy per epoch" in texts and "data xor · run r7" in texts
    fig = history_figure(decaying)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy", "learning rate"]
    assert fig.axes[2].get_yscale() == "log"


def test_train_and_validation_keep_their_colours_in_every_panel():
    fig = history_figure(epochs(lr=lambda i: 1.0 / i))
    for ax in fig.axes[:2]:
        colours = {line.get_label(): to_hex(line.get_color()) for line in ax.get_lines()}
        assert colours == {"train": to_hex(TRAIN_COLOR), "validation": to_hex(VALIDATION_COLOR)}
    assert to_hex(TRAIN_COLOR) != to_hex(VALIDATION_COLOR)


def test_gradient_flow_legend_names_each_layer_and_says_per_epoch_means(tmp_path):
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    texts = svg_texts(plot_gradient_flow(epochs(), tmp_path / "g.svg", model=model, context=CONTEXT))
    assert "0 Linear(64->128)" in texts and "2 Linear(128->10)" in texts
    legend = diagnostics.gradient_flow_figure(epochs(), model).axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["0 Linear(64->128)", "2 Linear(128->10)"]
    assert any("per-epoch means" in t for t in texts)
    assert any("mean over the epoch" in t for t in texts)  # the y axis says so too
    assert "data moons · model mlp 2-4-2, relu · run moons-demo" in texts
    assert any(t.startswith("gradient flow") for t in texts)
    # without the model, the names it has
    legend = diagnostics.gradient_flow_figure(epochs()).axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["0", "2"]


def test_gradient_flow_refuses_a_model_that_is_not_a_module(tmp_path):
    with pytest.raises(TypeError, match=r"plot_gradient_flow: model must be an nn\.Module, got str"):
        plot_gradient_flow(epochs(), tmp_path / "g.svg", model="mlp")


def test_context_refuses_unknown_keys_and_types():
    with pytest.raises(ValueError, match=r"context: expected keys among 'data', 'model', 'run', got \['seed'\]"):
        history_figure(epochs(), context={"seed": 1})
    with pytest.raises(TypeError, match="context: expected a str or a dict"):
        history_figure(epochs(), context=3)


def test_curvature_figure_is_titled_and_leaves_blue_and_orange_to_train_and_validation(tmp_path):
    records = [{"epoch": e, "largest": 2.0 / (e + 1), "smallest": -0.5 / (e + 1),
                "verdict": "saddle" if e < 3 else "flat minimum", "sharp_above": 10.0} for e in range(0, 4)]
    texts = svg_texts(plot_curvature(records, tmp_path / "c.svg", context=CONTEXT))
    assert "curvature of the training loss over training (last: flat minimum)" in texts
    assert "data moons · model mlp 2-4-2, relu · run moons-demo" in texts
    fig = diagnostics.curvature_figure(records)
    colours = {to_hex(line.get_color()) for line in fig.axes[0].get_lines()}
    assert not colours & {to_hex(TRAIN_COLOR), to_hex(VALIDATION_COLOR)}


def test_a_run_folder_titles_its_pictures_with_data_model_and_folder(tmp_path, monkeypatch):
    from chainrule.runs import RunConfig, train

    figures = []
    save = diagnostics.save_figure

    def keep(fig, path, **kwargs):
        figures.append(fig)
        return save(fig, path, **kwargs)

    monkeypatch.setattr(diagnostics, "save_figure", keep)
    run = tmp_path / "xor-tiny"
    results = train(RunConfig(data="xor", hidden=(3,), epochs=2, optimizer="adam", run_dir=str(run)), verbose=0)
    assert [p.rsplit("/", 1)[-1] for p in results["plots"]] == ["loss_curve.png", "gradient_flow.png"]
    history, flow = figures
    assert history._suptitle.get_text().endswith("\ndata xor · model mlp 2-3-2, relu · run xor-tiny")
    # loss, accuracy and f1, and no panel for Adam's constant learning rate
    assert [ax.get_ylabel() for ax in history.axes] == ["loss", "accuracy", "f1"]
    legend = [t.get_text() for t in flow.axes[0].get_legend().get_texts()]
    assert legend == ["0 Linear(2->3)", "2 Linear(3->2)"]


def test_the_curvature_command_titles_its_plot_with_the_run(tmp_path, capsys):
    from chainrule.cli import main
    from chainrule.runs import RunConfig, train

    run = tmp_path / "xor-curved"
    train(RunConfig(data="xor", hidden=(3,), epochs=2, run_dir=str(run)), verbose=0)
    assert main(["curvature", str(run), "--samples", "4", "--over-training", "--plot", str(tmp_path / "c.svg")]) == 0
    texts = svg_texts(tmp_path / "c.svg")
    assert "data xor · model mlp 2-3-2, relu · run xor-curved" in texts
    assert any(t.startswith("curvature of the training loss over training") for t in texts)
