"""Residual connections: x + f(x), so that the gradient has a path around f (He et al., 2016)."""

from chainrule.nn.module import Module


class Residual(Module):
    """``x + body(x)``; an optional ``shortcut`` module (e.g. a Linear projection) replaces the
    identity when shapes differ: ``shortcut(x) + body(x)``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> block = nn.Residual(nn.Sequential(nn.Linear(4, 4), nn.ReLU()))
    >>> block(cr.ones(2, 4)).shape
    (2, 4)
    """

    def __init__(self, body: Module, shortcut: Module = None):
        super().__init__()
        if not isinstance(body, Module):
            raise TypeError(f"Residual: body must be a Module, got {type(body).__name__}")
        if shortcut is not None and not isinstance(shortcut, Module):
            raise TypeError(f"Residual: shortcut must be a Module or None, got {type(shortcut).__name__}")
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):
        residual = self.body(x)
        identity = x if self.shortcut is None else self.shortcut(x)
        if identity.shape != residual.shape:
            raise ValueError(
                f"Residual: body output shape {residual.shape} differs from the input's {identity.shape}; "
                "pass a shortcut module that maps one to the other"
            )
        return identity + residual
