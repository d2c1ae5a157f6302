"""Losses fused into one node each, so that their gradients stay exact and stable: cross-entropy on
logits (backward: softmax minus the target distribution), negative log-likelihood, binary
cross-entropy on probabilities or on logits, and the squared error (one node instead of three:
the common regression loss is on the small-network hot path).

Class weights and ``pos_weight`` are constants (no gradient), as in PyTorch; floating targets
(probabilities) do receive a gradient when they require one. Each rule is written once, with
functions of arrays or tensors: the intermediates a loss saves (log-probabilities, the
difference) are rebuilt from the input tensors under create_graph (``remake``), so every loss
differentiates to any order.
"""

import math

from chainrule._arguments import number_arg
from chainrule._backend import scalar_like, xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph, record
from chainrule.ops import either
from chainrule.ops.operands import floating, wrap
from chainrule.ops.shape import cast
from chainrule.ops.softmax import log_softmax, log_softmax_values
from chainrule.ops.unary import softplus

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction, op: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _constant(value, dtype, op, what):
    """A weight as an array of the input's dtype; asking for its gradient is an error, not a no-op."""
    if isinstance(value, Tensor):
        if needs_graph(value):
            raise ValueError(f"{op}: {what} gets no gradient; pass {what}.detach()")
        value = value._data
    return xp.asarray(value, dtype=dtype)


def _float_target(target, x, op):
    """The target as a tensor of the input's dtype (a parent when it requires grad: a cast is
    recorded), refused unless it has the input's shape."""
    if not isinstance(target, Tensor):
        target = wrap(xp.asarray(target))
    check_target_shape(target._data.shape, x._data.shape, op)
    if target._data.dtype != x._data.dtype:
        target = cast(target, x._data.dtype)
    return target


def check_target_shape(target_shape, input_shape, op) -> None:
    """Refuse a target whose shape is not the input's: PyTorch only warns and broadcasts, which
    silently turns an (N, 1) vs (N,) mix-up into an (N, N) loss."""
    if target_shape != input_shape:
        raise ValueError(
            f"{op}: target has shape {target_shape}, expected the input's shape {input_shape} "
            "(losses do not broadcast)"
        )


def _broadcast_weight(value, x, op, what):
    if value is None:
        return None
    w = _constant(value, x._data.dtype, op, what)
    try:
        fits = xp.broadcast_shapes(w.shape, x._data.shape) == x._data.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{op}: {what} of shape {w.shape} does not broadcast to the input's shape {x._data.shape}"
        )
    return w


def reduce_loss(loss, reduction, divisor):
    """The per-element losses reduced as ``reduction`` says ("mean" divides by ``divisor``)."""
    if reduction == "none":
        return loss
    total = xp.add.reduce(loss, axis=None)  # what .sum() runs, without its Python wrapper
    if reduction == "mean":
        total = _divide(total, divisor)
    return xp.asarray(total, dtype=loss.dtype)


def _divide(value, divisor):
    """value / divisor for a mean (value: an array or a tensor): nan without a warning when
    nothing was counted, as PyTorch gives (the errstate costs more than the division, so only
    that case pays for it)."""
    if divisor:
        return value / (scalar_like(divisor, value) if type(divisor) is int else divisor)
    with xp.errstate(invalid="ignore", divide="ignore"):
        return value / divisor


def _scale(g, reduction, divisor):
    """d(output)/d(each element's loss) times the output gradient g (0-d unless reduction is
    "none": it broadcasts against the elementwise losses)."""
    if reduction == "mean":
        return _divide(g, divisor)
    return g


def _counted_scale(g, reduction, divisor, valid):
    """``_scale`` for class-index losses: an ignored target's gradient is exactly 0, even when no
    target counts and the mean divides by 0 (PyTorch skips ignored targets; a counted target of
    weight 0 then gets nan, as there)."""
    s = _scale(g, reduction, divisor)
    if reduction == "mean" and not divisor:
        s = either.where(valid, s, scalar_like(0, either.values(s)))
    return s


