"""Derivatives of a whole function (PyTorch's torch.autograd.functional): vector-Jacobian and
Jacobian-vector products, Jacobians, Hessians and Hessian-vector products, built on ``grad``.

Conventions are PyTorch's: a result has one entry per input when ``inputs`` was a tuple and is a
single Tensor otherwise (likewise for outputs); ``vjp``, ``jvp``, ``vhp`` and ``hvp`` return
``(func_output, result)``. Without ``create_graph`` every result is detached; with it, results
stay differentiable in the inputs. Without ``strict``, an output independent of an input gives
zeros; with it, a RuntimeError.
"""

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import grad
from chainrule.autograd.mode import enable_grad


def _as_tuple(value, what, where):
    """(was it a tuple, its Tensors as a tuple), or PyTorch's TypeError."""
    is_tuple = isinstance(value, (tuple, list))
    items = tuple(value) if is_tuple else (value,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            got = (f"has an element {i} of type {type(item).__name__}" if is_tuple
                   else f"has type {type(value).__name__}")
            raise TypeError(f"{where}: {what} must be either a Tensor or a tuple of Tensors, but {what} {got}")
    return is_tuple, items


def _unpack(results, is_tuple):
    return results if is_tuple else results[0]


def _differentiable(inputs, create_graph):
    """Inputs to differentiate in: the tensors themselves under create_graph when they require
    grad (so results stay differentiable in them), otherwise detached views that require grad."""
    return tuple(x if create_graph and x.requires_grad else x.detach().requires_grad_() for x in inputs)


def _detached(tensors, create_graph):
    return tuple(t if create_graph or t is None else t.detach() for t in tensors)


def _check_outputs_differentiable(outputs, strict, where):
    if strict:
        for i, o in enumerate(outputs):
            if not o.requires_grad:
                raise RuntimeError(
                    f"{where}: output {i} of the user-provided function does not require gradients; in "
                    "strict mode the outputs must be computed in a differentiable manner from the inputs"
                )


def _vector(v, like, where, what):
    """``v`` as a tuple of tensors shaped as ``like`` (the function's inputs or outputs, ``what``);
    when None, ones for a single one-element tensor, as PyTorch allows."""
    if v is not None:
        _, v = _as_tuple(v, "v", where)
        _validate_v(v, like, where, what)
        return v
    if len(like) != 1 or like[0].numel() != 1:
        described = ("the user-provided function returns a single Tensor" if what == "output"
                     else "the input to the user-provided function is a single Tensor")
        raise RuntimeError(f"{where}: v can only be None if {described} with a single element")
    return (Tensor._make(xp.ones_like(like[0]._data), False, None),)


def _validate_v(v, expected, where, what):
    if len(v) != len(expected):
        raise RuntimeError(f"{where}: v is a tuple of invalid length: should be {len(expected)} but got {len(v)}")
    for i, (a, b) in enumerate(zip(v, expected)):
        if a.shape != b.shape:
            raise RuntimeError(
                f"{where}: v has invalid size: entry {i} should have the shape of {what} {i}, "
                f"{tuple(b.shape)}, but got {tuple(a.shape)}"
            )


def _grads(outputs, inputs, grad_outputs, create_graph, retain_graph=True):
    """grad of the outputs that require grad (None for an input they do not reach)."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=retain_graph,
                create_graph=create_graph, allow_unused=True)


def _zeros_for_unused(grads, inputs, strict, where, independent):
    """Zeros where no gradient reached an input; with ``strict``, a RuntimeError saying why."""
    result = []
    for i, (g, x) in enumerate(zip(grads, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{where}: {independent.format(i=i)}; this is not allowed in strict mode")
            g = Tensor._make(xp.zeros_like(x._data), False, None)
        result.append(g)
    return tuple(result)


_OUTPUT_INDEPENDENT = "the output of the user-provided function is independent of input {i}"


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(*inputs), v^T J)``: the vector-Jacobian product of ``func`` at ``inputs``.

    ``v`` has the outputs' shapes; it may be omitted when ``func`` returns one single-element Tensor.

    >>> import chainrule
    >>> from chainrule.autograd.functional import vjp
    >>> vjp(lambda x: x * x, chainrule.tensor([1.0, 2.0]), chainrule.tensor([1.0, 1.0]))
    (tensor([1., 4.]), tensor([2., 4.]))
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _differentiable(inputs, create_graph)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "the outputs of the user-provided function", "vjp")
        _check_outputs_differentiable(outputs, strict, "vjp")
        v = _vector(v, outputs, "vjp", "output")
        grads = _grads(outputs, inputs, v, create_graph, retain_graph=create_graph)
        result = _zeros_for_unused(grads, inputs, strict, "vjp", _OUTPUT_INDEPENDENT)
    return _unpack(_detached(outputs, create_graph), is_outputs_tuple), _unpack(result, is_inputs_tuple)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(*inputs), J v)``: the Jacobian-vector product of ``func`` at ``inputs``.

    ``v`` has the inputs' shapes; it may be omitted for one single-element input. Computed with two
    reverse passes (the double-vjp identity: ``J v`` is the gradient of ``u -> u^T J`` applied to
    v), so every op on the way needs a double backward.

    >>> import chainrule
    >>> from chainrule.autograd.functional import jvp
    >>> jvp(lambda x: x * x, chainrule.tensor([1.0, 2.0]), chainrule.tensor([1.0, 0.5]))
    (tensor([1., 4.]), tensor([2., 2.]))
    """
    with enable_grad():
        _, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _differentiable(inputs, create_graph)
        v = _vector(v, inputs, "jvp", "input")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "the outputs of the user-provided function", "jvp")
        _check_outputs_differentiable(outputs, strict, "jvp")
        # u^T J as a function of u (any value: it is linear in u), then its gradient in u along v
        us = tuple(Tensor(xp.zeros_like(o._data), requires_grad=True, dtype=o._data.dtype) if o.requires_grad else None
                   for o in outputs)
        grad_inputs = _grads(outputs, inputs, us, create_graph=True)
        if strict:
            _zeros_for_unused(grad_inputs, inputs, strict, "jvp", _OUTPUT_INDEPENDENT)
        used = [(g, w) for g, w in zip(grad_inputs, v) if g is not None and g.requires_grad]
        reached = [u for u in us if u is not None]
        if used and reached:
            grads = grad([g for g, _ in used], reached, [w for _, w in used], retain_graph=create_graph,
                         create_graph=create_graph, allow_unused=True)
        else:
            grads = (None,) * len(reached)
        grads = iter(grads)
        grads = tuple(next(grads) if u is not None else None for u in us)
        result = _zeros_for_unused(grads, outputs, strict, "jvp",
                                   "output {i} of the user-provided function is independent of the inputs")
    return _unpack(_detached(outputs, create_graph), is_outputs_tuple), _unpack(result, is_outputs_tuple)


