"""The losses composed from ops (KLDiv, CosineEmbedding, MarginRanking, TripletMargin, GaussianNLL,
PoissonNLL, MultiMargin, MultiLabelMargin, MultiLabelSoftMargin, HingeEmbedding, SoftMargin):
values against NumPy formulas written here (loops where the definition is a loop), first and
second derivatives against float64 finite differences, module = functional, and the errors."""

import itertools
import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn import functional as F

RNG = np.random.default_rng(18)
X = RNG.standard_normal((4, 5))
X2 = RNG.standard_normal((4, 5))
X3 = RNG.standard_normal((4, 5))
PROBS = np.exp(RNG.standard_normal((4, 5)))
PROBS /= PROBS.sum(axis=1, keepdims=True)
SIGNS = np.array([1, -1, -1, 1])
CLASSES = np.array([0, 4, 2, 2])
WEIGHT = np.array([0.5, 1.0, 1.5, 2.0, 0.7])


def _reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def _t(a, grad=False):
    return cr.tensor(np.array(a, dtype=np.float64), requires_grad=grad)


def _check_derivatives(fn, *arrays):
    """First and second derivatives of fn in each float64 input against finite differences."""
    inputs = tuple(_t(a, grad=True) for a in arrays)
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


# ---------------------------------------------------------------------------- values


@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_values(reduction, log_target):
    target = np.log(PROBS) if log_target else PROBS.copy()
    if not log_target:
        target[0, 0] = 0.0  # 0 log 0 counts 0
        expected = np.where(target > 0, target * (np.log(np.where(target > 0, target, 1)) - X), 0)
    else:
        expected = np.exp(target) * (target - X)
    if reduction == "batchmean":
        expected = expected.sum() / len(X)
    else:
        expected = _reduce(expected, reduction)
    if reduction == "mean":
        with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
            out = F.kl_div(_t(X), _t(target), reduction=reduction, log_target=log_target)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # only "mean" warns
            out = F.kl_div(_t(X), _t(target), reduction=reduction, log_target=log_target)
    np.testing.assert_allclose(out._data, expected, rtol=1e-12, atol=1e-15)
    module = nn.KLDivLoss(reduction=reduction, log_target=log_target)
    if reduction != "mean":
        np.testing.assert_allclose(module(_t(X), _t(target))._data, expected, rtol=1e-12, atol=1e-15)


