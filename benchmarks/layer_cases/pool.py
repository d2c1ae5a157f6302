"""Pooling and resampling layers: 3-d max and average pooling, adaptive max and average pooling,
max unpooling after a max pool, LPPool, Upsample and F.interpolate in every mode with integer and
non-integer sizes and scale factors, align_corners and recompute_scale_factor. Indices are
compared as floats (an integer output gets no comparison of its own).

PyTorch quirks left out (chainrule's gradient follows its forward, PyTorch's does not): a given
scale_factor whose output size equals the input's (bicubic, antialiased modes; and 1-d/3-d
nearest, also at twice the input's), and max_unpool where two windows share a maximum (stride <
kernel). Also left out: antialiased resizing to a width of 1, where PyTorch's forward repeats the
first row (its backward does not)."""

from layers_vs_torch import Case


def _with_indices(layer, x, lib):
    out, indices = layer(x)
    return out, indices.double()


def _unpool(nd, kernel, stride=None, padding=0, output_size=None):
    """A max pool with indices, then the unpooling layer under test."""

    def call(layer, x, lib):
        pool = getattr(lib.nn.functional, f"max_pool{nd}d")
        out, indices = pool(x, kernel, stride, padding, return_indices=True)
        return layer(out, indices, output_size=output_size), indices.double()

    return call


def _interpolate(**kw):
    def call(layer, x, lib):
        return lib.nn.functional.interpolate(x, **kw)

    return call


