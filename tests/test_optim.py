"""Optimizers: ten steps equal the published update equations written here as plain NumPy loops
(float64, to 1e-10); convergence on a convex problem; exact resumption from state_dict; errors."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

RNG = np.random.default_rng(42)
A = RNG.standard_normal((8, 5))
Y = RNG.standard_normal(8)
W1_START = RNG.standard_normal(5)
W2_START = RNG.standard_normal((2, 3))


def loss_and_grads(w1, w2):
    """The problem both sides optimise: 0.5 ||A w1 - y||^2 + sum(sin(w2))."""
    residual = A @ w1 - Y
    return 0.5 * residual @ residual + np.sin(w2).sum(), (A.T @ residual, np.cos(w2))


def run_chainrule(make_optimizer, steps=10):
    w1 = cr.tensor(W1_START, requires_grad=True)
    w2 = cr.tensor(W2_START, requires_grad=True)
    opt = make_optimizer([w1, w2])
    for _ in range(steps):
        opt.zero_grad()
        residual = cr.tensor(A) @ w1 - cr.tensor(Y)
        loss = 0.5 * (residual * residual).sum() + w2.sin().sum()
        loss.backward()
        opt.step()
    return w1._data, w2._data


def run_reference(update, steps=10):
    """``update(t, params, grads, state)`` moves the list of params; t counts from 1."""
    params = [W1_START.copy(), W2_START.copy()]
    states = [{}, {}]
    for t in range(1, steps + 1):
        _, grads = loss_and_grads(*params)
        for i in range(2):
            params[i] = update(t, params[i], grads[i], states[i])
    return params


def sgd_reference(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    def update(t, p, g, s):
        g = g + weight_decay * p
        if momentum:
            s["b"] = g.copy() if t == 1 else momentum * s["b"] + (1 - dampening) * g
            g = g + momentum * s["b"] if nesterov else s["b"]
        return p - lr * g

    return update


def adagrad_reference(lr, lr_decay=0.0, weight_decay=0.0, initial=0.0, eps=1e-10):
    def update(t, p, g, s):
        g = g + weight_decay * p
        s["sum"] = s.get("sum", np.full_like(p, initial)) + g * g
        return p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s["sum"]) + eps)

    return update


def rmsprop_reference(lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    def update(t, p, g, s):
        g = g + weight_decay * p
        s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
        v = s["v"]
        if centered:
            s["m"] = alpha * s.get("m", 0.0) + (1 - alpha) * g
            v = v - s["m"] ** 2
        step = g / (np.sqrt(v) + eps)
        if momentum:
            s["b"] = momentum * s.get("b", 0.0) + step
            step = s["b"]
        return p - lr * step

    return update


def adam_reference(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False):
    b1, b2 = betas

    def update(t, p, g, s):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        v = s["v"]
        if amsgrad:
            s["vmax"] = np.maximum(s.get("vmax", 0.0), v)
            v = s["vmax"]
        m_hat = s["m"] / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)

    return update


def adadelta_reference(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    def update(t, p, g, s):
        g = (-g if maximize else g) + weight_decay * p
        s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
        delta = np.sqrt(s.get("u", 0.0) + eps) / np.sqrt(s["v"] + eps) * g
        s["u"] = rho * s.get("u", 0.0) + (1 - rho) * delta * delta
        return p - lr * delta

    return update


def adamax_reference(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
    b1, b2 = betas

    def update(t, p, g, s):
        g = (-g if maximize else g) + weight_decay * p
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(g) + eps)
        return p - lr / (1 - b1**t) * s["m"] / s["u"]

    return update


def nadam_reference(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3, decoupled=False):
    """Dozat's NAdam with PyTorch's momentum schedule mu_t = b1 (1 - 0.96^(t psi) / 2)."""
    b1, b2 = betas

    def mu(t):
        return b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))

    def update(t, p, g, s):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        product = np.prod([mu(i) for i in range(1, t + 1)])
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        denom = np.sqrt(s["v"] / (1 - b2**t)) + eps
        return (p - lr * (1 - mu(t)) / (1 - product) * g / denom
                - lr * mu(t + 1) / (1 - product * mu(t + 1)) * s["m"] / denom)

    return update


def radam_reference(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    """Liu et al.'s rectified Adam: momentum SGD until rho_t > 5, then the rectified Adam step."""
    b1, b2 = betas

    def update(t, p, g, s):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        m_hat = s["m"] / (1 - b1**t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t <= 5:
            return p - lr * m_hat
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        adaptive = math.sqrt(1 - b2**t) / (np.sqrt(s["v"]) + eps)  # 1 / sqrt(v_hat), eps as PyTorch adds it
        return p - lr * rect * m_hat * adaptive

    return update


CASES = {
    "sgd": (lambda p: optim.SGD(p, lr=0.05), sgd_reference(0.05)),
    "sgd-momentum": (lambda p: optim.SGD(p, lr=0.05, momentum=0.9), sgd_reference(0.05, 0.9)),
    "sgd-dampening-decay": (
        lambda p: optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1),
        sgd_reference(0.05, 0.8, 0.3, 0.1),
    ),
    "sgd-nesterov": (
        lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), sgd_reference(0.05, 0.9, nesterov=True)
    ),
    "adagrad": (lambda p: optim.Adagrad(p, lr=0.3), adagrad_reference(0.3)),
    "adagrad-options": (
        lambda p: optim.Adagrad(p, lr=0.3, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.2),
        adagrad_reference(0.3, 0.1, 0.05, 0.2),
    ),
    "rmsprop": (lambda p: optim.RMSprop(p, lr=0.01), rmsprop_reference(0.01)),
    "rmsprop-centered-momentum": (
        lambda p: optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1),
        rmsprop_reference(0.01, 0.9, weight_decay=0.1, momentum=0.5, centered=True),
    ),
    "adam": (lambda p: optim.Adam(p, lr=0.1), adam_reference(0.1)),
    "adam-amsgrad-decay": (
        lambda p: optim.Adam(p, lr=0.1, betas=(0.8, 0.95), weight_decay=0.1, amsgrad=True),
        adam_reference(0.1, (0.8, 0.95), weight_decay=0.1, amsgrad=True),
    ),
    "adamw": (lambda p: optim.AdamW(p, lr=0.1), adam_reference(0.1, weight_decay=0.01, decoupled=True)),
    "adamw-amsgrad": (
        lambda p: optim.AdamW(p, lr=0.1, weight_decay=0.3, amsgrad=True),
        adam_reference(0.1, weight_decay=0.3, amsgrad=True, decoupled=True),
    ),
    "adadelta": (lambda p: optim.Adadelta(p), adadelta_reference()),
    "adadelta-options": (
        lambda p: optim.Adadelta(p, lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True),
        adadelta_reference(0.5, 0.8, 1e-5, 0.1, maximize=True),
    ),
    "adamax": (lambda p: optim.Adamax(p, lr=0.05), adamax_reference(0.05)),
    "adamax-options": (
        lambda p: optim.Adamax(p, lr=0.05, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.1, maximize=True),
        adamax_reference(0.05, (0.8, 0.95), 1e-3, 0.1, maximize=True),
    ),
    "nadam": (lambda p: optim.NAdam(p, lr=0.05), nadam_reference(0.05)),
    "nadam-decay": (
        lambda p: optim.NAdam(p, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, momentum_decay=0.05),
        nadam_reference(0.05, (0.8, 0.9), weight_decay=0.1, momentum_decay=0.05),
    ),
    "nadam-decoupled": (
        lambda p: optim.NAdam(p, lr=0.05, weight_decay=0.2, decoupled_weight_decay=True),
        nadam_reference(0.05, weight_decay=0.2, decoupled=True),
    ),
    # with b2 = 0.999 rho_t passes 5 at step 6: both branches within ten steps
    "radam": (lambda p: optim.RAdam(p, lr=0.05), radam_reference(0.05)),
    "radam-decay": (
        lambda p: optim.RAdam(p, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1),
        radam_reference(0.05, (0.8, 0.9), weight_decay=0.1),
    ),
    "radam-decoupled": (
        lambda p: optim.RAdam(p, lr=0.05, weight_decay=0.2, decoupled_weight_decay=True),
        radam_reference(0.05, weight_decay=0.2, decoupled=True),
    ),
    "adam-decoupled": (
        lambda p: optim.Adam(p, lr=0.1, weight_decay=0.3, decoupled_weight_decay=True),
        adam_reference(0.1, weight_decay=0.3, decoupled=True),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_ten_steps_equal_the_published_equations(name):
    make, reference = CASES[name]
    got = run_chainrule(make)
    expected = run_reference(reference)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.SGD(p, lr=0.02, momentum=0.9),
        lambda p: optim.Adagrad(p, lr=0.5),
        lambda p: optim.RMSprop(p, lr=0.001),  # constant-lr RMSprop hovers within ~lr/2 of the optimum
        lambda p: optim.Adam(p, lr=0.05),
        lambda p: optim.AdamW(p, lr=0.05, weight_decay=0.0),
        lambda p: optim.Adamax(p, lr=0.05),
        lambda p: optim.NAdam(p, lr=0.01),
        lambda p: optim.RAdam(p, lr=0.05),
    ],
)
def test_converges_on_a_convex_problem(make):
    w = cr.zeros(5, dtype=cr.float64, requires_grad=True)
    opt = make([w])
    a, y = cr.tensor(A), cr.tensor(Y)
    for _ in range(1500):
        opt.zero_grad()
        r = a @ w - y
        (0.5 * (r * r).sum()).backward()
        opt.step()
    best = np.linalg.lstsq(A, Y, rcond=None)[0]
    np.testing.assert_allclose(w._data, best, atol=1e-3)


