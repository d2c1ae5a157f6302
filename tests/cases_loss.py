"""Op-table cases for the fused losses and normalisations. Class-index targets, weights and
running statistics are baked into the closures; the arrays are the differentiable inputs (the
logits or probabilities, and floating targets, which get gradients too)."""

import numpy as np
import scipy.special
from hypothesis import strategies as st
from op_table import Case, Drawn, values

from chainrule._tensor import Tensor
from chainrule.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from chainrule.ops.normalization import batch_norm, layer_norm

REDUCTIONS = ("mean", "sum", "none")


def _rng(d):
    return np.random.default_rng(d(st.integers(0, 2**32 - 1)))


def _reduce(loss, reduction, divisor):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / divisor


def _class_shape(d):
    """An input shape with classes at dim 1 ((C,): dim 0), and the class axis."""
    classes = d(st.integers(2, 4))
    layout = d(st.sampled_from(["C", "NC", "NCd", "NCdd"]))
    if layout == "C":
        return (classes,), 0
    extra = {"NC": 0, "NCd": 1, "NCdd": 2}[layout]
    rest = tuple(d(st.integers(1, 2)) for _ in range(extra))
    return (d(st.integers(1, 3)), classes, *rest), 1


def _class_targets(d, shape, axis):
    """Integer targets, some of them ignore_index (never all, so "mean" stays finite)."""
    rng = _rng(d)
    classes = shape[axis]
    target = rng.integers(0, classes, size=shape[:axis] + shape[axis + 1:])
    ignore_index = d(st.sampled_from([-100, 1]))
    if ignore_index == -100 and target.size > 1:
        drop = rng.random(target.shape) < 0.3
        drop.flat[0] = False
        target = np.where(drop, -100, target)
    elif ignore_index == 1 and target.size:
        target.flat[0] = 0
    return target, ignore_index


def _one_hot_last(target, classes, ignore_index):
    """(..., C): one-hot rows, all zero where the target is ignored."""
    valid = target != ignore_index
    return np.eye(classes)[np.where(valid, target, 0)] * valid[..., None], valid


def _cross_entropy_case():
    def draw(d):
        shape, axis = _class_shape(d)
        classes = shape[axis]
        x = values(d, shape, -3.0, 3.0)
        weight = values(d, (classes,), 0.5, 2.0) if d(st.booleans()) else None
        w = np.ones(classes) if weight is None else weight
        reduction = d(st.sampled_from(REDUCTIONS))
        smoothing = d(st.sampled_from([0.0, 0.1, 0.3]))

        if d(st.booleans()):  # class probabilities, themselves differentiable
            probabilities = scipy.special.softmax(values(d, shape, -2.0, 2.0), axis=axis)

            def reference(a, p):
                logp = np.moveaxis(scipy.special.log_softmax(a, axis=axis), axis, -1)
                q = np.moveaxis(p, axis, -1) * (1 - smoothing) + smoothing / classes
                loss = -(w * q * logp).sum(-1)
                return _reduce(loss, reduction, loss.size)

            return Drawn(
                [x, probabilities],
                lambda a, p: cross_entropy(a, p, weight, reduction=reduction, label_smoothing=smoothing),
                reference,
            )

        target, ignore_index = _class_targets(d, shape, axis)

        def reference(a):
            logp = np.moveaxis(scipy.special.log_softmax(a, axis=axis), axis, -1)
            one_hot, valid = _one_hot_last(target, classes, ignore_index)
            nll = -(one_hot * w * logp).sum(-1)
            uniform = -(w * logp).sum(-1) * valid
            loss = (1 - smoothing) * nll + smoothing / classes * uniform
            return _reduce(loss, reduction, (one_hot * w).sum())

        return Drawn(
            [x],
            lambda a: cross_entropy(a, target, weight, ignore_index=ignore_index, reduction=reduction,
                                    label_smoothing=smoothing),
            reference,
        )

    return Case("cross_entropy", draw)


def _nll_loss_case():
    def draw(d):
        shape, axis = _class_shape(d)
        classes = shape[axis]
        x = values(d, shape, -3.0, 0.0)
        weight = values(d, (classes,), 0.5, 2.0) if d(st.booleans()) else None
        w = np.ones(classes) if weight is None else weight
        reduction = d(st.sampled_from(REDUCTIONS))
        target, ignore_index = _class_targets(d, shape, axis)

        def reference(a):
            one_hot, _ = _one_hot_last(target, classes, ignore_index)
            loss = -(one_hot * w * np.moveaxis(a, axis, -1)).sum(-1)
            return _reduce(loss, reduction, (one_hot * w).sum())

        def op(a):
            return nll_loss(a, target, weight, ignore_index=ignore_index, reduction=reduction)

        return Drawn([x], op, reference)

    return Case("nll_loss", draw)


