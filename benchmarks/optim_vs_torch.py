"""chainrule.optim against PyTorch (a benchmark-only dependency), in float64: every optimizer's
weights after 30 steps, LBFGS's trajectory and evaluation counts (with and without the strong-Wolfe
line search, on Rosenbrock and on a small MLP whose loss and gradients both libraries receive
from NumPy, so that only the optimizers' arithmetic differs), and every schedule's learning rates,
alone and composed. Prints one line per check; exits 1 if one is off.

    python benchmarks/optim_vs_torch.py
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.optim import lr_scheduler as torch_sched

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's chainrule
import chainrule as cr
from chainrule import optim as cr_optim
from chainrule.optim import lr_scheduler as cr_sched

RNG = np.random.default_rng(0)
A, Y = RNG.standard_normal((8, 5)), RNG.standard_normal(8)
W1, W2 = RNG.standard_normal(5), RNG.standard_normal((2, 3))
failures = []


def report(name, difference, limit):
    ok = difference <= limit
    print(f"{'ok ' if ok else 'OFF'} {name:75s} {difference:.1e}")
    if not ok:
        failures.append(name)


def weights_after(lib, make, steps=30):
    mod, optim = (torch, torch.optim) if lib == "torch" else (cr, cr_optim)
    w1, w2 = mod.tensor(W1, requires_grad=True), mod.tensor(W2, requires_grad=True)
    a, y = mod.tensor(A), mod.tensor(Y)
    opt = make(optim, [w1, w2])
    for _ in range(steps):
        opt.zero_grad()
        r = a @ w1 - y
        (0.5 * (r * r).sum() + w2.sin().sum()).backward()
        opt.step()
    return [np.array(w.detach().numpy() if lib == "torch" else w._data) for w in (w1, w2)]


OPTIMIZERS = {
    "Adadelta": lambda m, p: m.Adadelta(p),
    "Adadelta(rho, eps, weight_decay, maximize)": lambda m, p: m.Adadelta(p, 0.5, 0.8, 1e-5, 0.1, maximize=True),
    "Adamax": lambda m, p: m.Adamax(p, lr=0.05),
    "Adamax(betas, weight_decay)": lambda m, p: m.Adamax(p, lr=0.05, betas=(0.8, 0.95), weight_decay=0.1),
    "NAdam": lambda m, p: m.NAdam(p, lr=0.05),
    "NAdam(weight_decay, momentum_decay)": lambda m, p: m.NAdam(p, lr=0.05, weight_decay=0.1, momentum_decay=0.01),
    "NAdam(decoupled_weight_decay)": lambda m, p: m.NAdam(p, lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
    "RAdam": lambda m, p: m.RAdam(p, lr=0.05),
    "RAdam(betas, weight_decay)": lambda m, p: m.RAdam(p, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1),
    "RAdam(decoupled_weight_decay)": lambda m, p: m.RAdam(p, lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
    "Adam(decoupled_weight_decay)": lambda m, p: m.Adam(p, lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
    "AdamW(amsgrad)": lambda m, p: m.AdamW(p, lr=0.05, amsgrad=True),
    "SGD(momentum, maximize, foreach=False)": lambda m, p: m.SGD(p, lr=0.01, momentum=0.9, maximize=True,
                                                                 foreach=False),
    "Adagrad(foreach=None, fused=None)": lambda m, p: m.Adagrad(p, lr=0.1, foreach=None, fused=None),
}


def check_optimizers():
    for name, make in OPTIMIZERS.items():
        expected, got = weights_after("torch", make), weights_after("chainrule", make)
        report(f"{name}: 30 steps, relative", max(np.abs(e - g).max() / np.abs(e).max()
                                                  for e, g in zip(expected, got)), 1e-14)


def rosenbrock(ws):
    x = ws[0]
    g = np.zeros_like(x)
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    g[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum(), [g]


X, T = RNG.standard_normal((20, 3)), RNG.standard_normal((20, 1))
MLP = [RNG.standard_normal((3, 6)) * 0.5, RNG.standard_normal(6) * 0.1, RNG.standard_normal((6, 1)) * 0.5,
       RNG.standard_normal(1) * 0.1]


def mlp(ws):
    w1, b1, w2, b2 = ws
    h = np.tanh(X @ w1 + b1)
    r = h @ w2 + b2 - T
    go = 2 * r / r.size
    gh = go @ w2.T * (1 - h**2)
    return (r**2).mean(), [X.T @ gh, gh.sum(0), h.T @ go, go.sum(0)]


def lbfgs_run(lib, objective, start, steps=4, **kwargs):
    mod, optim = (torch, torch.optim) if lib == "torch" else (cr, cr_optim)
    params = [mod.tensor(w.copy(), requires_grad=True) for w in start]
    opt = optim.LBFGS(params, **kwargs)

    def closure():
        loss, grads = objective([np.array(p.detach().numpy() if lib == "torch" else p._data) for p in params])
        for p, g in zip(params, grads):
            p.grad = mod.tensor(g)
        return mod.tensor(loss)

    for _ in range(steps):
        opt.step(closure)
    state = opt.state[params[0]]
    return [np.array(p.detach().numpy() if lib == "torch" else p._data) for p in params], \
        (state["func_evals"], state["n_iter"])


def check_lbfgs():
    for name, objective, start in [("Rosenbrock", rosenbrock, [np.array([-1.5, 2.0, 0.5, -0.7])]),
                                   ("MLP 3-6-1", mlp, MLP)]:
        for kwargs in [{}, {"line_search_fn": "strong_wolfe"}, {"lr": 0.5, "history_size": 3, "max_iter": 7},
                       {"lr": 0.5, "history_size": 3, "max_iter": 7, "line_search_fn": "strong_wolfe"}]:
            (expected, counts), (got, own_counts) = lbfgs_run("torch", objective, start, **kwargs), \
                lbfgs_run("chainrule", objective, start, **kwargs)
            label = f"LBFGS {name} " + " ".join(f"{k}={v}" for k, v in kwargs.items())
            report(f"{label}: same evaluations", float(counts != own_counts), 0)
            report(f"{label}: weights", max(np.abs(e - g).max() for e, g in zip(expected, got)), 1e-7)


SCHEDULES = {
    "ConstantLR": lambda L, o: L.ConstantLR(o),
    "ConstantLR(0.25, 7)": lambda L, o: L.ConstantLR(o, factor=0.25, total_iters=7),
    "PolynomialLR": lambda L, o: L.PolynomialLR(o),
    "PolynomialLR(13, 2.5)": lambda L, o: L.PolynomialLR(o, total_iters=13, power=2.5),
    "CosineAnnealingWarmRestarts(7)": lambda L, o: L.CosineAnnealingWarmRestarts(o, 7),
    "CosineAnnealingWarmRestarts(3, 2, 1e-3)": lambda L, o: L.CosineAnnealingWarmRestarts(o, 3, 2, 1e-3),
    "MultiplicativeLR": lambda L, o: L.MultiplicativeLR(o, [lambda e: 0.9 if e % 2 else 1.0, lambda e: 1.01]),
    "Chained(ConstantLR, ExponentialLR)": lambda L, o: L.ChainedScheduler([L.ConstantLR(o, 0.1, total_iters=2),
                                                                            L.ExponentialLR(o, 0.9)]),
    "Chained(LinearLR, CosineAnnealingLR)": lambda L, o: L.ChainedScheduler([L.LinearLR(o, 0.2, total_iters=6),
                                                                              L.CosineAnnealingLR(o, 15, 0.001)]),
    "Chained(LinearLR, PolynomialLR, StepLR)": lambda L, o: L.ChainedScheduler(
        [L.LinearLR(o, 0.2, total_iters=6), L.PolynomialLR(o, 20, 2.0), L.StepLR(o, 5, 0.5)], optimizer=o),
    "Sequential(LinearLR, CosineAnnealingWarmRestarts)": lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, 0.1, total_iters=5), L.CosineAnnealingWarmRestarts(o, 4, 2)], [5]),
}


def schedule(lib, build, epochs=None, steps=40):
    if lib == "torch":
        groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in (0.1, 0.03)]
        opt, L = torch.optim.SGD(groups, lr=0.1, momentum=0.5), torch_sched
    else:
        groups = [{"params": [cr.nn.Parameter(cr.zeros(2))], "lr": lr} for lr in (0.1, 0.03)]
        opt, L = cr_optim.SGD(groups, lr=0.1, momentum=0.5), cr_sched
    sched = build(L, opt)
    lrs = []
    for i in range(steps):
        lrs.append(list(sched.get_last_lr()))
        opt.step()
        sched.step() if epochs is None else sched.step(epochs[i])
    return np.array(lrs)


def check_schedules():
    for name, build in SCHEDULES.items():
        report(f"{name}: 40 learning rates, bit for bit",
               float(not np.array_equal(schedule("torch", build), schedule("chainrule", build))), 0)
    epochs = [0, 0.5, 1.25, 2, 3.7, 5, 6.1, 7, 9.99, 10, 15.5, 20, 21.3, 2.2, 44.4, 100, 3, 0.1, 31, 45]
    for name in ("CosineAnnealingWarmRestarts(7)", "CosineAnnealingWarmRestarts(3, 2, 1e-3)"):
        expected = schedule("torch", SCHEDULES[name], epochs, len(epochs))
        got = schedule("chainrule", SCHEDULES[name], epochs, len(epochs))
        report(f"{name} step(fractional epoch), bit for bit", float(not np.array_equal(expected, got)), 0)


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    warnings.simplefilter("ignore")  # PyTorch's warnings about step(epoch) and float(loss)
    check_optimizers()
    check_lbfgs()
    check_schedules()
    print("all agree" if not failures else f"{len(failures)} off: {failures}")
    sys.exit(1 if failures else 0)
