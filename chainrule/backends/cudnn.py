"""chainrule.backends.cudnn: the cuDNN flags scripts set (``benchmark``, ``deterministic``,
``enabled``), with PyTorch's defaults. cuDNN is not available (no GPU), so they change nothing:
chainrule's CPU results are deterministic whatever they hold."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: cuDNN needs a CUDA device.

    >>> is_available()
    False
    """
    return False


def version():
    """None: no cuDNN library is loaded."""
    return None
