"""The computational graph a tensor was computed by, as a picture: the recorded ops (with their
output shapes) and the leaves they started from (parameters named from their module), in layers
from the inputs down to the result, drawn with matplotlib, or written as DOT text for graphviz."""

import dataclasses
import itertools
from collections import Counter, deque
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from chainrule._arguments import int_arg
from chainrule._tensor import Tensor
from chainrule.nn.module import Module

# Fill colours by kind of node; "more" stands for the nodes max_nodes left out.
COLORS = {"op": "#cfe2f3", "output": "#f9cb9c", "parameter": "#d9ead3", "leaf": "#d9ead3", "data": "#eeeeee",
          "constant": "#ffffff", "more": "#fff2cc"}
LEGEND = {"op": "op (output shape)", "output": "result", "parameter": "parameter", "leaf": "unnamed, requires grad",
          "data": "data (no gradient)"}


@dataclasses.dataclass
class GraphNode:
    """One node: an op (``kind`` "op", or "output" for the tensor drawn) or a leaf ("parameter",
    "leaf" for an unnamed tensor that requires grad, "data" for one that does not, "constant" for
    a number). ``name``: the op's name ("Linear"), the leaf's name ("0.weight") or a constant's
    value. ``value`` and ``grad_norm`` are filled by ``show_values``; ``repeat`` > 1 marks a block
    drawn once for that many consecutive repetitions (``block`` numbers it), ``last_shape`` the
    shape of its last repetition."""

    id: int
    kind: str
    name: str
    shape: tuple
    value: str | None = None
    grad_norm: float | None = None
    repeat: int = 1
    last_shape: tuple | None = None
    block: int | None = None  # the repeated block the node stands for, numbered from 0

    @property
    def label(self) -> str:
        """The text in the node's box, one fact a line."""
        name = self.name if self.repeat == 1 else f"{self.name} x{self.repeat}"
        shape = _shape_text(self.shape)
        if self.last_shape is not None and self.last_shape != self.shape:
            shape = f"{shape} ... {_shape_text(self.last_shape)}"
        lines = [name] if self.kind in ("constant", "more") else [name, shape]
        if self.value is not None:
            lines.append(self.value)
        if self.grad_norm is not None:
            lines.append(f"|grad| {self.grad_norm:.3g}")
        return "\n".join(lines)


@dataclasses.dataclass
class Graph:
    """The nodes (ops and leaves), the edges ``(from, to)`` along which values flow (into the op
    that uses them), the id of the result, and ``notes`` on what was collapsed or left out."""

    nodes: list
    edges: list
    root: int
    notes: list = dataclasses.field(default_factory=list)

    def node(self, node_id: int) -> GraphNode:
        return self.nodes[[n.id for n in self.nodes].index(node_id)]

    @property
    def ops(self) -> list:
        return [n for n in self.nodes if n.kind in ("op", "output")]

    def to_dot(self) -> str:
        """The graph in graphviz's DOT language: one line per node, one per edge."""
        lines = ["digraph chainrule {", '  node [shape=box, style="rounded,filled", fontname="Helvetica", '
                 'fontsize=10];']
        for n in self.nodes:
            label = n.label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            lines.append(f'  n{n.id} [label="{label}", fillcolor="{COLORS[n.kind]}"];')
        lines += [f"  n{a} -> n{b};" for a, b in self.edges]
        lines += [f"  // {note}" for note in self.notes]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def layers(self) -> dict:
        """Each node's layer: ops at their longest path from the leaves; a leaf one layer above its
        first user, so that a parameter sits next to the op it feeds."""
        parents = {n.id: [] for n in self.nodes}
        children = {n.id: [] for n in self.nodes}
        for a, b in self.edges:
            parents[b].append(a)
            children[a].append(b)
        layer = {}
        for n in _topological(self.nodes, parents):
            layer[n] = 1 + max((layer[p] for p in parents[n]), default=-1)
        for n in layer:
            if not parents[n] and children[n]:
                layer[n] = min(layer[c] for c in children[n]) - 1
        return layer

    def figure(self, title: str | None = None):
        """The picture as a matplotlib Figure."""
        return _figure(self, title)

    def draw(self, path, title: str | None = None) -> Path:
        """Write the picture to ``path``: SVG or PNG (or any format matplotlib writes), by suffix.
        Texts stay texts in an SVG, so it can be searched."""
        import matplotlib

        from chainrule.diagnostics import save_figure

        fig = self.figure(title)
        # no date in an SVG: the same graph gives the same file (pictures kept in git stay unchanged)
        options = {"metadata": {"Date": None}} if Path(path).suffix.lower() == ".svg" else {}
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "chainrule"}):
            return save_figure(fig, path, dpi=110, **options)

    def _repr_svg_(self):  # a notebook shows the picture
        import io

        import matplotlib

        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            self.figure().savefig(buffer, format="svg")
        return buffer.getvalue()


