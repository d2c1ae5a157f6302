"""A small causal (decoder-only) transformer learns to reverse a sequence of digits, then draws
what its attention heads look at. Each training sequence is the digits, a separator and the
answer (`3 1 4 1 5 9 > 9 5 1 4 1 3`); the model predicts every next token but is trained only
on the answer's, and a causal mask lets each position attend to itself and the ones before it,
as in GPT. Answering needs attention: the token to write next sits at another position, which a
head must find. For `reverse` the query about to write answer digit i (at the separator for
i = 0) looks at input position length-1-i: an anti-diagonal in the attention map. `copy` gives
a shifted diagonal; `sort` looks for the next smallest digit wherever it is. The program is
PyTorch's API throughout: with its two chainrule imports replaced by `import torch as cr` and
`from torch import nn, optim` it runs on PyTorch unchanged.

    python examples/attention_task.py [--task reverse|copy|sort] [--quick] [--out DIR]

Writes DIR/attention_<task>.png: one panel per head and layer, query positions (rows) against
key positions (columns) for one test sequence, the tokens as tick labels.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import chainrule as cr
from chainrule import nn, optim

SEPARATOR = 10  # tokens 0-9 are the digits
SYMBOLS = [str(d) for d in range(10)] + [">"]


def make_sequences(rng, count: int, length: int, task: str) -> np.ndarray:
    """(count, 2 * length + 1) token sequences: random digits, the separator, the answer."""
    digits = rng.integers(0, 10, size=(count, length))
    answer = {"reverse": digits[:, ::-1], "copy": digits, "sort": np.sort(digits, axis=1)}[task]
    return np.concatenate([digits, np.full((count, 1), SEPARATOR), answer], axis=1)


class CausalTransformer(nn.Module):
    """(N, L) tokens -> (N, L, vocab) scores for the token after each position."""

    def __init__(
        self,
        vocab: int,
        max_length: int,
        d_model: int = 64,
        nhead: int = 2,
        num_layers: int = 2,
        dim_feedforward: int = 128,
    ):
        super().__init__()
        self.token = nn.Embedding(vocab, d_model)
        self.position = nn.Embedding(max_length, d_model)  # where a token sits: attention alone cannot tell
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward, dropout=0.0, batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerEncoder(layer, num_layers)  # self-attention only, made causal by the mask
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def embed(self, tokens):
        return self.token(tokens) + self.position(cr.arange(tokens.shape[1]))

    def forward(self, tokens):
        mask = nn.Transformer.generate_square_subsequent_mask(tokens.shape[1])
        return self.head(self.norm(self.decoder(self.embed(tokens), mask=mask, is_causal=True)))

    def attention_maps(self, tokens) -> list:
        """Per layer, the (N, nhead, L, L) attention weights: the layers do not keep them
        (need_weights=False is faster), so each layer's attention is run again on its input."""
        mask = nn.Transformer.generate_square_subsequent_mask(tokens.shape[1])
        x, maps = self.embed(tokens), []
        for layer in self.decoder.layers:
            h = layer.norm1(x)  # norm_first: the attention sees the normalised input
            _, weights = layer.self_attn(h, h, h, attn_mask=mask, need_weights=True, average_attn_weights=False)
            maps.append(weights.numpy())
            x = layer(x, src_mask=mask, is_causal=True)
        return maps


def generate(model, prompts, length: int) -> np.ndarray:
    """Greedy decoding: append the most likely next token ``length`` times."""
    tokens = cr.tensor(prompts)
    with cr.no_grad():
        for _ in range(length):
            following = model(tokens)[:, -1].argmax(dim=-1)
            tokens = cr.cat([tokens, following.unsqueeze(1)], dim=1)
    return tokens.numpy()[:, prompts.shape[1] :]


def source_positions(sequence, length: int, task: str) -> list:
    """For each answer token of one sequence, the input positions it comes from."""
    digits, answer = sequence[:length], sequence[length + 1 :]
    if task == "reverse":
        return [[length - 1 - i] for i in range(length)]
    if task == "copy":
        return [[i] for i in range(length)]
    return [list(np.flatnonzero(digits == d)) for d in answer]  # sort: wherever that digit is


