"""nn.utils.rnn (padding and packing sequences) against plain NumPy loops, their first and second
derivatives against finite differences, and RNN / LSTM / GRU on packed input against each sequence
run alone through the same layer: outputs, final states and gradients."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.recurrent import GRU, LSTM, RNN
from chainrule.nn.utils.rnn import (
    PackedSequence,
    invert_permutation,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

# -- references: plain loops over the sequences -------------------------------------------------


def _pad_reference(arrays, batch_first, value, side="right"):
    steps = max(len(a) for a in arrays)
    out = np.full((steps, len(arrays), *arrays[0].shape[1:]), value, dtype=arrays[0].dtype)
    for b, a in enumerate(arrays):
        if side == "right":
            out[: len(a), b] = a
        else:
            out[steps - len(a) :, b] = a
    return out.swapaxes(0, 1) if batch_first else out


def _pack_reference(arrays):
    """Packed data and batch sizes of sequences already sorted by decreasing length."""
    data, sizes = [], []
    for t in range(len(arrays[0])):
        rows = [a[t] for a in arrays if len(a) > t]
        data += rows
        sizes.append(len(rows))
    return np.array(data), sizes


def _sequences(rng, lengths, features=(2,)):
    return [rng.standard_normal((n, *features)) for n in lengths]


# -- pad_sequence --------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_against_a_loop(batch_first, side):
    arrays = _sequences(np.random.default_rng(0), [3, 5, 1, 0, 5], (2, 3))
    out = pad_sequence([cr.tensor(a) for a in arrays], batch_first=batch_first, padding_value=-7.5, padding_side=side)
    np.testing.assert_array_equal(out._data, _pad_reference(arrays, batch_first, -7.5, side))
    assert out.dtype == np.float64


def test_pad_sequence_takes_a_tensor_as_its_rows_and_keeps_integer_dtypes():
    out = pad_sequence(cr.tensor([[1, 2], [3, 4]]))  # two sequences of length 2
    assert out.tolist() == [[1, 3], [2, 4]] and out.dtype == np.int64
    ragged = pad_sequence([cr.tensor([1, 2, 3]), cr.tensor([4])], batch_first=True, padding_value=9)
    assert ragged.tolist() == [[1, 2, 3], [4, 9, 9]] and ragged.dtype == np.int64


# -- packing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_padded_sequence_sorted_against_a_loop(batch_first):
    arrays = _sequences(np.random.default_rng(1), [4, 4, 2, 1])
    padded = cr.tensor(_pad_reference(arrays, batch_first, 0.0))
    packed = pack_padded_sequence(padded, [4, 4, 2, 1], batch_first=batch_first)
    data, sizes = _pack_reference(arrays)
    assert isinstance(packed, PackedSequence) and packed._fields == (
        "data", "batch_sizes", "sorted_indices", "unsorted_indices")  # fmt: skip
    np.testing.assert_array_equal(packed.data._data, data)
    assert packed.batch_sizes.tolist() == sizes and packed.batch_sizes.dtype == np.int64
    assert packed.sorted_indices is None and packed.unsorted_indices is None
    back, lengths = pad_packed_sequence(packed, batch_first=batch_first)
    np.testing.assert_array_equal(back._data, padded._data)
    assert lengths.tolist() == [4, 4, 2, 1] and lengths.dtype == np.int64


@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_unsorted_records_the_order_and_unpacks_to_it(batch_first):
    lengths = [2, 5, 2, 3, 5]
    arrays = _sequences(np.random.default_rng(2), lengths, (3,))
    padded = cr.tensor(_pad_reference(arrays, batch_first, 0.0))
    packed = pack_padded_sequence(padded, cr.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    order = [1, 4, 3, 0, 2]  # by decreasing length, ties in their order
    assert packed.sorted_indices.tolist() == order
    assert packed.unsorted_indices.tolist() == np.argsort(order).tolist()
    data, sizes = _pack_reference([arrays[i] for i in order])
    np.testing.assert_array_equal(packed.data._data, data)
    assert packed.batch_sizes.tolist() == sizes
    back, got_lengths = pad_packed_sequence(packed, batch_first=batch_first, padding_value=0.5, total_length=7)
    expected = np.full((7, 5, 3), 0.5)
    for b, a in enumerate(arrays):
        expected[: len(a), b] = a
    np.testing.assert_array_equal(back._data, expected.swapaxes(0, 1) if batch_first else expected)
    assert got_lengths.tolist() == lengths


def test_pack_sequence_unpack_sequence_and_unpad_sequence_round_trip():
    arrays = _sequences(np.random.default_rng(3), [2, 4, 1])
    sequences = [cr.tensor(a) for a in arrays]
    packed = pack_sequence(sequences, enforce_sorted=False)
    for got, want in zip(unpack_sequence(packed), arrays, strict=True):
        np.testing.assert_array_equal(got._data, want)
    for batch_first in (False, True):
        padded = pad_sequence(sequences, batch_first=batch_first)
        for got, want in zip(unpad_sequence(padded, [2, 4, 1], batch_first=batch_first), arrays, strict=True):
            np.testing.assert_array_equal(got._data, want)
    sorted_packed = pack_sequence([sequences[1], sequences[0], sequences[2]])
    np.testing.assert_array_equal(sorted_packed.data._data, _pack_reference([arrays[1], arrays[0], arrays[2]])[0])


def test_packed_sequence_is_a_named_tuple_with_its_conversions():
    packed = pack_sequence([cr.tensor([1.0, 2.0]), cr.tensor([3.0])])
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert data is packed.data and batch_sizes.tolist() == [2, 1] and sorted_indices is unsorted_indices is None
    assert packed.cpu() is packed and not packed.is_cuda and not packed.is_pinned()
    double = packed.double()
    assert double.data.dtype == np.float64 and double.batch_sizes is packed.batch_sizes
    assert packed.float().data.dtype == np.float32
    again = PackedSequence(packed.data, packed.batch_sizes, cr.tensor([1, 0]))
    assert again.unsorted_indices.tolist() == [1, 0]  # computed from sorted_indices
    assert invert_permutation(cr.tensor([2, 0, 1])).tolist() == [1, 2, 0] and invert_permutation(None) is None
    assert "PackedSequence(data=" in repr(packed)


# -- derivatives (through the gathers) -----------------------------------------------------------


def test_padding_and_packing_are_differentiable_twice():
    rng = np.random.default_rng(4)
    a, b = (cr.tensor(rng.standard_normal(s), requires_grad=True) for s in ((3, 2), (1, 2)))
    padded = cr.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)

    def pad(a, b):
        return pad_sequence([a, b], batch_first=True, padding_value=1.5, padding_side="left") ** 2

    def pack_and_pad(x):
        packed = pack_padded_sequence(x, [1, 3], enforce_sorted=False)
        return pad_packed_sequence(packed, batch_first=True, total_length=4)[0] ** 2 + packed.data.sum()

    def pack_sequence_data(a, b):
        return pack_sequence([b, a], enforce_sorted=False).data ** 3

    for fn, inputs in ((pad, (a, b)), (pack_and_pad, (padded,)), (pack_sequence_data, (a, b))):
        assert gradcheck(fn, inputs)
        assert gradgradcheck(fn, inputs)


def test_pack_padded_sequence_gradient_reaches_only_the_packed_steps():
    x = cr.ones(3, 2, 1, requires_grad=True)
    pack_padded_sequence(x, [3, 1]).data.sum().backward()
    assert x.grad._data[..., 0].tolist() == [[1, 1], [1, 0], [1, 0]]


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: pack_padded_sequence(cr.zeros(3, 2), [2, 3]), ValueError,
     r"pack_padded_sequence: lengths \[2, 3\] must be in decreasing order when enforce_sorted=True"),
    (lambda: pack_padded_sequence(cr.zeros(3, 2), [3, 0]), ValueError,
     r"pack_padded_sequence: every length must lie in 1\.\.3 .*got \[3, 0\]"),
    (lambda: pack_padded_sequence(cr.zeros(3, 2), [4, 3]), ValueError, r"every length must lie in 1\.\.3"),
    (lambda: pack_padded_sequence(cr.zeros(3, 2), [3, 3, 3]), ValueError, r"got 3 lengths for a batch of 2"),
    (lambda: pack_padded_sequence(cr.zeros(3), [3]), ValueError, r"input needs at least 2 dims, got shape \(3,\)"),
    (lambda: pack_padded_sequence(np.zeros((3, 2)), [3, 3]), TypeError, r"input must be a Tensor, got ndarray"),
    (lambda: pack_padded_sequence(cr.zeros(3, 2), ["a", "b"]), TypeError, r"lengths must be a 1-d list"),
    (lambda: pad_packed_sequence(pack_sequence([cr.zeros(3)]), total_length=2), ValueError,
     r"pad_packed_sequence: total_length=2 is shorter than the longest sequence \(3 steps\)"),
    (lambda: pad_packed_sequence(cr.zeros(3)), TypeError, r"pad_packed_sequence: expected a PackedSequence"),
    (lambda: pad_sequence([cr.zeros(2, 2), cr.zeros(2, 3)]), ValueError,
     r"pad_sequence: the sequences' shapes differ beyond dim 0: \[\(2, 2\), \(2, 3\)\]"),
    (lambda: pad_sequence([]), ValueError, r"pad_sequence: got no sequences"),
    (lambda: pad_sequence([cr.zeros(2)], padding_side="middle"), ValueError,
     r"padding_side must be 'left' or 'right', got 'middle'"),
    (lambda: pad_sequence([cr.tensor(1.0)]), ValueError, r"sequences\[0\] needs at least 1 dims"),
    (lambda: unpad_sequence(cr.zeros(3, 2), [3]), ValueError, r"unpad_sequence: got 1 lengths for 2 sequences"),
])  # fmt: skip
def test_rnn_utilities_name_a_bad_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- recurrent layers on packed input ------------------------------------------------------------


def _per_sequence(layer, arrays, hx, mode):
    """Each sequence alone through the layer (unpacked, batch of one): its outputs and final
    states, as tensors in the graph."""
    outputs, finals = [], []
    for b, a in enumerate(arrays):
        x = a[:, None] if not layer.batch_first else a[None]
        if hx is None:
            state = None
        elif mode == "LSTM":
            state = tuple(h[:, b : b + 1] for h in hx)
        else:
            state = hx[:, b : b + 1]
        out, final = layer(x, state)
        outputs.append(out[:, 0] if not layer.batch_first else out[0])
        finals.append(final if mode == "LSTM" else (final,))
    return outputs, [cr.cat([f[i] for f in finals], 1) for i in range(len(finals[0]))]


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize(("bidirectional", "enforce_sorted", "batch_first", "with_hx"), [
    (False, True, False, False), (True, False, True, True), (True, True, False, True), (False, False, True, True),
])  # fmt: skip
def test_recurrent_layers_on_packed_input_equal_each_sequence_run_alone(
    mode, bidirectional, enforce_sorted, batch_first, with_hx
):
    rng = np.random.default_rng(5)
    cr.manual_seed(0)
    layer = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}[mode](
        3, 4, num_layers=2, bidirectional=bidirectional, batch_first=batch_first, dtype=cr.float64
    )
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    arrays = [cr.tensor(a, requires_grad=True) for a in _sequences(rng, lengths, (3,))]
    states = 2 * (2 if bidirectional else 1)
    hx = None
    if with_hx:
        hx = [
            cr.tensor(rng.standard_normal((states, 4, 4)), requires_grad=True)
            for _ in range(2 if mode == "LSTM" else 1)
        ]
    state = None if hx is None else (tuple(hx) if mode == "LSTM" else hx[0])

    packed = pack_sequence(arrays, enforce_sorted=enforce_sorted)
    output, final = layer(packed, state)
    assert isinstance(output, PackedSequence)
    assert output.batch_sizes is packed.batch_sizes and output.sorted_indices is packed.sorted_indices
    finals = final if mode == "LSTM" else (final,)
    outputs = unpack_sequence(output)
    ref_outputs, ref_finals = _per_sequence(layer, arrays, state, mode)
    for got, want in zip(outputs, ref_outputs, strict=True):
        np.testing.assert_allclose(got._data, want._data, rtol=1e-12, atol=1e-12)
    for got, want in zip(finals, ref_finals, strict=True):
        assert got.shape == (states, 4, 4)
        np.testing.assert_allclose(got._data, want._data, rtol=1e-12, atol=1e-12)

    # the same weighted sum of both sides, differentiated: every gradient must agree
    weights = [rng.standard_normal(o.shape) for o in ref_outputs] + [rng.standard_normal(f.shape) for f in ref_finals]
    leaves = [*arrays, *(hx or []), *layer.parameters()]

    def gradients(outs, fins):
        total = sum((t * cr.tensor(w)).sum() for t, w in zip([*outs, *fins], weights, strict=True))
        return cr.autograd.grad(total, leaves)

    for got, want in zip(gradients(outputs, finals), gradients(ref_outputs, ref_finals), strict=True):
        np.testing.assert_allclose(got._data, want._data, rtol=1e-10, atol=1e-12)


def test_packed_lstm_has_second_derivatives():
    rng = np.random.default_rng(6)
    cr.manual_seed(1)
    lstm = LSTM(2, 2, bidirectional=True, dtype=cr.float64)
    a, b = (cr.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 2), (3, 2)))

    def fn(a, b, w_hh_reverse):
        output, (h, c) = lstm(pack_sequence([a, b], enforce_sorted=False))
        return output.data.tanh().sum() + (h * c).sum()

    assert gradgradcheck(fn, (a, b, lstm.weight_hh_l0_reverse))


def test_packed_input_errors_name_the_layer():
    gru = GRU(3, 4)
    with pytest.raises(ValueError, match=r"GRU\(3 -> 4\): packed input data of shape \(3, 2\), expected \(steps, 3\)"):
        gru(pack_sequence([cr.zeros(2, 2), cr.zeros(1, 2)]))
    with pytest.raises(ValueError, match=r"GRU\(3 -> 4\): h0 has shape \(1, 3, 4\), expected \(1, 2, 4\)"):
        gru(pack_sequence([cr.zeros(2, 3), cr.zeros(1, 3)]), cr.zeros(1, 3, 4))
    with pytest.raises(TypeError, match=r"GRU\(3 -> 4\): input.data has dtype float64"):
        gru(pack_sequence([cr.zeros(2, 3, dtype=cr.float64)]))
