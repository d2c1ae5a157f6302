"""Adadelta: per-weight steps whose size is the ratio of two running root-mean-squares, of the past
updates and of the gradients, so that no learning rate needs tuning (Zeiler, 2012)."""

from typing import ClassVar

import numpy as np

from chainrule.optim.optimizer import FLAG, Optimizer, Range, switches


class Adadelta(Optimizer):
    """PyTorch's update:

        g <- g + weight_decay * p
        v <- rho v + (1 - rho) g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho u + (1 - rho) delta^2
        p <- p - lr * delta

    ``v`` is the state ``square_avg``, ``u`` is ``acc_delta``; ``lr`` (default 1.0) only scales
    the step. Example: ``Adadelta(model.parameters(), lr=1.0)`` as in PyTorch's MNIST example.
    """

    hyperparameters: ClassVar[dict] = {
        "lr": Range("learning rate"),
        "rho": Range("rho value", 0.0, 1.0, closed=True),
        "eps": Range("epsilon value"),
        "weight_decay": Range("weight_decay value"),
        "maximize": FLAG,
        **switches("capturable", "foreach", "differentiable"),
    }
    state_keys = required_state = frozenset({"step", "square_avg", "acc_delta"})

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
                 foreach: bool | None = None, *, capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            state["acc_delta"] = np.zeros_like(param)
        state["step"] += 1
        grad = self._descent_grad(param, grad, group)
        rho, eps = group["rho"], group["eps"]
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        param -= group["lr"] * delta
