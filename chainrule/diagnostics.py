"""Diagnostics of the backward pass: per-layer gradient statistics gathered during training,
a vanishing/exploding-gradient detector, the curvature of the loss (extreme Hessian eigenvalues
by Lanczos on Hessian-vector products, with a saddle / sharp / flat verdict), and plots of
training history, gradient flow and curvature."""

import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np

from chainrule._arguments import int_arg, number_arg
from chainrule.nn.activation import ReLU
from chainrule.nn.module import Module
from chainrule.train.callbacks import Callback


class GradientFlowWarning(UserWarning):
    """The first layer's gradient is vanishingly small, or explosively large, next to the last's."""


def layer_parameters(model: Module) -> list:
    """The layers to report on: each module that directly owns parameters, as (dotted name, module)
    in ``named_modules`` order (the model itself, when it owns some, is named by its class).

    >>> from chainrule import nn
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 1)))
    >>> [name for name, _ in layer_parameters(net)]
    ['0', '2.0']
    """
    return [
        (name or type(module).__name__, module)
        for name, module in model.named_modules()
        if any(p is not None for p in module._parameters.values())
    ]


def check_gradient_flow(grad_norms: dict, low: float = 1e-3, high: float = 1e3, loss: float | None = None,
                        weights_finite: bool = True, largest_weight: float | None = None):
    """None when gradients flow, else a message naming the problem.

    ``grad_norms`` maps layer names, first layer first, to gradient norms (floats, or dicts with a
    ``"grad_norm"`` entry as in ``GradientMonitor.epoch_summary()``; entries without one are
    skipped). The ratio first / last below ``low`` means vanishing gradients, above ``high``
    exploding ones. A non-finite norm is blamed on its cause: a non-finite ``loss`` (the batch's,
    when given) with finite weights points at the data or the loss function, weights that are
    already non-finite (``weights_finite=False``) at an earlier diverging update, and a finite loss
    with a non-finite gradient at overflow in the backward pass (exploding gradients). With finite
    weights, ``largest_weight`` (the largest |w|) above ``_DIVERGED_WEIGHT`` blames the non-finite
    loss on diverging updates instead: weights that large overflow the forward pass.

    >>> print(check_gradient_flow({"0": float("nan"), "1": 1.0}, loss=float("nan")))  # doctest: +ELLIPSIS
    non-finite loss (nan) while every weight is finite: ...

    >>> check_gradient_flow({"0": 0.5, "1": 1.0}) is None
    True
    >>> print(check_gradient_flow({"0": 1e-9, "1": 1.0}))  # doctest: +ELLIPSIS
    vanishing gradients: the first layer '0' gets a gradient norm of 1e-09, 1e-09 times ...
    """
    norms = []
    for name, value in grad_norms.items():
        if isinstance(value, dict):
            value = value.get("grad_norm")
        if value is not None:
            norms.append((name, float(value)))
    for name, value in norms:
        if not math.isfinite(value):
            return _non_finite_cause(name, value, loss, weights_finite, largest_weight)
    if len(norms) < 2:
        return None
    (first, g_first), (last, g_last) = norms[0], norms[-1]
    if g_last == 0:
        return None  # nothing to compare against: the loss is flat at the output
    ratio = g_first / g_last
    where = (
        f"the first layer {first!r} gets a gradient norm of {g_first:.3g}, {ratio:.3g} times "
        f"that of the last layer {last!r} ({g_last:.3g})"
    )
    if ratio < low:
        return (
            f"vanishing gradients: {where}, below {low:g}; the first layers barely learn. Try ReLU "
            "with He (kaiming) init, residual connections (nn.Residual) or batch normalisation"
        )
    if ratio > high:
        return (
            f"exploding gradients: {where}, above {high:g}. Try a smaller learning rate, "
            "gradient clipping (nn.utils.clip_grad_norm_), a smaller init scale or normalisation"
        )
    return None


# Initialisations and trained networks keep |w| near 1 (standardised inputs); weights a million
# times larger have been blown up by updates, and overflow float32's forward pass soon after.
_DIVERGED_WEIGHT = 1e6