def _at_class_axis(s, axis):
    """Per-position values s (0-d, or the input's shape without the class dim) given a class dim
    of size 1 at ``axis``, so that they broadcast against the input."""
    if s.ndim == 0:
        return s
    shape = tuple(s.shape)
    return s.reshape((*shape[:axis], 1, *shape[axis:]))


def _in_dtype(t, like):
    """Tensor t in the dtype of tensor ``like`` (a recorded cast when they differ)."""
    return t if t._data.dtype == like._data.dtype else cast(t, like._data.dtype)


# ---------------------------------------------------------------------------- regression


def mse_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)^2``, averaged ("mean"), summed ("sum") or kept ("none").

    input and target must have the same shape: a mismatch raises ValueError instead of
    broadcasting. One node: d/d(input) = 2 (input - target) times the output gradient (divided by
    the element count for "mean"), d/d(target) its negative.

    >>> import chainrule as cr
    >>> mse_loss(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0])).item()
    2.5
    """
    op = "mse_loss"
    x = floating(input, op)
    check_reduction(reduction, op)
    target = _float_target(target, x, op)
    diff = x._data - target._data
    out = reduce_loss(diff * diff, reduction, diff.size)
    if not needs_graph(x, target):
        return wrap(out)
    need_t = target.requires_grad

    def remake(x, target):
        return x - target, reduction, need_t

    return record("MseLoss", out, (x, target), _mse_vjp, (diff, reduction, need_t), remake)


def _mse_vjp(g, diff, reduction, need_t):
    gx = mse_grad(g, diff, reduction)
    return gx, (-gx if need_t else None)


def mse_grad(g, diff, reduction):
    """The squared error's input gradient for output gradient g and diff = input - target."""
    if reduction == "mean":
        g = _divide(g, int(diff.size))
    return g * (scalar_like(2, diff) * diff)  # a 0-d g ("mean", "sum") broadcasts here: no broadcast_to view needed


# ---------------------------------------------------------------------------- class losses


def _class_axis(x, op):
    if x._data.ndim == 0:
        raise ValueError(
            f"{op}: input must have a class dim, (C,), (N, C) or (N, C, d1, ...); got a 0-d tensor"
        )
    return 0 if x._data.ndim == 1 else 1


def _class_weight(weight, classes, dtype, op):
    if weight is None:
        return None
    w = _constant(weight, dtype, op, "weight")
    if w.shape != (classes,):
        raise ValueError(f"{op}: weight has shape {w.shape}, expected one weight per class: ({classes},)")
    return w


def _class_targets(target, shape, axis, w, ignore_index, dtype, op, hint=""):
    """Validated class indices: the index array with the class axis kept (ignored entries
    pointing at class 0), the valid mask, and each target's weight (0 where ignored)."""
    t = target._data if isinstance(target, Tensor) else xp.asarray(target)
    expected = shape[:axis] + shape[axis + 1:]
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: class-index targets must be integers, got dtype {t.dtype}{hint}")
    if t.shape != expected:
        raise ValueError(
            f"{op}: target has shape {t.shape}, expected {expected} (class indices) "
            f"for input of shape {shape}{hint}"
        )
    classes = shape[axis]
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= classes))
    if bad.any():
        raise ValueError(
            f"{op}: target holds class {t[bad].flat[0]}, expected class indices in [0, {classes}) "
            f"or ignore_index={ignore_index}"
        )
    safe = xp.where(valid, t, 0)
    weight_of_target = valid.astype(dtype) if w is None else w[safe] * valid
    return xp.expand_dims(safe, axis), valid, weight_of_target


def _class_distribution(index, valid, wy, smooth, w_kept, shape, axis):
    """The target distribution q of class-index targets, an array of the input's shape:
    ``(1 - e) w[y] onehot(y) + e/C w``, zero where the target is ignored (a constant: indices
    carry no gradient)."""
    q = xp.zeros(shape, dtype=wy.dtype)
    xp.put_along_axis(q, index, xp.expand_dims((1 - smooth) * wy, axis), axis)
    if smooth:
        spread = xp.expand_dims(valid, axis) * scalar_like(smooth / shape[axis], wy)
        q += spread if w_kept is None else spread * w_kept
    return q