CASES = [
    # ---- 3-d max and average pooling
    Case("MaxPool3d(2)", lambda nn: nn.MaxPool3d(2), [(2, 3, 4, 6, 5)]),
    Case("MaxPool3d(3, 2, 1, ceil_mode)", lambda nn: nn.MaxPool3d(3, 2, 1, ceil_mode=True), [(2, 2, 6, 7, 5)]),
    Case(
        "MaxPool3d((2,3,2), (1,2,1), dilation=(2,1,1))",
        lambda nn: nn.MaxPool3d((2, 3, 2), (1, 2, 1), dilation=(2, 1, 1)),
        [(1, 2, 5, 7, 4)],
    ),
    Case(
        "MaxPool3d(2, return_indices) unbatched",
        lambda nn: nn.MaxPool3d(2, 1, 1, return_indices=True),
        [(3, 4, 5, 4)],
        call=_with_indices,
    ),
    Case(
        "MaxPool1d(3, 2, 1, return_indices)",
        lambda nn: nn.MaxPool1d(3, 2, 1, return_indices=True),
        [(2, 3, 11)],
        call=_with_indices,
    ),
    Case(
        "MaxPool2d(3, 2, 1, ceil_mode, return_indices)",
        lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True, return_indices=True),
        [(2, 3, 8, 7)],
        call=_with_indices,
    ),
    Case("AvgPool3d(2)", lambda nn: nn.AvgPool3d(2), [(2, 3, 4, 6, 5)]),
    Case("AvgPool3d(3, 2, 1)", lambda nn: nn.AvgPool3d(3, 2, 1), [(2, 2, 6, 7, 5)]),
    Case(
        "AvgPool3d(3, 2, 1, ceil_mode, no pad count)",
        lambda nn: nn.AvgPool3d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        [(2, 2, 6, 7, 5)],
    ),
    Case(
        "AvgPool3d((1,2,3), divisor_override=4)",
        lambda nn: nn.AvgPool3d((1, 2, 3), divisor_override=4),
        [(2, 3, 5, 6, 7)],
    ),
    # ---- adaptive pooling
    Case("AdaptiveAvgPool3d((2,3,None))", lambda nn: nn.AdaptiveAvgPool3d((2, 3, None)), [(2, 3, 5, 7, 4)]),
    Case("AdaptiveAvgPool3d(1)", lambda nn: nn.AdaptiveAvgPool3d(1), [(2, 3, 5, 7, 4)]),
    Case("AdaptiveMaxPool1d(4)", lambda nn: nn.AdaptiveMaxPool1d(4), [(2, 3, 10)]),
    Case(
        "AdaptiveMaxPool1d(7, return_indices)",
        lambda nn: nn.AdaptiveMaxPool1d(7, return_indices=True),
        [(2, 3, 5)],
        call=_with_indices,
    ),
    Case("AdaptiveMaxPool2d((3, None))", lambda nn: nn.AdaptiveMaxPool2d((3, None)), [(2, 3, 7, 5)]),
    Case(
        "AdaptiveMaxPool2d(4, return_indices)",
        lambda nn: nn.AdaptiveMaxPool2d(4, return_indices=True),
        [(2, 3, 9, 6)],
        call=_with_indices,
    ),
    Case("AdaptiveMaxPool2d(1) unbatched", lambda nn: nn.AdaptiveMaxPool2d(1), [(3, 5, 6)]),
    Case(
        "AdaptiveMaxPool3d((2,3,2), return_indices)",
        lambda nn: nn.AdaptiveMaxPool3d((2, 3, 2), return_indices=True),
        [(2, 2, 5, 7, 3)],
        call=_with_indices,
    ),
    # ---- max unpooling (after a max pool in the same library)
    Case("MaxUnpool1d(2)", lambda nn: nn.MaxUnpool1d(2), [(2, 3, 10)], call=_unpool(1, 2)),
    Case("MaxUnpool1d(3, 3, 1)", lambda nn: nn.MaxUnpool1d(3, 3, 1), [(2, 3, 10)], call=_unpool(1, 3, 3, 1)),
    Case("MaxUnpool2d(2)", lambda nn: nn.MaxUnpool2d(2), [(2, 3, 8, 6)], call=_unpool(2, 2)),
    Case(
        "MaxUnpool2d(2) odd input, output_size",
        lambda nn: nn.MaxUnpool2d(2),
        [(2, 3, 9, 7)],
        call=_unpool(2, 2, output_size=(9, 7)),
    ),
    Case(
        "MaxUnpool2d((2,3), (2,3)) output_size N,C,H,W",
        lambda nn: nn.MaxUnpool2d((2, 3), (2, 3)),
        [(2, 3, 8, 9)],
        call=_unpool(2, (2, 3), (2, 3), 0, (2, 3, 9, 10)),
    ),
    Case("MaxUnpool2d(2) unbatched", lambda nn: nn.MaxUnpool2d(2), [(3, 6, 4)], call=_unpool(2, 2)),
    Case("MaxUnpool3d(2)", lambda nn: nn.MaxUnpool3d(2), [(2, 2, 4, 6, 4)], call=_unpool(3, 2)),
    # ---- power-average pooling
    Case("LPPool1d(2, 3, stride=2)", lambda nn: nn.LPPool1d(2, 3, stride=2), [(2, 3, 11)]),
    Case("LPPool1d(1, 2)", lambda nn: nn.LPPool1d(1, 2), [(2, 3, 10)]),
    Case("LPPool2d(2, 2)", lambda nn: nn.LPPool2d(2, 2), [(2, 3, 8, 6)]),
    Case("LPPool2d(4, (3,2), ceil_mode)", lambda nn: nn.LPPool2d(4, (3, 2), ceil_mode=True), [(2, 3, 8, 7)]),
    Case("LPPool2d(inf, 2)", lambda nn: nn.LPPool2d(float("inf"), 2), [(2, 3, 8, 6)]),
    Case("LPPool3d(2, 2)", lambda nn: nn.LPPool3d(2, 2), [(2, 2, 4, 6, 4)]),
    # ---- Upsample: modes x sizes x scale factors x align_corners
    Case("Upsample(scale 2, nearest)", lambda nn: nn.Upsample(scale_factor=2), [(2, 3, 5, 4)]),
    Case("Upsample(scale 1.5, nearest) 1d", lambda nn: nn.Upsample(scale_factor=1.5), [(2, 3, 7)]),
    Case("Upsample(scale (1.7, 0.6), nearest)", lambda nn: nn.Upsample(scale_factor=(1.7, 0.6)), [(2, 3, 5, 8)]),
    Case("Upsample(size (7, 3), nearest)", lambda nn: nn.Upsample(size=(7, 3)), [(2, 3, 5, 8)]),
    Case("Upsample(scale 2.5, nearest) 3d", lambda nn: nn.Upsample(scale_factor=2.5), [(1, 2, 3, 4, 2)]),
    Case("Upsample(size (5,3,7), nearest) 3d", lambda nn: nn.Upsample(size=(5, 3, 7)), [(1, 2, 3, 4, 2)]),
    Case(
        "Upsample(scale 1.5, nearest-exact)",
        lambda nn: nn.Upsample(scale_factor=1.5, mode="nearest-exact"),
        [(2, 3, 5, 4)],
    ),
    Case("Upsample(size 4, nearest-exact) 1d", lambda nn: nn.Upsample(size=4, mode="nearest-exact"), [(2, 3, 7)]),
    Case("Upsample(scale 2.2, linear)", lambda nn: nn.Upsample(scale_factor=2.2, mode="linear"), [(2, 3, 6)]),
    Case(
        "Upsample(size 4, linear, align_corners)",
        lambda nn: nn.Upsample(size=4, mode="linear", align_corners=True),
        [(2, 3, 9)],
    ),
    Case("Upsample(scale 0.4, linear)", lambda nn: nn.Upsample(scale_factor=0.4, mode="linear"), [(2, 3, 11)]),
    Case("Upsample(scale 2, bilinear)", lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"), [(2, 3, 5, 4)]),
    Case(
        "Upsample(scale (1.3, 2.7), bilinear)",
        lambda nn: nn.Upsample(scale_factor=(1.3, 2.7), mode="bilinear"),
        [(2, 3, 5, 4)],
    ),
    Case(
        "Upsample(scale 1.5, bilinear, align_corners)",
        lambda nn: nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True),
        [(2, 3, 5, 4)],
    ),
    Case("Upsample(size (3, 11), bilinear)", lambda nn: nn.Upsample(size=(3, 11), mode="bilinear"), [(2, 3, 7, 4)]),
    Case(
        "Upsample(size (1, 6), bilinear, align_corners)",
        lambda nn: nn.Upsample(size=(1, 6), mode="bilinear", align_corners=True),
        [(2, 3, 7, 4)],
    ),
    Case("Upsample(scale 2, bicubic)", lambda nn: nn.Upsample(scale_factor=2, mode="bicubic"), [(2, 3, 5, 4)]),
    Case(
        "Upsample(scale (1.6, 0.7), bicubic)",
        lambda nn: nn.Upsample(scale_factor=(1.6, 0.7), mode="bicubic"),
        [(2, 3, 5, 9)],
    ),
    Case(
        "Upsample(size (8, 3), bicubic, align_corners)",
        lambda nn: nn.Upsample(size=(8, 3), mode="bicubic", align_corners=True),
        [(2, 3, 5, 6)],
    ),
    Case(
        "Upsample(scale 1.5, trilinear)", lambda nn: nn.Upsample(scale_factor=1.5, mode="trilinear"), [(1, 2, 3, 4, 2)]
    ),
    Case(
        "Upsample(size (5,2,3), trilinear, align_corners)",
        lambda nn: nn.Upsample(size=(5, 2, 3), mode="trilinear", align_corners=True),
        [(1, 2, 3, 4, 2)],
    ),
    Case("Upsample(size (3, 2), area)", lambda nn: nn.Upsample(size=(3, 2), mode="area"), [(2, 3, 7, 5)]),
    Case("Upsample(scale 0.5, area)", lambda nn: nn.Upsample(scale_factor=0.5, mode="area"), [(2, 3, 8, 6)]),
    Case("UpsamplingNearest2d(scale 3)", lambda nn: nn.UpsamplingNearest2d(scale_factor=3), [(2, 3, 4, 3)]),
    Case("UpsamplingNearest2d(size (5, 7))", lambda nn: nn.UpsamplingNearest2d(size=(5, 7)), [(2, 3, 4, 3)]),
    Case("UpsamplingBilinear2d(scale 1.5)", lambda nn: nn.UpsamplingBilinear2d(scale_factor=1.5), [(2, 3, 4, 6)]),
    Case("UpsamplingBilinear2d(size (7, 2))", lambda nn: nn.UpsamplingBilinear2d(size=(7, 2)), [(2, 3, 4, 6)]),
    # ---- F.interpolate's other arguments
    Case(
        "interpolate(scale 1.7, bilinear, recompute_scale_factor)",
        lambda nn: nn.Identity(),
        [(2, 3, 5, 4)],
        call=_interpolate(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
    ),
    Case(
        "interpolate(scale 2.3, nearest, recompute_scale_factor) 1d",
        lambda nn: nn.Identity(),
        [(2, 3, 6)],
        call=_interpolate(scale_factor=2.3, mode="nearest", recompute_scale_factor=True),
    ),
    Case(
        "interpolate(scale 1.1, linear) 1d, size = input's",
        lambda nn: nn.Identity(),
        [(2, 3, 8)],
        call=_interpolate(scale_factor=1.1, mode="linear"),
    ),
    Case(
        "interpolate(scale 2.05, nearest) 2d, size = twice the input's",
        lambda nn: nn.Identity(),
        [(2, 3, 8, 3)],
        call=_interpolate(scale_factor=(2.05, 1.1), mode="nearest"),
    ),
    Case(
        "interpolate(size (3, 5), bilinear, antialias)",
        lambda nn: nn.Identity(),
        [(2, 3, 9, 13)],
        call=_interpolate(size=(3, 5), mode="bilinear", antialias=True),
    ),
    Case(
        "interpolate(scale (0.3, 1.6), bicubic, antialias)",
        lambda nn: nn.Identity(),
        [(2, 3, 11, 5)],
        call=_interpolate(scale_factor=(0.3, 1.6), mode="bicubic", antialias=True),
    ),
    Case(
        "interpolate(size (4, 2), bilinear, antialias, align_corners)",
        lambda nn: nn.Identity(),
        [(2, 3, 9, 7)],
        call=_interpolate(size=(4, 2), mode="bilinear", antialias=True, align_corners=True),
    ),
    Case(
        "interpolate(size (6, 3), bicubic, antialias, align_corners)",
        lambda nn: nn.Identity(),
        [(2, 3, 13, 7)],
        call=_interpolate(size=(6, 3), mode="bicubic", antialias=True, align_corners=True),
    ),
    Case(
        "interpolate(scale 0.35, bicubic)",
        lambda nn: nn.Identity(),
        [(2, 3, 9, 7)],
        call=_interpolate(scale_factor=0.35, mode="bicubic"),
    ),
]