def _non_finite_cause(layer, norm, loss, weights_finite, largest_weight=None):
    """The verdict for a non-finite gradient norm: what made it, not only where it shows."""
    if weights_finite and loss is not None and not math.isfinite(loss) and (largest_weight or 0) > _DIVERGED_WEIGHT:
        return (
            f"non-finite loss ({loss}) from weights grown to {largest_weight:.3g}: the updates diverged and the "
            "forward pass overflowed; lower the learning rate, clip gradients (nn.utils.clip_grad_norm_) or "
            "stop on the first bad step (train.TerminateOnNaN)"
        )
    if not weights_finite:
        return (
            f"non-finite weights: an earlier update made them NaN or infinite, so layer {layer!r} gets a "
            f"gradient norm of {norm}; lower the learning rate, clip gradients (nn.utils.clip_grad_norm_) "
            "or stop on the first bad step (train.TerminateOnNaN)"
        )
    if loss is not None and not math.isfinite(loss):
        return (
            f"non-finite loss ({loss}) while every weight is finite: the batch's inputs or targets hold NaN "
            "or infinity, or the loss is undefined on them (log of 0, a probability outside [0, 1], 0/0); "
            "the learning rate is not the cause. Check the data (fit refuses non-finite arrays) and the "
            "loss's inputs"
        )
    return (
        f"exploding gradients: layer {layer!r} has a non-finite gradient norm ({norm}) although the loss is "
        "finite; lower the learning rate, clip gradients (nn.utils.clip_grad_norm_) or normalise"
    )


