"""The reverse-mode engine: ops record nodes; backward walks them in reverse topological order,
applying each node's vector-Jacobian product (the chain rule) and accumulating into leaves."""

import itertools
import os
import sys
import traceback
from heapq import heappop, heappush

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.mode import state

# Ops record nodes in execution order, so a node's parents always carry smaller numbers:
# sorting by it gives a topological order without a recursive walk.
_sequence = itertools.count()


class _Output:
    """Marks, in an op's saved values, the op's own output (a node cannot hold its output tensor
    without a reference cycle; the engine hands it over at backward)."""

    __slots__ = ()

    def __repr__(self):
        return "OUTPUT"


OUTPUT = _Output()


class Node:
    """One recorded op: its name, its VJP rule, the tensors it was computed from and the values
    the rule needs.

    ``vjp(g, *saved)`` takes the gradient of the op's output and the saved values and returns one
    gradient per parent, in order (None where no gradient flows). The rule is written once against
    functions that take arrays or tensors (``chainrule.ops.either``): first-order backward calls it
    with arrays (``arrays``, fixed at record time), ``create_graph`` with the tensors themselves
    (``saved``, or ``remake(*parents)`` for an op whose saved values are intermediates), so the
    gradient it computes is recorded and can be differentiated again. Backward without
    ``retain_graph`` releases all of it, freeing every array the node held.
    """

    # The hot attributes are slots, set for every node; the rare ones (``remake``; ``previous``, the
    # tensor holding the value an in-place op modified; ``origin``, where the op was called under
    # detect_anomaly()) live in the instance dict only when set, and read as the class's None.
    __slots__ = ("__dict__", "arrays", "name", "parents", "saved", "seq", "stamp", "vjp")
    remake = previous = origin = None

    def __init__(self, name, parents, vjp, saved, arrays):
        self.name = name
        self.parents = parents
        self.vjp = vjp
        self.saved = saved
        self.arrays = arrays
        self.seq = next(_sequence)
        self.stamp = state.inplace_ops  # in-place ops so far: a saved tensor modified later has a later stamp

    def __repr__(self):
        released = " (released)" if self.vjp is None else ""
        return f"<{self.name}Backward{released}>"


def record(name, data, parents, vjp, saved=None, remake=None):
    """Wrap an op's result in a tensor that remembers how to send gradients to its parents.

    ``saved``: what ``vjp`` needs besides the output gradient, in order: tensors (passed as their
    arrays to first-order backward, as themselves under create_graph), ``OUTPUT`` for the result,
    or constants (arrays of indices or masks, numbers, None) passed as they are; ``saved=None``
    marks an op whose rule cannot be differentiated again (create_graph raises, naming it). ``remake``, for
    an op that saves intermediates computed from its inputs, rebuilds the saved values from the
    parent tensors under create_graph with the same functions the forward used. Ops call this
    only when ``needs_graph`` says so.
    """
    arrays = []
    for s in saved or ():  # a plain loop: cheaper than a comprehension's frame on Python 3.11
        arrays.append(s._data if isinstance(s, Tensor) else data if s is OUTPUT else s)
    node = Node(name, parents, vjp, saved, arrays)
    if remake is not None:
        node.remake = remake
    if state.anomaly:
        _check_forward(node, data)
    return Tensor._make(data, True, node)


def needs_graph(*tensors) -> bool:
    """Whether an op on these tensors must record a node: grad mode is on and one of them (None
    allowed, for an optional weight or bias) requires grad."""
    if state.grad_enabled:
        for t in tensors:
            if t is not None and t.requires_grad:
                return True
    return False


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


