"""Optimizer: the bookkeeping every weight-update rule shares (parameter groups with their own
hyperparameters, per-parameter state, zero_grad, state_dict for exact resumption). A subclass
declares its hyperparameters and state, and writes ``_update``: how one parameter moves given its
gradient."""

import copy
import math
import numbers
from typing import ClassVar, NamedTuple

import numpy as np

from chainrule._arguments import int_arg
from chainrule._tensor import Tensor


class Range(NamedTuple):
    """A hyperparameter that is a finite real number in [low, high) (``closed``: high allowed too;
    ``low_open``: low not allowed); ``noun`` is what PyTorch's messages call it ("learning rate" in
    "Invalid learning rate: -1")."""

    noun: str
    low: float = 0.0
    high: float = math.inf
    closed: bool = False
    low_open: bool = False


class Pair(NamedTuple):
    """Two numbers, each in ``each`` (Adam's betas)."""

    each: Range


FLAG = "flag"  # a hyperparameter that is True or False


class Whole(NamedTuple):
    """A hyperparameter that is an integer >= ``low`` (LBFGS's max_iter, history_size)."""

    low: int = 1


class Choice(NamedTuple):
    """A hyperparameter that is one of ``options`` (LBFGS's line_search_fn)."""

    options: tuple


class Switch(NamedTuple):
    """One of PyTorch's switches between implementations of the same update (for-each or fused
    kernels, CUDA-graph capture, autograd through the step). chainrule has one NumPy
    implementation: the values in ``allowed`` are accepted, the others refused saying ``why``."""

    allowed: tuple
    why: str = ""


# PyTorch's implementation switches, by name; an optimizer lists those its PyTorch twin takes.
SWITCHES = {
    "foreach": Switch((None, False, True)),  # PyTorch's choice of kernel: the same update either way
    "fused": Switch((None, False), "chainrule has no fused kernels (one NumPy implementation per "
                    "optimizer); pass fused=None or False"),
    "capturable": Switch((False,), "CUDA-graph capture needs a GPU and chainrule runs on the CPU; "
                         "pass capturable=False"),
    "differentiable": Switch((False,), "chainrule updates parameters in place outside autograd, so "
                             "optimizer.step() cannot be differentiated; pass differentiable=False"),
}


def switches(*names: str) -> dict:
    """The specs of the named implementation switches, for a ``hyperparameters`` table."""
    return {name: SWITCHES[name] for name in names}


# Group keys that PyTorch added over the years (its __setstate__ fills them in): a state saved
# without them, by an older chainrule or PyTorch, loads with this optimizer's defaults.
ADDED_LATER = frozenset({*SWITCHES, "decoupled_weight_decay"})

# Keys the learning-rate schedulers keep in a parameter group next to the hyperparameters.
SCHEDULE_KEYS = {"initial_lr": Range("initial_lr"), "max_lr": Range("max_lr"), "min_lr": Range("min_lr"),
                 "max_momentum": Range("max_momentum"), "base_momentum": Range("base_momentum")}


def _as_float(value):
    """``value`` as a Python float when it is a real number (not a bool) or a one-element tensor
    or array of numbers (PyTorch accepts a tensor lr: it is read here, once), else None."""
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        return float(array.reshape(())) if array.size == 1 and array.dtype.kind in "fiu" else None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond float range: as infinite, and refused as such
            return math.inf
    return None


def _shown(value) -> str:
    if isinstance(value, (Tensor, np.ndarray)):
        return f"a {type(value).__name__} of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"