def test_kl_div_of_a_distribution_from_itself_is_zero_and_positive_otherwise():
    p = _t(PROBS)
    assert F.kl_div(p.log(), p, reduction="batchmean").item() == pytest.approx(0, abs=1e-15)
    q = _t(np.roll(PROBS, 1, axis=1))
    assert F.kl_div(q.log(), p, reduction="batchmean").item() > 0.01


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("margin", [0.0, 0.4])
def test_cosine_embedding_loss_values(reduction, margin):
    target = np.array([1, -1, 0, -1])  # 0: neither term, as PyTorch's where(target == +-1)
    cos = (X * X2).sum(1) / np.sqrt(((X * X).sum(1) + 1e-12) * ((X2 * X2).sum(1) + 1e-12))
    expected = np.where(target == 1, 1 - cos, 0) + np.where(target == -1, np.maximum(cos - margin, 0), 0)
    out = F.cosine_embedding_loss(_t(X), _t(X2), cr.tensor(target), margin, reduction=reduction)
    np.testing.assert_allclose(out._data, _reduce(expected, reduction), rtol=1e-12)
    module = nn.CosineEmbeddingLoss(margin, reduction=reduction)
    np.testing.assert_allclose(module(_t(X), _t(X2), target)._data, _reduce(expected, reduction), rtol=1e-12)
    # one pair, 0-d target
    single = F.cosine_embedding_loss(_t(X[1]), _t(X2[1]), cr.tensor(-1), margin)
    np.testing.assert_allclose(single._data, max(cos[1] - margin, 0), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_margin_ranking_loss_values(reduction):
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    a, b = X[0], X2[0]
    expected = np.maximum(0, -y * (a - b) + 0.3)
    out = nn.MarginRankingLoss(0.3, reduction=reduction)(_t(a), _t(b), _t(y))
    np.testing.assert_allclose(out._data, _reduce(expected, reduction), rtol=1e-12)


def _lp(d, p):
    return (np.abs(d) ** p).sum(-1) ** (1 / p)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("p, swap", [(2.0, False), (1.0, True), (3.0, False), (2.0, True)])
def test_triplet_margin_loss_values(reduction, p, swap):
    eps = 1e-6
    positive = _lp(X - X2 + eps, p)
    negative = _lp(X - X3 + eps, p)
    if swap:
        negative = np.minimum(negative, _lp(X2 - X3 + eps, p))
    expected = np.maximum(0.5 + positive - negative, 0)
    out = F.triplet_margin_loss(_t(X), _t(X2), _t(X3), margin=0.5, p=p, swap=swap, reduction=reduction)
    np.testing.assert_allclose(out._data, _reduce(expected, reduction), rtol=1e-12)
    module = nn.TripletMarginLoss(0.5, p, swap=swap, reduction=reduction)
    np.testing.assert_allclose(module(_t(X), _t(X2), _t(X3))._data, _reduce(expected, reduction), rtol=1e-12)


def test_pairwise_distance_adds_eps_to_the_difference():
    out = F.pairwise_distance(_t([[3.0, 0.0]]), _t([[0.0, 4.0]]), eps=0.5)
    np.testing.assert_allclose(out._data, [math.hypot(3.5, -3.5)], rtol=1e-12)
    assert F.pairwise_distance(_t([1.0, 2.0]), _t([1.0, 2.0]), keepdim=True).shape == (1,)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", ["same", "without last", "last 1", "number"])
def test_gaussian_nll_loss_values(reduction, full, var_shape):
    var = np.abs(X2) + 0.1
    var[0, 0] = 1e-9  # clamped at eps
    given = {"same": var, "without last": var[:, 0], "last 1": var[:, :1], "number": 0.7}[var_shape]
    broadcast = {"same": var, "without last": var[:, :1], "last 1": var[:, :1], "number": 0.7}[var_shape]
    clamped = np.maximum(broadcast, 1e-6)
    expected = 0.5 * (np.log(clamped) + (X - X3) ** 2 / clamped) + (0.5 * math.log(2 * math.pi) if full else 0)
    expected = np.broadcast_to(expected, X.shape)
    var_in = given if var_shape == "number" else _t(given)
    out = nn.GaussianNLLLoss(full=full, reduction=reduction)(_t(X), _t(X3), var_in)
    np.testing.assert_allclose(out._data, _reduce(expected, reduction), rtol=1e-12)


def test_gaussian_nll_loss_var_gradient_passes_the_clamp():
    # PyTorch clamps a copy of var under no_grad: a var below eps gets the derivative at eps
    x, t = _t([0.0]), _t([1.0])
    var = _t([1e-9], grad=True)
    F.gaussian_nll_loss(x, t, var, eps=1e-3).backward()
    expected = 0.5 * (1 / 1e-3 - 1 / 1e-3**2)
    np.testing.assert_allclose(var.grad._data, [expected], rtol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_values(reduction, log_input, full):
    counts = RNG.poisson(2.0, X.shape).astype(np.float64)
    rate_input = X if log_input else np.abs(X) + 0.1
    if log_input:
        expected = np.exp(rate_input) - counts * rate_input
    else:
        expected = rate_input - counts * np.log(rate_input + 1e-8)
    if full:
        safe = np.where(counts > 1, counts, 2)
        expected = expected + np.where(counts > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe), 0)
    out = nn.PoissonNLLLoss(log_input, full, reduction=reduction)(_t(rate_input), _t(counts))
    np.testing.assert_allclose(out._data, _reduce(expected, reduction), rtol=1e-12)


def _multi_margin_loop(x, y, p, margin, weight):
    losses = []
    for row, target in zip(x, y):
        total = 0.0
        for i in range(len(row)):
            if i != target:
                hinge = max(0.0, margin - row[target] + row[i]) ** p
                total += hinge * (1.0 if weight is None else weight[target])
        losses.append(total / len(row))
    return np.array(losses)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("p, margin, weighted", [(1, 1.0, False), (2, 0.6, True)])
def test_multi_margin_loss_against_a_loop(reduction, p, margin, weighted):
    weight = WEIGHT if weighted else None
    expected = _multi_margin_loop(X, CLASSES, p, margin, weight)
    module = nn.MultiMarginLoss(p, margin, None if weight is None else _t(weight), reduction=reduction)
    np.testing.assert_allclose(module(_t(X), cr.tensor(CLASSES))._data, _reduce(expected, reduction), rtol=1e-12)
    assert ("weight" in module.state_dict()) == weighted
    single = F.multi_margin_loss(_t(X[1]), cr.tensor(CLASSES[1]), p, margin, weight)
    np.testing.assert_allclose(single._data, expected[1], rtol=1e-12)


def _multilabel_margin_loop(x, y):
    losses = []
    for row, listed in zip(x, y):
        targets = []
        for j in listed:
            if j == -1:
                break
            targets.append(j)
        total = sum(max(0.0, 1 - (row[j] - row[i])) for j in targets for i in range(len(row)) if i not in targets)
        losses.append(total / len(row))
    return np.array(losses)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multilabel_margin_loss_against_a_loop(reduction):
    y = np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, 0], [-1, 0, 0, 0, 0], [4, 4, -1, 2, 2]])
    expected = _multilabel_margin_loop(X, y)
    out = nn.MultiLabelMarginLoss(reduction=reduction)(_t(X), cr.tensor(y))
    np.testing.assert_allclose(out._data, _reduce(expected, reduction), rtol=1e-12)
    # the docstring's example: targets 3 and 0 of row (0.1, 0.2, 0.4, 0.8)
    row = F.multilabel_margin_loss(_t([0.1, 0.2, 0.4, 0.8]), cr.tensor([3, 0, -1, 1]))
    assert row.item() == pytest.approx((0.4 + 0.6 + 1.1 + 1.3) / 4, rel=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss_values(reduction, weighted):
    y = (RNG.random(X.shape) < 0.5).astype(np.float64)
    log_sig = -np.logaddexp(0, -X)
    log_sig_neg = -np.logaddexp(0, X)
    per_class = -(y * log_sig + (1 - y) * log_sig_neg) * (WEIGHT if weighted else 1)
    expected = per_class.mean(axis=1)
    module = nn.MultiLabelSoftMarginLoss(_t(WEIGHT) if weighted else None, reduction=reduction)
    np.testing.assert_allclose(module(_t(X), _t(y))._data, _reduce(expected, reduction), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_hinge_embedding_loss_values(reduction):
    x, y = X[0], np.array([1, -1, -1, 1, -1])
    expected = np.where(y == 1, x, np.maximum(0, 0.8 - x))
    out = nn.HingeEmbeddingLoss(0.8, reduction=reduction)(_t(x), cr.tensor(y))
    np.testing.assert_allclose(out._data, _reduce(expected, reduction), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_soft_margin_loss_values(reduction):
    y = np.where(X2 > 0, 1.0, -1.0)
    expected = np.log1p(np.exp(-y * X))
    out = nn.SoftMarginLoss(reduction=reduction)(_t(X), _t(y))
    np.testing.assert_allclose(out._data, _reduce(expected, reduction), rtol=1e-12)


# ---------------------------------------------------------------------------- derivatives


@pytest.mark.parametrize(
    "name, fn, arrays",
    [
        ("kl_div", lambda x, t: F.kl_div(x, t, reduction="sum"), (X, PROBS)),
        ("kl_div log_target", lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=True), (X, X2)),
        ("cosine_embedding", lambda a, b: F.cosine_embedding_loss(a, b, SIGNS, 0.1, reduction="none"), (X, X2)),
        ("margin_ranking", lambda a, b, y: F.margin_ranking_loss(a, b, y, 0.2), (X, X2, np.sign(X3))),
        (
            "triplet p=2 swap",
            lambda a, p, n: F.triplet_margin_loss(a, p, n, 2.0, swap=True, reduction="none"),
            (X, X2, X3),
        ),
        ("triplet p=3", lambda a, p, n: F.triplet_margin_loss(a, p, n, 2.0, 3.0), (X, X2, X3)),
        ("gaussian_nll", lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=True), (X, X2, np.abs(X3) + 0.5)),
        (
            "gaussian_nll var (N,)",
            lambda x, t, v: F.gaussian_nll_loss(x, t, v, reduction="sum"),
            (X, X2, np.abs(X3[:, 0]) + 0.5),
        ),
        ("poisson_nll", lambda x, t: F.poisson_nll_loss(x, t, full=True), (X, np.abs(X2) * 3)),
        ("poisson_nll rate", lambda x, t: F.poisson_nll_loss(x, t, log_input=False), (np.abs(X) + 0.5, X2)),
        ("multi_margin", lambda x: F.multi_margin_loss(x, CLASSES, 2, 0.7, WEIGHT, reduction="sum"), (X,)),
        ("multilabel_margin", lambda x: F.multilabel_margin_loss(x, np.array([[1, 3, -1, 0, 0]] * 4)), (X,)),
        ("multilabel_soft_margin", lambda x, y: F.multilabel_soft_margin_loss(x, y, WEIGHT), (X, PROBS)),
        ("hinge_embedding", lambda x: F.hinge_embedding_loss(x, np.where(X2 > 0, 1, -1), 0.5), (X,)),
        ("soft_margin", lambda x, y: F.soft_margin_loss(x, y, reduction="sum"), (X, X2)),
    ],
)
def test_first_and_second_derivatives(name, fn, arrays):
    _check_derivatives(fn, *arrays)


def test_the_checks_reject_a_wrong_gradient():
    """The derivative check above can fail: a loss whose gradient is scaled by 1.1 is caught."""
    x = _t(X, grad=True)

    class Wrong(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return F.soft_margin_loss(t.detach(), _t(np.sign(X2)), reduction="sum")

        @staticmethod
        def backward(ctx, g):
            (t,) = ctx.saved_tensors
            with cr.enable_grad():
                t = t.detach().requires_grad_()
                (right,) = cr.autograd.grad(F.soft_margin_loss(t, _t(np.sign(X2)), reduction="sum"), t)
            return right * g * 1.1

    assert not gradcheck(Wrong.apply, (x,), raise_exception=False)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: F.kl_div(_t(X), _t(PROBS), reduction="avg"), ValueError, "reduction must be 'mean', 'batchmean'"),
        (lambda: F.kl_div(_t(X), _t(PROBS[:2]), reduction="sum"), ValueError, r"target has shape \(2, 5\)"),
        (lambda: nn.KLDivLoss(reduction="batch"), ValueError, "KLDivLoss: reduction must be"),
        (
            lambda: F.cosine_embedding_loss(_t(X), _t(X2), np.ones((4, 1))),
            ValueError,
            "0D or 1D target tensor expected",
        ),
        (lambda: F.cosine_embedding_loss(_t(X), _t(X2[:3]), SIGNS), ValueError, r"got inputs \(4, 5\) and \(3, 5\)"),
        (
            lambda: F.margin_ranking_loss(_t(X[0]), _t(X2[0]), _t(X3[0, :3])),
            ValueError,
            r"all input tensors should have same size but got sizes: input1: \(5,\), input2: \(5,\), target: \(3,\)",
        ),
        (
            lambda: F.triplet_margin_loss(_t(X), _t(X2), _t(X3), margin=0),
            ValueError,
            "margin must be greater than 0, got 0",
        ),
        (lambda: nn.TripletMarginLoss(margin=-1.0), ValueError, "margin must be greater than 0"),
        (
            lambda: F.triplet_margin_loss(_t(X), _t(X2), _t(X3[0])),
            ValueError,
            "All inputs should have same dimension but got 2D, 2D and 1D inputs",
        ),
        (lambda: F.gaussian_nll_loss(_t(X), _t(X2), _t(-np.ones(X.shape))), ValueError, "var has negative entry"),
        (
            lambda: F.gaussian_nll_loss(_t(X), _t(X2), _t(np.ones((4, 2)))),
            ValueError,
            r"var is of incorrect size: got \(4, 2\) for input of shape \(4, 5\)",
        ),
        (lambda: F.gaussian_nll_loss(_t(X), _t(X2), -1.0), ValueError, "var has negative entry"),
        (lambda: F.gaussian_nll_loss(_t(X), _t(X2[:, :2]), 1.0), ValueError, r"target has shape \(4, 2\)"),
        (lambda: F.gaussian_nll_loss(_t(X), _t(X2), 1.0, reduction="max"), ValueError, "reduction must be"),
        (lambda: F.poisson_nll_loss(_t(X), _t(X2[:2])), ValueError, r"target has shape \(2, 5\)"),
        (lambda: F.multi_margin_loss(_t(X), CLASSES, p=3), ValueError, "only p == 1 and p == 2 supported"),
        (lambda: nn.MultiMarginLoss(p=0), ValueError, "only p == 1 and p == 2 supported"),
        (
            lambda: F.multi_margin_loss(_t(X), np.array([0, 5, 1, 1])),
            IndexError,
            r"target out of range: got 5, expected class indices in \[0, 5\)",
        ),
        (lambda: F.multi_margin_loss(_t(X), CLASSES.astype(float)), TypeError, "integer class indices"),
        (lambda: F.multi_margin_loss(_t(X), CLASSES[:3]), ValueError, r"target has shape \(3,\), expected \(4,\)"),
        (lambda: F.multi_margin_loss(_t(X), CLASSES, weight=np.ones(4)), ValueError, r"one entry per class \(5,\)"),
        (lambda: F.multilabel_margin_loss(_t(X), np.full((4, 5), 7)), IndexError, "target out of range: row 0"),
        (
            lambda: F.multilabel_margin_loss(_t(X), np.zeros((4, 4), dtype=int)),
            ValueError,
            r"of the input's shape \(4, 5\)",
        ),
        (
            lambda: F.multilabel_soft_margin_loss(_t(X), _t(PROBS), weight=np.ones(3)),
            ValueError,
            r"weight of shape \(3,\) does not broadcast",
        ),
        (lambda: F.hinge_embedding_loss(_t(X), SIGNS), ValueError, r"target has shape \(4,\)"),
        (lambda: F.soft_margin_loss(X, X2), TypeError, "soft_margin_loss: expected a Tensor input, got ndarray"),
        (lambda: nn.HingeEmbeddingLoss(reduction="all"), ValueError, "HingeEmbeddingLoss: reduction must be"),
    ],
)
def test_bad_arguments_are_reported(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_kl_div_mean_warns_as_pytorch():
    with pytest.warns(UserWarning, match="'mean' will be changed to behave the same as 'batchmean'"):
        nn.KLDivLoss()(_t(X), _t(PROBS))


def test_float32_stays_float32():
    x32 = cr.tensor(X.astype(np.float32), requires_grad=True)
    losses = [
        F.cosine_embedding_loss(x32, x32 * 2, SIGNS),
        F.triplet_margin_loss(x32, x32 * 2, x32 * 3),
        F.gaussian_nll_loss(x32, X2, 1.0),
        F.poisson_nll_loss(x32, np.abs(X2)),
        F.multi_margin_loss(x32, CLASSES),
        F.multilabel_soft_margin_loss(x32, PROBS),
        F.soft_margin_loss(x32, np.sign(X2)),
    ]
    for loss in losses:
        assert loss.dtype == np.float32
        loss.backward()
    assert x32.grad.dtype == np.float32


# ---------------------------------------------------------------------------- CTC


def _collapse(path, blank):
    out = []
    for k, c in enumerate(path):
        if c != blank and (k == 0 or c != path[k - 1]):
            out.append(c)
    return out


def _ctc_brute_force(log_probs, target, length, blank):
    """-log of the summed probability of every path over the first ``length`` steps that
    collapses (repeats merged, blanks removed) to the target."""
    total = 0.0
    for path in itertools.product(range(log_probs.shape[1]), repeat=length):
        if _collapse(path, blank) == list(target):
            total += np.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
    return -np.log(total) if total else np.inf


CTC_LOG_PROBS = np.log(RNG.dirichlet(np.ones(3), (5, 3)))  # T = 5, N = 3, C = 3
CTC_TARGETS = np.array([[1, 1], [2, 1], [2, 0]])
CTC_INPUT_LENGTHS = [5, 4, 3]
CTC_TARGET_LENGTHS = [2, 2, 1]


@pytest.mark.parametrize("blank", [0, 2])
def test_ctc_loss_equals_the_sum_over_alignments(blank):
    targets = np.where(CTC_TARGETS == blank, 1 - blank // 2, CTC_TARGETS)  # no blank among the labels
    out = F.ctc_loss(_t(CTC_LOG_PROBS), targets, CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS, blank, reduction="none")
    expected = [
        _ctc_brute_force(CTC_LOG_PROBS[:, n], targets[n, : CTC_TARGET_LENGTHS[n]], CTC_INPUT_LENGTHS[n], blank)
        for n in range(3)
    ]
    np.testing.assert_allclose(out._data, expected, rtol=1e-12)
    mean = nn.CTCLoss(blank)(_t(CTC_LOG_PROBS), cr.tensor(targets), CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS)
    np.testing.assert_allclose(mean._data, np.mean(np.array(expected) / CTC_TARGET_LENGTHS), rtol=1e-12)
    # the same targets one after the other (1-D)
    flat = np.concatenate([targets[n, :k] for n, k in enumerate(CTC_TARGET_LENGTHS)])
    out_flat = F.ctc_loss(_t(CTC_LOG_PROBS), flat, CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS, blank, reduction="none")
    np.testing.assert_allclose(out_flat._data, expected, rtol=1e-12)


def test_ctc_loss_empty_target_unbatched_and_impossible_alignments():
    lp = CTC_LOG_PROBS[:, 0]
    empty = F.ctc_loss(_t(lp), np.zeros(0, dtype=int), [4], [0], reduction="sum")
    np.testing.assert_allclose(empty._data, -lp[:4, 0].sum(), rtol=1e-12)  # blanks only
    single = F.ctc_loss(_t(lp), np.array([1, 2]), [5], [2], reduction="none")
    assert single.shape == () and single.item() == pytest.approx(_ctc_brute_force(lp, [1, 2], 5, 0), rel=1e-12)
    # [1, 1] needs 3 steps (1, blank, 1): impossible in 2
    x = _t(CTC_LOG_PROBS[:2], grad=True)
    losses = F.ctc_loss(x, CTC_TARGETS, [2, 2, 2], CTC_TARGET_LENGTHS, reduction="none")
    assert losses._data[0] == np.inf and np.isfinite(losses._data[1:]).all()
    zeroed = F.ctc_loss(x, CTC_TARGETS, [2, 2, 2], CTC_TARGET_LENGTHS, reduction="sum", zero_infinity=True)
    np.testing.assert_allclose(zeroed._data, losses._data[1:].sum(), rtol=1e-12)
    zeroed.backward()
    np.testing.assert_array_equal(x.grad._data[:, 0], 0)
    assert np.isfinite(x.grad._data).all()


def test_ctc_loss_first_and_second_derivatives():
    def fn(lp):
        return F.ctc_loss(lp.log_softmax(2), CTC_TARGETS, CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS)

    _check_derivatives(fn, RNG.standard_normal((5, 3, 3)))


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: F.ctc_loss(_t(CTC_LOG_PROBS), CTC_TARGETS[None], CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS),
            r"targets must be \(3, S\) or 1-D",
        ),
        (lambda: F.ctc_loss(_t(CTC_LOG_PROBS[0, 0]), CTC_TARGETS, [5], [2]), r"log_probs must be \(T, N, C\)"),
        (
            lambda: F.ctc_loss(_t(CTC_LOG_PROBS), CTC_TARGETS, [6, 4, 3], CTC_TARGET_LENGTHS),
            r"input_lengths must lie in \[1, 5\] \(T\), got \[6, 4, 3\]",
        ),
        (
            lambda: F.ctc_loss(_t(CTC_LOG_PROBS), CTC_TARGETS, [5, 4], CTC_TARGET_LENGTHS),
            "input_lengths must hold 3 integers",
        ),
        (
            lambda: F.ctc_loss(_t(CTC_LOG_PROBS), CTC_TARGETS, CTC_INPUT_LENGTHS, [3, 2, 1]),
            r"target_lengths must lie in \[0, 2\]",
        ),
        (
            lambda: F.ctc_loss(_t(CTC_LOG_PROBS), np.array([1, 2, 1]), CTC_INPUT_LENGTHS, [1, 1, 2]),
            "target_lengths must sum to 3",
        ),
        (
            lambda: F.ctc_loss(_t(CTC_LOG_PROBS), CTC_TARGETS, CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS, blank=3),
            r"blank must be in label range \[0, 3\), got 3",
        ),
        (
            lambda: F.ctc_loss(_t(CTC_LOG_PROBS), CTC_TARGETS, CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS, blank=1),
            r"target 0 holds \[1, 1\]: expected classes in \[0, 3\) other than blank=1",
        ),
    ],
)
def test_ctc_loss_bad_arguments(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