class GradientMonitor:
    """Per-layer statistics of one training run, averaged per epoch.

    Call ``after_backward()`` after ``loss.backward()`` and before ``optimizer.step()``,
    ``after_step()`` after it, and ``epoch_summary()`` at the end of each epoch. Statistics are
    taken on every ``every``-th batch of an epoch, its first included (weights are copied only on
    those batches):

    - ``grad_norm``: the L2 norm of all of the layer's parameter gradients together;
    - ``mean_abs_grad``: the mean absolute gradient entry;
    - ``update_ratio``: ||w_after - w_before|| / ||w_before|| over the optimizer step;
    - ``dead_relu`` (under each ``nn.ReLU`` module's own name): the fraction of its units (output
      entries but the batch dim) that are zero for every sample of a training batch.

    With ``warn``, the first sampled batch whose gradients vanish or explode (see
    ``check_gradient_flow``) raises a ``GradientFlowWarning``, once per monitor.

    >>> import chainrule as cr
    >>> from chainrule import nn, optim
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    >>> opt = optim.SGD(net.parameters(), lr=0.1)
    >>> monitor = GradientMonitor(net)
    >>> net(cr.randn(8, 3)).sum().backward(); monitor.after_backward(); opt.step(); monitor.after_step()
    >>> stats = monitor.epoch_summary()
    >>> sorted(stats), sorted(stats["0"])
    (['0', '1', '2'], ['grad_norm', 'mean_abs_grad', 'update_ratio'])
    >>> monitor.close()
    """

    def __init__(self, model: Module, track_dead_relu: bool = True, every: int = 1, warn: bool = True,
                 low: float = 1e-3, high: float = 1e3):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"GradientMonitor: every must be a positive integer, got {every!r}")
        number_arg(low, "low", "GradientMonitor", low=0, low_open=True)
        number_arg(high, "high", "GradientMonitor", low=0, low_open=True)
        if not low < high:
            raise ValueError(f"GradientMonitor: expected finite 0 < low < high, got low={low}, high={high}")
        self.model = model
        self.every = every
        self.warn = warn
        self.low = low
        self.high = high
        self._layers = layer_parameters(model)
        self._relus = []
        self._handles = []
        if track_dead_relu:
            for name, module in model.named_modules():
                if isinstance(module, ReLU):
                    name = name or type(module).__name__
                    self._relus.append(name)
                    self._handles.append(module.register_forward_hook(self._relu_hook(name)))
        self._batches = 0
        self._before = None
        self._warned = False
        self._reset()

    @property
    def layers(self) -> list:
        """The names of the layers reported on (see ``layer_parameters``)."""
        return [name for name, _ in self._layers]

    def _reset(self):
        # Per name and statistic: [sum, count] over the sampled batches of the epoch.
        self._sums = {name: {} for name in (*self.layers, *self._relus)}

    def _add(self, name, key, value):
        acc = self._sums[name].setdefault(key, [0.0, 0])
        acc[0] += value
        acc[1] += 1

    def _sampling(self):
        return self._batches % self.every == 0

    def _relu_hook(self, name):
        def hook(module, inputs, output):
            # Only training forwards of sampled batches: validation runs in eval mode.
            if not module.training or not self._sampling():
                return
            data = getattr(output, "_data", output)
            if data.ndim == 0:
                return
            rows = data.reshape(data.shape[0] if data.ndim > 1 else 1, -1)
            self._add(name, "dead_relu", 1.0 - float((rows != 0).any(axis=0).mean()))

        return hook

    def after_backward(self, loss: float | None = None) -> None:
        """Read each layer's gradients (call before the optimizer step); ``loss``, the batch's loss,
        lets a warning about non-finite gradients name their cause."""
        sampled = self._sampling()
        self._batches += 1
        self._before = None
        if not sampled:
            return
        norms = {}
        for name, module in self._layers:
            grads = [p._grad._data for p in module.parameters(recurse=False) if p._grad is not None]
            if not grads:
                continue
            squares = sum(float(np.vdot(g, g)) for g in grads)
            count = sum(g.size for g in grads)
            norms[name] = math.sqrt(squares)
            self._add(name, "grad_norm", norms[name])
            self._add(name, "mean_abs_grad", sum(float(np.abs(g).sum()) for g in grads) / count)
        self._before = [
            [p._data.copy() for p in module.parameters(recurse=False)] for _, module in self._layers
        ]
        if self.warn and not self._warned:
            weights_finite, largest = True, None
            if not all(math.isfinite(v) for v in norms.values()):  # (the weights matter only then)
                weights = [p._data for _, module in self._layers for p in module.parameters(recurse=False)]
                weights_finite = all(np.isfinite(w).all() for w in weights)
                if weights_finite:
                    largest = max((float(np.abs(w).max()) for w in weights if w.size), default=None)
            message = check_gradient_flow(norms, self.low, self.high, loss=loss, weights_finite=weights_finite,
                                          largest_weight=largest)
            if message is not None:
                self._warned = True
                warnings.warn(message, GradientFlowWarning, stacklevel=2)

    def after_step(self) -> None:
        """Measure each layer's update-to-weight ratio (call after the optimizer step)."""
        if self._before is None:
            return
        for (name, module), before in zip(self._layers, self._before):
            params = list(module.parameters(recurse=False))
            change = sum(float(np.sum(np.square(p._data - b))) for p, b in zip(params, before))
            size = sum(float(np.vdot(b, b)) for b in before)
            if size > 0:
                self._add(name, "update_ratio", math.sqrt(change / size))
        self._before = None

    def epoch_summary(self) -> dict:
        """{name: {statistic: mean over the epoch's sampled batches}} as Python floats (None where
        nothing was measured), layers and ReLU modules in model order; then start a new epoch."""
        keys = {name: ("grad_norm", "mean_abs_grad", "update_ratio") for name in self.layers}
        keys.update({name: ("dead_relu",) for name in self._relus})
        order = [n or type(m).__name__ for n, m in self.model.named_modules()]
        summary = {}
        for name in order:
            if name in keys:
                sums = self._sums[name]
                summary[name] = {
                    key: (sums[key][0] / sums[key][1] if key in sums else None) for key in keys[name]
                }
        self._reset()
        self._batches = 0  # every epoch samples its first batch, then every ``every``-th
        return summary

    def close(self) -> None:
        """Remove the forward hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- curvature of the loss ----------------------------------------------------------------------------
class CurvatureWarning(UserWarning):
    """A Lanczos run stopped before its eigenvalues reached the asked tolerance."""


def _as_input(value, dtype):
    """A batch's inputs or targets as a Tensor: floating arrays in the model's dtype, integer
    class labels as they are."""
    from chainrule._tensor import Tensor

    if isinstance(value, Tensor):
        return value.to(dtype) if value._data.dtype.kind == "f" and value._data.dtype != dtype else value
    array = np.asarray(value)
    array = array.astype(dtype) if array.dtype.kind in "fb" else array
    return Tensor(array, dtype=array.dtype)


class _Hessian:
    """The Hessian of ``loss_fn(model(inputs), targets)`` w.r.t. the model's parameters as a
    linear operator on flat float64 vectors, v -> H v, never formed: the gradient is recorded once
    with create_graph, then each product is the gradient of <gradient, v> (a double backward)."""

    def __init__(self, model: Module, loss_fn, data, where: str):
        from chainrule import autograd

        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise TypeError(f"{where}: data must be an (inputs, targets) pair, got {type(data).__name__}")
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError(f"{where}: the model has no parameters that require grad")
        inputs, targets = (_as_input(v, self.params[0]._data.dtype) for v in data)
        self.sizes = [p._data.size for p in self.params]
        self.starts = np.cumsum([0, *self.sizes])
        self.n = int(self.starts[-1])
        self.products = 0
        modes = [m.training for m in model.modules()]
        model.eval()  # dropout off, batch norm on its running statistics: one fixed function of the weights
        try:
            loss = loss_fn(model(inputs), targets)
        finally:
            for module, mode in zip(model.modules(), modes):
                object.__setattr__(module, "training", mode)
        if loss.numel() != 1:
            raise ValueError(f"{where}: loss_fn must return a scalar loss, got shape {tuple(loss.shape)}")
        self.loss = float(loss._data)
        grads = autograd.grad(loss, self.params, create_graph=True, allow_unused=True)
        self.gradient = self._flat(grads)
        # a gradient that is no function of the weights (a loss linear in them) is a zero block of H
        self._curved = [(i, g) for i, g in enumerate(grads) if g is not None and g.requires_grad]

    def _flat(self, pieces):
        out = np.zeros(self.n)
        for i, piece in enumerate(pieces):
            if piece is not None:
                out[self.starts[i]:self.starts[i + 1]] = piece._data.ravel()
        return out

    def __call__(self, v: np.ndarray) -> np.ndarray:
        from chainrule import autograd
        from chainrule._tensor import Tensor

        self.products += 1
        if not self._curved:
            return np.zeros(self.n)
        dot = sum((g * Tensor(v[self.starts[i]:self.starts[i + 1]].reshape(g.shape), dtype=g._data.dtype)).sum()
                  for i, g in self._curved)
        products = autograd.grad(dot, [self.params[i] for i, _ in self._curved], retain_graph=True,
                                 allow_unused=True)
        pieces = [None] * len(self.params)
        for (i, _), h in zip(self._curved, products):
            pieces[i] = h
        return self._flat(pieces)


def _lanczos(matvec, n: int, locked: np.ndarray, ends: tuple, scale: float, tol: float, max_iter: int, rng):
    """Ritz pairs of the symmetric operator ``matvec`` at ``ends`` of its spectrum (0: smallest,
    -1: largest) on the subspace orthogonal to ``locked``'s rows, by Lanczos with full
    reorthogonalisation: [(value, vector, residual, converged)]. ``scale``: the largest eigenvalue
    magnitude seen so far, which ``tol`` is relative to. Ritz values lie inside the spectrum, so an
    estimate that has not converged errs towards the middle: it understates a negative curvature,
    never invents one."""
    free = n - len(locked)
    m = min(max_iter, free)
    basis = np.empty((m, n))
    alpha, beta = np.empty(m), np.empty(m)

    def orthogonalise(w, j):
        for _ in range(2):  # twice is enough (Kahan-Parlett): the basis stays orthogonal to rounding
            w -= basis[:j].T @ (basis[:j] @ w)
            w -= locked.T @ (locked @ w)
        return w

    q = orthogonalise(rng.standard_normal(n), 0)
    q /= np.linalg.norm(q)
    for j in range(m):
        basis[j] = q
        w = matvec(q)
        alpha[j] = q @ w
        w = orthogonalise(w, j + 1)
        beta[j] = np.linalg.norm(w)
        tridiagonal = np.diag(alpha[:j + 1]) + np.diag(beta[:j], 1) + np.diag(beta[:j], -1)
        values, vectors = np.linalg.eigh(tridiagonal)
        scale = max(scale, abs(values[0]), abs(values[-1]))
        # the residual ||H y - value y|| of the Ritz vector y; none when the Krylov space is invariant
        residuals = beta[j] * np.abs(vectors[-1, list(ends)])
        exhausted = beta[j] <= 1e-12 * scale or j + 1 == free
        if exhausted or (residuals <= tol * scale).all() or j + 1 == m:
            return [(values[e], basis[:j + 1].T @ vectors[:, e], 0.0 if exhausted else r,
                     exhausted or r <= tol * scale) for e, r in zip(ends, residuals)]
        q = w / beta[j]
    raise AssertionError("unreachable: the loop returns at its last iteration")


def _extreme_eigenvalues(hessian, k: int, which: str, tol: float, max_iter: int, seed: int) -> np.ndarray:
    """The ascending eigenvalues at the ends ``which`` asks for, ``k`` at each: each Lanczos run
    finds the next one (or two) in the subspace orthogonal to those found before, so a repeated
    eigenvalue comes back as often as it is repeated."""
    ends = {"largest": (-1,), "smallest": (0,), "both": (0, -1)}[which]
    n = hessian.n
    if k * len(ends) > n:
        raise ValueError(f"hessian_eigenvalues: asked for {k * len(ends)} eigenvalues of a Hessian of size {n} "
                         f"(the model's {n} parameters)")
    rng = np.random.default_rng(seed)
    locked, values, scale = np.empty((0, n)), [], 0.0
    for _ in range(k):
        for value, vector, residual, converged in _lanczos(hessian, n, locked, ends, scale, tol, max_iter, rng):
            if not converged:
                warnings.warn(f"hessian_eigenvalues: the eigenvalue {value:.6g} did not converge in {max_iter} "
                              f"Hessian-vector products (residual {residual:.3g}); raise max_iter or tol",
                              CurvatureWarning, stacklevel=3)
            values.append(value)
            scale = max(scale, abs(value))
            locked = np.vstack([locked, vector / np.linalg.norm(vector)])
    return np.sort(np.array(values))


def _check_solver(k, which, tol, max_iter, where):
    k = int_arg(k, "k", where, minimum=1)
    if which not in ("largest", "smallest", "both"):
        raise ValueError(f"{where}: which must be 'largest', 'smallest' or 'both', got {which!r}")
    number_arg(tol, "tol", where, low=0, low_open=True)
    return k, int_arg(max_iter, "max_iter", where, minimum=1)


def hessian_eigenvalues(model: Module, loss_fn, data, k: int = 1, which: str = "largest", tol: float = 1e-4,
                        max_iter: int = 100, seed: int = 0) -> np.ndarray:
    """The ``k`` largest or smallest eigenvalues (``which``: "largest", "smallest" or "both", which
    gives 2k) of the Hessian of ``loss_fn(model(inputs), targets)`` with respect to the model's
    parameters, ``data = (inputs, targets)``, in ascending order.

    Lanczos iteration with full reorthogonalisation on Hessian-vector products, each a double
    backward through the model (every op in it must support create_graph); the matrix is never
    formed, and memory is ``max_iter`` vectors of the parameters' size. A repeated eigenvalue is
    returned as often as it is repeated. The model runs in eval mode. Each eigenvalue's residual
    is at most ``tol`` times the largest magnitude (its error is smaller still); one that has not
    got there after ``max_iter`` products is returned as it stands, with a ``CurvatureWarning``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> class Bowl(nn.Module):  # loss 0.5 (w0^2 + 4 w1^2 - 2 w2^2): Hessian diag(1, 4, -2)
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = nn.Parameter(cr.ones(3, dtype="float64"))
    ...     def forward(self, x):
    ...         return self.w
    >>> loss_fn = lambda w, _: 0.5 * (cr.tensor([1.0, 4.0, -2.0]) * w * w).sum()
    >>> hessian_eigenvalues(Bowl(), loss_fn, (cr.zeros(1), cr.zeros(1)), which="both").round(6)
    array([-2.,  4.])
    """
    k, max_iter = _check_solver(k, which, tol, max_iter, "hessian_eigenvalues")
    return _extreme_eigenvalues(_Hessian(model, loss_fn, data, "hessian_eigenvalues"), k, which, tol, max_iter, seed)


VERDICTS = ("saddle", "sharp minimum", "flat minimum")


@dataclasses.dataclass
class Curvature:
    """The loss surface at some weights (see ``curvature``): the extreme eigenvalues of the loss
    Hessian, the gradient norm, the loss and the verdict, one of ``VERDICTS``."""

    largest: float
    smallest: float
    gradient_norm: float
    loss: float
    verdict: str
    sharp_above: float  # 1 / lr
    hessian_vector_products: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        why = {
            "saddle": "negative curvature: the loss falls along some direction, so this is no minimum (a saddle "
                      "point where the gradient is small)",
            "sharp minimum": f"no direction curves down, and the steepest curves up faster than "
                             f"{self.sharp_above:.4g} (1/lr): a step of the learning rate overshoots along it",
            "flat minimum": f"no direction curves down, and none curves up faster than {self.sharp_above:.4g} (1/lr)",
        }[self.verdict]
        return (f"largest Hessian eigenvalue  {self.largest:.6g}\n"
                f"smallest Hessian eigenvalue {self.smallest:.6g}\n"
                f"gradient norm {self.gradient_norm:.6g}, loss {self.loss:.6g}\n"
                f"verdict: {self.verdict}: {why}")


def curvature(model: Module, loss_fn, data, lr: float = 0.01, saddle_ratio: float = 1e-3, tol: float = 1e-4,
              max_iter: int = 100, seed: int = 0) -> Curvature:
    """The loss Hessian's largest and smallest eigenvalues at the model's weights (see
    ``hessian_eigenvalues``, with the same ``data``, ``tol``, ``max_iter`` and ``seed``) and a
    verdict on the surface there:

    - ``"saddle"``: negative curvature of significant size, smallest < -``saddle_ratio`` x |largest|:
      the loss falls along that direction (a saddle point where the gradient is small: training
      stalls at saddle points far more often than in poor local minima);
    - ``"sharp minimum"``: otherwise, when largest > 1 / ``lr``: a gradient step of ``lr``
      overshoots along the sharpest direction (beyond 2 / ``lr`` it diverges);
    - ``"flat minimum"``: otherwise.

    ``lr``, the learning rate of the training, sets the scale of sharpness (for adaptive optimizers
    such as Adam it is only indicative). The verdict describes the curvature; ``gradient_norm``
    says how close the weights are to a critical point.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> class Saddle(nn.Module):  # loss x^2 - y^2
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = nn.Parameter(cr.zeros(2, dtype="float64"))
    ...     def forward(self, x):
    ...         return self.w
    >>> report = curvature(Saddle(), lambda w, _: (cr.tensor([1.0, -1.0]) * w * w).sum(), (cr.zeros(1), cr.zeros(1)))
    >>> report.verdict, round(report.largest, 6), round(report.smallest, 6)
    ('saddle', 2.0, -2.0)
    """
    number_arg(lr, "lr", "curvature", low=0, low_open=True)
    number_arg(saddle_ratio, "saddle_ratio", "curvature", low=0)
    _, max_iter = _check_solver(1, "both", tol, max_iter, "curvature")
    hessian = _Hessian(model, loss_fn, data, "curvature")
    if hessian.n == 1:
        smallest = largest = float(_extreme_eigenvalues(hessian, 1, "largest", tol, max_iter, seed)[0])
    else:
        smallest, largest = (float(v) for v in _extreme_eigenvalues(hessian, 1, "both", tol, max_iter, seed))
    if smallest < -saddle_ratio * abs(largest):
        verdict = "saddle"
    else:
        verdict = "sharp minimum" if largest > 1 / lr else "flat minimum"
    return Curvature(largest=largest, smallest=smallest, gradient_norm=float(np.linalg.norm(hessian.gradient)),
                     loss=hessian.loss, verdict=verdict, sharp_above=1 / lr, hessian_vector_products=hessian.products)


class CurvatureMonitor(Callback):
    """A training callback that takes ``curvature(model, loss_fn, data, ...)`` before the first
    epoch (epoch 0) and after every ``every``-th epoch, into ``records``: one dict per point,
    ``{"epoch": ..., **Curvature.to_dict()}``. ``lr`` defaults to the optimizer's learning rate at
    that point. Each point costs a few dozen Hessian-vector products: give it a small ``data``."""

    def __init__(self, loss_fn, data, every: int = 1, lr: float | None = None, **options):
        self.loss_fn, self.data, self.lr, self.options = loss_fn, data, lr, options
        self.every = int_arg(every, "every", "CurvatureMonitor", minimum=1)
        self.records = []

    def _take(self, trainer, epoch):
        lr = self.lr if self.lr is not None else trainer.optimizer.param_groups[0]["lr"]
        report = curvature(trainer.model, self.loss_fn, self.data, lr=lr, **self.options)
        self.records.append({"epoch": epoch, **report.to_dict()})

    def on_train_begin(self, trainer):
        self.records = []  # each restart is a run of its own
        if not trainer.resumed:
            self._take(trainer, 0)

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch % self.every == 0:
            self._take(trainer, epoch)


# -- plots ------------------------------------------------------------------------------------------
# One colour per split in every figure, so a reader learns it once: train blue, validation orange.
TRAIN_COLOR, VALIDATION_COLOR = "tab:blue", "tab:orange"


def new_figure(width: float, height: float):
    """A matplotlib Figure drawn by the Agg canvas: no pyplot, so no global backend is changed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install chainrule[viz]") from None
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path, **savefig_kwargs) -> Path:
    """Render ``fig`` in memory and write it to ``path`` atomically: a kill or a full disk leaves
    the previous picture, never a cut-off one. The format follows the file's suffix (PNG if none);
    an SVG keeps its words as text (searchable, selectable, smaller) instead of outlines."""
    import io

    from matplotlib import rc_context

    from chainrule.serialization import write_atomic

    picture = io.BytesIO()
    with rc_context({"svg.fonttype": "none"}):
        fig.savefig(picture, format=Path(path).suffix.lstrip(".").lower() or "png", **savefig_kwargs)
    write_atomic(path, picture.getvalue())
    return Path(path)


