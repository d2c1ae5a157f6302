"""Stochastic gradient descent, with momentum (heavy ball or Nesterov) and L2 weight decay.

Plain, mini-batch or full-batch gradient descent differ only in the batch the caller feeds."""

from typing import ClassVar

import numpy as np

from chainrule._backend import scalar_like
from chainrule.optim.optimizer import FLAG, Optimizer, Range, switches


class SGD(Optimizer):
    """PyTorch's update, for gradient g of parameter p:

        g <- g + weight_decay * p
        b <- g (first step), else momentum * b + (1 - dampening) * g
        g <- g + momentum * b (nesterov) or b
        p <- p - lr * g
    """

    hyperparameters: ClassVar[dict] = {
        "lr": Range("learning rate"),
        "momentum": Range("momentum value", 0.0, 1.0),
        "dampening": Range("dampening value", 0.0, 1.0, closed=True),
        "weight_decay": Range("weight_decay value"),
        "nesterov": FLAG,
        "maximize": FLAG,
        **switches("foreach", "differentiable", "fused"),
    }
    state_keys = frozenset({"momentum_buffer"})

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                                      foreach=foreach, differentiable=differentiable, fused=fused))

    def _check_combination(self, group, where):
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{where}: Nesterov momentum requires a momentum and zero dampening (nesterov=True needs "
                f"momentum > 0 and dampening 0, got momentum={group['momentum']}, dampening={group['dampening']})"
            )

    def _update(self, param, grad, state, group):
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=param.dtype, copy=True)
            else:
                buf *= scalar_like(momentum, buf)  # 0-d constants: see scalar_like
                buf += grad if group["dampening"] == 0 else (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= scalar_like(group["lr"], param) * grad
