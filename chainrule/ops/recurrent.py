"""Whole-sequence recurrent layers as single ops: the forward loop over time runs in NumPy and
the VJP runs backpropagation through time itself (the reverse loop), so a sequence of length L
records one node instead of a dozen per step. The input projection x W_ih^T of all steps, and in
the backward the input and weight gradients, are each one matrix product over the sequence."""

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import record
from chainrule.autograd.mode import state
from chainrule.ops.linalg import product
from chainrule.ops.operands import wrap
from chainrule.ops.unary import sigmoid_values

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _sigmoid_in_place(a):
    # exp(-a) overflowing to inf still gives the right limit 0 (the loop runs under
    # errstate(over="ignore")); in place, the GRU's gates need no array of their own.
    xp.negative(a, out=a)
    xp.exp(a, out=a)
    a += 1
    xp.reciprocal(a, out=a)


def _forward(mode, xp_seq, h, c, w_hh, b_hh):
    """Run the recurrence over the projected inputs; returns the outputs and what the backward
    needs (per-step activations), all as stacked arrays of shape (L, N, ...). The GRU writes
    each step's gates straight into those arrays (out=): a step is ~13 small array operations,
    which at these sizes cost more than the recurrent product."""
    length, batch = xp_seq.shape[:2]
    size = w_hh.shape[1]
    hs = xp.empty((length, batch, size), dtype=xp_seq.dtype)
    saved = {}
    if mode == "GRU":
        saved = {k: xp.empty((length, batch, n * size), dtype=xp_seq.dtype) for k, n in (("rz", 2), ("n", 1),
                                                                                         ("hn", 1))}
    elif mode == "LSTM":
        saved = {k: xp.empty((length, batch, size), dtype=xp_seq.dtype) for k in ("i", "f", "g", "o", "c")}
    w_hh_t = w_hh.T
    with xp.errstate(over="ignore"):
        for t in range(length):
            gh = product(h, w_hh_t)
            if b_hh is not None:
                gh += b_hh
            gx = xp_seq[t]
            if mode == "GRU":
                rz, n, h_next = saved["rz"][t], saved["n"][t], hs[t]
                xp.add(gx[:, :2 * size], gh[:, :2 * size], out=rz)
                _sigmoid_in_place(rz)
                r, z = rz[:, :size], rz[:, size:]
                hn = saved["hn"][t]
                hn[...] = gh[:, 2 * size:]
                xp.multiply(r, hn, out=n)
                n += gx[:, 2 * size:]
                xp.tanh(n, out=n)
                # h = n + z (h - n)
                xp.subtract(h, n, out=h_next)
                h_next *= z
                h_next += n
                h = h_next
                continue
            if mode == "LSTM":
                gates = gx + gh
                ifo = sigmoid_values(gates[:, [*range(size), *range(size, 2 * size), *range(3 * size, 4 * size)]])
                i, f, o = ifo[:, :size], ifo[:, size:2 * size], ifo[:, 2 * size:]
                g = xp.tanh(gates[:, 2 * size:3 * size])
                c = f * c + i * g
                h = o * xp.tanh(c)
                saved["i"][t], saved["f"][t], saved["g"][t], saved["o"][t], saved["c"][t] = i, f, g, o, c
            elif mode == "RNN_TANH":
                h = xp.tanh(gx + gh)
            else:
                h = xp.maximum(gx + gh, 0)
            hs[t] = h
    return hs, saved


