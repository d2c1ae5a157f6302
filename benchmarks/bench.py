"""Side-by-side training and inference speed of chainrule and PyTorch (CPU) on the same shapes.

    python benchmarks/bench.py [--quick] [--only=mlp32,xor,...]     (or: make bench)

Each measurement runs in a fresh worker process that imports one library only (so neither
library's thread pool disturbs the other), with 2 threads, float32, SGD with momentum and
identical shapes; after a warm-up, the median of several timed blocks gives seconds per step.
Workers for the two libraries alternate, several rounds each, and each library's best round is
reported (the machine's speed drifts), with each worker's peak RSS. Writes benchmarks/results.json
and benchmarks/RESULTS.md. Never collected by pytest.
"""

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

THREADS = "2"
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = THREADS

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
MLP_FLOPS = 2 * (784 * 256 + 256 * 256 + 256 * 10)  # multiply-adds x 2 per sample, forward


# ---------------------------------------------------------------------------- workloads
def _library(lib):
    """(nn, optim, tensor-from-numpy, no_grad) of the library."""
    if lib == "torch":
        import torch

        torch.set_num_threads(int(THREADS))
        return torch.nn, torch.optim, torch.from_numpy, torch.no_grad
    import chainrule as cr

    return cr.nn, cr.optim, cr.from_numpy, cr.no_grad


def _training_step(lib, build, x, y, captured=False):
    """One SGD-with-momentum step; ``captured``: chainrule's captured step (compile_step) against
    PyTorch's eager step."""
    nn, optim, to_tensor, _ = _library(lib)
    model = build(nn)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.MSELoss() if y.dtype.kind == "f" else nn.CrossEntropyLoss()
    xt, yt = to_tensor(x), to_tensor(y)
    if captured and lib == "chainrule":
        import chainrule

        captured_step = chainrule.compile_step(model, loss_fn, opt)
        return lambda: captured_step(xt, yt)

    def step():
        opt.zero_grad()
        loss_fn(model(xt), yt).backward()
        opt.step()

    return step


def _mlp(nn):
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def _data(shape, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, classes, shape[0])


def mlp(lib, batch, captured=False):
    # forward, then the weight gradients and the input gradients of every layer but the first
    flops = (3 * MLP_FLOPS - 2 * 784 * 256) * batch
    return _training_step(lib, _mlp, *_data((batch, 784)), captured), batch, flops


def xor(lib, captured=False):
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)

    def build(nn):
        return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())

    return _training_step(lib, build, x, y, captured), 4, None


def cnn(lib, captured=False):
    def build(nn):
        return nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 10))

    return _training_step(lib, build, *_data((64, 1, 28, 28)), captured), 64, None


def gru(lib):
    nn = _library(lib)[0]

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = nn.GRU(1, 128, batch_first=True), nn.Linear(128, 10)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])

    return _training_step(lib, lambda _: Classifier(), *_data((100, 40, 1))), 100, None


def mlp_numpy_floor(lib, batch=32):
    """The MLP step written out in NumPy by hand (no framework: the same products, oriented as
    chainrule orients them, ReLU, softmax cross-entropy and SGD with momentum): what any NumPy
    framework can at best reach. The "chainrule" worker runs it; the PyTorch worker runs its eager step."""
    if lib == "torch":
        return mlp(lib, batch)
    rng = np.random.default_rng(0)
    x, y = _data((batch, 784))
    shapes = [(256, 784), (256, 256), (10, 256)]
    weights = [np.asarray(rng.uniform(-0.05, 0.05, s), np.float32, order="F" if s[1] > s[0] else "C") for s in shapes]
    params = [a for w in weights for a in (w, np.zeros(w.shape[0], np.float32))]
    buffers = [None] * len(params)

    def product(a, b):
        return a @ b if a.shape[0] >= b.shape[1] else (b.T @ a.T).T

    def step():
        (w1, b1, w2, b2, w3, b3) = params
        a1 = product(x, w1.T)
        a1 += b1
        a1 = np.maximum(a1, 0)
        a2 = product(a1, w2.T)
        a2 += b2
        a2 = np.maximum(a2, 0)
        z = product(a2, w3.T)
        z += b3
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(batch), y] -= 1
        p /= batch
        g2 = product(p, w3) * (a2 > 0)
        g1 = product(g2, w2) * (a1 > 0)
        grads = [(x.T @ g1).T, g1.sum(0), g2.T @ a1, g2.sum(0), p.T @ a2, p.sum(0)]
        for i, (param, grad) in enumerate(zip(params, grads)):
            if buffers[i] is None:
                buffers[i] = grad.copy(order="K")
            else:
                buffers[i] *= 0.9
                buffers[i] += grad
            param -= 0.01 * buffers[i]

    return step, batch, (3 * MLP_FLOPS - 2 * 784 * 256) * batch


