"""Losses: the fused ops against the op table (NumPy reference, finite differences, float32), every
loss module against a NumPy formula for each reduction, stability at extreme inputs, and errors."""

import numpy as np
import pytest
from cases_loss import CASES

import chainrule as cr
from chainrule.autograd import gradcheck
from chainrule.nn import functional as F
from chainrule.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from chainrule.ops.loss import binary_cross_entropy_with_logits, cross_entropy, nll_loss

LOSS_CASES = [case for case in CASES if case.name not in ("batch_norm", "layer_norm")]
REDUCTIONS = ("mean", "sum", "none")


def _ids(cases):
    seen = {}
    ids = []
    for case in cases:
        seen[case.name] = seen.get(case.name, 0) + 1
        ids.append(case.name if seen[case.name] == 1 else f"{case.name}-{seen[case.name]}")
    return ids


# ---------------------------------------------------------------------------- values


def _reduce(loss, reduction, divisor=None):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / (loss.size if divisor is None else divisor)


rng = np.random.default_rng(0)
X = rng.standard_normal((4, 3))
Y = rng.standard_normal((4, 3))
P = rng.uniform(0.02, 0.98, (4, 3))
T = rng.uniform(0.0, 1.0, (4, 3))
W, POS = np.array([0.5, 1.0, 2.0]), np.array([3.0, 1.0, 0.2])  # float64: a list would become float32


def _regression_cases():
    d = X - Y
    return [
        ("mse", lambda r: MSELoss(reduction=r), X, Y, d**2),
        ("l1", lambda r: L1Loss(reduction=r), X, Y, np.abs(d)),
        ("smooth_l1", lambda r: SmoothL1Loss(reduction=r, beta=0.5), X, Y,
         np.where(np.abs(d) < 0.5, d**2, np.abs(d) - 0.25)),
        ("smooth_l1_beta0", lambda r: SmoothL1Loss(reduction=r, beta=0.0), X, Y, np.abs(d)),
        ("huber", lambda r: HuberLoss(r, delta=0.5), X, Y,
         np.where(np.abs(d) < 0.5, 0.5 * d**2, 0.5 * (np.abs(d) - 0.25))),
        ("bce", lambda r: BCELoss(reduction=r), P, T, -(T * np.log(P) + (1 - T) * np.log(1 - P))),
        ("bce_weight", lambda r: BCELoss([1.0, 2.0, 0.5], reduction=r), P, T,
         -np.array([1.0, 2.0, 0.5]) * (T * np.log(P) + (1 - T) * np.log(1 - P))),
        ("bce_logits", lambda r: BCEWithLogitsLoss(reduction=r), X, T,
         -(T * np.log(1 / (1 + np.exp(-X))) + (1 - T) * np.log(1 - 1 / (1 + np.exp(-X))))),
        ("bce_logits_weights", lambda r: BCEWithLogitsLoss(W, reduction=r, pos_weight=POS), X, T,
         -W * (POS * T * np.log(1 / (1 + np.exp(-X)))
             + (1 - T) * np.log(1 - 1 / (1 + np.exp(-X))))),
    ]  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name, make, x, y, elementwise", _regression_cases(), ids=[case[0] for case in _regression_cases()]
)
def test_elementwise_losses_match_their_formula(name, make, x, y, elementwise, reduction):
    loss = make(reduction).double()(cr.tensor(x, dtype=cr.float64), cr.tensor(y, dtype=cr.float64))
    np.testing.assert_allclose(loss._data, _reduce(elementwise, reduction), rtol=1e-12, atol=1e-14)