def _check_root(tensor, gradient, where, create_graph):
    """The gradient backward starts from at ``tensor``: an array, or a Tensor under create_graph
    (a Tensor passed in may itself require grad: the result is then differentiable in it too)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{where}: outputs must be Tensors, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise RuntimeError(
            f"{where}: the tensor does not require grad: none of the tensors it was computed "
            "from had requires_grad=True, or it was computed under no_grad()"
        )
    data = tensor._data
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(
                f"{where}: a gradient can be created implicitly only for a scalar output; "
                f"this output has shape {data.shape}: pass gradient= of that shape"
            )
        # a scalar loss is 0-d: xp.array is a quarter of ones_like's cost there
        root = xp.array(1, dtype=data.dtype) if data.ndim == 0 else xp.ones_like(data)
        return Tensor._make(root, False, None) if create_graph else root
    if create_graph and isinstance(gradient, Tensor):
        if gradient.shape != data.shape:
            raise ValueError(
                f"{where}: gradient has shape {gradient.shape}, expected the output's shape {data.shape}"
            )
        return gradient if gradient.dtype == data.dtype else gradient.to(data.dtype)
    root = xp.asarray(gradient._data if isinstance(gradient, Tensor) else gradient, dtype=data.dtype)
    if root.shape != data.shape:
        raise ValueError(
            f"{where}: gradient has shape {root.shape}, expected the output's shape {data.shape}"
        )
    return Tensor._make(root, False, None) if create_graph else root


def _run(roots, root_grads, retain_graph, create_graph, capture=None):
    """Propagate root_grads back through the graph (see ``_propagate``), recording the gradient
    computation only under create_graph, and with NumPy's floating-point warnings off: a backward
    rule meets 0 * inf or 1 / 0 exactly where PyTorch's gives nan or inf silently (sqrt or log at
    0, 0 ** 0, a division by zero), and those values are the answer."""
    previous = state.grad_enabled
    state.grad_enabled = create_graph
    if _floating_point_state is None:
        try:
            with xp.errstate(all="ignore"):
                _propagate(roots, root_grads, retain_graph, create_graph, capture)
        finally:
            state.grad_enabled = previous
        return
    token = _floating_point_state.set(_QUIET)
    try:
        _propagate(roots, root_grads, retain_graph, create_graph, capture)
    finally:
        _floating_point_state.reset(token)
        state.grad_enabled = previous


def _quiet_floating_point_state():
    """NumPy's context variable for its floating-point error handling and the value of it that
    ``errstate(all="ignore")`` sets, made once: setting it directly costs a small part of entering
    a new ``errstate`` on every backward (~10k instructions, 2% of an XOR step). (None, None)
    where NumPy keeps it elsewhere; ``_run`` then enters ``errstate``."""
    try:
        from numpy._core._ufunc_config import _extobj_contextvar
    except ImportError:
        return None, None
    with xp.errstate(all="ignore"):
        return _extobj_contextvar, _extobj_contextvar.get()


_floating_point_state, _QUIET = _quiet_floating_point_state()


def _propagate(roots, root_grads, retain_graph, create_graph, capture):
    """Propagate root_grads back through the graph.

    With ``capture`` (a dict keyed by the wanted tensors), gradients reaching those tensors are
    stored there and no ``.grad`` is touched; otherwise leaves accumulate into ``.grad``.

    One pass: a max-heap on the nodes' sequence numbers hands out the computed tensor recorded
    last among those holding a gradient, so every tensor has all its gradient contributions when
    its turn comes, and only the part of the graph that gradients reach is visited. Gradients are
    arrays, or tensors under create_graph.
    """
    grads = {}
    ready = []  # (-sequence number, tensor): computed tensors holding a gradient
    leaves = []
    for root, g in zip(roots, root_grads):
        _receive(grads, ready, leaves, root, g)
    anomaly = state.anomaly
    inplace_ops = state.inplace_ops
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
        if node.stamp != inplace_ops:  # something was modified in place since this op ran
            _check_versions(node, tensor)
        if tensor._hooks:
            g = _run_hooks(tensor, g)
        if capture is not None:
            if tensor in capture:
                capture[tensor] = _as_gradient(g, tensor)
        elif tensor._retains_grad:
            _accumulate(tensor, g)
        parents = node.parents
        if create_graph:
            if node.saved is None:
                raise RuntimeError(
                    f"create_graph: {node.name} has no double backward: its gradient cannot be "
                    "differentiated again"
                )
            if node.remake is not None:
                saved = node.remake(*(parents if node.stamp == inplace_ops else _values_used(parents, node)))
            else:
                saved = [tensor if s is OUTPUT else s for s in node.saved]
            parent_grads = vjp(g, *saved)
        else:
            parent_grads = vjp(g, *node.arrays)
        if not retain_graph:
            node.vjp = node.saved = node.arrays = None
            node.parents = ()
            if node.remake is not None:  # it may hold the intermediates' arrays (cross-entropy's)
                del node.remake
        stamp = node.stamp
        for parent, pg in zip(parents, parent_grads):
            if pg is None or not parent.requires_grad:
                continue
            fn = parent.grad_fn
            if fn is not None and fn.stamp != stamp:  # an in-place op ran between the two ops
                parent = _value_used(parent, node)
                if not parent.requires_grad:
                    continue
            data = parent._data
            if create_graph and not isinstance(pg, Tensor):
                pg = Tensor._make(xp.asarray(pg, dtype=data.dtype), False, None)
            if pg.shape != data.shape:
                pg = _sum_to(pg, data.shape, node.name)
            if pg.dtype != data.dtype:
                pg = pg.to(data.dtype) if create_graph else pg.astype(data.dtype)
            if anomaly and not xp.isfinite(pg._data if create_graph else pg).all():
                where = f" (called at {node.origin})" if node.origin else ""
                raise FloatingPointError(
                    f"detect_anomaly: backward of {node.name}{where} produced a non-finite gradient "
                    f"for its input of shape {data.shape}"
                )
            _receive(grads, ready, leaves, parent, pg)
    # The loop's last gradients must not stay referenced here, or _accumulate would copy them.
    g = pg = parents = parent_grads = saved = None
    for leaf in leaves:
        g = grads.pop(leaf)
        if leaf._hooks:
            g = _run_hooks(leaf, g)
        if capture is None:
            _accumulate(leaf, g)
        elif leaf in capture:
            capture[leaf] = _as_gradient(g, leaf)


def _value_used(parent, node):
    """The tensor holding the value ``node`` used as ``parent``: if parent was modified in place
    after node ran, the earlier value (``previous`` of the in-place op); refused when parent is a
    view (or alias) whose memory a recorded in-place op changed through its base or another
    view after parent's own op ran, and before node used it: node saw values parent's op did not
    compute, so no gradient through that op would be right."""
    fn = parent.grad_fn
    version = parent._version
    if version is not None and any(fn.stamp < when <= node.stamp for when in version[2:]):
        raise RuntimeError(
            f"backward of {node.name}: its input of shape {tuple(parent._data.shape)} is a view (or alias) "
            f"computed by {fn.name}, whose memory an in-place operation on its base or another view "
            "changed before it was used: take the view again after the in-place change, or clone it"
        )
    seq = node.seq
    while fn is not None and fn.seq > seq:  # modified in place after node used it
        parent = fn.previous
        fn = parent.grad_fn
    return parent


def _values_used(parents, node):
    """The parents as ``node`` saw them, for its ``remake`` (which rebuilds its intermediates from
    them under create_graph): a parent modified in place since by a recorded op gives the value it
    held before; one modified by an op that was not recorded (under no_grad) is refused, since the
    intermediates rebuilt from it would be silently wrong."""
    values = []
    for parent in parents:
        fn = parent.grad_fn
        if fn is not None and fn.stamp != node.stamp:
            used = _value_used(parent, node)
            if used is not parent:
                values.append(used)  # (a copy taken before the change)
                continue
        version = parent._version
        if version is not None and version[1] > node.stamp:
            raise RuntimeError(
                f"backward of {node.name}: its input of shape {tuple(parent._data.shape)} was modified by "
                f"an in-place operation after {node.name} used it, so its second derivative cannot be "
                "computed from it. Compute that tensor out of place, or clone it first"
            )
        values.append(parent)
    return values


def _check_versions(node, output):
    """Raise if a tensor the node saved (or its output, if saved) was modified in place after the
    node was recorded: its version counter holds the stamp of its last modification."""
    for s in node.saved or ():
        if s is OUTPUT:
            s = output
        if isinstance(s, Tensor) and s._version is not None and s._version[1] > node.stamp:
            raise RuntimeError(
                f"backward of {node.name}: one of the tensors it saved for backward (shape "
                f"{tuple(s._data.shape)}, dtype {s._data.dtype}) was modified by an in-place operation "
                f"after {node.name} saved it (it is now at version {s._version[0]}). Compute that tensor "
                "out of place (x = x + y instead of x.add_(y)), or clone it first"
            )


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
    """Call the tensor's hooks with its gradient as a Tensor; a hook may return a replacement."""
    as_array = not isinstance(g, Tensor)
    gt = Tensor._make(g, False, None) if as_array else g
    for hook in tuple(tensor._hooks):
        replaced = hook(gt)
        if replaced is not None:
            gt = _check_hook_result(replaced, tensor)
    return gt._data if as_array else gt


