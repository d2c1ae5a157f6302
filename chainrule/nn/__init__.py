"""chainrule.nn: modules (layers and networks), their functional forms, losses and initialisers."""

from chainrule.nn import functional, init, utils
from chainrule.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from chainrule.nn.containers import ModuleDict, ModuleList, Sequential
from chainrule.nn.dropout import Dropout
from chainrule.nn.linear import Flatten, Identity, Linear
from chainrule.nn.module import Module, Parameter
from chainrule.nn.residual import Residual

__all__ = [
    "ELU", "GELU", "Dropout", "Flatten", "Identity", "LeakyReLU", "Linear", "LogSoftmax", "Module",
    "ModuleDict", "ModuleList", "Parameter", "ReLU", "Residual", "Sequential", "Sigmoid", "Softmax",
    "Softplus", "Tanh", "functional", "init", "utils",
]  # fmt: skip
