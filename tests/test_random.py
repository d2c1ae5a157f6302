"""chainrule's one generator: a saved state restores exactly and anything else is refused naming the
field; random ops of the forward pass draw for the whole global batch, so that each rank's rows get
the numbers one process gives them."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, random


@pytest.fixture(autouse=True)
def no_share():
    random.set_batch_share(None)
    yield
    random.set_batch_share(None)


def test_a_saved_state_restores_exactly_also_through_json():
    cr.manual_seed(3)
    state = json.loads(json.dumps(random.get_rng_state()))  # as checkpoints store it
    expected = random.get_generator().random(5)
    random.set_rng_state(state)
    np.testing.assert_array_equal(random.get_generator().random(5), expected)


def _state(**changes):
    cr.manual_seed(0)
    state = random.get_rng_state()
    for key, value in changes.items():
        if key in ("inner_state", "inner_inc"):
            state["state"][key[6:]] = value
        elif value is _DROP:
            del state[key]
        else:
            state[key] = value
    return state


_DROP = object()


@pytest.mark.parametrize("state, message", [
    (None, r"expected the dict get_rng_state\(\) returns .*got NoneType"),
    ([1, 2, 3], r"expected the dict get_rng_state\(\) returns .*got list"),
    ("PCG64", r"expected the dict .*got str"),
    (_state(bit_generator="MT19937"), r"state\['bit_generator'\] must be 'PCG64', got 'MT19937'"),
    (_state(bit_generator=_DROP), r"state\['bit_generator'\] must be 'PCG64', got None"),
    (_state(state=_DROP), r"state\['state'\] must be a dict, got NoneType"),
    (_state(state=[1, 2]), r"state\['state'\] must be a dict, got list"),
    ({"bit_generator": "PCG64", "state": {"state": 1}}, r"state\['state'\] lacks \['inc'\]"),
    (_state(inner_state="12"), r"state\['state'\]\['state'\] must be an integer in \[0, 2\*\*128\), got '12'"),
    (_state(inner_state=1.5), r"state\['state'\]\['state'\] must be an integer .*got 1.5"),
    (_state(inner_inc=True), r"state\['state'\]\['inc'\] must be an integer .*got True"),
    (_state(inner_inc=-1), r"state\['state'\]\['inc'\] must be an integer .*got -1"),
    (_state(inner_inc=2**128), r"state\['state'\]\['inc'\] must be an integer in \[0, 2\*\*128\), got 3402823669"),
    (_state(inner_inc=10**5000), r"state\['state'\]\['inc'\] must be an integer .*got an int of 5001 digits"),
    (_state(has_uint32=_DROP), r"state lacks \['has_uint32'\]"),
    (_state(has_uint32=2), r"state\['has_uint32'\] must be an integer in \[0, 2\), got 2"),
    (_state(uinteger=[0]), r"state\['uinteger'\] must be an integer in \[0, 2\*\*32\), got \[0\]"),
    (_state(extra=1), r"unknown fields \['extra'\]"),
])
def test_set_rng_state_refuses_garbage_naming_the_field(state, message):
    # Before: KeyError, TypeError or OverflowError from inside NumPy, or garbage accepted
    cr.manual_seed(7)
    expected = random.get_generator().random(3)
    cr.manual_seed(7)
    with pytest.raises(ValueError, match=r"^set_rng_state: " + message):
        random.set_rng_state(state)
    np.testing.assert_array_equal(random.get_generator().random(3), expected)  # the generator is unchanged


def _rank_draws(world, size, draw):
    """What each of ``world`` ranks draws with ``draw`` for its rows of a global batch of ``size``,
    and the generator's next number on each (all from seed 5)."""
    draws, after = [], []
    for rank in range(world):
        cr.manual_seed(5)
        random.set_batch_share(slice(rank, None, world), size)
        rows = len(range(size)[rank::world])
        draws.append(draw(rows))
        random.set_batch_share(None)
        after.append(random.get_generator().random())
    return draws, after


@pytest.mark.parametrize("world, size", [(1, 7), (2, 7), (3, 7), (3, 2), (4, 1)])  # (3, 2), (4, 1): empty shares
def test_batch_random_gives_each_row_its_one_process_numbers(world, size):
    cr.manual_seed(5)
    whole = random.batch_random((size, 4, 2), np.float32)
    next_number = random.get_generator().random()
    draws, after = _rank_draws(world, size, lambda rows: random.batch_random((rows, 4, 2), np.float32))
    for rank, mine in enumerate(draws):
        assert mine.dtype == np.float32
        np.testing.assert_array_equal(mine, whole[rank::world])
    assert after == [next_number] * world  # every rank's generator moved on as one process's did


@pytest.mark.parametrize("layer", [nn.Dropout(0.4), lambda x: nn.functional.dropout(x, 0.4)],
                         ids=["module", "functional"])
def test_dropout_masks_each_rank_s_rows_as_one_process_does(layer):
    # Before, every rank drew the mask of rows 0, 1, ... for its own, different samples.
    x = cr.ones(9, 6)
    cr.manual_seed(5)
    whole = layer(x)._data
    draws, _ = _rank_draws(3, 9, lambda rows: layer(cr.ones(rows, 6))._data)
    for rank, mine in enumerate(draws):
        np.testing.assert_array_equal(mine, whole[rank::3])
    assert not np.array_equal(draws[0], draws[1])


def test_batch_random_off_the_batch_axis_differs_between_ranks():
    # A sequence-first input (5 steps, 2 rows of this rank): no one-process rows to match, but
    # the ranks must not share one mask for different samples.
    draws, _ = _rank_draws(2, 4, lambda rows: random.batch_random((5, rows, 3)))
    assert draws[0].shape == draws[1].shape == (5, 2, 3)
    assert not np.array_equal(draws[0], draws[1])


def test_outside_a_share_batch_random_is_the_generator_s_own_draw():
    cr.manual_seed(2)
    expected = random.get_generator().random((3, 4))
    cr.manual_seed(2)
    np.testing.assert_array_equal(random.batch_random((3, 4)), expected)


@pytest.mark.parametrize("rows, size", [((0, 2), 4), (slice(0, None, 2), -1), (slice(0, None, 2), 2.0)])
def test_set_batch_share_refuses_what_is_not_a_slice_and_a_size(rows, size):
    with pytest.raises(ValueError, match=r"set_batch_share: expected a slice of rows and a size >= 0"):
        random.set_batch_share(rows, size)


@pytest.mark.parametrize("p, error", [(1.5, ValueError), (-0.1, ValueError), (float("nan"), ValueError),
                                      ("0.5", TypeError), (True, TypeError), (None, TypeError)])
def test_dropout_refuses_a_p_that_is_not_a_probability(p, error):
    with pytest.raises(error, match=r"^Dropout: p must be"):
        nn.Dropout(p)


def test_check_rng_state_checks_without_touching_the_generator():
    state = json.loads(json.dumps(random.get_rng_state()))
    cr.manual_seed(3)
    before = random.get_rng_state()
    assert random.check_rng_state(state) == state
    with pytest.raises(ValueError, match=r"state\['state'\]\['inc'\] must be an integer"):
        random.check_rng_state({**state, "state": {"state": 1, "inc": -1}})
    assert random.get_rng_state() == before
