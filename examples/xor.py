"""The 2-2-1 sigmoid network on XOR, trained by gradient descent on the squared error: most
random initialisations solve it, some get stuck in a local minimum (the loss stalls near 0.125
with two of the four outputs at 0.5), and ``fit(..., restarts=K)`` rescues them by training K
times from fresh initialisations and keeping the best run. The pictures show why: a solved network
bends its decision boundary into a band that holds (0, 1) and (1, 0); a stuck one leaves two
corners on the fence, at probability 0.5.

    python examples/xor.py [--quick] [--out DIR]

Writes DIR/xor_restarts.png (the loss curve of each restart), DIR/xor_boundaries.png (the
decision boundary of the stuck run next to the one restarts chose) and DIR/xor_restarts.gif (the
boundary of each restart over training, one run after the other).
"""

import argparse
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import xor
from chainrule.diagnostics import new_figure, save_figure
from chainrule.train import fit
from chainrule.viz import DecisionBoundaryAnimation, plot_decision_boundary

EPOCHS = 2000  # full-batch steps; a solved run ends near loss 0.001, a stuck one near 0.125
STUCK = 0.05
STUCK_SEED = 2  # a seed whose initialisation gets stuck


def train(X, targets, seed, restarts=1, callbacks=()):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=2.0), (X, targets),
                  epochs=EPOCHS, batch_size=4, restarts=restarts, callbacks=list(callbacks), verbose=0)
    with cr.no_grad():
        outputs = model(cr.tensor(X)).numpy().ravel()
    return model, history, outputs


def main(quick: bool = False, out: str = "runs/examples") -> None:
    out = Path(out)
    X, y = xor()
    targets = y.astype(np.float32).reshape(-1, 1)
    print(f"targets {y.tolist()}; one run of {EPOCHS} epochs per seed:")
    for seed in range(3 if quick else 12):
        model, history, outputs = train(X, targets, seed)
        loss = history.last["loss"]
        verdict = "stuck in a local minimum" if loss > STUCK else "solved"
        print(f"  seed {seed:2d}: final loss {loss:.4f}, outputs {outputs.round(2)}: {verdict}")
        if seed == STUCK_SEED:
            stuck, stuck_loss = model, loss

    print(f"seed {STUCK_SEED} again, with fit(..., restarts=4):")
    # Frames every 1000 (quick) or 400 epochs: 3 or 6 per run, each run shown after the other.
    animation = DecisionBoundaryAnimation(X, y, every=1000 if quick else 400, resolution=50, margin=0.5,
                                          data_name="XOR", dpi=50)
    rescued, history, outputs = train(X, targets, seed=STUCK_SEED, restarts=4, callbacks=[animation])
    for run in history.runs:
        print(f"  run {run['run']}: final loss {run['loss'][-1]:.4f}")
    print(f"chosen run: {history.best_run}, final loss {history.last['loss']:.4f}, "
          f"outputs {outputs.round(2)}")

    fig = new_figure(6, 3.5)
    ax = fig.subplots()
    for run in history.runs:
        best = " (chosen)" if run["run"] == history.best_run else ""
        ax.plot(range(1, len(run["loss"]) + 1), run["loss"], label=f"run {run['run']}{best}")
    ax.set(yscale="log", xlabel="epoch", ylabel="MSE", title="XOR, 2-2-1 sigmoid network: 4 restarts")
    ax.legend()
    print("wrote", save_figure(fig, out / "xor_restarts.png"))

    fig = new_figure(12, 5.2)
    left, right = fig.subplots(1, 2)
    plot_decision_boundary(stuck, X, y, ax=left, margin=0.5,
                           title=f"XOR, seed {STUCK_SEED}, one run: stuck (loss {stuck_loss:.4f})")
    plot_decision_boundary(rescued, X, y, ax=right, margin=0.5,
                           title=f"XOR, seed {STUCK_SEED}, restarts=4: run {history.best_run} chosen "
                                 f"(loss {history.last['loss']:.4f})")
    print("wrote", save_figure(fig, out / "xor_boundaries.png", dpi=80))
    print(f"wrote {animation.save(out / 'xor_restarts.gif')} ({len(animation.frames)} frames: "
          f"{1 + animation.frames[-1]['run']} runs, epochs 0 to {animation.frames[-1]['epoch']} each)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds (a smoke test)")
    parser.add_argument("--out", default="runs/examples", help="folder for the pictures")
    main(**vars(parser.parse_args()))
