"""The docs list every public layer, loss, optimizer and schedule."""

import inspect
from pathlib import Path

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import lr_scheduler

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _public_classes(module, base):
    return [
        name for name in module.__all__
        if inspect.isclass(getattr(module, name)) and issubclass(getattr(module, name), base)
    ]


def test_every_layer_and_loss_is_documented():
    text = (DOCS / "layers.md").read_text()
    missing = [name for name in _public_classes(nn, nn.Module) if f"`{name}`" not in text]
    assert not missing, f"docs/layers.md lacks {missing}"


def test_every_optimizer_and_schedule_is_documented():
    text = (DOCS / "optim.md").read_text()
    names = _public_classes(optim, optim.Optimizer) + [
        n for n in lr_scheduler.__all__ if n != "LRScheduler"
    ]
    missing = [name for name in names if name != "Optimizer" and f"`{name}(" not in text]
    assert not missing, f"docs/optim.md lacks {missing}"
    assert cr.optim.SGD.__doc__
