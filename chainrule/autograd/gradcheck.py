"""gradcheck and gradgradcheck: the engine's first and second derivatives against float64 central
finite differences."""

import numpy as np

from chainrule._arguments import number_arg
from chainrule._tensor import Tensor
from chainrule.autograd.engine import grad
from chainrule.autograd.mode import enable_grad


class GradcheckError(RuntimeError):
    """Raised by gradcheck when an analytic gradient disagrees with the numerical one."""


def _outputs(result, where):
    outputs = (result,) if isinstance(result, Tensor) else tuple(result)
    if not all(isinstance(o, Tensor) for o in outputs):
        raise TypeError(f"{where}: fn must return a Tensor or a sequence of Tensors")
    return outputs


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, seed: int = 0) -> bool:
    """Check ``fn``'s backward against central differences ``(f(x+eps) - f(x-eps)) / 2eps``.

    Every floating input with ``requires_grad=True`` is checked in float64: float64 inputs are
    perturbed in place and restored, so a module's parameters can be passed too, as in
    ``gradcheck(lambda x, *p: net(x), (x, *net.double().parameters()))``; other floating inputs
    are converted to float64 copies first. For outputs with several elements the scalar
    checked is ``sum(v * fn(x))`` for a fixed random ``v``, so every entry of the Jacobian
    contributes. Passes when
    ``|analytic - numerical| <= atol + rtol * |numerical|`` for every element; otherwise raises
    GradcheckError naming the input, the worst element and both values (or returns False when
    ``raise_exception=False``).

    >>> import chainrule
    >>> x = chainrule.randn(3, 4, dtype="float64", requires_grad=True)
    >>> gradcheck(lambda t: (t.tanh() * t).sum(dim=1), (x,))
    True
    """
    return _gradcheck(fn, inputs, eps, atol, rtol, raise_exception, seed, "gradcheck")


def _float64_inputs(inputs, where) -> list:
    """The inputs as a list of tensors, at least one requiring grad: float64 ones as they are (they
    are perturbed in place and restored, so a module's own parameters can be checked), other
    floating ones as float64 copies."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if not all(isinstance(x, Tensor) for x in inputs):
        raise TypeError(f"{where}: inputs must be a Tensor or a sequence of Tensors")
    if not any(x.requires_grad for x in inputs):
        raise ValueError(f"{where}: no input has requires_grad=True, so there is nothing to check")
    return [
        Tensor(x._data, requires_grad=x.requires_grad, dtype=np.float64)
        if x._data.dtype.kind == "f" and x._data.dtype != np.float64 else x
        for x in inputs
    ]


def _gradcheck(fn, inputs, eps, atol, rtol, raise_exception, seed, where):
    if not callable(fn):
        raise TypeError(f"{where}: fn must be callable, got {type(fn).__name__}")
    eps = number_arg(eps, "eps", where, 0, low_open=True)
    atol, rtol = number_arg(atol, "atol", where, 0), number_arg(rtol, "rtol", where, 0)
    xs = _float64_inputs(inputs, where)
    checked = [i for i, x in enumerate(xs) if x.requires_grad]
    if not any(xs[i]._data.size for i in checked):
        raise ValueError(f"{where}: the inputs that require grad hold no elements, so there is nothing to check")
    first = _outputs(fn(*xs), where)
    used = [k for k, o in enumerate(first) if o.requires_grad]
    outputs = [first[k] for k in used]
    if not outputs:
        raise ValueError(f"{where}: no output of fn depends on a differentiable input")
    if not any(o._data.size for o in outputs):
        raise ValueError(
            f"{where}: fn's outputs hold no elements (shapes {[o._data.shape for o in outputs]}), "
            "so there is nothing to check (an empty batch?)"
        )
    rng = np.random.default_rng(seed)
    cotangents = [rng.standard_normal(o._data.shape).astype(o._data.dtype) for o in outputs]

    def objective():
        with enable_grad():  # as PyTorch's: fn may differentiate inside (a gradient penalty)
            every = _outputs(fn(*xs), where)
        outs = [every[k] for k in used]
        return sum(float(np.sum(v * o._data)) for v, o in zip(cotangents, outs))

    analytic = grad(outputs, [xs[i] for i in checked], cotangents, allow_unused=True)
    for i, g in zip(checked, analytic):
        data = xs[i]._data
        g = np.zeros_like(data) if g is None else g._data
        numerical = np.empty_like(data)
        for j in np.ndindex(data.shape):  # in place whatever the memory order (a reshape may copy)
            original = data[j]
            data[j] = original + eps
            plus = objective()
            data[j] = original - eps
            minus = objective()
            data[j] = original
            numerical[j] = (plus - minus) / (2 * eps)
        error = np.abs(g - numerical) - (atol + rtol * np.abs(numerical))
        if error.size and (error.max() > 0 or not np.isfinite(g).all()):
            worst = np.unravel_index(np.argmax(np.where(np.isfinite(error), error, np.inf)), data.shape)
            if not raise_exception:
                return False
            raise GradcheckError(
                f"{where}: input {i} (shape {data.shape}): gradient wrong at element "
                f"{tuple(int(k) for k in worst)}: analytic {g[worst]:.8g}, numerical "
                f"{numerical[worst]:.8g} (atol={atol}, rtol={rtol})"
            )
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Check ``fn``'s second derivatives: the gradient ``create_graph=True`` records (a function of
    the inputs and of ``grad_outputs``) is itself checked by ``gradcheck`` against float64 central
    differences, so a double-backward rule that is slightly wrong is rejected.

    ``grad_outputs``: the vectors v of the vector-Jacobian product ``v^T J`` (random, with a fixed
    ``seed``, when not given). Raises GradcheckError (or returns False) as ``gradcheck`` does.

    >>> import chainrule
    >>> x = chainrule.randn(3, dtype="float64", requires_grad=True)
    >>> gradgradcheck(lambda t: (t.sin() * t).sum(), (x,))
    True
    """
    if not callable(fn):
        raise TypeError(f"gradgradcheck: fn must be callable, got {type(fn).__name__}")
    xs = _float64_inputs(inputs, "gradgradcheck")
    differentiable = [i for i, x in enumerate(xs) if x.requires_grad]
    outputs = [o for o in _outputs(fn(*xs), "gradgradcheck") if o.requires_grad]
    if not outputs:
        raise ValueError("gradgradcheck: no output of fn depends on a differentiable input")
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [rng.standard_normal(o._data.shape) for o in outputs]
    else:
        grad_outputs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
        if len(grad_outputs) != len(outputs):
            raise ValueError(
                f"gradgradcheck: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs "
                "that require grad"
            )
    vs = [Tensor(np.array(getattr(v, "_data", v), dtype=np.float64), requires_grad=True, dtype=np.float64)
          for v in grad_outputs]
    n = len(xs)

    def first_derivative(*args):
        values, cotangents = args[:n], args[n:]
        outs = [o for o in _outputs(fn(*values), "gradgradcheck") if o.requires_grad]
        grads = grad(outs, [values[i] for i in differentiable], list(cotangents),
                     create_graph=True, allow_unused=True, materialize_grads=True)
        return tuple(grads)

    return _gradcheck(first_derivative, (*xs, *vs), eps, atol, rtol, raise_exception, seed, "gradgradcheck")