def _cross_entropy_loop(logits, target, weight, ignore_index, smoothing):
    """Per-sample losses and the "mean" divisor, one (N, C) row at a time."""
    classes = logits.shape[1]
    losses, divisor = [], 0.0
    for row, y in zip(logits, target):
        logp = row - np.log(np.sum(np.exp(row)))
        if y == ignore_index:
            losses.append(0.0)
            continue
        uniform = -sum(weight[c] * logp[c] for c in range(classes)) / classes
        losses.append((1 - smoothing) * -weight[y] * logp[y] + smoothing * uniform)
        divisor += weight[y]
    return np.array(losses), divisor


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_loss_matches_a_per_sample_loop(reduction, smoothing, weighted):
    logits = rng.standard_normal((5, 4))
    target = np.array([0, 3, -100, 1, 3])
    weight = [0.5, 1.0, 2.0, 1.5] if weighted else None
    loss = CrossEntropyLoss(weight, reduction=reduction, label_smoothing=smoothing)
    got = loss(cr.tensor(logits, dtype=cr.float64), cr.tensor(target))
    expected, divisor = _cross_entropy_loop(logits, target, weight or [1.0] * 4, -100, smoothing)
    np.testing.assert_allclose(got._data, _reduce(expected, reduction, divisor), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_on_log_softmax_equals_cross_entropy(reduction):
    logits = cr.tensor(rng.standard_normal((2, 3, 4)), dtype=cr.float64)  # classes at dim 1
    target = cr.tensor([[0, 2, 1, 1], [2, 0, 0, 7]])
    got = NLLLoss([1.0, 2.0, 3.0], ignore_index=7, reduction=reduction)(cr.log_softmax(logits, 1), target)
    expected = cross_entropy(logits, target, cr.tensor([1.0, 2.0, 3.0]), ignore_index=7, reduction=reduction)
    np.testing.assert_allclose(got._data, expected._data, rtol=1e-12)


def test_cross_entropy_by_hand():
    # Two equal logits: log 2 whatever the target and the smoothing.
    out = cross_entropy(cr.tensor([[0.0, 0.0]], dtype=cr.float64), cr.tensor([1]), label_smoothing=0.3)
    assert out.item() == pytest.approx(np.log(2), abs=1e-15)
    # Its gradient is softmax - onehot, divided by N for the mean.
    x = cr.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=cr.float64, requires_grad=True)
    cross_entropy(x, cr.tensor([2, 0])).backward()
    softmax = np.exp(x._data) / np.exp(x._data).sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad, (softmax - np.eye(3)[[2, 0]]) / 2, rtol=1e-12)


