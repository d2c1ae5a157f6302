"""Learning-rate schedules: objects that rewrite each optimizer parameter group's ``lr`` (and, for
the cyclical ones, its momentum) once per epoch or per batch, with PyTorch's classes, arguments and
floating-point arithmetic, so that a schedule gives the same learning rates in both libraries.

Call ``scheduler.step()`` after ``optimizer.step()``; the constructor already performs step 0.

>>> import chainrule as cr
>>> from chainrule.optim import SGD
>>> opt = SGD([cr.nn.Parameter(cr.zeros(2))], lr=0.1)
>>> sched = StepLR(opt, step_size=2, gamma=0.5)
>>> lrs = []
>>> for epoch in range(5):
...     lrs.append(sched.get_last_lr()[0])  # the lr this epoch trains with
...     opt.step()
...     sched.step()
>>> lrs
[0.1, 0.1, 0.05, 0.05, 0.025]
"""

from __future__ import annotations

import bisect
import copy
import itertools
import math
import numbers
import types
import warnings
from collections.abc import Callable, Iterable, Sequence

from chainrule._arguments import int_arg, is_int
from chainrule.optim.optimizer import FLAG, Range, check_hyperparameter

__all__ = [
    "ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR",
    "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR", "OneCycleLR",
    "PolynomialLR", "ReduceLROnPlateau", "SequentialLR", "StepLR",
]  # fmt: skip

# PyTorch's words, as its schedulers warn when step() is given an epoch.
EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where possible. "
    "Please use `scheduler.step()` to step the scheduler. During the deprecation, if epoch is different from "
    "None, the closed form is used instead of the new chainable form, where available."
)


# -- argument checks (once, at construction) ---------------------------------------------------
def _check_optimizer(where: str, optimizer) -> None:
    if not isinstance(getattr(optimizer, "param_groups", None), list):
        raise TypeError(f"{where}: expected an Optimizer (with param_groups), got {type(optimizer).__name__}")


def _number(where: str, name: str, value, low: float = 0.0, high: float = math.inf, *, low_open: bool = False,
            closed: bool = False) -> float:
    """A finite real argument in range, as a float: chainrule.optim's one hyperparameter check."""
    return check_hyperparameter(where, name, value, Range(name, low, high, closed, low_open))


def _flag(where: str, name: str, value) -> bool:
    return check_hyperparameter(where, name, value, FLAG)


def _positive(where: str, name: str, value) -> float:
    return _number(where, name, value, low_open=True)


def _momentum(where: str, name: str, value) -> float:
    return _number(where, name, value, 0.0, 1.0)


def _per_group(where: str, name: str, optimizer, value, check=None) -> list:
    """A scalar for every group, or a list/tuple with one value per group (as PyTorch); each value
    passed through ``check(where, name, value)`` when given."""
    n = len(optimizer.param_groups)
    if not isinstance(value, (list, tuple)):
        return [value if check is None else check(where, name, value)] * n
    if len(value) != n:
        raise ValueError(f"{where}: {name} has {len(value)} values, the optimizer has {n} param_groups")
    return [v if check is None else check(where, f"{name}[{i}]", v) for i, v in enumerate(value)]


# State entries that count steps: integers (-1 is the "not started" epoch).
_COUNTERS = frozenset({"last_epoch", "_step_count", "num_bad_epochs", "cooldown_counter"})


