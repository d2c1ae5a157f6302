"""The 2-2-1 sigmoid network on XOR, trained by gradient descent on the squared error: most
random initialisations solve it, some get stuck in a local minimum (the loss stalls near 0.125
with two of the four outputs at 0.5), and ``fit(..., restarts=K)`` rescues them by training K
times from fresh initialisations and keeping the best run.

    python examples/xor.py [--quick] [--out DIR]

Writes DIR/xor_restarts.png (the loss curve of each restart).
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import xor
from chainrule.train import fit

EPOCHS = 2000  # full-batch steps; a solved run ends near loss 0.001, a stuck one near 0.125
STUCK = 0.05


def train(X, targets, seed, restarts=1):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=2.0), (X, targets),
                  epochs=EPOCHS, batch_size=4, restarts=restarts, verbose=0)
    with cr.no_grad():
        outputs = model(cr.tensor(X)).numpy().ravel()
    return history, outputs


def main(quick: bool = False, out: str = "runs/examples") -> None:
    X, y = xor()
    targets = y.astype(np.float32).reshape(-1, 1)
    print(f"targets {y.tolist()}; one run of {EPOCHS} epochs per seed:")
    for seed in range(3 if quick else 12):
        history, outputs = train(X, targets, seed)
        loss = history.last["loss"]
        verdict = "stuck in a local minimum" if loss > STUCK else "solved"
        print(f"  seed {seed:2d}: final loss {loss:.4f}, outputs {outputs.round(2)}: {verdict}")

    print("seed 2 again, with fit(..., restarts=4):")
    history, outputs = train(X, targets, seed=2, restarts=4)
    for run in history.runs:
        print(f"  run {run['run']}: final loss {run['loss'][-1]:.4f}")
    print(f"chosen run: {history.best_run}, final loss {history.last['loss']:.4f}, "
          f"outputs {outputs.round(2)}")

    fig = Figure(figsize=(6, 3.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for run in history.runs:
        best = " (chosen)" if run["run"] == history.best_run else ""
        ax.plot(range(1, len(run["loss"]) + 1), run["loss"], label=f"run {run['run']}{best}")
    ax.set(yscale="log", xlabel="epoch", ylabel="MSE", title="XOR, 2-2-1 sigmoid network: 4 restarts")
    ax.legend()
    path = Path(out) / "xor_restarts.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print("wrote", path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds (a smoke test)")
    parser.add_argument("--out", default="runs/examples", help="folder for the pictures")
    main(**vars(parser.parse_args()))
