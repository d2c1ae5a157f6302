"""Learning-rate schedules: every schedule's learning rates (and cycled momentum) over many steps
against its closed form written out here; ReduceLROnPlateau on a hand-worked plateau; SequentialLR
warm-up then cosine; exact resumption from a JSON round-tripped state_dict; argument errors."""

import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.optim.adam import Adam
from chainrule.optim.lr_scheduler import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiplicativeLR,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from chainrule.optim.sgd import SGD

LRS = (0.1, 0.03)  # two parameter groups with different learning rates


def sgd(lrs=LRS, momentum=0.5):
    groups = [{"params": [cr.nn.Parameter(cr.zeros(3))], "lr": lr} for lr in lrs]
    return SGD(groups, lr=0.1, momentum=momentum)


def adam(lrs=LRS):
    groups = [{"params": [cr.nn.Parameter(cr.zeros(3))], "lr": lr} for lr in lrs]
    return Adam(groups, lr=0.1, betas=(0.9, 0.99))


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def run(sched, steps):
    """The lrs (one row per step, one column per group) that each step trains with."""
    rows = []
    for _ in range(steps):
        rows.append(sched.get_last_lr())
        assert rows[-1] == [g["lr"] for g in sched.optimizer.param_groups]
        sched.optimizer.step()
        sched.step()
    return np.array(rows)


def expected(formula, steps, lrs=LRS):
    return np.array([[formula(t, lr0) for lr0 in lrs] for t in range(steps)])


def close(actual, wanted):
    # The recursive forms (as PyTorch computes them) differ from the closed forms by rounding only.
    np.testing.assert_allclose(actual, wanted, rtol=1e-10, atol=1e-13)


