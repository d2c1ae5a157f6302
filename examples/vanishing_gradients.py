"""Vanishing gradients, and three cures. A 20-layer sigmoid MLP does not learn the digits: each
sigmoid multiplies the backward signal by at most 1/4, so the gradient that reaches the first
layer is many orders of magnitude smaller than at the last. The same depth learns with ReLU and
He initialisation, with residual connections (x + f(x), nn.Residual) around the sigmoid layers,
or with batch normalisation before each sigmoid. The per-layer gradient norms come from the
History that fit() fills (diagnostics.GradientMonitor runs inside it).

    python examples/vanishing_gradients.py [--quick] [--out DIR]

Writes DIR/vanishing_gradients.png: each variant's per-layer gradient norm, first epoch.
"""

import argparse
import warnings
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import digits, split
from chainrule.diagnostics import GradientFlowWarning, check_gradient_flow
from chainrule.train import fit

DEPTH, WIDTH = 20, 32  # 20 Linear layers


def deep_mlp(activation=nn.Sigmoid, residual=False, batch_norm=False):
    """Linear(64 -> 32), activation, 18 hidden blocks (Linear(32 -> 32), [BatchNorm1d], activation,
    each inside nn.Residual with ``residual``), Linear(32 -> 10)."""
    blocks = []
    for _ in range(DEPTH - 2):
        norm = [nn.BatchNorm1d(WIDTH)] if batch_norm else []
        block = nn.Sequential(nn.Linear(WIDTH, WIDTH), *norm, activation())
        blocks.append(nn.Residual(block) if residual else block)
    return nn.Sequential(nn.Linear(64, WIDTH), activation(), *blocks, nn.Linear(WIDTH, 10))


def he_init(model):
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return model


VARIANTS = {
    "sigmoid": lambda: deep_mlp(),
    "ReLU + He init": lambda: he_init(deep_mlp(nn.ReLU)),
    "sigmoid + residual": lambda: deep_mlp(residual=True),
    "sigmoid + batch norm": lambda: deep_mlp(batch_norm=True),
}


def main(quick: bool = False, out: str = "runs/examples") -> None:
    X, y = digits(scale=True)
    X_train, X_test, y_train, y_test = split(X, y, test_fraction=0.2, seed=0)  # test: only reported
    epochs = 2 if quick else 30
    warnings.simplefilter("ignore", GradientFlowWarning)  # we report the flow ourselves below
    fig = Figure(figsize=(12, 3.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(VARIANTS), sharey=True)
    print(f"{DEPTH}-layer MLPs on the digits, Adam, {epochs} epochs:")
    for ax, (name, make) in zip(axes, VARIANTS.items()):
        cr.manual_seed(0)
        model = make()
        # Adam rescales every gradient, yet not one of 1e-16: that is far below its eps of 1e-8.
        optimizer = optim.Adam(model.parameters(), lr=1e-3)
        history = fit(model, nn.CrossEntropyLoss(), optimizer, (X_train, y_train), val_data=(X_test, y_test),
                      epochs=epochs, batch_size=32, verbose=0)
        linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        norms = [history.epochs[0]["grad_norms"][n]["grad_norm"] for n in linears]  # first epoch's mean
        problem = check_gradient_flow(dict(zip(linears, norms)))
        print(f"  {name:21s} gradient norm first/last layer {norms[0] / norms[-1]:.1e}   "
              f"test accuracy {history.last['val_accuracy']:.4f}   {'VANISHING' if problem else 'flows'}")
        ax.bar(np.arange(1, DEPTH + 1), norms, color="tab:red" if problem else "tab:blue")
        ax.set(yscale="log", title=name, xlabel="layer (1 = input side)")
    axes[0].set_ylabel("gradient norm, epoch 1")
    path = Path(out) / "vanishing_gradients.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print("wrote", path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs only (a smoke test)")
    parser.add_argument("--out", default="runs/examples", help="folder for the pictures")
    main(**vars(parser.parse_args()))