def run_context(data: str | None = None, model: str | None = None, run: str | None = None) -> str:
    """The line under a figure's title naming what it shows: 'data digits · model mlp 64-128-10 ·
    run demo' (the parts that are known; '' when none is).

    >>> run_context(data="xor", run="runs/xor-1")
    'data xor · run runs/xor-1'
    """
    parts = [f"{word} {value}" for word, value in (("data", data), ("model", model), ("run", run)) if value]
    return " · ".join(parts)


def _context_text(context) -> str:
    if context is None:
        return ""
    if isinstance(context, dict):
        unknown = set(context) - {"data", "model", "run"}
        if unknown:
            raise ValueError(f"context: expected keys among 'data', 'model', 'run', got {sorted(unknown)}")
        return run_context(**{k: None if v is None else str(v) for k, v in context.items()})
    if not isinstance(context, str):
        raise TypeError(f"context: expected a str or a dict with 'data', 'model', 'run', got {type(context).__name__}")
    return context


def _title(fig, title: str, context) -> None:
    """The figure's title, and under it the data, model and run it comes from."""
    line = _context_text(context)
    fig.suptitle(f"{title}\n{line}" if line else title)


def _epochs(history, where):
    epochs = list(getattr(history, "epochs", history))
    if not all(isinstance(e, dict) for e in epochs):
        raise TypeError(f"{where}: expected a history with .epochs, a list of dicts per epoch")
    return epochs


