"""Switches that change how the engine records and checks: no_grad, enable_grad, detect_anomaly."""

import contextlib


class _Mode:
    __slots__ = ("anomaly", "grad_enabled", "inplace_ops")

    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False
        # In-place modifications so far: a node stamps it, so backward checks the version
        # counters of what the node saved only when something was modified since.
        self.inplace_ops = 0


# One process-wide switch (not per thread): ops read it on every call, so it must be cheap.
state = _Mode()


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph for backward."""
    return state.grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn graph recording on or off inside a ``with`` block or a decorated function."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._previous = []

    def __enter__(self):
        self._previous.append(state.grad_enabled)
        state.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        state.grad_enabled = self._previous.pop()
        return False


class no_grad(set_grad_enabled):
    """Record nothing: results carry no graph and need no memory for backward.

    >>> import chainrule
    >>> w = chainrule.ones(2, requires_grad=True)
    >>> with chainrule.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record again inside a ``no_grad`` region."""

    def __init__(self):
        super().__init__(True)


class detect_anomaly(contextlib.ContextDecorator):
    """Debug mode: check every recorded op's forward output and every backward gradient for NaN
    or infinity, and raise naming the op and the line of user code that called it. Slow: use it
    to find where a training run first goes non-finite."""

    def __init__(self):
        self._previous = []

    def __enter__(self):
        self._previous.append(state.anomaly)
        state.anomaly = True
        return self

    def __exit__(self, *exc):
        state.anomaly = self._previous.pop()
        return False