def _probability_distribution(target, smooth, w_kept, axis):
    """The target distribution of probability targets (an array, or a tensor under
    create_graph): smoothed towards uniform, then weighted per class."""
    q = target
    if smooth:
        q = q * (1 - smooth) + smooth / target.shape[axis]
    if w_kept is not None:
        q = q * w_kept
    return q


def cross_entropy(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits ``input`` against class indices or class probabilities.

    input: (C,), (N, C) or (N, C, d1, ...), classes along dim 1 (dim 0 for (C,)). target: integer
    class indices of the input's shape without the class dim, or probabilities of the input's
    shape. With indices and ``label_smoothing`` e, each loss is
    ``(1 - e) w[y] (-log p_y) + e/C sum_c w[c] (-log p_c)``; "mean" divides by the summed weights
    of the targets not equal to ``ignore_index`` (by the number of positions for probabilities).
    One node: its backward is ``softmax * sum(q) - q`` for the target distribution ``q``; under
    create_graph the log-probabilities are rebuilt with ``log_softmax``, so the second derivative
    (``diag(p) - p p^T`` per position, times sum(q)) is recorded too.

    >>> import chainrule as cr
    >>> round(cross_entropy(cr.tensor([[0.0, 0.0]]), cr.tensor([1])).item(), 4)  # log 2
    0.6931
    """
    op = "cross_entropy"
    x = floating(input, op)
    check_reduction(reduction, op)
    if label_smoothing != 0.0:  # (the default costs one comparison)
        number_arg(label_smoothing, "label_smoothing", op, 0, 1)
    axis = _class_axis(x, op)
    d = x._data
    dtype, classes = d.dtype, d.shape[axis]
    w = _class_weight(weight, classes, dtype, op)
    w_kept = None if w is None else w.reshape([classes if i == axis else 1 for i in range(d.ndim)])
    logp = log_softmax_values(d, axis)
    smooth = label_smoothing
    t = target._data if isinstance(target, Tensor) else xp.asarray(target)
    if t.shape == d.shape:
        return _cross_entropy_probabilities(x, target, logp, w_kept, axis, reduction, smooth)

    if w is None and not smooth and reduction == "mean" and plain_class_targets(d, t, ignore_index):
        return _cross_entropy_plain(x, t, logp)
    hint = f" (or probabilities of shape {d.shape})"
    index, valid, wy = _class_targets(target, d.shape, axis, w, ignore_index, dtype, op, hint)
    loss = -wy * xp.take_along_axis(logp, index, axis).squeeze(axis)
    if smooth:
        spread = -(logp if w_kept is None else logp * w_kept).sum(axis=axis)
        loss = (1 - smooth) * loss + (smooth / classes) * spread * valid
    divisor = wy.sum()
    out = reduce_loss(loss, reduction, divisor)
    if not needs_graph(x):
        return wrap(out)
    q = _class_distribution(index, valid, wy, smooth, w_kept, d.shape, axis)
    saved = (logp, q, None, smooth, axis, reduction, divisor, valid, True, False)

    def remake(x):
        return (log_softmax(x, axis), *saved[1:])

    return record("CrossEntropy", out, (x,), _cross_entropy_vjp, saved, remake)


def _cross_entropy_vjp(g, logp, q, w_kept, smooth, axis, reduction, divisor, valid, need_x, need_t):
    """Gradients of ``-sum(q logp)`` reduced: ``s (softmax sum(q) - q)`` for the logits and
    ``-s (1 - e) w logp`` for probability targets (q's derivative in them)."""
    s = _counted_scale(g, reduction, divisor, valid) if valid is not None else _scale(g, reduction, divisor)
    s = _at_class_axis(s, axis)
    gx = s * (either.exp(logp) * q.sum(axis=axis, keepdims=True) - q) if need_x else None
    gt = None
    if need_t:
        gt = s * logp * -(1 - smooth)
        if w_kept is not None:
            gt = gt * w_kept
    return gx, gt


def plain_class_targets(d, t, ignore_index: int) -> bool:
    """Whether t holds one valid class index per row of the (N, C) logits d and none of them is
    ``ignore_index`` (the plain case: every row counts, with weight 1)."""
    if not (d.ndim == 2 and t.ndim == 1 and t.dtype.kind in "iu" and len(t) == len(d) and len(t) > 0
            and t.min() >= 0 and t.max() < d.shape[1]):
        return False
    # an ignore_index outside [0, C) cannot match a valid index: only one inside costs a scan
    return not 0 <= ignore_index < d.shape[1] or not (t == ignore_index).any()


def _cross_entropy_plain(x, t, logp):
    """The common case, (N, C) logits and valid class indices, mean over the batch: the general
    path's result by plain indexing, with less overhead per call (the small-network hot path)."""
    out = xp.asarray(-logp[xp.arange(len(t)), t].sum() / len(t))
    if not needs_graph(x):
        return wrap(out)

    def remake(x):
        return log_softmax(x, 1), t

    return record("CrossEntropy", out, (x,), _cross_entropy_plain_vjp, (logp, t), remake)


def _cross_entropy_plain_vjp(g, logp, t):
    """(softmax - onehot(t)) * g / N."""
    scale = g / len(t)
    return (either.subtract_at(either.exp(logp) * scale, (xp.arange(len(t)), t), scale),)


def _cross_entropy_probabilities(x, target, logp, w_kept, axis, reduction, smooth):
    target = _float_target(target, x, "cross_entropy")
    q = _probability_distribution(target._data, smooth, w_kept, axis)
    loss = -(logp * q).sum(axis=axis)
    divisor = loss.size  # PyTorch's numel / C: the number of positions
    out = reduce_loss(loss, reduction, divisor)
    if not needs_graph(x, target):
        return wrap(out)
    saved = (logp, q, w_kept, smooth, axis, reduction, divisor, None, x.requires_grad, target.requires_grad)

    def remake(x, target):
        return (log_softmax(x, axis), _probability_distribution(target, smooth, w_kept, axis), *saved[2:])

    return record("CrossEntropy", out, (x, target), _cross_entropy_vjp, saved, remake)


def nll_loss(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood ``-w[y] input[y]`` of log-probabilities ``input`` at class indices.

    Shapes as ``cross_entropy`` with index targets; "mean" divides by the summed weights of the
    targets not equal to ``ignore_index``.

    >>> import chainrule as cr
    >>> nll_loss(cr.tensor([[-1.0, -2.0], [-3.0, -4.0]]), cr.tensor([1, 0])).item()
    2.5
    """
    op = "nll_loss"
    x = floating(input, op)
    check_reduction(reduction, op)
    axis = _class_axis(x, op)
    d = x._data
    w = _class_weight(weight, d.shape[axis], d.dtype, op)
    index, valid, wy = _class_targets(target, d.shape, axis, w, ignore_index, d.dtype, op)
    loss = -wy * xp.take_along_axis(d, index, axis).squeeze(axis)
    divisor = wy.sum()
    out = reduce_loss(loss, reduction, divisor)
    if not needs_graph(x):
        return wrap(out)
    q = _class_distribution(index, valid, wy, 0.0, None, d.shape, axis)  # w[y] onehot(y)
    return record("NllLoss", out, (x,), _nll_loss_vjp, (q, axis, reduction, divisor, valid))


def _nll_loss_vjp(g, q, axis, reduction, divisor, valid):
    """-s w[y] onehot(y): linear in g, constant in the input."""
    return (-(_at_class_axis(_counted_scale(g, reduction, divisor, valid), axis) * q),)


# ---------------------------------------------------------------------------- binary losses


def binary_cross_entropy(input, target, weight=None, *, reduction: str = "mean") -> Tensor:
    """``-w (y log x + (1 - y) log(1 - x))`` for probabilities ``input`` and ``target`` of one shape.

    Both logs are clamped at -100, as in PyTorch, so that x = 0 or 1 gives a finite loss;
    ``weight`` broadcasts to the input's shape.

    >>> import chainrule as cr
    >>> round(binary_cross_entropy(cr.tensor([0.5]), cr.tensor([1.0])).item(), 4)  # log 2
    0.6931
    """
    op = "binary_cross_entropy"
    x = floating(input, op)
    check_reduction(reduction, op)
    target = _float_target(target, x, op)
    w = _broadcast_weight(weight, x, op, "weight")
    d, y = x._data, target._data
    for name, values in (("input", d), ("target", y)):
        inside = (values >= 0) & (values <= 1)  # False for nan, unlike a test for < 0 or > 1
        if not inside.all():
            where = xp.unravel_index(xp.argmin(inside), values.shape)
            raise ValueError(
                f"{op}: all elements of {name} should be probabilities between 0 and 1, got "
                f"{values[where]} at index {tuple(int(i) for i in where)}"
            )
    with xp.errstate(divide="ignore"):
        log_x = xp.maximum(xp.log(d), -100)
        log_rest = xp.maximum(xp.log1p(-d), -100)
    loss = -(y * log_x + (1 - y) * log_rest)
    if w is not None:
        loss = loss * w
    out = reduce_loss(loss, reduction, loss.size)
    if not needs_graph(x, target):
        return wrap(out)
    saved = (x, target, w, reduction, loss.size, x.requires_grad, target.requires_grad)
    return record("BinaryCrossEntropy", out, (x, target), _binary_cross_entropy_vjp, saved)


def _binary_cross_entropy_vjp(g, x, y, w, reduction, size, need_x, need_t):
    s = _scale(g, reduction, size)
    if w is not None:
        s = s * w
    # PyTorch's guard: the derivative's denominator never falls below 1e-12.
    gx = s * (x - y) / either.maximum(x * (1 - x), 1e-12) if need_x else None
    # unclamped, as PyTorch's: +-inf at input 0 or 1
    gt = s * (either.log1p(-x) - either.log(x)) if need_t else None
    return gx, gt


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)``, computed from the logits without overflow:
    ``w ((1 - y) x + (1 + (pos_weight - 1) y) softplus(-x))``.

    ``weight`` broadcasts to the input's shape; ``pos_weight`` (e.g. one per class, along the
    last dim) scales the positive term. One node: without pos_weight its backward is
    ``w (sigmoid(x) - y)``.

    >>> import chainrule as cr
    >>> round(binary_cross_entropy_with_logits(cr.tensor([0.0]), cr.tensor([1.0])).item(), 4)
    0.6931
    """
    op = "binary_cross_entropy_with_logits"
    x = floating(input, op)
    check_reduction(reduction, op)
    target = _float_target(target, x, op)
    w = _broadcast_weight(weight, x, op, "weight")
    pw = _broadcast_weight(pos_weight, x, op, "pos_weight")
    d, y = x._data, target._data
    positive = 1 if pw is None else 1 + (pw - 1) * y
    loss = (1 - y) * d + positive * _softplus_neg(d)
    if w is not None:
        loss = loss * w
    out = reduce_loss(loss, reduction, loss.size)
    if not needs_graph(x, target):
        return wrap(out)
    saved = (x, target, w, pw, reduction, loss.size, x.requires_grad, target.requires_grad)
    return record("BinaryCrossEntropyWithLogits", out, (x, target), _binary_cross_entropy_with_logits_vjp, saved)


def _binary_cross_entropy_with_logits_vjp(g, x, y, w, pw, reduction, size, need_x, need_t):
    s = _scale(g, reduction, size)
    if w is not None:
        s = s * w
    gx = gt = None
    if need_x:
        sigmoid = either.sigmoid(x)
        gx = s * (sigmoid - y) if pw is None else s * ((1 - y) + (1 + (pw - 1) * y) * (sigmoid - 1))
    if need_t:
        gt = -s * x if pw is None else s * ((pw - 1) * _softplus_neg(x) - x)
    return gx, gt


def _softplus_neg(x):
    """log(1 + e^-x) without overflow: for arrays log1p(e^-|x|) + max(-x, 0) (the fastest stable
    form), for tensors softplus without its linear threshold (its derivative is a sigmoid, so it
    differentiates to any order; the pieces of the array form are not smooth at 0)."""
    if isinstance(x, Tensor):
        return softplus(-x, threshold=math.inf)
    return xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
