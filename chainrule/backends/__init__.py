"""chainrule.backends: PyTorch's backend flags (``torch.backends.cudnn``, ``torch.backends.mps``),
kept so that scripts setting or querying them run. chainrule computes with NumPy on the CPU, so no
GPU backend is available and the flags change nothing."""

from chainrule.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
