"""NAdam: Adam with Nesterov momentum, the step looking ahead along the momentum (Dozat, 2016),
with the momentum schedule mu_t that PyTorch uses."""

from typing import ClassVar

import numpy as np

from chainrule.optim.optimizer import FLAG, Optimizer, Pair, Range, switches


class NAdam(Optimizer):
    """PyTorch's update, at step t:

        g <- g + weight_decay * p       (or, decoupled: p <- p * (1 - lr * weight_decay))
        mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay)),  P_t = mu_1 ... mu_t  (state mu_product)
        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
        d = sqrt(v / (1 - b2^t)) + eps
        p <- p - lr (1 - mu_t) / (1 - P_t) * g / d - lr mu_{t+1} / (1 - P_t mu_{t+1}) * m / d

    The product P_t is kept in the parameters' precision, as PyTorch keeps it in its default
    dtype.
    """

    hyperparameters: ClassVar[dict] = {
        "lr": Range("learning rate"),
        "betas": Pair(Range("beta parameter", 0.0, 1.0)),
        "eps": Range("epsilon value"),
        "weight_decay": Range("weight_decay value"),
        "momentum_decay": Range("momentum_decay value"),
        "decoupled_weight_decay": FLAG,
        "maximize": FLAG,
        **switches("foreach", "capturable", "differentiable"),
    }
    state_keys = required_state = frozenset({"step", "mu_product", "exp_avg", "exp_avg_sq"})

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        step, lr = state["step"], group["lr"]
        grad = self._descent_grad(param, grad, group)
        beta1, beta2 = group["betas"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * group["momentum_decay"]))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * group["momentum_decay"]))
        mu_product = float(param.dtype.type(state["mu_product"]) * mu)
        state["mu_product"] = mu_product
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (1 - beta1) * (grad - exp_avg)  # PyTorch's lerp: the same value, its rounding
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        denom = np.sqrt(exp_avg_sq / (1 - beta2**step)) + group["eps"]
        param += (-lr * (1.0 - mu) / (1.0 - mu_product)) * (grad / denom)
        param += (-lr * mu_next / (1.0 - mu_product * mu_next)) * (exp_avg / denom)
