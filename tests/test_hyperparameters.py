"""Every optimizer and scheduler hyperparameter is a finite number of the right type or a clear
error naming it; optimizer and scheduler states load all or nothing and only into their own kind."""

import copy
import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim.lr_scheduler import (
    CosineAnnealingLR,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

OPTIMIZERS = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad]


def params(n=2):
    return [cr.nn.Parameter(cr.ones(3)) for _ in range(n)]


def trained(opt, steps=2):
    """``opt`` after a few steps on a quadratic, so that it has per-parameter state."""
    for _ in range(steps):
        opt.zero_grad()
        sum(((p * p).sum() for group in opt.param_groups for p in group["params"]), cr.tensor(0.0)).backward()
        opt.step()
    return opt


# -- optimizer hyperparameters ------------------------------------------------------------------
@pytest.mark.parametrize("make", OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(("lr", "error", "message"), [
    (None, TypeError, r"lr must be a real number, got NoneType None"),
    ("0.1", TypeError, r"lr must be a real number, got str '0.1'"),
    (True, TypeError, r"lr must be a real number, got bool True"),
    ([0.1], TypeError, r"lr must be a real number, got list"),
    (math.inf, ValueError, r"Invalid learning rate: inf \(lr must be a finite number >= 0\)"),
    (math.nan, ValueError, r"Invalid learning rate: nan"),
    (10**400, ValueError, r"Invalid learning rate: inf"),
    (-0.1, ValueError, r"Invalid learning rate: -0.1"),
])  # fmt: skip
def test_every_optimizer_refuses_a_bad_learning_rate_naming_it(make, lr, error, message):
    with pytest.raises(error, match=rf"^{make.__name__}: {message}"):
        make(params(), lr=lr)


@pytest.mark.parametrize(("make", "kwargs", "error", "message"), [
    (optim.Adam, {"betas": 0.9}, TypeError, r"Adam: betas must be a pair of numbers, got float 0.9"),
    (optim.Adam, {"betas": (0.9,)}, TypeError, r"Adam: betas must be a pair of numbers"),
    (optim.Adam, {"betas": "ab"}, TypeError, r"Adam: betas must be a pair of numbers, got str"),
    (optim.Adam, {"betas": (1.0, 0.9)}, ValueError, r"Adam: Invalid beta parameter at index 0: 1.0"),
    (optim.AdamW, {"betas": (0.9, math.nan)}, ValueError, r"AdamW: Invalid beta parameter at index 1: nan"),
    (optim.Adam, {"eps": math.inf}, ValueError, r"Adam: Invalid epsilon value: inf"),
    (optim.Adam, {"amsgrad": "yes"}, TypeError, r"Adam: amsgrad must be True or False, got str 'yes'"),
    (optim.SGD, {"momentum": math.nan}, ValueError, r"SGD: Invalid momentum value: nan"),
    (optim.SGD, {"momentum": "0.9"}, TypeError, r"SGD: momentum must be a real number, got str"),
    (optim.SGD, {"dampening": 2.0}, ValueError, r"SGD: Invalid dampening value: 2.0"),
    (optim.SGD, {"weight_decay": math.inf}, ValueError, r"SGD: Invalid weight_decay value: inf"),
    (optim.SGD, {"nesterov": 1}, TypeError, r"SGD: nesterov must be True or False, got int 1"),
    (optim.RMSprop, {"alpha": math.nan}, ValueError, r"RMSprop: Invalid alpha value: nan"),
    (optim.RMSprop, {"centered": None}, TypeError, r"RMSprop: centered must be True or False"),
    (optim.Adagrad, {"lr_decay": math.inf}, ValueError, r"Adagrad: Invalid lr_decay value: inf"),
    (optim.Adagrad, {"initial_accumulator_value": -1.0}, ValueError,
     r"Adagrad: Invalid initial_accumulator_value value: -1.0"),
    (optim.SGD, {"lr": cr.tensor([0.1, 0.2])}, ValueError, r"SGD: Tensor lr must be 1-element"),
    (optim.SGD, {"lr": np.array(["0.1"])}, TypeError, r"SGD: lr must be a real number, got a ndarray"),
])  # fmt: skip
def test_every_hyperparameter_is_checked_naming_it(make, kwargs, error, message):
    with pytest.raises(error, match=message):
        make(params(), **kwargs)


def test_a_one_element_tensor_or_numpy_number_is_read_as_a_float():
    a, b = params(), params()
    by_tensor = optim.SGD(a, lr=cr.tensor(0.25), momentum=np.float64(0.5))
    by_float = optim.SGD(b, lr=0.25, momentum=0.5)
    group = by_tensor.param_groups[0]
    assert type(group["lr"]) is float and type(group["momentum"]) is float and group["lr"] == 0.25
    trained(by_tensor), trained(by_float)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x._data, y._data)
    assert optim.Adam(params(), betas=[0.8, 0.9]).param_groups[0]["betas"] == (0.8, 0.9)
    assert optim.Adam(params(), betas=cr.tensor([0.5, 0.75])).param_groups[0]["betas"] == (0.5, 0.75)


