"""A worked example of backpropagation with the engine's own numbers: one training step of a small
network (forward pass, loss, error signals flowing backward, gradient-descent update), laid out
the way a textbook walks through it."""

import json
from dataclasses import dataclass, field

import numpy as np

from chainrule._arguments import number_arg
from chainrule._tensor import Tensor
from chainrule.autograd.engine import grad
from chainrule.nn.activation import ELU, GELU, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from chainrule.nn.containers import Sequential
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module

# Elementwise activations, with the formula shown for each.
_FORMULAS = {
    Sigmoid: lambda m: "a = sigmoid(z) = 1 / (1 + e^-z)",
    Tanh: lambda m: "a = tanh(z)",
    ReLU: lambda m: "a = max(0, z)",
    LeakyReLU: lambda m: f"a = z if z > 0 else {m.negative_slope:g} z",
    ELU: lambda m: f"a = z if z > 0 else {m.alpha:g} (e^z - 1)",
    GELU: lambda m: "a = z Phi(z)" + (" (tanh approximation)" if m.approximate == "tanh" else ""),
    Softplus: lambda m: f"a = log(1 + e^({m.beta:g} z)) / {m.beta:g}",
}


@dataclass
class ParameterStep:
    """One parameter's gradient-descent update: after = before - lr * grad."""

    before: np.ndarray
    grad: np.ndarray
    after: np.ndarray


@dataclass
class LayerStep:
    """One module of the network: its output in the forward pass (z for Linear, a for an
    activation), dL/d(output) in the backward pass (the error signal delta, for Linear) and the
    updates of its parameters."""

    name: str
    module: str
    kind: str  # "linear" or "activation"
    formula: str  # how an activation computes a from z ("" for Linear)
    output: np.ndarray
    output_grad: np.ndarray
    parameters: dict = field(default_factory=dict)


# Rows longer than this many entries per parameter are elided in the text (to_dict has them all).
_MAX_ROWS = 32


@dataclass
class Explanation:
    """The record of one training step (see ``explain_step``); ``to_text()`` narrates it and
    ``to_dict()`` gives it as JSON-serialisable nested lists."""

    inputs: np.ndarray
    target: np.ndarray
    prediction: np.ndarray
    loss: float
    lr: float
    layers: list

    def to_dict(self) -> dict:
        return {
            "inputs": self.inputs.tolist(),
            "target": self.target.tolist(),
            "prediction": self.prediction.tolist(),
            "loss": self.loss,
            "lr": self.lr,
            "layers": [
                {
                    "name": step.name,
                    "module": step.module,
                    "kind": step.kind,
                    "output": step.output.tolist(),
                    "output_grad": step.output_grad.tolist(),
                    "parameters": {
                        name: {key: getattr(p, key).tolist() for key in ("before", "grad", "after")}
                        for name, p in step.parameters.items()
                    },
                }
                for step in self.layers
            ],
        }

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def _symbol(self, i):
        if i < 0:
            return "x"
        return ("z" if self.layers[i].kind == "linear" else "a") + str(i)

    def _arriving(self, i, batch):
        """How dL/d(output of layer i) follows from the layer after it (the chain rule)."""
        if i == len(self.layers) - 1:
            return "dL/dprediction"
        after = self.layers[i + 1]
        if after.kind == "linear":
            return f"delta{i + 1} W{i + 1}" if batch else f"W{i + 1}^T delta{i + 1}"
        name = after.module.split("(")[0].lower()
        return f"dL/d{self._symbol(i + 1)} * {name}'({self._symbol(i)})"

    def to_text(self) -> str:
        batch = self.inputs.ndim > 1
        rows = " (rows are samples)" if batch else ""
        out = [f"One training step, explained (learning rate {self.lr:g}){rows}", ""]
        out.append("1. Forward pass: each layer computes its output from the previous one")
        entries = [("inputs", "x", self.inputs)]
        for i, step in enumerate(self.layers):
            sym, prev = self._symbol(i), self._symbol(i - 1)
            if step.kind == "linear":
                bias = f" + b{i}" if "bias" in step.parameters else ""
                formula = f"{sym} = {prev} W{i}^T{bias}" if batch else f"{sym} = W{i} {prev}{bias}"
            else:
                formula = step.formula.replace("z", prev).replace("a =", f"{sym} =", 1)
            entries.append((f"layer {step.name}: {step.module}", formula, step.output))
        entries += [("prediction", "", self.prediction), ("target", "", self.target)]
        out += _table(entries)
        out += ["", "2. Loss (total error)", f"   L = loss(prediction, target) = {_number(self.loss)}", ""]
        out.append("3. Backward pass: the chain rule, from the loss back to the first layer")
        entries = []
        for i in reversed(range(len(self.layers))):
            step, prev = self.layers[i], self._symbol(i - 1)
            label = f"layer {step.name}: {step.module}"
            arriving = self._arriving(i, batch)
            if step.kind == "linear":
                entries.append((label, f"delta{i} = dL/dz{i} = {arriving}", step.output_grad))
                product = f"delta{i}^T {prev}" if batch else f"delta{i} {prev}^T"
                entries.append(("", f"dL/dW{i} = {product}", step.parameters["weight"].grad))
                if "bias" in step.parameters:
                    total = " (summed over samples)" if batch else ""
                    entries.append(("", f"dL/db{i} = delta{i}{total}", step.parameters["bias"].grad))
            else:
                entries.append((label, f"dL/da{i} = {arriving}", step.output_grad))
        out += _table(entries)
        out += ["", f"4. Update: w <- w - lr * dL/dw, with lr = {self.lr:g}"]
        rows = [("parameter", "before", "dL/dw", "after")]
        for step in self.layers:
            for name, p in step.parameters.items():
                for n, index in enumerate(np.ndindex(p.before.shape)):
                    if n == _MAX_ROWS:
                        rows.append((f"... {p.before.size - n} more in {step.name}.{name}", "", "", ""))
                        break
                    label = f"{step.name}.{name}[{', '.join(map(str, index))}]"
                    rows.append((label, *(_number(a[index]) for a in (p.before, p.grad, p.after))))
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        for row in rows:
            cells = [cell.rjust(w) if c else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths))]
            out.append(("   " + "  ".join(cells)).rstrip())
        return "\n".join(out) + "\n"

    def __str__(self):
        return self.to_text()


