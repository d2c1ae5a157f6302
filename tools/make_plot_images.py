"""Write the pictures of docs/plots.md (docs/images/demo_loss_curve.png and
demo_gradient_flow.png): the run ``make demo`` trains (``chainrule train --run-dir runs/demo``),
drawn by the same functions as its run folder, at a lower resolution to keep the files small.

    python tools/make_plot_images.py
"""

import tempfile
from pathlib import Path

from chainrule import serialization
from chainrule.diagnostics import gradient_flow_figure, history_figure, save_figure
from chainrule.runs import HISTORY, MODEL, RunConfig, build_model, figure_context, read_config, train
from chainrule.train import History

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "demo"
        train(RunConfig(run_dir=str(run)), verbose=0)
        config, extra = read_config(run)
        model = build_model(config, extra["input_shape"], extra["n_outputs"])
        model.load_state_dict(serialization.load(run / MODEL))
        history = History.load(run / HISTORY)
        context = figure_context(run)
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name, figure in (("demo_loss_curve.png", history_figure(history, context=context)),
                         ("demo_gradient_flow.png", gradient_flow_figure(history, model, context=context))):
        print("wrote", save_figure(figure, IMAGES / name, dpi=72))


if __name__ == "__main__":
    main()