def _check_like(where: str, path: str, own, saved, key: str = "") -> None:
    """Refuse a saved scheduler state that is not shaped like this scheduler's own ``own``: the
    same class name, the same keys, lists of the same lengths, numbers for numbers (integers for
    counters, never NaN), strings for strings. ``None`` in ``own`` (a function, an unset option)
    accepts anything."""
    def refuse(what):
        raise ValueError(f"{where}: {path} {what}; is this the state of another scheduler, or damaged?")

    if own is None:
        return
    if isinstance(own, dict):
        if not isinstance(saved, dict):
            refuse(f"must be a dict, got {type(saved).__name__}")
        if "scheduler" in own and saved.get("scheduler") != own["scheduler"]:
            raise ValueError(f"{where}: {path} is the state of {saved.get('scheduler')!r}, not of "
                             f"{own['scheduler']}; a scheduler loads only its own kind of state")
        missing, unknown = sorted(set(own) - set(saved)), sorted(set(saved) - set(own))
        if missing or unknown:
            refuse(f"lacks keys {missing} and has unknown keys {unknown}")
        for name, value in own.items():
            _check_like(where, f"{path}[{name!r}]", value, saved[name], name)
    elif isinstance(own, (list, tuple)):
        if not isinstance(saved, (list, tuple)) or len(saved) != len(own):
            refuse(f"must be a list of {len(own)} values, got {saved!r}"[:300])
        for i, (a, b) in enumerate(zip(own, saved)):
            _check_like(where, f"{path}[{i}]", a, b)
    elif isinstance(own, bool):
        if not isinstance(saved, bool):
            refuse(f"must be True or False, got {saved!r}")
    elif isinstance(own, numbers.Real):
        if not isinstance(saved, numbers.Real) or isinstance(saved, bool):
            refuse(f"must be a number, got {saved!r}")
        shown = "a huge number" if abs(saved) >= 10**20 else saved
        if key in _COUNTERS:
            if not is_int(saved) or not -1 <= saved <= 2**53:  # the schedules' float arithmetic ends there
                refuse(f"must be an integer in [-1, 2**53], got {shown!r}")
        elif (is_int(saved) and abs(saved) > 2**53) or math.isnan(saved):
            refuse(f"must be a number, not NaN nor an integer beyond 2**53, got {shown!r}")
    elif isinstance(own, str) and not isinstance(saved, str):
        refuse(f"must be a string, got {saved!r}")


def _set_momentum(group: dict, use_beta1: bool, momentum: float) -> None:
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


def _momentum_key(where: str, optimizer) -> bool:
    """True when the optimizer's momentum is ``betas[0]`` (Adam family), False for ``momentum``."""
    defaults = getattr(optimizer, "defaults", optimizer.param_groups[0])
    if "betas" not in defaults and "momentum" not in defaults:
        raise ValueError(
            f"{where}: cycle_momentum=True needs an optimizer with 'momentum' or 'betas' "
            f"(got {type(optimizer).__name__}); pass cycle_momentum=False"
        )
    return "betas" in defaults


class LRScheduler:
    """Base class. A subclass writes ``get_lr()``: the lrs for step ``self.last_epoch``, from the
    groups' current ``lr`` (chainable, recursive forms) or from ``self.base_lrs``.

    ``base_lrs`` are the groups' ``initial_lr``, set from ``lr`` at construction when
    ``last_epoch == -1``; a resumed scheduler (``last_epoch >= 0``) needs them already there.
    """

    # Attributes that are not part of the saved state (the optimizer is saved on its own).
    _not_state = ("optimizer", "_is_initial")
    _is_initial = False

    def __init__(self, optimizer, last_epoch: int = -1):
        where = type(self).__name__
        _check_optimizer(where, optimizer)
        last_epoch = int_arg(last_epoch, "last_epoch", where, -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{where}: resuming with last_epoch={last_epoch} needs 'initial_lr' in "
                        f"param_groups[{i}]; load the optimizer's state_dict first"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        # When resuming, step 0 must not advance the recursive forms a second time.
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for step ``last_epoch`` (called by ``step``; read ``get_last_lr``)."""
        raise NotImplementedError

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or one batch, for the per-batch schedules). ``epoch`` (deprecated in
        PyTorch, which warns likewise) jumps there, by the closed form where there is one."""
        self._step_count += 1
        if epoch is not None:
            epoch = int_arg(epoch, "epoch", f"{type(self).__name__}.step", 0)
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        # epoch given: jump there with the closed form where there is one (SequentialLR does so).
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group, as set by the latest step."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Every attribute but the optimizer, copied: plain numbers, strings, lists and dicts,
        and under ``"scheduler"`` the class name (so that another scheduler's state is refused)."""
        state = {k: copy.deepcopy(v) for k, v in vars(self).items() if k not in self._not_state}
        return {**state, "scheduler": type(self).__name__}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``; load the optimizer's own state_dict too, since the
        recursive schedules continue from the groups' current ``lr``. All or nothing: the whole
        state is checked against this scheduler's own (same class, same keys, same kinds of
        values, counters integers, no NaN) before any of it is applied."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{where}: expected a dict, got {type(state_dict).__name__}")
        _check_like(where, "state_dict", self.state_dict(), state_dict)
        state = copy.deepcopy(state_dict)
        del state["scheduler"]
        self._restore(state)

    def _restore(self, state: dict) -> None:
        """Apply a checked state (subclasses holding functions or schedulers override)."""
        self.__dict__.update(state)


