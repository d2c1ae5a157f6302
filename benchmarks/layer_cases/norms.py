"""Normalisation layers of issue 18 against PyTorch's: GroupNorm, InstanceNorm1d/2d/3d (affine,
running statistics in training and in eval, momentum=None, unbatched input), RMSNorm and
LocalResponseNorm."""

from layers_vs_torch import Case


def _eval_after_training(layer_class, *args, **kwargs):
    """A layer that has tracked running statistics over two training batches, then runs in eval
    mode (its buffers come from PyTorch's state_dict, so the eval step reads the same ones)."""

    def build(nn):
        import numpy as np

        layer = layer_class(nn)(*args, **kwargs)
        rng = np.random.default_rng(5)
        lib = __import__("torch" if nn.__name__.startswith("torch") else "chainrule")
        for _ in range(2):
            x = rng.standard_normal((3, args[0], 6)) * 2 + 1
            layer(lib.from_numpy(x))
        return layer

    return build


CASES = [
    Case("GroupNorm(2, 6)", lambda nn: nn.GroupNorm(2, 6), [(4, 6, 5)]),
    Case("GroupNorm(3, 6) 2d", lambda nn: nn.GroupNorm(3, 6), [(2, 6, 4, 3)]),
    Case("GroupNorm(1, 4) layer-norm-like", lambda nn: nn.GroupNorm(1, 4), [(3, 4, 2, 2)]),
    Case("GroupNorm(4, 4) instance-norm-like", lambda nn: nn.GroupNorm(4, 4), [(3, 4, 5)]),
    Case("GroupNorm(2, 6) no spatial dims", lambda nn: nn.GroupNorm(2, 6), [(5, 6)]),
    Case("GroupNorm(2, 4, affine=False)", lambda nn: nn.GroupNorm(2, 4, affine=False), [(3, 4, 5)]),
    Case("GroupNorm(2, 4, bias=False, eps=1e-3)", lambda nn: nn.GroupNorm(2, 4, eps=1e-3, bias=False), [(3, 4, 5)]),
    Case("GroupNorm(2, 4) eval", lambda nn: nn.GroupNorm(2, 4), [(3, 4, 5)], train=False),
    Case("InstanceNorm1d(3)", lambda nn: nn.InstanceNorm1d(3), [(4, 3, 7)]),
    Case("InstanceNorm1d(3) unbatched", lambda nn: nn.InstanceNorm1d(3), [(3, 7)]),
    Case("InstanceNorm1d(3, affine=True)", lambda nn: nn.InstanceNorm1d(3, affine=True), [(4, 3, 7)]),
    Case(
        "InstanceNorm1d(3, affine, bias=False)", lambda nn: nn.InstanceNorm1d(3, affine=True, bias=False), [(4, 3, 7)]
    ),
    Case(
        "InstanceNorm1d(3, track_running_stats) train",
        lambda nn: nn.InstanceNorm1d(3, track_running_stats=True),
        [(4, 3, 7)],
    ),
    Case(
        "InstanceNorm1d(3, track, momentum=0.3, affine) train",
        lambda nn: nn.InstanceNorm1d(3, momentum=0.3, affine=True, track_running_stats=True),
        [(4, 3, 7)],
    ),
    Case(
        "InstanceNorm1d(3, track, momentum=None) train",
        lambda nn: nn.InstanceNorm1d(3, momentum=None, track_running_stats=True),
        [(4, 3, 7)],
    ),
    Case(
        "InstanceNorm1d(3, track, affine) eval",
        _eval_after_training(lambda nn: nn.InstanceNorm1d, 3, affine=True, track_running_stats=True),
        [(4, 3, 7)],
        train=False,
    ),
    Case(
        "InstanceNorm1d(3, track) unbatched eval",
        _eval_after_training(lambda nn: nn.InstanceNorm1d, 3, track_running_stats=True),
        [(3, 7)],
        train=False,
    ),
    Case("InstanceNorm1d(3) eval without running stats", lambda nn: nn.InstanceNorm1d(3), [(4, 3, 7)], train=False),
    Case("InstanceNorm2d(3)", lambda nn: nn.InstanceNorm2d(3), [(2, 3, 4, 5)]),
    Case(
        "InstanceNorm2d(3, affine, track) train",
        lambda nn: nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
        [(2, 3, 4, 5)],
    ),
    Case("InstanceNorm2d(3) unbatched", lambda nn: nn.InstanceNorm2d(3, affine=True), [(3, 4, 5)]),
    Case(
        "InstanceNorm3d(2, affine, track) train",
        lambda nn: nn.InstanceNorm3d(2, affine=True, track_running_stats=True),
        [(2, 2, 3, 2, 4)],
    ),
    Case("InstanceNorm3d(2) unbatched", lambda nn: nn.InstanceNorm3d(2), [(2, 3, 2, 4)]),
    Case("RMSNorm(6)", lambda nn: nn.RMSNorm(6), [(3, 4, 6)]),
    Case("RMSNorm([4, 6], eps=1e-3)", lambda nn: nn.RMSNorm([4, 6], eps=1e-3), [(3, 4, 6)]),
    Case("RMSNorm(6, elementwise_affine=False)", lambda nn: nn.RMSNorm(6, elementwise_affine=False), [(2, 6)]),
    Case("RMSNorm(6) eps=None one sample", lambda nn: nn.RMSNorm(6), [(6,)]),
    Case("LocalResponseNorm(2)", lambda nn: nn.LocalResponseNorm(2), [(2, 5, 7)]),
    Case(
        "LocalResponseNorm(3, alpha, beta, k) 2d",
        lambda nn: nn.LocalResponseNorm(3, alpha=0.5, beta=0.6, k=2.0),
        [(2, 6, 3, 4)],
    ),
    Case("LocalResponseNorm(5, alpha=1.0) 3d", lambda nn: nn.LocalResponseNorm(5, alpha=1.0), [(2, 4, 2, 3, 2)]),
    Case(
        "LocalResponseNorm(1, alpha=2.0, beta=1.0)",
        lambda nn: nn.LocalResponseNorm(1, alpha=2.0, beta=1.0),
        [(2, 3, 4)],
    ),
]