# -- each schedule against its closed form ------------------------------------------------------
def test_step_lr():
    lrs = run(StepLR(sgd(), step_size=7, gamma=0.5), 100)
    close(lrs, expected(lambda t, lr0: lr0 * 0.5 ** (t // 7), 100))


def test_step_lr_default_gamma_is_one_tenth():
    close(run(StepLR(sgd(), step_size=3), 10), expected(lambda t, lr0: lr0 * 0.1 ** (t // 3), 10))


def test_multistep_lr_counts_repeated_milestones():
    milestones = [10, 25, 25, 60]
    formula = lambda t, lr0: lr0 * 0.3 ** sum(m <= t for m in milestones)
    close(run(MultiStepLR(sgd(), milestones, gamma=0.3), 100), expected(formula, 100))


def test_exponential_lr():
    close(run(ExponentialLR(sgd(), gamma=0.97), 200), expected(lambda t, lr0: lr0 * 0.97**t, 200))


@pytest.mark.parametrize("eta_min", [0.0, 0.001])
def test_cosine_annealing_lr_including_past_t_max(eta_min):
    # Past T_max PyTorch's schedule climbs back up the same cosine; 3 * T_max steps cover it.
    T = 40
    formula = lambda t, lr0: eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * t / T)) / 2
    lrs = run(CosineAnnealingLR(sgd(), T_max=T, eta_min=eta_min), 3 * T)
    close(lrs, expected(formula, 3 * T))
    assert lrs[T].tolist() == pytest.approx([eta_min, eta_min], abs=1e-15)


@pytest.mark.parametrize("start, end, total", [(0.1, 1.0, 12), (1.0, 0.25, 30), (1 / 3, 1.0, 5)])
def test_linear_lr(start, end, total):
    formula = lambda t, lr0: lr0 * (start + (end - start) * min(t, total) / total)
    close(run(LinearLR(sgd(), start, end, total), 60), expected(formula, 60))


def test_lambda_lr_one_function_per_group():
    f0, f1 = (lambda e: 0.95**e), (lambda e: 1 / (1 + e))
    lrs = run(LambdaLR(sgd(), [f0, f1]), 80)
    close(lrs, np.array([[LRS[0] * f0(t), LRS[1] * f1(t)] for t in range(80)]))


def test_multiplicative_lr_multiplies_from_step_one():
    f0, f1 = (lambda e: 0.9 if e % 3 == 0 else 1.0), (lambda e: 1.02)
    lrs = run(MultiplicativeLR(sgd(), [f0, f1]), 40)
    want = [[LRS[0] * math.prod(f0(i) for i in range(1, t + 1)), LRS[1] * 1.02**t] for t in range(40)]
    close(lrs, np.array(want))


@pytest.mark.parametrize("factor, total", [(1 / 3, 5), (0.25, 7), (1.0, 3)])
def test_constant_lr(factor, total):
    close(run(ConstantLR(sgd(), factor, total), 20), expected(lambda t, lr0: lr0 * (factor if t < total else 1), 20))


def test_constant_lr_defaults_exactly():
    # by hand: 0.1 / 3 for epochs 0-4 (factor 1/3, total_iters 5), then 0.1 / 3 * (1 / (1 / 3))
    lrs = run(ConstantLR(sgd()), 7)[:, 0].tolist()
    assert lrs == [0.1 * (1 / 3)] * 5 + [0.1 * (1 / 3) * (1.0 / (1 / 3))] * 2


@pytest.mark.parametrize("total, power", [(5, 1.0), (13, 2.5), (8, 0.5)])
def test_polynomial_lr(total, power):
    formula = lambda t, lr0: lr0 * (1 - min(t, total) / total) ** power
    close(run(PolynomialLR(sgd(), total, power), 30), expected(formula, 30))


def cosine_restarts(T_0, T_mult, eta_min):
    """The closed form, cycle by cycle: (epochs since the restart, cycle length) for epoch t."""

    def formula(t, lr0):
        start, length = 0, T_0
        while t >= start + length:
            start, length = start + length, length * T_mult
        return eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * (t - start) / length)) / 2

    return formula


@pytest.mark.parametrize("T_0, T_mult, eta_min", [(7, 1, 0.0), (3, 2, 0.001), (2, 3, 0.0)])
def test_cosine_annealing_warm_restarts(T_0, T_mult, eta_min):
    lrs = run(CosineAnnealingWarmRestarts(sgd(), T_0, T_mult, eta_min), 60)
    close(lrs, expected(cosine_restarts(T_0, T_mult, eta_min), 60))
    restarts = [t for t in range(1, 60) if lrs[t, 0] > lrs[t - 1, 0]]
    assert restarts == [T_0 * sum(T_mult**i for i in range(k)) for k in range(1, len(restarts) + 1)]


def test_cosine_annealing_warm_restarts_fractional_epochs():
    # T_0 = 3, T_mult = 2: cycles [0, 3), [3, 9), [9, 21); epoch 10.5 is 1.5 into a cycle of 12
    opt = sgd(lrs=(1.0,))
    sched = CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.0)
    for epoch, (t_cur, t_i) in [(0.5, (0.5, 3)), (2.25, (2.25, 3)), (3.0, (0, 6)), (10.5, (1.5, 12)),
                                (1, (1, 3)), (25, (4, 24))]:
        sched.step(epoch)
        assert sched.get_last_lr()[0] == pytest.approx((1 + math.cos(math.pi * t_cur / t_i)) / 2, abs=1e-15)
        assert sched.last_epoch == math.floor(epoch) and sched.T_i == t_i
    sched = CosineAnnealingWarmRestarts(sgd(lrs=(1.0,)), T_0=4)  # T_mult 1: epoch modulo T_0
    sched.step(9.5)
    assert sched.get_last_lr()[0] == pytest.approx((1 + math.cos(math.pi * 1.5 / 4)) / 2)


def test_chained_scheduler_multiplies_the_factors():
    # by hand: 0.1 * 0.1 (constant) at 0; * 0.9 at 1; at 2 ConstantLR divides by 0.1: 0.1 * 0.9 ** 2
    opt = sgd(lrs=(0.1,))
    sched = ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=2), ExponentialLR(opt, gamma=0.9)])
    close(run(sched, 5)[:, 0], [0.01, 0.009, 0.081, 0.0729, 0.06561])
    opt = sgd()
    T = 15
    sched = ChainedScheduler([LinearLR(opt, 0.2, total_iters=6), CosineAnnealingLR(opt, T)], optimizer=opt)
    formula = lambda t, lr0: lr0 * (0.2 + 0.8 * min(t, 6) / 6) * (1 + math.cos(math.pi * t / T)) / 2
    close(run(sched, T), expected(formula, T))


