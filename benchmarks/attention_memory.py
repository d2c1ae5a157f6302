"""What a TransformerEncoderLayer's graph holds after one forward pass (tracemalloc traces NumPy's
allocations), and how much of it the attention node keeps besides its inputs: one
batch x heads x L x L array of weights (plus a boolean dropout mask in training with dropout).

    python benchmarks/attention_memory.py

Never collected by pytest."""

import tracemalloc

import numpy as np

import chainrule as cr
from chainrule import nn

ATTENTION_NODES = ("ScaledDotProductAttention", "PackedSelfAttention")


def _attention_node(out):
    seen, stack = set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.name in ATTENTION_NODES:
            return node
        stack.extend(p.grad_fn for p in node.parents)
    raise RuntimeError("no attention node in the graph")


def measure(length, batch=32, d_model=128, heads=4):
    cr.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=512, dropout=0.0, batch_first=True)
    x = cr.randn(batch, length, d_model, requires_grad=True)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    out = layer(x)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    node = _attention_node(out)
    inputs = {id(p._data) for p in node.parents}
    own = sum(a.nbytes for a in node.arrays if isinstance(a, np.ndarray) and id(a) not in inputs)
    weights = batch * heads * length * length * 4
    mib = 2.0**20
    print(
        f"L={length:4d}: graph holds {(held - before) / mib:7.2f} MiB (peak {(peak - before) / mib:7.2f}); "
        f"attention node's own arrays {own / mib:6.2f} MiB = {own / weights:.2f} x N*H*L^2*4 bytes; "
        f"one (N, L, E) activation {batch * length * d_model * 4 / mib:5.2f} MiB"
    )


if __name__ == "__main__":
    for length in (64, 128, 256):
        measure(length)