def draw_graph(tensor: Tensor, path=None, *, show_values: bool = False, names=None, collapse: bool | None = None,
               max_nodes: int | None = 60, title: str | None = None) -> Graph:
    """Draw the graph ``tensor`` was computed by: every recorded op with its output shape, the
    leaves it started from, in layers from the leaves down to ``tensor``; written to ``path``
    (.svg, .png ...) when given. Call it before ``backward()`` (which releases the graph) or after
    ``backward(retain_graph=True)``.

    ``names``: a Module, whose parameters and buffers are then named as in its state_dict
    (``0.weight``), or a dict of name -> tensor (``{**dict(model.named_parameters()), "x": x}``).
    ``show_values``: each node's value (the numbers of a tensor of up to 4, mean and sd otherwise)
    and, for a scalar ``tensor``, the norm of the gradient backward sends each node (computed here
    with ``autograd.grad``; ``.grad`` is left alone). ``collapse``: draw a block of ops repeated in
    consecutive layers once, marked ``xN`` (None: only when the graph has more than ``max_nodes``
    nodes); ``max_nodes``: draw at most that many, those nearest ``tensor``, and one node saying
    what was left out (None: all). Returns the Graph (its ``nodes``, ``edges``, ``to_dot()``).

    >>> import chainrule as cr
    >>> w, b = cr.ones(3, 2, requires_grad=True), cr.zeros(3, 1, requires_grad=True)
    >>> x = cr.ones(2, 4)
    >>> graph = draw_graph((w @ x + b).tanh().sum(), names={"w": w, "b": b, "x": x})
    >>> [n.name for n in graph.nodes], len(graph.edges)
    (['w', 'x', 'Mm', 'b', 'Add', 'Tanh', 'Sum'], 6)
    """
    graph = trace(tensor, names=names, show_values=show_values)
    if max_nodes is not None:
        max_nodes = int_arg(max_nodes, "max_nodes", "draw_graph", minimum=2)
    if collapse or (collapse is None and max_nodes is not None and len(graph.nodes) > max_nodes):
        graph = collapse_repeats(graph)
    if max_nodes is not None and len(graph.nodes) > max_nodes:
        graph = keep_nearest(graph, max_nodes)
    if path is not None:
        graph.draw(path, title)
    return graph


def to_dot(tensor: Tensor, *, show_values: bool = False, names=None, collapse: bool | None = None,
           max_nodes: int | None = 60) -> str:
    """The graph ``tensor`` was computed by, as DOT text for graphviz (``dot -Tsvg``); the same
    nodes as ``draw_graph`` with these arguments.

    >>> import chainrule as cr
    >>> x = cr.ones(2, requires_grad=True)
    >>> print(to_dot((x * 3).sum(), names={"x": x}))
    digraph chainrule {
      node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];
      n0 [label="x\\n[2]", fillcolor="#d9ead3"];
      n1 [label="3", fillcolor="#ffffff"];
      n2 [label="Mul\\n[2]", fillcolor="#cfe2f3"];
      n3 [label="Sum\\nscalar", fillcolor="#f9cb9c"];
      n0 -> n2;
      n1 -> n2;
      n2 -> n3;
    }
    """
    return draw_graph(tensor, show_values=show_values, names=names, collapse=collapse,
                      max_nodes=max_nodes).to_dot()


