"""Op-table cases for issue 18's convolution variants: conv3d, conv_transpose1d/3d (one N-d
drawing), F.unfold / F.fold (im2col and its adjoint) and pixel_shuffle / pixel_unshuffle, each
against a plain loop written here or in cases_conv. Sizes stay small: the 3-d references loop in
Python and the finite differences perturb every element."""

import itertools
import math

import numpy as np
from cases_conv import _expand, _ints, conv_reference, conv_transpose_reference
from hypothesis import strategies as st
from op_table import Case, Drawn, values

from chainrule.nn.functional import pixel_shuffle, pixel_unshuffle
from chainrule.ops.conv import conv3d, conv_transpose1d, conv_transpose3d, fold, unfold

# ---------------------------------------------------------------------------- loop references


def _block_counts(sizes, kernel, dilation, padding, stride):
    return [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, d, p, s in zip(sizes, kernel, dilation, padding, stride)]


def _block_entries(sizes, kernel, dilation, padding, stride):
    """(row offset (i, j), column, image position (y, x)) for every in-image entry of the
    unfolded matrix: row c * kh * kw + i * kw + j, column by * Lw + bx."""
    blocks = _block_counts(sizes, kernel, dilation, padding, stride)
    for (i, j), (by, bx) in itertools.product(
        itertools.product(*map(range, kernel)), itertools.product(*map(range, blocks))
    ):
        y = by * stride[0] + i * dilation[0] - padding[0]
        x = bx * stride[1] + j * dilation[1] - padding[1]
        if 0 <= y < sizes[0] and 0 <= x < sizes[1]:
            yield i * kernel[1] + j, by * blocks[1] + bx, (y, x)


def unfold_reference(a, kernel_size, dilation=1, padding=0, stride=1):
    """F.unfold one entry at a time: out[n, c kh kw + i kw + j, block] = a[n, c, y, x]."""
    kernel, dilation, padding, stride = (_expand(v, 2) for v in (kernel_size, dilation, padding, stride))
    batched = a.ndim == 4
    a = a if batched else a[None]
    n, c, *sizes = a.shape
    rows = math.prod(kernel)
    out = np.zeros((n, c * rows, math.prod(_block_counts(sizes, kernel, dilation, padding, stride))))
    for row, column, at in _block_entries(sizes, kernel, dilation, padding, stride):
        for ci in range(c):
            out[:, ci * rows + row, column] = a[(slice(None), ci, *at)]
    return out if batched else out[0]