def attention_on_sources(weights, sequences, length: int, task: str) -> np.ndarray:
    """(nhead,) mean attention that the queries about to write an answer digit (the separator
    and answer positions length..2 length-1) give the input position that digit comes from."""
    share = np.zeros(weights.shape[1])
    for n, sequence in enumerate(sequences):
        for i, keys in enumerate(source_positions(sequence, length, task)):
            share += weights[n][:, length + i][:, keys].sum(axis=-1)
    return share / (len(sequences) * length)


def draw(maps, sequence, task: str, path: Path) -> None:
    layers, heads = len(maps), maps[0].shape[1]
    labels = [SYMBOLS[t] for t in sequence[:-1]]  # the model's input: every token but the last
    fig = Figure(figsize=(3.6 * heads, 3.4 * layers + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(layers, heads, squeeze=False)
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer, head]
            ax.imshow(maps[layer][0, head], cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(len(labels)), labels)
            ax.set_yticks(range(len(labels)), labels)
            ax.set_title(f"layer {layer + 1}, head {head + 1}")
            ax.set_xlabel("key (attended to)")
            ax.set_ylabel("query (predicts the next token)")
    digits = " ".join(labels[: len(labels) // 2])
    fig.suptitle(f"{task} task: causal transformer, {layers} layers x {heads} heads; attention on {digits}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main(task: str = "reverse", quick: bool = False, out: str = "runs/examples") -> None:
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    length = 6
    model = CausalTransformer(vocab=len(SYMBOLS), max_length=2 * length)
    steps, batch_size = (40, 32) if quick else (1000, 64)
    optimizer = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    print(
        f"task {task}: {length} digits, a separator, the answer; {sum(p.numel() for p in model.parameters())} "
        f"parameters, {steps} steps of {batch_size} fresh sequences"
    )
    started = time.perf_counter()
    for step in range(1, steps + 1):
        sequences = cr.tensor(make_sequences(rng, batch_size, length, task))
        scores = model(sequences[:, :-1])  # position t predicts token t + 1
        # Only the answer is learnable: positions length (the separator) to 2 length - 1 predict it.
        loss = nn.functional.cross_entropy(
            scores[:, length:].reshape(-1, len(SYMBOLS)), sequences[:, length + 1 :].reshape(-1)
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % (steps // 5) == 0:
            print(f"step {step}: loss {loss.item():.4f}")
    print(f"trained in {time.perf_counter() - started:.1f} s")

    # Test sequences from another generator: training drew its (at most 64000 of 10^6) from the first one.
    test = make_sequences(np.random.default_rng(1), 1000, length, task)
    answers = generate(model, test[:, : length + 1], length)
    print(f"test digit accuracy: {np.mean(answers == test[:, length + 1 :]):.4f}")
    print(
        f"test sequence accuracy: {np.mean((answers == test[:, length + 1 :]).all(axis=1)):.4f}"
        f"  (whole answer right, generated greedily from the prompt)"
    )

    with cr.no_grad():
        maps = model.attention_maps(cr.tensor(test[:200, :-1]))
    print("attention that the answer positions give the input digit they must write, per head:")
    shares = [attention_on_sources(weights, test[:200], length, task) for weights in maps]
    for layer, per_head in enumerate(shares):
        print(f"  layer {layer + 1}: " + ", ".join(f"head {h + 1} {share:.2f}" for h, share in enumerate(per_head)))
    fetching = [
        f"layer {layer + 1} head {h + 1}"
        for layer, per_head in enumerate(shares)
        for h, share in enumerate(per_head)
        if share > 0.5
    ]
    pattern = {
        "reverse": "the anti-diagonal from the separator's row to the first digit's column",
        "copy": "a diagonal shifted by the prompt's length",
        "sort": "each answer row lighting up the next smallest digit, wherever it sits",
    }[task]
    print(
        f"the picture: {len(fetching)} of {len(maps) * maps[0].shape[1]} heads "
        f"({', '.join(fetching) or 'none'}) put over half their attention, from the answer rows, on the digit "
        f"to write next: {pattern}. The rows of the prompt's digits are never scored (what follows them is "
        f"random), so their attention is untrained."
    )
    path = Path(out) / f"attention_{task}.png"
    draw(maps, test[0], task, path)
    print("wrote", path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--task",
        choices=("reverse", "copy", "sort"),
        default="reverse",
        help="what the answer is: the digits reversed, copied or sorted",
    )
    parser.add_argument("--quick", action="store_true", help="40 training steps of 32 sequences (a smoke test)")
    parser.add_argument("--out", default="runs/examples", help="folder for the pictures")
    main(**vars(parser.parse_args()))
