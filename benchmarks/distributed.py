"""Data-parallel training speed: samples/s of one process against mpiexec -n 2, same global batch.

    python benchmarks/distributed.py [--quick]

Each configuration runs in fresh processes started by the mpich wheel's mpiexec (``-n 1`` for
one process): an MLP on the bundled digits (1797 x 64, 10 classes), float32, SGD with momentum,
global batch 64 (32 per rank with 2 ranks), one warm-up epoch, then timed epochs. The worker
times the gradient averaging (``average_gradients``) apart from the rest of the step. Prints a
Markdown table (median and best of the rounds); the numbers go into NOTES_distributed.md by hand.
Never collected by pytest.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GLOBAL_BATCH = 64


def worker(hidden: int, epochs: int) -> None:
    import numpy as np

    import chainrule as cr
    from chainrule import distributed, nn, optim
    from chainrule.data import digits

    distributed.init()
    world = distributed.world_size()
    x, y = digits(scale=True)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                          nn.Linear(hidden, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    distributed.broadcast_parameters(model)
    distributed.broadcast_rng_state()
    batch = GLOBAL_BATCH // world
    timed = {"samples": 0, "seconds": 0.0, "average_seconds": 0.0}
    for epoch in range(epochs + 1):  # epoch 0 warms up
        order = distributed.shard(cr.random.get_generator().permutation(len(x)))
        distributed.barrier()
        started, averaging = time.perf_counter(), 0.0
        for start in range(0, len(order), batch):
            index = order[start:start + batch]
            loss = loss_fn(model(cr.tensor(x[index])), cr.tensor(y[index]))
            optimizer.zero_grad()
            loss.backward()
            t = time.perf_counter()
            distributed.average_gradients(model.parameters(), float(loss._data))
            averaging += time.perf_counter() - t
            optimizer.step()
        distributed.barrier()
        if epoch > 0:
            timed["samples"] += len(order) * world
            timed["seconds"] += time.perf_counter() - started
            timed["average_seconds"] += averaging
    params = sum(p._data.size for p in model.parameters())
    if distributed.is_main():
        print(json.dumps({**timed, "parameters": int(params), "world": world,
                          "final_loss": float(loss._data), "numpy": np.__version__}))


def run(ranks: int, threads: int, hidden: int, epochs: int) -> dict:
    mpiexec = Path(sys.executable).with_name("mpiexec")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    command = [str(mpiexec), "-n", str(ranks), sys.executable, __file__, "--worker", str(hidden), str(epochs)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    quick = "--quick" in sys.argv
    repeats, scale = (1, 0.2) if quick else (5, 1)
    configs = [(hidden, max(1, int(epochs * scale)), ranks, threads)
               for hidden, epochs in ((128, 40), (512, 10))  # about a second per run
               for ranks, threads in ((1, 1), (1, 2), (2, 1))]
    results = {config: [] for config in configs}
    for _ in range(repeats):  # rounds, so that a busy moment of the machine hits every configuration
        for config in configs:
            hidden, epochs, ranks, threads = config
            results[config].append(run(ranks, threads, hidden, epochs))
    print(f"global batch {GLOBAL_BATCH}, float32, {os.cpu_count()} CPUs, {repeats} rounds; "
          f"load average now {os.getloadavg()[0]:.1f}\n")
    print("| model (hidden, parameters) | ranks x BLAS threads | samples/s median | best "
          "| time in average_gradients (median) |")
    print("|---|---|---|---|---|")
    for (hidden, _, ranks, threads), runs in results.items():
        rates = [r["samples"] / r["seconds"] for r in runs]
        share = statistics.median(r["average_seconds"] / r["seconds"] for r in runs)
        median = statistics.median(rates)
        print(f"| {hidden}, {runs[0]['parameters']:,} | {ranks} x {threads} | {median:,.0f} "
              f"| {max(rates):,.0f} | {share:.0%} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
