"""A 1-d convolutional network on MNIST-1D (4000 training, 1000 test signals of 40 points, 10
classes): three blocks of Conv1d, BatchNorm1d, ReLU and max-pooling, then a Linear classifier,
trained with AdamW and a cosine schedule. The MNIST-1D paper (Greydanus, 2020) reports about 94%
for its small CNN; this one, wider and with batch norm, does better.

    python examples/mnist1d_cnn.py [--quick] [--out DIR]

Measured (full mode, 40 epochs, 2 CPU cores): test accuracy 97.7% after 13-18 s of training.
Writes DIR/mnist1d_cnn_history.png (loss and accuracy per epoch, learning rate).
"""

import argparse
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import mnist1d
from chainrule.diagnostics import plot_history
from chainrule.optim.lr_scheduler import CosineAnnealingLR
from chainrule.train import fit


def block(in_channels, out_channels):
    """(N, C_in, L) -> (N, C_out, L / 2)"""
    return [nn.Conv1d(in_channels, out_channels, kernel_size=5, padding=2), nn.BatchNorm1d(out_channels),
            nn.ReLU(), nn.MaxPool1d(2)]


def main(quick: bool = False, out: str = "runs/examples") -> None:
    cr.manual_seed(0)
    X_train, y_train = mnist1d(train=True)
    X_test, y_test = mnist1d(train=False)
    X_train, X_test = X_train[:, None, :], X_test[:, None, :]  # one input channel: (N, 1, 40)
    if quick:
        X_train, y_train = X_train[:500], y_train[:500]
    print(f"MNIST-1D: {len(X_train)} training and {len(X_test)} test signals of shape {X_train.shape[1:]}")

    model = nn.Sequential(
        *block(1, 32), *block(32, 32), *block(32, 64),  # 40 -> 20 -> 10 -> 5 points
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(64 * 5, 10),
    )
    epochs = 2 if quick else 40
    optimizer = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    started = time.perf_counter()
    history = fit(model, nn.CrossEntropyLoss(), optimizer, (X_train, y_train), epochs=epochs,
                  batch_size=100, scheduler=CosineAnnealingLR(optimizer, T_max=epochs), verbose=0)
    seconds = time.perf_counter() - started
    print(f"trained {epochs} epochs in {seconds:.1f} s; training accuracy {history.last['accuracy']:.4f}")

    model.eval()  # batch norm uses its running statistics, dropout is off
    with cr.no_grad():
        predicted = model(cr.tensor(X_test)).argmax(dim=1).numpy()
    print(f"test accuracy: {np.mean(predicted == y_test):.4f}")

    Path(out).mkdir(parents=True, exist_ok=True)
    print("wrote", plot_history(history, Path(out) / "mnist1d_cnn_history.png"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs on 500 signals (a smoke test)")
    parser.add_argument("--out", default="runs/examples", help="folder for the pictures")
    main(**vars(parser.parse_args()))
