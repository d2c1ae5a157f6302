"""Layers that were compared before this script existed: a few, as the harness's own check."""

from layers_vs_torch import Case

CASES = [
    Case("Linear(4, 3)", lambda nn: nn.Linear(4, 3), [(5, 4)]),
    Case("LayerNorm(6)", lambda nn: nn.LayerNorm(6), [(2, 3, 6)]),
    Case("BatchNorm1d(4) train", lambda nn: nn.BatchNorm1d(4), [(5, 4)]),
    Case("Conv2d(2, 3, 3, padding=1)", lambda nn: nn.Conv2d(2, 3, 3, padding=1), [(2, 2, 5, 5)]),
    Case("LSTM(3, 4, batch_first)", lambda nn: nn.LSTM(3, 4, batch_first=True), [(2, 5, 3)]),
]
