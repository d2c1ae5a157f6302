"""Op-table cases for rnn_sequence: every mode, both directions, with and without biases; the
reference is a plain per-step loop of PyTorch's equations."""

import numpy as np
from hypothesis import strategies as st
from op_table import Case, Drawn, values

from chainrule.ops.recurrent import rnn_sequence


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _reference(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, reverse):
    size = w_hh.shape[1]
    steps = range(len(x) - 1, -1, -1) if reverse else range(len(x))
    out = np.zeros((len(x), x.shape[1], 2 * size if mode == "LSTM" else size))
    for t in steps:
        gx, gh = x[t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if mode == "GRU":
            r = _sigmoid(gx[:, :size] + gh[:, :size])
            z = _sigmoid(gx[:, size:2 * size] + gh[:, size:2 * size])
            n = np.tanh(gx[:, 2 * size:] + r * gh[:, 2 * size:])
            h = (1 - z) * n + z * h
        elif mode == "LSTM":
            a = gx + gh
            i, f, g, o = _sigmoid(a[:, :size]), _sigmoid(a[:, size:2 * size]), np.tanh(a[:, 2 * size:3 * size]), \
                _sigmoid(a[:, 3 * size:])
            c = f * c + i * g
            h = o * np.tanh(c)
        else:
            h = np.tanh(gx + gh) if mode == "RNN_TANH" else np.maximum(gx + gh, 0)
        out[t, :, :size] = h
        if mode == "LSTM":
            out[t, :, size:] = c
    return out


def _case():
    def draw(d):
        mode = d(st.sampled_from(["RNN_TANH", "RNN_RELU", "GRU", "LSTM"]))
        length, batch, features, size = (d(st.integers(1, n)) for n in (3, 2, 3, 3))
        gates = {"GRU": 3, "LSTM": 4}.get(mode, 1)
        bias, reverse = d(st.booleans()), d(st.booleans())
        lstm = mode == "LSTM"
        away = 0.0 if mode == "RNN_RELU" else None  # keep ReLU pre-activations clear of the kink
        arrays = [values(d, (length, batch, features)), values(d, (batch, size))]
        if lstm:
            arrays.append(values(d, (batch, size)))
        arrays += [values(d, (gates * size, features)) * 0.5, values(d, (gates * size, size)) * 0.5]
        if bias:
            arrays += [values(d, (gates * size,)), values(d, (gates * size,), away_from=away)]

        def op(x, h0, *rest):
            c0, rest = (rest[0], rest[1:]) if lstm else (None, rest)
            w_ih, w_hh, *b = rest
            return rnn_sequence(mode, x, h0, c0, w_ih, w_hh, *(b or [None, None]), reverse=reverse)

        def reference(x, h0, *rest):
            c0, rest = (rest[0], rest[1:]) if lstm else (None, rest)
            w_ih, w_hh, *b = rest
            b_ih, b_hh = b if b else (np.zeros(gates * size), np.zeros(gates * size))
            return _reference(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)

        return Drawn(arrays, op, reference)

    return Case("rnn_sequence", draw)


def _projected_reference(x, h, c, w_ih, w_hh, w_hr, reverse):
    """An LSTM with a projection, step by step: h = (o * tanh(c)) W_hr^T."""
    size = w_hr.shape[1]
    steps = range(len(x) - 1, -1, -1) if reverse else range(len(x))
    out = np.zeros((len(x), x.shape[1], w_hr.shape[0] + size))
    for t in steps:
        a = x[t] @ w_ih.T + h @ w_hh.T
        i, f, o = _sigmoid(a[:, :size]), _sigmoid(a[:, size:2 * size]), _sigmoid(a[:, 3 * size:])
        c = f * c + i * np.tanh(a[:, 2 * size:3 * size])
        h = (o * np.tanh(c)) @ w_hr.T
        out[t] = np.concatenate([h, c], axis=1)
    return out


def _projected_case():
    """rnn_sequence's LSTM with weight_hr (PyTorch's proj_size): its own parent and gradient."""

    def draw(d):
        length, batch, features = (d(st.integers(1, n)) for n in (3, 2, 3))
        size = d(st.integers(2, 3))
        proj = d(st.integers(1, size - 1))
        reverse = d(st.booleans())
        arrays = [
            values(d, (length, batch, features)), values(d, (batch, proj)), values(d, (batch, size)),
            values(d, (4 * size, features)) * 0.5, values(d, (4 * size, proj)) * 0.5, values(d, (proj, size)),
        ]

        def op(x, h0, c0, w_ih, w_hh, w_hr):
            return rnn_sequence("LSTM", x, h0, c0, w_ih, w_hh, reverse=reverse, weight_hr=w_hr)

        def reference(x, h0, c0, w_ih, w_hh, w_hr):
            return _projected_reference(x, h0, c0, w_ih, w_hh, w_hr, reverse)

        return Drawn(arrays, op, reference)

    return Case("rnn_sequence", draw)


CASES = [_case(), _projected_case()]
