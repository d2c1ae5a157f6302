"""RNN, LSTM, GRU and their cells: values against a plain NumPy loop over PyTorch's published
equations, gradients (backprop through time) against finite differences, PyTorch's parameter
names, shapes and initialisation, errors, and a small sequence task that needs BPTT to learn."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.linear import Linear
from chainrule.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.ops.arithmetic import mul, sub
from chainrule.ops.reduce import mean

# -- the reference: PyTorch's documented equations, one sample-free loop over time -------------


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _ref_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step for a batch: x (N, in), h and c (N, H). Returns (h', c')."""
    size = h.shape[-1]
    if mode in ("tanh", "relu"):
        z = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        return (np.tanh(z) if mode == "tanh" else np.maximum(z, 0)), None
    blocks = lambda a: [a[k * size:(k + 1) * size] for k in range(len(a) // size)]
    wi, wh, bi, bh = blocks(w_ih), blocks(w_hh), blocks(b_ih), blocks(b_hh)
    pre = lambda k: x @ wi[k].T + bi[k] + h @ wh[k].T + bh[k]
    if mode == "lstm":
        i, f, g, o = _sigmoid(pre(0)), _sigmoid(pre(1)), np.tanh(pre(2)), _sigmoid(pre(3))
        c = f * c + i * g
        return o * np.tanh(c), c
    r, z = _sigmoid(pre(0)), _sigmoid(pre(1))
    n = np.tanh(x @ wi[2].T + bi[2] + r * (h @ wh[2].T + bh[2]))
    return (1 - z) * n + z * h, None


def _ref_layers(mode, sd, x, h0, c0, num_layers, directions):
    """x (L, N, in); h0, c0 (layers * directions, N, H). Returns output, h_n, c_n."""
    sd = {k: np.asarray(v) for k, v in sd.items()}  # state_dict holds tensors; the loop is NumPy
    length = x.shape[0]
    h_n, c_n = [], []
    for layer in range(num_layers):
        outputs = []
        for d in range(directions):
            k = layer * directions + d
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = sd["weight_ih" + suffix], sd["weight_hh" + suffix]
            zeros = np.zeros(w_ih.shape[0])
            b_ih, b_hh = sd.get("bias_ih" + suffix, zeros), sd.get("bias_hh" + suffix, zeros)
            h, c = h0[k], c0[k]
            out = [None] * length
            for t in reversed(range(length)) if d else range(length):
                h, c = _ref_step(mode, x[t], h, c, w_ih, w_hh, b_ih, b_hh)
                out[t] = h
            outputs.append(np.stack(out))
            h_n.append(h)
            c_n.append(c)
        x = np.concatenate(outputs, axis=-1)
    return x, np.stack(h_n), (np.stack(c_n) if mode == "lstm" else None)


def _make(mode, *args, **kwargs):
    if mode in ("tanh", "relu"):
        return RNN(*args, nonlinearity=mode, **kwargs)
    return {"lstm": LSTM, "gru": GRU}[mode](*args, **kwargs)


def _make_cell(mode, *args, **kwargs):
    if mode in ("tanh", "relu"):
        return RNNCell(*args, nonlinearity=mode, **kwargs)
    return {"lstm": LSTMCell, "gru": GRUCell}[mode](*args, **kwargs)


MODES = ["tanh", "relu", "lstm", "gru"]
F64 = cr.float64


def _t(array, requires_grad=False):
    return cr.tensor(array, dtype=F64, requires_grad=requires_grad)


# -- forward values ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_forward_matches_numpy_loop(mode, num_layers, batch_first, with_state, bidirectional):
    cr.manual_seed(1)
    length, batch, n_in, hidden = 4, 3, 3, 5
    dirs = 2 if bidirectional else 1
    layer = _make(mode, n_in, hidden, num_layers=num_layers, batch_first=batch_first,
                  bidirectional=bidirectional).double()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((length, batch, n_in))
    h0 = rng.standard_normal((num_layers * dirs, batch, hidden)) if with_state else np.zeros(
        (num_layers * dirs, batch, hidden))
    c0 = rng.standard_normal(h0.shape) if with_state else np.zeros(h0.shape)
    hx = None
    if with_state:
        hx = (_t(h0), _t(c0)) if mode == "lstm" else _t(h0)
    out, state = layer(_t(x.swapaxes(0, 1) if batch_first else x), hx)
    expected, h_n, c_n = _ref_layers(mode, layer.state_dict(), x, h0, c0, num_layers, dirs)
    if batch_first:
        expected = expected.swapaxes(0, 1)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out._data, expected, rtol=1e-12, atol=1e-12)
    if mode == "lstm":
        state, c_state = state
        np.testing.assert_allclose(c_state._data, c_n, rtol=1e-12, atol=1e-12)
    assert state.shape == (num_layers * dirs, batch, hidden)
    np.testing.assert_allclose(state._data, h_n, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_forward_without_bias(mode):
    cr.manual_seed(2)
    layer = _make(mode, 3, 4, bias=False).double()
    assert [n for n, _ in layer.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    out, _ = layer(_t(x))
    zeros = np.zeros((1, 2, 4))
    expected, _, _ = _ref_layers(mode, layer.state_dict(), x, zeros, zeros, 1, 1)
    np.testing.assert_allclose(out._data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input_equals_a_batch_of_one(mode, batch_first):
    cr.manual_seed(3)
    layer = _make(mode, 3, 4, num_layers=2, bidirectional=True, batch_first=batch_first).double()
    rng = np.random.default_rng(2)
    x, h0, c0 = rng.standard_normal((5, 3)), rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    hx = (_t(h0), _t(c0)) if mode == "lstm" else _t(h0)
    out, state = layer(_t(x), hx)
    assert out.shape == (5, 8)
    batched_x = x[None] if batch_first else x[:, None]
    batched_hx = (_t(h0[:, None]), _t(c0[:, None])) if mode == "lstm" else _t(h0[:, None])
    out1, state1 = layer(_t(batched_x), batched_hx)
    np.testing.assert_allclose(out._data, out1._data[0] if batch_first else out1._data[:, 0], atol=1e-14)
    states, states1 = (state, state1) if mode == "lstm" else ((state,), (state1,))
    for s, s1 in zip(states, states1):
        assert s.shape == (4, 4)
        np.testing.assert_allclose(s._data, s1._data[:, 0], atol=1e-14)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_state", [False, True])
def test_cell_matches_numpy_step(mode, with_state):
    cr.manual_seed(4)
    cell = _make_cell(mode, 3, 4).double()
    rng = np.random.default_rng(3)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    if not with_state:
        h, c = np.zeros((2, 4)), np.zeros((2, 4))
    hx = None
    if with_state:
        hx = (_t(h), _t(c)) if mode == "lstm" else _t(h)
    got = cell(_t(x), hx)
    sd = {k: np.asarray(v) for k, v in cell.state_dict().items()}
    h1, c1 = _ref_step(mode, x, h, c, sd["weight_ih"], sd["weight_hh"], sd["bias_ih"], sd["bias_hh"])
    if mode == "lstm":
        got, got_c = got
        np.testing.assert_allclose(got_c._data, c1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got._data, h1, rtol=1e-12, atol=1e-12)
    # Unbatched: (in,) -> (H,)
    single = cell(_t(x[0]), None if hx is None else (
        (_t(h[0]), _t(c[0])) if mode == "lstm" else _t(h[0])))
    single = single[0] if mode == "lstm" else single
    assert single.shape == (4,)
    np.testing.assert_allclose(single._data, h1[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_cell_run_over_a_sequence_equals_the_layer(mode):
    cr.manual_seed(5)
    layer, cell = _make(mode, 3, 4).double(), _make_cell(mode, 3, 4).double()
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})  # drop "_l0"
    x = cr.randn(6, 2, 3, dtype=F64)
    out, _ = layer(x)
    state = None
    for t in range(6):
        state = cell(x[t], state)
        h = state[0] if mode == "lstm" else state
        np.testing.assert_allclose(h._data, out._data[t], atol=1e-14)


def test_float32_stays_float32():
    for mode in MODES:
        layer = _make(mode, 3, 4, num_layers=2, bidirectional=True)
        x = cr.randn(5, 2, 3, requires_grad=True)
        out, _ = layer(x)
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad.dtype == np.float32
        assert all(p.grad.dtype == np.float32 for p in layer.parameters())


def test_dropout_acts_between_layers_in_training_only():
    cr.manual_seed(6)
    layer = LSTM(3, 4, num_layers=2, dropout=0.5).double()
    x = cr.randn(5, 2, 3, dtype=F64)
    layer.eval()
    out_eval, _ = layer(x)
    zeros = np.zeros((2, 2, 4))
    expected, _, _ = _ref_layers("lstm", layer.state_dict(), x._data, zeros, zeros, 2, 1)
    np.testing.assert_allclose(out_eval._data, expected, atol=1e-12)
    layer.train()
    out_train, _ = layer(x)
    assert not np.allclose(out_train._data, expected)
    with pytest.warns(UserWarning, match="num_layers=1"):
        GRU(3, 4, dropout=0.2)


# -- gradients (backprop through time) ---------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_two_bidirectional_layers_with_state(mode):
    cr.manual_seed(7)
    layer = _make(mode, 3, 2, num_layers=2, bidirectional=True).double()
    rng = np.random.default_rng(4)
    x = _t(rng.standard_normal((3, 2, 3)), requires_grad=True)
    h0 = _t(rng.standard_normal((4, 2, 2)) * 0.5, requires_grad=True)
    if mode == "lstm":
        c0 = _t(rng.standard_normal((4, 2, 2)) * 0.5, requires_grad=True)
        fn = lambda x, h0, c0, *p: (lambda o: (o[0], *o[1]))(layer(x, (h0, c0)))
        inputs = (x, h0, c0, *layer.parameters())
    else:
        fn = lambda x, h0, *p: layer(x, h0)
        inputs = (x, h0, *layer.parameters())
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_batch_first_longer_sequence(mode):
    # Five steps, so the halving of the input projection into steps is exercised unevenly.
    cr.manual_seed(8)
    layer = _make(mode, 2, 2, batch_first=True).double()
    x = cr.randn(2, 5, 2, dtype=F64, requires_grad=True)
    assert gradcheck(lambda x, *p: layer(x)[0], (x, *layer.parameters()))


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_cells(mode):
    cr.manual_seed(9)
    cell = _make_cell(mode, 3, 2).double()
    x = cr.randn(2, 3, dtype=F64, requires_grad=True)
    h = cr.randn(2, 2, dtype=F64, requires_grad=True)
    if mode == "lstm":
        c = cr.randn(2, 2, dtype=F64, requires_grad=True)
        assert gradcheck(lambda x, h, c, *p: cell(x, (h, c)), (x, h, c, *cell.parameters()))
    else:
        assert gradcheck(lambda x, h, *p: cell(x, h), (x, h, *cell.parameters()))


# -- second derivatives ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_second_derivatives_of_the_cells(mode):
    cr.manual_seed(11)
    cell = _make_cell(mode, 2, 2).double()
    x = cr.randn(2, 2, dtype=F64, requires_grad=True)
    h = cr.randn(2, 2, dtype=F64, requires_grad=True)
    if mode == "lstm":
        c = cr.randn(2, 2, dtype=F64, requires_grad=True)
        assert gradgradcheck(lambda x, h, c, *p: cell(x, (h, c)), (x, h, c, *cell.parameters()))
    else:
        assert gradgradcheck(lambda x, h, *p: cell(x, h), (x, h, *cell.parameters()))


@pytest.mark.parametrize("mode", MODES)
def test_second_derivatives_of_a_bidirectional_layer_with_state(mode):
    """BPTT's own rule differentiated again (the fused op under create_graph), both directions."""
    cr.manual_seed(12)
    layer = _make(mode, 2, 2, bidirectional=True).double()
    rng = np.random.default_rng(5)
    x = _t(rng.standard_normal((3, 1, 2)), requires_grad=True)
    h0 = _t(rng.standard_normal((2, 1, 2)) * 0.5, requires_grad=True)
    if mode == "lstm":
        c0 = _t(rng.standard_normal((2, 1, 2)) * 0.5, requires_grad=True)
        fn = lambda x, h0, c0, *p: (lambda o: (o[0], *o[1]))(layer(x, (h0, c0)))
        inputs = (x, h0, c0, *layer.parameters())
    else:
        fn = lambda x, h0, *p: layer(x, h0)
        inputs = (x, h0, *layer.parameters())
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("mode", MODES)
def test_create_graph_gradients_equal_first_order_ones(mode):
    """The BPTT rule run on tensors (create_graph) gives the values it gives on arrays."""
    cr.manual_seed(13)
    layer = _make(mode, 3, 4, num_layers=2, bidirectional=True).double()
    x = cr.randn(5, 2, 3, dtype=F64, requires_grad=True)
    output = layer(x)[0]
    g = cr.randn(*output.shape, dtype=F64)
    inputs = (x, *layer.parameters())
    first = cr.autograd.grad(output, inputs, g, retain_graph=True)
    second = cr.autograd.grad(output, inputs, g, create_graph=True)
    for a, b in zip(first, second):
        assert b.requires_grad
        np.testing.assert_allclose(b._data, a._data, rtol=1e-12, atol=1e-14)


def test_gradient_reaches_the_first_step_only_through_time():
    # The output at the last step depends on x[0] only through the recurrence.
    cr.manual_seed(10)
    layer = GRU(2, 3).double()
    x = cr.randn(4, 1, 2, dtype=F64, requires_grad=True)
    out, _ = layer(x)
    out[3].sum().backward()
    assert np.abs(x.grad._data[0]).sum() > 1e-6
    layer.zero_grad()
    x.grad = None
    out, _ = layer(x)
    out[0].sum().backward()
    np.testing.assert_array_equal(x.grad._data[1:], 0)


# -- parameters, initialisation, state_dict ----------------------------------------------------


def test_parameter_names_and_shapes_are_pytorchs():
    lstm = LSTM(3, 5, num_layers=2, bidirectional=True)
    expected = [
        ("weight_ih_l0", (20, 3)), ("weight_hh_l0", (20, 5)), ("bias_ih_l0", (20,)), ("bias_hh_l0", (20,)),
        ("weight_ih_l0_reverse", (20, 3)), ("weight_hh_l0_reverse", (20, 5)),
        ("bias_ih_l0_reverse", (20,)), ("bias_hh_l0_reverse", (20,)),
        ("weight_ih_l1", (20, 10)), ("weight_hh_l1", (20, 5)), ("bias_ih_l1", (20,)), ("bias_hh_l1", (20,)),
        ("weight_ih_l1_reverse", (20, 10)), ("weight_hh_l1_reverse", (20, 5)),
        ("bias_ih_l1_reverse", (20,)), ("bias_hh_l1_reverse", (20,)),
    ]  # fmt: skip
    assert [(n, p.shape) for n, p in lstm.named_parameters()] == expected
    assert [(k, v.shape) for k, v in lstm.state_dict().items()] == expected
    gru = GRU(4, 6, num_layers=2)
    assert [(n, p.shape) for n, p in gru.named_parameters()] == [
        ("weight_ih_l0", (18, 4)), ("weight_hh_l0", (18, 6)), ("bias_ih_l0", (18,)), ("bias_hh_l0", (18,)),
        ("weight_ih_l1", (18, 6)), ("weight_hh_l1", (18, 6)), ("bias_ih_l1", (18,)), ("bias_hh_l1", (18,)),
    ]  # fmt: skip
    rnn = RNN(4, 6, bias=False, bidirectional=True)
    assert [(n, p.shape) for n, p in rnn.named_parameters()] == [
        ("weight_ih_l0", (6, 4)), ("weight_hh_l0", (6, 6)),
        ("weight_ih_l0_reverse", (6, 4)), ("weight_hh_l0_reverse", (6, 6)),
    ]
    assert [len(group) for group in rnn.all_weights] == [2, 2]
    for cell, gates in ((RNNCell(4, 6), 1), (LSTMCell(4, 6), 4), (GRUCell(4, 6), 3)):
        assert [(k, v.shape) for k, v in cell.state_dict().items()] == [
            ("weight_ih", (gates * 6, 4)), ("weight_hh", (gates * 6, 6)),
            ("bias_ih", (gates * 6,)), ("bias_hh", (gates * 6,)),
        ]
    assert list(GRUCell(4, 6, bias=False).state_dict()) == ["weight_ih", "weight_hh"]


@pytest.mark.parametrize("make", [lambda: LSTM(7, 16, num_layers=2), lambda: GRU(7, 16),
                                  lambda: RNN(7, 16, bidirectional=True), lambda: LSTMCell(7, 16)])
def test_default_init_is_uniform_within_one_over_sqrt_hidden(make):
    cr.manual_seed(11)
    module = make()
    bound = 1 / math.sqrt(16)
    values = np.concatenate([p._data.ravel() for p in module.parameters()])
    assert values.dtype == np.float32
    assert np.abs(values).max() <= bound
    # All of [-k, k] is used, and evenly: not a narrower or a normal distribution.
    assert values.min() < -0.95 * bound and values.max() > 0.95 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound
    cr.manual_seed(11)
    again = make()
    assert all(np.array_equal(a._data, b._data) for a, b in zip(module.parameters(), again.parameters()))


def test_repr_shows_settings():
    assert repr(LSTM(3, 4, num_layers=2, batch_first=True)).startswith(
        "LSTM(3, 4, num_layers=2, batch_first=True)")
    assert repr(RNNCell(3, 4, nonlinearity="relu")).startswith("RNNCell(3, 4, nonlinearity='relu')")


# -- errors ------------------------------------------------------------------------------------


def test_wrong_input_size_names_layer_shape_and_expectation():
    message = r"LSTM\(3 -> 4\): input has 5 features \(shape \(6, 2, 5\)\), expected 3"
    with pytest.raises(ValueError, match=message):
        LSTM(3, 4)(cr.randn(6, 2, 5))
    with pytest.raises(ValueError, match=r"GRU\(3 -> 4\): input of shape \(2, 6, 2, 3\): expected 3 dims"):
        GRU(3, 4)(cr.randn(2, 6, 2, 3))
    with pytest.raises(ValueError, match=r"GRUCell\(3 -> 4\): input of shape \(2, 5\), expected \(N, 3\)"):
        GRUCell(3, 4)(cr.randn(2, 5))
    with pytest.raises(ValueError, match="empty sequence"):
        RNN(3, 4)(cr.randn(0, 2, 3))


def test_wrong_initial_state_is_reported():
    with pytest.raises(ValueError, match=r"RNN\(3 -> 4\): h0 has shape \(1, 2, 4\), expected \(2, 2, 4\)"):
        RNN(3, 4, num_layers=2)(cr.randn(5, 2, 3), cr.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"c0 has shape \(1, 3, 4\), expected \(1, 2, 4\)"):
        LSTM(3, 4)(cr.randn(5, 2, 3), (cr.zeros(1, 2, 4), cr.zeros(1, 3, 4)))
    with pytest.raises(ValueError, match=r"h0 has shape \(1, 1, 4\), expected \(1, 4\)"):
        GRU(3, 4)(cr.randn(5, 3), cr.zeros(1, 1, 4))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h0, c0\)"):
        LSTM(3, 4)(cr.randn(5, 2, 3), cr.zeros(1, 2, 4))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h, c\)"):
        LSTMCell(3, 4)(cr.randn(2, 3), cr.zeros(2, 4))
    with pytest.raises(ValueError, match=r"RNNCell\(3 -> 4\): h has shape \(3, 4\), expected \(2, 4\)"):
        RNNCell(3, 4)(cr.randn(2, 3), cr.zeros(3, 4))


def test_bad_arguments_and_dtypes():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be an integer >= 1, got 0"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers must be an integer >= 1"):
        GRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout must be a finite number >= 0 and <= 1, got 1\.5"):
        LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size, got proj_size=4"):
        LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
        LSTM(3, 4, proj_size=-1)
    with pytest.raises(TypeError, match="input has dtype float64, but the parameters are float32"):
        LSTM(3, 4)(cr.randn(5, 2, 3, dtype=F64))
    with pytest.raises(TypeError, match="input must be a Tensor"):
        GRU(3, 4)(np.zeros((5, 2, 3), dtype=np.float32))


# -- learning: a task that needs memory, so only BPTT can solve it -----------------------------


@pytest.mark.parametrize("mode", ["tanh", "lstm", "gru"])
def test_sgd_learns_to_recall_the_first_element(mode):
    """Read 5 numbers, output the first one at the end: the gradient must flow back 4 steps."""
    cr.manual_seed(12)
    rng = np.random.default_rng(12)
    layer, head = _make(mode, 1, 12, batch_first=True), Linear(12, 1)
    params = [*layer.parameters(), *head.parameters()]
    x = rng.uniform(-1, 1, (64, 5, 1)).astype(np.float32)
    target = cr.tensor(x[:, 0])
    inputs = cr.tensor(x)

    def loss_now():
        out, _ = layer(inputs)
        error = sub(head(out[:, -1]), target)
        return mean(mul(error, error))

    losses = []
    velocities = [np.zeros_like(p._data) for p in params]
    for _ in range(200):  # SGD with momentum 0.9 and the gradient norm clipped at 1
        loss = loss_now()
        losses.append(loss.item())
        for p in params:
            p.grad = None
        loss.backward()
        scale = min(1.0, 1.0 / math.sqrt(sum(float((p.grad._data**2).sum()) for p in params)))
        for p, v in zip(params, velocities):
            v *= 0.9
            v += scale * p.grad._data
            p._data -= 0.1 * v
    baseline = float(np.var(x[:, 0]))  # the loss of always answering the mean
    final = float(np.mean(losses[-10:]))
    assert losses[0] > 0.8 * baseline
    assert final < 0.15 * baseline, (losses[0], final, baseline)
