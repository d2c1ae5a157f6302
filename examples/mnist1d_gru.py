"""A GRU reads each MNIST-1D signal as a sequence of 40 one-number steps, forwards and backwards
(bidirectional), and a Linear layer classifies the hidden states of all steps: the MNIST-1D
paper's GRU baseline (Greydanus, 2020; about 91% there), here with 12 units per direction.
The gradient reaches the weights by backpropagation through time: backward() walks the graph
of the unrolled 40-step recurrence.

    python examples/mnist1d_gru.py [--quick] [--out DIR]

Measured (full mode, 60 epochs, 2 CPU cores): test accuracy 94.5% after 37-57 s of training.
Writes DIR/mnist1d_gru_history.png (loss and accuracy per epoch, learning rate).
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


class GRUClassifier(nn.Module):
    """(N, L) signals -> (N, classes) scores."""

    def __init__(self, hidden_size: int = 12, length: int = 40, classes: int = 10):
        super().__init__()
        self.gru = nn.GRU(1, hidden_size, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden_size * length, classes)

    def forward(self, x):
        states, _ = self.gru(x.unsqueeze(-1))  # (N, L, 1) -> (N, L, 2 * hidden_size)
        return self.head(states.flatten(1))


def main(quick: bool = False, out: str = "runs/examples") -> None:
    cr.manual_seed(0)
    X_train, y_train = mnist1d(train=True)
    X_test, y_test = mnist1d(train=False)
    if quick:
        X_train, y_train, X_test, y_test = X_train[:300], y_train[:300], X_test[:200], y_test[:200]
    print(f"MNIST-1D: {len(X_train)} training and {len(X_test)} test sequences of length {X_train.shape[1]}")

    model = GRUClassifier()
    epochs = 2 if quick else 60
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    started = time.perf_counter()
    history = fit(model, nn.CrossEntropyLoss(), optimizer, (X_train, y_train), epochs=epochs,
                  batch_size=100, scheduler=CosineAnnealingLR(optimizer, T_max=epochs), verbose=0)
    seconds = time.perf_counter() - started
    print(f"trained {epochs} epochs in {seconds:.1f} s; training accuracy {history.last['accuracy']:.4f}")

    with cr.no_grad():
        predicted = model(cr.tensor(X_test)).argmax(dim=1).numpy()
    print(f"test accuracy: {np.mean(predicted == y_test):.4f}")

    Path(out).mkdir(parents=True, exist_ok=True)
    print("wrote", plot_history(history, Path(out) / "mnist1d_gru_history.png"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs on 300 sequences (a smoke test)")
    parser.add_argument("--out", default="runs/examples", help="folder for the pictures")
    main(**vars(parser.parse_args()))
