"""chainrule.viz.draw_graph and to_dot: the nodes and edges of known expressions, labels with op
names and shapes, pictures whose texts can be read back, DOT that holds together, gradient norms
that match backward's, and collapsing that makes a deep network's graph small."""

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.models import cnn
from chainrule.viz import draw_graph, to_dot
from chainrule.viz.graph import collapse_repeats, trace

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def svg_texts(path):
    """Every line of text in an SVG written with its texts kept as text."""
    texts = []
    for element in ET.parse(path).iter():
        if element.tag.endswith("text"):
            texts.extend(line for line in "".join(element.itertext()).split("\n") if line)
    return texts


def expression():
    w, b, x = cr.randn(3, 2, requires_grad=True), cr.randn(3, 1, requires_grad=True), cr.randn(2, 4)
    return (w @ x + b).tanh().sum(), {"w": w, "b": b, "x": x}


def xor_network():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    x = cr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    t = cr.tensor([[0.0], [1.0], [1.0], [0.0]])
    loss = 0.5 * ((t - model(x)) ** 2).sum()
    return model, loss, x, t


def edges_by_name(graph):
    return {(graph.node(a).name, graph.node(b).name) for a, b in graph.edges}


def test_nodes_and_edges_of_a_known_expression():
    loss, names = expression()
    graph = draw_graph(loss, names=names)
    assert len(graph.nodes) == 7 and len(graph.edges) == 6  # 3 leaves, 4 ops
    assert [n.name for n in graph.ops] == ["Mm", "Add", "Tanh", "Sum"]
    assert edges_by_name(graph) == {("w", "Mm"), ("x", "Mm"), ("Mm", "Add"), ("b", "Add"), ("Add", "Tanh"),
                                    ("Tanh", "Sum")}
    kinds = {n.name: n.kind for n in graph.nodes}
    assert kinds == {"w": "parameter", "b": "parameter", "x": "data", "Mm": "op", "Add": "op", "Tanh": "op",
                     "Sum": "output"}
    assert graph.node(graph.root).name == "Sum"
    # the layers: leaves above the op that uses them, each op one below its deepest input
    layer = {graph.node(i).name: level for i, level in graph.layers().items()}
    assert layer == {"w": 0, "x": 0, "Mm": 1, "b": 1, "Add": 2, "Tanh": 3, "Sum": 4}


def test_labels_hold_op_names_and_shapes():
    loss, names = expression()
    labels = {n.name: n.label.split("\n") for n in draw_graph(loss, names=names).nodes}
    assert labels["Mm"] == ["Mm", "[3, 4]"] and labels["Add"] == ["Add", "[3, 4]"]
    assert labels["Sum"] == ["Sum", "scalar"] and labels["w"] == ["w", "[3, 2]"]
    unnamed = {n.name: n.kind for n in draw_graph(loss).nodes}
    assert unnamed["leaf"] == "leaf" and unnamed["data"] == "data"  # (two leaves named "leaf": w and b)
    constant = draw_graph((names["w"] * 3).sum())
    assert [n.label for n in constant.nodes if n.kind == "constant"] == ["3"]


def test_the_svg_holds_the_texts_and_the_png_is_written(tmp_path):
    model, loss, x, t = xor_network()
    graph = draw_graph(loss, tmp_path / "xor.svg", names={**dict(model.named_parameters()), "x": x, "t": t})
    texts = svg_texts(tmp_path / "xor.svg")
    for node in graph.nodes:
        for line in node.label.split("\n"):
            assert line in texts, f"{line!r} of {node.name} is not in the picture"
    assert "computational graph of Mul: 8 ops, 7 leaves drawn" in texts
    assert {"op (output shape)", "parameter", "data (no gradient)", "result"} <= set(texts)
    draw_graph(loss, tmp_path / "xor.png", names=model)
    assert (tmp_path / "xor.png").read_bytes()[:8] == PNG_SIGNATURE


