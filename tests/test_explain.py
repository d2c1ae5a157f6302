"""explain_step: Mazur's worked 2-2-2 example checked against chain-rule arithmetic done by hand,
a batch against a NumPy forward/backward, the text, the JSON form and the refusals."""

import json
import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.explain import HalfSumOfSquares, explain_step, loss_formula


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


# Mazur, "A step by step backpropagation example": inputs, weights w1..w8, biases, targets.
I1, I2 = 0.05, 0.10
W1, W2, W3, W4, W5, W6, W7, W8 = 0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55
B1, B2 = 0.35, 0.60
T1, T2 = 0.01, 0.99
LR = 0.5


def by_hand():
    """The whole step in plain Python floats, one chain-rule factor at a time."""
    h = {}
    # forward
    h["net_h"] = [W1 * I1 + W2 * I2 + B1, W3 * I1 + W4 * I2 + B1]
    h["out_h"] = [sigmoid(v) for v in h["net_h"]]
    oh1, oh2 = h["out_h"]
    h["net_o"] = [W5 * oh1 + W6 * oh2 + B2, W7 * oh1 + W8 * oh2 + B2]
    h["out_o"] = [sigmoid(v) for v in h["net_o"]]
    o1, o2 = h["out_o"]
    h["E"] = 0.5 * (T1 - o1) ** 2 + 0.5 * (T2 - o2) ** 2
    # backward: dE/dout_o = -(t - out); delta_o = dE/dout_o * out (1 - out)
    h["dE_dout_o"] = [-(T1 - o1), -(T2 - o2)]
    d_o1 = h["dE_dout_o"][0] * o1 * (1 - o1)
    d_o2 = h["dE_dout_o"][1] * o2 * (1 - o2)
    h["delta_o"] = [d_o1, d_o2]
    h["dE_dW_o"] = [[d_o1 * oh1, d_o1 * oh2], [d_o2 * oh1, d_o2 * oh2]]
    h["dE_db_o"] = [d_o1, d_o2]
    # the hidden outputs feed both output neurons: their gradient sums both paths
    h["dE_dout_h"] = [d_o1 * W5 + d_o2 * W7, d_o1 * W6 + d_o2 * W8]
    d_h1 = h["dE_dout_h"][0] * oh1 * (1 - oh1)
    d_h2 = h["dE_dout_h"][1] * oh2 * (1 - oh2)
    h["delta_h"] = [d_h1, d_h2]
    h["dE_dW_h"] = [[d_h1 * I1, d_h1 * I2], [d_h2 * I1, d_h2 * I2]]
    h["dE_db_h"] = [d_h1, d_h2]
    # update
    h["W_h+"] = [[W1 - LR * h["dE_dW_h"][0][0], W2 - LR * h["dE_dW_h"][0][1]],
                 [W3 - LR * h["dE_dW_h"][1][0], W4 - LR * h["dE_dW_h"][1][1]]]
    h["b_h+"] = [B1 - LR * d_h1, B1 - LR * d_h2]
    h["W_o+"] = [[W5 - LR * h["dE_dW_o"][0][0], W6 - LR * h["dE_dW_o"][0][1]],
                 [W7 - LR * h["dE_dW_o"][1][0], W8 - LR * h["dE_dW_o"][1][1]]]
    h["b_o+"] = [B2 - LR * d_o1, B2 - LR * d_o2]
    return h


def mazur_net(dtype=cr.float64):
    net = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 2), nn.Sigmoid()).to(dtype)
    net[0].weight._data[...] = [[W1, W2], [W3, W4]]
    net[0].bias._data[...] = B1
    net[2].weight._data[...] = [[W5, W6], [W7, W8]]
    net[2].bias._data[...] = B2
    return net


def half_sum_of_squares(p, t):
    return 0.5 * ((t - p) ** 2).sum()


def explain_mazur(dtype=cr.float64):
    net = mazur_net(dtype)
    return net, explain_step(net, half_sum_of_squares, [I1, I2], [T1, T2], lr=LR)