def mlp_inference(lib, batch=1024):
    nn, _, to_tensor, no_grad = _library(lib)
    model = _mlp(nn)
    x = to_tensor(_data((batch, 784))[0])

    def step():
        with no_grad():
            model(x)

    return step, batch, MLP_FLOPS * batch


WORKLOADS = {
    "mlp32": ("MLP 784-256-256-10, batch 32, training", lambda lib: mlp(lib, 32)),
    "mlp128": ("MLP 784-256-256-10, batch 128, training", lambda lib: mlp(lib, 128)),
    "mlp1024": ("MLP 784-256-256-10, batch 1024, training", lambda lib: mlp(lib, 1024)),
    "xor": ("2-8-1 network on XOR (4 samples), training", xor),
    "cnn": ("CNN conv16-pool-conv32-pool-linear, batch 64 of 1x28x28, training", cnn),
    "gru": ("GRU hidden 128, 100 sequences of length 40, training", gru),
    "mlp_inference": ("MLP 784-256-256-10, batch 1024, inference (forward only)", mlp_inference),
    # chainrule's captured step (compile_step) against PyTorch's eager step
    "mlp32_captured": ("MLP batch 32, captured step (chainrule.compile_step)", lambda lib: mlp(lib, 32, True)),
    "xor_captured": ("XOR 2-8-1, captured step", lambda lib: xor(lib, True)),
    "cnn_captured": ("CNN batch 64, captured step", lambda lib: cnn(lib, True)),
    "mlp32_numpy": ("MLP batch 32 written out in plain NumPy (the floor, not chainrule)", mlp_numpy_floor),
}


# ---------------------------------------------------------------------------- a worker process
def _block(step, n):
    started = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - started) / n


def worker(lib, workload, seconds):
    step, batch, flops = WORKLOADS[workload][1](lib)
    probe = _block(step, 2)
    per_block = max(2, int(seconds / 8 / max(probe, 1e-7)))
    _block(step, per_block)  # warm-up
    times = [_block(step, per_block) for _ in range(7)]
    return {"seconds_per_step": statistics.median(times), "batch": batch, "flops": flops,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _run_worker(lib, workload, seconds):
    out = subprocess.run([sys.executable, __file__, "--worker", lib, workload, str(seconds)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- machine facts
def matmul_peak_gflops():
    """NumPy's float32 matrix-product rate (2 threads): the ceiling for training on this machine."""
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    a @ a
    return 2 * 1024**3 / min(_block(lambda: a @ a, 5) for _ in range(3)) / 1e9


def import_seconds(module):
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return statistics.median(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                  check=True).stdout) for _ in range(5))


def machine():
    cpu = platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                              capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "torch": versions, "threads": int(THREADS), "date": time.strftime("%Y-%m-%d"),
            "load_average": os.getloadavg()[0]}