def _jacobian(func, inputs, create_graph, strict, where):
    """J[i][j] = d output_i / d input_j, of shape output_i.shape + input_j.shape (nested tuples)."""
    inputs = _differentiable(inputs, create_graph)
    is_outputs_tuple, outputs = _as_tuple(func(*inputs), "the outputs of the user-provided function", where)
    _check_outputs_differentiable(outputs, strict, where)
    jacobian = []
    for i, out in enumerate(outputs):
        rows = [[] for _ in inputs]  # per input, one gradient per element of out
        for k in range(out.numel()):
            if out.requires_grad:
                e = xp.zeros_like(out._data)
                e.reshape(-1)[k] = 1
                grads = grad(out, inputs, Tensor._make(e, False, None), retain_graph=True,
                             create_graph=create_graph, allow_unused=True)
            else:
                grads = (None,) * len(inputs)
            independent = f"output {i} of the user-provided function is independent of input {{i}}"
            for row, g in zip(rows, _zeros_for_unused(grads, inputs, strict, where, independent)):
                row.append(g)
        blocks = []
        for x, row in zip(inputs, rows):
            shape = out.shape + x.shape
            if out.ndim == 0:
                block = row[0]
            elif create_graph:
                from chainrule.ops.shape import stack

                block = stack(row).reshape(shape) if row else Tensor._make(xp.zeros(shape, x.dtype), False, None)
            else:
                data = xp.stack([g._data for g in row]) if row else xp.zeros(shape, x.dtype)
                block = Tensor._make(data.reshape(shape), False, None)
            blocks.append(block)
        jacobian.append(tuple(blocks))
    return is_outputs_tuple, outputs, tuple(jacobian)


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for one input and one output a Tensor of shape
    ``output.shape + input.shape``; a tuple over inputs (or outputs) when that was a tuple; and
    ``J[i][j]`` (output i, input j) when both were. One reverse pass per output element.

    ``vectorize`` is accepted for PyTorch compatibility and changes nothing (the passes run one by
    one); ``strategy="forward-mode"`` builds the columns with ``jvp`` instead (PyTorch's needs
    ``vectorize=True``, as this one does).

    >>> import chainrule
    >>> from chainrule.autograd.functional import jacobian
    >>> jacobian(lambda x: x * x, chainrule.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f'jacobian: strategy must be "reverse-mode" or "forward-mode", got {strategy!r}')
    if strategy == "forward-mode":
        if not vectorize:
            raise NotImplementedError('jacobian: strategy="forward-mode" is only implemented with vectorize=True')
        if create_graph:
            raise NotImplementedError('jacobian: strategy="forward-mode" does not support create_graph=True')
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        if strategy == "forward-mode":
            is_outputs_tuple, jac = _forward_jacobian(func, inputs, strict)
        else:
            is_outputs_tuple, _, jac = _jacobian(func, inputs, create_graph, strict, "jacobian")
    jac = tuple(_detached(row, create_graph) for row in jac)
    if not is_outputs_tuple:
        return _unpack(jac[0], is_inputs_tuple)
    return tuple(_unpack(row, is_inputs_tuple) for row in jac)


