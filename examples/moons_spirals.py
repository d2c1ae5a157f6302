"""A network bends its decision boundary around the data: on the two moons, a model without a
hidden layer can only draw a straight line (88% test accuracy) while a 2-16-16-2 tanh network
follows the arcs (99%); on three interleaved spirals a 2-64-64-3 ReLU network
winds its boundaries along the arms, and an animation shows them form epoch by epoch.

    python examples/moons_spirals.py [--quick] [--out DIR]

Writes DIR/moons_boundary.png (the straight line next to the bent boundary),
DIR/spirals_boundary.png and DIR/spirals_training.gif (the boundary over training).
"""

import argparse
import itertools
from pathlib import Path

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import moons, spirals, split
from chainrule.diagnostics import new_figure, save_figure
from chainrule.train import fit
from chainrule.viz import DecisionBoundaryAnimation, plot_decision_boundary


def train(model, X, y, epochs, callbacks=()):
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), (X, y), epochs=epochs,
        batch_size=32, callbacks=list(callbacks), verbose=0)
    return model


def accuracy(model, X, y):
    with cr.no_grad():
        return float((model(cr.tensor(X)).numpy().argmax(axis=1) == y).mean())


def main(quick: bool = False, out: str = "runs/examples") -> None:
    out = Path(out)
    cr.manual_seed(0)
    X, y = moons(300, noise=0.2, seed=0)
    X_train, X_test, y_train, y_test = split(X, y, test_fraction=0.25, seed=0)
    epochs = 100 if quick else 200
    fig = new_figure(12, 5.2)
    for ax, hidden in zip(fig.subplots(1, 2), ([], [16, 16])):
        sizes = [2, *hidden, 2]
        layers = []
        for n_in, n_out in itertools.pairwise(sizes):
            layers += [nn.Linear(n_in, n_out), nn.Tanh()]
        model = train(nn.Sequential(*layers[:-1]), X_train, y_train, epochs)  # no activation after the last
        name = "no hidden layer (a linear model)" if not hidden else f"hidden layers of {hidden}"
        print(f"moons, {name}: test accuracy {accuracy(model, X_test, y_test):.3f}")
        plot_decision_boundary(model, X_train, y_train, X_test=X_test, y_test=y_test, ax=ax, data_name="moons",
                               resolution=150)
    print("wrote", save_figure(fig, out / "moons_boundary.png", dpi=80))

    X, y = spirals(300, n_classes=3, noise=0.05, seed=0)
    X_train, X_test, y_train, y_test = split(X, y, test_fraction=0.25, seed=0)
    epochs = 60 if quick else 150
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    animation = DecisionBoundaryAnimation(X_train, y_train, X_test=X_test, y_test=y_test, data_name="spirals",
                                          every=epochs // (10 if quick else 30), max_frames=31, resolution=60, dpi=50)
    train(model, X_train, y_train, epochs, callbacks=[animation])
    print(f"spirals, hidden layers of [64, 64]: test accuracy {accuracy(model, X_test, y_test):.3f}")
    plot_decision_boundary(model, X_train, y_train, out / "spirals_boundary.png", X_test=X_test,
                                  y_test=y_test, data_name="spirals")
    print("wrote", out / "spirals_boundary.png")
    print(f"wrote {animation.save(out / 'spirals_training.gif')} ({len(animation.frames)} frames, "
          f"epochs {animation.frames[0]['epoch']} to {animation.frames[-1]['epoch']})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs (a smoke test)")
    parser.add_argument("--out", default="runs/examples", help="folder for the pictures")
    main(**vars(parser.parse_args()))
