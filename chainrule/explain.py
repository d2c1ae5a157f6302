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
    ``to_dict()`` gives it as JSON-serialisable nested lists. ``loss_formula`` and
    ``loss_gradient`` write the loss and its derivative with ``{y}`` for the prediction, and
    ``loss_scope`` what it sums or averages over (all empty when the loss function is not one
    whose formula is known, see ``loss_formula``)."""

    inputs: np.ndarray
    target: np.ndarray
    prediction: np.ndarray
    loss: float
    lr: float
    layers: list
    loss_formula: str = ""
    loss_scope: str = ""
    loss_gradient: str = ""

    def to_dict(self) -> dict:
        symbols = _symbols(self.layers)
        return {
            "inputs": self.inputs.tolist(),
            "target": self.target.tolist(),
            "prediction": self.prediction.tolist(),
            "loss": self.loss,
            "loss_formula": self.loss_formula.format(y=symbols[-1][1]),
            "loss_scope": self.loss_scope,
            "loss_gradient": self.loss_gradient.format(y=symbols[-1][1]),
            "lr": self.lr,
            "layers": [
                {
                    "name": step.name,
                    "module": step.module,
                    "kind": step.kind,
                    "symbol": symbol,
                    "output": step.output.tolist(),
                    "output_grad": step.output_grad.tolist(),
                    "parameters": {
                        name: {key: getattr(p, key).tolist() for key in ("before", "grad", "after")}
                        for name, p in step.parameters.items()
                    },
                }
                for step, (_, symbol) in zip(self.layers, symbols)
            ],
        }

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def to_text(self) -> str:
        """The step as a textbook narrates it: layers 1..L, z^(l) = W^(l) a^(l-1) + b^(l),
        a^(l) = f(z^(l)), delta^(l) = dL/dz^(l), every number in one format. The only place the
        text is made (the command line and any other front end print this)."""
        batch = self.inputs.ndim > 1
        symbols = _symbols(self.layers)
        number = _number_format(self)
        y = symbols[-1][1]
        count = len({layer for layer, _ in symbols if layer})
        out = [f"One training step of backpropagation, explained (learning rate {self.lr:g})"
               + (" (rows are samples)" if batch else ""), ""]
        out.append(f"The network has L = {count} layers; layer l computes")
        out.append("   z^(l) = " + ("a^(l-1) (W^(l))^T + b^(l)" if batch else "W^(l) a^(l-1) + b^(l)")
                   + "  and then  a^(l) = f(z^(l)),  with a^(0) = x:")
        for layer in sorted({layer for layer, _ in symbols if layer}):
            parts = [f"model[{step.name}] {step.module}" for step, (at, _) in zip(self.layers, symbols) if at == layer]
            out.append(f"   layer {layer} = {', '.join(parts)}")
        if self.loss_formula:
            out.append(f"Loss: {self.loss_formula.format(y=y)} ({self.loss_scope}),")
            out.append(f"   so dL/d{y} = {self.loss_gradient.format(y=y)}.")
        else:
            out.append("Loss: the given loss function, whose formula explain_step does not know; "
                       f"dL/d{y} comes from the engine.")
        out.append(f"Numbers: {number.description}, throughout.")
        out += ["", "1. Forward pass: each layer computes its output from the previous one"]
        entries = [("input", "x", self.inputs)]
        for i, step in enumerate(self.layers):
            layer, sym = symbols[i]
            prev = symbols[i - 1][1] if i else "x"
            if step.kind == "linear":
                bias = f" + b^({layer})" if "bias" in step.parameters else ""
                formula = f"{sym} = {prev} (W^({layer}))^T{bias}" if batch else f"{sym} = W^({layer}) {prev}{bias}"
            else:
                formula = step.formula.replace("z", prev).replace("a =", f"{sym} =", 1)
            entries.append((_label(layer, step), formula, step.output))
        entries += [("prediction", f"y = {y}", self.prediction), ("target", "t", self.target)]
        out += _table(entries, number)
        loss_text = self.loss_formula.format(y=y) if self.loss_formula else f"L = loss({y}, t)"
        scope = f"   ({self.loss_scope})" if self.loss_scope else ""
        out += ["", "2. Loss (total error)", f"   {loss_text} = {number(self.loss)}{scope}", ""]
        out.append("3. Backward pass: the chain rule, from the loss back to the first layer")
        entries = []
        for i in reversed(range(len(self.layers))):
            step = self.layers[i]
            layer, sym = symbols[i]
            prev = symbols[i - 1][1] if i else "x"
            arriving = self._arriving(i, symbols, batch)
            if step.kind == "linear":
                entries.append((_label(layer, step), f"delta^({layer}) = dL/d{sym} = {arriving}", step.output_grad))
                product = f"(delta^({layer}))^T {prev}" if batch else f"delta^({layer}) ({prev})^T"
                entries.append(("", f"dL/dW^({layer}) = {product}", step.parameters["weight"].grad))
                if "bias" in step.parameters:
                    total = " (summed over samples)" if batch else ""
                    entries.append(("", f"dL/db^({layer}) = delta^({layer}){total}", step.parameters["bias"].grad))
            else:
                entries.append((_label(layer, step), f"dL/d{sym} = {arriving}", step.output_grad))
        out += _table(entries, number)
        out += ["", f"4. Update: w <- w - lr * dL/dw, with lr = {self.lr:g} (entries numbered from 1, as in W_jk)"]
        rows = [("parameter", "before", "dL/dw", "after")]
        for step, (layer, _) in zip(self.layers, symbols):
            for name, p in step.parameters.items():
                symbol = f"{'W' if name == 'weight' else 'b'}^({layer})"
                for n, index in enumerate(np.ndindex(p.before.shape)):
                    if n == _MAX_ROWS:
                        rows.append((f"... {p.before.size - n} more in {symbol}", "", "", ""))
                        break
                    label = f"{symbol}[{','.join(str(k + 1) for k in index)}]"
                    rows.append((label, *(number(a[index]) for a in (p.before, p.grad, p.after))))
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        for row in rows:
            cells = [cell.rjust(w) if c else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths))]
            out.append(("   " + "  ".join(cells)).rstrip())
        return "\n".join(out) + "\n"

    def _arriving(self, i, symbols, batch):
        """How dL/d(output of module i) follows from the loss or the module after it (the chain rule)."""
        if i == len(self.layers) - 1:
            return self.loss_gradient.format(y=symbols[i][1]) if self.loss_gradient else "from the loss"
        after = self.layers[i + 1]
        layer, sym = symbols[i + 1]
        if after.kind == "linear":
            return f"delta^({layer}) W^({layer})" if batch else f"(W^({layer}))^T delta^({layer})"
        name = after.module.split("(")[0].lower()
        return f"dL/d{sym} * {name}'({symbols[i][1]})"

    def __str__(self):
        return self.to_text()


def _symbols(layers) -> list:
    """(textbook layer number, output symbol) per module: each Linear starts layer l and outputs
    z^(l); the activation after it outputs a^(l) (a further one a^(l,2), ...); an activation
    before the first Linear is layer 0."""
    symbols, layer, activations = [], 0, 0
    for step in layers:
        if step.kind == "linear":
            layer, activations = layer + 1, 0
            symbols.append((layer, f"z^({layer})"))
        else:
            activations += 1
            symbols.append((layer, f"a^({layer})" if activations == 1 else f"a^({layer},{activations})"))
    return symbols


def _label(layer, step):
    return f"layer {layer}: {step.module}"


class _NumberFormat:
    """One format for every number of an explanation: 8 decimals, or 7-digit scientific notation
    when some number is too small (below 1e-5) or too large (1e5 or more) for decimals to show it."""

    def __init__(self, values):
        magnitudes = np.abs(np.concatenate([np.ravel(v).astype(float) for v in values]))
        magnitudes = magnitudes[magnitudes > 0]
        self.scientific = bool(magnitudes.size) and (magnitudes.min() < 1e-5 or magnitudes.max() >= 1e5)
        self.description = ("7-digit scientific notation" if self.scientific else "8 decimals")

    def __call__(self, value) -> str:
        value = float(value) + 0.0  # -0.0, which relu' * (negative) leaves, reads as 0
        return f"{value:.7e}" if self.scientific else f"{value:.8f}"


def _number_format(e) -> _NumberFormat:
    values = [e.inputs, e.prediction, [e.loss]]
    if e.target.dtype.kind == "f":
        values.append(e.target)
    for step in e.layers:
        values += [step.output, step.output_grad]
        values += [getattr(p, k) for p in step.parameters.values() for k in ("before", "grad", "after")]
    return _NumberFormat(values)


def _table(entries, number):
    """(label, formula, array) rows with aligned columns; arrays continue under themselves."""
    label_w = max(len(label) for label, _, _ in entries)
    formula_w = max(len(formula) for _, formula, _ in entries)
    lines = []
    for label, formula, array in entries:
        head = f"   {label:<{label_w}}  {formula:<{formula_w}}  "
        array = np.asarray(array)
        width = max((len(number(v)) for v in array.ravel()), default=0)  # columns line up
        body = np.array2string(array, separator=", ", max_line_width=120,
                               formatter={"float_kind": lambda v, width=width: number(v).rjust(width)})
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


class HalfSumOfSquares:
    """The textbook's loss, L = 1/2 sum (t - y)^2 over every output (and sample): the 1/2 makes
    its derivative simply dL/dy = y - t.

    >>> import chainrule as cr
    >>> HalfSumOfSquares()(cr.tensor([0.5, 1.0]), cr.tensor([1.0, 1.0])).item()
    0.125
    """

    def __call__(self, prediction, target):
        return 0.5 * ((target - prediction) ** 2).sum()


def loss_formula(loss_fn, prediction_shape: tuple, target) -> tuple:
    """(formula, scope, derivative) of the losses whose formula is known, with ``{y}`` for the
    prediction: ``HalfSumOfSquares``, ``nn.MSELoss``, ``nn.BCELoss`` and ``nn.CrossEntropyLoss`` on
    class indices (no weights, no label smoothing), in their "mean" and "sum" reductions; ("", "",
    "") for any other function.

    >>> from chainrule import nn
    >>> loss_formula(nn.MSELoss(), (4, 1), np.zeros((4, 1)))
    ('L = 1/n sum (t - {y})^2', 'the mean over all n = 4 entries', '2 ({y} - t) / n')
    """
    from chainrule.nn.loss import BCELoss, CrossEntropyLoss, MSELoss

    n = int(np.prod(prediction_shape))
    summed = "summed over outputs" + (" and samples" if len(prediction_shape) > 1 else "")
    averaged = f"the mean over all n = {n} entries"
    if isinstance(loss_fn, HalfSumOfSquares):
        return "L = 1/2 sum (t - {y})^2", summed, "{y} - t"
    reduction = getattr(loss_fn, "reduction", None)
    mean = reduction == "mean"
    if reduction not in ("mean", "sum"):
        return "", "", ""
    if isinstance(loss_fn, MSELoss):
        if mean:
            return "L = 1/n sum (t - {y})^2", averaged, "2 ({y} - t) / n"
        return "L = sum (t - {y})^2", summed, "2 ({y} - t)"
    if isinstance(loss_fn, BCELoss) and loss_fn.weight is None:
        formula = "L = -" + ("1/n " if mean else "") + "sum [t log {y} + (1 - t) log(1 - {y})]"
        return formula, averaged if mean else summed, "({y} - t) / ({y} (1 - {y}))" + (" / n" if mean else "")
    if (isinstance(loss_fn, CrossEntropyLoss) and loss_fn.weight is None and loss_fn.label_smoothing == 0
            and len(prediction_shape) == 2 and np.asarray(target).dtype.kind in "iu"):
        if mean:
            return ("L = -1/N sum_i log softmax({y}_i)[t_i]", f"the mean over the N = {prediction_shape[0]} samples",
                    "(softmax({y}) - onehot(t)) / N")
        return "L = -sum_i log softmax({y}_i)[t_i]", "summed over samples", "softmax({y}) - onehot(t)"
    return "", "", ""


def explain_step(model: Module, loss_fn, x, y, lr: float) -> Explanation:
    """Run one plain gradient-descent step on ``model`` for the batch (x, y) and record every number.

    ``model``: an ``nn.Sequential`` of Linear layers and elementwise activations. ``loss_fn``:
    any callable (prediction, target) -> scalar Tensor; the text states the formula of those that
    ``loss_formula`` knows (``HalfSumOfSquares()``, the textbook's, among them). The parameters are updated in place,
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
    formula, scope, derivative = loss_formula(loss_fn, a.shape, target._data)
    return Explanation(inputs._data.copy(), target._data.copy(), a._data.copy(), float(loss.item()), float(lr),
                       layers, formula, scope, derivative)
