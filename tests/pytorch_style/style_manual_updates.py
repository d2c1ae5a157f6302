"""A PyTorch-style regression script in miniature: item assignment into the data, manual
gradient steps through ``p.data -= lr * p.grad`` and ``with torch.no_grad(): p -= lr * p.grad``,
and the usual Tensor conveniences (view_as, size(1), numel, argmax/eq/sum/item, format).

``main(torch)`` takes the library (PyTorch or chainrule) and returns what the script computed.
"""

import numpy as np

LR = 0.1


def data():
    """Inputs (5, 3), targets (5, 1), class scores (5, 4) and labels (5,)."""
    generator = np.random.default_rng(6)
    inputs, targets = generator.uniform(-1, 1, size=(5, 3)), generator.uniform(-1, 1, size=(5, 1))
    scores = generator.standard_normal((5, 4))
    labels = scores.argmax(axis=1)
    labels[1] = (labels[1] + 1) % 4  # one wrong prediction: 4 of 5 correct
    return inputs, targets, scores, labels


def weights():
    generator = np.random.default_rng(7)
    return {"weight": generator.uniform(-0.5, 0.5, size=(1, 3)), "bias": generator.uniform(-0.5, 0.5, size=1)}


def main(torch):
    F = torch.nn.functional
    inputs, targets, scores, labels = data()
    x = torch.tensor(inputs)
    x[0, 1] = 3
    y = torch.tensor(targets)

    model = torch.nn.Linear(3, 1).double()
    model.load_state_dict({name: torch.tensor(value) for name, value in weights().items()})
    losses = []
    for _step in range(2):
        model.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        for p in model.parameters():
            p.data -= LR * p.grad
        losses.append(loss.item())
    for _step in range(2):
        model.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= LR * p.grad
        losses.append(loss.item())

    output = torch.tensor(scores)
    target = torch.tensor(labels)
    pred = output.argmax(dim=1, keepdim=True)
    correct = pred.eq(target.view_as(pred)).sum().item()
    return {
        "losses": losses,
        "weight": model.weight.detach().numpy(),
        "bias": model.bias.detach().numpy(),
        "x01": x[0, 1].item(),
        "size1": x.size(1),
        "numel": x.numel(),
        "pred": pred.numpy(),
        "correct": correct,
        "formatted": "Loss: {:.4f}".format(loss),  # noqa: UP032 (the examples' spelling: Tensor.__format__)
        "is_leaf": [p.is_leaf for p in model.parameters()],
        "is_cuda": [x.is_cuda, model.weight.is_cuda],
    }