@pytest.mark.parametrize(("dtype", "rtol"), [(cr.float64, 1e-12), (cr.float32, 2e-6)])
def test_every_number_of_the_worked_example_matches_the_hand_arithmetic(dtype, rtol):
    h = by_hand()
    net, e = explain_mazur(dtype)
    hidden, hidden_act, out, out_act = e.layers

    def close(actual, expected):
        assert np.asarray(actual).dtype == dtype
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * 1e-3)

    close(e.inputs, [I1, I2])
    close(hidden.output, h["net_h"])  # z = W a + b, the weighted sums
    close(hidden_act.output, h["out_h"])
    close(out.output, h["net_o"])
    close(out_act.output, h["out_o"])
    close(e.prediction, h["out_o"])
    assert e.loss == pytest.approx(h["E"], rel=rtol)
    close(out_act.output_grad, h["dE_dout_o"])
    close(out.output_grad, h["delta_o"])  # delta = dL/dz
    close(out.parameters["weight"].grad, h["dE_dW_o"])
    close(out.parameters["bias"].grad, h["dE_db_o"])
    close(hidden_act.output_grad, h["dE_dout_h"])
    close(hidden.output_grad, h["delta_h"])
    close(hidden.parameters["weight"].grad, h["dE_dW_h"])
    close(hidden.parameters["bias"].grad, h["dE_db_h"])
    close(hidden.parameters["weight"].before, [[W1, W2], [W3, W4]])
    close(hidden.parameters["weight"].after, h["W_h+"])
    close(hidden.parameters["bias"].after, h["b_h+"])
    close(out.parameters["weight"].after, h["W_o+"])
    close(out.parameters["bias"].after, h["b_o+"])
    # the step really happened, and it did not leave gradients behind in .grad
    close(net[2].weight._data, h["W_o+"])
    close(net[0].bias._data, h["b_h+"])
    assert all(p.grad is None for p in net.parameters())
    assert hidden_act.parameters == {} and hidden_act.kind == "activation" and hidden.kind == "linear"


def test_the_published_numbers_of_the_worked_example():
    _, e = explain_mazur()
    assert e.loss == pytest.approx(0.298371109, abs=1e-9)
    np.testing.assert_allclose(e.layers[1].output, [0.593269992, 0.596884378], atol=1e-9)
    np.testing.assert_allclose(e.layers[3].output, [0.75136507, 0.772928465], atol=1e-8)
    assert e.layers[2].parameters["weight"].grad[0, 0] == pytest.approx(0.082167041, abs=1e-9)
    w5_w8 = [[0.35891648, 0.408666186], [0.511301270, 0.561370121]]
    w1_w4 = [[0.149780716, 0.19956143], [0.24975114, 0.29950229]]
    np.testing.assert_allclose(e.layers[2].parameters["weight"].after, w5_w8, atol=1e-8)
    np.testing.assert_allclose(e.layers[0].parameters["weight"].after, w1_w4, atol=1e-8)


def test_text_has_the_four_headings_the_numbers_and_aligned_columns():
    _, e = explain_mazur()
    text = e.to_text()
    positions = [text.index(heading) for heading in
                 ("1. Forward pass", "2. Loss (total error)", "3. Backward pass", "4. Update")]
    assert positions == sorted(positions)
    for number in ("0.3775", "0.59326999", "0.75136507", "0.29837111", "0.13849856", "0.08216704",
                   "0.35891648", "0.14978072"):
        assert number in text, number
    assert "z^(1) = W^(1) x + b^(1)" in text and "delta^(2) = dL/dz^(2)" in text and "lr = 0.5" in text
    assert str(e) == text
    update = text[text.index("4. Update"):].splitlines()[1:]
    table = [line for line in update if line.strip()]
    assert len(table) == 1 + 12  # header and one row per weight and bias entry
    assert len({len(line) for line in table}) == 1  # right-aligned numbers: rows of equal width
    assert table[7].split() == ["W^(2)[1,1]", "0.40000000", "0.08216704", "0.35891648"]


