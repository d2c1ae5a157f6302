"""The reverse-mode engine: ops record nodes; backward walks them in reverse topological order,
applying each node's vector-Jacobian product (the chain rule) and accumulating into leaves."""

import itertools
import os
import sys
import traceback
from heapq import heappop, heappush

from chainrule._backend import xp
from chainrule.autograd.mode import state
from chainrule.tensor import Tensor

# Ops record nodes in execution order, so a node's parents always carry smaller numbers:
# sorting by it gives a topological order without a recursive walk.
_sequence = itertools.count()


class Node:
    """One recorded op: its name, its VJP closure and the tensors it was computed from.

    ``vjp(g)`` takes the gradient of the op's output and returns one gradient per parent, in order
    (None where no gradient flows); gradients for parents that do not require grad are ignored.
    Backward without ``retain_graph`` releases both, freeing every array the closure captured.
    """

    __slots__ = ("name", "origin", "parents", "seq", "vjp")

    def __init__(self, name, parents, vjp):
        self.name = name
        self.parents = parents
        self.vjp = vjp
        self.seq = next(_sequence)
        self.origin = None  # where the op was called, recorded under detect_anomaly()

    def __repr__(self):
        released = " (released)" if self.vjp is None else ""
        return f"<{self.name}Backward{released}>"


def record(name, data, parents, vjp):
    """Wrap an op's result in a tensor that remembers how to send gradients to its parents.

    Ops call this only when grad mode is on and some parent requires grad.
    """
    node = Node(name, parents, vjp)
    if state.anomaly:
        _check_forward(node, data)
    return Tensor._make(data, True, node)


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _caller_outside_chainrule():
    """'file:line in function' of the innermost frame that is not chainrule's own code."""
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return "unknown location"


def _check_forward(node, data):
    node.origin = _caller_outside_chainrule()
    if data.dtype.kind == "f" and not xp.isfinite(data).all():
        raise FloatingPointError(
            f"detect_anomaly: forward of {node.name} (called at {node.origin}) produced a non-finite value"
        )


def _refcount(array):
    return sys.getrefcount(array)


def _refcount_in_callee(array):
    return _refcount(array)


def _calibrate_sole_owner():
    array = xp.empty(1)  # held by this frame alone, as _run holds a gradient it popped
    return _refcount_in_callee(array)  # seen from one call down, as _accumulate sees it


def _base_refcount(view):
    base = view.base
    return _refcount(base)


# The count a gradient shows in _accumulate when only _run's local variable holds it: such a
# gradient may become a leaf's .grad without a copy (PyTorch's AccumulateGrad steals the same way).
_SOLE_OWNER = _calibrate_sole_owner()
# The count the base of a view shows when nothing but the view holds it: a gradient that is a
# whole-array view of a fresh product (as ``(a @ b).T`` is) may then be kept uncopied too.
_SOLE_BASE = _base_refcount(xp.empty((1, 2)).T)


def _view_of_own_base(g):
    """Whether g views the whole of an array that only g holds (a transposed product)."""
    base = g.base
    if type(base) is not xp.ndarray or base.base is not None or base.size != g.size:
        return False
    del base  # a reference of our own would hide whether anything else holds it
    return _base_refcount(g) <= _SOLE_BASE


def _sum_to(grad, shape, name):
    """Sum a broadcast gradient back to an input's shape (the rule every broadcasting op shares)."""
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    if extra < 0 or grad.shape != shape:
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1) if extra >= 0 else ()
        if axes:
            grad = grad.sum(axis=axes, keepdims=True)
        if grad.shape != shape:
            raise RuntimeError(
                f"backward of {name}: produced a gradient of shape {grad.shape} "
                f"for an input of shape {shape}"
            )
    return grad


def _check_root(tensor, gradient, where):
    if not tensor.requires_grad:
        raise RuntimeError(
            f"{where}: the tensor does not require grad: none of the tensors it was computed "
            "from had requires_grad=True, or it was computed under no_grad()"
        )
    data = tensor.data
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(
                f"{where}: a gradient can be created implicitly only for a scalar output; "
                f"this output has shape {data.shape}: pass gradient= of that shape"
            )
        # a scalar loss is 0-d: xp.array is a quarter of ones_like's cost there
        return xp.array(1, dtype=data.dtype) if data.ndim == 0 else xp.ones_like(data)
    gradient = xp.asarray(getattr(gradient, "data", gradient), dtype=data.dtype)
    if gradient.shape != data.shape:
        raise ValueError(
            f"{where}: gradient has shape {gradient.shape}, expected the output's shape {data.shape}"
        )
    return gradient


def _run(roots, root_grads, retain_graph, capture=None):
    """Propagate root_grads back through the graph (see ``_propagate``), with NumPy's floating-point
    warnings off: a backward rule meets 0 * inf or 1 / 0 exactly where PyTorch's gives nan or inf
    silently (sqrt or log at 0, 0 ** 0, a division by zero), and those values are the answer."""
    with xp.errstate(all="ignore"):
        _propagate(roots, root_grads, retain_graph, capture)


