"""Adagrad: per-weight learning rates that shrink with the sum of that weight's squared gradients."""

import numpy as np

from chainrule.optim.optimizer import Optimizer


class Adagrad(Optimizer):
    """PyTorch's update, at step t:

        g <- g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s <- s + g^2
        p <- p - clr * g / (sqrt(s) + eps)
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, maximize: bool = False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _check_hyperparameters(self, group):
        super()._check_hyperparameters(group)
        for key in ("lr_decay", "initial_accumulator_value"):
            if not group[key] >= 0:
                raise ValueError(f"Adagrad: {key} must be >= 0, got {group[key]}")

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        total = state["sum"]
        total += grad * grad
        param -= clr * grad / (np.sqrt(total) + group["eps"])
