"""A captured training step: ``compile_step(model, loss_fn, optimizer)`` runs zero_grad, forward,
loss, backward and the optimizer's step for an ``nn.Sequential`` as a fixed list of array kernels,
with no tensors, graph or engine in between. The kernels are the eager ops' own array functions,
so a captured step computes exactly what the eager step computes (the tests compare them bit for
bit); it only skips the per-op bookkeeping, which is what small networks spend their time on
(benchmarks/NOTES.md). ``fit(..., compile_step=True)`` trains with one.

    step = cr.compile_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    for x, y in batches:
        loss = step(x, y)          # a float; the parameters' .grad hold this step's gradients

Layers: Linear, ReLU, Tanh, Sigmoid, Flatten, Identity, Conv1d, Conv2d, MaxPool1d, MaxPool2d and
nested Sequentials of them; losses: MSELoss and CrossEntropyLoss with mean reduction (class-index
targets, no class weights or label smoothing). Anything else is refused when the step is built.
A call falls back to the eager step (same result, eager speed) when something only eager
supports is in play: hooks on a layer or parameter, inputs that require grad, or targets outside
the plain cross-entropy case (whose errors eager reports). One rewrite, exact: a ReLU that a
max-pool follows runs after the pool (see ``_pool_before_relu``).
"""

from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.nn.activation import ReLU, Sigmoid, Tanh
from chainrule.nn.containers import Sequential
from chainrule.nn.conv import Conv1d, Conv2d
from chainrule.nn.linear import Flatten, Identity, Linear
from chainrule.nn.loss import CrossEntropyLoss, MSELoss
from chainrule.nn.pooling import MaxPool1d, MaxPool2d
from chainrule.ops import conv, linalg, loss, pool, unary
from chainrule.ops.operands import wrap

__all__ = ["CapturedStep", "compile_step"]


def compile_step(model, loss_fn, optimizer) -> "CapturedStep":
    """One training step of ``model`` under ``loss_fn`` and ``optimizer``, captured: calling it with
    (inputs, targets) does what ``optimizer.zero_grad(); loss = loss_fn(model(inputs), targets);
    loss.backward(); optimizer.step()`` does, and returns the loss as a float."""
    return CapturedStep(model, loss_fn, optimizer)


class CapturedStep:
    """See ``compile_step``. ``eager_calls`` counts the calls that fell back to the eager step."""

    def __init__(self, model, loss_fn, optimizer):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.layers = [_kernel(module) for module in _pool_before_relu(list(_sequence(model)))]
        if isinstance(loss_fn, CrossEntropyLoss):
            if loss_fn.weight is not None or loss_fn.label_smoothing or loss_fn.reduction != "mean":
                raise NotImplementedError(
                    "compile_step: CrossEntropyLoss is captured with reduction='mean', no class weight "
                    "and no label smoothing; use the eager step for the others"
                )
            self._loss = _cross_entropy
        elif isinstance(loss_fn, MSELoss):
            if loss_fn.reduction != "mean":
                raise NotImplementedError("compile_step: MSELoss is captured with reduction='mean'")
            self._loss = _mse
        else:
            raise NotImplementedError(
                f"compile_step: {type(loss_fn).__name__} is not captured (MSELoss and CrossEntropyLoss are)"
            )
        self._modules = list(model.modules())
        self._params = list(model.parameters())
        self.eager_calls = 0

    def __call__(self, inputs, targets) -> float:
        value, _ = self.forward_backward(inputs, targets)
        self.optimizer.step()
        return value

    def forward_backward(self, inputs, targets):
        """Everything but the optimizer's step: ``optimizer.zero_grad()``, forward, loss and
        backward, leaving this batch's gradients in the parameters' ``.grad``. Returns the loss (a
        float) and the model's output (an array), for a loop that does more between backward and
        step (``fit`` averages gradients across ranks, clips them, runs callbacks)."""
        x = inputs._data if isinstance(inputs, Tensor) else xp.asarray(inputs)
        y = targets._data if isinstance(targets, Tensor) else xp.asarray(targets)
        if self._needs_eager(inputs, x):
            return self._eager(inputs, targets)
        saved = []
        for layer in self.layers:
            x, keep = layer.forward(x)
            saved.append(keep)
        if self._loss is _cross_entropy and not loss.plain_class_targets(x, y, self.loss_fn.ignore_index):
            return self._eager(inputs, targets)  # the general case, or eager's error for bad targets
        value, g = self._loss(x, y)
        self.optimizer.zero_grad()
        with xp.errstate(all="ignore"):  # as the engine's backward: PyTorch's inf and nan, silently
            for i in range(len(self.layers) - 1, -1, -1):
                g = self.layers[i].backward(g, saved[i], i > 0)
                saved[i] = None  # free what this layer kept as soon as its backward is done
        return float(value), x

    def _needs_eager(self, inputs, x):
        if isinstance(inputs, Tensor) and inputs.requires_grad:
            return True
        if any(m._forward_hooks for m in self._modules) or any(p._hooks for p in self._params):
            return True
        # another dtype than the parameters' goes to eager, whose layers refuse it as PyTorch's do
        return x.dtype.kind != "f" or (self._params and x.dtype != self._params[0]._data.dtype)

    def _eager(self, inputs, targets):
        self.eager_calls += 1
        inputs = inputs if isinstance(inputs, Tensor) else wrap(xp.asarray(inputs))
        output = self.model(inputs)
        value = self.loss_fn(output, targets)
        self.optimizer.zero_grad()
        value.backward()
        return value.item(), output._data