def check_hyperparameter(where: str, key: str, value, spec):
    """``value`` checked against ``spec`` (a Range, Pair, Whole, Choice, Switch or FLAG) and returned
    in plain Python form (a float, a tuple of two floats, an int, a bool, None or the chosen option);
    TypeError or ValueError naming ``key`` if not."""
    if spec == FLAG:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{where}: {key} must be True or False, got {_shown(value)}")
        return bool(value)
    if isinstance(spec, Switch):
        if value is not None and not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{where}: {key} must be None, True or False, got {_shown(value)}")
        value = None if value is None else bool(value)
        if value not in spec.allowed:
            raise ValueError(f"{where}: {key}={value} is not supported: {spec.why}")
        return value
    if isinstance(spec, Whole):
        return int_arg(value, key, where, spec.low)
    if isinstance(spec, Choice):
        if not any(value is option or (isinstance(value, str) and value == option) for option in spec.options):
            raise ValueError(f"{where}: {key} must be one of {list(spec.options)}, got {_shown(value)}")
        return value
    if isinstance(spec, Pair):
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__") or len(value) != 2:
            raise TypeError(f"{where}: {key} must be a pair of numbers, got {_shown(value)}")
        each = [spec.each._replace(noun=f"{spec.each.noun} at index {i}") for i in range(2)]
        return tuple(check_hyperparameter(where, f"{key}[{i}]", v, each[i]) for i, v in enumerate(value))
    number = _as_float(value)
    if number is None:
        array = value._data if isinstance(value, Tensor) else value
        if isinstance(array, np.ndarray) and array.size != 1:
            raise ValueError(f"{where}: Tensor {key} must be 1-element, got {_shown(value)}")
        raise TypeError(f"{where}: {key} must be a real number, got {_shown(value)}")
    above = number > spec.low if spec.low_open else number >= spec.low
    inside = above and (number <= spec.high if spec.closed else number < spec.high)
    if not (math.isfinite(number) and inside):
        if spec.high == math.inf:
            expected = f"a finite number {'>' if spec.low_open else '>='} {spec.low:g}"
        else:
            expected = (f"in {'(' if spec.low_open else '['}{spec.low:g}, "
                        f"{spec.high:g}{']' if spec.closed else ')'}")
        raise ValueError(f"{where}: Invalid {spec.noun}: {number} ({key} must be {expected})")
    return number


