"""An MLP classifies the bundled 8x8 digits: a validation split for early stopping, a cosine
learning-rate schedule, and the test accuracy at the end (about 97-98%).

    python examples/digits_mlp.py [--quick] [--out DIR]

Writes DIR/digits_mlp_history.png (loss and accuracy curves, learning rate).
"""

import argparse
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import StandardScaler, digits, split
from chainrule.diagnostics import plot_history
from chainrule.optim.lr_scheduler import CosineAnnealingLR
from chainrule.train import EarlyStopping, fit


def main(quick: bool = False, out: str = "runs/examples") -> None:
    cr.manual_seed(0)
    X, y = digits()
    X_train, X_test, y_train, y_test = split(X, y, test_fraction=0.2, seed=0)
    X_train, X_val, y_train, y_val = split(X_train, y_train, test_fraction=0.15, seed=1)
    scaler = StandardScaler().fit(X_train)  # statistics of the training part only
    X_train, X_val, X_test = (scaler.transform(a) for a in (X_train, X_val, X_test))
    print(f"digits: {len(X_train)} train, {len(X_val)} validation, {len(X_test)} test samples")

    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 64), nn.ReLU(),
        nn.Linear(64, 10),
    )
    epochs = 5 if quick else 60
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    started = time.perf_counter()
    history = fit(
        model, nn.CrossEntropyLoss(), optimizer, (X_train, y_train), val_data=(X_val, y_val),
        epochs=epochs, batch_size=32, scheduler=CosineAnnealingLR(optimizer, T_max=epochs),
        callbacks=[EarlyStopping("val_loss", patience=8, restore_best_weights=True)], verbose=0,
    )
    seconds = time.perf_counter() - started
    print(f"trained {len(history)} epochs in {seconds:.1f} s")
    if history.stopped:
        print(history.stopped)
    best = int(np.argmin(history["val_loss"]))
    print(f"best epoch {best + 1}: val_loss {history['val_loss'][best]:.4f}, "
          f"val_accuracy {history['val_accuracy'][best]:.4f}")

    model.eval()  # dropout off; EarlyStopping has put back the best epoch's weights
    with cr.no_grad():
        predicted = model(cr.tensor(X_test)).argmax(dim=1).numpy()
    print(f"test accuracy: {np.mean(predicted == y_test):.4f}")

    Path(out).mkdir(parents=True, exist_ok=True)
    print("wrote", plot_history(history, Path(out) / "digits_mlp_history.png"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few epochs only (a smoke test)")
    parser.add_argument("--out", default="runs/examples", help="folder for the pictures")
    main(**vars(parser.parse_args()))
