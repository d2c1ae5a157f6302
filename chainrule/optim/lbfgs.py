"""L-BFGS: a quasi-Newton method that builds an approximate inverse Hessian from the last
``history_size`` steps and gradient changes (Nocedal, 1980), with an optional strong-Wolfe line
search; PyTorch's algorithm (after minFunc), step for step, so that both libraries follow the
same trajectory."""

import copy
from typing import ClassVar

import numpy as np

from chainrule._arguments import int_arg
from chainrule.optim.optimizer import Choice, Optimizer, Range, Whole, _shown


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to
    ``bounds`` (default: between x1 and x2); their midpoint when the cubic has no minimum."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step ``t`` along ``d`` meeting the strong Wolfe conditions (sufficient decrease
    ``f(t) <= f + c1 t gtd`` and curvature ``|g(t).d| <= -c2 gtd``): grow the step until a bracket
    holds a minimum, then zoom into it by cubic interpolation. Returns (f, g, t, evaluations)."""
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        # bracketing phase: stop once [t_prev, t] holds a point meeting the conditions
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate, at least 1% further and at most 10 times as far
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

    if ls_iter == max_ls:  # out of evaluations: keep the better of the start and the last step
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom phase: shrink the bracket until a point meets the conditions
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # a point too close to an end of the bracket makes little progress: move it inside
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    """Each ``step(closure)`` runs up to ``max_iter`` iterations (``max_eval`` evaluations of
    ``closure``, default ``max_iter * 5 // 4``) of

        d = -H g        (H from the last history_size pairs s = step, y = change of gradient,
                         by the two-loop recursion; H = I on the first iteration)
        p <- p + t d    t = lr, or min(1, 1 / sum|g|) * lr on the very first iteration, or
                        the strong-Wolfe step with line_search_fn='strong_wolfe'

    stopping early when max|g| <= tolerance_grad or a step or loss change falls below
    tolerance_change. ``closure`` clears the gradients, computes the loss, calls backward and
    returns the loss; ``step`` returns its first value. One parameter group only; the state
    (PyTorch's keys) is kept under the first parameter.

    >>> import chainrule as cr
    >>> w = cr.zeros(2, dtype=cr.float64, requires_grad=True)
    >>> opt = LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((w - cr.tensor([1.0, -2.0])) ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> [round(v, 6) for v in w.tolist()]
    [1.0, -2.0]
    """

    hyperparameters: ClassVar[dict] = {
        "lr": Range("learning rate"),
        "max_iter": Whole(1),
        "max_eval": Whole(1),
        "tolerance_grad": Range("tolerance_grad value"),
        "tolerance_change": Range("tolerance_change value"),
        "history_size": Whole(1),
        "line_search_fn": Choice((None, "strong_wolfe")),
    }
    state_keys = frozenset({"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
                            "prev_flat_grad", "prev_loss", "al"})

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        if max_eval is None:
            max_eval = int_arg(max_iter, "max_iter", "LBFGS") * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): all parameters "
                             "form one group, since the method works on them as one flat vector")
        super().add_param_group(param_group)

    # -- the parameters as one flat vector ----------------------------------------------------
    @property
    def _params(self) -> list:
        return self.param_groups[0]["params"]

    def _gather_flat_grad(self) -> np.ndarray:
        return np.concatenate([p._grad._data.ravel() if p._grad is not None else np.zeros(p._data.size, p._data.dtype)
                               for p in self._params])

    def _add_grad(self, step_size, update: np.ndarray) -> None:
        """p <- p + step_size * update, for the flat ``update`` cut into the parameters' shapes."""
        offset = 0
        for p in self._params:
            n = p._data.size
            # the factor in the parameter's precision, as PyTorch's add_(alpha=)
            p._data += p._data.dtype.type(step_size) * update[offset:offset + n].reshape(p._data.shape)
            p._bump_version()
            offset += n

    def _set_param(self, params_data: list) -> None:
        for p, data in zip(self._params, params_data):
            p._data[...] = data
            p._bump_version()

    def _directional_evaluate(self, closure, x, t, d):
        """The loss and flat gradient at x + t d; the parameters are left at x."""
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def step(self, closure):
        """Run the iterations; ``closure`` re-evaluates the loss and its gradients. Returns the
        loss of the first evaluation (at the parameters as they were)."""
        if not callable(closure):
            raise TypeError(f"LBFGS.step: closure must be a function that clears the gradients, computes the "
                            f"loss, calls backward() and returns the loss; got {_shown(closure)}")
        from chainrule.autograd.mode import enable_grad

        def evaluate():
            with enable_grad():
                return closure()

        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = evaluate()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:  # already optimal
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag, prev_flat_grad, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            # the direction: steepest descent first, then -H g by the two-loop recursion
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)  # the initial inverse Hessian's scale
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q += -al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            # the step length: scaled down on the very first iteration, when H knows nothing yet
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = [p._data.copy() for p in self._params]

                def obj_func(x, t, d):
                    return self._directional_evaluate(evaluate, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd,
                                                                  max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:  # the next iteration's gradient (none is needed after the last)
                    loss = float(evaluate())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break  # lack of progress

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    # -- saving and resuming ------------------------------------------------------------------
    def state_dict(self) -> dict:
        saved = super().state_dict()
        saved["state"] = copy.deepcopy(saved["state"])  # the history lists hold arrays too
        return saved

    def _checked_state(self, where: str, index, p, saved) -> dict:
        """The one state entry: counters, flat vectors of all parameters' size, lists of them
        (at most history_size), and numbers."""
        if not isinstance(saved, dict):
            raise TypeError(f"{where}: the state of parameter {index} must be a dict, got {_shown(saved)}")
        unknown = set(saved) - self.state_keys
        if unknown:
            raise ValueError(f"{where}: the state of parameter {index} has {sorted(unknown)}: the state of "
                             "another optimizer than LBFGS?")
        dtype = np.result_type(*[q._data.dtype for q in self._params])
        size = sum(q._data.size for q in self._params)

        def vector(key, value):
            array = np.asarray(value._data if hasattr(value, "_data") else value)
            if array.dtype.kind not in "fiu" or array.shape != (size,) or not np.isfinite(array).all():
                raise ValueError(f"{where}: state {key!r} must be {size} finite numbers (the parameters' size), "
                                 f"got {_shown(array)}")
            return array.astype(dtype)

        def number(key, value, allow_none=False):
            if value is None and allow_none:
                return None
            array = np.asarray(value._data if hasattr(value, "_data") else value)
            if array.dtype.kind not in "fiu" or array.size != 1 or not np.isfinite(array).all():
                raise ValueError(f"{where}: state {key!r} must be a finite number, got {_shown(value)}")
            return array.astype(dtype).reshape(())[()]

        restored = {}
        for key, value in saved.items():
            if key in ("func_evals", "n_iter"):
                restored[key] = int_arg(value, f"state {key!r}", where, 0)
            elif key in ("d", "prev_flat_grad"):
                restored[key] = vector(key, value)
            elif key in ("old_dirs", "old_stps", "ro", "al"):
                if not isinstance(value, (list, tuple)) or (key != "al" and len(value) > self.param_groups[0][
                        "history_size"]):
                    raise ValueError(f"{where}: state {key!r} must be a list of at most history_size entries, "
                                     f"got {_shown(value)}")
                if key in ("old_dirs", "old_stps"):
                    restored[key] = [vector(key, v) for v in value]
                else:
                    restored[key] = [number(key, v, allow_none=key == "al") for v in value]
            elif key == "prev_loss":
                restored[key] = float(number(key, value))
            else:  # t, H_diag
                restored[key] = number(key, value)
        lengths = {len(restored.get(k, ())) for k in ("old_dirs", "old_stps", "ro")}
        if len(lengths) > 1:
            raise ValueError(f"{where}: state 'old_dirs', 'old_stps' and 'ro' must have one entry per stored step")
        return restored