def _as_gradient(g, tensor):
    """A gradient as an ndarray of the tensor's shape (VJPs on 0-d data may give NumPy scalars),
    or the Tensor itself under create_graph."""
    if type(g) is not xp.ndarray and not isinstance(g, Tensor):
        g = xp.asarray(g, dtype=tensor._data.dtype)
    return g


def _check_hook_result(result, tensor):
    if not isinstance(result, Tensor):
        result = Tensor._make(xp.asarray(result), False, None)
    if result.shape != tensor._data.shape:
        raise ValueError(
            f"register_hook: a hook returned a gradient of shape {result.shape}, "
            f"expected the tensor's shape {tensor._data.shape}"
        )
    return result if result.dtype == tensor._data.dtype else result.to(tensor._data.dtype)


def _accumulate(tensor, g):
    """Add g to tensor.grad: in place for arrays (a version bump, as for any in-place change);
    out of place under create_graph, or onto a recorded .grad, so that it stays differentiable."""
    previous = tensor._grad
    if type(g) is not xp.ndarray:
        if isinstance(g, Tensor):
            tensor._grad = g if previous is None else previous + g
            return
        g = xp.asarray(g, dtype=tensor._data.dtype)  # a NumPy scalar from a rule on 0-d values
    if previous is None:
        # Keep the engine's array when nothing else can see it; otherwise copy, so that in-place
        # updates of one .grad (clipping, optimizers) never leak into another.
        if (_refcount(g) > _SOLE_OWNER or not g.flags.writeable
                or (g.base is not None and not _view_of_own_base(g))):
            g = xp.array(g, copy=True)  # in g's own memory order (order="K")
        tensor._grad = Tensor._make(g, False, None)
    elif previous.grad_fn is not None:
        tensor._grad = Tensor._make(previous._data + g, False, None)
    else:
        previous._data += g
        previous._bump_version()