def test_to_dict_is_json_and_survives_a_round_trip():
    _, e = explain_mazur()
    d = e.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert json.loads(e.to_json()) == d
    assert d["loss"] == e.loss and d["lr"] == LR
    assert [layer["kind"] for layer in d["layers"]] == ["linear", "activation", "linear", "activation"]
    assert d["layers"][2]["parameters"]["weight"]["after"][0][0] == pytest.approx(0.35891648, abs=1e-8)
    assert d["layers"][1]["output"] == pytest.approx([0.593269992, 0.596884378], abs=1e-9)

    def leaves(value):
        if isinstance(value, dict):
            return [leaf for v in value.values() for leaf in leaves(v)]
        if isinstance(value, list):
            return [leaf for v in value for leaf in leaves(v)]
        return [value]

    assert {type(leaf) for leaf in leaves(d)} == {float, str}


def test_a_batch_with_other_activations_matches_numpy():
    cr.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.1), nn.Linear(4, 2), nn.Tanh()).double()
    w0, b0, w2, b2 = (p._data.copy() for p in net.parameters())
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    e = explain_step(net, lambda p, t: ((p - t) ** 2).mean(), x, y, lr=0.1)
    # NumPy forward and backward, written out
    z0 = x @ w0.T + b0
    a1 = np.where(z0 > 0, z0, 0.1 * z0)
    z2 = a1 @ w2.T + b2
    a3 = np.tanh(z2)
    loss = np.mean((a3 - y) ** 2)
    g3 = 2 * (a3 - y) / y.size
    d2 = g3 * (1 - a3**2)
    g1 = d2 @ w2
    d0 = g1 * np.where(z0 > 0, 1.0, 0.1)
    first, second = e.layers[0].parameters, e.layers[2].parameters
    for actual, expected in [
        *zip((step.output for step in e.layers), (z0, a1, z2, a3)),
        *zip((step.output_grad for step in e.layers), (d0, g1, d2, g3)),
        (second["weight"].grad, d2.T @ a1), (second["bias"].grad, d2.sum(0)),
        (first["weight"].grad, d0.T @ x), (first["bias"].grad, d0.sum(0)),
        (first["weight"].after, w0 - 0.1 * d0.T @ x), (net[2].bias._data, b2 - 0.1 * d2.sum(0)),
    ]:
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-14)
    assert e.loss == pytest.approx(loss, rel=1e-12)
    text = e.to_text()
    assert "rows are samples" in text and "z^(1) = x (W^(1))^T + b^(1)" in text and "summed over samples" in text
    assert "a^(1) = z^(1) if z^(1) > 0 else 0.1 z^(1)" in text
    no_bias = explain_step(nn.Sequential(nn.Linear(3, 1, bias=False)), lambda p, t: (p * p).sum(), x, y, 0.1)
    assert list(no_bias.layers[0].parameters) == ["weight"]
    assert "z^(1) = x (W^(1))^T " in no_bias.to_text() and "+ b^(1)" not in no_bias.to_text()


def test_integer_class_targets_stay_integers():
    cr.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3))
    labels = np.array([0, 2])

    def cross_entropy(p, t):
        return -cr.log_softmax(p, -1)[np.arange(len(t._data)), t._data].mean()

    e = explain_step(net, cross_entropy, [[1.0, -1.0], [0.5, 2.0]], labels, lr=0.1)
    assert e.target.dtype.kind == "i" and e.to_dict()["target"] == [0, 2]
    probs = np.exp(e.prediction) / np.exp(e.prediction).sum(1, keepdims=True)
    expected = (probs - np.eye(3)[labels]) / 2  # softmax minus one-hot, averaged
    np.testing.assert_allclose(e.layers[2].output_grad, expected, rtol=1e-5, atol=1e-7)
    assert e.layers[2].output_grad.dtype == np.float32