def test_the_xor_network_is_named_from_its_module():
    model, loss, _, _ = xor_network()
    graph = draw_graph(loss, names=model)
    assert [n.name for n in graph.nodes if n.kind == "parameter"] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n.name for n in graph.ops] == ["Linear", "Sigmoid", "Linear", "Sigmoid", "Sub", "Pow", "Sum", "Mul"]
    assert len(graph.nodes) == 15 and len(graph.edges) == 14
    assert ("0.weight", "Linear") in edges_by_name(graph) and ("2.bias", "Linear") in edges_by_name(graph)
    assert graph.node(graph.root).shape == ()


def test_dot_holds_together():
    loss, names = expression()
    graph = draw_graph(loss, names=names)
    dot = to_dot(loss, names=names)
    assert dot == graph.to_dot()
    lines = dot.strip().split("\n")
    assert lines[0] == "digraph chainrule {" and lines[-1] == "}"
    assert dot.count("{") == dot.count("}") == 1
    declared = re.findall(r"^  (n\d+) \[label=", dot, re.M)
    edges = re.findall(r"^  (n\d+) -> (n\d+);$", dot, re.M)
    assert len(declared) == len(set(declared)) == 7 and len(edges) == 6
    assert {end for edge in edges for end in edge} <= set(declared)
    assert sum("->" in line for line in lines) == len(edges)  # one line per edge
    assert 'label="Mm\\n[3, 4]"' in dot  # labels escaped for DOT: a newline is \n


def test_values_and_gradient_norms_match_backward():
    model, loss, _, _ = xor_network()
    graph = draw_graph(loss, show_values=True, names=model)
    assert all(p.grad is None for p in model.parameters())  # drawing leaves .grad alone
    loss.backward()
    by_name = {n.name: n for n in graph.nodes}
    for name, p in model.named_parameters():
        assert by_name[name].grad_norm == pytest.approx(float(np.linalg.norm(p.grad.numpy())), rel=1e-5)
        assert by_name[name].value.startswith("= [")  # 4 numbers or fewer: all of them
    root = graph.node(graph.root)
    assert root.grad_norm == 1.0 and root.value == f"= {loss.item():.3g}"
    assert "|grad| 1" in root.label.split("\n")


def test_a_released_graph_is_refused_and_a_retained_one_drawn():
    loss, names = expression()
    loss.backward(retain_graph=True)
    assert len(draw_graph(loss, names=names).nodes) == 7
    loss.backward()
    with pytest.raises(RuntimeError, match=r"released by backward\(\); draw it before backward\(\)"):
        draw_graph(loss)


def test_collapsing_repeated_layers_of_a_deep_mlp():
    deep = nn.Sequential(*[m for _ in range(12) for m in (nn.Linear(8, 8), nn.Tanh())], nn.Linear(8, 1))
    loss = deep(cr.randn(5, 8)).sum()
    full = draw_graph(loss, names=deep, collapse=False, max_nodes=None)
    assert len(full.nodes) == 1 + 12 * 4 + 3 + 1  # input; per layer weight, bias, Linear, Tanh; last layer; Sum
    folded = draw_graph(loss, names=deep, collapse=True)
    assert len(folded.nodes) == 9 < len(full.nodes)
    assert [(n.name, n.repeat) for n in folded.ops] == [("Linear", 12), ("Tanh", 12), ("Linear", 1), ("Sum", 1)]
    assert "0.weight ... 22.weight" in [n.name for n in folded.nodes]
    assert all(a < b for a, b in folded.edges)  # still a graph without cycles, in the order the ops ran
    assert len(full.nodes) == 53  # collapse_repeats gave a new graph: the first one is unchanged
    auto = draw_graph(loss, names=deep, max_nodes=40)  # more than max_nodes: collapsed by itself
    assert len(auto.nodes) == 9