def _roots(outputs, grad_outputs, where, create_graph):
    single_output = isinstance(outputs, Tensor)
    outputs = (outputs,) if single_output else tuple(outputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"{where}: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs"
        )
    return outputs, [_check_root(o, g, where, create_graph) for o, g in zip(outputs, grad_outputs)]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (see ``Tensor.backward``); with
    ``inputs``, into those tensors' ``.grad`` only."""
    create_graph = bool(create_graph)
    retain_graph = create_graph if retain_graph is None else bool(retain_graph)
    if inputs is None and type(tensors) is Tensor:  # loss.backward(): the usual call, made short
        _run((tensors,), (_check_root(tensors, grad_tensors, "backward", create_graph),), retain_graph, create_graph)
        return
    outputs, root_grads = _roots(tensors, grad_tensors, "backward", create_graph)
    if inputs is None:
        _run(outputs, root_grads, retain_graph, create_graph)
        return
    inputs = _input_tensors(inputs, "backward")
    capture = dict.fromkeys(inputs)
    _run(outputs, root_grads, retain_graph, create_graph, capture)
    for x in inputs:
        g = capture[x]
        if g is not None:
            _accumulate(x, g if create_graph else xp.array(g, copy=True))


def _input_tensors(inputs, where):
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if not inputs:
        raise ValueError(f"{where}: inputs is empty; pass the tensors to differentiate with respect to")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{where}: input {i} is a {type(x).__name__}, expected a Tensor")
        if not x.requires_grad:
            raise RuntimeError(f"{where}: input {i} (shape {x.shape}) does not require grad")
    return inputs


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, as a tuple of Tensors; ``.grad`` is
    left untouched.

    ``grad_outputs``: d(loss)/d(output) for each non-scalar output. With ``create_graph=True``
    the gradients are recorded, so they can be differentiated again (a Hessian-vector product is
    ``grad(grad(f, x, create_graph=True)[0] @ v, x)``). ``allow_unused`` gives None for an
    input the outputs do not depend on (zeros with ``materialize_grads``).

    >>> import chainrule
    >>> x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    >>> (dx,) = chainrule.autograd.grad((x * x * x).sum(), x, create_graph=True)
    >>> dx
    tensor([ 3., 12.], grad_fn=<AddBackward>)
    >>> chainrule.autograd.grad(dx.sum(), x)
    (tensor([ 6., 12.]),)
    """
    create_graph = bool(create_graph)
    retain_graph = create_graph if retain_graph is None else bool(retain_graph)
    allow_unused = bool(allow_unused) or bool(materialize_grads)
    inputs = _input_tensors(inputs, "grad")
    outputs, root_grads = _roots(outputs, grad_outputs, "grad", create_graph)
    capture = dict.fromkeys(inputs)
    _run(outputs, root_grads, retain_graph, create_graph, capture)
    result = []
    for i, x in enumerate(inputs):
        g = capture[x]
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {x.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            if materialize_grads:
                g = xp.zeros_like(x._data)
        if g is not None and not isinstance(g, Tensor):
            g = Tensor._make(g, False, None)
        result.append(g)
    return tuple(result)
