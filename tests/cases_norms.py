"""Op-table cases for issue 18's normalisations: group norm (every grouping, with and without
affine parameters), instance norm (the instance statistics, updating running ones, and the
running ones in eval), RMS norm and local response norm. Values are spread within each group so
that no variance is near 0, where finite differences of 1/sqrt(var + eps) are unreliable; the
references are NumPy formulas written here."""

import math

import numpy as np
from hypothesis import strategies as st
from op_table import Case, Drawn, values

from chainrule._tensor import Tensor
from chainrule.ops.normalization import group_norm, instance_norm, local_response_norm, rms_norm


def _grouped_values(d, shape, groups):
    """Values of ``shape`` (N, C, ...) whose elements in each group are 1.5 apart plus noise."""
    n = shape[0]
    size = math.prod(shape) // (n * groups)
    return (values(d, (n, groups, size), -0.5, 0.5) + 1.5 * np.arange(size)).reshape(shape)


def _group_norm_ref(a, groups, eps, w=None, b=None):
    grouped = a.reshape(a.shape[0], groups, -1)
    out = ((grouped - grouped.mean(-1, keepdims=True)) / np.sqrt(grouped.var(-1, keepdims=True) + eps)).reshape(a.shape)
    kept = (1, a.shape[1]) + (1,) * (a.ndim - 2)
    if w is not None:
        out = out * w.reshape(kept)
    return out if b is None else out + b.reshape(kept)


def _group_norm_case():
    def draw(d):
        groups, per_group = d(st.integers(1, 3)), d(st.integers(1, 3))
        spatial = tuple(d(st.integers(1, 3)) for _ in range(d(st.integers(0, 2))))
        if per_group * math.prod(spatial) == 1:
            spatial = (2,)  # at least 2 values per group
        shape = (d(st.integers(1, 3)), groups * per_group, *spatial)
        x = _grouped_values(d, shape, groups)
        eps = d(st.sampled_from([1e-5, 0.1]))
        form = d(st.sampled_from(["none", "weight", "both"]))
        if form == "none":
            return Drawn([x], lambda a: group_norm(a, groups, eps=eps), lambda a: _group_norm_ref(a, groups, eps))
        w = values(d, (shape[1],), 0.5, 2.0)
        if form == "weight":
            return Drawn(
                [x, w], lambda a, w: group_norm(a, groups, w, eps=eps), lambda a, w: _group_norm_ref(a, groups, eps, w)
            )
        b = values(d, (shape[1],))
        return Drawn(
            [x, w, b],
            lambda a, w, b: group_norm(a, groups, w, b, eps),
            lambda a, w, b: _group_norm_ref(a, groups, eps, w, b),
        )

    return Case("group_norm", draw)


def _instance_norm_case(use_input_stats):
    def draw(d):
        channels = d(st.integers(1, 3))
        spatial = tuple(d(st.integers(2, 3)) for _ in range(d(st.integers(1, 2))))
        shape = (d(st.integers(1, 3)), channels, *spatial)
        x = _grouped_values(d, shape, channels)
        mean, var = values(d, (channels,), -1.0, 1.0), values(d, (channels,), 0.5, 2.0)
        kept = (1, channels) + (1,) * len(spatial)
        tracked = not use_input_stats or d(st.booleans())

        def op(a, *affine):
            # Fresh running statistics per call, in the input's dtype: in training they are only updated.
            running = (Tensor(mean, dtype=a.dtype), Tensor(var, dtype=a.dtype)) if tracked else (None, None)
            return instance_norm(a, *running, *affine, use_input_stats=use_input_stats, momentum=0.3)

        def ref(a, w=None, b=None):
            if use_input_stats:
                return _group_norm_ref(a, channels, 1e-5, w, b)
            out = (a - mean.reshape(kept)) / np.sqrt(var.reshape(kept) + 1e-5)
            return out if w is None else out * w.reshape(kept) + b.reshape(kept)

        if d(st.booleans()):
            return Drawn([x, values(d, (channels,), 0.5, 2.0), values(d, (channels,))], op, ref)
        return Drawn([x], op, ref)

    return Case("instance_norm", draw)


def _rms_norm_case():
    def draw(d):
        lead = tuple(d(st.integers(1, 3)) for _ in range(d(st.integers(0, 2))))
        normalized = tuple(d(st.integers(1, 3)) for _ in range(d(st.integers(1, 2))))
        x = values(d, lead + normalized, away_from=0.0)  # |x| >= 0.1: the mean square stays clear of 0
        axes = tuple(range(len(lead), len(lead) + len(normalized)))
        eps = d(st.sampled_from([None, 1e-5, 0.5]))

        def ref(a, w=None):
            used = np.finfo(a.dtype).eps if eps is None else eps
            out = a / np.sqrt((a * a).mean(axis=axes, keepdims=True) + used)
            return out if w is None else out * w

        if d(st.booleans()):
            return Drawn([x, values(d, normalized, 0.5, 2.0)], lambda a, w: rms_norm(a, normalized, w, eps), ref)
        return Drawn([x], lambda a: rms_norm(a, normalized, eps=eps), ref)

    return Case("rms_norm", draw)


def _local_response_norm_case():
    def draw(d):
        shape = (
            d(st.integers(1, 2)),
            d(st.integers(1, 5)),
            *(d(st.integers(1, 3)) for _ in range(d(st.integers(1, 3)))),
        )
        size = d(st.integers(1, 4))
        alpha, beta, k = (
            d(st.sampled_from([1e-4, 0.5, 2.0])),
            d(st.sampled_from([0.75, 0.5, 1.0])),
            d(st.sampled_from([1.0, 2.0])),
        )

        def ref(a):
            channels = a.shape[1]
            square = a * a
            total = np.zeros_like(a)
            for c in range(channels):  # the window c - size//2 ... c + (size-1)//2, within the channels
                for j in range(c - size // 2, c + (size - 1) // 2 + 1):
                    if 0 <= j < channels:
                        total[:, c] += square[:, j]
            return a / (k + alpha * total / size) ** beta

        return Drawn([values(d, shape)], lambda t: local_response_norm(t, size, alpha, beta, k), ref)

    return Case("local_response_norm", draw)


CASES = [
    _group_norm_case(),
    _instance_norm_case(use_input_stats=True),
    _instance_norm_case(use_input_stats=False),
    _rms_norm_case(),
    _local_response_norm_case(),
]
