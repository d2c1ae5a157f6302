"""A PyTorch-style checkpoint round trip: train two SGD-with-momentum steps, save
``{'model': ..., 'optimizer': ..., 'epoch': 3}`` to an open file, load it into a fresh model and
optimizer, and take one more step with each: the two must agree. Also manual_seed repeats draws
and train()/eval() return the module.

``main(torch)`` takes the library (PyTorch or chainrule) and returns what the script computed.
"""

import os
import tempfile

import numpy as np


def data():
    generator = np.random.default_rng(8)
    return generator.uniform(-1, 1, size=(6, 3)), generator.uniform(-1, 1, size=(6, 1))


def weights():
    generator = np.random.default_rng(9)
    shapes = {"0.weight": (2, 3), "0.bias": (2,), "2.weight": (1, 2), "2.bias": (1,)}
    return {name: generator.uniform(-0.8, 0.8, size=shape) for name, shape in shapes.items()}


def main(torch):
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    torch.manual_seed(0)
    first = torch.rand(3)
    torch.manual_seed(0)
    again = torch.rand(3)

    inputs, targets = data()
    x, y = torch.tensor(inputs), torch.tensor(targets)

    def build():
        model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1)).double()
        return model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(model, optimizer):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    model, optimizer = build()
    model.load_state_dict({name: torch.tensor(value) for name, value in weights().items()})
    losses = [step(model, optimizer), step(model, optimizer)]

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "checkpoint.pt")
        with open(path, "wb") as f:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}, f)
        checkpoint = torch.load(path)
    restored, restored_optimizer = build()
    restored.load_state_dict(checkpoint["model"])
    restored_optimizer.load_state_dict(checkpoint["optimizer"])

    losses.append(step(model, optimizer))
    restored_loss = step(restored, restored_optimizer)
    modes = [model.train() is model, model.training, model.eval() is model, model.training, model[0].training]
    return {
        "same_draws": bool((first == again).all().item()),
        "losses": losses,
        "restored_loss": restored_loss,
        "epoch": checkpoint["epoch"],
        "weights": {name: value.detach().numpy() for name, value in model.named_parameters()},
        "restored_weights": {name: value.detach().numpy() for name, value in restored.named_parameters()},
        "modes": modes,
    }
