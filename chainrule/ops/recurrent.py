"""Recurrent cells and whole-sequence recurrent layers.

The cells (``rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``, ``gru_cell``) are the one copy of
each recurrence's equations. They take arrays (the fused sequence's forward) or tensors (the nn
cells, recorded op by op, and the fused sequence under create_graph), each with the VJP of one
step beside it.

``rnn_sequence`` runs a layer over a whole sequence as a single op: the forward loop over time
runs the cell on arrays and the VJP runs backpropagation through time itself (the reverse loop of
the step VJPs), so a sequence of length L records one node instead of a dozen per step. The
input projection x W_ih^T of all steps, and in the backward the input and weight gradients, are
each one matrix product over the sequence. Under create_graph ``remake`` runs the same loop on
the tensors and the VJP runs on what it recorded, so the gradient differentiates again.

An LSTM with a projection (PyTorch's ``proj_size``) carries ``h = (o * tanh(c)) W_hr^T`` instead
of the cell's own ``o * tanh(c)``: the sequence applies W_hr after each cell step and its VJP
maps the state's gradient back through it before the cell's VJP, so the cell stays as it is.
"""

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph, record
from chainrule.ops import either
from chainrule.ops.either import add_fresh, mul_fresh
from chainrule.ops.linalg import linear, linear_forward
from chainrule.ops.operands import wrap
from chainrule.ops.shape import concatenate, stack
from chainrule.ops.unary import relu, relu_grad, sigmoid, tanh

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# -- the cells ----------------------------------------------------------------------------------
# A cell maps the input projection gx = x W_ih^T + b_ih, the recurrent one gh = h W_hh^T + b_hh
# and the state, (h,) or (h, c), to the new state and the other activations its VJP needs.
# A cell's VJP maps the gradient of the new state, the new state, those activations and the
# previous state to the gradient of gx (in blocks, one per gate), that of gh (None: the same as
# gx's) and the gradient reaching the previous state directly, not through W_hh (None per entry
# where none).
#
# On arrays the helpers below (and either's mul_fresh and add_fresh) work in place, on a first
# argument the caller has just made: a step is ~13 small array operations, which at the
# benchmark's sizes cost more than the recurrent product, and with a fresh array for each the
# GRU's BPTT took ~10% longer. On tensors they are the ordinary recorded ops.

def _sigmoid(fresh):
    if isinstance(fresh, Tensor):
        return sigmoid(fresh)
    # 1 / (1 + e^-a): e^-a overflowing to inf still gives the right limit 0 (the callers run
    # under errstate(over="ignore"))
    xp.negative(fresh, out=fresh)
    xp.exp(fresh, out=fresh)
    fresh += 1
    return xp.reciprocal(fresh, out=fresh)


def _tanh(fresh):
    return tanh(fresh) if isinstance(fresh, Tensor) else xp.tanh(fresh, out=fresh)


def _relu(fresh):
    return relu(fresh) if isinstance(fresh, Tensor) else xp.maximum(fresh, 0, out=fresh)


def _contiguous(a):
    """An array in C order (a product may come transposed, and later steps on a block of it in
    F order cost more than the copy; the backward reads it too); a tensor as it is."""
    return a if isinstance(a, Tensor) else xp.ascontiguousarray(a)


def _one_minus(fresh):
    return 1 - fresh if isinstance(fresh, Tensor) else xp.subtract(1, fresh, out=fresh)


def rnn_tanh_cell(gx, gh, state):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return (_tanh(gx + gh),), ()


def _rnn_tanh_cell_vjp(d_state, state, activations, previous):
    (dh,) = d_state
    (h,) = state
    return (mul_fresh(_one_minus(h * h), dh),), None, (None,)


