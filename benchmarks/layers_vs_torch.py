"""Each layer against PyTorch's: the same weights (PyTorch's state_dict loaded into chainrule's
layer, so the parameter and buffer names must match too), the same float64 inputs and the same
upstream gradient; compares the outputs, the inputs' and parameters' gradients and the buffers
after the step, over each layer's options. PyTorch stays a benchmark-only dependency.

    python benchmarks/layers_vs_torch.py [--only SUBSTRING] [--tolerance 1e-9]

The cases live in benchmarks/layer_cases/*.py, one module per family, each with a list ``CASES``
of ``Case``. Exits 1 if a case fails or differs beyond the tolerance. Never collected by pytest.
"""

import importlib
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


@dataclass
class Case:
    """``build(nn)`` makes the layer with either library's ``nn``; ``inputs`` are shapes (float
    inputs drawn from N(0, 1), gradients checked) or arrays (passed as they are: integer
    indices, masks); ``call(layer, *inputs, lib=...)`` runs it (default ``layer(*inputs)``) and may
    return a tensor or a nested tuple of them (every floating output gets an upstream gradient)."""

    name: str
    build: Callable
    inputs: list
    call: Callable = None
    train: bool = True
    kwargs: dict = field(default_factory=dict)


def _cases(only):
    for path in sorted((HERE / "layer_cases").glob("*.py")):
        module = importlib.import_module(f"layer_cases.{path.stem}")
        for case in module.CASES:
            if only is None or only in case.name:
                yield case


def _flat(value):
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _flat(v)]
    return [] if value is None else [value]


def _run(lib, case, arrays, upstream_seed, state=None):
    """Forward and backward in one library (from ``state``, a state_dict, when given); returns
    (outputs, input grads, param grads, buffers after the step, state_dict before it) as NumPy
    arrays."""
    if lib == "torch":
        import torch as lib_module

        def tensor(a, grad):
            return lib_module.from_numpy(np.array(a)).requires_grad_(grad)

    else:
        import chainrule as lib_module

        def tensor(a, grad):
            return lib_module.tensor(np.array(a), dtype=np.array(a).dtype, requires_grad=grad)

    lib_module.set_default_dtype(lib_module.float64)
    lib_module.manual_seed(0)
    layer = case.build(lib_module.nn)
    if state is not None:
        layer.load_state_dict({k: lib_module.from_numpy(np.array(v)) for k, v in state.items()})
    layer.train(case.train)
    initial = {k: v.detach().numpy().copy() for k, v in layer.state_dict().items()}  # before the step
    inputs = [tensor(a, a.dtype.kind == "f") for a in arrays]
    out = case.call(layer, *inputs, lib=lib_module) if case.call else layer(*inputs, **case.kwargs)
    outs = [o for o in _flat(out) if o.detach().numpy().dtype.kind == "f"]
    rng = np.random.default_rng(upstream_seed)
    total = 0
    for o in outs:
        if o.requires_grad:
            total = total + (o * tensor(rng.standard_normal(tuple(o.shape)), False)).sum()
    if not isinstance(total, int):
        total.backward()
    grads = [None if t.grad is None else t.grad.detach().numpy().copy() for t in inputs]
    params = {n: None if p.grad is None else p.grad.detach().numpy().copy() for n, p in layer.named_parameters()}
    buffers = {n: b.detach().numpy().copy() for n, b in layer.named_buffers()}
    values = [o.detach().numpy().copy() for o in outs]
    return values, grads, params, buffers, initial


def _difference(a, b):
    if a is None or b is None:
        return 0.0 if a is None and b is None else float("inf")
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    same = (a == b) | (np.isnan(a) & np.isnan(b))  # equal infinities and nan where both have one agree
    if not same.all() and not (np.isfinite(a[~same]).all() and np.isfinite(b[~same]).all()):
        return float("inf")  # a nan or inf on one side only
    a, b = np.where(same, 0.0, a), np.where(same, 0.0, b)
    return float(np.max(np.abs(a - b) / (1e-12 + np.maximum(np.abs(a), np.abs(b)).max())))


def compare(case, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) if isinstance(s, tuple) else np.asarray(s) for s in case.inputs]
    torch_result = _run("torch", case, arrays, seed + 1)
    mine = _run("chainrule", case, arrays, seed + 1, state=torch_result[4])
    worst = {}
    for label, theirs, ours in zip(("output", "input grad"), torch_result[:2], mine[:2]):
        counts_agree = 0.0 if len(theirs) == len(ours) else float("inf")
        worst[label] = max([_difference(t, o) for t, o in zip(theirs, ours)] + [counts_agree])
    for label, theirs, ours in zip(("param grad", "buffer"), torch_result[2:4], mine[2:4]):
        if set(theirs) != set(ours):
            worst[label] = float("inf")
        else:
            worst[label] = max([_difference(theirs[k], ours[k]) for k in theirs] + [0.0])
    return worst


def main():
    args = sys.argv[1:]
    only = args[args.index("--only") + 1] if "--only" in args else None
    tolerance = float(args[args.index("--tolerance") + 1]) if "--tolerance" in args else 1e-9
    sys.path.insert(0, str(HERE))
    failures = 0
    for case in _cases(only):
        try:
            worst = compare(case)
        except Exception as err:  # report and go on: one table for all cases
            failures += 1
            print(f"{case.name:50s} ERROR {type(err).__name__}: {err}".splitlines()[0])
            if "--verbose" in args:
                traceback.print_exc()
            continue
        bad = not max(worst.values()) <= tolerance  # (a nan difference is bad too)
        failures += bad
        cells = "  ".join(f"{k} {v:.1e}" for k, v in worst.items())
        print(f"{case.name:50s} {'FAIL' if bad else 'ok  '} {cells}")
    print(f"{failures} failing case(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