# -- reading the recorded graph ---------------------------------------------------------------------
def trace(tensor: Tensor, names=None, show_values: bool = False) -> Graph:
    """The Graph of every node ``tensor`` was computed from, nothing collapsed."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise ValueError("draw_graph: the tensor has no recorded graph: it does not require grad (none of the "
                         "tensors it was computed from had requires_grad=True, or it was computed under no_grad())")
    leaf_names = _leaf_names(names)

    def key(t):
        return ("op", id(t.grad_fn)) if t.grad_fn is not None else ("leaf", id(t))

    tensors, inputs = {key(tensor): tensor}, {}  # key -> tensor; op key -> parent keys in order
    stack = [tensor]
    while stack:
        t = stack.pop()
        fn = t.grad_fn
        if fn is None:
            continue
        if fn.vjp is None:
            raise RuntimeError(f"draw_graph: the graph through {fn.name} was released by backward(); draw it "
                               "before backward(), or call backward(retain_graph=True)")
        inputs[key(t)] = [key(p) for p in fn.parents]
        for p in fn.parents:
            if key(p) not in tensors:
                tensors[key(p)] = p
                stack.append(p)

    # Ids in reading order: the ops in the order they ran, each leaf just before its first user.
    order = []
    placed = set()
    for k in sorted(inputs, key=lambda k: tensors[k].grad_fn.seq):
        for p in inputs[k]:
            if p[0] == "leaf" and p not in placed:
                placed.add(p)
                order.append(p)
        order.append(k)
    if not order:  # a leaf that requires grad: a graph of one node
        order = [key(tensor)]
    ids = {k: i for i, k in enumerate(order)}
    nodes = [_node(ids[k], tensors[k], k == key(tensor), leaf_names) for k in order]
    edges = list(dict.fromkeys((ids[p], ids[k]) for k in order if k in inputs for p in inputs[k]))
    graph = Graph(nodes, edges, ids[key(tensor)])
    if show_values:
        _fill_values(graph, [tensors[k] for k in order], tensor)
    return graph


def _leaf_names(names) -> dict:
    if names is None:
        return {}
    if isinstance(names, Module):
        named = [*names.named_parameters(), *names.named_buffers()]
    elif isinstance(names, Mapping):
        named = list(names.items())
        bad = next(((k, v) for k, v in named if not isinstance(v, Tensor) or not isinstance(k, str)), None)
        if bad is not None:
            raise TypeError(f"draw_graph: names must map names (str) to Tensors, got {bad[0]!r}: "
                            f"{type(bad[1]).__name__}")
    else:
        raise TypeError(f"draw_graph: names must be None, a Module or a dict of name -> Tensor, "
                        f"got {type(names).__name__}")
    return {id(t): name for name, t in named}


def _node(node_id, t, is_root, leaf_names) -> GraphNode:
    shape = tuple(t.shape)
    if t.grad_fn is not None:
        return GraphNode(node_id, "output" if is_root else "op", t.grad_fn.name, shape)
    if id(t) in leaf_names:
        kind = "parameter" if t.requires_grad else "data"
        return GraphNode(node_id, kind, leaf_names[id(t)], shape)
    if t.requires_grad:
        return GraphNode(node_id, "leaf", "leaf", shape)
    if t._data.size == 1 and t._data.ndim == 0:
        return GraphNode(node_id, "constant", f"{t._data.item():.4g}", shape)
    return GraphNode(node_id, "data", "data", shape)


def _fill_values(graph, tensors, root):
    from chainrule.autograd import grad

    for node, t in zip(graph.nodes, tensors):
        if node.kind != "constant":
            node.value = _value_text(t._data)
    if root._data.size != 1 or root._data.dtype.kind != "f":
        graph.notes.append("no gradients shown: the result is not a scalar of floats")
        return
    wanted = [(node, t) for node, t in zip(graph.nodes, tensors) if t.requires_grad]
    grads = grad(root, [t for _, t in wanted], retain_graph=True, allow_unused=True)
    for (node, _), g in zip(wanted, grads):
        if g is not None:
            node.grad_norm = float(np.sqrt(np.sum(np.square(g._data, dtype=np.float64))))


def _value_text(array) -> str:
    if array.size == 0:
        return "empty"
    if array.dtype.kind not in "biuf":
        return str(array.dtype)
    values = array.astype(np.float64).ravel()
    if values.size <= 4:
        shown = ", ".join(f"{v:.3g}" for v in values)
        return f"= {shown}" if array.ndim == 0 else f"= [{shown}]"
    return f"mean {values.mean():.3g} sd {values.std():.3g}"


def _shape_text(shape) -> str:
    return "scalar" if shape == () else "[" + ", ".join(map(str, shape)) + "]"


def _topological(nodes, parents) -> list:
    """Node ids, each after its parents (Kahn's algorithm: no recursion, any depth)."""
    waiting = {n.id: len(parents[n.id]) for n in nodes}
    users = {n.id: [] for n in nodes}
    for child, ps in parents.items():
        for p in ps:
            users[p].append(child)
    ready = deque(n.id for n in nodes if waiting[n.id] == 0)
    order = []
    while ready:
        n = ready.popleft()
        order.append(n)
        for c in users[n]:
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)
    return order