def rnn_relu_cell(gx, gh, state):
    """h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return (_relu(gx + gh),), ()


def _rnn_relu_cell_vjp(d_state, state, activations, previous):
    (dh,) = d_state
    (h,) = state
    return (relu_grad(dh, either.values(h)),), None, (None,)


def lstm_cell(gx, gh, state):
    """Gates in PyTorch's order i, f, g, o: c' = f * c + i * g, h' = o * tanh(c'), where
    i, f, o = sigmoid(...) and g = tanh(...) of the gates' pre-activations."""
    c = state[1]
    size = c.shape[-1]  # the hidden size (h has proj_size features under a projection)
    gates = gx + gh
    g = either.tanh(gates[..., 2 * size:3 * size])  # before the sigmoid, which overwrites gates on arrays
    # One sigmoid over all four blocks (the g block's is unused) costs less than slicing first.
    sig = _sigmoid(gates)
    i, f, o = sig[..., :size], sig[..., size:2 * size], sig[..., 3 * size:]
    c = add_fresh(f * c, i * g)
    tanh_c = either.tanh(c)
    return (o * tanh_c, c), (i, f, g, o, tanh_c)


def _lstm_cell_vjp(d_state, state, activations, previous):
    dh, dc = d_state
    i, f, g, o, tanh_c = activations
    c_previous = previous[1]
    dc = add_fresh(mul_fresh(mul_fresh(_one_minus(tanh_c * tanh_c), o), dh), dc)  # dc + dh o (1 - tanh(c)^2)
    blocks = (
        mul_fresh(mul_fresh(mul_fresh(1 - i, i), g), dc),  # dc g i (1 - i)
        mul_fresh(mul_fresh(mul_fresh(1 - f, f), c_previous), dc),  # dc c_prev f (1 - f)
        mul_fresh(mul_fresh(_one_minus(g * g), i), dc),  # dc i (1 - g^2)
        mul_fresh(mul_fresh(mul_fresh(1 - o, o), tanh_c), dh),  # dh tanh(c) o (1 - o)
    )
    return blocks, None, (None, dc * f)


def gru_cell(gx, gh, state):
    """Gates in PyTorch's order r, z, n: r, z = sigmoid(...),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h = n + z * (h - n)."""
    (h,) = state
    size = h.shape[-1]
    rz = _sigmoid(gx[..., :2 * size] + gh[..., :2 * size])
    r, z = rz[..., :size], rz[..., size:]
    hn = _contiguous(gh[..., 2 * size:])
    n = _tanh(add_fresh(r * hn, gx[..., 2 * size:]))
    return (add_fresh(mul_fresh(h - n, z), n),), (rz, n, hn)


def _gru_cell_vjp(d_state, state, activations, previous):
    (dh,) = d_state
    rz, n, hn = activations
    (h_previous,) = previous
    size = n.shape[-1]
    r, z = rz[..., :size], rz[..., size:]
    one_minus_z = 1 - z
    dn = mul_fresh(mul_fresh(_one_minus(n * n), one_minus_z), dh)  # dh (1 - z) (1 - n^2)
    dz = mul_fresh(mul_fresh(mul_fresh(h_previous - n, dh), z), one_minus_z)  # dh (h_prev - n) z (1 - z)
    dr = mul_fresh(mul_fresh(mul_fresh(1 - r, r), hn), dn)  # dn hn r (1 - r)
    return (dr, dz, dn), (dr, dz, dn * r), (dh * z,)


# mode -> (cell, its VJP)
CELLS = {
    "RNN_TANH": (rnn_tanh_cell, _rnn_tanh_cell_vjp),
    "RNN_RELU": (rnn_relu_cell, _rnn_relu_cell_vjp),
    "LSTM": (lstm_cell, _lstm_cell_vjp),
    "GRU": (gru_cell, _gru_cell_vjp),
}


# -- the whole sequence -------------------------------------------------------------------------

def _stack(items):
    return stack(items) if isinstance(items[0], Tensor) else xp.stack(items)


def _concatenate(items):
    """Join along the last dim."""
    return concatenate(items, -1) if isinstance(items[0], Tensor) else xp.concatenate(items, axis=-1)


