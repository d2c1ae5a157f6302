"""LSTM with proj_size, Embedding's max_norm and scale_grad_by_freq, and EmbeddingBag against
PyTorch's. A renormalising lookup changes the weight in place, so those cases also return the
weight after the call (an output compared like any other)."""

import numpy as np
from layers_vs_torch import Case

_rng = np.random.default_rng(18)
TOKENS = _rng.integers(0, 10, (3, 4))
TOKENS[0, :2] = 7  # a repeated index (scale_grad_by_freq counts it)
FLAT = _rng.integers(0, 10, 9)
FLAT[:3] = 2  # a repeated index
WEIGHTS = _rng.standard_normal(9)
# PyTorch 2.13's CPU embedding_bag divides by the wrong count when a once-seen index sorts after a
# repeated one (pytorch/pytorch#190063); here the repeated index is the largest, where it is right.
# chainrule divides by each index's own count (tests/test_losses_more.py checks that by hand).
FREQUENT_LAST = np.array([9, 1, 9, 4, 9, 2, 0, 7])


def _with_weight(layer, *inputs, lib, **kwargs):
    return layer(*inputs, **kwargs), layer.weight * 1


CASES = [
    Case("Embedding(10, 4, max_norm=1)", lambda nn: nn.Embedding(10, 4, max_norm=1.0), [TOKENS], call=_with_weight),
    Case(
        "Embedding(max_norm=1.5, norm_type=1)",
        lambda nn: nn.Embedding(10, 4, max_norm=1.5, norm_type=1.0),
        [TOKENS],
        call=_with_weight,
    ),
    Case(
        "Embedding(max_norm, padding_idx)",
        lambda nn: nn.Embedding(10, 4, padding_idx=7, max_norm=1.0),
        [TOKENS],
        call=_with_weight,
    ),
    Case("Embedding(scale_grad_by_freq)", lambda nn: nn.Embedding(10, 4, scale_grad_by_freq=True), [TOKENS]),
    Case(
        "Embedding(scale_grad_by_freq, padding_idx)",
        lambda nn: nn.Embedding(10, 4, padding_idx=3, scale_grad_by_freq=True),
        [TOKENS],
    ),
]
for mode in ("sum", "mean", "max"):
    CASES += [
        Case(f"EmbeddingBag({mode}) 2-D", lambda nn, m=mode: nn.EmbeddingBag(10, 4, mode=m), [TOKENS]),
        Case(
            f"EmbeddingBag({mode}) offsets",
            lambda nn, m=mode: nn.EmbeddingBag(10, 4, mode=m),
            [FLAT, np.array([0, 2, 2, 6])],
        ),  # bag 1 is empty: zeros
        Case(
            f"EmbeddingBag({mode}) include_last_offset",
            lambda nn, m=mode: nn.EmbeddingBag(10, 4, mode=m, include_last_offset=True),
            [FLAT, np.array([0, 3, 7, 9])],
        ),
        Case(
            f"EmbeddingBag({mode}) padding_idx",
            lambda nn, m=mode: nn.EmbeddingBag(10, 4, mode=m, padding_idx=2),
            [FLAT, np.array([0, 3, 5])],
        ),  # bag 0 holds only padding
        Case(
            f"EmbeddingBag({mode}) max_norm",
            lambda nn, m=mode: nn.EmbeddingBag(10, 4, max_norm=1.0, mode=m),
            [FLAT, np.array([0, 4])],
            call=_with_weight,
        ),
    ]
for mode in ("sum", "mean"):
    CASES.append(
        Case(
            f"EmbeddingBag({mode}) scale_grad_by_freq",
            lambda nn, m=mode: nn.EmbeddingBag(10, 4, scale_grad_by_freq=True, mode=m),
            [FREQUENT_LAST, np.array([0, 4])],
        )
    )
CASES += [
    Case(
        "EmbeddingBag(sum) per_sample_weights",
        lambda nn: nn.EmbeddingBag(10, 4, mode="sum"),
        [FLAT, np.array([0, 4, 4]), WEIGHTS],
        call=lambda layer, x, o, w, lib: layer(x, o, per_sample_weights=w),
    ),
    Case(
        "EmbeddingBag(sum) 2-D per_sample_weights",
        lambda nn: nn.EmbeddingBag(10, 4, mode="sum", padding_idx=7),
        [TOKENS, _rng.standard_normal((3, 4))],
        call=lambda layer, x, w, lib: layer(x, per_sample_weights=w),
    ),
]


def _packed(layer, x, lib):
    """The input (4, 3, F) packed with lengths 4, 2, 3 (unsorted: enforce_sorted=False)."""
    rnn = lib.nn.utils.rnn
    packed = rnn.pack_padded_sequence(x, lib.tensor([4, 2, 3]), enforce_sorted=False)
    output, (h_n, c_n) = layer(packed)
    return rnn.pad_packed_sequence(output)[0], h_n, c_n


CASES += [
    Case("LSTM(3, 5, proj_size=2)", lambda nn: nn.LSTM(3, 5, proj_size=2), [(4, 2, 3)]),
    Case(
        "LSTM(proj_size, batch_first, bias=False)",
        lambda nn: nn.LSTM(3, 5, bias=False, batch_first=True, proj_size=3),
        [(2, 4, 3)],
    ),
    Case("LSTM(proj_size, bidirectional)", lambda nn: nn.LSTM(3, 5, bidirectional=True, proj_size=2), [(4, 2, 3)]),
    Case(
        "LSTM(proj_size, 2 layers, bidirectional)",
        lambda nn: nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=3),
        [(5, 2, 3)],
    ),
    Case(
        "LSTM(proj_size, 2 layers) with (h0, c0)",
        lambda nn: nn.LSTM(3, 4, num_layers=2, proj_size=2),
        [(5, 2, 3), (2, 2, 2), (2, 2, 4)],
        call=lambda layer, x, h, c, lib: layer(x, (h, c)),
    ),
    Case("LSTM(proj_size) unbatched", lambda nn: nn.LSTM(3, 4, proj_size=1), [(5, 3)]),
    Case(
        "LSTM(proj_size, bidirectional) packed",
        lambda nn: nn.LSTM(3, 4, bidirectional=True, proj_size=2),
        [(4, 3, 3)],
        call=_packed,
    ),
    Case(
        "LSTM(proj_size, 2 layers) packed",
        lambda nn: nn.LSTM(3, 4, num_layers=2, proj_size=3),
        [(4, 3, 3)],
        call=_packed,
    ),
]