def _propagate(roots, root_grads, retain_graph, capture):
    """Propagate root_grads back through the graph.

    With ``capture`` (a dict keyed by the wanted tensors), gradients reaching those tensors are
    stored there and no ``.grad`` is touched; otherwise leaves accumulate into ``.grad``.

    One pass: a max-heap on the nodes' sequence numbers hands out the computed tensor recorded
    last among those holding a gradient, so every tensor has all its gradient contributions when
    its turn comes, and only the part of the graph that gradients reach is visited.
    """
    grads = {}
    ready = []  # (-sequence number, tensor): computed tensors holding a gradient
    leaves = []
    for root, g in zip(roots, root_grads):
        _receive(grads, ready, leaves, root, g)
    anomaly = state.anomaly
    while ready:
        tensor = heappop(ready)[1]
        g = grads.pop(tensor)
        node = tensor.grad_fn
        vjp = node.vjp
        if vjp is None:
            raise RuntimeError(
                f"backward through {node.name}: its graph was already released by an earlier "
                "backward(); pass retain_graph=True to the first backward to run it again"
            )
        if tensor._hooks:
            g = _run_hooks(tensor, g)
        if capture is not None:
            if tensor in capture:
                capture[tensor] = _as_gradient(g, tensor)
        elif tensor._retains_grad:
            _accumulate(tensor, g)
        parents = node.parents
        if not retain_graph:
            node.vjp = None
            node.parents = ()
        for parent, pg in zip(parents, vjp(g)):
            if pg is None or not parent.requires_grad:
                continue
            data = parent.data
            if pg.shape != data.shape:
                pg = _sum_to(pg, data.shape, node.name)
            if pg.dtype != data.dtype:
                pg = pg.astype(data.dtype)
            if anomaly and not xp.isfinite(pg).all():
                where = f" (called at {node.origin})" if node.origin else ""
                raise FloatingPointError(
                    f"detect_anomaly: backward of {node.name}{where} produced a non-finite gradient "
                    f"for its input of shape {data.shape}"
                )
            _receive(grads, ready, leaves, parent, pg)
    # The loop's last gradients must not stay referenced here, or _accumulate would copy them.
    g = pg = parents = None
    for leaf in leaves:
        g = grads.pop(leaf)
        if leaf._hooks:
            g = _run_hooks(leaf, g)
        if capture is None:
            _accumulate(leaf, g)
        elif leaf in capture:
            capture[leaf] = _as_gradient(g, leaf)


def _receive(grads, ready, leaves, tensor, g):
    """Add gradient g to what tensor has received; a tensor's first gradient puts it in line:
    on the heap if it was computed, among the leaves otherwise."""
    previous = grads.get(tensor)
    if previous is not None:
        grads[tensor] = previous + g
        return
    grads[tensor] = g
    node = tensor.grad_fn
    if node is None:
        leaves.append(tensor)
    else:
        heappush(ready, (-node.seq, tensor))


def _run_hooks(tensor, g):
    for hook in tuple(tensor._hooks):
        replaced = hook(g)
        if replaced is not None:
            g = _check_hook_result(replaced, tensor)
    return g


def _as_gradient(g, tensor):
    """A gradient as an ndarray of the tensor's shape (VJPs on 0-d data may give NumPy scalars)."""
    if type(g) is not xp.ndarray:
        g = xp.asarray(g, dtype=tensor.data.dtype)
    return g


def _check_hook_result(result, tensor):
    result = xp.asarray(getattr(result, "data", result))
    if result.shape != tensor.data.shape:
        raise ValueError(
            f"register_hook: a hook returned a gradient of shape {result.shape}, "
            f"expected the tensor's shape {tensor.data.shape}"
        )
    return result.astype(tensor.data.dtype, copy=False)


def _accumulate(tensor, g):
    g = _as_gradient(g, tensor)
    if tensor.grad is None:
        # Keep the engine's array when nothing else can see it; otherwise copy, so that in-place
        # updates of one .grad (clipping, optimizers) never leak into another.
        if (_refcount(g) > _SOLE_OWNER or not g.flags.writeable
                or (g.base is not None and not _view_of_own_base(g))):
            g = xp.array(g, copy=True)  # in g's own memory order (order="K")
        tensor.grad = g
    else:
        tensor.grad += g


def backward(tensor, gradient=None, retain_graph=False):
    """Accumulate d(tensor)/d(leaf) into every leaf's ``.grad`` (see ``Tensor.backward``)."""
    root_grad = _check_root(tensor, gradient, "backward")
    _run((tensor,), (root_grad,), retain_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as arrays; ``.grad`` untouched.

    >>> import chainrule
    >>> x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    >>> (dx,) = chainrule.autograd.grad((x * x).sum(), x)
    >>> dx
    array([2., 4.], dtype=float32)
    >>> x.grad is None
    True
    """
    single_output = isinstance(outputs, Tensor)
    outputs = (outputs,) if single_output else tuple(outputs)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif single_output and not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs"
        )
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"grad: input {i} is not a tensor that requires grad")
    root_grads = [_check_root(o, g, "grad") for o, g in zip(outputs, grad_outputs)]
    capture = dict.fromkeys(inputs)
    _run(outputs, root_grads, retain_graph, capture)
    result = []
    for i, x in enumerate(inputs):
        g = capture[x]
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {x.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        result.append(g)
    return tuple(result)