def fold_reference(a, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """F.fold one entry at a time: each column entry added to the image position it came from."""
    sizes, kernel, dilation, padding, stride = (
        _expand(v, 2) for v in (output_size, kernel_size, dilation, padding, stride)
    )
    batched = a.ndim == 3
    a = a if batched else a[None]
    rows = math.prod(kernel)
    n, c = a.shape[0], a.shape[1] // rows
    out = np.zeros((n, c, *sizes))
    for row, column, at in _block_entries(sizes, kernel, dilation, padding, stride):
        for ci in range(c):
            out[(slice(None), ci, *at)] += a[:, ci * rows + row, column]
    return out if batched else out[0]


def pixel_shuffle_reference(a, r):
    """out[..., c, h r + i, w r + j] = a[..., c r^2 + i r + j, h, w], one plane at a time."""
    *lead, c, h, w = a.shape
    out = np.empty((*lead, c // (r * r), h * r, w * r))
    for co, i, j in itertools.product(range(c // (r * r)), range(r), range(r)):
        out[..., co, i::r, j::r] = a[..., co * r * r + i * r + j, :, :]
    return out


def pixel_unshuffle_reference(a, r):
    *lead, c, h, w = a.shape
    out = np.empty((*lead, c * r * r, h // r, w // r))
    for co, i, j in itertools.product(range(c), range(r), range(r)):
        out[..., co * r * r + i * r + j, :, :] = a[..., co, i::r, j::r]
    return out


# ---------------------------------------------------------------------------- cases


def _conv3d_case():
    def draw(d):
        groups = d(st.sampled_from([1, 1, 2]))
        cg, fg, n = d(st.integers(1, 2)), d(st.integers(1, 2)), d(st.integers(1, 2))
        kernel = tuple(d(st.integers(1, 2)) for _ in range(3))
        stride, dilation = _ints(d, 3, 1, 2), _ints(d, 3, 1, 2)
        unit = _expand(stride, 3) == (1, 1, 1)
        form = d(st.sampled_from(["int", "tuple", "same", "valid"] if unit else ["int", "tuple"]))
        padding = {"int": lambda: d(st.integers(0, 1)), "tuple": lambda: tuple(d(st.integers(0, 1)) for _ in range(3))}
        padding = padding[form]() if form in padding else form
        extents = [dd * (k - 1) + 1 for k, dd in zip(kernel, _expand(dilation, 3))]
        if form == "same":
            pads = [((e - 1) // 2, e - 1 - (e - 1) // 2) for e in extents]
        else:
            pads = [(p, p) for p in _expand(0 if form == "valid" else padding, 3)]
        sizes = [max(1, e - lo - hi) + d(st.integers(0, 1)) for e, (lo, hi) in zip(extents, pads)]
        arrays = [values(d, (n, groups * cg, *sizes)), values(d, (groups * fg, cg, *kernel))]
        if d(st.booleans()):
            arrays.append(values(d, (groups * fg,)))
        kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        return Drawn(arrays, lambda *t: conv3d(*t, **kw), lambda *a: conv_reference(*a, **dict(kw, padding=pads)))

    return Case("conv3d", draw)


def _conv_transpose_case(nd, name, op, max_kernel, max_size):
    def draw(d):
        groups = d(st.sampled_from([1, 1, 2]))
        cg, fg, n = d(st.integers(1, 2)), d(st.integers(1, 2)), d(st.integers(1, 2))
        kernel = tuple(d(st.integers(1, max_kernel)) for _ in range(nd))
        sizes = tuple(d(st.integers(1, max_size)) for _ in range(nd))
        stride, dilation = _ints(d, nd, 1, 3), _ints(d, nd, 1, 2)
        strides, dilations = _expand(stride, nd), _expand(dilation, nd)
        output_padding = tuple(d(st.integers(0, max(s, dd) - 1)) for s, dd in zip(strides, dilations))
        padding = tuple(  # may trim the output, but leaves at least one element
            min(d(st.integers(0, 2)), ((n_ - 1) * s + dd * (k - 1) + o) // 2)
            for n_, s, dd, k, o in zip(sizes, strides, dilations, kernel, output_padding)
        )
        arrays = [values(d, (n, groups * cg, *sizes)), values(d, (groups * cg, fg, *kernel))]
        if d(st.booleans()):
            arrays.append(values(d, (groups * fg,)))
        kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
        unbatched = d(st.booleans())
        if unbatched:  # (C, *sizes): the reference sees a batch of one
            arrays[0] = arrays[0][0]
            return Drawn(arrays, lambda *t: op(*t, **kw), lambda x, *a: conv_transpose_reference(x[None], *a, **kw)[0])
        return Drawn(arrays, lambda *t: op(*t, **kw), lambda *a: conv_transpose_reference(*a, **kw))

    return Case(name, draw)


def _block_settings(d):
    """kernel_size, dilation, padding, stride (ints or pairs) and an image size that has at
    least one block."""
    kernel, dilation = _ints(d, 2, 1, 3), _ints(d, 2, 1, 2)
    padding, stride = _ints(d, 2, 0, 1), _ints(d, 2, 1, 3)
    extents = [dd * (k - 1) + 1 for k, dd in zip(_expand(kernel, 2), _expand(dilation, 2))]
    sizes = tuple(max(1, e - 2 * p) + d(st.integers(0, 3)) for e, p in zip(extents, _expand(padding, 2)))
    return dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride), sizes


def _unfold_case():
    def draw(d):
        kw, sizes = _block_settings(d)
        lead = (d(st.integers(1, 2)), d(st.integers(1, 2)))[d(st.integers(0, 1)) :]
        return Drawn([values(d, (*lead, *sizes))], lambda t: unfold(t, **kw), lambda a: unfold_reference(a, **kw))

    return Case("F.unfold", draw)


def _fold_case():
    def draw(d):
        kw, sizes = _block_settings(d)
        args = [_expand(kw[k], 2) for k in ("kernel_size", "dilation", "padding", "stride")]
        blocks = math.prod(_block_counts(sizes, *args))
        rows = d(st.integers(1, 2)) * math.prod(args[0])
        lead = (d(st.integers(1, 2)),)[: d(st.integers(0, 1))]
        output_size = sizes if d(st.booleans()) or len(set(sizes)) > 1 else sizes[0]
        return Drawn(
            [values(d, (*lead, rows, blocks))],
            lambda t: fold(t, output_size, **kw),
            lambda a: fold_reference(a, output_size, **kw),
        )

    return Case("fold", draw)


def _pixel_shuffle_case(name, op, reference, up):
    def draw(d):
        r = d(st.integers(1, 3))
        lead = tuple(d(st.integers(1, 2)) for _ in range(d(st.integers(0, 2))))
        c, h, w = d(st.integers(1, 2)), d(st.integers(1, 3)), d(st.integers(1, 3))
        shape = (*lead, c * r * r, h, w) if up else (*lead, c, h * r, w * r)
        return Drawn([values(d, shape)], lambda t: op(t, r), lambda a: reference(a, r))

    return Case(name, draw)


CASES = [
    _conv3d_case(),
    _conv_transpose_case(1, "conv_transpose1d", conv_transpose1d, 3, 4),
    _conv_transpose_case(3, "conv_transpose3d", conv_transpose3d, 2, 2),
    _unfold_case(),
    _fold_case(),
    _pixel_shuffle_case("pixel_shuffle", pixel_shuffle, pixel_shuffle_reference, True),
    _pixel_shuffle_case("pixel_unshuffle", pixel_unshuffle, pixel_unshuffle_reference, False),
]