def test_sequential_lr_restarts_warm_restarts_at_its_own_epoch_zero():
    opt = sgd()
    sched = SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), CosineAnnealingWarmRestarts(opt, 4, 2)],
                         milestones=[5])
    restarts = cosine_restarts(4, 2, 0.0)
    formula = lambda t, lr0: lr0 * (0.1 + 0.9 * t / 5) if t < 5 else restarts(t - 5, lr0)
    close(run(sched, 40), expected(formula, 40))


def test_step_with_an_epoch_warns_and_jumps_by_the_closed_form():
    sched = StepLR(sgd(), step_size=3, gamma=0.5)
    with pytest.warns(UserWarning, match=r"The epoch parameter in `scheduler.step\(\)` was not necessary"):
        sched.step(7)
    assert sched.last_epoch == 7 and sched.get_last_lr() == [LRS[0] * 0.25, LRS[1] * 0.25]


def test_reduce_lr_on_plateau_step_with_an_epoch_sets_the_counter():
    sched = ReduceLROnPlateau(sgd(), patience=0)
    with pytest.warns(UserWarning, match=r"The epoch parameter"):
        sched.step(1.0, epoch=9)
    assert sched.last_epoch == 9 and sched.best == 1.0


def test_pytorch_old_base_class_name():
    from chainrule.optim.lr_scheduler import _LRScheduler

    assert _LRScheduler is LRScheduler


def cyclic_formula(base, top, up, down, mode, gamma=1.0):
    """Triangle wave through base -> top (up steps) -> base (down steps), amplitude scaled."""

    def fraction_and_scale(t):
        cycle, p = divmod(t, up + down)
        frac = p / up if p <= up else 1 - (p - up) / down
        scale = {"triangular": 1.0, "triangular2": 0.5**cycle, "exp_range": gamma**t}[mode]
        return frac * scale

    return fraction_and_scale


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize("make", [sgd, adam], ids=["momentum", "betas"])
def test_cyclic_lr_and_momentum(mode, make):
    opt = make()
    base, top, up, down = [0.01, 0.002], [0.1, 0.05], 7, 11
    sched = CyclicLR(opt, base, top, step_size_up=up, step_size_down=down, mode=mode, gamma=0.99,
                     base_momentum=0.8, max_momentum=0.95)
    f = cyclic_formula(base, top, up, down, mode, gamma=0.99)
    lrs, moms = [], []
    for _ in range(200):
        lrs.append(sched.get_last_lr())
        moms.append(momenta(opt))
        sched.step()
    close(lrs, [[b + (m - b) * f(t) for b, m in zip(base, top)] for t in range(200)])
    close(moms, [[0.95 - 0.15 * f(t)] * 2 for t in range(200)])
    if make is adam:
        assert all(g["betas"][1] == 0.99 for g in opt.param_groups)  # beta2 untouched


