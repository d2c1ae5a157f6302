"""Reverse-mode automatic differentiation: the engine, its switches, user-defined ops
(``Function``), whole-function derivatives (``functional``) and the gradient checkers."""

from chainrule.autograd import functional
from chainrule.autograd.engine import Node, backward, grad
from chainrule.autograd.function import Function, FunctionCtx, once_differentiable
from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from chainrule.autograd.mode import (
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "Node",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "set_grad_enabled",
]
