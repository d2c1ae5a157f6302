"""Side-by-side training and inference speed of chainrule and PyTorch (CPU) on the same shapes.

    python benchmarks/bench.py [--quick] [--only=mlp32,xor,...]     (or: make bench)

Each workload runs in two warm worker processes, one per library and importing that library only
(so neither library's thread pool disturbs the other), with 2 threads, float32, SGD with momentum
and identical shapes. Timed blocks of steps alternate between the two workers and are compared in
pairs (see ``measure``), with each worker's peak RSS. Writes benchmarks/results.json and
benchmarks/RESULTS.md. Never collected by pytest.
"""

import json
import os
import platform
import resource
import signal
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


def _training_step(lib, build, x, y):
    """One SGD-with-momentum step."""
    nn, optim, to_tensor, _ = _library(lib)
    model = build(nn)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.MSELoss() if y.dtype.kind == "f" else nn.CrossEntropyLoss()
    xt, yt = to_tensor(x), to_tensor(y)

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


def mlp(lib, batch):
    # forward, then the weight gradients and the input gradients of every layer but the first
    flops = (3 * MLP_FLOPS - 2 * 784 * 256) * batch
    return _training_step(lib, _mlp, *_data((batch, 784))), batch, flops


def xor(lib):
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)

    def build(nn):
        return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())

    return _training_step(lib, build, x, y), 4, None


def cnn(lib):
    def build(nn):
        return nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 10))

    return _training_step(lib, build, *_data((64, 1, 28, 28))), 64, None


def gru(lib):
    nn = _library(lib)[0]

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = nn.GRU(1, 128, batch_first=True), nn.Linear(128, 10)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])

    return _training_step(lib, lambda _: Classifier(), *_data((100, 40, 1))), 100, None


def transformer(lib):
    """A 2-layer TransformerEncoder (d_model 128, 4 heads, feed-forward 512, dropout 0) over 32
    sequences of 64 vectors (batch_first), mean-pooled into a linear head of 10 classes."""
    nn = _library(lib)[0]

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            return self.head(self.encoder(x).mean(1))

    return _training_step(lib, lambda _: Classifier(), *_data((32, 64, 128))), 32, None


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


def mlp_products(lib, batch):
    """The matrix products of the MLP training step alone (forward, the weight gradients and the
    input gradients of the second and third layers), on plain arrays: chainrule's through the
    array kernels its Linear layers run (NumPy's BLAS), PyTorch's as its autograd computes them.
    Their ratio is what the BLAS libraries alone give; the training rows cannot beat it by much."""
    x, _ = _data((batch, 784))
    rng = np.random.default_rng(1)
    shapes = [(256, 784), (256, 256), (10, 256)]
    weights = [rng.uniform(-0.05, 0.05, s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal((batch, s[0])).astype(np.float32) for s in shapes]
    if lib == "torch":
        import torch

        torch.set_num_threads(int(THREADS))
        x = torch.from_numpy(x)
        weights, grads = [torch.from_numpy(w) for w in weights], [torch.from_numpy(g) for g in grads]

        def step():
            inputs = [x]
            for w in weights:
                inputs.append(inputs[-1] @ w.T)
            for i, (w, g) in enumerate(zip(weights, grads)):
                g.T @ inputs[i]
                if i:
                    g @ w

        return step, batch, (3 * MLP_FLOPS - 2 * 784 * 256) * batch
    from chainrule import nn
    from chainrule.ops.linalg import linear_backward, linear_forward

    # the weights in the layout chainrule's Linear gives them
    weights = [nn.Linear(s[1], s[0]).weight._data for s in shapes]

    def step():
        inputs = [x]
        for w in weights:
            inputs.append(linear_forward(inputs[-1], w, None))
        for i, (w, g) in enumerate(zip(weights, grads)):
            linear_backward(g, inputs[i], w, i > 0, True, False)

    return step, batch, (3 * MLP_FLOPS - 2 * 784 * 256) * batch


def mlp_inference(lib, batch=1024):
    nn, _, to_tensor, no_grad = _library(lib)
    model = _mlp(nn)
    x = to_tensor(_data((batch, 784))[0])

    def step():
        with no_grad():
            model(x)

    return step, batch, MLP_FLOPS * batch


def _grad(lib):
    """The library's autograd.grad (the same signature in both)."""
    if lib == "torch":
        import torch

        return torch.autograd.grad
    import chainrule

    return chainrule.autograd.grad


def mlp_hvp(lib, batch, torch_functional=False):
    """A Hessian-vector product of the MLP's cross-entropy loss w.r.t. its parameters: forward, the
    gradient with create_graph, then the gradient of <gradient, v>. ``torch_functional``: PyTorch
    runs ``torch.autograd.functional.hvp`` over the parameters instead."""
    nn, _, to_tensor, _ = _library(lib)
    grad = _grad(lib)
    model = _mlp(nn)
    params = list(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    x, y = _data((batch, 784))
    xt, yt = to_tensor(x), to_tensor(y)
    rng = np.random.default_rng(2)
    v = [to_tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)) for p in params]
    if torch_functional and lib == "torch":
        import torch
        from torch.func import functional_call

        names = [name for name, _ in model.named_parameters()]

        def loss_of(*weights):
            return loss_fn(functional_call(model, dict(zip(names, weights)), (xt,)), yt)

        return lambda: torch.autograd.functional.hvp(loss_of, tuple(params), tuple(v)), batch, None

    def step():
        grads = grad(loss_fn(model(xt), yt), params, create_graph=True)
        grad(sum((g * u).sum() for g, u in zip(grads, v)), params)

    return step, batch, None


