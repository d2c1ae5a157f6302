"""Reverse-mode automatic differentiation: the engine, its switches and the gradient checker."""

from chainrule.autograd.engine import Node, backward, grad
from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from chainrule.autograd.mode import (
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "GradcheckError",
    "Node",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]
