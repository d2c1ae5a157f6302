"""RMSprop: divide each gradient by a running root-mean-square of its recent magnitudes."""

from typing import ClassVar

import numpy as np

from chainrule.optim.optimizer import FLAG, Optimizer, Range, switches


class RMSprop(Optimizer):
    """PyTorch's update:

        g <- g + weight_decay * p
        v <- alpha v + (1 - alpha) g^2
        centered: m <- alpha m + (1 - alpha) g,  v~ = v - m^2, else v~ = v
        a = sqrt(v~) + eps
        momentum > 0: b <- momentum b + g / a,  p <- p - lr b;  else p <- p - lr g / a
    """

    hyperparameters: ClassVar[dict] = {
        "lr": Range("learning rate"),
        "alpha": Range("alpha value", 0.0, 1.0, closed=True),
        "eps": Range("epsilon value"),
        "weight_decay": Range("weight_decay value"),
        "momentum": Range("momentum value", 0.0, 1.0),
        "centered": FLAG,
        "maximize": FLAG,
        **switches("capturable", "foreach", "differentiable"),
    }
    state_keys = frozenset({"step", "square_avg", "momentum_buffer", "grad_avg"})
    required_state = frozenset({"step", "square_avg"})

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, capturable=capturable,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
        state["step"] += 1
        grad = self._descent_grad(param, grad, group)
        alpha = group["alpha"]
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            # buffers are created on first use: a scheduler may switch momentum on mid-run
            grad_avg = state.get("grad_avg")
            if grad_avg is None:
                grad_avg = state["grad_avg"] = np.zeros_like(param)
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = np.sqrt(square_avg) + group["eps"]
        if group["momentum"] > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(param)
            buf *= group["momentum"]
            buf += grad / avg
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * grad / avg
