"""A fully connected autoencoder on the 8x8 digits: the encoder squeezes 64 pixels into a code of
12 numbers, the decoder rebuilds the image from it, and the whole network is trained to give
back its input (mean squared error, no labels needed).

    python examples/autoencoder.py [--quick] [--out DIR]

Writes DIR/autoencoder.png: a row of test digits above a row of their reconstructions.
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import digits, split
from chainrule.train import fit


def main(quick: bool = False, out: str = "runs/examples") -> None:
    cr.manual_seed(0)
    X, y = digits(scale=True)  # pixels in [0, 1]
    X_train, X_test, _, y_test = split(X, y, test_fraction=0.2, seed=0)  # labels only to pick examples

    encoder = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 12))
    decoder = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid())
    model = nn.Sequential(encoder, decoder)
    epochs = 3 if quick else 200
    history = fit(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=3e-3), (X_train, X_train),
                  epochs=epochs, batch_size=64, metrics=(), verbose=0)
    print(f"trained {epochs} epochs; final training loss {history.last['loss']:.4f}")

    with cr.no_grad():
        reconstructed = model(cr.tensor(X_test)).numpy()
    error = np.mean((reconstructed - X_test) ** 2)
    baseline = np.mean((X_train.mean(axis=0) - X_test) ** 2)  # every image guessed as the mean image
    print(f"test reconstruction error (MSE): {error:.4f}  (the mean image scores {baseline:.4f})")

    shown = [int(np.flatnonzero(y_test == digit)[0]) for digit in range(10)]  # one test image per digit
    fig = Figure(figsize=(10, 2.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 10)
    for column, i in enumerate(shown):
        for row, images in enumerate((X_test, reconstructed)):
            axes[row, column].imshow(images[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            axes[row, column].set_axis_off()
    fig.suptitle(f"digits (top) and their reconstructions from 12 numbers (bottom), test MSE {error:.4f}")
    path = Path(out) / "autoencoder.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print("wrote", path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs only (a smoke test)")
    parser.add_argument("--out", default="runs/examples", help="folder for the pictures")
    main(**vars(parser.parse_args()))