class _FunctionSchedule(LRScheduler):
    """The schedules given as functions of the epoch (one, or one per group): their checks and
    their state, which cannot hold the functions (see LambdaLR)."""

    _factor_of = ""  # what the function's value multiplies, for the error message

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        where = type(self).__name__
        _check_optimizer(where, optimizer)
        self.lr_lambdas = _per_group(where, "lr_lambda", optimizer, lr_lambda)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"{where}: lr_lambda must be callable, got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def _factors(self) -> list[float]:
        factors = []
        for fn in self.lr_lambdas:
            factor = fn(self.last_epoch)
            if not (isinstance(factor, numbers.Real) and math.isfinite(factor)):
                raise ValueError(f"{type(self).__name__}: lr_lambda({self.last_epoch}) returned {factor!r}; "
                                 f"expected a finite number (the factor of the {self._factor_of})")
            factors.append(factor)
        return factors

    def state_dict(self) -> dict:
        state = {k: copy.deepcopy(v) for k, v in vars(self).items()
                 if k not in (*self._not_state, "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__)
                               for fn in self.lr_lambdas]
        return {**state, "scheduler": type(self).__name__}

    def _restore(self, state: dict) -> None:
        saved = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                fn.__dict__.update(attrs)


class LambdaLR(_FunctionSchedule):
    """``lr = initial_lr * lr_lambda(epoch)``; ``lr_lambda`` is one function or one per group.

    ``state_dict()`` cannot hold the functions: it stores ``None`` for a plain function or lambda
    and the ``__dict__`` of a callable object, so build the new scheduler with the same functions
    before ``load_state_dict``.
    """

    _factor_of = "initial lr"

    def __init__(self, optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1):
        super().__init__(optimizer, lr_lambda, last_epoch)

    def get_lr(self):
        return [base_lr * factor for base_lr, factor in zip(self.base_lrs, self._factors())]


class MultiplicativeLR(_FunctionSchedule):
    """``lr <- lr * lr_lambda(epoch)`` at every step after the first (step 0 keeps the initial
    lr): ``lr_t = initial_lr * lr_lambda(1) * ... * lr_lambda(t)``. Its state keeps functions as
    LambdaLR's does."""

    _factor_of = "current lr"

    def __init__(self, optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1):
        super().__init__(optimizer, lr_lambda, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [group["lr"] for group in groups]
        return [group["lr"] * factor for group, factor in zip(groups, self._factors())]


class StepLR(LRScheduler):
    """``lr = initial_lr * gamma ** (epoch // step_size)`` (applied recursively, as PyTorch)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = int_arg(step_size, "step_size", "StepLR")
        self.gamma = _number("StepLR", "gamma", gamma, low_open=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """``lr = initial_lr * gamma ** (number of milestones <= epoch)``; a milestone given twice
    counts twice, as in PyTorch."""

    def __init__(self, optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1):
        milestones = list(milestones)
        if not all(is_int(m) and m >= 0 for m in milestones) or milestones != sorted(milestones):
            raise ValueError(
                f"MultiStepLR: milestones must be non-negative integers in increasing order, got {milestones}"
            )
        self.milestones = [int(m) for m in milestones]
        self.gamma = _number("MultiStepLR", "gamma", gamma, low_open=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        hits = self.milestones.count(self.last_epoch)
        if not hits:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma**hits for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        passed = bisect.bisect_right(self.milestones, self.last_epoch)
        return [base_lr * self.gamma**passed for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """``lr = initial_lr * gamma ** epoch`` (applied recursively: ``lr *= gamma`` each step)."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = _number("ExponentialLR", "gamma", gamma, low_open=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Warm-up: ``lr = initial_lr * (start_factor + (end_factor - start_factor) *
    min(epoch, total_iters) / total_iters)``, then constant (applied recursively, as PyTorch)."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        self.start_factor = _number("LinearLR", "start_factor", start_factor, 0.0, 1.0, low_open=True, closed=True)
        self.end_factor = _number("LinearLR", "end_factor", end_factor, 0.0, 1.0, closed=True)
        self.total_iters = int_arg(total_iters, "total_iters", "LinearLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return [group["lr"] for group in groups]
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [group["lr"] * ratio for group in groups]

    def _get_closed_form_lr(self):
        factor = (self.start_factor + (self.end_factor - self.start_factor)
                  * min(self.total_iters, self.last_epoch) / self.total_iters)
        return [base_lr * factor for base_lr in self.base_lrs]


class ConstantLR(LRScheduler):
    """``lr = initial_lr * factor`` for the first ``total_iters`` epochs, then ``initial_lr``
    (applied recursively, as PyTorch: the lr is divided by ``factor`` at ``total_iters``)."""

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        # factor 0 is refused: PyTorch divides by it at total_iters
        self.factor = _number("ConstantLR", "factor", factor, 0.0, 1.0, low_open=True, closed=True)
        self.total_iters = int_arg(total_iters, "total_iters", "ConstantLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in groups]
        if self.last_epoch != self.total_iters:
            return [group["lr"] for group in groups]
        return [group["lr"] * (1.0 / self.factor) for group in groups]

    def _get_closed_form_lr(self):
        factor = self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor)
        return [base_lr * factor for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """``lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power``: a polynomial
    decay to 0 at ``total_iters`` (applied recursively, as PyTorch)."""

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        self.total_iters = int_arg(total_iters, "total_iters", "PolynomialLR")
        self.power = _number("PolynomialLR", "power", power)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self._is_initial or self.last_epoch > self.total_iters:
            return [group["lr"] for group in groups]
        decay_factor = ((1.0 - self.last_epoch / self.total_iters)
                        / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [group["lr"] * decay_factor for group in groups]

    def _get_closed_form_lr(self):
        decay = (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
        return [base_lr * decay for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``, computed
    recursively as PyTorch does; past ``T_max`` it rises again along the same cosine."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max = int_arg(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = _number("CosineAnnealingLR", "eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [group["lr"] for group in groups]
        if (t - 1 - T) % (2 * T) == 0:
            # Leaving the minimum: the ratio below would divide by 1 + cos(pi) = 0.
            return [group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, group in zip(self.base_lrs, groups)]
        ratio_num = 1 + math.cos(math.pi * t / T)
        ratio_den = 1 + math.cos(math.pi * (t - 1) / T)
        return [ratio_num / ratio_den * (group["lr"] - eta_min) + eta_min for group in groups]

    def _get_closed_form_lr(self):
        cos = math.cos(math.pi * self.last_epoch / self.T_max)
        return [self.eta_min + (base_lr - self.eta_min) * (1 + cos) / 2 for base_lr in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter, 2017): cosine annealing restarted every cycle, the cycles
    lasting ``T_0``, ``T_0 * T_mult``, ``T_0 * T_mult**2``... epochs::

        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2

    with ``T_cur`` the epochs since the last restart and ``T_i`` the current cycle's length.
    ``step(epoch)`` jumps to ``epoch``, which may be fractional (``epoch + batch / batches`` to
    anneal within an epoch), as in PyTorch.
    """

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):
        where = "CosineAnnealingWarmRestarts"
        self.T_0 = int_arg(T_0, "T_0", where)
        self.T_i = self.T_0
        self.T_mult = int_arg(T_mult, "T_mult", where)
        self.eta_min = _number(where, "eta_min", eta_min)
        self.T_cur = int_arg(last_epoch, "last_epoch", where, -1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (a number >= 0, fractional allowed)."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: float | None = None) -> None:
        # SequentialLR starts a part at its epoch 0 through here: T_cur and T_i restart too
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:  # a restart
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            epoch = epoch if is_int(epoch) else _number("CosineAnnealingWarmRestarts.step", "epoch", epoch)
            if epoch < 0:
                raise ValueError(f"CosineAnnealingWarmRestarts.step: epoch must be >= 0, got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:  # n full cycles lie before epoch: T_0 (T_mult^n - 1) / (T_mult - 1) <= epoch
                    n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


class CyclicLR(LRScheduler):
    """Cyclical learning rate (Smith 2017), stepped once per batch. With ``c`` the cycle
    (from 1), ``x`` the position in it and ``s`` the scale factor::

        c = floor(1 + t / (step_size_up + step_size_down))
        x = 1 + t / (step_size_up + step_size_down) - c
        s = x / r if x <= r else (x - 1) / (r - 1),   r = step_size_up / (up + down)
        lr = base_lr + (max_lr - base_lr) * s * scale_fn(c or t)
        momentum = max_momentum - (max_momentum - base_momentum) * s * scale_fn(c or t)

    ``scale_fn`` is 1 ('triangular'), ``1 / 2 ** (c - 1)`` ('triangular2'), ``gamma ** t``
    ('exp_range') or yours, evaluated on the cycle or on ``t`` per ``scale_mode``. Momentum
    (``momentum``, or ``betas[0]`` for Adam) is cycled inversely when ``cycle_momentum``.
    ``state_dict()`` stores a custom ``scale_fn`` only as a callable object's ``__dict__``.
    """

    def __init__(self, optimizer, base_lr: float | list[float], max_lr: float | list[float],
                 step_size_up: int = 2000, step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
                 scale_mode: str = "cycle", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.8, max_momentum: float | list[float] = 0.9,
                 last_epoch: int = -1):
        _check_optimizer("CyclicLR", optimizer)
        base_lrs = _per_group("CyclicLR", "base_lr", optimizer, base_lr, _number)
        self.max_lrs = _per_group("CyclicLR", "max_lr", optimizer, max_lr, _number)
        for i, (lo, hi) in enumerate(zip(base_lrs, self.max_lrs)):
            if not 0 <= lo <= hi:
                raise ValueError(f"CyclicLR: need 0 <= base_lr <= max_lr, got base_lr={lo}, max_lr={hi} "
                                 f"for param_groups[{i}]")
        step_size_up = _number("CyclicLR", "step_size_up", step_size_up, low_open=True)
        if step_size_down is not None:
            step_size_down = _number("CyclicLR", "step_size_down", step_size_down, low_open=True)
        if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(
                f"CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range', got {mode!r}"
            )
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"CyclicLR: scale_fn must be callable, got {type(scale_fn).__name__}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        gamma = _number("CyclicLR", "gamma", gamma, low_open=True)
        cycle_momentum = _flag("CyclicLR", "cycle_momentum", cycle_momentum)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        step_size_down = step_size_down if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        # The built-in modes fix the scale mode, as in PyTorch.
        if scale_fn is None:
            scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.scale_mode = scale_mode
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_key("CyclicLR", optimizer)
            self.base_momentums = _per_group("CyclicLR", "base_momentum", optimizer, base_momentum, _momentum)
            self.max_momentums = _per_group("CyclicLR", "max_momentum", optimizer, max_momentum, _momentum)
            for lo, hi in zip(self.base_momentums, self.max_momentums):
                if not 0 <= lo <= hi:
                    raise ValueError(f"CyclicLR: need 0 <= base_momentum <= max_momentum, got "
                                     f"base_momentum={lo}, max_momentum={hi}")
            if last_epoch == -1:
                for hi, lo, group in zip(self.max_momentums, self.base_momentums, optimizer.param_groups):
                    _set_momentum(group, self.use_beta1, hi)
                    group["max_momentum"] = hi
                    group["base_momentum"] = lo
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The amplitude multiplier at cycle (or iteration) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        at = cycle if self.scale_mode == "cycle" else self.last_epoch
        scale = self.scale_fn(at)
        if self._scale_fn_custom is not None and not (isinstance(scale, numbers.Real) and math.isfinite(scale)):
            raise ValueError(f"CyclicLR: scale_fn({at}) returned {scale!r}; expected a finite number")
        lrs = [base_lr + (max_lr - base_lr) * scale_factor * scale
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for lo, hi, group in zip(self.base_momentums, self.max_momentums, self.optimizer.param_groups):
                _set_momentum(group, self.use_beta1, hi - (hi - lo) * scale_factor * scale)
        return lrs

    def state_dict(self) -> dict:
        state = {k: copy.deepcopy(v) for k, v in vars(self).items()
                 if k not in (*self._not_state, "_scale_fn_custom")}
        fn = self._scale_fn_custom
        keep = fn is not None and not isinstance(fn, types.FunctionType)
        state["_scale_fn_custom"] = copy.deepcopy(fn.__dict__) if keep else None
        return {**state, "scheduler": type(self).__name__}

    def _restore(self, state: dict) -> None:
        attrs = state.pop("_scale_fn_custom")
        self.__dict__.update(state)
        if attrs is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(attrs)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2018), stepped once per batch for ``total_steps`` (or
    ``epochs * steps_per_epoch``) steps. The lr anneals (cosine or linear) from
    ``max_lr / div_factor`` up to ``max_lr`` over the first ``pct_start`` of the steps, then down
    to ``max_lr / div_factor / final_div_factor`` (with ``three_phase``: back to the initial lr by
    ``2 * pct_start``, then down to the minimum). Momentum moves inversely between
    ``max_momentum`` and ``base_momentum``. Writes ``initial_lr``, ``max_lr``, ``min_lr`` (and the
    momentum bounds) into each parameter group, as PyTorch does.

    cos anneal: ``end + (start - end) / 2 * (1 + cos(pi * pct))``; linear: ``start + (end - start) * pct``.
    """

    def __init__(self, optimizer, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85, max_momentum: float | list[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1):
        _check_optimizer("OneCycleLR", optimizer)
        if total_steps is not None:
            total_steps = int_arg(total_steps, "total_steps", "OneCycleLR")
        elif epochs is not None and steps_per_epoch is not None:
            total_steps = (int_arg(epochs, "epochs", "OneCycleLR")
                           * int_arg(steps_per_epoch, "steps_per_epoch", "OneCycleLR"))
        else:
            raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
        pct_start = _number("OneCycleLR", "pct_start", pct_start, 0.0, 1.0, closed=True)
        three_phase = _flag("OneCycleLR", "three_phase", three_phase)
        cycle_momentum = _flag("OneCycleLR", "cycle_momentum", cycle_momentum)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        div_factor = _number("OneCycleLR", "div_factor", div_factor, low_open=True)
        final_div_factor = _number("OneCycleLR", "final_div_factor", final_div_factor, low_open=True)
        max_lrs = _per_group("OneCycleLR", "max_lr", optimizer, max_lr, _positive)
        self.total_steps = int(total_steps)
        up_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                dict(end_step=up_end, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * self.total_steps) - 2, start_lr="max_lr",
                     end_lr="initial_lr", start_momentum="base_momentum", end_momentum="max_momentum"),
                dict(end_step=self.total_steps - 1, start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum"),
            ]
        else:
            self._schedule_phases = [
                dict(end_step=up_end, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=self.total_steps - 1, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
            ]
        self._anneal_func_type = anneal_strategy
        if last_epoch == -1:
            for top, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_key("OneCycleLR", optimizer)
            max_momentums = _per_group("OneCycleLR", "max_momentum", optimizer, max_momentum, _momentum)
            base_momentums = _per_group("OneCycleLR", "base_momentum", optimizer, base_momentum, _momentum)
            for lo, hi in zip(base_momentums, max_momentums):
                if not 0 <= lo <= hi:
                    raise ValueError(f"OneCycleLR: need 0 <= base_momentum <= max_momentum, got "
                                     f"base_momentum={lo}, max_momentum={hi}")
            if last_epoch == -1:
                for hi, lo, group in zip(max_momentums, base_momentums, optimizer.param_groups):
                    _set_momentum(group, self.use_beta1, hi)
                    group["max_momentum"] = hi
                    group["base_momentum"] = lo
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped {step_num} times, but total_steps is {self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        start, end = group[phase["start_momentum"]], group[phase["end_momentum"]]
                        _set_momentum(group, self.use_beta1, self._anneal(start, end, pct))
                    break
                start_step = phase["end_step"]
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` (not below ``min_lr``) once the metric given to
    ``step(metric)`` has not improved for more than ``patience`` steps; then wait ``cooldown``
    steps before counting again. Improvement in 'min' mode: ``metric < best * (1 - threshold)``
    ('rel') or ``metric < best - threshold`` ('abs'); 'max' mode mirrors it. A reduction smaller
    than ``eps`` is skipped.
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0, eps: float = 1e-8):
        where = "ReduceLROnPlateau"
        _check_optimizer(where, optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"{where}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{where}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.factor = _number(where, "factor", factor, 0.0, 1.0)
        self.patience = int_arg(patience, "patience", where, 0)
        self.cooldown = int_arg(cooldown, "cooldown", where, 0)
        threshold = _number(where, "threshold", threshold)
        self.eps = _number(where, "eps", eps)
        self.optimizer = optimizer
        self.min_lrs = _per_group(where, "min_lr", optimizer, min_lr, _number)
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else self.min_lrs[0]
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if rel else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if rel else best + self.threshold)

    def step(self, metrics, epoch: int | None = None) -> None:
        """Record this epoch's metric (a number or a one-element tensor) and reduce if needed; a
        NaN metric never counts as an improvement (as in PyTorch). ``epoch`` (deprecated in
        PyTorch, which warns likewise) sets the epoch counter instead of advancing it."""
        if isinstance(metrics, (str, bytes)) or not hasattr(metrics, "__float__"):
            raise TypeError(f"ReduceLROnPlateau.step: metrics must be a number or a one-element tensor, "
                            f"got {type(metrics).__name__}")
        current = float(metrics)
        if epoch is None:
            self.last_epoch += 1
        else:
            self.last_epoch = int_arg(epoch, "epoch", "ReduceLROnPlateau.step", 0)
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer now has {len(groups)} param_groups, min_lr was "
                    f"given for {len(self.min_lrs)}; set min_lrs to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr


class _OfSchedulers(LRScheduler):
    """A schedule made of other schedulers (``_schedulers``): its state holds each part's."""

    def state_dict(self) -> dict:
        state = {k: copy.deepcopy(v) for k, v in vars(self).items()
                 if k not in (*self._not_state, "_schedulers")}
        state["_schedulers"] = [sched.state_dict() for sched in self._schedulers]
        return {**state, "scheduler": type(self).__name__}

    def _restore(self, state: dict) -> None:
        saved = state.pop("_schedulers")  # checked with the rest: each part's load cannot fail now
        self.__dict__.update(state)
        for sched, sched_state in zip(self._schedulers, saved):
            sched.load_state_dict(sched_state)


class SequentialLR(_OfSchedulers):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` from its own step 0,
    and so on: e.g. ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5),
    CosineAnnealingLR(opt, T_max=95)], milestones=[5])`` warms up for 5 epochs, then anneals."""

    def __init__(self, optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1):
        where = "SequentialLR"
        _check_optimizer(where, optimizer)
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError(f"{where}: expected at least one scheduler, got none")
        for i, sched in enumerate(schedulers):
            if not isinstance(sched, LRScheduler):
                raise TypeError(f"{where}: schedulers[{i}] is a {type(sched).__name__}, not an LRScheduler")
            if isinstance(sched, (ReduceLROnPlateau, SequentialLR)):
                # PyTorch fails on a nested SequentialLR once its milestone comes; flatten instead.
                plateau = isinstance(sched, ReduceLROnPlateau)
                why = "whose step needs a metric" if plateau else "list its parts instead"
                raise ValueError(f"{where}: schedulers[{i}] is a {type(sched).__name__}, {why}")
            if sched.optimizer is not optimizer:
                raise ValueError(
                    f"{where}: schedulers[{i}] ({type(sched).__name__}) is attached to another optimizer "
                    "than the one given to SequentialLR"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"{where}: expected {len(schedulers) - 1} milestones for {len(schedulers)} schedulers, "
                f"got {len(milestones)}"
            )
        increasing = all(a < b for a, b in itertools.pairwise(milestones))
        if not increasing or not all(is_int(m) and m > 0 for m in milestones):
            raise ValueError(
                f"{where}: milestones must be positive integers in increasing order, got {milestones}"
            )
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = int_arg(last_epoch, "last_epoch", where, -1) + 1
        self.optimizer = optimizer
        # Undo the initial steps the schedulers took when built, then start the first one afresh.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for sched in schedulers:
            sched.last_epoch -= 1
        first = schedulers[bisect.bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)  # the next schedule starts at its own step 0
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()


class ChainedScheduler(_OfSchedulers):
    """Step several schedulers of one optimizer together, each multiplying its own factor into
    the lr (the chainable, recursive forms compose): e.g. ``ChainedScheduler([ConstantLR(opt,
    0.1, total_iters=2), ExponentialLR(opt, 0.9)])`` gives ``lr0 * 0.1 * 0.9**t`` for t < 2, then
    ``lr0 * 0.9**t``. ``optimizer`` defaults to the first scheduler's."""

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer=None):
        where = "ChainedScheduler"
        if isinstance(schedulers, LRScheduler) or not isinstance(schedulers, Iterable):
            raise TypeError(f"{where}: schedulers must be a list of schedulers, got {type(schedulers).__name__}")
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError(f"{where}: expects at least one scheduler to be chained, but got no scheduler")
        for i, sched in enumerate(schedulers):
            if not isinstance(sched, LRScheduler):
                raise TypeError(f"{where}: schedulers[{i}] is a {type(sched).__name__}, not an LRScheduler")
            if isinstance(sched, ReduceLROnPlateau):
                raise ValueError(f"{where}: schedulers[{i}] is a ReduceLROnPlateau, whose step needs a metric")
        optimizer = optimizer if optimizer is not None else schedulers[0].optimizer
        _check_optimizer(where, optimizer)
        for i, sched in enumerate(schedulers):
            if sched.optimizer is not optimizer:
                raise ValueError(f"{where}: schedulers[{i}] ({type(sched).__name__}) is attached to another "
                                 "optimizer than the others")
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def step(self) -> None:
        for sched in self._schedulers:
            sched.step()
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


_LRScheduler = LRScheduler  # PyTorch's old name, still used by scripts that subclass it
