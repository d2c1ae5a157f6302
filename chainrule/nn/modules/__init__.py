"""PyTorch's torch.nn.modules package paths (``nn.modules.linear.Linear``, ``nn.modules.loss``...):
thin re-exports; every class lives in its chainrule.nn family file and is the same object."""

import importlib

from chainrule.nn.module import Module

# PyTorch's file names; importing each also makes it an attribute of this package
# (nn.modules.linear).
_FILES = [
    importlib.import_module(f"chainrule.nn.modules.{name}")
    for name in (
        "activation",
        "batchnorm",
        "container",
        "conv",
        "dropout",
        "flatten",
        "fold",
        "instancenorm",
        "linear",
        "loss",
        "module",
        "normalization",
        "pixelshuffle",
        "pooling",
        "rnn",
        "sparse",
        "transformer",
        "upsampling",
    )
]
# The layer classes themselves, as torch.nn.modules offers them (a star import would also bring
# the family files' functions, e.g. ``linear``, over the submodules of the same name).
globals().update(
    {
        name: obj
        for file in _FILES
        for name, obj in vars(file).items()
        if isinstance(obj, type) and issubclass(obj, Module) and not name.startswith("_")
    }
)
