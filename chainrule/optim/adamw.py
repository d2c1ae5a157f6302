"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019): the weights shrink by
lr * weight_decay directly instead of through the gradient and the moment estimates."""

from chainrule.optim.adam import Adam


class AdamW(Adam):
    """As Adam, but first ``p <- p * (1 - lr * weight_decay)`` and no decay in the gradient
    (``Adam(..., decoupled_weight_decay=True)``). Default weight_decay 1e-2, as PyTorch."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused, decoupled_weight_decay=True)