# -- making a big graph readable --------------------------------------------------------------------
def collapse_repeats(graph: Graph) -> Graph:
    """Draw each block of ops that repeats in consecutive layers (the same ops, fed by the same
    kinds of leaves, one block's output the next one's only input) once, marked xN; its leaves
    are named first ... last. Shapes may differ between repetitions: the block shows the first and
    the last."""
    parents = {n.id: [] for n in graph.nodes}
    children = {n.id: [] for n in graph.nodes}
    for a, b in graph.edges:
        parents[b].append(a)
        children[a].append(b)
    nodes = {n.id: dataclasses.replace(n) for n in graph.nodes}  # the graph given stays as it is
    is_op = {i: n.kind in ("op", "output") for i, n in nodes.items()}

    def weights(n):  # the leaves that make a repetition a layer of its own
        return [p for p in parents[n] if nodes[p].kind in ("parameter", "leaf")]

    def signature(n):
        return nodes[n].name, tuple(nodes[p].kind for p in weights(n))

    merge = {}  # node id -> the id it is drawn as
    blocks = 0
    for chain in _chains(graph, parents, children, is_op):
        sigs = [signature(n) for n in chain]
        i = 0
        while i < len(chain):
            period, times = _longest_repeat(sigs, i)
            if times == 1:
                i += 1
                continue
            first, last = chain[i:i + period], chain[i + (times - 1) * period:i + times * period]
            for r in range(1, times):
                for here, there in zip(first, chain[i + r * period:i + (r + 1) * period]):
                    merge[there] = here
                    for a, b in zip(weights(here), weights(there)):  # the same kinds, by the signature
                        if len(children[b]) == 1:
                            merge[b] = a
            for here, there in zip(first, last):
                nodes[here].repeat, nodes[here].last_shape, nodes[here].block = times, nodes[there].shape, blocks
                for a, b in zip(weights(here), weights(there)):
                    if merge.get(b) == a:
                        nodes[a].block = blocks
                        if nodes[a].name != nodes[b].name:
                            nodes[a].name = f"{nodes[a].name} ... {nodes[b].name}"
                            nodes[a].last_shape = nodes[b].shape
            blocks += 1
            i += period * times
    if not merge:
        return graph
    edges = {}
    for a, b in graph.edges:
        a, b = merge.get(a, a), merge.get(b, b)
        # ids follow the order the ops ran: an op-to-op edge going back is the link from one
        # repetition to the next, which the xN already says
        if not (is_op[a] and a >= b):
            edges[a, b] = None
    kept = [n for i, n in nodes.items() if i not in merge]
    repeated = sum(1 for n in kept if n.repeat > 1)
    notes = [*graph.notes, f"{len(merge)} nodes of {blocks} repeated blocks folded into {repeated} ops marked xN"]
    return Graph(kept, list(edges), graph.root, notes)


def _chains(graph, parents, children, is_op) -> list:
    """Maximal runs of ops in which each op is the only op user of the one before it."""
    def op_parents(n):
        return [p for p in parents[n] if is_op[p]]

    chains, taken = [], set()
    for n in _topological(graph.nodes, parents):
        if not is_op[n] or n in taken:
            continue
        chain = [n]
        while True:
            users = [c for c in children[chain[-1]] if is_op[c]]
            if len(users) != 1 or op_parents(users[0]) != [chain[-1]] or users[0] in taken:
                break
            chain.append(users[0])
        taken.update(chain)
        chains.append(chain)
    return chains