def _run(mode, x, initial, w_ih, w_hh, b_ih, b_hh, out=None, w_hr=None):
    """The cell over the sequence x (L, N, F), from the state ``initial``: the state after every
    step, every step's activations and (with the projection ``w_hr``) every step's unprojected
    h (three lists over time). ``out``: an array (L, N, h features + c features) that receives
    the states side by side at every step, while they are still in the cache (stacking them at
    the end reads them back from memory); the states kept are then views of it, not a second
    copy."""
    cell = CELLS[mode][0]
    affine = linear if isinstance(w_hh, Tensor) else linear_forward
    projected = affine(x, w_ih, b_ih)
    size = w_hh.shape[1]  # h's features: hidden_size, or proj_size under a projection
    state = initial
    after, activations, unprojected = [], [], []
    with xp.errstate(over="ignore"):
        for t in range(len(projected)):
            state, step = cell(projected[t], affine(state[0], w_hh, b_hh), state)
            if w_hr is not None:
                unprojected.append(state[0])
                state = (affine(state[0], w_hr, None), *state[1:])
            activations.append(step)
            if out is None:
                after.append(state)
            else:
                row = _rows(state, out, t)
                after.append((row,) if len(state) == 1 else (row[:, :size], row[:, size:]))
    return after, activations, unprojected


