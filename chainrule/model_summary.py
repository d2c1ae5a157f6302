"""A model summary as torchinfo and Keras print it: one forward pass on a sample batch, watched by
forward hooks, gives every layer's output shape; with the parameter counts, the trainable flags and
the memory a batch takes (parameters, their gradients, the layers' outputs)."""

import dataclasses
import math
import sys
from collections.abc import Mapping

import numpy as np

from chainrule import _backend
from chainrule._arguments import int_arg, is_int
from chainrule._tensor import Tensor, as_dtype
from chainrule.autograd import no_grad
from chainrule.nn.module import Module

MB = 1e6  # bytes in a megabyte, as torchinfo counts them


@dataclasses.dataclass
class LayerRow:
    """One module of the model: ``name`` its path (``"1.0"``; ``""`` for the model itself), ``type``
    its class, ``depth`` its nesting (0 for the model), ``output_shape`` the shape of its output in
    the forward pass (a tuple of ints; a list of them, nested as the output is, for a tuple output
    such as an LSTM's; None if the forward pass did not call it), ``params`` and ``trainable_params``
    the parameters it and its sub-modules hold, ``own_params`` those it holds itself, ``calls`` how
    often the forward pass called it and ``output_bytes`` the memory of all its outputs."""

    name: str
    type: str
    depth: int
    output_shape: object
    params: int
    trainable_params: int
    own_params: int
    calls: int
    output_bytes: int
    is_leaf: bool

    @property
    def trainable(self) -> str:
        """"yes", "no", "partial", or "--" for a layer without parameters."""
        if self.params == 0:
            return "--"
        if self.trainable_params == self.params:
            return "yes"
        return "no" if self.trainable_params == 0 else "partial"


@dataclasses.dataclass
class ModelSummary:
    """What ``summary`` found: ``rows`` (every module, the model first, depth first) and the totals.
    ``str()`` is the table; ``depth`` and ``verbose`` say how much of it is shown. Memory in bytes:
    ``input_bytes``, ``param_bytes``, ``grad_bytes`` (one gradient per trainable parameter),
    ``activation_bytes`` (the outputs of every layer without sub-layers, over one forward pass),
    ``buffer_bytes`` (running statistics and other buffers); ``*_mb`` gives them in MB (10^6 bytes)."""

    model_type: str
    input_shapes: list
    input_dtypes: list
    rows: list
    total_params: int
    trainable_params: int
    input_bytes: int
    param_bytes: int
    grad_bytes: int
    activation_bytes: int
    buffer_bytes: int
    parameters: list  # (name, shape, count, trainable) of every parameter, for verbose=2
    depth: int = 3
    verbose: int = 1

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.param_bytes + self.grad_bytes + self.activation_bytes + self.buffer_bytes

    def __getattr__(self, name):
        if name.endswith("_mb") and not name.startswith("_"):
            return getattr(self, name[:-3] + "_bytes") / MB
        raise AttributeError(f"'ModelSummary' object has no attribute {name!r}")

    def row(self, name: str) -> LayerRow:
        """The row of the module at path ``name`` (``""``: the model)."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"ModelSummary.row: no module named {name!r}; the model has {[r.name for r in self.rows]}")

    def __str__(self) -> str:
        return _table(self)

    def __repr__(self) -> str:  # a notebook shows the table, as torchinfo's ModelStatistics does
        return _table(self)


def summary(model: Module, input_size=None, *, input_data=None, dtypes=None, batch_dim: int | None = None,
            depth: int = 3, verbose: int | None = None) -> ModelSummary:
    """Summarise ``model``: one forward pass (in eval mode, without recording a graph) on
    ``input_data``, or on a batch of ``input_size`` made up here, gives each layer's output shape.

    torchinfo's conventions: ``input_size`` is the shape of the input including the batch (a list
    of shapes for a model that takes several inputs); with ``batch_dim`` the shapes leave out the
    batch and a batch of 1 is inserted at that dimension. ``dtypes``: one per input (default: the
    default dtype; integer inputs, such as an Embedding's indices, are zeros, floats standard
    normal draws from a generator of its own, so the global seed is untouched). ``input_data``:
    a tensor or array, a list of them (positional inputs) or a dict (keyword inputs). ``depth``:
    the nesting shown (deeper modules are counted in their shown parent). ``verbose``: 0 prints
    nothing, 1 prints the table (the default, except in a notebook, which shows the returned
    object), 2 also lists every parameter. The model's train/eval flags are restored afterwards.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))
    >>> stats = cr.summary(model, (4, 2), verbose=0)
    >>> stats.row("0").output_shape, stats.row("0").params, stats.total_params
    ((4, 2), 6, 9)
    >>> print(stats)  # doctest: +ELLIPSIS
    Sequential: input (4, 2) float32
    ==================================================
    Layer (type)    Output shape   Param #   Trainable
    ==================================================
    Sequential      [4, 1]         --        yes
      0 (Linear)    [4, 2]         6         yes
      1 (Sigmoid)   [4, 2]         --        --
      2 (Linear)    [4, 1]         3         yes
    ==================================================
    Total params: 9
    Trainable params: 9
    Non-trainable params: 0
    --------------------------------------------------
    Input size (MB): 0.000032
    Parameters size (MB): 0.000036
    Gradients size (MB): 0.000036
    Forward activations size (MB): 0.000080
    Estimated total size (MB): 0.00018
    ==================================================
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be a chainrule.nn.Module, got {type(model).__name__}")
    depth = int_arg(depth, "depth", "summary", minimum=0)
    if verbose is None:
        verbose = 0 if "ipykernel" in sys.modules else 1
    verbose = int_arg(verbose, "verbose", "summary", minimum=0, maximum=2)
    args, kwargs = _inputs(input_size, input_data, dtypes, batch_dim)
    inputs = [*args, *kwargs.values()]

    modules = list(model.named_modules())
    calls = {id(m): [] for _, m in modules}  # each call's output
    handles = []
    flags = [m.training for _, m in modules]
    try:
        def watch(module, _args, out):
            calls[id(module)].append(_shape_and_bytes(out))

        handles = [module.register_forward_hook(watch) for _, module in modules]
        model.eval()
        with no_grad():
            try:
                model(*args, **kwargs)
            except Exception as err:
                shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
                err.add_note(f"summary: the forward pass of {type(model).__name__} on input of shape {shapes} failed")
                raise
    finally:
        for handle in handles:
            handle.remove()
        for (_, module), flag in zip(modules, flags):
            module.training = flag

    rows = []
    for name, module in modules:
        params = list(module.parameters())
        seen = calls[id(module)]
        leaf = not any(True for _ in module.children())
        rows.append(LayerRow(
            name=name, type=type(module).__name__, depth=name.count(".") + 1 if name else 0,
            output_shape=seen[0][0] if seen else None,
            params=sum(p._data.size for p in params),
            trainable_params=sum(p._data.size for p in params if p.requires_grad),
            own_params=sum(p._data.size for p in module.parameters(recurse=False)),
            calls=len(seen), output_bytes=sum(nbytes for _, nbytes in seen), is_leaf=leaf,
        ))
    named = list(model.named_parameters())
    parameters = [(n, tuple(p.shape), int(p._data.size), bool(p.requires_grad)) for n, p in named]
    result = ModelSummary(
        model_type=type(model).__name__,
        input_shapes=[tuple(t.shape) for t in inputs], input_dtypes=[str(t.dtype) for t in inputs],
        rows=rows,
        total_params=sum(count for _, _, count, _ in parameters),
        trainable_params=sum(count for _, _, count, trainable in parameters if trainable),
        input_bytes=sum(t._data.nbytes for t in inputs),
        param_bytes=sum(p._data.nbytes for _, p in named),
        grad_bytes=sum(p._data.nbytes for _, p in named if p.requires_grad),
        activation_bytes=sum(row.output_bytes for row in rows if row.is_leaf),
        buffer_bytes=sum(b._data.nbytes for _, b in model.named_buffers()),
        parameters=parameters, depth=depth, verbose=verbose,
    )
    if verbose:
        print(result)
    return result