MAX_PERIOD = 32  # the most ops a repeated block may have: the search stays linear in the graph's size


def _longest_repeat(sigs, start) -> tuple:
    """(period, times): the block starting at ``start`` that repeats right after itself and covers
    the most entries; (1, 1) when none does."""
    best = (1, 1)
    for period in range(1, min(MAX_PERIOD, (len(sigs) - start) // 2) + 1):
        times = 1
        block = sigs[start:start + period]
        while sigs[start + times * period:start + (times + 1) * period] == block:
            times += 1
        if times > 1 and period * times > best[0] * best[1]:
            best = (period, times)
    return best


def keep_nearest(graph: Graph, max_nodes: int) -> Graph:
    """The ops nearest the result (fewest ops away), each with the leaves it uses, ``max_nodes - 1``
    nodes at most, and one node saying how many were left out and which ops they were."""
    parents = {n.id: [] for n in graph.nodes}
    for a, b in graph.edges:
        parents[b].append(a)
    is_op = {n.id: n.kind in ("op", "output") for n in graph.nodes}
    kept, frontier = {graph.root, *(p for p in parents[graph.root] if not is_op[p])}, [graph.root]
    while frontier:
        following = []
        for n in frontier:
            for p in parents[n]:
                group = {p, *(q for q in parents[p] if not is_op[q])} - kept if is_op[p] else set()
                if group and len(kept) + len(group) <= max_nodes - 1:
                    kept |= group
                    following.append(p)
        frontier = following
    left_out = [n for n in graph.nodes if n.id not in kept]
    if not left_out:
        return graph
    ops = Counter(n.name for n in left_out if is_op[n.id])
    leaves = len(left_out) - sum(ops.values())
    what = ", ".join(f"{name} x{count}" for name, count in ops.most_common(4)) + (", ..." if len(ops) > 4 else "")
    more_id = max(n.id for n in graph.nodes) + 1
    text = f"{len(left_out)} earlier nodes not drawn\n(ops: {what}; {leaves} leaves)\nmax_nodes={max_nodes}"
    nodes = [GraphNode(more_id, "more", text, ()), *(n for n in graph.nodes if n.id in kept)]
    edges = [(a, b) for a, b in graph.edges if a in kept and b in kept]
    edges += list(dict.fromkeys((more_id, b) for a, b in graph.edges if a not in kept and b in kept))
    return Graph(nodes, edges, graph.root, [*graph.notes, text.replace("\n", " ")])


# -- the picture ------------------------------------------------------------------------------------
CHAR_WIDTH, LINE_HEIGHT = 0.072, 0.17  # inches, at the 8-point font of the boxes


def _box(node) -> tuple:
    lines = node.label.split("\n")
    return max(len(line) for line in lines) * CHAR_WIDTH + 0.3, len(lines) * LINE_HEIGHT + 0.16


def _positions(graph) -> dict:
    """Each node's centre in inches (y grows upwards; the leaves on top)."""
    layer = graph.layers()
    rows = {}
    for n in graph.nodes:
        rows.setdefault(layer[n.id], []).append(n.id)
    # (neighbour, weight): an op's place follows the ops it links more than its leaves, so a chain
    # of ops runs straight down with its parameters beside it
    neighbours = {n.id: [] for n in graph.nodes}
    is_op = {n.id: n.kind in ("op", "output") for n in graph.nodes}
    for a, b in graph.edges:
        weight = 4 if is_op[a] and is_op[b] else 1
        neighbours[a].append((b, weight))
        neighbours[b].append((a, weight))
    size = {n.id: _box(n) for n in graph.nodes}
    gap_x, gap_y = 0.35, 0.45
    x = {}
    for row in rows.values():  # first guess: each layer centred
        left = -(sum(size[n][0] for n in row) + gap_x * (len(row) - 1)) / 2
        for n in row:
            x[n] = left + size[n][0] / 2
            left += size[n][0] + gap_x
    # Then each node moves towards the mean place of its neighbours (fewer crossings, straight
    # chains), its layer keeping the boxes apart; a few sweeps down and up settle it.
    levels = sorted(rows)
    for sweep in range(8):
        for level in levels if sweep % 2 == 0 else levels[::-1]:
            row = rows[level]
            wanted = {n: sum(x[m] * w for m, w in neighbours[n]) / sum(w for _, w in neighbours[n])
                      if neighbours[n] else x[n] for n in row}
            row.sort(key=lambda n: wanted[n])
            placed = [wanted[row[0]]]
            for a, b in itertools.pairwise(row):
                placed.append(max(wanted[b], placed[-1] + (size[a][0] + size[b][0]) / 2 + gap_x))
            pull = [4 if is_op[n] else 1 for n in row]  # the ops keep their places first
            shift = sum(p * (wanted[n] - v) for n, v, p in zip(row, placed, pull)) / sum(pull)
            for n, value in zip(row, placed):
                x[n] = value + shift
    y, position = 0.0, {}
    for level in levels:
        height = max(size[n][1] for n in rows[level])
        for n in rows[level]:
            position[n] = (x[n], y - height / 2)
        y -= height + gap_y
    return position


def _figure(graph, title):
    from matplotlib.patches import FancyArrowPatch, Patch

    from chainrule.diagnostics import new_figure

    position = _positions(graph)
    size = {n.id: _box(n) for n in graph.nodes}
    left = min(x - size[n][0] / 2 for n, (x, _) in position.items())
    right = max(x + size[n][0] / 2 for n, (x, _) in position.items())
    left -= 0.6 if any(n.block is not None for n in graph.nodes) else 0  # room for a block's xN
    bottom = min(y - size[n][1] / 2 for n, (_, y) in position.items())
    header = 0.75  # title and legend
    width, height = max(right - left + 0.4, 5.0), -bottom + 0.3 + header
    fig = new_figure(width, height)
    fig.set_layout_engine("none")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-width / 2 + (left + right) / 2, width / 2 + (left + right) / 2)
    ax.set_ylim(bottom - 0.2, header)
    ax.axis("off")
    boxes = {}
    for n in graph.nodes:
        x, y = position[n.id]
        text = ax.text(x, y, n.label, ha="center", va="center", fontsize=8, zorder=2,
                       bbox=dict(boxstyle="round,pad=0.35", fc=COLORS[n.kind], ec="#666666", lw=0.8,
                                 ls="--" if n.kind in ("constant", "more") else "-"))
        boxes[n.id] = text
    for a, b in graph.edges:
        # drawn after the boxes, whose frames it is clipped to
        ax.add_patch(FancyArrowPatch(position[a], position[b], patchA=boxes[a].get_bbox_patch(),
                                     patchB=boxes[b].get_bbox_patch(), arrowstyle="-|>", mutation_scale=9,
                                     color="#555555", lw=0.8, shrinkA=1, shrinkB=1, zorder=3))
    for block in sorted({n.block for n in graph.nodes if n.block is not None}):
        # a bracket left of the block's ops, from the first to the last, saying how often it repeats
        members = [n for n in graph.nodes if n.block == block and n.kind in ("op", "output")]
        x0 = min(position[n.id][0] - size[n.id][0] / 2 for n in members) - 0.15
        y0 = min(position[n.id][1] - size[n.id][1] / 2 for n in members)
        y1 = max(position[n.id][1] + size[n.id][1] / 2 for n in members)
        ax.plot([x0 + 0.08, x0, x0, x0 + 0.08], [y1, y1, y0, y0], color="#888888", lw=1, zorder=1)
        ax.text(x0 - 0.06, (y0 + y1) / 2, f"x{members[0].repeat}", ha="right", va="center", fontsize=9,
                color="#444444")
    ops, leaves = len(graph.ops), sum(n.kind not in ("op", "output", "more") for n in graph.nodes)
    ax.set_title(title or f"computational graph of {graph.node(graph.root).name}: {ops} ops, {leaves} leaves drawn",
                 y=1 - 0.3 / height, fontsize=10)
    kinds = [k for k in LEGEND if any(n.kind == k for n in graph.nodes)]
    ax.legend(handles=[Patch(fc=COLORS[k], ec="#666666", label=LEGEND[k]) for k in kinds], loc="upper center",
              bbox_to_anchor=(0.5, 1 - 0.4 / height), ncol=len(kinds), fontsize=7, frameon=False)
    return fig