def test_cyclic_lr_custom_scale_fn_and_no_momentum():
    opt = sgd(momentum=0.3)
    sched = CyclicLR(opt, 0.01, 0.1, step_size_up=5, scale_fn=lambda x: 0.9**x, scale_mode="cycle",
                     cycle_momentum=False)
    lrs = run(sched, 60)
    want = [0.01 + 0.09 * (1 - abs(t % 10 - 5) / 5) * 0.9 ** (t // 10 + 1) for t in range(60)]
    close(lrs, np.array([want, want]).T)
    assert momenta(opt) == [0.3, 0.3]


def one_cycle_formula(total, pct, three_phase, anneal, init, top, low):
    """(lr, momentum) at step t: piecewise anneal between the phase end points."""
    e1 = pct * total - 1
    if three_phase:
        phases = [(e1, init, top, 0.95, 0.85), (2 * pct * total - 2, top, init, 0.85, 0.95),
                  (total - 1, init, low, 0.95, 0.95)]
    else:
        phases = [(e1, init, top, 0.95, 0.85), (total - 1, top, low, 0.85, 0.95)]
    if anneal == "cos":
        curve = lambda a, b, p: b + (a - b) * (1 + math.cos(math.pi * p)) / 2
    else:
        curve = lambda a, b, p: a + (b - a) * p

    def at(t):
        start = 0.0
        for i, (end, lr_a, lr_b, m_a, m_b) in enumerate(phases):
            if t <= end or i == len(phases) - 1:
                p = (t - start) / (end - start)
                return curve(lr_a, lr_b, p), curve(m_a, m_b, p)
            start = end

    return at


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("make", [sgd, adam], ids=["momentum", "betas"])
def test_one_cycle_lr_and_momentum(three_phase, anneal, make):
    opt, total, top = make(), 100, [0.5, 1.0]
    sched = OneCycleLR(opt, max_lr=top, total_steps=total, pct_start=0.25, anneal_strategy=anneal,
                       three_phase=three_phase)
    fs = [one_cycle_formula(total, 0.25, three_phase, anneal, m / 25, m, m / 25 / 1e4) for m in top]
    lrs, moms = [], []
    for _ in range(total):
        lrs.append(sched.get_last_lr())
        moms.append(momenta(opt))
        sched.step()
    close(lrs, [[f(t)[0] for f in fs] for t in range(total)])
    close(moms, [[f(t)[1] for f in fs] for t in range(total)])
    # Phase 1 ends (at the peak) on step pct_start * total - 1.
    assert lrs[0] == pytest.approx([0.02, 0.04]) and lrs[24] == pytest.approx(top)
    assert lrs[-1] == pytest.approx([0.5 / 25 / 1e4, 1 / 25 / 1e4])
    assert sched.last_epoch == total  # stepping to total_steps is allowed, as in PyTorch; one more is not
    with pytest.raises(ValueError, match="stepped 101 times, but total_steps is 100"):
        sched.step()


def test_one_cycle_lr_total_steps_from_epochs():
    a = run(OneCycleLR(sgd(), 0.3, epochs=7, steps_per_epoch=13), 91)
    b = run(OneCycleLR(sgd(), 0.3, total_steps=91), 91)
    assert a.tolist() == b.tolist()


# -- ReduceLROnPlateau ---------------------------------------------------------------------------
def test_reduce_lr_on_plateau_patience_cooldown_and_min_lr():
    opt = sgd(lrs=(1.0, 1.0))
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=2, threshold=0.0,
                              threshold_mode="abs", min_lr=[0.1, 0.2])
    metrics = [5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    # Hand-worked, steps counted from 1: step 2 sets best 4; 3-5 are bad (3 > patience 2): halve
    # at 5; 6-7 are the cooldown (not counted); 8-10 bad: halve at 10; 11 improves (best 3)
    # within the cooldown; 13-15 bad: halve at 15, group 1 stops at its min_lr 0.2; 16-17
    # cooldown; 18-20 bad: group 0 stops at 0.1; 25: nothing left to reduce.
    want0 = [1.0] * 4 + [0.5] * 5 + [0.25] * 5 + [0.125] * 5 + [0.1] * 6
    want1 = [1.0] * 4 + [0.5] * 5 + [0.25] * 5 + [0.2] * 11
    got = []
    for m in metrics:
        sched.step(m)
        got.append(sched.get_last_lr())
    assert got == [[a, b] for a, b in zip(want0, want1)]
    assert sched.best == 3 and sched.num_bad_epochs == 0 and sched.cooldown_counter == 2


def test_reduce_lr_on_plateau_rel_threshold_and_max_mode():
    opt = sgd(lrs=(1.0,))
    sched = ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=0, threshold=0.1)
    sched.step(cr.tensor(1.0))  # a one-element tensor is accepted
    sched.step(1.05)  # not > 1.0 * 1.1: a bad epoch, patience 0 -> reduce
    assert sched.get_last_lr() == pytest.approx([0.1])
    sched.step(1.2)  # > 1.1: better, no change
    assert sched.get_last_lr() == pytest.approx([0.1]) and sched.best == 1.2
    sched.step(float("nan"))  # nan is never better
    assert sched.get_last_lr() == pytest.approx([0.01])


def test_reduce_lr_on_plateau_skips_changes_below_eps():
    opt = sgd(lrs=(1e-8,))
    sched = ReduceLROnPlateau(opt, patience=0, eps=1e-8)
    for m in [1, 1, 1]:
        sched.step(m)
    assert sched.get_last_lr() == [1e-8]


# -- SequentialLR -----------------------------------------------------------------------------
def test_sequential_lr_linear_warmup_then_cosine():
    opt = sgd()
    warm, T, eta_min = 5, 45, 0.001
    sched = SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=warm), CosineAnnealingLR(opt, T, eta_min)],
                         milestones=[warm])

    def formula(t, lr0):
        if t < warm:
            return lr0 * (0.1 + 0.9 * t / warm)
        return eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * (t - warm) / T)) / 2

    close(run(sched, 120), expected(formula, 120))