def test_groups_added_later_are_checked_and_a_refused_group_is_not_added():
    opt = optim.SGD(params(), lr=0.1)
    for group, error, message in [
        ({"lr": math.inf}, ValueError, r"SGD: Invalid learning rate: inf"),
        ({"lr": "0.1"}, TypeError, r"SGD: lr must be a real number"),
        ({"momentum": -1.0}, ValueError, r"SGD: Invalid momentum value: -1.0"),
        ({"initial_lr": math.nan}, ValueError, r"SGD: Invalid initial_lr: nan"),
    ]:
        with pytest.raises(error, match=message):
            opt.add_param_group({"params": params(1), **group})
    assert len(opt.param_groups) == 1


# -- optimizer state ----------------------------------------------------------------------------
def test_another_optimizers_state_is_refused_and_nothing_changes():
    sgd = optim.SGD(params(), lr=0.1, momentum=0.9)
    trained(sgd)
    before = copy.deepcopy(sgd.state_dict())
    adam_state = trained(optim.Adam(params(), lr=0.5)).state_dict()
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: the state dict is one of 'Adam', not of SGD"):
        sgd.load_state_dict(adam_state)
    # without chainrule's class tag (PyTorch's own layout) the keys give it away
    untagged = {k: v for k, v in adam_state.items() if k != "optimizer"}
    with pytest.raises(ValueError, match=r"param_groups\[0\] lacks \['dampening', 'momentum', 'nesterov'\] "
                                         r"and has unknown \['amsgrad', 'betas', 'capturable', "
                                         r"'decoupled_weight_decay', 'eps'\]"):
        sgd.load_state_dict(untagged)
    assert sgd.param_groups[0]["lr"] == 0.1
    after = sgd.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i in before["state"]:
        np.testing.assert_array_equal(after["state"][i]["momentum_buffer"], before["state"][i]["momentum_buffer"])
    # AdamW's state has Adam's keys: the tag tells them apart
    with pytest.raises(ValueError, match=r"the state dict is one of 'AdamW', not of Adam"):
        optim.Adam(params()).load_state_dict(optim.AdamW(params()).state_dict())
    # per-parameter state of another optimizer, under groups that look right
    mixed = optim.SGD(params(), lr=0.1, momentum=0.9).state_dict()
    mixed["state"] = {0: {"step": 1, "exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(3)}}
    with pytest.raises(ValueError, match=r"the state of parameter 0 has \['exp_avg', 'exp_avg_sq', 'step'\]"):
        optim.SGD(params(), lr=0.1, momentum=0.9).load_state_dict(mixed)


def test_a_damaged_state_is_refused_all_or_nothing():
    opt = trained(optim.Adam(params(), lr=0.1))
    before = copy.deepcopy(opt.state_dict())

    def damaged(edit):
        state = copy.deepcopy(before)
        edit(state)
        return state

    cases = [
        (lambda s: s["param_groups"][0].update(lr=math.inf), ValueError, r"Invalid learning rate: inf"),
        (lambda s: s["param_groups"][0].update(betas=[0.9]), TypeError, r"betas must be a pair of numbers"),
        (lambda s: s["param_groups"][0].update(lr="0.1"), TypeError, r"lr must be a real number"),
        (lambda s: s["state"][1].update(exp_avg=np.array(["a", "b", "c"])), TypeError,
         r"state 'exp_avg' of parameter 1 must be numbers"),
        (lambda s: s["state"][1].update(exp_avg_sq=np.full(3, np.nan)), ValueError,
         r"state 'exp_avg_sq' of parameter 1 holds NaN or infinity"),
        (lambda s: s["state"][1].update(exp_avg=np.zeros(4)), ValueError, r"state 'exp_avg' has shape \(4,\)"),
        (lambda s: s["state"][1].update(step=-3), ValueError, r"state 'step' of parameter 1 must be an integer"),
        (lambda s: s["state"][1].pop("exp_avg"), ValueError, r"lacks \['exp_avg'\]"),
        (lambda s: s["state"].update({7: {}}), ValueError, r"state for parameter 7, which no parameter group"),
        (lambda s: s["param_groups"].append(s["param_groups"][0]), ValueError,
         r"loaded state dict has a different number of parameter groups"),
        (lambda s: s.pop("state"), TypeError, r"expected a dict with 'state'"),
    ]
    for edit, error, message in cases:
        # the first parameter's entries are fine: they must not be applied either
        state = damaged(lambda s, edit=edit: (s["state"][0].update(exp_avg=np.full(3, 5.0)), edit(s)))
        with pytest.raises(error, match=message):
            opt.load_state_dict(state)
        now = opt.state_dict()
        assert now["param_groups"] == before["param_groups"]
        for i, entry in before["state"].items():
            for key, value in entry.items():
                np.testing.assert_array_equal(now["state"][i][key], value)


def test_a_json_round_tripped_state_loads_and_resumes_exactly():
    from chainrule.train.checkpoint import join_arrays, split_arrays

    def run(opt, ps, steps):
        for _ in range(steps):
            opt.zero_grad()
            sum(((p * p * p).sum() for p in ps), cr.tensor(0.0)).backward()
            opt.step()

    for make in OPTIMIZERS:
        straight_params = params()
        straight = make(straight_params, lr=0.01)
        run(straight, straight_params, 6)

        ps = params()
        first = make(ps, lr=0.01)
        run(first, ps, 3)
        arrays = {}
        meta = json.loads(json.dumps(split_arrays(first.state_dict(), "optimizer", arrays)))
        resumed = make(ps, lr=0.5)
        resumed.load_state_dict(join_arrays(meta, arrays))  # string keys, lists for tuples
        assert resumed.param_groups[0]["lr"] == 0.01
        run(resumed, ps, 3)
        for got, expected in zip(ps, straight_params):
            np.testing.assert_array_equal(got._data, expected._data)


# -- schedulers ---------------------------------------------------------------------------------
def sgd():
    return optim.SGD([{"params": params(1), "lr": lr} for lr in (0.1, 0.03)], lr=0.1, momentum=0.5)


def step_twice(sched):
    sched.step()
    sched.step()


@pytest.mark.parametrize(("build", "error", "message"), [
    (lambda o: CosineAnnealingLR(o, 10, eta_min=math.nan), ValueError, r"CosineAnnealingLR: Invalid eta_min: nan"),
    (lambda o: CosineAnnealingLR(o, 10, eta_min="0"), TypeError, r"CosineAnnealingLR: eta_min must be a real"),
    (lambda o: CosineAnnealingLR(o, 10.0), TypeError,
     r"CosineAnnealingLR: T_max must be an integer >= 1, got 10\.0 \(float\)"),
    (lambda o: StepLR(o, 3, gamma=math.inf), ValueError, r"StepLR: Invalid gamma: inf"),
    (lambda o: MultiStepLR(o, [2, 4], gamma=math.nan), ValueError, r"MultiStepLR: Invalid gamma: nan"),
    (lambda o: ExponentialLR(o, None), TypeError, r"ExponentialLR: gamma must be a real number, got NoneType"),
    (lambda o: LinearLR(o, start_factor=math.nan), ValueError, r"LinearLR: Invalid start_factor: nan"),
    (lambda o: CyclicLR(o, math.nan, 0.1), ValueError, r"CyclicLR: Invalid base_lr: nan"),
    (lambda o: CyclicLR(o, 0.01, [0.1, math.inf]), ValueError, r"CyclicLR: Invalid max_lr\[1\]: inf"),
    (lambda o: CyclicLR(o, 0.01, 0.1, max_momentum=1.5), ValueError, r"CyclicLR: Invalid max_momentum: 1.5"),
    (lambda o: CyclicLR(o, 0.01, 0.1, gamma=math.inf), ValueError, r"CyclicLR: Invalid gamma: inf"),
    (lambda o: OneCycleLR(o, math.inf, 10), ValueError, r"OneCycleLR: Invalid max_lr: inf"),
    (lambda o: OneCycleLR(o, 0.1, 10, div_factor=math.nan), ValueError, r"OneCycleLR: Invalid div_factor: nan"),
    (lambda o: OneCycleLR(o, 0.1, 10, three_phase="no"), TypeError, r"OneCycleLR: three_phase must be True or"),
    (lambda o: OneCycleLR(o, 0.1, 10.5), TypeError, r"OneCycleLR: total_steps must be an integer >= 1"),
    (lambda o: ReduceLROnPlateau(o, threshold=math.nan), ValueError, r"ReduceLROnPlateau: Invalid threshold: nan"),
    (lambda o: ReduceLROnPlateau(o, min_lr=math.inf), ValueError, r"ReduceLROnPlateau: Invalid min_lr: inf"),
    (lambda o: ReduceLROnPlateau(o, patience=2.0), TypeError, r"ReduceLROnPlateau: patience must be an integer"),
    (lambda o: ReduceLROnPlateau(o).step("0.5"), TypeError, r"ReduceLROnPlateau.step: metrics must be a number"),
    (lambda o: StepLR(o, 3, last_epoch=2.5), TypeError,
     r"StepLR: last_epoch must be an integer >= -1, got 2\.5 \(float\)"),
    (lambda o: SequentialLR(o, [StepLR(o, 2)], [], last_epoch="0"), TypeError,
     r"SequentialLR: last_epoch must be an integer >= -1, got '0' \(str\)"),
    (lambda o: step_twice(LambdaLR(o, lambda e: math.nan if e == 2 else 1.0)), ValueError,
     r"LambdaLR: lr_lambda\(2\) returned nan; expected a finite number"),
    (lambda o: step_twice(CyclicLR(o, 0.01, 0.1, scale_fn=lambda x: math.inf if x > 1 else 1.0,
                                   scale_mode="iterations")), ValueError,
     r"CyclicLR: scale_fn\(2\) returned inf; expected a finite number"),
])  # fmt: skip
def test_every_scheduler_argument_is_a_finite_number_or_a_clear_error(build, error, message):
    with pytest.raises(error, match=message):
        build(sgd())


def test_another_schedulers_state_is_refused_and_nothing_changes():
    opt = sgd()
    sched = ExponentialLR(opt, 0.5)
    for _ in range(3):
        sched.step()
    before = sched.state_dict()
    # StepLR's state holds a gamma too: the class name tells them apart
    with pytest.raises(ValueError, match=r"is the state of 'StepLR', not of ExponentialLR"):
        sched.load_state_dict(StepLR(sgd(), 3).state_dict())
    for key, value, error in [("last_epoch", "5", r"\['last_epoch'\] must be a number, got '5'"),
                              ("last_epoch", 2.5, r"\['last_epoch'\] must be an integer in \[-1, 2\*\*53\], got 2.5"),
                              ("last_epoch", 10**5000, r"\['last_epoch'\] must be an integer .*, got 'a huge number'"),
                              ("gamma", math.nan, r"\['gamma'\] must be a number, not NaN .*, got nan"),
                              ("gamma", -10**400, r"\['gamma'\] must be a number, not NaN nor an integer beyond"),
                              ("base_lrs", [0.1], r"\['base_lrs'\] must be a list of 2 values")]:
        with pytest.raises(ValueError, match=error):
            sched.load_state_dict({**before, key: value})
    assert sched.state_dict() == before


def test_a_sequential_schedule_loads_all_its_parts_or_none():
    def build(opt):
        return SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), CosineAnnealingLR(opt, 20)], [5])

    opt = sgd()
    sched = build(opt)
    for _ in range(8):
        sched.step()
    saved = json.loads(json.dumps(sched.state_dict()))
    fresh = build(sgd())
    before = fresh.state_dict()
    bad = copy.deepcopy(saved)
    bad["_schedulers"][1]["T_max"] = "20"
    with pytest.raises(ValueError, match=r"\['_schedulers'\]\[1\]\['T_max'\] must be a number"):
        fresh.load_state_dict(bad)
    assert fresh.state_dict() == before  # the first part was not loaded either
    fresh.load_state_dict(saved)
    assert fresh.state_dict() == sched.state_dict()
