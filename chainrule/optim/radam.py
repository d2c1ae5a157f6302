"""RAdam: Adam whose adaptive step is switched on only once the variance of its second-moment
estimate is tractable, and then rectified (Liu et al., 2020): a warm-up without a schedule."""

from typing import ClassVar

import numpy as np

from chainrule.optim.optimizer import FLAG, Optimizer, Pair, Range, switches


class RAdam(Optimizer):
    """PyTorch's update, at step t:

        g <- g + weight_decay * p       (or, decoupled: p <- p * (1 - lr * weight_decay))
        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   m^ = m / (1 - b1^t)
        rho_inf = 2 / (1 - b2) - 1,   rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
        rho_t > 5:  r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                    p <- p - lr m^ r sqrt(1 - b2^t) / (sqrt(v) + eps)
        otherwise:  p <- p - lr m^                 (momentum SGD while the variance is unknown)
    """

    hyperparameters: ClassVar[dict] = {
        "lr": Range("learning rate"),
        "betas": Pair(Range("beta parameter", 0.0, 1.0)),
        "eps": Range("epsilon value"),
        "weight_decay": Range("weight_decay value"),
        "decoupled_weight_decay": FLAG,
        "maximize": FLAG,
        **switches("foreach", "capturable", "differentiable"),
    }
    state_keys = required_state = frozenset({"step", "exp_avg", "exp_avg_sq"})

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        step, lr = state["step"], group["lr"]
        grad = self._descent_grad(param, grad, group)
        beta1, beta2 = group["betas"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (1 - beta1) * (grad - exp_avg)  # PyTorch's lerp: the same value, its rounding
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        corrected = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            # ** 0.5 rather than sqrt: PyTorch's rounding
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = bias_correction2**0.5 / (np.sqrt(exp_avg_sq) + group["eps"])
            param -= corrected * lr * adaptive * rect
        else:
            param -= corrected * lr