def _series(epochs, key):
    """(x, y) for the epochs that have a number under key."""
    xs, ys = [], []
    for i, e in enumerate(epochs):
        value = e.get(key)
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            xs.append(e.get("epoch", i + 1))
            ys.append(float(value))
    return xs, ys


_NOT_METRICS = {"epoch", "loss", "lr", "time", "grad_norms"}


def history_figure(history, title: str | None = None, context=None):
    """The Figure ``plot_history`` saves: a panel for the loss, one per metric (train in
    ``TRAIN_COLOR``, validation in ``VALIDATION_COLOR``) and one for the learning rate only when
    it changes (a constant one is stated in the title instead). ``context``: a str, or a dict with
    "data", "model" and "run", shown under the title."""
    epochs = _epochs(history, "plot_history")
    names = []
    for e in epochs:
        for key in e:
            base = key[4:] if key.startswith("val_") else key
            if base not in _NOT_METRICS and base not in names and _series(epochs, key)[0]:
                names.append(base)
    panels = [("loss", ["loss", "val_loss"], False), *[(m, [m, f"val_{m}"], False) for m in names]]
    rates = _series(epochs, "lr")[1]
    constant_lr = rates and max(rates) == min(rates)
    if not constant_lr:
        panels.append(("learning rate", ["lr"], True))
    panels = [(t, [k for k in ks if _series(epochs, k)[0]], log) for t, ks, log in panels]
    panels = [p for p in panels if p[1]]
    if not panels:
        if constant_lr:
            panels = [("learning rate", ["lr"], True)]  # nothing else to show: the rate alone
        else:
            raise ValueError("plot_history: no epoch has a loss, a metric or a learning rate to plot")
    if title is None:
        shown = [t for t, _, _ in panels if t != "learning rate"] or ["learning rate"]
        shown = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
        title = f"{shown} per epoch" + (f" (learning rate {rates[0]:g} throughout)" if constant_lr else "")
    fig = new_figure(7, 2.4 * len(panels) + 0.6)
    _title(fig, title, context)
    for ax, (name, keys, log) in zip(np.atleast_1d(fig.subplots(len(panels), 1, sharex=True)), panels):
        for key in keys:
            xs, ys = _series(epochs, key)
            validation = key.startswith("val_")
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, label="validation" if validation else "train",
                    color=VALIDATION_COLOR if validation else TRAIN_COLOR)
        if log and all(y > 0 for k in keys for y in _series(epochs, k)[1]):
            ax.set_yscale("log")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if name != "learning rate":
            ax.legend()  # even with train alone: the colour is named in every panel
    _epoch_axis(ax)
    return fig