def test_refuses_what_it_cannot_explain():
    loss = half_sum_of_squares
    with pytest.raises(TypeError, match=r"layer 1 is Softmax; only Linear and elementwise .*Sigmoid"):
        explain_step(nn.Sequential(nn.Linear(2, 2), nn.Softmax()), loss, [1.0, 2.0], [0.0, 1.0], 0.1)
    with pytest.raises(TypeError, match=r"layer 1 is Dropout"):
        explain_step(nn.Sequential(nn.Linear(2, 2), nn.Dropout()), loss, [1.0, 2.0], [0.0, 1.0], 0.1)
    with pytest.raises(TypeError, match=r"expected an nn.Sequential .* got Linear"):
        explain_step(nn.Linear(2, 2), loss, [1.0, 2.0], [0.0, 1.0], 0.1)
    with pytest.raises(ValueError, match="no Linear layer"):
        explain_step(nn.Sequential(nn.Sigmoid()), loss, [1.0, 2.0], [0.0, 1.0], 0.1)
    with pytest.raises(TypeError, match=r"loss_fn must return a scalar Tensor, got shape \(2,\)"):
        explain_step(mazur_net(), lambda p, t: (p - t) ** 2, [1.0, 2.0], [0.0, 1.0], 0.1)
    with pytest.raises(ValueError, match=r"lr must be a finite number >= 0, got -1"):
        explain_step(mazur_net(), loss, [1.0, 2.0], [0.0, 1.0], -1)
    for lr in (float("inf"), float("nan")):
        with pytest.raises(ValueError, match=rf"lr must be a finite number >= 0, got {lr}"):
            explain_step(mazur_net(), loss, [1.0, 2.0], [0.0, 1.0], lr)
    with pytest.raises(TypeError, match=r"lr must be a finite number >= 0, got '0.1'"):
        explain_step(mazur_net(), loss, [1.0, 2.0], [0.0, 1.0], "0.1")
    with pytest.raises(ValueError, match=r"x must be finite, got nan at index \[1\]"):
        explain_step(mazur_net(), loss, [1.0, float("nan")], [0.0, 1.0], 0.1)
    with pytest.raises(ValueError, match=r"y must be finite, got inf at index \[0\]"):
        explain_step(mazur_net(), loss, [1.0, 2.0], [float("inf"), 1.0], 0.1)
    with pytest.raises(TypeError, match=r"x must hold numbers, got an array of <U1"):
        explain_step(mazur_net(), loss, ["a", "b"], [0.0, 1.0], 0.1)
    frozen = mazur_net()
    frozen[2].bias.requires_grad_(False)
    with pytest.raises(ValueError, match=r"parameter 2.bias has requires_grad=False"):
        explain_step(frozen, loss, [1.0, 2.0], [0.0, 1.0], 0.1)


# -- the wording: the loss's formula, textbook layer names, one number format ---------------------------
NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]\d+)?")


def test_the_textbook_loss_is_stated_and_its_derivative_spelled_out_with_the_same_numbers():
    _, plain = explain_mazur()
    e = explain_step(mazur_net(), HalfSumOfSquares(), [I1, I2], [T1, T2], lr=LR)
    assert e.loss == plain.loss and all(np.array_equal(a.output_grad, b.output_grad)
                                        for a, b in zip(e.layers, plain.layers))
    text = e.to_text()
    assert "Loss: L = 1/2 sum (t - a^(2))^2 (summed over outputs)" in text
    assert "so dL/da^(2) = a^(2) - t." in text
    assert "L = 1/2 sum (t - a^(2))^2 = 0.29837111" in text
    assert "dL/da^(2) = a^(2) - t" in text[text.index("3. Backward pass"):]
    np.testing.assert_allclose(e.layers[3].output_grad, e.prediction - e.target, rtol=1e-12)  # a - t, as it says
    assert e.to_dict()["loss_formula"] == "L = 1/2 sum (t - a^(2))^2"
    assert e.to_dict()["loss_gradient"] == "a^(2) - t"
    # a function whose formula is unknown says so instead of guessing
    assert "whose formula explain_step does not know" in plain.to_text() and plain.loss_formula == ""


