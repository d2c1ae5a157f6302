"""Diagnostics of the backward pass: per-layer gradient statistics gathered during training,
a vanishing/exploding-gradient detector, and plots of training history and gradient flow."""

import math
import warnings
from pathlib import Path

import numpy as np

from chainrule._arguments import number_arg
from chainrule.nn.activation import ReLU
from chainrule.nn.module import Module


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
                        weights_finite: bool = True):
    """None when gradients flow, else a message naming the problem.

    ``grad_norms`` maps layer names, first layer first, to gradient norms (floats, or dicts with a
    ``"grad_norm"`` entry as in ``GradientMonitor.epoch_summary()``; entries without one are
    skipped). The ratio first / last below ``low`` means vanishing gradients, above ``high``
    exploding ones. A non-finite norm is blamed on its cause: a non-finite ``loss`` (the batch's,
    when given) with finite weights points at the data or the loss function, weights that are
    already non-finite (``weights_finite=False``) at an earlier diverging update, and a finite loss
    with a non-finite gradient at overflow in the backward pass (exploding gradients).

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
            return _non_finite_cause(name, value, loss, weights_finite)
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


def _non_finite_cause(layer, norm, loss, weights_finite):
    """The verdict for a non-finite gradient norm: what made it, not only where it shows."""
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
            finite = all(math.isfinite(v) for v in norms.values())
            weights_finite = finite or all(  # only looked at when a gradient is not finite
                np.isfinite(p._data).all() for _, module in self._layers for p in module.parameters(recurse=False))
            message = check_gradient_flow(norms, self.low, self.high, loss=loss, weights_finite=weights_finite)
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


# -- plots ------------------------------------------------------------------------------------------
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
    the previous picture, never a cut-off one. The format follows the file's suffix (PNG if none)."""
    import io

    from chainrule.serialization import write_atomic

    picture = io.BytesIO()
    fig.savefig(picture, format=Path(path).suffix.lstrip(".").lower() or "png", **savefig_kwargs)
    write_atomic(path, picture.getvalue())
    return Path(path)


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


def plot_history(history, path) -> Path:
    """Save loss curves (train and validation), one panel per metric and the learning rate to
    ``path`` (e.g. a .png). Keys missing from ``history.epochs`` are not plotted."""
    epochs = _epochs(history, "plot_history")
    names = []
    for e in epochs:
        for key in e:
            base = key[4:] if key.startswith("val_") else key
            if base not in _NOT_METRICS and base not in names and _series(epochs, key)[0]:
                names.append(base)
    panels = [("loss", ["loss", "val_loss"], False), *[(m, [m, f"val_{m}"], False) for m in names]]
    panels.append(("learning rate", ["lr"], True))
    panels = [(t, [k for k in ks if _series(epochs, k)[0]], log) for t, ks, log in panels]
    panels = [p for p in panels if p[1]]
    if not panels:
        raise ValueError("plot_history: no epoch has a loss, a metric or a learning rate to plot")
    fig = new_figure(7, 2.6 * len(panels))
    for ax, (title, keys, log) in zip(np.atleast_1d(fig.subplots(len(panels), 1, sharex=True)), panels):
        for key in keys:
            xs, ys = _series(epochs, key)
            label = "validation" if key.startswith("val_") else "train"
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, label=label)
        if log and all(y > 0 for k in keys for y in _series(epochs, k)[1]):
            ax.set_yscale("log")
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend()
    _epoch_axis(ax)
    return save_figure(fig, path)


def plot_gradient_flow(history, path) -> Path:
    """Save each layer's gradient norm per epoch (log scale, one line per layer) to ``path``,
    from the ``"grad_norms"`` entry of each epoch: {layer: {"grad_norm": ...}}."""
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
    fig = new_figure(7, 2.6 * 1.6)
    ax = fig.subplots()
    colors = _colors(len(lines))
    for color, (layer, (xs, ys)) in zip(colors, lines.items()):
        ax.plot(xs, ys, color=color, marker="o" if len(xs) < 30 else None, label=layer)
    ax.set_yscale("log")
    _epoch_axis(ax)
    ax.set_ylabel("gradient norm")
    ax.set_title("gradient flow (first layer dark, last layer light)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small", ncol=max(1, len(lines) // 12), loc="center left", bbox_to_anchor=(1, 0.5))
    return save_figure(fig, path)


def _epoch_axis(ax):
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _colors(n):
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(n - 1, 1) * 0.9) for i in range(n)]
