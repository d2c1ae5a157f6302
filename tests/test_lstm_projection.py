"""LSTM(proj_size=P): parameter names and shapes as PyTorch's, outputs against a per-step NumPy loop
of h = (o * tanh(c)) W_hr^T, gradients against finite differences, packed input, and errors."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck
from chainrule.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _layer_loop(x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr, reverse=False):
    """One direction of one layer: (outputs (L, N, P), final h, final c)."""
    size = w_hr.shape[1]
    outputs = np.zeros((len(x), x.shape[1], w_hr.shape[0]))
    for t in range(len(x) - 1, -1, -1) if reverse else range(len(x)):
        a = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, g, o = (_sigmoid(a[:, :size]), _sigmoid(a[:, size : 2 * size]), np.tanh(a[:, 2 * size : 3 * size]),
                      _sigmoid(a[:, 3 * size :]))  # fmt: skip
        c = f * c + i * g
        h = (o * np.tanh(c)) @ w_hr.T
        outputs[t] = h
    return outputs, h, c


def _reference(lstm, x):
    """The whole (batch-second, zero-state) LSTM by loops over layers, directions and steps."""
    p = {name: value._data for name, value in lstm.named_parameters()}
    directions = 2 if lstm.bidirectional else 1
    finals_h, finals_c = [], []
    for layer in range(lstm.num_layers):
        outs = []
        for direction in range(directions):
            s = f"_l{layer}" + ("_reverse" if direction else "")
            h0 = np.zeros((x.shape[1], lstm.proj_size))
            c0 = np.zeros((x.shape[1], lstm.hidden_size))
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
            out, h, c = _layer_loop(x, h0, c0, *(p[n + s] for n in names), reverse=bool(direction))
            outs.append(out)
            finals_h.append(h)
            finals_c.append(c)
        x = np.concatenate(outs, axis=2)
    return x, np.stack(finals_h), np.stack(finals_c)


def test_parameters_have_pytorchs_names_and_shapes():
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    shapes = {name: tuple(p.shape) for name, p in lstm.named_parameters()}
    assert list(shapes)[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    assert shapes["weight_ih_l0"] == (20, 3) and shapes["weight_hh_l0"] == (20, 2)
    assert shapes["weight_hr_l0_reverse"] == (2, 5)
    assert shapes["weight_ih_l1"] == (20, 4)  # two directions of proj_size features
    assert len(shapes) == 20
    assert [len(group) for group in lstm.all_weights] == [5] * 4
    assert lstm.extra_repr() == "3, 5, num_layers=2, bidirectional=True, proj_size=2"
    assert nn.LSTM(3, 5).proj_size == 0 and nn.GRU(3, 5).proj_size == 0


@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (1, True), (2, True)])
def test_outputs_match_a_loop(num_layers, bidirectional):
    cr.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=num_layers, bidirectional=bidirectional, proj_size=2).double()
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    output, (h_n, c_n) = lstm(cr.tensor(x))
    expected, expected_h, expected_c = _reference(lstm, x)
    directions = 2 if bidirectional else 1
    assert output.shape == (5, 2, 2 * directions)
    assert h_n.shape == (num_layers * directions, 2, 2) and c_n.shape == (num_layers * directions, 2, 4)
    np.testing.assert_allclose(output._data, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n._data, expected_h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_n._data, expected_c, rtol=1e-12, atol=1e-14)


def test_gradients_of_input_state_and_every_weight():
    cr.manual_seed(1)
    lstm = nn.LSTM(2, 3, bidirectional=True, batch_first=True, proj_size=2).double()
    x = cr.randn(2, 3, 2, dtype=cr.float64, requires_grad=True)
    h0 = cr.randn(2, 2, 2, dtype=cr.float64, requires_grad=True)
    c0 = cr.randn(2, 2, 3, dtype=cr.float64, requires_grad=True)

    def run(x, h0, c0, *params):
        output, (h_n, c_n) = lstm(x, (h0, c0))
        return output.sum() + (h_n * h_n).sum() + c_n.sum()

    assert gradcheck(run, (x, h0, c0, *lstm.parameters()))


def test_packed_sequences_equal_each_sequence_run_alone():
    cr.manual_seed(2)
    lstm = nn.LSTM(3, 4, bidirectional=True, proj_size=2).double()
    x = np.random.default_rng(1).standard_normal((4, 3, 3))
    lengths = [4, 2, 3]
    output, (h_n, c_n) = lstm(pack_padded_sequence(cr.tensor(x), cr.tensor(lengths), enforce_sorted=False))
    padded, _ = pad_packed_sequence(output)
    for b, n in enumerate(lengths):
        alone, (h_alone, c_alone) = lstm(cr.tensor(x[:n, b]))
        np.testing.assert_allclose(padded._data[:n, b], alone._data, rtol=1e-12)
        np.testing.assert_allclose(h_n._data[:, b], h_alone._data, rtol=1e-12)
        np.testing.assert_allclose(c_n._data[:, b], c_alone._data, rtol=1e-12)


def test_initial_state_shapes_are_checked_against_proj_size():
    lstm = nn.LSTM(3, 4, proj_size=2)
    x = cr.randn(5, 2, 3)
    with pytest.raises(ValueError, match=r"h0 has shape \(1, 2, 4\), expected \(1, 2, 2\) .*proj_size\)"):
        lstm(x, (cr.zeros(1, 2, 4), cr.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match=r"c0 has shape \(1, 2, 2\), expected \(1, 2, 4\) .*hidden_size\)"):
        lstm(x, (cr.zeros(1, 2, 2), cr.zeros(1, 2, 2)))
    output, (h_n, c_n) = lstm(x, (cr.zeros(1, 2, 2), cr.zeros(1, 2, 4)))
    assert output.shape == (5, 2, 2) and h_n.shape == (1, 2, 2) and c_n.shape == (1, 2, 4)


def test_bad_proj_sizes_are_refused():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size, got proj_size=5"):
        nn.LSTM(3, 4, proj_size=5)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
        nn.LSTM(3, 4, proj_size=1.5)
    with pytest.raises(ValueError, match="weight_hr \\(a projection\\) is for mode 'LSTM' only"):
        cr.ops.rnn_sequence("GRU", cr.randn(2, 1, 3), cr.zeros(1, 4), None, cr.randn(12, 3), cr.randn(12, 4),
                            weight_hr=cr.randn(2, 4))  # fmt: skip
