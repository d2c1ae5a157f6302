"""A PyTorch-style MNIST script in miniature: device boilerplate, a CNN trained with Adadelta,
StepLR and nll_loss from a DataLoader over a TensorDataset, then tested with argmax/eq/item.

``main(torch)`` takes the library (PyTorch or chainrule) and returns what the script computed;
tests/test_pytorch_style.py checks it against NumPy, benchmarks/pytorch_examples.py against PyTorch.
"""

import numpy as np


def dataset():
    """8 one-channel 6x6 images in [0, 1] and their labels in 0..2."""
    generator = np.random.default_rng(0)
    return generator.uniform(0, 1, size=(8, 1, 6, 6)), generator.integers(0, 3, size=8)


def weights():
    """The initial state_dict, as NumPy arrays (the same for every library)."""
    generator = np.random.default_rng(1)
    shapes = {"conv1.weight": (2, 1, 3, 3), "conv1.bias": (2,), "fc1.weight": (3, 8), "fc1.bias": (3,)}
    return {name: generator.uniform(-0.5, 0.5, size=shape) for name, shape in shapes.items()}


def main(torch):
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    StepLR = torch.optim.lr_scheduler.StepLR

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 2, 3, 1)
            self.fc1 = nn.Linear(8, 3)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.max_pool2d(x, 2)
            x = torch.flatten(x, 1)
            return F.log_softmax(self.fc1(x), dim=1)

    use_accel = torch.accelerator.is_available() or torch.backends.mps.is_available()
    use_cuda = torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    torch.manual_seed(1)

    images, labels = dataset()
    train_set = torch.utils.data.TensorDataset(torch.tensor(images, dtype=torch.float64), torch.tensor(labels))
    kwargs = {"num_workers": 1, "pin_memory": True} if use_cuda else {"num_workers": 0}
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=4, shuffle=False, **kwargs)

    model = Net().double().to(device)
    model.load_state_dict({name: torch.tensor(value) for name, value in weights().items()})
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)

    losses, lrs = [], []
    for _epoch in range(1, 3):
        model.train()
        lrs.append(optimizer.param_groups[0]["lr"])
        for data, target in train_loader:
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()

    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for data, target in train_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(train_loader.dataset)
    return {
        "losses": losses,
        "lrs": lrs,
        "test_loss": test_loss,
        "correct": correct,
        "report": f"Average loss: {test_loss:.4f}, Accuracy: {correct}/{len(train_loader.dataset)}",
        "device": str(device),
        "accelerators": [use_accel, use_cuda],
        "weights": {name: value.detach().cpu().numpy() for name, value in model.named_parameters()},
    }
