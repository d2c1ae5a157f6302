"""Losses fused into one node each, so that their gradients stay exact and stable: cross-entropy on
logits (backward: softmax minus the target distribution), negative log-likelihood, binary
cross-entropy on probabilities or on logits, and the squared error (one node instead of three:
the common regression loss is on the small-network hot path).

Class weights and ``pos_weight`` are constants (no gradient), as in PyTorch; floating targets
(probabilities) do receive a gradient when they require one.
"""

from chainrule._arguments import number_arg
from chainrule._backend import scalar_like, xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import record
from chainrule.autograd.mode import state
from chainrule.ops.operands import floating, wrap

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction, op: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _constant(value, dtype, op, what):
    """A weight as an array of the input's dtype; asking for its gradient is an error, not a no-op."""
    if isinstance(value, Tensor):
        if value.requires_grad and state.grad_enabled:
            raise ValueError(f"{op}: {what} gets no gradient; pass {what}.detach()")
        value = value._data
    return xp.asarray(value, dtype=dtype)


def _float_target(target, x, op):
    """The target as a tensor (a parent when it requires grad) and its data in the input's dtype."""
    if not isinstance(target, Tensor):
        target = wrap(xp.asarray(target))
    return target, float_target_values(target._data, x._data, op)


def float_target_values(t, d, op):
    """Target array t in input d's dtype, refused unless it has d's shape."""
    check_target_shape(t.shape, d.shape, op)
    return t.astype(d.dtype, copy=False)


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
    """value / divisor for a mean: nan without a warning when nothing was counted, as PyTorch
    gives (the errstate costs more than the division, so only that case pays for it)."""
    if divisor:
        return value / (scalar_like(divisor, value) if type(divisor) is int else divisor)
    with xp.errstate(invalid="ignore", divide="ignore"):
        return value / divisor


def _scale(g, reduction, shape, divisor):
    """d(output)/d(each element's loss) times the output gradient, at the elementwise shape."""
    if reduction == "none":
        return g
    if reduction == "mean":
        g = _divide(g, divisor)
    return xp.broadcast_to(g, shape)


def _counted_scale(g, reduction, shape, divisor, valid):
    """``_scale`` for class-index losses: an ignored target's gradient is exactly 0, even when no
    target counts and the mean divides by 0 (PyTorch skips ignored targets; a counted target of
    weight 0 then gets nan, as there)."""
    s = _scale(g, reduction, shape, divisor)
    if reduction == "mean" and not divisor:
        s = xp.where(valid, s, 0)
    return s


def _needs_grad(parents):
    if state.grad_enabled:
        for p in parents:  # a loop, not any(): no generator on the per-step path
            if p.requires_grad:
                return True
    return False


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
    target, t = _float_target(target, x, op)
    diff = x._data - t
    out = reduce_loss(diff * diff, reduction, diff.size)
    parents = (x, target)
    if not _needs_grad(parents):
        return wrap(out)
    need_t = target.requires_grad

    def mse_vjp(g):
        gx = mse_grad(g, diff, reduction)
        return gx, (-gx if need_t else None)

    return record("MseLoss", out, parents, mse_vjp)


def mse_grad(g, diff, reduction):
    """The squared error's input gradient for output gradient g and diff = input - target."""
    if reduction == "mean":
        g = _divide(g, diff.size)
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


