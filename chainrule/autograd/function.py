"""autograd.Function: an op defined by the user, with a ``forward`` and its own ``backward``, recorded
as one node of the graph like the library's ops (PyTorch's API).

``forward`` runs under no_grad. ``backward`` receives Tensors in both modes: in first-order
backward it runs under no_grad and its results go to the engine as arrays; under
``create_graph`` it runs with grad mode on, so a backward written with chainrule ops is recorded
and differentiates again. A backward written with raw NumPy is first-order only: decorate it with
``once_differentiable`` and create_graph raises naming the Function instead of returning a wrong
second derivative.

Several outputs share one node: their differentiable values are packed into one flat tensor (the
node's output) and each output is a slice of it, so the engine needs no multi-output node and the
slices' own rules (indexing, reshape) carry each output's gradient back into the pack.
"""

import functools
import inspect

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.autograd.engine import OUTPUT, needs_graph, record
from chainrule.autograd.mode import no_grad


def once_differentiable(backward):
    """Mark a Function's ``backward`` as first-order only (written with NumPy, say): the engine
    then refuses ``create_graph`` through it, naming the Function, instead of differentiating a
    gradient that was not recorded."""

    @functools.wraps(backward)
    def wrapper(ctx, *grad_outputs):
        with no_grad():
            return backward(ctx, *grad_outputs)

    wrapper._once_differentiable = True
    return wrapper


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: tensors saved with ``save_for_backward`` (checked
    against in-place changes when read back), ``needs_input_grad``, and any attribute set on it."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._saved = ()
        self._saved_versions = ()
        self._non_differentiable = ()
        self._output_of_saved = {}  # position in _saved -> forward output index, for saved outputs
        self._outputs_now = None  # the recorded outputs while backward runs under create_graph

    def save_for_backward(self, *tensors) -> None:
        """Keep these tensors (or None) for ``backward``: read them back as ``saved_tensors``.

        Save inputs and outputs: under create_graph they are the graph's own tensors, so a backward
        written with ops differentiates through them. An intermediate computed in ``forward`` (under
        no_grad) is a constant there, as in PyTorch: return it as an output (marked non-differentiable
        if need be) when the second derivative depends on it."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward: argument {i} is a {type(t).__name__}; only Tensors or None "
                    "can be saved (keep other values as attributes of ctx)"
                )
        self._saved = tensors
        self._saved_versions = tuple(None if t is None else t._version_now for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``; a RuntimeError if one was modified in place
        since (its values are no longer those the gradient needs)."""
        saved = list(self._saved)
        for i, (t, expected) in enumerate(zip(saved, self._saved_versions)):
            if t is not None and t._version_now != expected:
                raise RuntimeError(
                    f"saved_tensors: saved tensor {i} (shape {tuple(t.shape)}, dtype {t.dtype}) was "
                    f"modified by an in-place operation: it is at version {t._version_now}, expected "
                    f"version {expected}. Compute it out of place, or save a clone"
                )
        if self._outputs_now is not None:  # under create_graph: the outputs as recorded in the graph
            for i, k in self._output_of_saved.items():
                saved[i] = self._outputs_now[k]
        return tuple(saved)

    def mark_non_differentiable(self, *outputs) -> None:
        """Declare outputs that have no gradient (indices, masks): they do not require grad, and
        ``backward`` receives zeros (or None without materialized grads) for them."""
        self._non_differentiable = outputs

    def set_materialize_grads(self, value: bool) -> None:
        """With False, ``backward`` receives None instead of zeros for an output without a gradient."""
        self.materialize_grads = bool(value)