class Optimizer:
    """Base class: ``params`` is an iterable of tensors or of dicts (parameter groups) whose
    entries override ``defaults`` for that group, e.g. a smaller lr for a pretrained body.

    Every hyperparameter a subclass lists in ``hyperparameters`` is checked wherever a value
    comes in: the constructor, ``add_param_group`` and ``load_state_dict``. Values written
    straight into ``param_groups`` are not (as in PyTorch); the schedulers write only checked ones.
    """

    # name -> Range, Pair, Whole, Choice, Switch or FLAG; a user's subclass may pass defaults of its own
    # that are not here.
    hyperparameters: ClassVar[dict] = {"lr": Range("learning rate"), "weight_decay": Range("weight_decay value"),
                             "eps": Range("epsilon value"), "maximize": FLAG}
    # per-parameter state: every key the update may keep, and those it always keeps (None: unchecked)
    state_keys: frozenset | None = None
    required_state: frozenset = frozenset()

    def __init__(self, params, defaults: dict):
        self.defaults = self._checked(dict(defaults))
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of tensors or dicts, got a single "
                "Tensor (wrap it in a list)"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def _checked(self, group: dict, where: str | None = None) -> dict:
        """``group``'s hyperparameters checked and in plain Python form; other keys as they are."""
        where = where or type(self).__name__
        checked = dict(group)
        for key, value in group.items():
            spec = self.hyperparameters.get(key) or SCHEDULE_KEYS.get(key)
            if spec is not None:
                checked[key] = check_hyperparameter(where, key, value, spec)
        self._check_combination(checked, where)
        return checked

    def _check_combination(self, group: dict, where: str) -> None:
        """Rules that tie hyperparameters together (subclasses override)."""

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters, with hyperparameters defaulting to the optimizer's."""
        name = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: a parameter group has an empty parameter list")
        # model.named_parameters(): (name, tensor) pairs, the names kept as PyTorch keeps them
        named = [isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in params]
        if any(named) and not all(named):
            raise TypeError(f"{name}: a parameter group mixes (name, tensor) pairs and bare tensors")
        names = [n for n, _ in params] if any(named) else None
        params = [p for _, p in params] if any(named) else params
        if any(named) != any("param_names" in group for group in self.param_groups) and self.param_groups:
            raise ValueError(f"{name}: all parameter groups must be named (from named_parameters()) or none")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, got {type(p).__name__}")
            if p._data.dtype.kind != "f" or p.grad_fn is not None:
                raise ValueError(
                    f"{name}: can only optimize floating leaf tensors, got one of dtype {p.dtype}"
                )
            if id(p) in seen:
                raise ValueError(
                    f"{name}: a parameter of shape {p.shape} is given twice (in one group or in two groups)"
                )
            seen.add(id(p))
        unknown = set(param_group) - set(self.defaults) - {"params", "param_names", *SCHEDULE_KEYS}
        if unknown:
            raise TypeError(f"{name}: unknown hyperparameters {sorted(unknown)} in a parameter group")
        group = self._checked({**self.defaults, **param_group, "params": params})
        group.pop("param_names", None)
        if names is not None:
            group["param_names"] = names
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (set them to None, or to zeros with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p._grad = None
                elif p._grad is not None:
                    p._grad = p._grad.detach() if p._grad.grad_fn is not None else p._grad
                    p._grad._data[...] = 0
                    p._grad._bump_version()  # as zero_(): a graph that saved it sees the change

    def step(self, closure=None):
        """Update every parameter that has a gradient (those whose grad is None are skipped).

        ``closure`` (optional) re-evaluates the model and returns the loss, as in PyTorch.
        """
        loss = None
        if closure is not None:
            from chainrule.autograd.mode import enable_grad

            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {}
                self._update(p._data, grad._data, state, group)
                p._bump_version()  # a graph that saved p now sees it was modified
        return loss

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        """Move ``param`` in place, using and updating its ``state``."""
        raise NotImplementedError

    @staticmethod
    def _descent_grad(param: np.ndarray, grad: np.ndarray, group: dict) -> np.ndarray:
        """The gradient the update follows, in PyTorch's order: negated under ``maximize``, then
        ``weight_decay * param`` added (L2 through the gradient, so through the moment
        estimates too); with ``decoupled_weight_decay`` (AdamW's way) the weights shrink directly
        instead."""
        if group["maximize"]:
            grad = -grad
        decay = group["weight_decay"]
        if decay:
            if group.get("decoupled_weight_decay"):
                param *= 1 - group["lr"] * decay
            else:
                grad = grad + decay * param
        return grad

    # -- saving and resuming ----------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` as in
        PyTorch: parameters are numbered in group order; state arrays are copies. The key
        ``"optimizer"`` (the class name, which PyTorch's loader ignores) lets ``load_state_dict``
        refuse another optimizer's state."""
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {
            index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index
        }
        return {"state": state, "param_groups": groups, "optimizer": type(self).__name__}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()`` so that training continues on exactly the same trajectory.

        All or nothing: every group and state entry is checked (same optimizer, same group sizes,
        hyperparameters in range, state arrays of the parameters' shapes and finite) before any
        is applied."""
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        if not isinstance(state_dict, dict) or not isinstance(state_dict.get("param_groups"), list) \
                or not isinstance(state_dict.get("state"), dict):
            raise TypeError(f"{where}: expected a dict with 'state' (a dict) and 'param_groups' (a list), "
                            f"got {_shown(state_dict)}")
        saved_type = state_dict.get("optimizer", name)
        if saved_type != name:
            raise ValueError(f"{where}: the state dict is one of {saved_type!r}, not of {name}; an optimizer "
                             "loads only its own kind of state")
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{where}: loaded state dict has a different number of parameter groups "
                f"({len(groups)} saved, {len(self.param_groups)} here)"
            )
        params, new_groups = {}, []
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if not isinstance(saved, dict) or not isinstance(saved.get("params"), list):
                raise TypeError(f"{where}: param_groups[{i}] must be a dict with a 'params' list")
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(
                    f"{where}: loaded state dict contains a parameter group that doesn't match the size of "
                    f"optimizer's group (param_groups[{i}]: {len(saved['params'])} parameters saved, "
                    f"{len(own['params'])} here)"
                )
            keys = set(saved) - {"params"}
            added_later = {k: self.defaults[k] for k in set(self.defaults) - keys if k in ADDED_LATER}
            keys |= set(added_later)
            missing = set(self.defaults) - keys
            unknown = keys - set(self.defaults) - {"param_names", *SCHEDULE_KEYS}
            if missing or unknown:
                raise ValueError(f"{where}: param_groups[{i}] lacks {sorted(missing)} and has unknown "
                                 f"{sorted(unknown)}: the state of another optimizer than {name}?")
            for index, p in zip(saved["params"], own["params"]):
                if not isinstance(index, numbers.Integral) or isinstance(index, bool) or index in params:
                    raise ValueError(f"{where}: param_groups[{i}]['params'] must be distinct integers, "
                                     f"got {saved['params']!r}")
                params[int(index)] = p
            names = saved.get("param_names", [])
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names) \
                    or len(names) not in (0, len(own["params"])):
                raise ValueError(f"{where}: param_groups[{i}]['param_names'] must be one name per parameter, "
                                 f"got {_shown(names)}")
            hyper = self._checked({**added_later, **{k: copy.deepcopy(v) for k, v in saved.items()
                                                     if k != "params"}}, where)
            new_groups.append(hyper)
        new_state = {}
        for key, saved_state in state_dict["state"].items():
            index = int(key) if isinstance(key, (numbers.Integral, str)) and str(key).isdigit() else None
            if index not in params:
                raise ValueError(f"{where}: state for parameter {key!r}, which no parameter group holds")
            new_state[params[index]] = self._checked_state(where, index, params[index], saved_state)
        for own, hyper in zip(self.param_groups, new_groups):
            own.update(hyper)
        self.state = new_state

    def _checked_state(self, where: str, index, p: Tensor, saved) -> dict:
        """One parameter's saved state: this optimizer's keys, finite numbers, arrays of p's shape."""
        if not isinstance(saved, dict):
            raise TypeError(f"{where}: the state of parameter {index} must be a dict, got {_shown(saved)}")
        if self.state_keys is not None:
            unknown = set(saved) - self.state_keys
            missing = set(self.required_state) - set(saved) if saved else set()
            if unknown or missing:
                raise ValueError(f"{where}: the state of parameter {index} has {sorted(unknown)} and lacks "
                                 f"{sorted(missing)}: the state of another optimizer than {type(self).__name__}?")
        restored = {}
        for k, v in saved.items():
            if isinstance(v, (bool, np.bool_)):
                restored[k] = bool(v)
                continue
            if self.state_keys is None and not isinstance(v, (numbers.Number, np.ndarray, np.generic, Tensor)):
                restored[k] = copy.deepcopy(v)  # a user's optimizer keeps state of its own kinds
                continue
            array = np.asarray(v._data if isinstance(v, Tensor) else v)
            if array.dtype.kind not in "fiu":
                raise TypeError(f"{where}: state {k!r} of parameter {index} must be numbers, got {_shown(v)}")
            if not np.isfinite(array).all():
                raise ValueError(f"{where}: state {k!r} of parameter {index} holds NaN or infinity")
            if array.ndim == 0:  # a count such as Adam's step, or a scalar
                value = array.item()
                if k == "step" and (value < 0 or value != int(value)):
                    raise ValueError(f"{where}: state 'step' of parameter {index} must be an integer >= 0, "
                                     f"got {value!r}")
                restored[k] = int(value) if k == "step" else value
            elif array.shape != p._data.shape:
                raise ValueError(f"{where}: state {k!r} has shape {array.shape}, its parameter {p._data.shape}")
            else:
                restored[k] = array.astype(p._data.dtype)  # a copy: the caller's dict stays theirs
        return restored

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join([*lines, ")"])
