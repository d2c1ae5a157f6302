"""A PyTorch-style sequence classifier in miniature: an LSTM over image rows, BatchNorm1d,
Dropout2d and Linear layers, run in eval mode after loading a state_dict with the batch-norm
buffers; then one batch-norm forward in training mode updates its running statistics.

``main(torch)`` takes the library (PyTorch or chainrule) and returns what the script computed.
"""

import numpy as np

HIDDEN = 3


def data():
    """3 'images' of 4 rows of 2 pixels: batch_first sequences of length 4."""
    return np.random.default_rng(4).uniform(-1, 1, size=(3, 1, 4, 2))


def weights():
    generator = np.random.default_rng(5)
    h = HIDDEN
    shapes = {
        "rnn.weight_ih_l0": (4 * h, 2),
        "rnn.weight_hh_l0": (4 * h, h),
        "rnn.bias_ih_l0": (4 * h,),
        "rnn.bias_hh_l0": (4 * h,),
        "batchnorm.weight": (h,),
        "batchnorm.bias": (h,),
        "fc1.weight": (2, h),
        "fc1.bias": (2,),
    }
    state = {name: generator.uniform(-0.7, 0.7, size=shape) for name, shape in shapes.items()}
    state["batchnorm.running_mean"] = generator.uniform(-0.1, 0.1, size=h)
    state["batchnorm.running_var"] = generator.uniform(0.5, 1.5, size=h)
    return state


def main(torch):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(input_size=2, hidden_size=HIDDEN, batch_first=True)
            self.batchnorm = nn.BatchNorm1d(HIDDEN)
            self.dropout1 = nn.Dropout2d(0.25)
            self.fc1 = nn.Linear(HIDDEN, 2)

        def forward(self, input):
            input = input.reshape(-1, 4, 2)
            output, hidden = self.rnn(input)
            output = output[:, -1, :]
            output = self.batchnorm(output)
            output = self.dropout1(output)
            output = self.fc1(output)
            return F.log_softmax(output, dim=1), hidden

    device = torch.device("cpu")
    model = Net().double().to(device)
    state = {name: torch.tensor(value) for name, value in weights().items()}
    state["batchnorm.num_batches_tracked"] = torch.tensor(0)
    model.load_state_dict(state)

    evaluating = model.eval()
    modes = [evaluating is model, model.training, model.dropout1.training]
    x = torch.tensor(data()).to(device)
    with torch.no_grad():
        output, (h_n, c_n) = model(x)
        pred = output.argmax(dim=1, keepdim=True)

    model.train()
    modes += [model.training, model.batchnorm.training]
    model.batchnorm(h_n[0].detach())
    return {
        "log_probs": output.numpy(),
        "pred": pred.numpy(),
        "h_n": h_n.numpy(),
        "c_n": c_n.numpy(),
        "modes": modes,
        "running_mean": model.batchnorm.running_mean.numpy(),
        "running_var": model.batchnorm.running_var.numpy(),
        "num_batches_tracked": model.batchnorm.num_batches_tracked.item(),
    }