def test_cross_entropy_with_every_target_ignored_is_nan_for_mean_and_zero_for_sum():
    import warnings

    x = cr.tensor(rng.standard_normal((2, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the mean over nothing is nan silently, as PyTorch's
        assert np.isnan(cross_entropy(x, cr.tensor([-100, -100])).item())
    assert cross_entropy(x, cr.tensor([-100, -100]), reduction="sum").item() == 0.0


def test_the_fused_losses_are_one_node_on_their_inputs():
    x = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = cr.tensor(rng.uniform(0, 1, (3, 4)), requires_grad=True)
    p = cr.tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    for out, parents in [
        (cross_entropy(x, cr.tensor([0, 1, 3]), label_smoothing=0.1), (x,)),
        (cross_entropy(x, y, cr.ones(4)), (x, y)),
        (nll_loss(x, cr.tensor([0, 1, 3])), (x,)),
        (binary_cross_entropy_with_logits(x, y), (x, y)),
        (F.binary_cross_entropy(p, y), (p, y)),
    ]:
        assert out.grad_fn.parents == parents


def test_losses_are_stable_at_extreme_inputs():
    x = cr.tensor([[1000.0, 0.0], [-1000.0, 0.0]], requires_grad=True)
    loss = cross_entropy(x, cr.tensor([1, 1]), reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(1000.0) and np.isfinite(x.grad.numpy()).all()
    z = cr.tensor([1000.0, -1000.0, 1000.0], requires_grad=True)
    loss = binary_cross_entropy_with_logits(z, cr.tensor([0.0, 1.0, 1.0]), reduction="none")
    loss.sum().backward()
    np.testing.assert_allclose(loss._data, [1000.0, 1000.0, 0.0])
    np.testing.assert_allclose(z.grad, [1.0, -1.0, 0.0])
    p = cr.tensor([0.0, 1.0, 1.0], requires_grad=True)
    loss = F.binary_cross_entropy(p, cr.tensor([1.0, 0.0, 1.0]), reduction="none")  # logs clamp at -100
    loss.sum().backward()
    np.testing.assert_allclose(loss._data, [100.0, 100.0, 0.0])
    assert np.isfinite(p.grad.numpy()).all()


@pytest.mark.parametrize("fn, kwargs, x", [
    (F.mse_loss, {}, X),
    (F.l1_loss, {}, X + 0.2 * np.sign(X - Y)),  # kept clear of the kink at input == target
    (F.smooth_l1_loss, {"beta": 0.5}, X),
    (F.huber_loss, {"delta": 0.7}, X),
])  # fmt: skip
def test_composed_losses_gradcheck_on_input_and_target(fn, kwargs, x):
    a = cr.tensor(x, dtype=cr.float64, requires_grad=True)
    b = cr.tensor(Y, dtype=cr.float64, requires_grad=True)
    for reduction in REDUCTIONS:
        assert gradcheck(lambda s, t, r=reduction: fn(s, t, reduction=r, **kwargs), (a, b))


def test_composed_losses_keep_float32_with_float64_numpy_targets():
    x = cr.tensor(X, dtype=cr.float32, requires_grad=True)
    for fn in (F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss):
        out = fn(x, Y)
        out.backward()
        assert out.dtype == np.float32 and x.grad.dtype == np.float32
        x.grad = None


# ---------------------------------------------------------------------------- modules and errors


def test_class_weights_are_buffers_with_pytorch_keys():
    assert list(CrossEntropyLoss([1.0, 2.0]).state_dict()) == ["weight"]
    assert list(CrossEntropyLoss().state_dict()) == []
    assert list(BCEWithLogitsLoss(pos_weight=[2.0]).state_dict()) == ["pos_weight"]
    loss = NLLLoss(np.array([1.0, 2.0], dtype=np.float32)).double()
    assert loss.weight.dtype == np.float64


@pytest.mark.parametrize("call, error, message", [
    (lambda: cross_entropy(cr.randn(3, 4), cr.tensor([0, 4, 1])), ValueError,
     r"cross_entropy: target holds class 4, expected class indices in \[0, 4\) or ignore_index=-100"),
    (lambda: nll_loss(cr.randn(3, 4), cr.tensor([0, -1, 1])), ValueError, r"nll_loss: target holds class -1"),
    (lambda: cross_entropy(cr.randn(3, 4), cr.tensor([0, 1])), ValueError,
     r"target has shape \(2,\), expected \(3,\) \(class indices\) for input of shape \(3, 4\) "
     r"\(or probabilities of shape \(3, 4\)\)"),
    (lambda: cross_entropy(cr.randn(3, 4), cr.tensor([0.0, 1.0, 2.0])), TypeError,
     "class-index targets must be integers, got dtype float32"),
    (lambda: cross_entropy(cr.randn(3, 4), cr.tensor([0, 1, 2]), cr.ones(3)), ValueError,
     r"weight has shape \(3,\), expected one weight per class: \(4,\)"),
    (lambda: cross_entropy(cr.randn(3, 4), cr.tensor([0, 1, 2]), label_smoothing=1.5), ValueError,
     r"label_smoothing must be a finite number >= 0 and <= 1, got 1.5"),
    (lambda: cross_entropy(cr.randn(3, 4), cr.tensor([0, 1, 2]), cr.ones(4, requires_grad=True)), ValueError,
     r"weight gets no gradient; pass weight.detach\(\)"),
    (lambda: cross_entropy(cr.randn(3, 4), cr.tensor([0, 1, 2]), reduction="avg"), ValueError,
     "cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'"),
    (lambda: F.binary_cross_entropy(cr.tensor([0.5, 1.5]), cr.tensor([0.0, 1.0])), ValueError,
     r"binary_cross_entropy: all elements of input should be probabilities between 0 and 1, got 1.5 at index \(1,\)"),
    (lambda: F.binary_cross_entropy(cr.tensor([0.5, 0.5]), cr.tensor([-1.0, 1.0])), ValueError,
     r"all elements of target should be probabilities between 0 and 1, got -1.0 at index \(0,\)"),
    (lambda: binary_cross_entropy_with_logits(cr.randn(3, 2), cr.ones(3)), ValueError,
     r"target has shape \(3,\), expected the input's shape \(3, 2\)"),
    (lambda: binary_cross_entropy_with_logits(cr.randn(3, 2), cr.ones(3, 2), pos_weight=cr.ones(3)),
     ValueError, r"pos_weight of shape \(3,\) does not broadcast to the input's shape \(3, 2\)"),
    (lambda: F.mse_loss(cr.randn(3), cr.randn(3, 1)), ValueError,
     r"mse_loss: target has shape \(3, 1\), expected the input's shape \(3,\)"),
    (lambda: F.l1_loss(cr.randn(3), cr.randn(3), reduction="max"), ValueError, "l1_loss: reduction must be"),
    (lambda: F.smooth_l1_loss(cr.randn(3), cr.randn(3), beta=-1.0), ValueError,
     "smooth_l1_loss: beta must be a finite number >= 0, got -1.0"),
    (lambda: F.huber_loss(cr.randn(3), cr.randn(3), delta=0.0), ValueError,
     "huber_loss: delta must be a finite number > 0, got 0.0"),
    (lambda: MSELoss(reduction="average"), ValueError, "MSELoss: reduction must be"),
    (lambda: HuberLoss(delta=-1.0), ValueError, "HuberLoss: delta must be a finite number > 0, got -1.0"),
])  # fmt: skip
def test_errors_say_what_was_received_and_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()
