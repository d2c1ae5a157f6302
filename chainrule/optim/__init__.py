"""chainrule.optim: gradient descent and its descendants, and learning-rate schedules."""

from chainrule.optim.adadelta import Adadelta
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam
from chainrule.optim.adamax import Adamax
from chainrule.optim.adamw import AdamW
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim.nadam import NAdam
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.radam import RAdam
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.sgd import SGD

__all__ = ["LBFGS", "SGD", "Adadelta", "Adagrad", "Adam", "Adamax", "AdamW", "NAdam", "Optimizer", "RAdam",
           "RMSprop", "lr_scheduler"]


def __getattr__(name):
    # lr_scheduler is imported on first use: its classes are many and start-up time counts.
    if name == "lr_scheduler":
        import importlib

        return importlib.import_module("chainrule.optim.lr_scheduler")
    raise AttributeError(f"module 'chainrule.optim' has no attribute {name!r}")