def test_the_mean_is_stated_as_a_mean_with_its_count_and_its_derivative_checks_out():
    cr.manual_seed(1)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2)).double()
    x, t = np.array([[0.5, -1.0], [1.5, 0.25]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    e = explain_step(net, nn.MSELoss(), x, t, lr=0.1)
    text = e.to_text()
    assert "Loss: L = 1/n sum (t - z^(2))^2 (the mean over all n = 4 entries)" in text
    assert "so dL/dz^(2) = 2 (z^(2) - t) / n." in text
    assert "delta^(2) = dL/dz^(2) = 2 (z^(2) - t) / n" in text  # a last Linear: its delta is the loss's derivative
    np.testing.assert_allclose(e.layers[2].output_grad, 2 * (e.prediction - t) / 4, rtol=1e-12)
    assert loss_formula(nn.MSELoss(reduction="sum"), (2, 2), t) == (
        "L = sum (t - {y})^2", "summed over outputs and samples", "2 ({y} - t)")
    assert loss_formula(nn.MSELoss(reduction="none"), (2, 2), t) == ("", "", "")
    bce = loss_formula(nn.BCELoss(), (2, 1), t)
    assert bce[0].startswith("L = -1/n sum [t log {y}") and bce[2] == "({y} - t) / ({y} (1 - {y})) / n"
    ce = loss_formula(nn.CrossEntropyLoss(), (2, 3), np.array([0, 2]))
    assert ce == ("L = -1/N sum_i log softmax({y}_i)[t_i]", "the mean over the N = 2 samples",
                  "(softmax({y}) - onehot(t)) / N")


def test_layers_are_numbered_1_to_L_as_in_textbooks():
    _, e = explain_mazur()
    text = e.to_text()
    assert "The network has L = 2 layers" in text
    assert "layer 1 = model[0] Linear(2 -> 2), model[1] Sigmoid()" in text
    assert "layer 2 = model[2] Linear(2 -> 2), model[3] Sigmoid()" in text
    for symbol in ("z^(1)", "a^(1)", "z^(2)", "a^(2)", "delta^(1)", "delta^(2)", "dL/dW^(1)", "dL/db^(2)"):
        assert symbol in text, symbol
    assert "layer 0" not in text and "delta0" not in text and "z0" not in text
    assert "dL/da^(1) = (W^(2))^T delta^(2)" in text and "dL/dW^(2) = delta^(2) (a^(1))^T" in text
    assert [layer["symbol"] for layer in e.to_dict()["layers"]] == ["z^(1)", "a^(1)", "z^(2)", "a^(2)"]
    # Linear after Linear: the second takes z^(1) (no activation between)
    linear = explain_step(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1)), HalfSumOfSquares(), [1.0, 2.0], [0.5], 0.1)
    assert "z^(2) = W^(2) z^(1) + b^(2)" in linear.to_text()
    assert "delta^(1) = dL/dz^(1) = (W^(2))^T delta^(2)" in linear.to_text()


def computed_numbers(text):
    """The numbers the step computed: the text after its introduction, less the settings (lr)."""
    body = text.split("\n1. Forward pass")[1]
    return NUMBER.findall("\n".join(line for line in body.splitlines() if "lr = " not in line))


def test_every_number_has_the_same_digits():
    _, e = explain_mazur()
    numbers = computed_numbers(e.to_text())
    assert len(numbers) > 60
    assert {len(n.lstrip("-").split(".")[1]) for n in numbers} == {8}
    # a number too small for 8 decimals puts the whole text in scientific notation, not just that number
    tiny = explain_step(mazur_net(), lambda p, t: 1e-9 * ((t - p) ** 2).sum(), [I1, I2], [T1, T2], lr=LR)
    text = tiny.to_text()
    assert "Numbers: 7-digit scientific notation, throughout." in text
    numbers = computed_numbers(text)
    assert numbers and all(re.fullmatch(r"-?\d\.\d{7}e[-+]\d\d", n) for n in numbers)


def test_the_command_line_states_the_loss_it_uses(capsys):
    from chainrule.cli import main

    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert "Loss: L = 1/2 sum (t - a^(2))^2 (summed over outputs and samples)," in out
    assert "so dL/da^(2) = a^(2) - t." in out and "layer 2 = model[2] Linear(2 -> 1), model[3] Sigmoid()" in out
    assert {len(n.lstrip("-").split(".")[1]) for n in computed_numbers(out)} == {8}
