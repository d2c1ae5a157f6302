"""Seeing inside a network before training it: the layer-by-layer summary (output shapes,
parameters, memory) and the picture of the computational graph backpropagation walks, for the
2-2-1 network on XOR (every value and gradient norm shown) and for a small CNN on 8x8 digits (its
three convolution blocks drawn once, x3).

    python examples/graph_picture.py [--quick] [--out DIR]

Writes DIR/xor_graph.svg, DIR/xor_graph.dot (for graphviz: dot -Tpng xor_graph.dot) and
DIR/cnn_graph.svg; the pictures in the README are these (--out docs/images).
"""

import argparse
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import xor
from chainrule.models import cnn
from chainrule.viz import draw_graph


def main(out: str = "runs/examples") -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    X, y = xor()
    x, t = cr.tensor(X.astype(np.float32)), cr.tensor(y.astype(np.float32).reshape(-1, 1))
    cr.summary(model, input_data=x)
    loss = 0.5 * ((t - model(x)) ** 2).sum()
    names = {**dict(model.named_parameters()), "x": x, "t": t}
    graph = draw_graph(loss, out / "xor_graph.svg", names=names, show_values=True,
                       title="XOR, 2-2-1 sigmoid network: loss = 1/2 sum (t - y)^2 at the initial weights")
    (out / "xor_graph.dot").write_text(graph.to_dot())
    print(f"XOR graph: {len(graph.ops)} ops, {len(graph.nodes) - len(graph.ops)} leaves, {len(graph.edges)} edges")

    cr.manual_seed(0)
    net = cnn((1, 8, 8), 10, channels=(8, 16, 16))
    cr.summary(net, (32, 1, 8, 8))
    images, labels = cr.randn(32, 1, 8, 8), cr.randint(0, 10, (32,))
    loss = nn.CrossEntropyLoss()(net(images), labels)
    full = draw_graph(loss, names=net, collapse=False)
    graph = draw_graph(loss, out / "cnn_graph.svg", names=net, collapse=True,
                       title="a small CNN on 8x8 digits: three conv blocks drawn once (x3)")
    print(f"CNN graph: {len(full.nodes)} nodes, {len(graph.nodes)} with repeated blocks collapsed")
    print(f"wrote {out / 'xor_graph.svg'}, {out / 'xor_graph.dot'} and {out / 'cnn_graph.svg'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="(no training here: the same as without)")
    parser.add_argument("--out", default="runs/examples", help="folder for the pictures (default: %(default)s)")
    main(parser.parse_args().out)
