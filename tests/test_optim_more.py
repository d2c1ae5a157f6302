"""PyTorch's optimizer surface: LBFGS against a NumPy two-loop recursion, on a quadratic (solved in
one step of few iterations) and on Rosenbrock; every optimizer's keyword arguments,
state keys and param_group keys as PyTorch's; implementation switches accepted or refused."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

RNG = np.random.default_rng(7)
M = RNG.standard_normal((6, 6))
H = M @ M.T + 6 * np.eye(6)  # symmetric positive definite
B = RNG.standard_normal(6)
SOLUTION = np.linalg.solve(H, B)


def quadratic_closure(opt, x):
    """0.5 x'Hx - b'x, whose minimum is H^-1 b."""

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x * (cr.tensor(H) @ x)).sum() - (cr.tensor(B) * x).sum()
        loss.backward()
        return loss

    return closure


def rosenbrock_closure(opt, x):
    def closure():
        opt.zero_grad()
        loss = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        loss.backward()
        return loss

    return closure


def lbfgs_reference(grad, x, iterations, lr=1.0, history_size=100):
    """Nocedal's L-BFGS with a fixed step (PyTorch's line_search_fn=None): direction by the
    two-loop recursion over the last history_size pairs with positive curvature, initial inverse
    Hessian (y's / y'y) I; the first step scaled by min(1, 1 / |g|_1)."""
    g = grad(x)
    pairs, scale = [], 1.0
    for k in range(iterations):
        q, alphas = -g, []
        for s_i, y_i, rho_i in reversed(pairs):
            alphas.append(rho_i * (s_i @ q))
            q = q - alphas[-1] * y_i
        d = scale * q
        for (s_i, y_i, rho_i), a_i in zip(pairs, reversed(alphas)):
            d = d + (a_i - rho_i * (y_i @ d)) * s_i
        t = min(1.0, 1.0 / np.abs(g).sum()) * lr if k == 0 else lr
        x_new = x + t * d
        g_new = grad(x_new)
        s, y = t * d, g_new - g
        if y @ s > 1e-10:  # only pairs of positive curvature
            pairs = [*pairs, (s, y, 1 / (y @ s))][-history_size:]
            scale = (y @ s) / (y @ y)
        x, g = x_new, g_new
    return x


@pytest.mark.parametrize("history_size", [100, 2])
def test_lbfgs_iterations_equal_the_two_loop_recursion(history_size):
    # history_size 2 < iterations: the oldest pairs are dropped
    start = RNG.standard_normal(6)
    x = cr.tensor(start, requires_grad=True)
    opt = optim.LBFGS([x], lr=0.7, max_iter=5, history_size=history_size, tolerance_change=0.0)
    opt.step(quadratic_closure(opt, x))
    expected = lbfgs_reference(lambda v: H @ v - B, start, 5, lr=0.7, history_size=history_size)
    np.testing.assert_allclose(x._data, expected, rtol=1e-12, atol=1e-13)
    assert opt.state[x]["n_iter"] == 5 and opt.state[x]["func_evals"] == 5  # the last gradient is not needed


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_solves_a_quadratic_in_one_step_of_few_iterations(line_search_fn):
    # the line search accepts any step meeting the Wolfe conditions (not the exact minimiser along
    # d), so the n-iteration termination of exact conjugate directions does not hold: ~15 do
    x = cr.zeros(6, dtype=cr.float64, requires_grad=True)
    # (the default tolerance_change stops once the loss changes by < 1e-9, near 1e-6 from the solution;
    # below 1e-8 the loss changes by less than its rounding)
    opt = optim.LBFGS([x], line_search_fn=line_search_fn, tolerance_grad=1e-11, tolerance_change=0.0)
    first = opt.step(quadratic_closure(opt, x))
    assert first.item() == 0.0  # the loss at the start, returned as PyTorch does
    np.testing.assert_allclose(x._data, SOLUTION, rtol=1e-9, atol=1e-10)
    assert opt.state[x]["n_iter"] <= 20


def test_lbfgs_strong_wolfe_reaches_the_rosenbrock_minimum():
    x = cr.tensor([-1.2, 1.0, -0.5, 0.8], requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=100, tolerance_grad=1e-12,
                      tolerance_change=1e-14)
    closure = rosenbrock_closure(opt, x)
    losses = [opt.step(closure).item() for _ in range(3)]
    np.testing.assert_allclose(x._data, np.ones(4), atol=1e-6)
    assert losses[0] > 1 and losses[-1] < 1e-12
    state = opt.state[x]
    # every evaluation is counted; the line search needs more than one per iteration sometimes
    assert state["func_evals"] >= state["n_iter"] > 10


def test_lbfgs_without_line_search_still_descends_on_rosenbrock():
    x = cr.tensor([-1.2, 1.0], requires_grad=True)
    opt = optim.LBFGS([x], lr=0.5)
    closure = rosenbrock_closure(opt, x)
    losses = [opt.step(closure).item() for _ in range(15)]
    assert losses[-1] < 1e-3 * losses[0]


def test_lbfgs_stops_at_once_when_the_gradient_is_below_tolerance():
    x = cr.tensor(SOLUTION.copy(), requires_grad=True)
    opt = optim.LBFGS([x])
    opt.step(quadratic_closure(opt, x))
    assert opt.state[x] == {"func_evals": 1, "n_iter": 0}
    np.testing.assert_array_equal(x._data, SOLUTION)


def test_lbfgs_respects_max_eval():
    x = cr.tensor([-1.2, 1.0], requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=50, max_eval=7)
    opt.step(rosenbrock_closure(opt, x))
    assert opt.state[x]["func_evals"] <= 7 + 25  # the last line search may run past max_eval, as PyTorch
    assert optim.LBFGS([x], max_iter=8).param_groups[0]["max_eval"] == 10  # max_iter * 5 // 4


def test_lbfgs_state_dict_resumes_exactly_after_a_json_round_trip():
    from chainrule.train.checkpoint import join_arrays, split_arrays

    def run(x, opt, steps):
        for _ in range(steps):
            opt.step(rosenbrock_closure(opt, x))

    start = [-1.2, 1.0, -0.5]
    x = cr.tensor(start, requires_grad=True)
    make = lambda p: optim.LBFGS(p, max_iter=4, history_size=3, line_search_fn="strong_wolfe")
    straight = make([x])
    run(x, straight, 4)

    y = cr.tensor(start, requires_grad=True)
    first = make([y])
    run(y, first, 2)
    saved = first.state_dict()
    assert set(saved["state"][0]) == {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
                                      "prev_flat_grad", "prev_loss", "al"}
    arrays = {}
    meta = json.loads(json.dumps(split_arrays(saved, "optimizer", arrays)))
    z = cr.tensor(y._data.copy(), requires_grad=True)
    resumed = make([z])
    resumed.load_state_dict(join_arrays(meta, arrays))
    run(z, resumed, 2)
    np.testing.assert_array_equal(z._data, x._data)


def test_lbfgs_flattens_several_parameters_and_skips_missing_gradients():
    a = cr.tensor(np.zeros((2, 3)), requires_grad=True)
    b = cr.tensor(np.zeros(3), requires_grad=True)
    unused = cr.tensor(np.ones(2), requires_grad=True)
    opt = optim.LBFGS([a, unused, b], line_search_fn="strong_wolfe")
    target_a, target_b = np.arange(6.0).reshape(2, 3), np.array([1.0, -1.0, 2.0])

    def closure():
        opt.zero_grad()
        loss = ((a - cr.tensor(target_a)) ** 2).sum() + ((b - cr.tensor(target_b)) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(a._data, target_a, atol=1e-8)
    np.testing.assert_allclose(b._data, target_b, atol=1e-8)
    np.testing.assert_array_equal(unused._data, [1.0, 1.0])  # its gradient counts as zero


def test_lbfgs_errors():
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [x]}, {"params": [cr.ones(2, requires_grad=True)]}])
    with pytest.raises(TypeError, match=r"LBFGS.step: closure must be a function .* got NoneType None"):
        optim.LBFGS([x]).step(None)
    with pytest.raises(ValueError, match=r"LBFGS: line_search_fn must be one of \[None, 'strong_wolfe'\], got str"):
        optim.LBFGS([x], line_search_fn="armijo")
    with pytest.raises(ValueError, match=r"LBFGS: history_size must be an integer >= 1, got 0"):
        optim.LBFGS([x], history_size=0)
    with pytest.raises(TypeError, match=r"LBFGS: max_iter must be an integer >= 1, got 2.5"):
        optim.LBFGS([x], max_iter=2.5)
    with pytest.raises(ValueError, match=r"LBFGS: Invalid learning rate: -1.0"):
        optim.LBFGS([x], lr=-1)


# -- PyTorch's keyword arguments, state and group keys -----------------------------------------
PYTORCH_KEYWORDS = {  # every keyword of torch.optim's constructors (2.13), at its default
    optim.SGD: dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False, foreach=None,
                    differentiable=False, fused=None),
    optim.Adam: dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, foreach=None,
                     maximize=False, capturable=False, differentiable=False, fused=None,
                     decoupled_weight_decay=False),
    optim.AdamW: dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False,
                      foreach=None, capturable=False, differentiable=False, fused=None),
    optim.RMSprop: dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, capturable=False,
                        foreach=None, maximize=False, differentiable=False),
    optim.Adagrad: dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, foreach=None,
                        maximize=False, differentiable=False, fused=None),
    optim.Adadelta: dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, capturable=False, maximize=False,
                         differentiable=False),
    optim.Adamax: dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, maximize=False,
                       differentiable=False, capturable=False),
    optim.NAdam: dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                      decoupled_weight_decay=False, foreach=None, maximize=False, capturable=False,
                      differentiable=False),
    optim.RAdam: dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                      foreach=None, maximize=False, capturable=False, differentiable=False),
    optim.LBFGS: dict(lr=1, max_iter=20, max_eval=25, tolerance_grad=1e-7, tolerance_change=1e-9, history_size=100,
                      line_search_fn=None),
}
STATE_KEYS = {
    optim.SGD: {"momentum_buffer"}, optim.Adam: {"step", "exp_avg", "exp_avg_sq"},
    optim.AdamW: {"step", "exp_avg", "exp_avg_sq"}, optim.RMSprop: {"step", "square_avg"},
    optim.Adagrad: {"step", "sum"}, optim.Adadelta: {"step", "square_avg", "acc_delta"},
    optim.Adamax: {"step", "exp_avg", "exp_inf"}, optim.NAdam: {"step", "mu_product", "exp_avg", "exp_avg_sq"},
    optim.RAdam: {"step", "exp_avg", "exp_avg_sq"},
}  # fmt: skip


@pytest.mark.parametrize("make", PYTORCH_KEYWORDS, ids=lambda c: c.__name__)
def test_every_pytorch_keyword_is_accepted_and_its_defaults_fill_the_groups(make):
    kwargs = PYTORCH_KEYWORDS[make]
    opt = make([cr.ones(2, requires_grad=True)], **kwargs)
    group = opt.param_groups[0]
    default_group = make([cr.ones(2, requires_grad=True)]).param_groups[0]
    assert set(group) == {"params", *kwargs} | ({"decoupled_weight_decay"} if make is optim.AdamW else set())
    for key, value in kwargs.items():
        assert group[key] == default_group[key] == value, key


@pytest.mark.parametrize("make", STATE_KEYS, ids=lambda c: c.__name__)
def test_state_keys_are_pytorchs_and_float32_stays_float32(make):
    w = cr.ones(3, requires_grad=True)
    opt = make([w], momentum=0.9) if make is optim.SGD else make([w])
    for _ in range(2):
        opt.zero_grad()
        (w * w * w).sum().backward()
        opt.step()
    assert set(opt.state_dict()["state"][0]) == STATE_KEYS[make]
    assert w.dtype == np.float32 and np.isfinite(w._data).all()
    assert all(v.dtype == np.float32 for v in opt.state[w].values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("make", PYTORCH_KEYWORDS, ids=lambda c: c.__name__)
def test_unsupported_implementation_switches_are_refused_saying_why(make):
    w = [cr.ones(2, requires_grad=True)]
    kwargs = PYTORCH_KEYWORDS[make]
    reasons = {"fused": "no fused kernels", "capturable": "needs a GPU", "differentiable": "cannot be differentiated"}
    for switch, reason in reasons.items():
        if switch in kwargs:
            with pytest.raises(ValueError, match=rf"^{make.__name__}: {switch}=True is not supported: .*{reason}"):
                make(w, **{switch: True})
    if "foreach" in kwargs:  # only PyTorch's choice of kernel: the same update
        assert make(w, foreach=True).param_groups[0]["foreach"] is True
        with pytest.raises(TypeError, match=r"foreach must be None, True or False, got str 'yes'"):
            make(w, foreach="yes")


def test_a_state_saved_without_later_keys_loads_with_their_defaults():
    # an older chainrule's or PyTorch's state: no implementation switches, no decoupled_weight_decay
    saved = optim.AdamW([cr.ones(2, requires_grad=True)], lr=0.1).state_dict()
    for key in ("foreach", "capturable", "differentiable", "fused", "decoupled_weight_decay"):
        del saved["param_groups"][0][key]
    opt = optim.AdamW([cr.ones(2, requires_grad=True)])
    opt.load_state_dict(saved)
    group = opt.param_groups[0]
    assert group["lr"] == 0.1 and group["foreach"] is None and group["fused"] is None and not group["capturable"]
    assert group["decoupled_weight_decay"] is True  # AdamW's own default


def test_adamw_is_adam_with_decoupled_weight_decay():
    a, b = cr.tensor([1.0, -2.0], requires_grad=True), cr.tensor([1.0, -2.0], requires_grad=True)
    adamw = optim.AdamW([a], lr=0.1, weight_decay=0.5)
    adam = optim.Adam([b], lr=0.1, weight_decay=0.5, decoupled_weight_decay=True)
    for opt, w in ((adamw, a), (adam, b)):
        for _ in range(3):
            opt.zero_grad()
            (w * w).sum().backward()
            opt.step()
    np.testing.assert_array_equal(a._data, b._data)
    assert adamw.param_groups[0]["decoupled_weight_decay"] is True


def test_maximize_climbs():
    w = cr.tensor([0.0], requires_grad=True)
    for make in (optim.Adadelta, optim.Adamax, optim.NAdam, optim.RAdam):
        w._data[...] = 0.0
        opt = make([w], maximize=True)
        opt.zero_grad()
        (-((w - 1) ** 2)).sum().backward()  # maximum at 1: the gradient at 0 points up
        opt.step()
        assert w.item() > 0, make.__name__


def test_zero_grad_set_to_none_and_add_param_group():
    a, b = cr.ones(2, requires_grad=True), cr.ones(3, requires_grad=True)
    opt = optim.NAdam([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.01, "momentum_decay": 0.1})
    assert opt.param_groups[1]["betas"] == (0.9, 0.999) and opt.param_groups[1]["momentum_decay"] == 0.1
    ((a * a).sum() + (b * b).sum()).backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad._data, [0.0, 0.0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_named_parameters_are_accepted_and_their_names_kept():
    model = cr.nn.Linear(3, 2)
    opt = optim.Adam(model.named_parameters(), lr=0.1)
    group = opt.param_groups[0]
    assert group["param_names"] == ["weight", "bias"] and group["params"][0] is model.weight
    model(cr.ones(4, 3)).sum().backward()
    opt.step()
    saved = opt.state_dict()
    assert saved["param_groups"][0]["param_names"] == ["weight", "bias"] and set(saved["state"]) == {0, 1}
    fresh = optim.Adam(cr.nn.Linear(3, 2).named_parameters())
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == 0.1 and fresh.param_groups[0]["param_names"] == ["weight", "bias"]
    with pytest.raises(TypeError, match=r"Adam: a parameter group mixes \(name, tensor\) pairs and bare tensors"):
        optim.Adam([("w", cr.ones(2, requires_grad=True)), cr.ones(2, requires_grad=True)])
    with pytest.raises(ValueError, match=r"all parameter groups must be named .* or none"):
        opt.add_param_group({"params": [cr.ones(2, requires_grad=True)]})
    saved["param_groups"][0]["param_names"] = ["weight"]
    with pytest.raises(ValueError, match=r"\['param_names'\] must be one name per parameter"):
        fresh.load_state_dict(saved)
