"""Convolution variants against PyTorch: Conv1d/2d/3d and ConvTranspose1d/2d/3d over stride,
padding (ints, tuples, 'same', 'valid'), dilation, groups, output_padding, bias=False and every
padding_mode; Fold, Unfold, PixelShuffle and PixelUnshuffle."""

from layers_vs_torch import Case


def _conv(cls, args, shape, **kw):
    options = ", ".join([*map(str, args), *(f"{k}={v!r}" for k, v in kw.items())])
    return Case(f"{cls}({options})", lambda nn: getattr(nn, cls)(*args, **kw), [shape])


CASES = [
    # Conv1d / Conv2d: the padding modes (the zeros mode's options are the existing cases')
    *(_conv("Conv1d", (3, 4, 3), (2, 3, 9), padding=2, padding_mode=m) for m in ("reflect", "replicate", "circular")),
    _conv("Conv1d", (2, 4, 4), (2, 2, 9), padding="same", dilation=2, padding_mode="reflect"),
    _conv("Conv1d", (4, 4, 3), (2, 4, 9), padding="valid", groups=2, stride=2, padding_mode="circular"),
    _conv("Conv1d", (2, 3, 3), (2, 9), padding=1, padding_mode="replicate", bias=False),  # unbatched
    _conv("Conv1d", (4, 6, 3), (2, 4, 11), stride=2, padding=1, dilation=2, groups=2),
    *(
        _conv("Conv2d", (2, 3, 3), (2, 2, 7, 6), padding=(1, 2), stride=(2, 1), padding_mode=m)
        for m in ("reflect", "replicate", "circular")
    ),
    _conv("Conv2d", (2, 4, (2, 4)), (2, 2, 6, 7), padding="same", padding_mode="circular"),
    _conv("Conv2d", (4, 4, 3), (2, 4, 7, 7), padding=1, groups=4, dilation=(1, 2), padding_mode="reflect", bias=False),
    # Conv3d
    _conv("Conv3d", (2, 3, 3), (2, 2, 5, 6, 5)),
    _conv("Conv3d", (2, 4, (3, 2, 3)), (2, 2, 6, 5, 7), stride=(2, 1, 2), padding=(1, 0, 2), dilation=(1, 2, 1)),
    _conv("Conv3d", (4, 6, 3), (1, 4, 5, 5, 5), groups=2, padding="same", dilation=2, bias=False),
    _conv("Conv3d", (2, 2, 2), (2, 4, 4, 4), padding="valid"),  # unbatched
    *(
        _conv("Conv3d", (2, 3, 3), (2, 2, 5, 4, 6), padding=(1, 2, 1), stride=2, padding_mode=m)
        for m in ("reflect", "replicate", "circular")
    ),
    _conv("Conv3d", (2, 2, (2, 3, 4)), (1, 2, 4, 5, 6), padding="same", padding_mode="replicate"),
    # ConvTranspose1d / 2d / 3d
    _conv("ConvTranspose1d", (3, 4, 3), (2, 3, 7)),
    _conv("ConvTranspose1d", (4, 6, 4), (2, 4, 7), stride=3, padding=2, output_padding=2, groups=2, dilation=2),
    _conv("ConvTranspose1d", (3, 2, 5), (3, 6), stride=2, padding=1, output_padding=1, bias=False),  # unbatched
    _conv(
        "ConvTranspose2d",
        (4, 6, (3, 2)),
        (2, 4, 5, 4),
        stride=(2, 3),
        padding=(1, 0),
        output_padding=(1, 2),
        groups=2,
        dilation=(2, 1),
    ),
    _conv("ConvTranspose3d", (2, 3, 3), (2, 2, 3, 4, 3)),
    _conv(
        "ConvTranspose3d",
        (4, 2, (2, 3, 2)),
        (1, 4, 3, 3, 4),
        stride=(2, 1, 3),
        padding=(1, 1, 0),
        output_padding=(1, 0, 2),
        groups=2,
        dilation=(1, 2, 1),
        bias=False,
    ),
    Case(
        "ConvTranspose1d(2, 3, 3, stride=2) output_size",
        lambda nn: nn.ConvTranspose1d(2, 3, 3, stride=2),
        [(2, 2, 5)],
        kwargs={"output_size": [12]},
    ),
    # Fold / Unfold
    Case("Unfold(2)", lambda nn: nn.Unfold(2), [(2, 3, 5, 4)]),
    Case(
        "Unfold((2, 3), dilation=(2, 1), padding=1, stride=(1, 2))",
        lambda nn: nn.Unfold((2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
        [(2, 3, 6, 7)],
    ),
    Case("Unfold(3, stride=2) unbatched", lambda nn: nn.Unfold(3, stride=2), [(2, 7, 5)]),
    Case("Fold((4, 5), 2)", lambda nn: nn.Fold((4, 5), 2), [(2, 12, 12)]),
    Case(
        "Fold(6, (2, 3), dilation=2, padding=(1, 0), stride=(2, 1))",
        lambda nn: nn.Fold(6, (2, 3), dilation=2, padding=(1, 0), stride=(2, 1)),
        [(2, 12, 6)],
    ),
    Case("Fold((5, 4), 3, padding=1) unbatched", lambda nn: nn.Fold((5, 4), 3, padding=1), [(18, 20)]),
    # PixelShuffle / PixelUnshuffle
    Case("PixelShuffle(2)", lambda nn: nn.PixelShuffle(2), [(2, 8, 3, 4)]),
    Case("PixelShuffle(3) 5-d", lambda nn: nn.PixelShuffle(3), [(2, 1, 9, 2, 3)]),
    Case("PixelUnshuffle(2)", lambda nn: nn.PixelUnshuffle(2), [(2, 3, 4, 6)]),
    Case("PixelUnshuffle(3) unbatched", lambda nn: nn.PixelUnshuffle(3), [(2, 6, 3)]),
]
