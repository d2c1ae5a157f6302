"""A small grid search over MLP architectures on the digits: hidden width, depth and learning
rate, each trained for the same epochs and ranked by accuracy on a validation split; the test
split is touched once, by the winner only.

    python examples/architecture_search.py [--quick] [--out DIR]

Writes DIR/architecture_search.csv (the ranked table).
"""

import argparse
import csv
import itertools
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import StandardScaler, digits, split
from chainrule.models import mlp
from chainrule.train import fit


def main(quick: bool = False, out: str = "runs/examples") -> None:
    X, y = digits()
    X_train, X_test, y_train, y_test = split(X, y, test_fraction=0.2, seed=0)
    X_train, X_val, y_train, y_val = split(X_train, y_train, test_fraction=0.2, seed=1)
    scaler = StandardScaler().fit(X_train)
    X_train, X_val, X_test = (scaler.transform(a) for a in (X_train, X_val, X_test))

    widths, depths, rates = ((32,), (1, 2), (1e-2,)) if quick else ((32, 128), (1, 2, 3), (1e-3, 1e-2))
    epochs = 3 if quick else 20
    results = []
    for width, depth, lr in itertools.product(widths, depths, rates):
        cr.manual_seed(0)  # the same initial draws and batch order for every configuration
        model = mlp(64, hidden=[width] * depth, out_features=10)
        started = time.perf_counter()
        history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=lr), (X_train, y_train),
                      val_data=(X_val, y_val), epochs=epochs, batch_size=32, verbose=0)
        parameters = sum(p.numel() for p in model.parameters())
        results.append({
            "width": width, "depth": depth, "lr": lr, "parameters": parameters,
            "val_accuracy": history.last["val_accuracy"], "val_loss": history.last["val_loss"],
            "seconds": time.perf_counter() - started, "model": model,
        })
    results.sort(key=lambda r: (-r["val_accuracy"], r["val_loss"]))

    print(f"{len(results)} MLPs on the digits, Adam, {epochs} epochs, ranked by validation accuracy:")
    print(" rank  width  depth      lr  parameters  val_accuracy  val_loss  seconds")
    for rank, r in enumerate(results, 1):
        print(f"{rank:5d}  {r['width']:5d}  {r['depth']:5d}  {r['lr']:6g}  {r['parameters']:10d}  "
              f"{r['val_accuracy']:12.4f}  {r['val_loss']:8.4f}  {r['seconds']:7.1f}")

    best = results[0]
    with cr.no_grad():
        predicted = best["model"].eval()(cr.tensor(X_test)).argmax(dim=1).numpy()
    print(f"best: width {best['width']}, depth {best['depth']}, lr {best['lr']:g}; "
          f"test accuracy {np.mean(predicted == y_test):.4f}")

    path = Path(out) / "architecture_search.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        columns = [k for k in best if k != "model"]
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(results)
    print("wrote", path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 configurations, 3 epochs (a smoke test)")
    parser.add_argument("--out", default="runs/examples", help="folder for the results table")
    main(**vars(parser.parse_args()))
