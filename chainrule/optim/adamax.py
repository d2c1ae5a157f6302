"""Adamax: Adam with the infinity norm in place of the root-mean-square, a running maximum of
the gradients' magnitudes (Kingma & Ba, 2015, section 7)."""

from typing import ClassVar

import numpy as np

from chainrule.optim.optimizer import FLAG, Optimizer, Pair, Range, switches


class Adamax(Optimizer):
    """PyTorch's update, at step t:

        g <- g + weight_decay * p
        m <- b1 m + (1 - b1) g
        u <- max(b2 u, |g| + eps)
        p <- p - lr / (1 - b1^t) * m / u

    ``m`` is the state ``exp_avg``, ``u`` is ``exp_inf``.
    """

    hyperparameters: ClassVar[dict] = {
        "lr": Range("learning rate"),
        "betas": Pair(Range("beta parameter", 0.0, 1.0)),
        "eps": Range("epsilon value"),
        "weight_decay": Range("weight_decay value"),
        "maximize": FLAG,
        **switches("foreach", "differentiable", "capturable"),
    }
    state_keys = required_state = frozenset({"step", "exp_avg", "exp_inf"})

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_inf"] = np.zeros_like(param)
        state["step"] += 1
        grad = self._descent_grad(param, grad, group)
        beta1, beta2 = group["betas"]
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg += (1 - beta1) * (grad - exp_avg)  # PyTorch's lerp: the same value, its rounding
        exp_inf *= beta2
        np.maximum(exp_inf, np.abs(grad) + group["eps"], out=exp_inf)
        param -= group["lr"] / (1 - beta1 ** state["step"]) * (exp_avg / exp_inf)