@pytest.mark.parametrize("name", CASES)
def test_state_dict_resumes_on_exactly_the_same_trajectory(name):
    make, _ = CASES[name]
    straight = run_chainrule(make, steps=10)

    w1 = cr.tensor(W1_START, requires_grad=True)
    w2 = cr.tensor(W2_START, requires_grad=True)

    def train(opt, params, steps):
        for _ in range(steps):
            opt.zero_grad()
            r = cr.tensor(A) @ params[0] - cr.tensor(Y)
            (0.5 * (r * r).sum() + params[1].sin().sum()).backward()
            opt.step()

    first = make([w1, w2])
    train(first, [w1, w2], 4)
    saved = first.state_dict()
    resumed_params = [cr.tensor(w1._data, requires_grad=True), cr.tensor(w2._data, requires_grad=True)]
    second = make(resumed_params)
    second.load_state_dict(saved)
    train(second, resumed_params, 6)
    for got, expected in zip(resumed_params, straight):
        np.testing.assert_array_equal(got._data, expected)


def test_state_dict_is_a_copy_and_names_state_as_pytorch():
    w = cr.ones(3, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    state = opt.state_dict()
    assert set(state["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert state["param_groups"][0]["params"] == [0] and state["param_groups"][0]["lr"] == 0.1
    state["state"][0]["exp_avg"][...] = 99
    assert not (opt.state[w]["exp_avg"] == 99).any()


def test_float32_parameters_and_state_stay_float32():
    w = cr.ones(3, requires_grad=True)
    optimizers = (
        optim.SGD([w], lr=0.1, momentum=0.9), optim.Adam([w]),
        optim.RMSprop([w], momentum=0.1, centered=True), optim.Adagrad([w]),
    )
    for opt in optimizers:
        (w * w).sum().backward()
        opt.step()
        opt.zero_grad()
        assert w.dtype == np.float32
        assert all(v.dtype == np.float32 for v in opt.state[w].values() if isinstance(v, np.ndarray))


def test_parameters_without_gradient_are_skipped():
    used, unused = cr.ones(2, requires_grad=True), cr.ones(2, requires_grad=True)
    opt = optim.Adam([used, unused], lr=0.1)
    (used * 3).sum().backward()
    opt.step()
    np.testing.assert_array_equal(unused._data, [1.0, 1.0])
    assert unused not in opt.state and used in opt.state


def test_parameter_groups_have_their_own_hyperparameters():
    a, b = cr.ones(1, requires_grad=True), cr.ones(1, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    (a + b).sum().backward()
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.5)
    c = cr.ones(1, requires_grad=True)
    opt.add_param_group({"params": c, "lr": 0.01})
    assert opt.param_groups[2]["lr"] == 0.01 and opt.param_groups[2]["momentum"] == 0.0


def test_closure_is_called_and_its_loss_returned():
    w = cr.ones(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 2.0
    np.testing.assert_allclose(w._data, [0.8, 0.8])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: optim.SGD(p, lr=-0.1), r"SGD: Invalid learning rate: -0.1 \(lr must be a finite number >= 0\)"),
        (lambda p: optim.SGD(p, momentum=1.0), r"SGD: Invalid momentum value: 1.0 \(momentum must be in \[0, 1\)"),
        (lambda p: optim.SGD(p, momentum=-0.5), r"momentum must be in \[0, 1\)"),
        (lambda p: optim.SGD(p, nesterov=True), r"SGD: Nesterov momentum requires a momentum and zero dampening"),
        (lambda p: optim.RMSprop(p, momentum=1.5), r"RMSprop: Invalid momentum value: 1.5 \(momentum must be in"),
        (lambda p: optim.Adam(p, betas=(0.9, 1.0)), r"Adam: Invalid beta parameter at index 1: 1.0 \(betas\[1\] must"),
        (lambda p: optim.Adam(p, eps=-1), r"Adam: Invalid epsilon value: -1.0 \(eps must be a finite number >= 0"),
        (lambda p: optim.AdamW(p, weight_decay=-0.1), r"AdamW: Invalid weight_decay value: -0.1 \(weight_decay must"),
        (lambda p: optim.Adagrad(p, lr_decay=-1), r"Adagrad: Invalid lr_decay value: -1.0 \(lr_decay must"),
        (lambda p: optim.SGD([{"params": p, "lr": -1.0}]), r"SGD: Invalid learning rate: -1.0 \(lr must"),
    ],
)
def test_bad_hyperparameters_are_refused_naming_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make([cr.ones(2, requires_grad=True)])


def test_bad_parameter_lists_are_refused():
    w = cr.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match=r"given twice"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match=r"given twice"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="got a single Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match=r"unknown hyperparameters \['betas'\]"):
        optim.SGD([{"params": [w], "betas": (0.9, 0.9)}], lr=0.1)


def test_load_state_dict_refuses_a_mismatched_optimizer():
    a, b = cr.ones(2, requires_grad=True), cr.ones(2, requires_grad=True)
    saved = optim.SGD([a, b], lr=0.1).state_dict()
    message = r"doesn't match the size of optimizer's group \(param_groups\[0\]: 2 parameters saved, 1 here\)"
    with pytest.raises(ValueError, match=message):
        optim.SGD([a], lr=0.1).load_state_dict(saved)


def test_adam_default_hyperparameters_match_pytorch():
    opt = optim.Adam([cr.ones(1, requires_grad=True)])
    group = opt.param_groups[0]
    settings = (group["lr"], group["betas"], group["eps"], group["weight_decay"])
    assert settings == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    assert optim.AdamW([cr.ones(1, requires_grad=True)]).param_groups[0]["weight_decay"] == 1e-2
    assert optim.RMSprop([cr.ones(1, requires_grad=True)]).param_groups[0]["alpha"] == 0.99
    assert optim.Adagrad([cr.ones(1, requires_grad=True)]).param_groups[0]["eps"] == 1e-10
    assert math.isclose(optim.SGD([cr.ones(1, requires_grad=True)]).param_groups[0]["lr"], 1e-3)