def test_sequential_lr_three_parts():
    opt = sgd()
    sched = SequentialLR(opt, [ExponentialLR(opt, 0.9), StepLR(opt, 4, 0.5), MultiStepLR(opt, [3], 0.2)],
                         milestones=[10, 22])
    formula = lambda t, lr0: (lr0 * 0.9**t if t < 10 else lr0 * 0.5 ** ((t - 10) // 4) if t < 22
                              else lr0 * 0.2 ** (t - 22 >= 3))
    close(run(sched, 40), expected(formula, 40))


# -- saving and resuming ------------------------------------------------------------------------
class Warmup:
    """A callable object: its attributes are what LambdaLR.state_dict keeps."""

    def __init__(self, length):
        self.length = length

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.length)


PLATEAU_METRICS = [1.0 / (1 + t) if t < 20 else 0.05 for t in range(80)]

BUILDERS = {
    "StepLR": (sgd, lambda o: StepLR(o, 7, 0.5)),
    "MultiStepLR": (sgd, lambda o: MultiStepLR(o, [10, 30, 50], 0.3)),
    "ExponentialLR": (sgd, lambda o: ExponentialLR(o, 0.95)),
    "CosineAnnealingLR": (sgd, lambda o: CosineAnnealingLR(o, 30, 1e-3)),
    "LinearLR": (sgd, lambda o: LinearLR(o, 0.2, 1.0, 50)),
    "LambdaLR": (sgd, lambda o: LambdaLR(o, [Warmup(40), lambda e: 0.97**e])),
    "CyclicLR": (adam, lambda o: CyclicLR(o, 0.01, 0.1, step_size_up=9, mode="triangular2")),
    "OneCycleLR": (sgd, lambda o: OneCycleLR(o, 0.5, total_steps=80, three_phase=True)),
    "ReduceLROnPlateau": (sgd, lambda o: ReduceLROnPlateau(o, factor=0.5, patience=3, cooldown=2)),
    "ReduceLROnPlateau-max-abs": (sgd, lambda o: ReduceLROnPlateau(o, "max", factor=0.7, patience=2, cooldown=3,
                                                                    threshold=1e-3, threshold_mode="abs",
                                                                    min_lr=[1e-3, 0.0])),
    "OneCycleLR-adam-linear": (adam, lambda o: OneCycleLR(o, [0.5, 0.2], epochs=8, steps_per_epoch=10,
                                                           anneal_strategy="linear")),
    "CyclicLR-exp_range": (sgd, lambda o: CyclicLR(o, [0.01, 0.02], 0.1, step_size_up=5, step_size_down=11,
                                                   mode="exp_range", gamma=0.99)),
    "SequentialLR": (sgd, lambda o: SequentialLR(o, [LinearLR(o, 0.1, total_iters=10),
                                                     CosineAnnealingLR(o, 60)], [10])),
    "ConstantLR": (sgd, lambda o: ConstantLR(o, 0.5, total_iters=20)),
    "PolynomialLR": (sgd, lambda o: PolynomialLR(o, total_iters=50, power=2.0)),
    "MultiplicativeLR": (sgd, lambda o: MultiplicativeLR(o, [Warmup(40), lambda e: 0.97])),
    "CosineAnnealingWarmRestarts": (sgd, lambda o: CosineAnnealingWarmRestarts(o, 5, T_mult=2, eta_min=1e-3)),
    "ChainedScheduler": (adam, lambda o: ChainedScheduler([LinearLR(o, 0.1, total_iters=15),
                                                           CosineAnnealingWarmRestarts(o, 9),
                                                           ExponentialLR(o, 0.99)])),
}


