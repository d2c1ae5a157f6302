"""Activation layers of issue 18 against PyTorch's, each option; inputs N(0, 1), or given arrays
of wider range where a layer bends further out (hardswish and hardsigmoid at +-3, relu6 at 6).
Inplace layers get a non-leaf input (PyTorch refuses to change a leaf in place). The exact kinks
(0, 6, +-3, the thresholds) are checked by tests/test_activations.py."""

import numpy as np
from layers_vs_torch import Case

_WIDE = np.random.default_rng(7).standard_normal((4, 5, 6)) * 4  # values beyond +-3 and 6 too


CASES = [
    Case("SiLU()", lambda nn: nn.SiLU(), [(4, 5)]),
    Case("SiLU(inplace=True)", lambda nn: nn.SiLU(inplace=True), [(4, 5)], call=lambda layer, x, lib: layer(x * 1)),
    Case("Mish()", lambda nn: nn.Mish(), [(4, 5)]),
    Case("Mish() wide", lambda nn: nn.Mish(), [_WIDE * 5]),
    Case("ReLU6()", lambda nn: nn.ReLU6(), [_WIDE * 2]),
    Case(
        "ReLU6(inplace=True)", lambda nn: nn.ReLU6(inplace=True), [_WIDE * 2], call=lambda layer, x, lib: layer(x * 1)
    ),
    Case("Hardtanh()", lambda nn: nn.Hardtanh(), [(4, 5)]),
    Case("Hardtanh(-2.0, 0.5)", lambda nn: nn.Hardtanh(-2.0, 0.5), [_WIDE]),
    Case("Hardswish()", lambda nn: nn.Hardswish(), [_WIDE]),
    Case("Hardsigmoid()", lambda nn: nn.Hardsigmoid(), [_WIDE]),
    Case("SELU()", lambda nn: nn.SELU(), [(4, 5)]),
    Case("CELU()", lambda nn: nn.CELU(), [_WIDE]),
    # alphas that float32 holds exactly: PyTorch's backward rounds 1/alpha through float32
    Case("CELU(alpha=0.5)", lambda nn: nn.CELU(alpha=0.5), [_WIDE]),
    Case("CELU(alpha=2.0)", lambda nn: nn.CELU(2.0), [_WIDE]),
    Case("PReLU()", lambda nn: nn.PReLU(), [(4, 3, 5)]),
    Case("PReLU() 1-d input", lambda nn: nn.PReLU(), [(7,)]),
    Case("PReLU() 0-d input", lambda nn: nn.PReLU(), [()]),
    Case("PReLU(3)", lambda nn: nn.PReLU(3), [(4, 3)]),
    Case("PReLU(3, init=0.1) 2d", lambda nn: nn.PReLU(3, init=0.1), [(2, 3, 4, 5)]),
    Case("GLU()", lambda nn: nn.GLU(), [(4, 6)]),
    Case("GLU(dim=1)", lambda nn: nn.GLU(dim=1), [(3, 4, 5)]),
    Case("GLU(dim=0)", lambda nn: nn.GLU(0), [(2, 3)]),
    Case("LogSigmoid()", lambda nn: nn.LogSigmoid(), [(4, 5)]),
    Case("LogSigmoid() wide", lambda nn: nn.LogSigmoid(), [_WIDE * 30]),
    Case("Softsign()", lambda nn: nn.Softsign(), [(4, 5)]),
    Case("Softmin(dim=1)", lambda nn: nn.Softmin(dim=1), [(4, 5)]),
    Case("Softmin(dim=-1) 3d", lambda nn: nn.Softmin(dim=-1), [(2, 4, 5)]),
    Case("Threshold(0.1, 20.0)", lambda nn: nn.Threshold(0.1, 20.0), [(4, 5)]),
    Case(
        "Threshold(-0.5, -1.0, inplace=True)",
        lambda nn: nn.Threshold(-0.5, -1.0, inplace=True),
        [(4, 5)],
        call=lambda layer, x, lib: layer(x * 1),
    ),
    Case("Tanhshrink()", lambda nn: nn.Tanhshrink(), [(4, 5)]),
    Case("Softshrink()", lambda nn: nn.Softshrink(), [(4, 5)]),
    Case("Softshrink(1.0)", lambda nn: nn.Softshrink(1.0), [_WIDE]),
    Case("Hardshrink()", lambda nn: nn.Hardshrink(), [(4, 5)]),
    Case("Hardshrink(lambd=1.5)", lambda nn: nn.Hardshrink(lambd=1.5), [_WIDE]),
    Case("GELU()", lambda nn: nn.GELU(), [(4, 5)]),
    Case("GELU(approximate='tanh')", lambda nn: nn.GELU(approximate="tanh"), [_WIDE]),
]