# ---------------------------------------------------------------------------- the report
def main():
    quick = "--quick" in sys.argv
    only = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--only=")), None)
    seconds, rounds = (0.5, 1) if quick else (1.5, 5)
    peak = matmul_peak_gflops()  # measured again at the end: the best of the two counts
    rows = []
    for key, (title, _) in WORKLOADS.items():
        if only and key not in only:
            continue
        runs = {"chainrule": [], "torch": []}
        for _ in range(rounds):
            for lib in ("chainrule", "torch"):
                runs[lib].append(_run_worker(lib, key, seconds))
        # This shared 2-core machine's speed drifts between runs: each library's best round (each
        # round itself a median of blocks) is the least disturbed estimate of what it can do.
        med = {lib: min(r, key=lambda w: w["seconds_per_step"]) for lib, r in runs.items()}
        cr_s, torch_s = med["chainrule"]["seconds_per_step"], med["torch"]["seconds_per_step"]
        batch, flops = med["chainrule"]["batch"], med["chainrule"]["flops"]
        row = {"workload": key, "title": title, "chainrule_samples_per_s": batch / cr_s,
               "torch_samples_per_s": batch / torch_s, "ratio": torch_s / cr_s,
               "chainrule_peak_rss_mb": med["chainrule"]["peak_rss_mb"],
               "torch_peak_rss_mb": med["torch"]["peak_rss_mb"]}
        if flops:
            row["share_of_matmul_peak"] = flops / cr_s / 1e9 / peak
        rows.append(row)
        print(f"{key:14s} chainrule {row['chainrule_samples_per_s']:11.0f}/s  "
              f"torch {row['torch_samples_per_s']:11.0f}/s  ratio {row['ratio']:5.2f}x  "
              f"RSS {row['chainrule_peak_rss_mb']:.0f} vs {row['torch_peak_rss_mb']:.0f} MB", flush=True)
    final_peak = max(peak, matmul_peak_gflops())
    for row in rows:
        if "share_of_matmul_peak" in row:
            row["share_of_matmul_peak"] *= peak / final_peak
    peak = final_peak
    result = {"machine": machine(), "quick": quick, "matmul_peak_gflops": peak, "rows": rows,
              "import_seconds": {lib: import_seconds(lib) for lib in ("chainrule", "torch")}}
    imports = result["import_seconds"]
    print(f"import: chainrule {imports['chainrule']:.3f} s, torch {imports['torch']:.3f} s")
    if not only:
        (HERE / "results.json").write_text(json.dumps(result, indent=1) + "\n")
        (HERE / "RESULTS.md").write_text(markdown(result))


def markdown(result):
    m = result["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores, load average {m['load_average']:.1f} at the end), "
        f"{m['threads']} threads per library, Python {m['python']}, NumPy {m['numpy']}, PyTorch {m['torch']} (CPU). "
        "Each number is the best of 5 alternating runs in separate worker processes (each run the median of 7 "
        "timed blocks after a warm-up). Reproduce with `make bench`. "
        "Ratio = chainrule samples/s divided by PyTorch samples/s (above 1: chainrule is faster). "
        "Rows marked captured run chainrule's captured step (`chainrule.compile_step`) against PyTorch's eager "
        "step; the plain-NumPy row is the same MLP step written out by hand in NumPy, the floor for any "
        "NumPy framework, against PyTorch's eager step.",
        "",
        "| workload | chainrule samples/s | PyTorch samples/s | ratio | share of matmul peak "
        "| peak RSS MB (chainrule / PyTorch) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["rows"]:
        share = row.get("share_of_matmul_peak")
        lines.append(
            f"| {row['title']} | {row['chainrule_samples_per_s']:,.0f} | {row['torch_samples_per_s']:,.0f} | "
            f"{row['ratio']:.2f}x | {'' if share is None else f'{share:.0%}'} | "
            f"{row['chainrule_peak_rss_mb']:.0f} / {row['torch_peak_rss_mb']:.0f} |"
        )
    imp = result["import_seconds"]
    lines += [
        "",
        f"NumPy float32 matrix-product peak on this machine (2 threads): {result['matmul_peak_gflops']:.0f} GFLOP/s; "
        "'share of matmul peak' is the training step's useful floating-point rate against it.",
        "",
        f"Import time: `import chainrule` {imp['chainrule']:.3f} s, `import torch` {imp['torch']:.3f} s.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3], float(sys.argv[4]))))
    else:
        main()
