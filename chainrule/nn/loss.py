"""Loss modules: the number training minimises, comparing predictions with targets. Each calls its
functional form in chainrule.nn.functional; class weights are buffers, as in PyTorch.

PyTorch's deprecated ``size_average`` and ``reduce`` arguments are not accepted: the arguments
after the first are keyword-only, so a call written for PyTorch never binds them to the wrong one.
"""

from chainrule._arguments import int_arg, number_arg
from chainrule._tensor import Tensor
from chainrule.creation import as_tensor
from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.ops.loss import check_reduction


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


def _buffer(value):
    return value if value is None or isinstance(value, Tensor) else as_tensor(value)


class MSELoss(_Loss):
    """Mean squared error ``(input - target)^2``; input and target of one shape.

    >>> import chainrule as cr
    >>> MSELoss()(cr.tensor([1.0, 3.0]), cr.tensor([1.0, 1.0])).item()
    2.0
    """

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|input - target|``; input and target of one shape."""

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Squared error below ``beta``, absolute error above it (see ``functional.smooth_l1_loss``)."""

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = number_arg(beta, "beta", "SmoothL1Loss", 0)

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Squared error below ``delta``, delta times absolute error above it (see
    ``functional.huber_loss``)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = number_arg(delta, "delta", "HuberLoss", 0, low_open=True)

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (apply a sigmoid first, or use BCEWithLogitsLoss,
    which is more stable). ``weight`` rescales each element's loss."""

    def __init__(self, weight=None, *, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits, a sigmoid and BCELoss fused without overflow.
    ``pos_weight`` (e.g. one per class) weighs the positive examples."""

    def __init__(self, weight=None, *, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (N, C) or (N, C, d1, ...) against class indices or probabilities:
    log_softmax and NLLLoss fused. ``weight``: one per class.

    >>> import chainrule as cr
    >>> loss = CrossEntropyLoss()(cr.tensor([[2.0, 0.0], [0.0, 2.0]]), cr.tensor([0, 1]))
    >>> round(loss.item(), 4)
    0.1269
    """

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        self.label_smoothing = number_arg(label_smoothing, "label_smoothing", "CrossEntropyLoss", 0, 1)
        self.register_buffer("weight", _buffer(weight))
        self.ignore_index = int_arg(ignore_index, "ignore_index", "CrossEntropyLoss", None)

    def forward(self, input, target):
        return F.cross_entropy(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (e.g. LogSoftmax's output) at class indices."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))
        self.ignore_index = int_arg(ignore_index, "ignore_index", "NLLLoss", None)

    def forward(self, input, target):
        return F.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of ``target`` (probabilities, or log-probabilities with
    ``log_target``) from the log-probabilities ``input`` (see ``functional.kl_div``).
    reduction "batchmean" (the divergence's definition) divides the sum by the batch size;
    "mean" divides by the element count and warns, as PyTorch's.

    >>> import chainrule as cr
    >>> p = cr.tensor([[0.25, 0.75]])
    >>> KLDivLoss(reduction="batchmean")(p.log(), p).item()
    0.0
    """

    def __init__(self, *, reduction: str = "mean", log_target: bool = False):
        Module.__init__(self)
        if reduction not in ("mean", "batchmean", "sum", "none"):
            raise ValueError(f"KLDivLoss: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction
        self.log_target = bool(log_target)

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineEmbeddingLoss(_Loss):
    """``1 - cos(x1, x2)`` for pairs with target 1, ``max(0, cos(x1, x2) - margin)`` for target -1
    (see ``functional.cosine_embedding_loss``); inputs (N, D), target (N,)."""

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = number_arg(margin, "margin", "CosineEmbeddingLoss")

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, self.margin, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``max(0, -target (x1 - x2) + margin)`` (see ``functional.margin_ranking_loss``).

    >>> import chainrule as cr
    >>> MarginRankingLoss(margin=1.0)(cr.tensor([2.0]), cr.tensor([0.5]), cr.tensor([1.0])).item()
    0.0
    """

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = number_arg(margin, "margin", "MarginRankingLoss")

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """``max(0, d(a, p) - d(a, n) + margin)`` with the p-norm distance (see
    ``functional.triplet_margin_loss``); ``swap``: the negative's distance is the smaller of
    d(a, n) and d(p, n)."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False, *,
                 reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = number_arg(margin, "margin", "TripletMarginLoss")
        if self.margin <= 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.p = number_arg(p, "p", "TripletMarginLoss", 0)
        self.eps = number_arg(eps, "eps", "TripletMarginLoss", 0)
        self.swap = bool(swap)

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
                                     reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Negative log-likelihood of ``target`` under N(input, var), var clamped at ``eps``
    (see ``functional.gaussian_nll_loss`` for the shapes var may take). Call ``(input, target, var)``.

    >>> import chainrule as cr
    >>> round(GaussianNLLLoss()(cr.tensor([0.0, 0.0]), cr.tensor([1.0, -1.0]), cr.tensor([1.0, 1.0])).item(), 4)
    0.5
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.full = bool(full)
        self.eps = number_arg(eps, "eps", "GaussianNLLLoss", 0)

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Negative log-likelihood of counts ``target`` under Poisson(rate), ``input`` the log-rate
    (``log_input``) or the rate (see ``functional.poisson_nll_loss``)."""

    def __init__(self, log_input: bool = True, full: bool = False, *, eps: float = 1e-8, reduction: str = "mean"):
        super().__init__(reduction)
        self.log_input = bool(log_input)
        self.full = bool(full)
        self.eps = number_arg(eps, "eps", "PoissonNLLLoss")

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, self.log_input, self.full, eps=self.eps,
                                  reduction=self.reduction)


class MultiMarginLoss(_Loss):
    """Multi-class hinge loss ``sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C`` for logits
    (N, C) and class indices (N,) (see ``functional.multi_margin_loss``); ``weight``: one per class."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, *, reduction: str = "mean"):
        super().__init__(reduction)
        if p not in (1, 2) or isinstance(p, bool):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 supported, got p={p!r}")
        self.p = p
        self.margin = number_arg(margin, "margin", "MultiMarginLoss")
        self.register_buffer("weight", _buffer(weight))

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss: each row's target lists its classes, ended by the first -1
    (see ``functional.multilabel_margin_loss``)."""

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """Binary cross-entropy of logits per class, averaged over classes, for multi-label targets
    of 0s and 1s (N, C) (see ``functional.multilabel_soft_margin_loss``); ``weight``: one per class."""

    def __init__(self, weight=None, *, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, self.weight, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """``x`` where target = 1, ``max(0, margin - x)`` where target = -1, for x a distance
    (see ``functional.hinge_embedding_loss``)."""

    def __init__(self, margin: float = 1.0, *, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = number_arg(margin, "margin", "HingeEmbeddingLoss")

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """Two-class logistic loss ``log(1 + exp(-y x))`` for targets y = +-1
    (see ``functional.soft_margin_loss``)."""

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification: ``-log p(target | input)`` over every alignment
    of each target to its input's steps (see ``functional.ctc_loss``). Call ``(log_probs,
    targets, input_lengths, target_lengths)`` with log_probs (T, N, C) from a log_softmax.

    >>> import chainrule as cr
    >>> log_probs = cr.randn(6, 2, 4).log_softmax(2)
    >>> CTCLoss()(log_probs, cr.tensor([[1, 2], [3, 3]]), [6, 5], [2, 2]).shape
    ()
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction)
        if isinstance(blank, bool) or not isinstance(blank, int) or blank < 0:
            raise ValueError(f"CTCLoss: blank must be a class index >= 0, got {blank!r}")
        self.blank = blank
        self.zero_infinity = bool(zero_infinity)

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)