def rnn_sequence(mode: str, input: Tensor, h0: Tensor, c0, weight_ih: Tensor, weight_hh: Tensor,
                 bias_ih=None, bias_hh=None, reverse: bool = False, weight_hr=None) -> Tensor:
    """One recurrent layer over a whole sequence, in one direction.

    mode: "RNN_TANH", "RNN_RELU", "GRU" or "LSTM" (PyTorch's equations and gate order);
    input (L, N, F); h0, c0 (N, H) (c0 only for LSTM, else None); weights as PyTorch's layers.
    ``reverse`` runs from the last step to the first. Returns (L, N, H) the hidden state at every
    step, and for LSTM (L, N, 2H): the hidden state then the cell state. ``weight_hr`` (P, H),
    LSTM only: the projection h = (o * tanh(c)) W_hr^T; h0 and weight_hh then have P features
    and the result is (L, N, P + H).
    """
    if mode not in GATES:
        raise ValueError(f"rnn_sequence: mode must be one of {sorted(GATES)}, got {mode!r}")
    initial = (h0, c0) if mode == "LSTM" else (h0,)
    biases = (bias_ih, bias_hh)
    x = input._data
    if x.ndim != 3 or not x.shape[0]:
        raise ValueError(f"rnn_sequence: expected an input (L, N, F) of at least one step, got shape {x.shape}")
    if reverse:
        x = x[::-1]
    if weight_hr is not None and mode != "LSTM":
        raise ValueError(f"rnn_sequence: weight_hr (a projection) is for mode 'LSTM' only, got mode {mode!r}")
    size = weight_hh._data.shape[1]
    width = size + (weight_hh._data.shape[0] // 4 if mode == "LSTM" else 0)  # LSTM: h then c, side by side
    out = xp.empty((*x.shape[:2], width), dtype=x.dtype)
    projection = None if weight_hr is None else weight_hr._data
    after, activations, unprojected = _run(
        mode, x, tuple(s._data for s in initial), weight_ih._data, weight_hh._data,
        *(None if b is None else b._data for b in biases), out, projection,
    )
    if reverse:
        out = out[::-1]
    parents = (input, *initial, weight_ih, weight_hh, *(b for b in biases if b is not None))
    if weight_hr is not None:
        parents += (weight_hr,)
    if not needs_graph(*parents):
        return wrap(out)
    needs = tuple(p.requires_grad for p in parents)
    has_bias = tuple(b is not None for b in biases)

    entries = len(initial)

    def remake(input, *rest):
        initial, (weight_ih, weight_hh, *given) = rest[:entries], rest[entries:]
        biases = [given.pop(0) if has else None for has in has_bias]
        weight_hr = given.pop(0) if given else None
        x = input[::-1] if reverse else input
        return (mode, reverse, needs, has_bias, input, weight_ih, weight_hh, weight_hr,
                *_run(mode, x, initial, weight_ih, weight_hh, *biases, None, weight_hr), *initial)

    saved = (mode, reverse, needs, has_bias, input, weight_ih, weight_hh, projection, after, activations,
             unprojected, *initial)
    name = f"{mode.title().replace('_', '')}Sequence"
    return record(name, out, parents, _rnn_sequence_vjp, saved, remake)


def _rows(blocks, rows, t):
    """Step t's gradient, its gate blocks side by side: written into row t of the array ``rows``,
    or joined and stored at t of the list ``rows``."""
    if isinstance(rows, list):
        rows[t] = blocks[0] if len(blocks) == 1 else _concatenate(blocks)
    elif len(blocks) == 1:
        rows[t] = blocks[0]
    else:
        xp.concatenate(blocks, axis=-1, out=rows[t])
    return rows[t]


def _rnn_sequence_vjp(g, mode, reverse, needs, has_bias, x, w_ih, w_hh, w_hr, after, activations, unprojected,
                      *initial):
    """Backpropagation through time: the step VJPs from the last step to the first, then the
    parameters' gradients as products over the whole sequence."""
    cell_vjp = CELLS[mode][1]
    size = w_hh.shape[1]
    length = len(activations)
    if reverse:
        g = g[::-1]
        x = x[::-1]
    outside = [g[..., :size], g[..., size:]] if len(initial) == 2 else [g]  # dL/d(h_t), dL/d(c_t)
    # The gradients of the gates' pre-activations, from gx and (where they differ: GRU) from gh:
    # on arrays written into rows of one array while they are still in the cache (stacking
    # them at the end reads them back from memory), on tensors stacked at the end.
    per_step = isinstance(g, Tensor)
    d_gx = [None] * length if per_step else xp.empty((length, *g.shape[1:-1], w_hh.shape[0]), dtype=g.dtype)
    d_gh = None
    # the gradients of the projected h at every step (for W_hr's), and each taken back through W_hr
    d_projected = None if w_hr is None else [None] * length
    carried = None  # the gradient reaching the state from the step after
    for t in range(length - 1, -1, -1):
        here = tuple([o[t] for o in outside])
        d_state = here if carried is None else tuple(map(add_fresh, carried, here))
        if w_hr is not None:
            d_projected[t] = d_state[0]
            d_state = (d_state[0] @ w_hr, *d_state[1:])
        blocks_x, blocks_h, direct = cell_vjp(d_state, after[t], activations[t], after[t - 1] if t else initial)
        row = _rows(blocks_x, d_gx, t)
        if blocks_h is not None:
            if d_gh is None:
                d_gh = [None] * length if per_step else xp.empty_like(d_gx)
            row = _rows(blocks_h, d_gh, t)
        through = row @ w_hh
        carried = (through if direct[0] is None else add_fresh(through, direct[0]), *direct[1:])
    if per_step:
        d_gx = _stack(d_gx)
        d_gh = None if d_gh is None else _stack(d_gh)
    flat_x = d_gx.reshape(-1, d_gx.shape[-1])
    flat_h = flat_x if d_gh is None else d_gh.reshape(-1, d_gh.shape[-1])
    need = iter(needs)  # one per parent: input, initial state, w_ih, w_hh, the biases given
    dx = d_gx @ w_ih if next(need) else None
    grads = [dx[::-1] if reverse and dx is not None else dx]
    grads += [d if next(need) else None for d in carried]
    grads.append(flat_x.T @ x.reshape(-1, x.shape[-1]) if next(need) else None)
    if next(need):
        h_previous = _stack([initial[0], *(s[0] for s in after[:-1])])
        grads.append(flat_h.T @ h_previous.reshape(-1, size))
    else:
        grads.append(None)
    for flat, has in zip((flat_x, flat_h), has_bias):
        if has:
            grads.append(flat.sum(axis=0) if next(need) else None)
    if w_hr is not None:
        if next(need):
            d_projected, unprojected = _stack(d_projected), _stack(unprojected)
            grads.append(d_projected.reshape(-1, size).T @ unprojected.reshape(-1, unprojected.shape[-1]))
        else:
            grads.append(None)
    return tuple(grads)
