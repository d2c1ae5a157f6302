"""A physics-informed neural network (PINN): a network u(x) learns the solution of the boundary-value
problem

    u''(x) = -pi^2 sin(pi x) on [0, 1],   u(0) = u(1) = 0       (exact solution: u = sin(pi x))

from the equation alone, with no sample of the solution. The loss penalises the residual
u''(x) + pi^2 sin(pi x) at collocation points, where u'' is the second derivative of the network
with respect to its input, computed by differentiating the network twice with
``autograd.grad(..., create_graph=True)``; plus the boundary values u(0)^2 + u(1)^2. Training
then differentiates that loss once more, with respect to the weights: third derivatives of the
network, all by the engine's one set of rules.

    python examples/pinn.py [--quick] [--out DIR]

Prints the maximum error against the exact solution on a fine grid (about 1.5e-5 after the full
3000 steps, 6 s; 1.3e-4 after the quick mode's 600) and writes DIR/pinn.png: the network's
solution against the exact one, and the error. Its loss and weight gradients equal PyTorch's
(the same network, torch.autograd.grad twice with create_graph) to 1e-14.
"""

import argparse
import math
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import autograd, nn, optim
from chainrule.diagnostics import new_figure, save_figure

BOUNDARY_WEIGHT = 100.0  # the residual is of size pi^2: weigh the two boundary values to match


def network(width: int = 32) -> nn.Module:
    return nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                         nn.Linear(width, 1)).double()


def second_derivative(model: nn.Module, x: cr.Tensor) -> cr.Tensor:
    """u''(x) for each row of x (shape (N, 1), requires_grad): each sample's u depends on its own x
    only, so the gradient of the sum is each sample's derivative; create_graph keeps both
    derivatives differentiable, for the next derivative and for the weights."""
    u = model(x)
    (du,) = autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = autograd.grad(du.sum(), x, create_graph=True)
    return d2u


def pinn_loss(model: nn.Module, x: cr.Tensor, ends: cr.Tensor) -> cr.Tensor:
    residual = second_derivative(model, x) + math.pi**2 * (math.pi * x).sin()
    return (residual**2).mean() + BOUNDARY_WEIGHT * (model(ends) ** 2).mean()


def max_error(model: nn.Module, points: int = 1001) -> float:
    grid = np.linspace(0, 1, points).reshape(-1, 1)
    with cr.no_grad():
        u = model(cr.tensor(grid))._data
    return float(np.abs(u - np.sin(np.pi * grid)).max())


def main(quick: bool = False, out: str = "runs/examples") -> None:
    cr.manual_seed(0)
    steps = 600 if quick else 3000
    model = network()
    x = cr.tensor(np.linspace(0, 1, 64).reshape(-1, 1), requires_grad=True)  # collocation points
    ends = cr.tensor([[0.0], [1.0]], dtype=np.float64)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=1e-4)
    started = time.perf_counter()
    print(f"PINN for u'' = -pi^2 sin(pi x), u(0) = u(1) = 0: a 1-32-32-1 tanh network, Adam, {steps} steps")
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        loss = pinn_loss(model, x, ends)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % (steps // 5) == 0:
            print(f"  step {step:5d}  loss {loss.item():.3e}  max error {max_error(model):.2e}")
    error = max_error(model)
    print(f"trained in {time.perf_counter() - started:.1f} s")
    print(f"max error against the exact solution sin(pi x): {error:.2e}")

    grid = np.linspace(0, 1, 201)
    with cr.no_grad():
        u = model(cr.tensor(grid.reshape(-1, 1)))._data.ravel()
    fig = new_figure(9, 3.4)
    left, right = fig.subplots(1, 2)
    left.plot(grid, np.sin(np.pi * grid), color="gray", linewidth=4, alpha=0.5, label="exact sin(pi x)")
    left.plot(grid, u, color="tab:blue", label="network")
    left.set(xlabel="x", ylabel="u(x)", title="solution")
    left.legend()
    right.plot(grid, u - np.sin(np.pi * grid), color="tab:red")
    right.set(xlabel="x", ylabel="network - exact", title=f"error (max {error:.1e})")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    path = Path(out) / "pinn.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    print("wrote", path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 steps only (a smoke test)")
    parser.add_argument("--out", default="runs/examples", help="folder for the picture")
    main(**vars(parser.parse_args()))
