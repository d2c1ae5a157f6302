"""Optimizer: the bookkeeping every weight-update rule shares (parameter groups with their own
hyperparameters, per-parameter state, zero_grad, state_dict for exact resumption). A subclass
only writes ``_update``: how one parameter moves given its gradient."""

import copy

import numpy as np

from chainrule.tensor import Tensor


class Optimizer:
    """Base class: ``params`` is an iterable of tensors or of dicts (parameter groups) whose
    entries override ``defaults`` for that group, e.g. a smaller lr for a pretrained body."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check_hyperparameters(self.defaults)
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

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters, with hyperparameters defaulting to the optimizer's."""
        name = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: a parameter group has an empty parameter list")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, got {type(p).__name__}")
            if p.data.dtype.kind != "f" or p.grad_fn is not None:
                raise ValueError(
                    f"{name}: can only optimize floating leaf tensors, got one of dtype {p.dtype}"
                )
            if id(p) in seen:
                raise ValueError(
                    f"{name}: a parameter of shape {p.shape} is given twice (in one group or in two groups)"
                )
            seen.add(id(p))
        unknown = set(param_group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise TypeError(f"{name}: unknown hyperparameters {sorted(unknown)} in a parameter group")
        group = {**self.defaults, **param_group, "params": params}
        self._check_hyperparameters(group)
        self.param_groups.append(group)

    def _check_hyperparameters(self, group: dict) -> None:
        """Refuse impossible settings at construction, naming the argument (subclasses extend)."""
        name = type(self).__name__
        lr = group.get("lr")
        if lr is not None and not lr >= 0:
            raise ValueError(f"{name}: lr must be >= 0, got {lr}")
        for key in ("eps", "weight_decay"):
            if key in group and not group[key] >= 0:
                raise ValueError(f"{name}: {key} must be >= 0, got {group[key]}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (set them to None, or to zeros with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

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
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {}
                self._update(p.data, p.grad, state, group)
        return loss

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        """Move ``param`` in place, using and updating its ``state``."""
        raise NotImplementedError

    # -- saving and resuming ----------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` as in
        PyTorch: parameters are numbered in group order; state arrays are copies."""
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
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()`` so that training continues on exactly the same trajectory."""
        name = type(self).__name__
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: {len(groups)} parameter groups saved, {len(self.param_groups)} here"
            )
        params = {}
        for saved, own in zip(groups, self.param_groups):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: a group saved with {len(saved['params'])} parameters "
                    f"is loaded into one with {len(own['params'])}"
                )
            params.update(zip(saved["params"], own["params"]))
        self.state = {}
        for key, saved_state in state_dict["state"].items():
            p = params[int(key)]
            restored = {}
            for k, v in saved_state.items():
                if not isinstance(v, (bool, int, float)):  # an array (or a 0-d one holding a count)
                    v = np.asarray(v)
                    if v.ndim and v.shape != p.data.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state {k!r} has shape {v.shape}, "
                            f"its parameter {p.data.shape}"
                        )
                    v = v.astype(p.data.dtype) if v.ndim else v.item()
                restored[k] = v
            self.state[p] = restored
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    # JSON turns tuples (Adam's betas) into lists: give them their type back.
                    own[k] = tuple(v) if isinstance(own.get(k), tuple) else copy.deepcopy(v)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join([*lines, ")"])
