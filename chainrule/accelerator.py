"""chainrule.accelerator: PyTorch's device-agnostic accelerator queries (``torch.accelerator``).
chainrule computes on the CPU, which is not an accelerator, so none is available."""


def is_available() -> bool:
    """False: no accelerator (CUDA, MPS, XPU, ...) backs chainrule's arrays.

    >>> is_available(), current_accelerator()
    (False, None)
    """
    return False


def current_accelerator(check_available: bool = False):
    """The accelerator device type, or None when there is none (always, here)."""
    return None


def device_count() -> int:
    """0: no accelerator device."""
    return 0