def _number(value) -> str:
    return f"{float(value):.8g}"


def _table(entries):
    """(label, formula, array) rows with aligned columns; arrays continue under themselves."""
    label_w = max(len(label) for label, _, _ in entries)
    formula_w = max(len(formula) for _, formula, _ in entries)
    lines = []
    for label, formula, array in entries:
        head = f"   {label:<{label_w}}  {formula:<{formula_w}}  "
        # + 0.0 turns the -0.0 that relu' * (negative) leaves into 0.0, which reads better.
        body = np.array2string(np.asarray(array) + 0.0, precision=8, separator=", ", max_line_width=120)
        lines.append((head + body.replace("\n", "\n" + " " * len(head))).rstrip())
    return lines


def _describe(layer):
    if isinstance(layer, Linear):
        return f"Linear({layer.in_features} -> {layer.out_features})"
    return f"{type(layer).__name__}({layer.extra_repr()})"


def _check_model(model):
    if not isinstance(model, Sequential):
        raise TypeError(
            f"explain_step: expected an nn.Sequential of Linear and elementwise activation layers, "
            f"got {type(model).__name__}"
        )
    steps = []
    for name, layer in model.named_children():
        if isinstance(layer, Linear):
            for pname, param in layer.named_parameters():
                if not param.requires_grad:
                    raise ValueError(f"explain_step: parameter {name}.{pname} has requires_grad=False")
        elif type(layer) not in _FORMULAS:
            supported = ", ".join(sorted(t.__name__ for t in (Linear, *_FORMULAS)))
            raise TypeError(
                f"explain_step: layer {name} is {type(layer).__name__}; only Linear and elementwise "
                f"activations are explained ({supported})"
            )
        steps.append((name, layer))
    if not any(isinstance(layer, Linear) for _, layer in steps):
        raise ValueError("explain_step: the model has no Linear layer, so nothing to train")
    return steps


def _as_tensor(value, dtype, name, keep_integers=False):
    array = np.asarray(getattr(value, "_data", value))
    if array.dtype.kind not in "biuf":
        raise TypeError(f"explain_step: {name} must hold numbers, got an array of {array.dtype}")
    if not np.isfinite(array).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"explain_step: {name} must be finite, got {array[where]} at index {list(where)}")
    return Tensor(array, dtype=array.dtype if keep_integers and array.dtype.kind in "biu" else dtype)


def explain_step(model: Module, loss_fn, x, y, lr: float) -> Explanation:
    """Run one plain gradient-descent step on ``model`` for the batch (x, y) and record every number.

    ``model``: an ``nn.Sequential`` of Linear layers and elementwise activations. ``loss_fn``:
    any callable (prediction, target) -> scalar Tensor. The parameters are updated in place,
    w <- w - lr * dL/dw; their ``.grad`` is left untouched.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> net = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    >>> e = explain_step(net, lambda p, t: ((p - t) ** 2).mean(), [[0.5, 1.0]], [[1.0]], lr=0.1)
    >>> e.loss > 0, e.layers[0].parameters["weight"].after.shape
    (True, (1, 2))
    """
    steps = _check_model(model)
    number_arg(lr, "lr", "explain_step", low=0)
    dtype = next(layer for _, layer in steps if isinstance(layer, Linear)).weight.dtype
    inputs = _as_tensor(x, dtype, "x")
    target = _as_tensor(y, dtype, "y", keep_integers=True)  # class labels stay
    inputs.requires_grad_(True)  # so that an activation placed first still joins the graph
    outputs = []
    a = inputs
    for _, layer in steps:
        a = layer(a)
        outputs.append(a)
    loss = loss_fn(a, target)
    if not isinstance(loss, Tensor) or loss._data.size != 1:
        got = f"shape {loss.shape}" if isinstance(loss, Tensor) else type(loss).__name__
        raise TypeError(f"explain_step: loss_fn must return a scalar Tensor, got {got}")
    params = [(i, name, p) for i, (_, layer) in enumerate(steps) if isinstance(layer, Linear)
              for name, p in layer.named_parameters()]
    # One backward, capturing dL/d(every layer's output) and dL/d(every parameter), without
    # touching .grad: this is the engine's own chain rule, not a re-derivation.
    grads = [g._data for g in grad(loss, [*outputs, *(p for _, _, p in params)])]
    output_grads, param_grads = grads[: len(outputs)], grads[len(outputs):]
    layers = [
        LayerStep(
            name, _describe(layer), "linear" if isinstance(layer, Linear) else "activation",
            "" if isinstance(layer, Linear) else _FORMULAS[type(layer)](layer), out._data.copy(), g.copy(),
        )
        for (name, layer), out, g in zip(steps, outputs, output_grads)
    ]
    for (i, name, p), g in zip(params, param_grads):
        before = p._data.copy()
        p._data -= lr * g
        layers[i].parameters[name] = ParameterStep(before, g.copy(), p._data.copy())
    return Explanation(inputs._data.copy(), target._data.copy(), a._data.copy(), float(loss.item()), float(lr),
                       layers)