def plot_history(history, path, title: str | None = None, context=None) -> Path:
    """Save loss curves (train and validation), one panel per metric and, when it changes, the
    learning rate to ``path`` (e.g. a .png or .svg); see ``history_figure``. Keys missing from
    ``history.epochs`` are not plotted."""
    return save_figure(history_figure(history, title, context), path)


def layer_label(name: str, module) -> str:
    """How a figure names a layer: its name in the model and what it is, '0 Linear(64->128)'.

    >>> from chainrule import nn
    >>> layer_label("0", nn.Linear(64, 128)), layer_label("1", nn.Conv2d(1, 8, 3))
    ('0 Linear(64->128)', '1 Conv2d(1->8, 3x3)')
    """
    kind = type(module).__name__
    inputs = getattr(module, "in_features", getattr(module, "in_channels", None))
    outputs = getattr(module, "out_features", getattr(module, "out_channels", None))
    if inputs is None or outputs is None:
        size = getattr(module, "num_features", getattr(module, "normalized_shape", None))
        return f"{name} {kind}({size})" if isinstance(size, int) else f"{name} {kind}"
    kernel = getattr(module, "kernel_size", None)
    if kernel is None:
        return f"{name} {kind}({inputs}->{outputs})"
    kernel = "x".join(map(str, kernel)) if isinstance(kernel, (tuple, list)) else str(kernel)
    return f"{name} {kind}({inputs}->{outputs}, {kernel})"


