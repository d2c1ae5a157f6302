"""Adagrad: per-weight learning rates that shrink with the sum of that weight's squared gradients."""

from typing import ClassVar

import numpy as np

from chainrule.optim.optimizer import FLAG, Optimizer, Range, switches


class Adagrad(Optimizer):
    """PyTorch's update, at step t:

        g <- g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s <- s + g^2
        p <- p - clr * g / (sqrt(s) + eps)
    """

    hyperparameters: ClassVar[dict] = {
        "lr": Range("learning rate"),
        "lr_decay": Range("lr_decay value"),
        "weight_decay": Range("weight_decay value"),
        "initial_accumulator_value": Range("initial_accumulator_value value"),
        "eps": Range("epsilon value"),
        "maximize": FLAG,
        **switches("foreach", "differentiable", "fused"),
    }
    state_keys = required_state = frozenset({"step", "sum"})

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      fused=fused))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        grad = self._descent_grad(param, grad, group)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        total = state["sum"]
        total += grad * grad
        param -= clr * grad / (np.sqrt(total) + group["eps"])