def _forward_jacobian(func, inputs, strict):
    """The Jacobian column by column: one jvp per input element."""
    columns = None
    for j, x in enumerate(inputs):
        for k in range(x.numel()):
            v = tuple(xp.zeros_like(y._data) for y in inputs)
            v[j].reshape(-1)[k] = 1
            outputs, tangent = jvp(func, inputs, tuple(Tensor._make(a, False, None) for a in v), strict=strict)
            is_outputs_tuple = isinstance(outputs, tuple)
            tangent = tangent if is_outputs_tuple else (tangent,)
            outputs = outputs if is_outputs_tuple else (outputs,)
            if columns is None:
                columns = [[[] for _ in inputs] for _ in outputs]
            for i, t in enumerate(tangent):
                columns[i][j].append(t._data)
    if columns is None:  # no input element: nothing to push forward
        is_outputs_tuple, _, jac = _jacobian(func, inputs, False, strict, "jacobian")
        return is_outputs_tuple, jac
    jac = []
    for i, out in enumerate(outputs):
        blocks = []
        for j, x in enumerate(inputs):
            data = xp.stack(columns[i][j], axis=-1) if columns[i][j] else xp.zeros((*out.shape, 0), x.dtype)
            blocks.append(Tensor._make(data.reshape(out.shape + x.shape), False, None))
        jac.append(tuple(blocks))
    return is_outputs_tuple, tuple(jac)


def _scalar_function(func, where):
    """func, checked to return one single-element Tensor, which is returned as 0-d."""

    def checked(*inputs):
        out = func(*inputs)
        if not isinstance(out, Tensor):
            raise RuntimeError(f"{where}: the function should return a single Tensor, got {type(out).__name__}")
        if out.numel() != 1:
            raise RuntimeError(
                f"{where}: the Tensor returned by the function should contain a single element, got shape "
                f"{tuple(out.shape)}"
            )
        return out if out.ndim == 0 else out.reshape(())

    return checked


def hessian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs``: for one input a Tensor of shape
    ``input.shape + input.shape``; for a tuple of inputs ``H[i][j]`` of shape
    ``input_i.shape + input_j.shape``. The Jacobian of the gradient (recorded with create_graph).

    >>> import chainrule
    >>> from chainrule.autograd.functional import hessian
    >>> hessian(lambda x: (x * x * x).sum(), chainrule.tensor([1.0, 2.0]))
    tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    scalar = _scalar_function(func, "hessian")

    def gradient(*xs):
        _, _, jac = _jacobian(scalar, xs, True, strict, "hessian")
        if strict:
            for i, g in enumerate(jac[0]):
                if not g.requires_grad:
                    raise RuntimeError(
                        f"hessian: the gradient of the user-provided function with respect to input {i} "
                        "is independent of the inputs; this is not allowed in strict mode"
                    )
        return jac[0]

    with enable_grad():
        _, _, hess = _jacobian(gradient, inputs, create_graph, strict, "hessian")
    hess = tuple(_detached(row, create_graph) for row in hess)
    if not is_inputs_tuple:
        return hess[0][0]
    return hess


def _hessian_product(func, inputs, v, create_graph, strict, where):
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", where)
        inputs = _differentiable(inputs, create_graph)
        v = _vector(v, inputs, where, "input")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "the outputs of the user-provided function", where)
        _check_outputs_differentiable(outputs, strict, where)
        if is_outputs_tuple:
            raise RuntimeError(f"{where}: the function should return a single Tensor, got a tuple")
        if outputs[0].numel() != 1:
            raise RuntimeError(
                f"{where}: the Tensor returned by the function should contain a single element, got shape "
                f"{tuple(outputs[0].shape)}"
            )
        gradients = _grads(outputs, inputs, (None,), create_graph=True)
        for i, g in enumerate(gradients):
            if strict and (g is None or not g.requires_grad):
                raise RuntimeError(
                    f"{where}: the gradient of the user-provided function with respect to input {i} is "
                    "independent of the inputs; this is not allowed in strict mode"
                )
        grads = _grads(gradients, inputs, v, create_graph=create_graph, retain_graph=create_graph)
        result = _zeros_for_unused(grads, inputs, strict, where,
                                   "the gradient of the user-provided function is independent of input {i}")
    return _unpack(_detached(outputs, create_graph), False), _unpack(_detached(result, create_graph), is_inputs_tuple)


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(*inputs), v^T H)``: a vector-Hessian product of a scalar ``func``, computed by two
    reverse passes (the gradient of ``grad(func) . v``); the Hessian is never formed.

    >>> import chainrule
    >>> from chainrule.autograd.functional import vhp
    >>> vhp(lambda x: (x * x * x).sum(), chainrule.tensor([1.0, 2.0]), chainrule.tensor([1.0, 1.0]))
    (tensor(9.), tensor([ 6., 12.]))
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(*inputs), H v)``: a Hessian-vector product of a scalar ``func``. The Hessian of a
    twice continuously differentiable function is symmetric, so this is ``vhp``'s product (two
    reverse passes; PyTorch's runs a third to transpose it).

    >>> import chainrule
    >>> from chainrule.autograd.functional import hvp
    >>> hvp(lambda x: (x * x * x).sum(), chainrule.tensor([1.0, 2.0]), chainrule.tensor([1.0, 0.0]))
    (tensor(9.), tensor([6., 0.]))
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")