def gradient_penalty(lib, batch):
    """One WGAN-GP critic step (Gulrajani et al. 2017, their Adam settings): the critic's input
    gradient at interpolates between real and fake samples, with create_graph; the penalty
    10 (||gradient|| - 1)^2; backward through it to the weights; the optimizer step."""
    nn, optim, to_tensor, _ = _library(lib)
    grad = _grad(lib)
    critic = nn.Sequential(nn.Linear(784, 256), nn.LeakyReLU(0.2), nn.Linear(256, 256), nn.LeakyReLU(0.2),
                           nn.Linear(256, 1))
    opt = optim.Adam(critic.parameters(), lr=1e-4, betas=(0.0, 0.9))
    rng = np.random.default_rng(3)
    real, fake = (to_tensor(rng.standard_normal((batch, 784)).astype(np.float32)) for _ in range(2))
    eps = to_tensor(rng.uniform(size=(batch, 1)).astype(np.float32))

    def step():
        opt.zero_grad()
        interpolates = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (g,) = grad(critic(interpolates).sum(), interpolates, create_graph=True)
        penalty = (((g * g).sum(dim=1).sqrt() - 1) ** 2).mean()
        (critic(fake).mean() - critic(real).mean() + 10 * penalty).backward()
        opt.step()

    return step, batch, None


WORKLOADS = {
    "mlp32": ("MLP 784-256-256-10, batch 32, training", lambda lib: mlp(lib, 32)),
    "mlp128": ("MLP 784-256-256-10, batch 128, training", lambda lib: mlp(lib, 128)),
    "mlp1024": ("MLP 784-256-256-10, batch 1024, training", lambda lib: mlp(lib, 1024)),
    "xor": ("2-8-1 network on XOR (4 samples), training", xor),
    "cnn": ("CNN conv16-pool-conv32-pool-linear, batch 64 of 1x28x28, training", cnn),
    "gru": ("GRU hidden 128, 100 sequences of length 40, training", gru),
    "transformer": ("TransformerEncoder 2 layers (d_model 128, 4 heads, ff 512), 32 sequences of 64, training",
                    transformer),
    "mlp_inference": ("MLP 784-256-256-10, batch 1024, inference (forward only)", mlp_inference),
    # second derivatives: create_graph, then a backward through the recorded gradient
    "mlp_hvp": ("MLP 784-256-256-10, batch 128, Hessian-vector product of the loss (double backward both)",
                lambda lib: mlp_hvp(lib, 128)),
    "mlp_hvp_functional": ("MLP batch 128, Hessian-vector product: chainrule's double backward vs "
                           "torch.autograd.functional.hvp", lambda lib: mlp_hvp(lib, 128, torch_functional=True)),
    "gradient_penalty": ("WGAN-GP critic 784-256-256-1 (LeakyReLU), batch 64, training step with gradient penalty",
                         lambda lib: gradient_penalty(lib, 64)),
    "mlp32_numpy": ("MLP batch 32 written out in plain NumPy (the floor, not chainrule)", mlp_numpy_floor),
    # the BLAS libraries alone: the MLP step's matrix products, no framework around them
    "mlp32_products": ("MLP batch 32, its matrix products alone (NumPy's BLAS vs PyTorch's)",
                       lambda lib: mlp_products(lib, 32)),
    "mlp128_products": ("MLP batch 128, its matrix products alone", lambda lib: mlp_products(lib, 128)),
    "mlp1024_products": ("MLP batch 1024, its matrix products alone", lambda lib: mlp_products(lib, 1024)),
}