# ---------------------------------------------------------------------------- the layers


def _sequence(model):
    if not isinstance(model, Sequential):
        raise NotImplementedError(
            f"compile_step: captures an nn.Sequential, got {type(model).__name__}; use the eager step"
        )
    for module in model:
        if isinstance(module, Sequential):
            yield from _sequence(module)
        else:
            yield module


def _pool_before_relu(modules):
    """The layers with each ReLU that a MaxPool follows moved after it. max commutes with the
    monotone ReLU, so values and gradients stay exactly the same (the first maximum of a window
    is the first maximum of its ReLU whenever that maximum is positive, and the gradient is 0
    otherwise either way), while the ReLU and its gradient run on the pooled, 4x smaller array."""
    for i in range(len(modules) - 1):
        if type(modules[i]) is ReLU and type(modules[i + 1]) in (MaxPool1d, MaxPool2d):
            modules[i], modules[i + 1] = modules[i + 1], modules[i]
    return modules


def _kernel(module):
    for kind, make in _KERNELS:
        if type(module) is kind:
            return make(module)
    names = ", ".join(kind.__name__ for kind, _ in _KERNELS)
    raise NotImplementedError(f"compile_step: {type(module).__name__} is not captured (these are: {names})")


def _set_grad(param, g):
    """What the engine does for a leaf: cast to the parameter's dtype, keep or accumulate."""
    if g.dtype != param._data.dtype:
        g = g.astype(param._data.dtype)
    if param.grad is None:
        param.grad = g
    else:
        param.grad += g


class _Linear:
    __slots__ = ("m",)

    def __init__(self, m):
        self.m = m

    def forward(self, x):
        m = self.m
        return linalg.linear_forward(x, m.weight._data, None if m.bias is None else m.bias._data), x

    def backward(self, g, x, need_input):
        w, b = self.m.weight, self.m.bias
        need_b = b is not None and b.requires_grad
        gx, gw, gb = linalg.linear_backward(g, x, w._data, need_input, w.requires_grad, need_b)
        if gw is not None:
            _set_grad(w, gw)
        if gb is not None:
            _set_grad(b, gb)
        return gx


class _Elementwise:
    """ReLU, Tanh, Sigmoid: out = values(x), gradient grad(g, out)."""

    __slots__ = ("grad", "values")

    def __init__(self, values, grad):
        self.values, self.grad = values, grad

    def forward(self, x):
        out = self.values(x)
        return out, out

    def backward(self, g, out, need_input):
        return self.grad(g, out) if need_input else None


