"""chainrule.backends.mps: Apple's Metal (MPS) backend queries; chainrule computes with NumPy on
the CPU, so MPS is neither built nor available."""


def is_available() -> bool:
    """False.

    >>> is_available(), is_built()
    (False, False)
    """
    return False


def is_built() -> bool:
    """False: chainrule has no MPS backend."""
    return False