class _Spec:
    """How one apply() laid out its outputs, for its backward."""

    __slots__ = ("cls", "input_shapes", "is_tensor", "n_outputs", "offsets", "out_dtypes", "out_shapes",
                 "packed", "recorded")

    def __init__(self, cls, args, outputs, recorded):
        self.cls = cls
        self.is_tensor = tuple(isinstance(a, Tensor) for a in args)
        self.input_shapes = tuple(a.shape if isinstance(a, Tensor) else None for a in args)
        self.n_outputs = len(outputs)
        self.out_shapes = tuple(getattr(o, "shape", None) for o in outputs)
        self.out_dtypes = tuple(getattr(o, "dtype", None) for o in outputs)
        self.recorded = recorded  # output indices that carry a gradient, in pack order
        self.packed = len(recorded) > 1
        offsets, start = [], 0
        for k in recorded:
            offsets.append(start)
            start += outputs[k]._data.size
        offsets.append(start)
        self.offsets = offsets


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)``, then call
    ``apply(*args)``. ``backward`` returns one gradient per forward argument (None for a
    non-tensor or for an input that needs none).

    >>> import chainrule
    >>> class Cube(chainrule.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * g * x * x
    >>> x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward(create_graph=True)
    >>> x.grad
    tensor([ 3., 12.], grad_fn=<MulBackward>)
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("forward", "backward", "setup_context"):
            method = cls.__dict__.get(name)
            if method is not None and not isinstance(method, (staticmethod, classmethod)):
                raise TypeError(
                    f"{cls.__name__}.{name} must be a @staticmethod (autograd.Function is used through "
                    f"{cls.__name__}.apply, never through an instance)"
                )

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("an autograd.Function must implement forward(ctx, *args)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Optional: with it, ``forward(*args)`` takes no ctx and this saves what backward needs."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "an autograd.Function must implement backward(ctx, *grad_outputs) to be differentiated"
        )

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on ``args`` and record its backward when an input tensor requires grad."""
        with_setup = cls.setup_context is not Function.setup_context
        if kwargs:  # keyword arguments become positional, so backward answers each by position
            bound = inspect.signature(cls.forward).bind(*((None,) if not with_setup else ()), *args, **kwargs)
            bound.apply_defaults()
            args = bound.args if with_setup else bound.args[1:]
        tensors = tuple(a for a in args if isinstance(a, Tensor))
        recording = needs_graph(*tensors)
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad and recording for a in args))
        with no_grad():
            if with_setup:
                result = cls.forward(*args)
                cls.setup_context(ctx, args, result)
            else:
                result = cls.forward(ctx, *args)
        if not recording:
            return result
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        excluded = {id(o) for o in ctx._non_differentiable}
        recorded = [k for k, o in enumerate(outputs)
                    if isinstance(o, Tensor) and o.dtype.kind == "f" and id(o) not in excluded]
        if not recorded:
            return result
        ids = {id(outputs[k]): k for k in recorded}
        ctx._output_of_saved = {i: ids[id(t)] for i, t in enumerate(ctx._saved) if id(t) in ids}
        spec = _Spec(cls, args, outputs, recorded)
        ctx._spec = spec
        once = getattr(cls.backward, "_once_differentiable", False)
        vjp = functools.partial(_function_vjp, ctx)
        if spec.packed:
            dtype = xp.result_type(*(outputs[k].dtype for k in recorded))
            flat = xp.concatenate([outputs[k]._data.ravel().astype(dtype, copy=False) for k in recorded])
            pack = record(cls.__name__, flat, tensors, vjp, None if once else (OUTPUT,))
            made = list(outputs)
            for n, k in enumerate(recorded):
                made[k] = _unpack(pack, spec, n)
            return tuple(made)
        k = recorded[0]
        raw = outputs[k]
        out = record(cls.__name__, raw._data, tensors, vjp, None if once else (OUTPUT,))
        # one version counter for the output the user holds and the one forward returned (and may
        # have saved): an in-place change of either is seen by saved_tensors
        out._version = raw._shared_version()
        if single:
            return out
        made = list(outputs)
        made[k] = out
        return tuple(made)


def _unpack(pack, spec, n):
    """Output ``spec.recorded[n]`` as a slice of the packed tensor (recorded, so differentiable)."""
    k = spec.recorded[n]
    piece = pack[spec.offsets[n]:spec.offsets[n + 1]].reshape(spec.out_shapes[k])
    return piece if piece.dtype == spec.out_dtypes[k] else piece.to(spec.out_dtypes[k])


def _function_vjp(ctx, g, out=None):
    """The node's rule: call the user's backward with one gradient per output (Tensors), check
    what it returns, and give the engine one gradient per input tensor (arrays in first-order
    backward, Tensors under create_graph)."""
    spec = ctx._spec
    create_graph = isinstance(g, Tensor)
    if not create_graph:
        g = Tensor._make(xp.asarray(g), False, None)
    grads = [None] * spec.n_outputs
    if spec.packed:
        for n, k in enumerate(spec.recorded):
            grads[k] = _unpack(g, spec, n)
    else:
        grads[spec.recorded[0]] = g
    if ctx.materialize_grads:
        for k, shape in enumerate(spec.out_shapes):
            if grads[k] is None and shape is not None:
                grads[k] = Tensor._make(xp.zeros(shape, dtype=spec.out_dtypes[k]), False, None)
    if create_graph:
        outputs = [None] * spec.n_outputs
        for n, k in enumerate(spec.recorded):
            outputs[k] = _unpack(out, spec, n) if spec.packed else out
        ctx._outputs_now = outputs
    try:
        result = spec.cls.backward(ctx, *grads)
    finally:
        ctx._outputs_now = None
    return _input_gradients(spec, result, create_graph)


def _input_gradients(spec, result, create_graph):
    name = f"{spec.cls.__name__}.backward"
    result = result if isinstance(result, tuple) else (result,)
    expected = len(spec.is_tensor)
    if len(result) > expected and all(r is None for r in result[expected:]):
        result = result[:expected]  # extra Nones are allowed, as PyTorch allows them
    if len(result) != expected:
        raise RuntimeError(
            f"{name} returned {len(result)} gradient(s), expected {expected}: one per argument of "
            "forward (None for a non-tensor argument or one that needs no gradient)"
        )
    gradients = []
    for i, (r, is_tensor, shape) in enumerate(zip(result, spec.is_tensor, spec.input_shapes)):
        if r is None:
            if is_tensor:
                gradients.append(None)
            continue
        if not isinstance(r, Tensor):
            raise TypeError(f"{name} returned a {type(r).__name__} as gradient {i}; expected a Tensor or None")
        if not is_tensor:
            raise RuntimeError(
                f"{name} returned a gradient for argument {i}, which is not a Tensor: return None there"
            )
        try:
            fits = xp.broadcast_shapes(r.shape, shape) == r.shape  # the engine sums it to shape
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(
                f"{name} returned a gradient of shape {tuple(r.shape)} for argument {i}, which has "
                f"shape {tuple(shape)}: expected that shape (or one that sums to it)"
            )
        gradients.append(r if create_graph else r._data)
    return tuple(gradients)
