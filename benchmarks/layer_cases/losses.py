"""The losses of issue 18 against PyTorch's: each with each reduction and option. Targets are
arrays (float ones get a gradient in both libraries), drawn here from a fixed generator."""

import importlib

import numpy as np
from layers_vs_torch import Case

REDUCTIONS = ("none", "mean", "sum")
_rng = np.random.default_rng(18)


def _lib(nn):
    """torch or chainrule, from its nn module (for weights built inside ``build``)."""
    return importlib.import_module(nn.__name__.split(".")[0])


def _probabilities(shape):
    e = np.exp(_rng.standard_normal(shape))
    return e / e.sum(axis=-1, keepdims=True)


def _signs(shape, dtype=np.int64):
    return np.where(_rng.random(shape) < 0.5, -1, 1).astype(dtype)


def _positive(shape):
    return np.abs(_rng.standard_normal(shape)) + 0.1


def _class_weight(nn, classes):
    return _lib(nn).tensor(np.linspace(0.5, 1.5, classes))


PROBS = _probabilities((4, 5))
LOG_PROBS = np.log(_probabilities((4, 5)))
SIGNS_4 = _signs(4)
SIGNS_6 = _signs(6)
FLOAT_SIGNS_5 = _signs(5, np.float64)
FLOAT_SIGNS_23 = _signs((2, 3), np.float64)
VAR = _positive((4, 3))
TINY_VAR = np.where(_rng.random((4, 3)) < 0.5, 1e-9, VAR)  # clamped at eps: gradient at the clamp
COUNTS = _rng.poisson(2.0, (4, 3)).astype(np.float64)
# full=True's Stirling term counts only where target > 1; PyTorch's gradient w.r.t. the target is
# nan where target <= 1 (the masked log), chainrule's the derivative of what is computed (0 from
# the masked term): the full cases draw counts above 1, where both are the derivative.
COUNTS_ABOVE_ONE = COUNTS + 2.0
RATES = _positive((4, 3))
CLASSES = _rng.integers(0, 5, 4)
MULTI_HOT = (_rng.random((4, 5)) < 0.4).astype(np.float64)
LABEL_LISTS = np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, 0], [-1, 0, 0, 0, 0], [4, 4, -1, 2, 2]])

CASES = []
for r in REDUCTIONS:
    CASES += [
        Case(f"KLDivLoss({r})", lambda nn, r=r: nn.KLDivLoss(reduction=r), [(4, 5), PROBS]),
        Case(
            f"KLDivLoss({r}, log_target)",
            lambda nn, r=r: nn.KLDivLoss(reduction=r, log_target=True),
            [(4, 5), LOG_PROBS],
        ),
        Case(
            f"CosineEmbeddingLoss({r})", lambda nn, r=r: nn.CosineEmbeddingLoss(reduction=r), [(4, 6), (4, 6), SIGNS_4]
        ),
        Case(
            f"CosineEmbeddingLoss(0.3, {r})",
            lambda nn, r=r: nn.CosineEmbeddingLoss(0.3, reduction=r),
            [(4, 6), (4, 6), SIGNS_4],
        ),
        Case(f"MarginRankingLoss({r})", lambda nn, r=r: nn.MarginRankingLoss(reduction=r), [(5,), (5,), FLOAT_SIGNS_5]),
        Case(
            f"MarginRankingLoss(0.5, {r})",
            lambda nn, r=r: nn.MarginRankingLoss(0.5, reduction=r),
            [(5,), (5,), FLOAT_SIGNS_5],
        ),
        Case(f"TripletMarginLoss({r})", lambda nn, r=r: nn.TripletMarginLoss(reduction=r), [(4, 6)] * 3),
        Case(
            f"TripletMarginLoss(p=1, swap, {r})",
            lambda nn, r=r: nn.TripletMarginLoss(2.0, 1.0, swap=True, reduction=r),
            [(4, 6)] * 3,
        ),
        Case(f"TripletMarginLoss(p=3, {r})", lambda nn, r=r: nn.TripletMarginLoss(p=3.0, reduction=r), [(4, 6)] * 3),
        Case(f"GaussianNLLLoss({r})", lambda nn, r=r: nn.GaussianNLLLoss(reduction=r), [(4, 3), (4, 3), VAR]),
        Case(
            f"GaussianNLLLoss(full, eps, {r})",
            lambda nn, r=r: nn.GaussianNLLLoss(full=True, eps=1e-3, reduction=r),
            [(4, 3), (4, 3), TINY_VAR],
        ),
        Case(f"PoissonNLLLoss({r})", lambda nn, r=r: nn.PoissonNLLLoss(reduction=r), [(4, 3), COUNTS]),
        Case(f"PoissonNLLLoss(full, {r})", lambda nn, r=r: nn.PoissonNLLLoss(full=True, reduction=r),
             [(4, 3), COUNTS_ABOVE_ONE]),
        Case(
            f"PoissonNLLLoss(log_input=False, {r})",
            lambda nn, r=r: nn.PoissonNLLLoss(log_input=False, reduction=r),
            [RATES, COUNTS],
        ),
        Case(f"MultiMarginLoss({r})", lambda nn, r=r: nn.MultiMarginLoss(reduction=r), [(4, 5), CLASSES]),
        Case(
            f"MultiMarginLoss(p=2, margin, weight, {r})",
            lambda nn, r=r: nn.MultiMarginLoss(2, 0.7, _class_weight(nn, 5), reduction=r),
            [(4, 5), CLASSES],
        ),
        Case(f"MultiLabelMarginLoss({r})", lambda nn, r=r: nn.MultiLabelMarginLoss(reduction=r), [(4, 5), LABEL_LISTS]),
        Case(
            f"MultiLabelSoftMarginLoss({r})",
            lambda nn, r=r: nn.MultiLabelSoftMarginLoss(reduction=r),
            [(4, 5), MULTI_HOT],
        ),
        Case(
            f"MultiLabelSoftMarginLoss(weight, {r})",
            lambda nn, r=r: nn.MultiLabelSoftMarginLoss(_class_weight(nn, 5), reduction=r),
            [(4, 5), MULTI_HOT],
        ),
        Case(f"HingeEmbeddingLoss({r})", lambda nn, r=r: nn.HingeEmbeddingLoss(reduction=r), [(6,), SIGNS_6]),
        Case(f"HingeEmbeddingLoss(0.5, {r})", lambda nn, r=r: nn.HingeEmbeddingLoss(0.5, reduction=r), [(6,), SIGNS_6]),
        Case(
            f"SoftMarginLoss({r})",
            lambda nn, r=r: nn.SoftMarginLoss(reduction=r),
            [(2, 3), FLOAT_SIGNS_23],
            call=lambda layer, x, y, lib: layer(x, y.detach()),
        ),  # PyTorch has no gradient for its target
    ]
