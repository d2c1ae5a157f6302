"""Paired A/B timing of two chainrule source trees on bench.py's workloads: did a change make a
step slower? Drift on this shared machine (up to 2x within minutes) swamps a few percent between
two separate `make bench` runs; here two warm workers, one per tree, run the same number of steps
per block, alternating in ABBA order, and the ratio is the median of the pairs' after/before.

    python benchmarks/ab.py BEFORE_DIR AFTER_DIR [--only=xor,mlp32] [--pairs=21] [--seconds=0.3]

BEFORE_DIR and AFTER_DIR hold a `chainrule` package each (e.g. `git worktree add /tmp/before
ff59953`); each worker imports chainrule from its tree (PYTHONPATH) and runs bench.py's worker.
Give the same tree twice for an A/A control: its ratio shows the method's own bias. Never
collected by pytest.
"""

import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import WORKLOADS, _Worker

FIRST_ORDER = ("xor", "mlp32", "mlp128", "mlp1024", "cnn", "gru", "mlp_inference")


def compare(workload, trees, pairs, seconds):
    """Seconds per step of each tree (medians) and the after/before ratios of the pairs."""
    workers = [_Worker("chainrule", workload, env={**os.environ, "PYTHONPATH": str(tree)}) for tree in trees]
    per_step = workers[0].block(max(2, int(0.05 / max(workers[0].facts["probe"], 1e-7))))  # warm, then timed
    steps = max(2, int(seconds / per_step))
    for w in workers:
        w.block(steps)  # warm-up at the block size
    times = [[], []]
    for i in range(pairs):
        for j in ((0, 1) if i % 2 == 0 else (1, 0)):  # ABBA: neither tree always runs first
            times[j].append(workers[j].block(steps))
    for w in workers:
        w.close()
    ratios = sorted(a / b for b, a in zip(*times))
    return [statistics.median(t) for t in times], ratios


def main():
    before, after = (Path(a).resolve() for a in sys.argv[1:3])
    options = dict(a[2:].split("=", 1) for a in sys.argv[3:] if a.startswith("--") and "=" in a)
    only = options["only"].split(",") if "only" in options else FIRST_ORDER
    pairs, seconds = int(options.get("pairs", 21)), float(options.get("seconds", 0.3))
    print(f"after: {after}  before: {before}  ({pairs} pairs of {seconds} s blocks; above 1: after is slower)")
    print(f"{'workload':16s} {'before us':>10s} {'after us':>10s} {'after/before':>12s}  quartiles    pair range")
    for key in only:
        if key not in WORKLOADS:
            raise SystemExit(f"ab.py: unknown workload {key!r}; bench.py has {', '.join(WORKLOADS)}")
        (t_before, t_after), ratios = compare(key, (before, after), pairs, seconds)
        q1, median, q3 = statistics.quantiles(ratios, n=4)
        print(f"{key:16s} {t_before * 1e6:10.1f} {t_after * 1e6:10.1f} {median:12.3f}  {q1:.3f}-{q3:.3f}  "
              f"{ratios[0]:.3f}-{ratios[-1]:.3f}", flush=True)


if __name__ == "__main__":
    main()