def trajectory(opt, sched, steps, start=0):
    rows = []
    for t in range(start, start + steps):
        rows.append((sched.get_last_lr(), momenta(opt)))
        opt.step()
        sched.step(PLATEAU_METRICS[t]) if isinstance(sched, ReduceLROnPlateau) else sched.step()
    return rows


@pytest.mark.parametrize("split", [1, 12, 33, 79])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_state_dict_resumes_exactly(name, split):
    # split points: just after the start, inside ReduceLROnPlateau's cooldown and the warm-ups, at
    # SequentialLR's and the cycles' middles, one step before the end
    make_opt, make_sched = BUILDERS[name]
    opt = make_opt()
    reference = trajectory(opt, make_sched(opt), 80)

    opt = make_opt()
    sched = make_sched(opt)
    first = trajectory(opt, sched, split)
    saved_opt = opt.state_dict()
    saved_opt["param_groups"] = json.loads(json.dumps(saved_opt["param_groups"]))  # as a checkpoint keeps them
    saved = json.loads(json.dumps(sched.state_dict()))

    fresh_opt = make_opt()
    fresh = make_sched(fresh_opt)  # PyTorch's order: scheduler, then the optimizer's state, then its own
    fresh_opt.load_state_dict(saved_opt)
    fresh.load_state_dict(saved)
    assert fresh.state_dict() == sched.state_dict()
    assert first + trajectory(fresh_opt, fresh, 80 - split, start=split) == reference


def test_lambda_lr_state_dict_keeps_callable_objects_not_functions():
    opt = sgd()
    sched = LambdaLR(opt, [Warmup(40), lambda e: 1.0])
    saved = sched.state_dict()
    assert saved["lr_lambdas"] == [{"length": 40}, None]
    fresh = LambdaLR(sgd(), [Warmup(3), lambda e: 1.0])
    fresh.load_state_dict(saved)
    assert fresh.lr_lambdas[0].length == 40


def test_state_dict_is_a_copy_without_the_optimizer():
    sched = StepLR(sgd(), 3)
    saved = sched.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 0
    saved["base_lrs"].append(1.0)
    assert sched.base_lrs == list(LRS)


def test_load_state_dict_of_another_scheduler_kind_is_refused():
    with pytest.raises(ValueError, match=r"is the state of 'StepLR', not of CosineAnnealingLR"):
        CosineAnnealingLR(sgd(), 10).load_state_dict(StepLR(sgd(), 3).state_dict())


@pytest.mark.parametrize("make", [lambda o, e: ExponentialLR(o, 0.9, last_epoch=e),
                                  lambda o, e: CosineAnnealingLR(o, 20, last_epoch=e)],
                         ids=["ExponentialLR", "CosineAnnealingLR"])
def test_resume_with_last_epoch_continues_the_schedule(make):
    opt = sgd()
    sched = make(opt, -1)
    reference = run(sched, 30)
    opt = sgd()
    first = run(make(opt, -1), 12)
    second = run(make(opt, 11), 18)  # the groups keep 'initial_lr' and their current lr
    close(np.concatenate([first, second]), reference)


