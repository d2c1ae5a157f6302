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