def cross_entropy(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits ``input`` against class indices or class probabilities.

    input: (C,), (N, C) or (N, C, d1, ...), classes along dim 1 (dim 0 for (C,)). target: integer
    class indices of the input's shape without the class dim, or probabilities of the input's
    shape. With indices and ``label_smoothing`` e, each loss is
    ``(1 - e) w[y] (-log p_y) + e/C sum_c w[c] (-log p_c)``; "mean" divides by the summed weights
    of the targets not equal to ``ignore_index`` (by the number of positions for probabilities).
    One node: its backward is ``softmax * sum(q) - q`` for the target distribution ``q``.

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
    if not _needs_grad((x,)):
        return wrap(out)
    w_total = classes if w is None else w.sum()

    def cross_entropy_vjp(g):
        s = _counted_scale(g, reduction, loss.shape, divisor, valid)
        # q = (1 - e) w[y] onehot(y) + e/C w * valid; gradient s * (softmax * sum(q) - q).
        q_total = (1 - smooth) * wy + (smooth / classes) * w_total * valid
        gx = xp.exp(logp) * xp.expand_dims(s * q_total, axis)
        if smooth:
            spread = xp.expand_dims(s * valid, axis) * (smooth / classes)
            gx -= spread if w_kept is None else spread * w_kept
        at_target = xp.take_along_axis(gx, index, axis)
        xp.put_along_axis(gx, index, at_target - (1 - smooth) * xp.expand_dims(s * wy, axis), axis)
        return (gx,)

    return record("CrossEntropy", out, (x,), cross_entropy_vjp)


def log_softmax_values(d, axis):
    shifted = d - d.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def plain_class_targets(d, t, ignore_index: int) -> bool:
    """Whether t holds one valid class index per row of the (N, C) logits d and none of them is
    ``ignore_index`` (the plain case: every row counts, with weight 1)."""
    if not (d.ndim == 2 and t.ndim == 1 and t.dtype.kind in "iu" and len(t) == len(d) and len(t) > 0
            and t.min() >= 0 and t.max() < d.shape[1]):
        return False
    # an ignore_index outside [0, C) cannot match a valid index: only one inside costs a scan
    return not 0 <= ignore_index < d.shape[1] or not (t == ignore_index).any()


def cross_entropy_plain_values(logp, t):
    """The mean cross-entropy of the plain case from the log-probabilities."""
    return xp.asarray(-logp[xp.arange(len(t)), t].sum() / len(t))


def cross_entropy_plain_grad(g, logp, t):
    """Its gradient for upstream gradient g: (softmax - onehot(t)) * g / N."""
    scale = g / len(t)
    gx = xp.exp(logp) * scale
    gx[xp.arange(len(t)), t] -= scale
    return gx


def _cross_entropy_plain(x, t, logp):
    """The common case, (N, C) logits and valid class indices, mean over the batch: the general
    path's result by plain indexing, with less overhead per call (the small-network hot path)."""
    out = cross_entropy_plain_values(logp, t)
    if not _needs_grad((x,)):
        return wrap(out)
    return record("CrossEntropy", out, (x,), lambda g: (cross_entropy_plain_grad(g, logp, t),))


def _cross_entropy_probabilities(x, target, logp, w_kept, axis, reduction, smooth):
    target, q = _float_target(target, x, "cross_entropy")
    classes = logp.shape[axis]
    if smooth:
        q = q * (1 - smooth) + smooth / classes
    if w_kept is not None:
        q = q * w_kept
    loss = -(logp * q).sum(axis=axis)
    divisor = loss.size  # PyTorch's numel / C: the number of positions
    out = reduce_loss(loss, reduction, divisor)
    parents = (x, target)
    if not _needs_grad(parents):
        return wrap(out)
    need_x, need_t = x.requires_grad, target.requires_grad

    def cross_entropy_vjp(g):
        s = xp.expand_dims(_scale(g, reduction, loss.shape, divisor), axis)
        gx = s * (xp.exp(logp) * q.sum(axis=axis, keepdims=True) - q) if need_x else None
        gt = None
        if need_t:
            gt = s * logp * -(1 - smooth)
            if w_kept is not None:
                gt = gt * w_kept
        return gx, gt

    return record("CrossEntropy", out, parents, cross_entropy_vjp)


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
    if not _needs_grad((x,)):
        return wrap(out)

    def nll_loss_vjp(g):
        s = _counted_scale(g, reduction, loss.shape, divisor, valid)
        gx = xp.zeros_like(d)
        xp.put_along_axis(gx, index, xp.expand_dims(-s * wy, axis), axis)
        return (gx,)

    return record("NllLoss", out, (x,), nll_loss_vjp)


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
    target, y = _float_target(target, x, op)
    w = _broadcast_weight(weight, x, op, "weight")
    d = x._data
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
    parents = (x, target)
    if not _needs_grad(parents):
        return wrap(out)
    need_x, need_t = x.requires_grad, target.requires_grad

    def binary_cross_entropy_vjp(g):
        s = _scale(g, reduction, loss.shape, loss.size)
        if w is not None:
            s = s * w
        # PyTorch's guard: the derivative's denominator never falls below 1e-12.
        gx = s * (d - y) / xp.maximum(d * (1 - d), 1e-12) if need_x else None
        # unclamped, as PyTorch's: +-inf at input 0 or 1
        gt = s * (xp.log1p(-d) - xp.log(d)) if need_t else None
        return gx, gt

    return record("BinaryCrossEntropy", out, parents, binary_cross_entropy_vjp)


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
    target, y = _float_target(target, x, op)
    w = _broadcast_weight(weight, x, op, "weight")
    pw = _broadcast_weight(pos_weight, x, op, "pos_weight")
    d = x._data
    e = xp.exp(-xp.abs(d))
    softplus_neg = xp.log1p(e) + xp.maximum(-d, 0)  # log(1 + exp(-x)), stable for both signs
    positive = 1 if pw is None else 1 + (pw - 1) * y
    loss = (1 - y) * d + positive * softplus_neg
    if w is not None:
        loss = loss * w
    out = reduce_loss(loss, reduction, loss.size)
    parents = (x, target)
    if not _needs_grad(parents):
        return wrap(out)
    need_x, need_t = x.requires_grad, target.requires_grad

    def binary_cross_entropy_with_logits_vjp(g):
        s = _scale(g, reduction, loss.shape, loss.size)
        if w is not None:
            s = s * w
        gx = gt = None
        if need_x:
            sigmoid = xp.where(d >= 0, 1 / (1 + e), e / (1 + e))
            gx = s * (sigmoid - y) if pw is None else s * ((1 - y) + positive * (sigmoid - 1))
        if need_t:
            gt = -s * d if pw is None else s * ((pw - 1) * softplus_neg - d)
        return gx, gt

    return record("BinaryCrossEntropyWithLogits", out, parents, binary_cross_entropy_with_logits_vjp)