def _backward(mode, grad_h, grad_c, hs, h0, c0, saved, w_hh):
    """BPTT: the gradients of the gate pre-activations at every step (L, N, gates * H), of the
    part that went through W_hh, and of the initial state(s). ``grad_c``: the gradient reaching
    the LSTM cell state of each step from outside (None: only through the recurrence)."""
    length, batch, size = hs.shape
    gates = GATES[mode]
    d_pre = xp.empty((length, batch, gates * size), dtype=hs.dtype)
    dh_next = xp.zeros((batch, size), dtype=hs.dtype)
    dc_next = xp.zeros((batch, size), dtype=hs.dtype)
    d_gh = xp.empty_like(d_pre) if mode == "GRU" else d_pre  # the part that flows through W_hh
    for t in range(length - 1, -1, -1):
        dh = grad_h[t] + dh_next
        h_prev = hs[t - 1] if t else h0
        if mode == "GRU":
            rz, n, hn = saved["rz"][t], saved["n"][t], saved["hn"][t]
            r, z = rz[:, :size], rz[:, size:]
            # Each gate's gradient in an array of its own, updated in place: out= into the
            # interleaved column blocks of one row of d_pre makes NumPy copy for overlap checks.
            one_minus_z = 1 - z
            dn = n * n  # dn = dh (1 - z) (1 - n^2)
            xp.subtract(1, dn, out=dn)
            dn *= one_minus_z
            dn *= dh
            dz = h_prev - n  # dz = dh (h_prev - n) z (1 - z)
            dz *= dh
            dz *= z
            dz *= one_minus_z
            dr = 1 - r  # dr = dn hn r (1 - r)
            dr *= r
            dr *= hn
            dr *= dn
            d_step, gh_step = d_pre[t], d_gh[t]
            d_step[:, :size], d_step[:, size:2 * size], d_step[:, 2 * size:] = dr, dz, dn
            gh_step[:, :2 * size] = d_step[:, :2 * size]
            xp.multiply(dn, r, out=gh_step[:, 2 * size:])
            dh_next = dh * z
            dh_next += gh_step @ w_hh
        elif mode == "LSTM":
            i, f, g, o, c = saved["i"][t], saved["f"][t], saved["g"][t], saved["o"][t], saved["c"][t]
            c_prev = saved["c"][t - 1] if t else c0
            tc = xp.tanh(c)
            dc = dc_next + dh * o * (1 - tc * tc)
            if grad_c is not None:
                dc += grad_c[t]
            d_pre[t, :, :size] = dc * g * i * (1 - i)
            d_pre[t, :, size:2 * size] = dc * c_prev * f * (1 - f)
            d_pre[t, :, 2 * size:3 * size] = dc * i * (1 - g * g)
            d_pre[t, :, 3 * size:] = dh * tc * o * (1 - o)
            dc_next = dc * f
            dh_next = d_pre[t] @ w_hh
        else:
            h = hs[t]
            d_pre[t] = dh * (1 - h * h) if mode == "RNN_TANH" else dh * (h > 0)
            dh_next = d_pre[t] @ w_hh
    return d_pre, d_gh, dh_next, dc_next


def rnn_sequence(mode: str, input: Tensor, h0: Tensor, c0, weight_ih: Tensor, weight_hh: Tensor,
                 bias_ih=None, bias_hh=None, reverse: bool = False) -> Tensor:
    """One recurrent layer over a whole sequence, in one direction.

    mode: "RNN_TANH", "RNN_RELU", "GRU" or "LSTM" (PyTorch's equations and gate order);
    input (L, N, F); h0, c0 (N, H) (c0 only for LSTM, else None); weights as PyTorch's layers.
    ``reverse`` runs from the last step to the first. Returns (L, N, H) the hidden state at every
    step, and for LSTM (L, N, 2H): the hidden state then the cell state.
    """
    if mode not in GATES:
        raise ValueError(f"rnn_sequence: mode must be one of {sorted(GATES)}, got {mode!r}")
    x, w_ih, w_hh = input._data, weight_ih._data, weight_hh._data
    b_ih = None if bias_ih is None else bias_ih._data
    b_hh = None if bias_hh is None else bias_hh._data
    lstm = mode == "LSTM"
    if reverse:
        x = x[::-1]
    projected = product(x, w_ih.T)
    if b_ih is not None:
        projected += b_ih
    hs, saved = _forward(mode, projected, h0._data, c0._data if lstm else None, w_hh, b_hh)
    out = xp.concatenate([hs, saved["c"]], axis=2) if lstm else hs
    if reverse:
        out = out[::-1]
    parents = [input, h0, *([c0] if lstm else []), weight_ih, weight_hh]
    parents += [b for b in (bias_ih, bias_hh) if b is not None]
    if not (state.grad_enabled and any(p.requires_grad for p in parents)):
        return wrap(out)
    size = w_hh.shape[1]
    h0d = h0._data
    c0d = c0._data if lstm else None

    def rnn_sequence_vjp(g):
        if reverse:
            g = g[::-1]
        grad_c = g[..., size:] if lstm else None
        d_pre, d_gh, dh0, dc0 = _backward(mode, g[..., :size], grad_c, hs, h0d, c0d, saved, w_hh)
        return _parameter_grads(d_pre, d_gh, dh0, dc0)

    def _parameter_grads(d_pre, d_gh, dh0, dc0):
        flat = d_pre.reshape(-1, d_pre.shape[-1])
        grads = [
            (d_pre @ w_ih) if input.requires_grad else None,
            dh0 if h0.requires_grad else None,
        ]
        if lstm:
            grads.append(dc0 if c0.requires_grad else None)
        h_prev = xp.concatenate([h0d[None], hs[:-1]]) if len(hs) > 1 else h0d[None]
        grads.append(flat.T @ x.reshape(-1, x.shape[-1]) if weight_ih.requires_grad else None)
        flat_gh = d_gh.reshape(-1, d_gh.shape[-1])
        grads.append(flat_gh.T @ h_prev.reshape(-1, size) if weight_hh.requires_grad else None)
        if bias_ih is not None:
            grads.append(flat.sum(axis=0) if bias_ih.requires_grad else None)
        if bias_hh is not None:
            grads.append(flat_gh.sum(axis=0) if bias_hh.requires_grad else None)
        if reverse and grads[0] is not None:
            grads[0] = grads[0][::-1]
        return tuple(grads)

    return record(f"{mode.title().replace('_', '')}Sequence", out, tuple(parents), rnn_sequence_vjp)