def test_base_class_sets_initial_lr_and_performs_step_zero():
    class Halving(LRScheduler):
        def get_lr(self):
            return [base / 2**self.last_epoch for base in self.base_lrs]

    opt = sgd()
    sched = Halving(opt)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS) and sched.last_epoch == 0
    sched.step()
    assert sched.get_last_lr() == [LRS[0] / 2, LRS[1] / 2]


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("build, error, message", [
    (lambda o: StepLR(o, 0), ValueError, r"StepLR: step_size must be an integer >= 1, got 0"),
    (lambda o: StepLR(o, 2.5), TypeError, r"StepLR: step_size must be an integer >= 1, got 2\.5 \(float\)"),
    (lambda o: StepLR(o, 3, gamma=-0.1), ValueError,
     r"StepLR: Invalid gamma: -0.1 \(gamma must be a finite number > 0"),
    (lambda o: MultiStepLR(o, [30, 10]), ValueError, r"MultiStepLR: milestones must be .* increasing"),
    (lambda o: ExponentialLR(o, -1.0), ValueError, r"ExponentialLR: Invalid gamma: -1.0 \(gamma must be"),
    (lambda o: CosineAnnealingLR(o, 0), ValueError, r"CosineAnnealingLR: T_max must be an integer >= 1, got 0"),
    (lambda o: CosineAnnealingLR(o, 5, eta_min=-1), ValueError,
     r"Invalid eta_min: -1.0 \(eta_min must be a finite number >= 0\)"),
    (lambda o: LinearLR(o, start_factor=0), ValueError,
     r"LinearLR: Invalid start_factor: 0.0 \(start_factor must be in \(0, 1\]"),
    (lambda o: LinearLR(o, end_factor=1.5), ValueError,
     r"LinearLR: Invalid end_factor: 1.5 \(end_factor must be in \[0, 1\]"),
    (lambda o: LinearLR(o, total_iters=0), ValueError, r"LinearLR: total_iters must be an integer >= 1"),
    (lambda o: CyclicLR(o, 0.1, 0.01), ValueError, r"CyclicLR: need 0 <= base_lr <= max_lr, got base_lr=0.1"),
    (lambda o: CyclicLR(o, 0.01, 0.1, step_size_up=0), ValueError,
     r"CyclicLR: Invalid step_size_up: 0.0 \(step_size_up must be a finite number > 0"),
    (lambda o: CyclicLR(o, 0.01, 0.1, mode="sine"), ValueError, r"CyclicLR: mode must be .*got 'sine'"),
    (lambda o: CyclicLR(o, 0.01, [0.1, 0.2, 0.3]), ValueError,
     r"CyclicLR: max_lr has 3 values, .* 2 param_groups"),
    (lambda o: CyclicLR(o, 0.01, 0.1, base_momentum=0.95, max_momentum=0.9), ValueError,
     r"CyclicLR: need 0 <= base_momentum <= max_momentum, got base_momentum=0.95"),
    (lambda o: OneCycleLR(o, 0.1), ValueError,
     r"OneCycleLR: give total_steps, or both epochs and steps_per_epoch"),
    (lambda o: OneCycleLR(o, 0.1, total_steps=-5), ValueError, r"OneCycleLR: total_steps must be an integer >= 1"),
    (lambda o: OneCycleLR(o, 0.1, 10, pct_start=1.5), ValueError,
     r"OneCycleLR: Invalid pct_start: 1.5 \(pct_start must be in \[0, 1\]"),
    (lambda o: OneCycleLR(o, 0.1, 10, anneal_strategy="exp"), ValueError,
     r"anneal_strategy must be 'cos' or"),
    (lambda o: ReduceLROnPlateau(o, factor=1.0), ValueError,
     r"ReduceLROnPlateau: Invalid factor: 1.0 \(factor must be in \[0, 1\)"),
    (lambda o: ReduceLROnPlateau(o, mode="up"), ValueError,
     r"ReduceLROnPlateau: mode must be 'min' or 'max'"),
    (lambda o: ReduceLROnPlateau(o, patience=-1), ValueError, r"patience must be an integer >= 0, got -1"),
    (lambda o: ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, r"min_lr has 1 values, the optimizer has 2"),
    (lambda o: LambdaLR(o, [lambda e: 1.0]), ValueError, r"LambdaLR: lr_lambda has 1 values"),
    (lambda o: LambdaLR(o, 0.5), TypeError, r"LambdaLR: lr_lambda must be callable, got float"),
    (lambda o: StepLR([1, 2], 3), TypeError,
     r"StepLR: expected an Optimizer \(with param_groups\), got list"),
    (lambda o: SequentialLR(o, [], []), ValueError, r"SequentialLR: expected at least one scheduler"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], []), ValueError,
     r"SequentialLR: expected 1 milestones for 2 schedulers, got 0"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3), StepLR(o, 4)], [10, 5]), ValueError,
     r"SequentialLR: milestones must be positive integers in increasing order, got \[10, 5\]"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(sgd(), 3)], [5]), ValueError,
     r"SequentialLR: schedulers\[1\] \(StepLR\) is attached to another optimizer"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), ReduceLROnPlateau(o)], [5]), ValueError,
     r"schedulers\[1\] is a ReduceLROnPlateau, whose step needs a metric"),
    (lambda o: ConstantLR(o, factor=0), ValueError, r"ConstantLR: Invalid factor: 0.0 \(factor must be in \(0, 1\]"),
    (lambda o: ConstantLR(o, factor=1.5), ValueError, r"ConstantLR: Invalid factor: 1.5"),
    (lambda o: ConstantLR(o, total_iters=2.0), TypeError, r"ConstantLR: total_iters must be an integer >= 1"),
    (lambda o: PolynomialLR(o, total_iters=0), ValueError, r"PolynomialLR: total_iters must be an integer >= 1"),
    (lambda o: PolynomialLR(o, power=-1), ValueError, r"PolynomialLR: Invalid power: -1.0"),
    (lambda o: CosineAnnealingWarmRestarts(o, 0), ValueError,
     r"CosineAnnealingWarmRestarts: T_0 must be an integer >= 1, got 0"),
    (lambda o: CosineAnnealingWarmRestarts(o, 5, T_mult=1.5), TypeError,
     r"CosineAnnealingWarmRestarts: T_mult must be an integer >= 1, got 1.5"),
    (lambda o: CosineAnnealingWarmRestarts(o, 5).step(-1), ValueError,
     r"CosineAnnealingWarmRestarts.step: epoch must be >= 0, got -1"),
    (lambda o: CosineAnnealingWarmRestarts(o, 5).step(math.nan), ValueError,
     r"CosineAnnealingWarmRestarts.step: Invalid epoch: nan"),
    (lambda o: MultiplicativeLR(o, 0.9), TypeError, r"MultiplicativeLR: lr_lambda must be callable, got float"),
    (lambda o: MultiplicativeLR(o, lambda e: math.inf).step(), ValueError,
     r"MultiplicativeLR: lr_lambda\(1\) returned inf; expected a finite number \(the factor of the current lr\)"),
    (lambda o: StepLR(o, 2).step(-3), ValueError, r"StepLR.step: epoch must be an integer >= 0, got -3"),
    (lambda o: ChainedScheduler([]), ValueError, r"ChainedScheduler: expects at least one scheduler"),
    (lambda o: ChainedScheduler(StepLR(o, 2)), TypeError, r"ChainedScheduler: schedulers must be a list"),
    (lambda o: ChainedScheduler([StepLR(o, 2), ReduceLROnPlateau(o)]), ValueError,
     r"ChainedScheduler: schedulers\[1\] is a ReduceLROnPlateau, whose step needs a metric"),
    (lambda o: ChainedScheduler([StepLR(o, 2), StepLR(sgd(), 3)]), ValueError,
     r"ChainedScheduler: schedulers\[1\] \(StepLR\) is attached to another optimizer"),
])  # fmt: skip
def test_errors_name_the_argument(build, error, message):
    with pytest.raises(error, match=message):
        build(sgd())


def test_cycle_momentum_needs_momentum_or_betas():
    from chainrule.optim.adagrad import Adagrad

    opt = Adagrad([cr.nn.Parameter(cr.zeros(2))], lr=0.1)
    with pytest.raises(ValueError, match=r"CyclicLR: cycle_momentum=True needs an optimizer with 'momentum'"):
        CyclicLR(opt, 0.01, 0.1)
    with pytest.raises(ValueError, match=r"OneCycleLR: cycle_momentum=True needs"):
        OneCycleLR(opt, 0.1, 10)
    CyclicLR(opt, 0.01, 0.1, cycle_momentum=False)  # fine without momentum cycling


def test_resuming_without_initial_lr_is_refused():
    message = r"StepLR: resuming with last_epoch=5 needs 'initial_lr' in param_groups\[0\]"
    with pytest.raises(KeyError, match=message):
        StepLR(sgd(), 3, last_epoch=5)