class _Flatten:
    __slots__ = ("end", "start")

    def __init__(self, m):
        self.start, self.end = m.start_dim, m.end_dim

    def forward(self, x):
        n = x.ndim
        start, end = self.start % n, self.end % n
        return x.reshape(*x.shape[:start], -1, *x.shape[end + 1:]), x.shape

    def backward(self, g, shape, need_input):
        return g.reshape(shape) if need_input else None


class _Identity:
    __slots__ = ()

    def forward(self, x):
        return x, None

    def backward(self, g, _, need_input):
        return g if need_input else None


class _Conv:
    __slots__ = ("geometry", "m", "nd")

    def __init__(self, m, nd):
        self.m, self.nd, self.geometry = m, nd, {}

    def forward(self, x):
        m = self.m
        geo = self.geometry.get(x.shape)
        if geo is None:
            if x.ndim != self.nd + 2:
                raise ValueError(
                    f"compile_step: {type(m).__name__} takes batched ({self.nd + 2}-d) inputs, got shape {x.shape}"
                )
            geo = self.geometry[x.shape] = conv.conv_geometry(
                x.shape, m.weight._data.shape, m.stride, m.padding, m.dilation, m.groups, self.nd,
                f"conv{self.nd}d")
        out, cols = conv.conv_forward(x, m.weight._data, None if m.bias is None else m.bias._data, geo)
        return out, (geo, cols if m.weight.requires_grad else None)

    def backward(self, g, saved, need_input):
        geo, cols = saved
        w, b = self.m.weight, self.m.bias
        need_b = b is not None and b.requires_grad
        gx, gw, gb = conv.conv_backward(g, w._data, cols, geo, need_input, w.requires_grad, need_b)
        if gw is not None:
            _set_grad(w, gw)
        if gb is not None:
            _set_grad(b, gb)
        return gx


class _MaxPool:
    __slots__ = ("geometry", "m", "nd")

    def __init__(self, m, nd):
        if m.return_indices:
            raise NotImplementedError("compile_step: MaxPool with return_indices=True is not captured")
        self.m, self.nd, self.geometry = m, nd, {}

    def forward(self, x):
        m = self.m
        geo = self.geometry.get(x.shape)
        if geo is None:
            geo = self.geometry[x.shape] = pool.max_pool_geometry(
                x.shape[-self.nd:], m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, self.nd,
                f"max_pool{self.nd}d")
        out, saved = pool.max_pool_forward(x, geo)
        return out, (geo, out, saved, x.shape)

    def backward(self, g, saved, need_input):
        geo, out, kept, shape = saved
        return pool.max_pool_backward(g, out, kept, geo, shape) if need_input else None


_KERNELS = [
    (Linear, _Linear),
    (ReLU, lambda m: _Elementwise(unary.relu_values, unary.relu_grad)),
    (Tanh, lambda m: _Elementwise(xp.tanh, unary.tanh_grad)),
    (Sigmoid, lambda m: _Elementwise(unary.sigmoid_values, unary.sigmoid_grad)),
    (Flatten, _Flatten),
    (Identity, lambda m: _Identity()),
    (Conv1d, lambda m: _Conv(m, 1)),
    (Conv2d, lambda m: _Conv(m, 2)),
    (MaxPool1d, lambda m: _MaxPool(m, 1)),
    (MaxPool2d, lambda m: _MaxPool(m, 2)),
]


# ---------------------------------------------------------------------------- the losses
# Each returns (loss value, gradient of the loss for the model's output), computed as the eager
# ops compute them, starting from the same seed gradient (ones of the loss's dtype).


def _cross_entropy(logits, targets):
    logp = loss.log_softmax_values(logits, 1)
    value = loss.cross_entropy_plain_values(logp, targets)
    return value, loss.cross_entropy_plain_grad(xp.ones_like(value), logp, targets)


def _mse(output, targets):
    diff = output - loss.float_target_values(xp.asarray(targets), output, "mse_loss")
    value = loss.reduce_loss(diff * diff, "mean", diff.size)
    return value, loss.mse_grad(xp.ones_like(value), diff, "mean")
