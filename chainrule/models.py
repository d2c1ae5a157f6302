"""Ready-made architectures for the command line and the examples: multilayer perceptrons (with
dropout, batch norm or residual blocks), small CNNs, recurrent sequence classifiers and
autoencoders, built from chainrule.nn layers."""

import itertools

from chainrule import nn
from chainrule.nn import init

_ACTIVATIONS = {
    "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "softplus": nn.Softplus,
}  # fmt: skip
ACTIVATIONS = tuple(_ACTIVATIONS)
INITS = ("default", "xavier", "he")


def activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


def initialise(model: nn.Module, scheme: str = "default", nonlinearity: str = "relu") -> nn.Module:
    """Re-initialise every Linear/Conv weight: "default" (PyTorch's), "xavier" (Glorot) or "he"
    (Kaiming, for ReLU-like units); biases become zero for "xavier" and "he"."""
    if scheme == "default":
        return model
    if scheme not in INITS:
        raise ValueError(f"unknown init {scheme!r}; expected 'default', 'xavier' or 'he'")
    gain_name = nonlinearity if nonlinearity in ("relu", "leaky_relu", "tanh", "sigmoid") else "relu"
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)) and weight is not None:
            if scheme == "xavier":
                init.xavier_uniform_(weight, gain=init.calculate_gain(gain_name))
            else:
                init.kaiming_normal_(weight, nonlinearity="relu" if gain_name == "relu" else "leaky_relu")
            if module.bias is not None:
                init.zeros_(module.bias)
    return model


def xor_network(hidden: int = 2, activation_name: str = "sigmoid", seed: int = 0) -> nn.Sequential:
    """The 2-H-1 network of ``chainrule explain`` (and the playground's local-minimum preset):
    Linear(2, H), the activation, Linear(H, 1), Sigmoid, with PyTorch's default init drawn after
    ``chainrule.manual_seed(seed)``. One builder for both, so that their numbers agree.

    >>> [p.shape for p in xor_network(3).parameters()]
    [(3, 2), (3,), (1, 3), (1,)]
    """
    from chainrule.random import manual_seed

    manual_seed(seed)
    return nn.Sequential(nn.Linear(2, hidden), activation(activation_name), nn.Linear(hidden, 1), nn.Sigmoid())


def mlp(in_features: int, hidden=(128,), out_features: int = 10, *, activation_name: str = "relu",
        dropout: float = 0.0, batch_norm: bool = False, residual: bool = False,
        init_scheme: str = "default") -> nn.Sequential:
    """Linear layers of the ``hidden`` widths with activations between them, then a Linear output.

    ``batch_norm`` adds BatchNorm1d before each activation, ``dropout`` a Dropout after it, and
    ``residual`` wraps every hidden layer whose input and output widths agree in ``x + f(x)``.
    """
    hidden = list(hidden)
    if any(h <= 0 for h in hidden):
        raise ValueError(f"mlp: hidden widths must be positive, got {hidden}")
    layers = []
    width = in_features
    for h in hidden:
        block = [nn.Linear(width, h)]
        if batch_norm:
            block.append(nn.BatchNorm1d(h))
        block.append(activation(activation_name))
        if dropout:
            block.append(nn.Dropout(dropout))
        if residual and width == h:
            layers.append(nn.Residual(nn.Sequential(*block)))
        else:
            layers.extend(block)
        width = h
    layers.append(nn.Linear(width, out_features))
    return initialise(nn.Sequential(*layers), init_scheme, activation_name)


def cnn(input_shape, out_features: int, channels=(16, 32), *, kernel_size: int = 3,
        activation_name: str = "relu", dropout: float = 0.0, batch_norm: bool = False,
        init_scheme: str = "default") -> nn.Sequential:
    """Blocks of convolution (same padding), activation and max-pooling by 2, then a Linear
    classifier. ``input_shape`` is (C, L) for 1-d signals or (C, H, W) for images."""
    if len(input_shape) not in (2, 3):
        raise ValueError(f"cnn: input_shape must be (C, L) or (C, H, W), got {input_shape}")
    two_d = len(input_shape) == 3
    if two_d:
        conv, pool, norm = nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d
    else:
        conv, pool, norm = nn.Conv1d, nn.MaxPool1d, nn.BatchNorm1d
    layers = []
    in_channels, sizes = input_shape[0], list(input_shape[1:])
    for c in channels:
        layers.append(conv(in_channels, c, kernel_size, padding=kernel_size // 2))
        if batch_norm:
            layers.append(norm(c))
        layers.append(activation(activation_name))
        if min(sizes) >= 2:
            layers.append(pool(2))
            sizes = [s // 2 for s in sizes]
        in_channels = c
    layers.append(nn.Flatten())
    if dropout:
        layers.append(nn.Dropout(dropout))
    flat = in_channels
    for s in sizes:
        flat *= s
    layers.append(nn.Linear(flat, out_features))
    return initialise(nn.Sequential(*layers), init_scheme, activation_name)


class SequenceClassifier(nn.Module):
    """A recurrent layer (RNN, GRU or LSTM) read to the end, then a Linear layer on the last
    hidden state. Input (N, L, features), batch first."""

    def __init__(self, kind: str, input_size: int, hidden_size: int, out_features: int,
                 num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        layers = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
        if kind not in layers:
            raise ValueError(f"SequenceClassifier: kind must be one of {sorted(layers)}, got {kind!r}")
        self.kind = kind
        self.rnn = layers[kind](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, out_features)

    def forward(self, x):
        if x.ndim == 2:  # (N, L): one feature per step
            x = x.unsqueeze(-1)
        outputs, _ = self.rnn(x)
        return self.head(outputs[:, -1])


def autoencoder(in_features: int, hidden=(64, 16), *, activation_name: str = "relu") -> nn.Sequential:
    """An encoder narrowing through ``hidden`` to a code of hidden[-1] units and a mirrored decoder
    back to ``in_features`` (train it to reproduce its input, e.g. with MSELoss)."""
    widths = [in_features, *hidden]
    layers = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), activation(activation_name)]
    back = widths[::-1]
    for i, (a, b) in enumerate(itertools.pairwise(back)):
        layers.append(nn.Linear(a, b))
        if i < len(back) - 2:
            layers.append(activation(activation_name))
    return nn.Sequential(*layers)