def _binary_case(name, logits):
    def draw(d):
        shape = d(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple))
        x = values(d, shape, -4.0, 4.0) if logits else values(d, shape, 0.05, 0.95)
        y = values(d, shape, 0.0, 1.0)
        weight = d(st.sampled_from([None, "last", "full"]))
        weight = None if weight is None else values(d, shape[-1:] if weight == "last" else shape, 0.5, 2.0)
        w = 1.0 if weight is None else weight
        reduction = d(st.sampled_from(REDUCTIONS))
        if not logits:

            def reference(a, t):
                loss = -w * (t * np.log(a) + (1 - t) * np.log(1 - a))
                return _reduce(loss, reduction, loss.size)

            return Drawn(
                [x, y], lambda a, t: binary_cross_entropy(a, t, weight, reduction=reduction), reference
            )
        pos_weight = values(d, shape[-1:], 0.5, 3.0) if d(st.booleans()) else None
        pw = 1.0 if pos_weight is None else pos_weight

        def reference(a, t):
            loss = -w * (pw * t * scipy.special.log_expit(a) + (1 - t) * scipy.special.log_expit(-a))
            return _reduce(loss, reduction, loss.size)

        def op(a, t):
            return binary_cross_entropy_with_logits(a, t, weight, reduction=reduction, pos_weight=pos_weight)

        return Drawn([x, y], op, reference)

    return Case(name, draw)


def _mse_case():
    def draw(d):
        shape = d(st.lists(st.integers(1, 3), max_size=3).map(tuple))  # 0-d included
        reduction = d(st.sampled_from(REDUCTIONS))

        def reference(a, t):
            return _reduce((a - t) ** 2, reduction, np.size(a))

        return Drawn([values(d, shape), values(d, shape)], lambda a, t: mse_loss(a, t, reduction=reduction),
                     reference)

    return Case("mse_loss", draw)


def _spread(d, shape, axis_shape, where):
    """Values kept apart along the normalised axes (offsets 1.5 apart), so that no variance is
    near 0, where finite differences of 1/sqrt(var + eps) are unreliable."""
    offsets = 1.5 * np.arange(int(np.prod(axis_shape))).reshape(axis_shape)
    return values(d, shape, -0.5, 0.5) + offsets.reshape(where)


def _batch_norm_case(training):
    def draw(d):
        n, channels = d(st.integers(2, 3)), d(st.integers(1, 3))
        shape = (n, channels, *(d(st.integers(1, 2)) for _ in range(d(st.integers(0, 2)))))
        x = _spread(d, shape, (n,), (n,) + (1,) * (len(shape) - 1))
        axes = (0, *range(2, len(shape)))
        kept = (1, channels) + (1,) * (len(shape) - 2)
        mean = values(d, (channels,), -1.0, 1.0)
        var = values(d, (channels,), 0.5, 2.0)
        eps = 1e-5

        def normalise(a):
            if training:
                return (a - a.mean(axis=axes, keepdims=True)) / np.sqrt(a.var(axis=axes, keepdims=True) + eps)
            return (a - mean.reshape(kept)) / np.sqrt(var.reshape(kept) + eps)

        def op(a, *affine):
            # Fresh running statistics per call, in the input's dtype (PyTorch refuses a mix): in
            # training they are updated, never read.
            running_mean, running_var = Tensor(mean, dtype=a.dtype), Tensor(var, dtype=a.dtype)
            return batch_norm(a, running_mean, running_var, *affine, training=training, momentum=0.2, eps=eps)

        if d(st.booleans()):
            w, b = values(d, (channels,), 0.5, 2.0), values(d, (channels,))
            return Drawn([x, w, b], op, lambda a, w, b: normalise(a) * w.reshape(kept) + b.reshape(kept))
        return Drawn([x], op, normalise)

    return Case("batch_norm", draw)


def _layer_norm_case():
    def draw(d):
        lead = tuple(d(st.integers(1, 3)) for _ in range(d(st.integers(0, 2))))
        normalized = tuple(d(st.integers(1, 3)) for _ in range(d(st.integers(1, 2))))
        shape = lead + normalized
        x = _spread(d, shape, normalized, normalized)
        axes = tuple(range(len(lead), len(shape)))

        def normalise(a):
            return (a - a.mean(axis=axes, keepdims=True)) / np.sqrt(a.var(axis=axes, keepdims=True) + 1e-5)

        form = d(st.sampled_from(["none", "weight", "both"]))
        if form == "none":
            return Drawn([x], lambda a: layer_norm(a, normalized), normalise)
        w = values(d, normalized, 0.5, 2.0)
        if form == "weight":
            return Drawn([x, w], lambda a, w: layer_norm(a, normalized, w), lambda a, w: normalise(a) * w)
        b = values(d, normalized)
        return Drawn(
            [x, w, b], lambda a, w, b: layer_norm(a, normalized, w, b), lambda a, w, b: normalise(a) * w + b
        )

    return Case("layer_norm", draw)


CASES = [
    _cross_entropy_case(),
    _nll_loss_case(),
    _binary_case("binary_cross_entropy", logits=False),
    _binary_case("binary_cross_entropy_with_logits", logits=True),
    _mse_case(),
    _batch_norm_case(training=True),
    _batch_norm_case(training=False),
    _layer_norm_case(),
]