def test_collapsing_a_small_cnn_shows_first_and_last_shapes(tmp_path):
    model = cnn((1, 8, 8), 10, channels=(4, 8, 8))
    loss = nn.CrossEntropyLoss()(model(cr.randn(3, 1, 8, 8)), cr.tensor([1, 2, 3]))
    full = trace(loss, names=model)
    folded = collapse_repeats(full)
    assert len(folded.nodes) < len(full.nodes)
    conv = next(n for n in folded.ops if n.name == "Conv2d")
    assert conv.repeat == 3 and conv.label.split("\n") == ["Conv2d x3", "[3, 4, 8, 8] ... [3, 8, 2, 2]"]
    graph = draw_graph(loss, tmp_path / "cnn.svg", names=model, collapse=True)
    texts = svg_texts(tmp_path / "cnn.svg")
    assert "Conv2d x3" in texts and "x3" in texts and "0.weight ... 6.weight" in texts
    assert len(graph.nodes) == len(folded.nodes)


def test_max_nodes_keeps_the_nearest_and_says_what_is_left_out(tmp_path):
    deep = nn.Sequential(*[m for _ in range(12) for m in (nn.Linear(8, 8), nn.Tanh())], nn.Linear(8, 1))
    loss = deep(cr.randn(5, 8)).sum()
    graph = draw_graph(loss, tmp_path / "cut.svg", names=deep, collapse=False, max_nodes=20)
    assert len(graph.nodes) <= 20
    more = next(n for n in graph.nodes if n.kind == "more")
    drawn = len(graph.nodes) - 1
    assert more.name.startswith(f"{53 - drawn} earlier nodes not drawn")
    assert "max_nodes=20" in more.name and "Linear x" in more.name
    # every kept op keeps the parameters it uses
    names = {n.name for n in graph.nodes}
    assert "24.weight" in names and "22.weight" in names and "22.bias" in names
    assert f"{53 - drawn} earlier nodes not drawn" in svg_texts(tmp_path / "cut.svg")


@pytest.mark.parametrize("call, error, words", [
    (lambda: draw_graph([1.0]), TypeError, "expected a Tensor, got list"),
    (lambda: draw_graph(cr.ones(2)), ValueError, "no recorded graph: it does not require grad"),
    (lambda: draw_graph(cr.ones(2, requires_grad=True).sum(), names=["w"]), TypeError,
     "names must be None, a Module or a dict"),
    (lambda: draw_graph(cr.ones(2, requires_grad=True).sum(), names={"w": 1.0}), TypeError,
     "names must map names (str) to Tensors"),
    (lambda: draw_graph(cr.ones(2, requires_grad=True).sum(), max_nodes=1), ValueError,
     "max_nodes must be an integer >= 2"),
])
def test_bad_arguments_are_named(call, error, words):
    with pytest.raises(error) as caught:
        call()
    assert words in str(caught.value)


def test_chainrule_viz_loads_lazily():
    assert cr.viz.draw_graph is draw_graph


def test_the_example_draws_both_pictures(tmp_path):
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(root / "examples" / "graph_picture.py"), "--quick", "--out",
                           str(tmp_path)], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "XOR graph: 8 ops, 7 leaves, 14 edges" in done.stdout
    assert "CNN graph: 21 nodes, 11 with repeated blocks collapsed" in done.stdout
    assert "Total params: 3,738" in done.stdout  # the CNN's summary: 80 + 1,168 + 2,320 + 170
    xor_texts = svg_texts(tmp_path / "xor_graph.svg")
    assert "0.weight" in xor_texts and "|grad| 1" in xor_texts and "t" in xor_texts
    assert "Conv2d x3" in svg_texts(tmp_path / "cnn_graph.svg")
    assert (tmp_path / "xor_graph.dot").read_text().count(" -> ") == 14


def test_values_without_gradients_for_a_result_that_is_not_a_scalar(tmp_path):
    w = cr.tensor([[1.0, -2.0]], requires_grad=True)
    graph = draw_graph(w * 2, tmp_path / "w.svg", show_values=True)
    assert [n.value for n in graph.nodes if n.kind != "constant"] == ["= [1, -2]", "= [2, -4]"]
    assert all(n.grad_norm is None for n in graph.nodes)
    assert graph.notes == ["no gradients shown: the result is not a scalar of floats"]
    assert "unnamed, requires grad" in svg_texts(tmp_path / "w.svg")
