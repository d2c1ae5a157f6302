"""Recurrent layers: RNN, LSTM and GRU apply one cell at every step of a sequence, carrying a
hidden state from step to step; the cells (RNNCell, LSTMCell, GRUCell) take a single step.

The layers run each (layer, direction) as one op, ``ops.recurrent.rnn_sequence``, whose VJP is
backpropagation through time; the cells apply the same equations (``ops.recurrent.CELLS``, the one
copy of them) to tensors, composed from ops (the engine unrolls them).
Equations, parameter names, shapes and initialisation are PyTorch's.
"""

import math
import warnings

from chainrule import _backend
from chainrule._arguments import int_arg, number_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.nn import init
from chainrule.nn.functional import dropout
from chainrule.nn.module import Module, Parameter
from chainrule.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from chainrule.ops.indexing import getitem
from chainrule.ops.linalg import linear
from chainrule.ops.operands import wrap
from chainrule.ops.recurrent import CELLS, GATES, rnn_sequence
from chainrule.ops.shape import concatenate, squeeze, stack, transpose, unsqueeze


def _rnn_mode(nonlinearity, where):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{where}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


def _check_sizes(where, input_size, hidden_size):
    int_arg(input_size, "input_size", where)
    int_arg(hidden_size, "hidden_size", where)


def _check_dtype(where, tensor, name, dtype):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{where}: {name} must be a Tensor, got {type(tensor).__name__}")
    if tensor._data.dtype != dtype:
        raise TypeError(
            f"{where}: {name} has dtype {tensor._data.dtype}, but the parameters are {dtype} "
            "(convert the input, or the module with .double() / .float())"
        )


