"""Tensor facts, creation functions, dtypes, seeding and error messages at the public boundary."""

import numpy as np
import pytest

import chainrule as cr


def test_python_floats_default_to_float32_and_arrays_keep_their_dtype():
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor(np.zeros(2)).dtype == np.float64
    assert cr.zeros(2, 3).dtype == np.float32
    assert cr.randn(2, dtype=cr.float64).dtype == np.float64
    assert cr.arange(3).dtype == np.int64
    assert cr.arange(0, 1, 0.25).dtype == np.float32
    assert cr.full((2,), 7).dtype == np.int64


def test_float64_default_dtype_switch():
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.tensor([1.0]).dtype == np.float64
        assert cr.randn(2).dtype == np.float64
    finally:
        cr.set_default_dtype(cr.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        cr.set_default_dtype(np.int32)


def test_attributes():
    t = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6
    assert t.size() == (2, 3) and t.size(1) == 3 and t.numel() == 6
    assert t.T.shape == (3, 2)
    assert t[1, 2].item() == 6.0
    assert t.numpy() is t._data
    assert len(t) == 2
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert np.asarray(t).shape == (2, 3)


def test_tensor_copies_and_from_numpy_shares():
    a = np.ones(3, dtype=np.float32)
    t, s = cr.tensor(a), cr.from_numpy(a)
    a[0] = 5
    assert t._data[0] == 1 and s._data[0] == 5


def test_detach_cuts_the_graph_and_shares_data():
    x = cr.tensor([1.0], requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.is_leaf
    z = x * 2
    assert np.shares_memory(z.detach()._data, z._data)


def test_repr_is_readable():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(cr.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(cr.tensor([1.0], dtype=cr.float64)) == "tensor([1.], dtype=float64)"
    x = cr.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward>)"


def test_like_constructors():
    t = cr.randn(2, 3, dtype=cr.float64)
    for make in (cr.zeros_like, cr.ones_like, cr.randn_like, cr.rand_like):
        out = make(t)
        assert out.shape == (2, 3) and out.dtype == np.float64
    assert (cr.full_like(t, 2.5)._data == 2.5).all()
    assert (cr.zeros_like(t)._data == 0).all() and (cr.ones_like(t)._data == 1).all()


def test_factories_values():
    np.testing.assert_array_equal(cr.eye(2)._data, np.eye(2))
    np.testing.assert_array_equal(cr.arange(1, 7, 2)._data, [1, 3, 5])
    r = cr.rand(1000)
    assert 0 <= r._data.min() and r._data.max() < 1
    n = cr.randn(20000)
    assert abs(n._data.mean()) < 0.05 and abs(n._data.std() - 1) < 0.05
    with pytest.raises(ValueError, match=r"zeros: size must be non-negative integers, got \(-1,\)"):
        cr.zeros(-1)


def test_manual_seed_makes_random_ops_repeat():
    cr.manual_seed(7)
    a, b = cr.randn(4), cr.rand(3)
    cr.manual_seed(7)
    np.testing.assert_array_equal(cr.randn(4)._data, a._data)
    np.testing.assert_array_equal(cr.rand(3)._data, b._data)
    state = cr.get_rng_state()
    c = cr.randn(2)
    cr.set_rng_state(state)
    np.testing.assert_array_equal(cr.randn(2)._data, c._data)
    with pytest.raises(ValueError, match="non-negative integer"):
        cr.manual_seed(-1)


def test_scalar_operands_keep_the_tensor_dtype():
    x = cr.tensor([1.0, 2.0])
    assert (x * 2.5).dtype == np.float32
    assert (2.5 - x).dtype == np.float32
    assert (x ** 2).dtype == np.float32
    assert (cr.arange(3) * 1.5).dtype == np.float32
    assert (cr.arange(3) + cr.tensor([1.0, 1.0, 1.0])).dtype == np.float32
    assert (cr.arange(3) / 2).dtype == np.float32
    assert (np.ones(2, dtype=np.float32) + x).dtype == np.float32


def test_reflected_operators():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = 1 - x + 2 * x / (3 + x) + 2 ** x
    expected = 1 - x._data + 2 * x._data / (3 + x._data) + 2**x._data
    np.testing.assert_allclose(y._data, expected, rtol=1e-6)
    y.sum().backward()
    assert x.grad.shape == (2,)


def test_comparisons_return_boolean_tensors_without_grad():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert (x > 1.5).tolist() == [False, True, True]
    assert (x == 2).tolist() == [False, True, False]
    assert (x <= 2).tolist() == [True, True, False]
    assert not (x > 1).requires_grad
    assert (x != 2).dtype == np.bool_


def test_argmax_argmin():
    x = cr.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert x.argmax().item() == 3
    assert x.argmax(dim=1).tolist() == [1, 0]
    assert x.argmin(dim=0, keepdim=True).tolist() == [[0, 1, 0]]
    values, indices = x.max(dim=1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]


def test_error_messages_name_the_op_and_shapes():
    inner = r"matmul: shapes \(32, 784\) and \(100, 10\): inner dimensions 784 and 100 differ"
    with pytest.raises(ValueError, match=inner):
        cr.zeros(32, 784) @ cr.zeros(100, 10)
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) do not broadcast"):
        cr.zeros(2, 3) + cr.zeros(4)
    reshape = r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"
    with pytest.raises(ValueError, match=reshape):
        cr.zeros(2, 3).reshape(4, 2)
    with pytest.raises(IndexError, match=r"sum: dim 2 is out of range for a tensor with 2 dimensions"):
        cr.zeros(2, 3).sum(dim=2)
    with pytest.raises(IndexError, match=r"index: .*out of bounds.*shape \(2, 3\)"):
        cr.zeros(2, 3)[5]
    with pytest.raises(TypeError, match="cannot make a tensor from str"):
        cr.tensor("abc")
    with pytest.raises(TypeError, match="relu: expected a floating tensor"):
        cr.relu(cr.arange(3))
    assert cr.log(cr.arange(1, 3)).dtype == cr.float32  # as PyTorch: math of integers is floating
    with pytest.raises(ValueError, match="item: only one-element tensors"):
        cr.zeros(2).item()


def test_axis_and_keepdims_spellings_are_accepted():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.sum(axis=0, keepdims=True).shape == (1, 2)
    assert cr.mean(x, dim=-1).tolist() == [1.5, 3.5]
    with pytest.raises(TypeError, match="dim or axis, not both"):
        x.sum(dim=0, axis=0)


def test_cast_between_float_dtypes_keeps_gradient_flowing():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_heavy_submodules_load_on_first_use():
    import subprocess
    import sys

    code = ("import sys, chainrule as cr; loaded = [m for m in ('chainrule.train', 'chainrule.optim.lr_scheduler', "
            "'chainrule.serialization', 'hashlib', 'json', 'numpy.random') if m in sys.modules]; print(loaded); "
            "cr.train.fit; cr.optim.lr_scheduler.StepLR; "
            "print('chainrule.train' in sys.modules and cr.save is sys.modules['chainrule.serialization'].save)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True"


# ---------------------------------------------------------------------------- bad arguments name themselves

BAD_CREATION_ARGUMENTS = [
    (lambda: cr.randint(5, 2, (3,)), ValueError,
     r"randint: random_ expects 'from' to be less than 'to', but got from=5 >= to=2"),
    (lambda: cr.randint(0, 2.5, (3,)), TypeError, r"randint: high must be an integer, got 2\.5 \(float\)"),
    (lambda: cr.randint(5, 2), TypeError, r"randint: expected randint\(low, high, size\) or randint\(high, size\)"),
    (lambda: cr.randint(0, (3,)), ValueError, r"randint: random_ expects 'from' to be less than 'to', but got from=0"),
    (lambda: cr.randint(0, 5, (3,), dtype="float32"), TypeError, r"randint: dtype must be an integer dtype"),
    (lambda: cr.linspace(0, 1, -3), ValueError, r"linspace: steps must be an integer >= 0, got -3 \(int\)"),
    (lambda: cr.linspace(0, 1, 2.5), TypeError, r"linspace: steps must be an integer >= 0, got 2\.5 \(float\)"),
    (lambda: cr.linspace(0, float("nan"), 3), ValueError, r"linspace: end must be a finite number, got nan"),
    (lambda: cr.zeros(2, -1), ValueError, r"zeros: size must be non-negative integers, got \(2, -1\)"),
    (lambda: cr.ones(2.0), TypeError, r"ones: size must be non-negative integers, got float 2\.0"),
    (lambda: cr.empty("3"), TypeError, r"empty: size must be non-negative integers, got str '3'"),
    (lambda: cr.randn((2, None)), TypeError, r"randn: size must be non-negative integers, got NoneType"),
    (lambda: cr.rand(-2), ValueError, r"rand: size must be non-negative integers, got \(-2,\)"),
    (lambda: cr.full((2, -1), 1.0), ValueError, r"full: size must be non-negative integers"),
    (lambda: cr.full((2,), "a"), TypeError, r"full: fill_value must be a number, got str 'a'"),
    (lambda: cr.zeros(2, dtype="flaot32"), TypeError, r"zeros: dtype must be a dtype such as float32, int64 or bool, "
                                                      r"got 'flaot32'"),
    (lambda: cr.tensor([1.0], dtype="U8"), TypeError, r"tensor: dtype must be a dtype such as float32"),
    (lambda: cr.randn(2, dtype="int64"), TypeError, r"randn: dtype must be a floating dtype"),
    (lambda: cr.rand(2, device="cuda"), RuntimeError, r"rand: device 'cuda' is not available: chainrule runs on"),
    (lambda: cr.eye(-1), ValueError, r"eye: n must be an integer >= 0, got -1"),
    (lambda: cr.eye(2, 1.5), TypeError, r"eye: m must be an integer >= 0, got 1\.5 \(float\)"),
    (lambda: cr.arange(0, 5, -1), ValueError, r"arange: the step -1 does not lead from start=0 to end=5"),
    (lambda: cr.arange(float("inf")), ValueError, r"arange: end must be a finite number, got inf"),
    (lambda: cr.arange(0, 5, 0), ValueError, r"arange: step must not be zero"),
    (lambda: cr.cat([cr.tensor(1.0), cr.tensor(2.0)]), ValueError,
     r"concatenate: zero-dimensional tensor \(at position 0\) cannot be concatenated"),
    (lambda: cr.cat([cr.ones(2), cr.tensor(2.0)]), ValueError,
     r"concatenate: zero-dimensional tensor \(at position 1\) cannot be concatenated"),
    (lambda: cr.binary_cross_entropy(cr.tensor([0.5, float("nan")]), cr.tensor([1.0, 0.0])), ValueError,
     r"binary_cross_entropy: all elements of input should be probabilities between 0 and 1, got nan at index \(1,\)"),
    (lambda: cr.binary_cross_entropy(cr.tensor([0.5, 0.5]), cr.tensor([float("nan"), 0.0])), ValueError,
     r"all elements of target should be probabilities between 0 and 1, got nan"),
    (lambda: cr.cross_entropy(cr.ones(2, 3), cr.tensor([0, 1]), label_smoothing=float("nan")), ValueError,
     r"cross_entropy: label_smoothing must be a finite number >= 0 and <= 1, got nan"),
]


@pytest.mark.parametrize("make, error, message", BAD_CREATION_ARGUMENTS,
                         ids=[m[:60] for _, _, m in BAD_CREATION_ARGUMENTS])
def test_bad_creation_arguments_say_what_was_received_and_expected(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_stack_of_zero_dimensional_tensors_and_promoting_cat_work_as_in_pytorch():
    assert cr.stack([cr.tensor(1.0), cr.tensor(2.0)]).tolist() == [1.0, 2.0]
    joined = cr.cat([cr.tensor([1, 2]), cr.tensor([0.5])])
    assert joined.dtype == np.float32 and joined.tolist() == [1.0, 2.0, 0.5]
    assert cr.randint(-3, -1, (4,))._data.max() < -1
    drawn = cr.randint(3, (50,))  # PyTorch's randint(high, size)
    assert drawn.shape == (50,) and drawn.dtype == np.int64 and set(drawn.tolist()) <= {0, 1, 2}


@pytest.mark.parametrize("make, error, message", [
    (lambda x: cr.nn.functional.dropout(x, "0.5"), TypeError,
     r"dropout: p must be a finite number >= 0 and <= 1, got '0\.5' \(str\)"),
    (lambda x: cr.nn.functional.dropout(x, float("nan")), ValueError, r"dropout: p must be a finite number >= 0"),
    (lambda x: cr.leaky_relu(x, "a"), TypeError,
     r"leaky_relu: negative_slope must be a finite number, got 'a' \(str\)"),
    (lambda x: cr.elu(x, None), TypeError, r"elu: alpha must be a finite number, got None \(NoneType\)"),
    (lambda x: cr.softplus(x, beta=0), ValueError, r"softplus: beta must be a non-zero finite number"),
    (lambda x: cr.clip(x, "a"), TypeError, r"clip: min must be a number or a tensor, got str 'a'"),
    (lambda x: cr.pad(x, (1.5, 1)), TypeError, r"pad: pad must be an integer, got 1\.5 \(float\)"),
    (lambda x: x.split(1.5), TypeError, r"split: split_size must be an integer >= 1, got 1\.5 \(float\)"),
    (lambda x: x.split(0), ValueError, r"split: split_size must be an integer >= 1, got 0"),
    (lambda x: x.sum(dim=1.0), TypeError, r"sum: dim must be an int or a tuple of ints, got float 1\.0"),
    (lambda x: cr.argmax(x, dim=2.0), TypeError, r"argmax: dim must be an int or a tuple of ints, got float"),
    (lambda x: x.var(correction="a"), TypeError, r"var: correction must be a finite number >= 0, got 'a' \(str\)"),
    (lambda x: x.to(dtype="flaot"), TypeError, r"to: dtype must be a dtype such as float32, int64 or bool, got 'flaot"),
    (lambda x: x.to("flaot"), TypeError, r"to: expected a device such as 'cpu' or a dtype such as float32, got 'flaot"),
])  # fmt: skip
def test_bad_op_arguments_name_the_op_and_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make(cr.ones(2, 3))


def test_softplus_takes_a_negative_beta_as_pytorch_does():
    x = cr.tensor([0.0, 1.0])
    np.testing.assert_allclose(cr.softplus(x, beta=-1.0)._data, -np.log1p(np.exp(-x._data)), rtol=1e-6)