def run_summary(run_dir, batch_size: int | None = None, depth: int = 3) -> ModelSummary:
    """The summary of a run folder's network (``chainrule summary RUN``) on a batch of the run's
    input shape and batch size (or ``batch_size``); its config.json is all it needs."""
    from chainrule.runs import build_model, read_config

    config, extra = read_config(run_dir)
    batch = config.batch_size if batch_size is None else int_arg(batch_size, "batch_size", "run_summary")
    model = build_model(config, extra["input_shape"], extra["n_outputs"])
    return summary(model, (batch, *extra["input_shape"]), depth=depth, verbose=0)


def _inputs(input_size, input_data, dtypes, batch_dim) -> tuple:
    """``(args, kwargs)`` of Tensors to call the model with."""
    if (input_size is None) == (input_data is None):
        raise ValueError("summary: pass either input_size (the input's shape, batch included) or input_data, "
                         f"got {'neither' if input_size is None else 'both'}")
    if batch_dim is not None and not is_int(batch_dim):
        raise TypeError(f"summary: batch_dim must be None or an integer, got {batch_dim!r}")
    if input_data is not None:
        if isinstance(input_data, Mapping):
            kwargs = {k: _as_tensor(v, f"input_data[{k!r}]", batch_dim) for k, v in input_data.items()}
            return [], kwargs
        many = isinstance(input_data, (list, tuple))
        values = input_data if many else [input_data]
        return [_as_tensor(v, f"input_data[{i}]" if many else "input_data", batch_dim)
                for i, v in enumerate(values)], {}
    sizes = _sizes(input_size)
    if dtypes is None:
        dtypes = [_backend.get_default_dtype()] * len(sizes)
    elif not isinstance(dtypes, (list, tuple)) or len(dtypes) != len(sizes):
        raise ValueError(f"summary: dtypes must be a list of one dtype per input ({len(sizes)}), got {dtypes!r}")
    rng = np.random.default_rng(0)
    args = []
    for size, dtype in zip(sizes, dtypes):
        if batch_dim is not None:
            size = list(size)
            size.insert(batch_dim if batch_dim >= 0 else len(size) + batch_dim + 1, 1)
        dtype = as_dtype(dtype, "summary")
        array = rng.standard_normal(size).astype(dtype) if dtype.kind in "fc" else np.zeros(size, dtype)
        args.append(Tensor._make(array, False, None))
    return args, {}