# ---------------------------------------------------------------------------- a worker process
def _block(step, n):
    started = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - started) / n


def worker(lib, workload):
    """Serve timed blocks of one workload's step over stdin/stdout: "N" runs N steps and answers
    the seconds per step; an empty line answers the peak RSS (MB) and ends the worker."""
    step, batch, flops = WORKLOADS[workload][1](lib)
    probe = _block(step, 2)
    print(json.dumps({"probe": probe, "batch": batch, "flops": flops}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        print(_block(step, int(line)), flush=True)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)


class _Worker:
    def __init__(self, lib, workload, env=None):
        self.process = subprocess.Popen([sys.executable, __file__, "--worker", lib, workload], text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.facts = json.loads(self._answer())
        self.process.send_signal(signal.SIGSTOP)

    def _answer(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker {self.process.args[3:]} died (exit {self.process.wait()})")
        return line

    def block(self, steps):
        """Seconds per step over ``steps`` steps. Between blocks the worker is stopped (SIGSTOP):
        idle BLAS and OpenMP threads spin for a while after their last task, and spinning
        threads of one library slowed the other's blocks up to 20x on 2 cores."""
        self.process.send_signal(signal.SIGCONT)
        self.process.stdin.write(f"{steps}\n")
        self.process.stdin.flush()
        seconds = float(self._answer())
        self.process.send_signal(signal.SIGSTOP)
        return seconds

    def close(self):
        self.process.send_signal(signal.SIGCONT)
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        rss = float(self._answer())
        self.process.wait()
        return rss


def measure(workload, seconds, pairs):
    """Seconds per step of both libraries, from timed blocks that alternate between two warm
    workers: each chainrule block is paired with the PyTorch block right after it, so both see
    the machine at the same speed (this shared machine drifts by up to 2x within minutes). The
    ratio is the median of the pairs' ratios."""
    workers = {lib: _Worker(lib, workload) for lib in ("chainrule", "torch")}
    steps = {lib: max(2, int(seconds / max(w.facts["probe"], 1e-7))) for lib, w in workers.items()}
    for lib, w in workers.items():
        w.block(steps[lib])  # warm-up
    times = {lib: [] for lib in workers}
    for _ in range(pairs):
        for lib, w in workers.items():
            times[lib].append(w.block(steps[lib]))
    ratios = [t / c for c, t in zip(times["chainrule"], times["torch"])]
    facts = workers["chainrule"].facts
    return {"seconds_per_step": {lib: statistics.median(t) for lib, t in times.items()},
            "ratio": statistics.median(ratios), "ratio_range": [min(ratios), max(ratios)],
            "peak_rss_mb": {lib: w.close() for lib, w in workers.items()},
            "batch": facts["batch"], "flops": facts["flops"]}


# ---------------------------------------------------------------------------- machine facts
def matmul_peak_gflops():
    """NumPy's float32 matrix-product rate (2 threads): the ceiling for training on this machine."""
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    a @ a
    return 2 * 1024**3 / min(_block(lambda: a @ a, 5) for _ in range(3)) / 1e9


def import_seconds(module):
    """Median seconds of ``import module`` in a fresh interpreter, with its bytecode cached as an
    installed package has it (the first, untimed import writes the cache, even where
    PYTHONDONTWRITEBYTECODE is set: compiling chainrule's sources takes ~80 ms more)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run():
        return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                    env=env).stdout)

    run()
    return statistics.median(run() for _ in range(5))


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
    seconds, pairs = (0.15, 3) if quick else (0.3, 21)
    peak = matmul_peak_gflops()  # measured again at the end: the best of the two counts
    rows = []
    for key, (title, _) in WORKLOADS.items():
        if only and key not in only:
            continue
        m = measure(key, seconds, pairs)
        cr_s, torch_s = m["seconds_per_step"]["chainrule"], m["seconds_per_step"]["torch"]
        row = {"workload": key, "title": title, "chainrule_samples_per_s": m["batch"] / cr_s,
               "torch_samples_per_s": m["batch"] / torch_s, "ratio": m["ratio"], "ratio_range": m["ratio_range"],
               "chainrule_peak_rss_mb": m["peak_rss_mb"]["chainrule"], "torch_peak_rss_mb": m["peak_rss_mb"]["torch"]}
        if m["flops"]:
            row["share_of_matmul_peak"] = m["flops"] / cr_s / 1e9 / peak
        rows.append(row)
        low, high = row["ratio_range"]
        print(f"{key:16s} chainrule {row['chainrule_samples_per_s']:11.0f}/s  "
              f"torch {row['torch_samples_per_s']:11.0f}/s  ratio {row['ratio']:5.2f}x ({low:.2f}-{high:.2f})  "
              f"RSS {row['chainrule_peak_rss_mb']:.0f} vs {row['torch_peak_rss_mb']:.0f} MB", flush=True)
    final_peak = max(peak, matmul_peak_gflops())
    for row in rows:
        if "share_of_matmul_peak" in row:
            row["share_of_matmul_peak"] *= peak / final_peak
    peak = final_peak
    result = {"machine": machine(), "quick": quick, "pairs": pairs, "matmul_peak_gflops": peak, "rows": rows,
              "import_seconds": {lib: import_seconds(lib) for lib in ("chainrule", "numpy", "torch")}}
    imports = result["import_seconds"]
    print(f"import: chainrule {imports['chainrule']:.3f} s (numpy alone {imports['numpy']:.3f} s), "
          f"torch {imports['torch']:.3f} s")
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
        "Each library runs in a warm worker process of its own; after a warm-up, timed blocks of steps "
        f"alternate between the two, {result['pairs']} blocks each, and each chainrule block is paired with the "
        "PyTorch block right after it. Samples/s come from each library's median block; the ratio (PyTorch's "
        "time over chainrule's: above 1, chainrule is faster) is the median of the pairs' ratios, with the "
        "lowest and highest pair beside it. Reproduce with `make bench`. "
        "The Hessian-vector product rows take the loss's gradient with create_graph and differentiate its "
        "inner product with a fixed vector (forward and both backward passes in each step); the "
        "functional row runs PyTorch's `torch.autograd.functional.hvp` (which computes it by the slower "
        "double-vjp trick) instead. The plain-NumPy row is the same MLP step written out by hand in NumPy, the "
        "floor for any NumPy framework, against PyTorch's eager step.",
        "",
        "| workload | chainrule samples/s | PyTorch samples/s | ratio (pair range) | share of matmul peak "
        "| peak RSS MB (chainrule / PyTorch) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["rows"]:
        share = row.get("share_of_matmul_peak")
        lines.append(
            f"| {row['title']} | {row['chainrule_samples_per_s']:,.0f} | {row['torch_samples_per_s']:,.0f} | "
            f"{row['ratio']:.2f}x ({row['ratio_range'][0]:.2f}-{row['ratio_range'][1]:.2f}) | "
            f"{'' if share is None else f'{share:.0%}'} | "
            f"{row['chainrule_peak_rss_mb']:.0f} / {row['torch_peak_rss_mb']:.0f} |"
        )
    imp = result["import_seconds"]
    lines += [
        "",
        f"NumPy float32 matrix-product peak on this machine (2 threads): {result['matmul_peak_gflops']:.0f} GFLOP/s; "
        "'share of matmul peak' is the training step's useful floating-point rate against it.",
        "",
        f"Import time: `import chainrule` {imp['chainrule']:.3f} s, of which `import numpy` alone takes "
        f"{imp['numpy']:.3f} s; `import torch` {imp['torch']:.3f} s.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        main()
