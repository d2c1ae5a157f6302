"""Adam: momentum on the gradient and on its square, with bias correction (Kingma & Ba, 2015)."""

import math
from typing import ClassVar

import numpy as np

from chainrule.optim.optimizer import FLAG, Optimizer, Pair, Range, switches


class Adam(Optimizer):
    """PyTorch's update, at step t:

        g <- g + weight_decay * p                  (L2), or with decoupled_weight_decay (AdamW):
        p <- p * (1 - lr * weight_decay)           instead
        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
        v^ = max(v^, v) with amsgrad, else v
        p <- p - lr / (1 - b1^t) * m / (sqrt(v^) / sqrt(1 - b2^t) + eps)
    """

    hyperparameters: ClassVar[dict] = {
        "lr": Range("learning rate"),
        "betas": Pair(Range("beta parameter", 0.0, 1.0)),
        "eps": Range("epsilon value"),
        "weight_decay": Range("weight_decay value"),
        "amsgrad": FLAG,
        "maximize": FLAG,
        "decoupled_weight_decay": FLAG,
        **switches("foreach", "capturable", "differentiable", "fused"),
    }
    state_keys = frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"})
    required_state = frozenset({"step", "exp_avg", "exp_avg_sq"})

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        step = state["step"]
        grad = self._descent_grad(param, grad, group)
        beta1, beta2 = group["betas"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            # created on first use, so that amsgrad switched on mid-run (or a resumed state) works
            top = state.get("max_exp_avg_sq")
            if top is None:
                top = state["max_exp_avg_sq"] = np.zeros_like(param)
            second = np.maximum(top, exp_avg_sq, out=top)
        else:
            second = exp_avg_sq
        denom = np.sqrt(second) / math.sqrt(1 - beta2**step) + group["eps"]
        param -= (group["lr"] / (1 - beta1**step)) * exp_avg / denom