def _sizes(input_size) -> list:
    """input_size as a list of shapes: (3, 4) is one input, [(3, 4), (3, 2)] two."""
    def is_shape(value):
        return isinstance(value, (list, tuple)) and all(is_int(n) for n in value)

    if is_shape(input_size) and input_size:
        sizes = [tuple(input_size)]
    elif isinstance(input_size, (list, tuple)) and input_size and all(is_shape(s) for s in input_size):
        sizes = [tuple(s) for s in input_size]
    else:
        raise ValueError(f"summary: input_size must be a shape such as (64, 784), batch included, or a list of "
                         f"shapes, one per input; got {input_size!r}"[:300])
    for size in sizes:
        if any(n < 1 for n in size):
            raise ValueError(f"summary: input_size {size} has a size below 1")
    return sizes


def _as_tensor(value, what, batch_dim):
    if not isinstance(value, Tensor):
        try:
            value = Tensor._make(np.asarray(value), False, None)
        except (TypeError, ValueError):
            raise TypeError(f"summary: {what} must be a Tensor or an array, got {type(value).__name__}") from None
    return value.unsqueeze(batch_dim) if batch_dim is not None else value


def _shape_and_bytes(out) -> tuple:
    """(shape, bytes) of a module's output: a tuple of ints for a tensor, a list for a tuple or
    list of outputs (nested as they are); None for anything else."""
    if isinstance(out, Tensor):
        return tuple(out.shape), out._data.nbytes
    if isinstance(out, (tuple, list)):
        parts = [_shape_and_bytes(o) for o in out]
        return [shape for shape, _ in parts], sum(nbytes for _, nbytes in parts)
    if isinstance(out, Mapping):
        return _shape_and_bytes(list(out.values()))
    return None, 0


def format_shape(shape) -> str:
    """[4, 2] for a tensor's shape; ([4, 5, 8], ([1, 4, 8], [1, 4, 8])) for a tuple output."""
    if shape is None:
        return "--"
    if isinstance(shape, tuple):
        return "[" + ", ".join(map(str, shape)) + "]"
    return "(" + ", ".join(format_shape(s) for s in shape) + ")"


def _table(stats: ModelSummary) -> str:
    shown = [row for row in stats.rows if row.depth <= stats.depth]
    lines = []
    for row in shown:
        has_shown_children = any(
            other.depth == row.depth + 1 and (row.name == "" or other.name.startswith(row.name + "."))
            for other in shown)
        # A row whose sub-layers are shown counts only what it holds itself: the column then adds up to the total.
        count = row.own_params if has_shown_children else row.params
        name = row.type if row.depth == 0 else f"{'  ' * row.depth}{row.name} ({row.type})"
        shape = format_shape(row.output_shape)
        if row.calls > 1:
            shape += f" x{row.calls} calls"
        lines.append((name, shape, f"{count:,}" if count else "--", row.trainable))
        if stats.verbose >= 2 and row.is_leaf:
            prefix = f"{row.name}." if row.name else ""
            for pname, pshape, pcount, trainable in stats.parameters:
                if pname.startswith(prefix) and "." not in pname[len(prefix):]:
                    lines.append((f"{'  ' * (row.depth + 1)}{pname[len(prefix):]}", format_shape(pshape),
                                  f"{pcount:,}", "yes" if trainable else "no"))
    header = ("Layer (type)", "Output shape", "Param #", "Trainable")
    widths = [max(len(line[i]) for line in [header, *lines]) + 3 for i in range(4)]
    widths[-1] -= 3

    def fmt(cells):
        return "".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    rule = "=" * sum(widths)
    inputs = ", ".join(f"{shape} {dtype}" for shape, dtype in zip(stats.input_shapes, stats.input_dtypes))
    out = [f"{stats.model_type}: input {inputs}", rule, fmt(header), rule, *(fmt(line) for line in lines), rule,
           f"Total params: {stats.total_params:,}", f"Trainable params: {stats.trainable_params:,}",
           f"Non-trainable params: {stats.non_trainable_params:,}", "-" * len(rule)]
    memory = [("Input size", stats.input_bytes), ("Parameters size", stats.param_bytes),
              ("Gradients size", stats.grad_bytes), ("Forward activations size", stats.activation_bytes)]
    if stats.buffer_bytes:
        memory.append(("Buffers size", stats.buffer_bytes))
    memory.append(("Estimated total size", stats.total_bytes))
    out += [f"{label} (MB): {_megabytes(nbytes)}" for label, nbytes in memory]
    out.append(rule)
    return "\n".join(out)


def _megabytes(nbytes: int) -> str:
    mb = nbytes / MB
    # two significant digits below 1 MB: a small network's memory is not 0.00
    return f"{mb:.2f}" if mb >= 1 or mb == 0 else f"{mb:.{max(2, 1 - math.floor(math.log10(mb)))}f}"