def gradient_flow_figure(history, model: Module | None = None, title: str | None = None, context=None):
    """The Figure ``plot_gradient_flow`` saves: each layer's gradient norm, averaged over the
    epoch's sampled batches, per epoch (log scale), first layer dark, last light. With ``model``
    the legend names each layer's kind and size ('0 Linear(64->128)'), otherwise its name alone."""
    epochs = _epochs(history, "plot_gradient_flow")
    lines = {}
    for i, e in enumerate(epochs):
        for layer, stats in (e.get("grad_norms") or {}).items():
            value = stats.get("grad_norm") if isinstance(stats, dict) else stats
            if value is not None and 0 < value < math.inf:
                xs, ys = lines.setdefault(layer, ([], []))
                xs.append(e.get("epoch", i + 1))
                ys.append(float(value))
    if not lines:
        raise ValueError("plot_gradient_flow: no epoch has positive 'grad_norms' to plot")
    labels = {name: name for name in lines}
    if model is not None:
        if not isinstance(model, Module):
            raise TypeError(f"plot_gradient_flow: model must be an nn.Module, got {type(model).__name__}")
        labels.update({name: layer_label(name, module) for name, module in layer_parameters(model) if name in lines})
    fig = new_figure(8, 4.6)
    _title(fig, title or "gradient flow: each layer's gradient norm per epoch", context)
    ax = fig.subplots()
    for color, (layer, (xs, ys)) in zip(_colors(len(lines)), lines.items()):
        ax.plot(xs, ys, color=color, marker="o" if len(xs) < 30 else None, label=labels[layer])
    ax.set_yscale("log")
    _epoch_axis(ax)
    ax.set_ylabel("||gradient||, mean over the epoch")
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="layer (per-epoch means;\nfirst dark, last light)", fontsize="small", title_fontsize="small",
              ncol=max(1, len(lines) // 12), loc="center left", bbox_to_anchor=(1, 0.5))
    return fig


def plot_gradient_flow(history, path, model: Module | None = None, title: str | None = None, context=None) -> Path:
    """Save each layer's per-epoch mean gradient norm (log scale, one line per layer) to ``path``,
    from the ``"grad_norms"`` entry of each epoch: {layer: {"grad_norm": ...}}; see
    ``gradient_flow_figure``."""
    return save_figure(gradient_flow_figure(history, model, title, context), path)


def curvature_figure(records, title: str | None = None, context=None):
    """The Figure ``plot_curvature`` saves (see there)."""
    records = [r for r in records if r.get("epoch") is not None]
    if not records:
        raise ValueError("plot_curvature: no record with an epoch to plot")
    epochs = [r["epoch"] for r in records]
    fig = new_figure(7, 4.4)
    _title(fig, title or f"curvature of the training loss over training (last: {records[-1]['verdict']})", context)
    ax = fig.subplots()
    # not blue and orange: those mean train and validation in every figure
    for key, color in (("largest", "tab:purple"), ("smallest", "tab:green")):
        ax.plot(epochs, [r[key] for r in records], color=color, marker="o" if len(records) < 30 else None,
                label=f"{key} eigenvalue")
    saddles = [r for r in records if r["verdict"] == "saddle"]
    if saddles:
        ax.scatter([r["epoch"] for r in saddles], [r["smallest"] for r in saddles], s=120, facecolors="none",
                   edgecolors="tab:red", label="saddle (negative curvature)", zorder=3)
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.axhline(records[-1]["sharp_above"], color="gray", linestyle="--", linewidth=0.8, label="sharp above (1/lr)")
    sizes = [abs(r[k]) for r in records for k in ("largest", "smallest")]
    # linear only below the smallest magnitude plotted, so no decade of the axis stays empty
    ax.set_yscale("symlog", linthresh=max(min((v for v in sizes if v > 0), default=1.0), max(sizes) * 1e-6, 1e-12))
    _epoch_axis(ax)
    ax.set_ylabel("Hessian eigenvalue of the loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_curvature(records, path, title: str | None = None, context=None) -> Path:
    """Save the loss Hessian's largest and smallest eigenvalues over training to ``path``, from
    records ``{"epoch": ..., "largest": ..., "smallest": ..., "verdict": ..., "sharp_above": ...}``
    (``CurvatureMonitor.records``, ``runs.run_curvature(..., over_training=True)``); points judged a
    saddle are ringed. The scale is linear near 0 and logarithmic beyond, as eigenvalues take both signs."""
    return save_figure(curvature_figure(records, title, context), path)


def _epoch_axis(ax):
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _colors(n):
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(n - 1, 1) * 0.9) for i in range(n)]