CASES += [
    Case("KLDivLoss(batchmean)", lambda nn: nn.KLDivLoss(reduction="batchmean"), [(4, 5), PROBS]),
    Case(
        "KLDivLoss(batchmean, log_target)",
        lambda nn: nn.KLDivLoss(reduction="batchmean", log_target=True),
        [(4, 5), LOG_PROBS],
    ),
    Case("CosineEmbeddingLoss unbatched", lambda nn: nn.CosineEmbeddingLoss(0.2), [(6,), (6,), np.array(-1)]),
    Case("TripletMarginLoss unbatched", lambda nn: nn.TripletMarginLoss(swap=True), [(6,)] * 3),
    Case("GaussianNLLLoss var (N,)", lambda nn: nn.GaussianNLLLoss(), [(4, 3), (4, 3), VAR[:, 0]]),
    Case("GaussianNLLLoss var (N, 1)", lambda nn: nn.GaussianNLLLoss(), [(4, 3), (4, 3), VAR[:, :1]]),
    Case("GaussianNLLLoss var (1, 3)", lambda nn: nn.GaussianNLLLoss(reduction="sum"), [(4, 3), (4, 3), VAR[:1]]),
    Case(
        "GaussianNLLLoss var float",
        lambda nn: nn.GaussianNLLLoss(),
        [(4, 3), (4, 3)],
        call=lambda layer, x, t, lib: layer(x, t, 0.5),
    ),
    Case("MultiMarginLoss unbatched", lambda nn: nn.MultiMarginLoss(), [(5,), np.array(2)]),
    Case("MultiLabelMarginLoss unbatched", lambda nn: nn.MultiLabelMarginLoss(), [(5,), LABEL_LISTS[0]]),
]


def _ctc(targets, input_lengths, target_lengths):
    """CTCLoss called on log_softmax(logits) (PyTorch's gradient with respect to log_probs adds
    exp(log_probs), which the log_softmax's backward removes; chainrule's omits it)."""

    def call(layer, logits, lib):
        log_probs = logits.log_softmax(-1)
        as_tensor = lib.tensor
        return layer(log_probs, as_tensor(targets), as_tensor(input_lengths), as_tensor(target_lengths))

    return call


CTC_TARGETS = np.array([[1, 2, 2], [3, 1, 0], [2, 0, 0]])  # padded; lengths 3, 2, 1 (a repeat in the first)
for r in REDUCTIONS:
    CASES.append(
        Case(f"CTCLoss({r})", lambda nn, r=r: nn.CTCLoss(reduction=r), [(7, 3, 4)],
             call=_ctc(CTC_TARGETS, [7, 6, 4], [3, 2, 1]))
    )  # fmt: skip
CASES += [
    Case("CTCLoss 1-D targets, blank=3", lambda nn: nn.CTCLoss(blank=3), [(6, 2, 4)],
         call=_ctc(np.array([0, 1, 1, 2, 0]), [6, 5], [3, 2])),
    Case("CTCLoss empty target", lambda nn: nn.CTCLoss(reduction="sum"), [(5, 2, 3)],
         call=_ctc(np.array([[1, 2], [0, 0]]), [5, 3], [2, 0])),
    Case("CTCLoss zero_infinity", lambda nn: nn.CTCLoss(reduction="none", zero_infinity=True), [(4, 2, 3)],
         call=_ctc(np.array([[1, 1, 1], [1, 2, 0]]), [4, 4], [3, 2])),  # the first needs 5 steps
    Case("CTCLoss unbatched", lambda nn: nn.CTCLoss(), [(6, 4)], call=_ctc(np.array([1, 3]), [6], [2])),
]  # fmt: skip