class _RNNBase(Module):
    """The layer shared by RNN, LSTM and GRU: ``num_layers`` stacked layers, each run forwards
    (and backwards too when ``bidirectional``) over the sequence."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None, proj_size=0):
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        int_arg(num_layers, "num_layers", name)
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(
                f"{name}: proj_size should be a positive integer or zero to disable projections, got {proj_size!r}"
            )
        if proj_size and proj_size >= hidden_size:
            raise ValueError(
                f"{name}: proj_size has to be smaller than hidden_size, got proj_size={proj_size} and "
                f"hidden_size={hidden_size}"
            )
        number_arg(dropout, "dropout", name, 0, 1)
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} acts between stacked layers, so with num_layers=1 it "
                "has no effect", UserWarning, stacklevel=3,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gates = GATES[mode]
        dtype = dtype or _backend.get_default_dtype()
        directions = 2 if bidirectional else 1
        state_size = self._state_size
        # Names per (layer, direction), in PyTorch's order: weight_ih, weight_hh, bias_ih, bias_hh,
        # then weight_hr with a projection.
        self._all_weight_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else state_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = {
                    "weight_ih": (gates * hidden_size, layer_input),
                    "weight_hh": (gates * hidden_size, state_size),
                }
                if bias:
                    shapes["bias_ih"] = shapes["bias_hh"] = (gates * hidden_size,)
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for base, shape in shapes.items():
                    setattr(self, base + suffix, Parameter(xp.empty(shape, dtype=dtype)))
                self._all_weight_names.append([base + suffix for base in shapes])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: every weight and bias U(-k, k) with k = 1/sqrt(hidden_size)."""
        bound = 1 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    @property
    def all_weights(self) -> list:
        """The parameters per (layer, direction): [weight_ih, weight_hh, bias_ih, bias_hh] (and
        weight_hr with a projection)."""
        return [[getattr(self, name) for name in names] for names in self._all_weight_names]

    @property
    def _state_size(self) -> int:
        """h's features: proj_size under a projection, else hidden_size."""
        return self.proj_size or self.hidden_size

    def _sequence(self, k, x, state, reverse=False):
        """(layer, direction) number k run over the sequence x (L, N, F) from ``state``."""
        weights = {name.split("_l")[0]: getattr(self, name) for name in self._all_weight_names[k]}
        c0 = state[1] if self.mode == "LSTM" else None
        # One op runs the layer over the whole sequence (backprop through time in its VJP).
        return rnn_sequence(self.mode, x, state[0], c0, weights["weight_ih"], weights["weight_hh"],
                            weights.get("bias_ih"), weights.get("bias_hh"), reverse=reverse,
                            weight_hr=weights.get("weight_hr"))

    def flatten_parameters(self) -> None:
        """A no-op, kept so that PyTorch code calling it runs (there is no cuDNN buffer here)."""

    def _where(self):
        return f"{type(self).__name__}({self.input_size} -> {self.hidden_size})"

    def _check_input(self, x):
        """The input as (L, N, H_in) and whether it came batched."""
        where = self._where()
        _check_dtype(where, x, "input", self.weight_ih_l0._data.dtype)
        shape = x._data.shape
        if len(shape) not in (2, 3):
            raise ValueError(
                f"{where}: input of shape {shape}: expected 3 dims "
                f"({'(N, L, H_in)' if self.batch_first else '(L, N, H_in)'}) or 2 dims (L, H_in)"
            )
        if shape[-1] != self.input_size:
            raise ValueError(
                f"{where}: input has {shape[-1]} features (shape {shape}), expected {self.input_size}"
            )
        batched = len(shape) == 3
        if not batched:
            x = unsqueeze(x, 1)
        elif self.batch_first:
            x = transpose(x, 0, 1)
        if x._data.shape[0] == 0:
            raise ValueError(f"{where}: input of shape {shape} has an empty sequence")
        return x, batched

    def _initial_states(self, hx, batch, batched, dtype):
        """One state tuple per (layer, direction), from hx or zeros."""
        layers = self.num_layers * (2 if self.bidirectional else 1)
        names = ("h0", "c0") if self.mode == "LSTM" else ("h0",)
        sizes = (self._state_size, self.hidden_size)  # h's features, c's
        if hx is None:
            return [tuple(wrap(xp.zeros((batch, sizes[i]), dtype=dtype)) for i in range(len(names)))] * layers
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._where()}: hx must be a tuple (h0, c0), got {type(hx).__name__}")
            tensors = tuple(hx)
        else:
            tensors = (hx,)
        for name, t, size in zip(names, tensors, sizes):
            expected = (layers, batch, size) if batched else (layers, size)
            _check_dtype(self._where(), t, name, dtype)
            if t._data.shape != expected:
                raise ValueError(
                    f"{self._where()}: {name} has shape {t._data.shape}, expected {expected} "
                    f"(num_layers * num_directions, {'N, ' if batched else ''}"
                    f"{'proj_size' if name == 'h0' and self.proj_size else 'hidden_size'})"
                )
        if not batched:
            tensors = tuple(unsqueeze(t, 1) for t in tensors)
        return [tuple(getitem(t, k) for t in tensors) for k in range(layers)]

    def _run(self, x, hx):
        if isinstance(x, PackedSequence):
            return self._run_packed(x, hx)
        x, batched = self._check_input(x)
        length, batch = x._data.shape[:2]
        states = self._initial_states(hx, batch, batched, x._data.dtype)
        directions = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                sequence = self._sequence(k, x, states[k], reverse=bool(direction))
                last = 0 if direction else length - 1  # the step processed last
                if self.mode == "LSTM":
                    size = self._state_size
                    hs = getitem(sequence, (Ellipsis, slice(0, size)))
                    finals.append((getitem(hs, last), getitem(sequence, (last, slice(None), slice(size, None)))))
                else:
                    hs = sequence
                    finals.append((getitem(hs, last),))
                outputs.append(hs)
            x = outputs[0] if directions == 1 else concatenate(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout, True)
        final = tuple(stack([s[i] for s in finals], 0) for i in range(len(finals[0])))
        if not batched:
            x = squeeze(x, 1)
            final = tuple(squeeze(f, 1) for f in final)
        elif self.batch_first:
            x = transpose(x, 0, 1)
        return x, final

    def _run_packed(self, packed, hx):
        """The layers over a PackedSequence: a PackedSequence of outputs and each sequence's
        final state at its own length, in the batch's original order (PyTorch's semantics).

        The packed batch is unpacked to (T, B, F) in its sorted order and every direction runs
        as one ``rnn_sequence`` over all T steps: a sequence's steps come before its padding,
        so its outputs and its state after its last step (gathered there) do not depend on the
        padding, whose outputs no one reads. The reverse direction must begin at each
        sequence's own last step, so it runs over the sequences reversed within their lengths
        (a gather that leaves the padding where it is) and its outputs are put back in order.
        """
        where = self._where()
        data = packed.data
        _check_dtype(where, data, "input.data", self.weight_ih_l0._data.dtype)
        if data._data.ndim != 2 or data._data.shape[1] != self.input_size:
            raise ValueError(
                f"{where}: packed input data of shape {data._data.shape}, expected (steps, {self.input_size})"
            )
        x, lengths = pad_packed_sequence(PackedSequence(data, packed.batch_sizes))  # (T, B, F), sorted order
        lengths = lengths._data
        length, batch = x._data.shape[:2]
        column = xp.arange(batch)
        states = self._initial_states(hx, batch, True, data._data.dtype)
        if hx is not None and packed.sorted_indices is not None:  # hx comes in the batch's order
            order = packed.sorted_indices._data
            states = [tuple(getitem(s, order) for s in state) for state in states]
        t = xp.arange(length)[:, None]
        reversal = (xp.where(t < lengths, lengths - 1 - t, t), column)  # x[reversal]: each sequence backwards
        last = (lengths - 1, column)  # each sequence's last step
        directions = 2 if self.bidirectional else 1
        size = self._state_size
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                inputs = getitem(x, reversal) if direction else x
                sequence = self._sequence(k, inputs, states[k])
                final = getitem(sequence, last)
                if self.mode == "LSTM":
                    hs = getitem(sequence, (Ellipsis, slice(0, size)))
                    finals.append((getitem(final, (slice(None), slice(0, size))),
                                   getitem(final, (slice(None), slice(size, None)))))
                else:
                    hs = sequence
                    finals.append((final,))
                outputs.append(getitem(hs, reversal) if direction else hs)
            x = outputs[0] if directions == 1 else concatenate(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout, True)
        final = tuple(stack([s[i] for s in finals], 0) for i in range(len(finals[0])))
        if packed.unsorted_indices is not None:
            final = tuple(getitem(f, (slice(None), packed.unsorted_indices._data)) for f in final)
        output = pack_padded_sequence(x, lengths)
        output = PackedSequence(output.data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        return output, final

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s


class RNN(_RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    Input (L, N, input_size) (or (N, L, input_size) with ``batch_first``, or unbatched
    (L, input_size)); optional h0 (num_layers * num_directions, N, hidden_size). Returns
    ``(output, h_n)``: output (L, N, num_directions * hidden_size) holds the last layer's h_t
    for every t; h_n holds every layer's final state. The input may also be a PackedSequence
    (``nn.utils.rnn``, sequences of different lengths): the output is then one too, and h_n holds
    each sequence's state after its own last step.

    >>> import chainrule as cr
    >>> rnn = RNN(3, 5, num_layers=2)
    >>> output, h_n = rnn(cr.randn(7, 4, 3))
    >>> output.shape, h_n.shape
    ((7, 4, 5), (2, 4, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        _backend.as_device(device, "RNN")
        super().__init__(_rnn_mode(nonlinearity, "RNN"), input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx=None) -> tuple:
        output, (h_n,) = self._run(input, hx)
        return output, h_n


class LSTM(_RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997): a cell state c carried with
    additive updates, read and written through sigmoid gates, so gradients survive long spans::

        i, f, o = sigmoid(x W_i* + b_i* + h W_h* + b_h*)   g = tanh(x W_ig + b_ig + h W_hg + b_hg)
        c' = f * c + i * g                                h' = o * tanh(c')

    Weights stack the gates in PyTorch's order i, f, g, o: weight_ih_l{k} (4 * hidden, in).
    Optional state ``(h0, c0)``, each (num_layers * num_directions, N, hidden_size). Returns
    ``(output, (h_n, c_n))``.

    ``proj_size`` > 0 (smaller than hidden_size) projects the hidden state, h' = (o * tanh(c'))
    W_hr^T with weight_hr_l{k} (proj_size, hidden_size) (Sak et al., 2014): h, h0, h_n and the
    output have proj_size features per direction, weight_hh_l{k} is (4 * hidden, proj_size), c
    keeps hidden_size.

    >>> import chainrule as cr
    >>> lstm = LSTM(3, 5, batch_first=True, bidirectional=True)
    >>> output, (h_n, c_n) = lstm(cr.randn(4, 7, 3))
    >>> output.shape, h_n.shape, c_n.shape
    ((4, 7, 10), (2, 4, 5), (2, 4, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None):
        _backend.as_device(device, "LSTM")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, proj_size)

    def forward(self, input: Tensor, hx=None) -> tuple:
        output, (h_n, c_n) = self._run(input, hx)
        return output, (h_n, c_n)


class GRU(_RNNBase):
    """Gated recurrent unit (Cho et al., 2014)::

        r, z = sigmoid(x W_i* + b_i* + h W_h* + b_h*)
        n = tanh(x W_in + b_in + r * (h W_hn + b_hn))     h' = (1 - z) * n + z * h

    Weights stack the gates in PyTorch's order r, z, n: weight_ih_l{k} (3 * hidden, in).
    Arguments, shapes and return values as RNN's.

    >>> import chainrule as cr
    >>> output, h_n = GRU(3, 5)(cr.randn(7, 3))
    >>> output.shape, h_n.shape
    ((7, 5), (1, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None):
        _backend.as_device(device, "GRU")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype)

    def forward(self, input: Tensor, hx=None) -> tuple:
        output, (h_n,) = self._run(input, hx)
        return output, h_n


class _CellBase(Module):
    """One step of a recurrent layer: weight_ih (gates * hidden, in), weight_hh
    (gates * hidden, hidden), bias_ih and bias_hh (gates * hidden,), all U(+-1/sqrt(hidden))."""

    def __init__(self, mode, input_size, hidden_size, bias, dtype):
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = GATES[mode]
        dtype = dtype or _backend.get_default_dtype()
        self.weight_ih = Parameter(xp.empty((gates * hidden_size, input_size), dtype=dtype))
        self.weight_hh = Parameter(xp.empty((gates * hidden_size, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(xp.empty(gates * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(xp.empty(gates * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: every weight and bias U(-k, k) with k = 1/sqrt(hidden_size)."""
        bound = 1 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    def _where(self):
        return f"{type(self).__name__}({self.input_size} -> {self.hidden_size})"

    def _cell(self, x, hx):
        """The new state tuple for input (N, in) or (in,) and state tensors, or None for zeros."""
        where = self._where()
        dtype = self.weight_ih._data.dtype
        _check_dtype(where, x, "input", dtype)
        shape = x._data.shape
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise ValueError(
                f"{where}: input of shape {shape}, expected (N, {self.input_size}) or ({self.input_size},)"
            )
        names = ("h", "c") if self.mode == "LSTM" else ("h",)
        expected = (*shape[:-1], self.hidden_size)
        if hx is None:
            hx = (wrap(xp.zeros(expected, dtype=dtype)),) * len(names)
        for name, t in zip(names, hx):
            _check_dtype(where, t, name, dtype)
            if t._data.shape != expected:
                raise ValueError(f"{where}: {name} has shape {t._data.shape}, expected {expected}")
        cell = CELLS[self.mode][0]
        hx = tuple(hx)
        gx = linear(x, self.weight_ih, self.bias_ih)
        return cell(gx, linear(hx[0], self.weight_hh, self.bias_hh), hx)[0]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s


class RNNCell(_CellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu. Input (N, input_size) or
    (input_size,); hx of the matching (N, hidden_size) or (hidden_size,), zeros when omitted.

    >>> import chainrule as cr
    >>> RNNCell(3, 5)(cr.randn(4, 3)).shape
    (4, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None):
        _backend.as_device(device, "RNNCell")
        super().__init__(_rnn_mode(nonlinearity, "RNNCell"), input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx=None) -> Tensor:
        return self._cell(input, None if hx is None else (hx,))[0]


class LSTMCell(_CellBase):
    """One LSTM step (equations in LSTM); hx is ``(h, c)``. Returns ``(h', c')``.

    >>> import chainrule as cr
    >>> h, c = LSTMCell(3, 5)(cr.randn(4, 3))
    >>> h.shape, c.shape
    ((4, 5), (4, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        _backend.as_device(device, "LSTMCell")
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)

    def forward(self, input: Tensor, hx=None) -> tuple:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{self._where()}: hx must be a tuple (h, c), got {type(hx).__name__}")
        h, c = self._cell(input, hx)
        return h, c


class GRUCell(_CellBase):
    """One GRU step (equations in GRU). Returns h'.

    >>> import chainrule as cr
    >>> GRUCell(3, 5)(cr.randn(3)).shape
    (5,)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        _backend.as_device(device, "GRUCell")
        super().__init__("GRU", input_size, hidden_size, bias, dtype)

    def forward(self, input: Tensor, hx=None) -> Tensor:
        return self._cell(input, None if hx is None else (hx,))[0]
