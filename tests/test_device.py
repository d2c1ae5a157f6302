"""Devices, dtypes and conversions as PyTorch scripts use them: chainrule.device and the availability
queries, Tensor.to/Module.to in all their forms, the legacy tensor types, device= on every creation
function and layer, and the random creation functions drawn from the one seeded generator."""

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

CUDA_ERROR = r"device 'cuda(:\d)?' is not available: chainrule runs on the CPU"


# -- devices ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, type_, index, text, shown", [
    (("cpu",), "cpu", None, "cpu", "device(type='cpu')"),
    (("cpu", 0), "cpu", 0, "cpu:0", "device(type='cpu', index=0)"),
    (("cuda",), "cuda", None, "cuda", "device(type='cuda')"),
    (("cuda:1",), "cuda", 1, "cuda:1", "device(type='cuda', index=1)"),
    (("mps",), "mps", None, "mps", "device(type='mps')"),
])  # fmt: skip
def test_devices_parse_as_pytorchs(args, type_, index, text, shown):
    d = cr.device(*args)
    assert (d.type, d.index, str(d), repr(d)) == (type_, index, text, shown)
    assert cr.device(d) == d and hash(cr.device(*args)) == hash(d)


def test_devices_compare_by_type_and_index_and_never_equal_a_string():
    assert cr.device("cpu") == cr.device("cpu")
    assert cr.device("cpu") != cr.device("cpu", 0)
    assert cr.device("cuda:0") != cr.device("cuda:1")
    assert cr.device("cpu") != "cpu"  # as PyTorch: compare str(device) or device.type
    assert {cr.device("cpu"), cr.device("cpu")} == {cr.device("cpu")}


@pytest.mark.parametrize("args, error, message", [
    (("foo",), RuntimeError, "Expected one of cpu, cuda, .* device type at start of device string: foo"),
    (("cuda:x",), RuntimeError, "Invalid device string: 'cuda:x'"),
    (("cpu:0:1",), RuntimeError, "Invalid device string: 'cpu:0:1'"),
    (("",), RuntimeError, "Device string must not be empty"),
    (("cuda:0", 1), RuntimeError, "must not include an index because index was passed explicitly"),
    (("cuda", -1), RuntimeError, "Device index must not be negative"),
    ((0,), RuntimeError, "names an accelerator device, but none is available"),
    ((None,), TypeError, "device: expected a string such as 'cpu' or 'cuda:0', got None"),
])  # fmt: skip
def test_bad_device_strings_raise_as_pytorch(args, error, message):
    with pytest.raises(error, match=message):
        cr.device(*args)


def test_availability_queries_say_no_gpu():
    assert cr.cuda.is_available() is False and cr.cuda.device_count() == 0
    assert cr.cuda.manual_seed(1) is None and cr.cuda.manual_seed_all(1) is None
    with pytest.raises(TypeError, match=r"cuda\.manual_seed: seed must be an integer"):
        cr.cuda.manual_seed(1.5)
    assert cr.accelerator.is_available() is False and cr.accelerator.current_accelerator() is None
    assert cr.backends.cudnn.is_available() is False
    assert cr.backends.mps.is_available() is False and cr.backends.mps.is_built() is False
    assert (cr.backends.cudnn.enabled, cr.backends.cudnn.benchmark, cr.backends.cudnn.deterministic) == (
        True, False, False)


def test_the_default_device_is_the_cpu():
    assert cr.get_default_device() == cr.device("cpu")
    cr.set_default_device("cpu")
    cr.set_default_device(None)
    with pytest.raises(RuntimeError, match="set_default_device: " + CUDA_ERROR):
        cr.set_default_device("cuda")
    assert cr.cuda.empty_cache() is None


def test_cudnn_flags_are_settable_module_attributes():
    import chainrule.backends.cudnn as cudnn

    saved = cudnn.benchmark, cudnn.deterministic
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert cr.backends.cudnn.benchmark and cr.backends.cudnn.deterministic
    finally:
        cudnn.benchmark, cudnn.deterministic = saved


# -- Tensor: device, to and casts ---------------------------------------------------------------
def test_tensors_live_on_the_cpu():
    x = cr.ones(2)
    assert x.device == cr.device("cpu") and str(x.device) == "cpu" and x.is_cuda is False
    assert x.cpu() is x and x.pin_memory() is x and x.share_memory_() is x and not x.is_pinned()


@pytest.mark.parametrize("call", [
    lambda x: x.to("cpu"), lambda x: x.to(cr.device("cpu")), lambda x: x.to(cr.float32),
    lambda x: x.to("cpu", cr.float32), lambda x: x.to(cr.zeros(1)), lambda x: x.to(device="cpu", dtype=cr.float32),
    lambda x: x.to(non_blocking=True), lambda x: x.to(cr.float32, True), lambda x: x.to("cpu:0"),
])  # fmt: skip
def test_to_returns_self_when_nothing_changes(call):
    x = cr.ones(2, requires_grad=True)
    assert call(x) is x


@pytest.mark.parametrize("call, dtype", [
    (lambda x: x.to(cr.float64), np.float64),
    (lambda x: x.to("cpu", cr.double), np.float64),
    (lambda x: x.to(cr.device("cpu"), cr.int64), np.int64),
    (lambda x: x.to(dtype=cr.half, device="cpu", non_blocking=True), np.float16),
    (lambda x: x.to(cr.zeros(1, dtype=cr.float64)), np.float64),
    (lambda x: x.to(cr.tensor([1, 2])), np.int64),
    (lambda x: x.to(cr.float64, non_blocking=False, copy=True), np.float64),
])  # fmt: skip
def test_to_casts_to_the_dtype_asked_for(call, dtype):
    x = cr.tensor([1.5, -2.0])
    y = call(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.numpy(), x.numpy().astype(dtype))


def test_to_with_copy_gives_a_new_tensor_in_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("cpu", copy=True)
    assert y is not x and not np.shares_memory(y.numpy(), x.numpy())
    (y * cr.tensor([3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_a_dtype_change_is_differentiable_and_the_gradient_comes_back_in_the_inputs_dtype():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for cast in (lambda t: t.to(cr.float64), lambda t: t.double(), lambda t: t.type(cr.DoubleTensor),
                 lambda t: t.type_as(cr.zeros(1, dtype=cr.float64))):
        x.grad = None
        y = cast(x)
        assert y.dtype == np.float64 and y.grad_fn is not None
        (y * y).sum().backward()
        assert x.grad.dtype == np.float32
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


@pytest.mark.parametrize("call", [
    lambda x: x.to("cuda"), lambda x: x.to("cuda:0"), lambda x: x.to(cr.device("cuda", 1)),
    lambda x: x.to(device="cuda"), lambda x: x.to("cuda", cr.float64), lambda x: x.cuda(), lambda x: x.cuda(0),
    lambda x: x.type("torch.cuda.FloatTensor"),
])  # fmt: skip
def test_cuda_is_a_clear_runtime_error_never_a_dtype_error(call):
    with pytest.raises(RuntimeError, match=CUDA_ERROR):
        call(cr.ones(2))


def test_other_devices_and_bad_to_arguments_are_named():
    with pytest.raises(RuntimeError, match=r"to: device 'mps' is not available.*accelerator.is_available\(\) is False"):
        cr.ones(2).to("mps")
    with pytest.raises(TypeError, match="to: expected a device such as 'cpu' or a dtype such as float32, got 'gpu'"):
        cr.ones(2).to("gpu")
    with pytest.raises(TypeError, match=r"to: unexpected keyword argument\(s\) \['dtyp'\]"):
        cr.ones(2).to(dtyp=cr.float64)
    with pytest.raises(TypeError, match="to: expected to"):
        cr.ones(2).to(cr.float64, False, False, False)


def test_type_names_and_casts_follow_pytorchs_legacy_types():
    x = cr.tensor([1.7, -2.2])
    names = {cr.float32: "FloatTensor", cr.float64: "DoubleTensor", cr.float16: "HalfTensor",
             cr.int64: "LongTensor", cr.int32: "IntTensor", cr.int16: "ShortTensor", cr.int8: "CharTensor",
             cr.uint8: "ByteTensor", cr.bool: "BoolTensor"}  # fmt: skip
    for dtype, name in names.items():
        assert x.to(dtype).type() == f"torch.{name}"
        assert x.type(getattr(cr, name)).dtype == dtype
        assert x.type(f"torch.{name}").dtype == dtype
    assert x.type(cr.int64).tolist() == [1, -2]  # truncated toward zero, as a C cast
    casts = {"float": np.float32, "double": np.float64, "half": np.float16, "long": np.int64, "int": np.int32,
             "short": np.int16, "char": np.int8, "byte": np.uint8, "bool": np.bool_}  # fmt: skip
    for method, dtype in casts.items():
        y = getattr(cr.tensor([0.0, 3.0]), method)()
        assert y.dtype == dtype
        np.testing.assert_array_equal(y.numpy(), np.array([0.0, 3.0]).astype(dtype))
    with pytest.raises(TypeError, match="type_as: expected a Tensor, got float"):
        x.type_as(1.0)


def test_tensor_facts():
    x = cr.zeros(2, 3, 4)
    assert x.dim() == x.ndimension() == 3
    assert x.numel() == x.nelement() == cr.numel(x) == 24
    assert x.size() == (2, 3, 4) and x.size(-1) == 4 and x.size(0) == 2
    assert x.element_size() == 4 and x.double().element_size() == 8 and x.bool().element_size() == 1
    assert x.is_floating_point() and not x.long().is_floating_point()
    assert cr.is_floating_point(x) and not cr.is_floating_point(cr.arange(3))
    assert cr.is_tensor(x) and cr.is_tensor(nn.Parameter(cr.zeros(1))) and not cr.is_tensor(np.zeros(1))
    assert cr.tensor([[1, 2]]).tolist() == [[1, 2]] and cr.tensor([2.5]).item() == 2.5
    assert isinstance(cr.tensor(3).item(), int)
    assert x.numpy(force=True) is x.numpy()
    with pytest.raises(TypeError, match="numel: expected a Tensor, got list"):
        cr.numel([1, 2])


def test_format_gives_a_0d_tensor_its_numbers_format_and_others_their_repr():
    assert "{:.2f}".format(cr.tensor(3.14159)) == "3.14"  # noqa: UP032  (the str.format path scripts use)
    assert f"{cr.tensor(2):>4}" == "   2"
    assert "{}".format(cr.tensor(0.5)) == "0.5"  # noqa: UP032
    assert "{}".format(cr.ones(2)) == repr(cr.ones(2))  # noqa: UP032
    with pytest.raises(TypeError, match="unsupported format string"):
        "{:.2f}".format(cr.tensor([3.14159]))  # noqa: UP032  (PyTorch formats only 0-d tensors as numbers)


def test_contiguous_returns_self_or_a_row_major_copy_in_the_graph():
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert x.contiguous() is x and x.is_contiguous()
    t = x.T
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.numpy().flags.c_contiguous
    np.testing.assert_array_equal(c.numpy(), x.numpy().T)
    (c * cr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]])


# -- dtypes, legacy types and the Tensor constructor --------------------------------------------
def test_pytorchs_dtype_names():
    assert cr.float is cr.float32 and cr.double is cr.float64 and cr.half is cr.float16
    assert cr.long is cr.int64 and cr.int is cr.int32 and cr.short is cr.int16
    assert (cr.int8, cr.int16, cr.bool) == (np.int8, np.int16, np.bool_)
    assert cr.ones(2, dtype=cr.long).dtype == np.int64
    assert not hasattr(cr, "bfloat16")  # NumPy has no bfloat16


def test_legacy_constructors_make_tensors_of_their_dtype():
    assert cr.LongTensor([1, 2]).dtype == np.int64 and cr.LongTensor([1, 2]).tolist() == [1, 2]
    assert cr.LongTensor([1.7, -2.5]).tolist() == [1, -2]
    assert cr.DoubleTensor([0.1]).item() == 0.1  # read as float64, not through float32
    f = cr.FloatTensor(2, 3)
    assert f.dtype == np.float32 and f.shape == (2, 3) and not f.numpy().any()
    assert cr.BoolTensor([1, 0]).tolist() == [True, False]
    assert cr.ByteTensor(np.array([3, 4])).dtype == np.uint8
    assert cr.IntTensor().shape == (0,)
    assert cr.FloatTensor([1.0], device="cpu").device == cr.device("cpu")
    with pytest.raises(RuntimeError, match="FloatTensor: " + CUDA_ERROR):
        cr.FloatTensor([1.0], device="cuda")


def test_isinstance_with_a_legacy_type_checks_the_dtype():
    assert isinstance(cr.ones(2), cr.FloatTensor) and not isinstance(cr.ones(2), cr.DoubleTensor)
    assert isinstance(cr.arange(3), cr.LongTensor) and isinstance(nn.Parameter(cr.zeros(1)), cr.FloatTensor)
    assert not isinstance(np.zeros(2, np.float32), cr.FloatTensor)


def test_the_tensor_constructor_takes_sizes_or_data_as_pytorchs():
    a = cr.Tensor(2, 3)
    assert a.shape == (2, 3) and a.dtype == np.float32 and not a.numpy().any()
    assert cr.Tensor(np.int64(4)).shape == (4,) and cr.Tensor().shape == (0,)
    b = cr.Tensor([1, 2])
    assert b.dtype == np.float32 and b.tolist() == [1.0, 2.0]
    assert cr.Tensor(np.array([1, 2])).dtype == np.float32
    assert cr.Tensor(np.array([0.5])).dtype == np.float32
    assert cr.Tensor([[True, False]]).tolist() == [[1.0, 0.0]]
    shared = np.ones(2, dtype=np.float32)
    assert np.shares_memory(cr.Tensor(shared).numpy(), shared)  # as torch.Tensor(ndarray)
    ints = cr.tensor([1, 2])
    assert cr.Tensor(ints).dtype == np.int64 and cr.Tensor(ints).numpy() is ints.numpy()
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.Tensor([1, 2]).dtype == np.float64 and cr.Tensor(2).dtype == np.float64
    finally:
        cr.set_default_dtype(cr.float32)
    # the library's own form keeps working
    c = cr.Tensor(np.zeros(2), requires_grad=True, dtype=np.float64)
    assert c.dtype == np.float64 and c.requires_grad


@pytest.mark.parametrize("args, error, message", [
    ((2.5,), TypeError, r"Tensor: data must be a sequence \(got float\)"),
    ((2, -1), ValueError, r"Tensor: sizes must be non-negative, got \(2, -1\)"),
    (([1], [2]), TypeError, "Tensor: expected sizes .ints. or one sequence of data, got 2 arguments"),
])  # fmt: skip
def test_bad_tensor_constructor_arguments(args, error, message):
    with pytest.raises(error, match=message):
        cr.Tensor(*args)


# -- device= on every creation function ---------------------------------------------------------
CREATORS = {
    "tensor": lambda **k: cr.tensor([1.0], **k),
    "as_tensor": lambda **k: cr.as_tensor([1.0], **k),
    "zeros": lambda **k: cr.zeros(2, **k),
    "ones": lambda **k: cr.ones((2, 3), **k),
    "empty": lambda **k: cr.empty([2], **k),
    "full": lambda **k: cr.full((2,), 1.5, **k),
    "arange": lambda **k: cr.arange(3, **k),
    "linspace": lambda **k: cr.linspace(0, 1, 3, **k),
    "eye": lambda **k: cr.eye(2, **k),
    "rand": lambda **k: cr.rand(2, **k),
    "randn": lambda **k: cr.randn(2, **k),
    "randint": lambda **k: cr.randint(5, (2,), **k),
    "randperm": lambda **k: cr.randperm(4, **k),
    "normal": lambda **k: cr.normal(0.0, 1.0, size=(2,), **k),
    "zeros_like": lambda **k: cr.zeros_like(cr.ones(2), **k),
    "ones_like": lambda **k: cr.ones_like(cr.ones(2), **k),
    "empty_like": lambda **k: cr.empty_like(cr.ones(2), **k),
    "full_like": lambda **k: cr.full_like(cr.ones(2), 3.0, **k),
    "rand_like": lambda **k: cr.rand_like(cr.ones(2), **k),
    "randn_like": lambda **k: cr.randn_like(cr.ones(2), **k),
    "randint_like": lambda **k: cr.randint_like(cr.ones(2), 5, **k),
}


@pytest.mark.parametrize("name", sorted(CREATORS))
def test_every_creation_function_takes_the_cpu_and_refuses_cuda_naming_itself(name):
    make = CREATORS[name]
    assert make(device="cpu").device == cr.device("cpu")
    assert make(device=cr.device("cpu")).shape == make(device=None).shape
    with pytest.raises(RuntimeError, match=f"{name}: {CUDA_ERROR}"):
        make(device="cuda")
    with pytest.raises(RuntimeError, match=f"{name}: device 'cuda:0' is not available"):
        make(device=cr.device("cuda", 0))


def test_creation_functions_take_dtype_requires_grad_layout_and_pin_memory():
    assert cr.zeros((2, 3), dtype=cr.float64, requires_grad=True, layout="strided", pin_memory=False).requires_grad
    assert cr.zeros([2, 3]).shape == (2, 3) and cr.ones((2,)).shape == (2,)
    assert cr.randn(3, dtype=cr.half).dtype == np.float16
    assert cr.rand(3, dtype=cr.float16).dtype == np.float16
    assert cr.arange(3, dtype=cr.float64, requires_grad=True).requires_grad
    assert cr.randperm(3, dtype=cr.int32).dtype == np.int32
    assert cr.zeros_like(cr.ones(2), dtype=cr.int64).dtype == np.int64
    with pytest.raises(ValueError, match="zeros: layout must be strided"):
        cr.zeros(2, layout="sparse_coo")


def test_as_tensor_shares_memory_when_it_can():
    t = cr.ones(2)
    assert cr.as_tensor(t) is t and cr.as_tensor(t, dtype=cr.float32) is t
    assert cr.as_tensor(t, dtype=cr.float64).dtype == np.float64
    a = np.arange(3.0)
    assert cr.as_tensor(a).numpy() is a or np.shares_memory(cr.as_tensor(a).numpy(), a)
    assert cr.as_tensor([1, 2]).dtype == np.int64


# -- random creation ----------------------------------------------------------------------------
def _twice(draw):
    cr.manual_seed(123)
    first = draw().numpy().copy()
    cr.manual_seed(123)
    return first, draw().numpy()


@pytest.mark.parametrize("draw", [
    lambda: cr.randperm(10), lambda: cr.normal(1.0, 2.0, size=(5,)), lambda: cr.normal(cr.zeros(4), 1.0),
    lambda: cr.bernoulli(cr.full((6,), 0.5)), lambda: cr.multinomial(cr.tensor([1.0, 2.0, 3.0]), 2),
    lambda: cr.multinomial(cr.tensor([1.0, 2.0]), 5, replacement=True), lambda: cr.randint_like(cr.zeros(4), 3, 9),
])  # fmt: skip
def test_random_creation_repeats_under_the_same_seed(draw):
    first, second = _twice(draw)
    np.testing.assert_array_equal(first, second)


def test_randperm_is_a_permutation():
    cr.manual_seed(0)
    p = cr.randperm(50)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(50)) and p.tolist() != list(range(50))
    assert cr.randperm(0).shape == (0,)


def test_randint_takes_high_and_size_or_low_high_and_size():
    cr.manual_seed(0)
    a, b = cr.randint(3, (1000,)), cr.randint(5, 8, (2, 500))
    assert a.dtype == b.dtype == np.int64 and b.shape == (2, 500)
    assert set(a.tolist()) == {0, 1, 2} and set(b.numpy().ravel().tolist()) == {5, 6, 7}
    r = cr.randint_like(cr.zeros(1000, dtype=cr.float64), 2, 4)
    assert r.dtype == np.float64 and set(r.tolist()) == {2.0, 3.0}


def test_normal_forms_give_the_asked_mean_and_spread():
    cr.manual_seed(0)
    n = 20000
    draws = cr.normal(2.0, 3.0, size=(n,)).numpy()
    assert draws.dtype == np.float32
    # mean within 5 standard errors, std within 5% of 3
    assert abs(draws.mean() - 2.0) < 5 * 3.0 / np.sqrt(n) and abs(draws.std() - 3.0) < 0.15
    mean = cr.tensor([-100.0, 0.0, 100.0], dtype=cr.float64)
    std = cr.tensor([0.0, 1e-6, 2e-6], dtype=cr.float64)
    for out in (cr.normal(mean, std), cr.normal(mean, 1e-6), cr.normal(mean.numpy().tolist()[2], std)):
        assert out.dtype == np.float64
    np.testing.assert_array_equal(cr.normal(mean, std).numpy()[0], -100.0)  # std 0: exactly the mean
    np.testing.assert_allclose(cr.normal(mean, std).numpy(), mean.numpy(), atol=1e-4)
    np.testing.assert_allclose(cr.normal(5.0, std).numpy(), [5.0, 5.0, 5.0], atol=1e-4)
    assert cr.normal(cr.zeros(2, 1), cr.ones(3)).shape == (2, 3)


@pytest.mark.parametrize("call, error, message", [
    (lambda: cr.normal(0.0, -1.0, size=(2,)), ValueError, "normal: std must be >= 0, got -1"),
    (lambda: cr.normal(cr.zeros(2), cr.tensor([1.0, -0.5])), ValueError, "normal: std must be >= 0, got -0.5"),
    (lambda: cr.normal(0.0, 1.0), TypeError, "normal: with numbers for mean and std, give the size"),
    (lambda: cr.normal(cr.zeros(2), 1.0, size=(2,)), TypeError, "normal: size is given by the shape"),
    (lambda: cr.normal(cr.arange(2), 1.0), TypeError, "normal: mean and std tensors must be floating"),
    (lambda: cr.bernoulli(cr.tensor([0.5, 1.5])), ValueError, r"bernoulli: expected every probability in \[0, 1\]"),
    (lambda: cr.bernoulli(cr.ones(2), 2.0), ValueError, "bernoulli: p must be a finite number >= 0 and <= 1"),
    (lambda: cr.bernoulli(cr.tensor([1, 0])), TypeError, "bernoulli: input must hold floating probabilities"),
    (lambda: cr.multinomial(cr.tensor([1.0, 2.0]), 3), ValueError,
     "multinomial: cannot draw 3 samples without replacement from 2 categories"),
    (lambda: cr.multinomial(cr.tensor([1.0, -2.0]), 1), ValueError, "multinomial: weights must be finite and non-neg"),
    (lambda: cr.multinomial(cr.zeros(3), 1), ValueError, "multinomial: every row of weights must have a positive sum"),
    (lambda: cr.multinomial(cr.ones(2, 2, 2), 1), ValueError, "multinomial: input must be 1-D or 2-D"),
    (lambda: cr.multinomial(cr.ones(2), 0), ValueError, "multinomial: num_samples must be an integer >= 1"),
    (lambda: cr.randperm(-1), ValueError, "randperm: n must be an integer >= 0"),
])  # fmt: skip
def test_bad_random_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_bernoulli_draws_ones_with_the_given_probability():
    cr.manual_seed(0)
    p = cr.tensor([0.0, 1.0, 0.3], dtype=cr.float64)
    draws = np.stack([cr.bernoulli(p).numpy() for _ in range(4000)])
    assert draws.dtype == np.float64 and set(np.unique(draws)) <= {0.0, 1.0}
    assert not draws[:, 0].any() and draws[:, 1].all()
    assert abs(draws[:, 2].mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / 4000)
    fixed = cr.bernoulli(cr.zeros(2000), 0.25).numpy()
    assert fixed.dtype == np.float32 and abs(fixed.mean() - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 2000)


def test_multinomial_draws_categories_by_weight():
    cr.manual_seed(0)
    weights = cr.tensor([[1.0, 0.0, 3.0], [0.0, 2.0, 2.0]])
    n = 20000
    with_replacement = cr.multinomial(weights, n, replacement=True).numpy()
    assert with_replacement.dtype == np.int64 and with_replacement.shape == (2, n)
    for row, expected in zip(with_replacement, ([0.25, 0.0, 0.75], [0.0, 0.5, 0.5])):
        np.testing.assert_allclose(np.bincount(row, minlength=3) / n, expected, atol=0.02)
    # without replacement: distinct categories, the first one drawn with probability w / sum(w)
    w = np.array([1.0, 2.0, 3.0, 4.0])
    firsts = []
    for _ in range(4000):
        draw = cr.multinomial(cr.tensor(w), 3).tolist()
        assert len(set(draw)) == 3
        firsts.append(draw[0])
    np.testing.assert_allclose(np.bincount(firsts, minlength=4) / 4000, w / w.sum(), atol=0.03)
    # a zero-weight category is drawn only after every positive one
    assert cr.multinomial(cr.tensor([0.0, 5.0, 1.0]), 2).tolist() in ([1, 2], [2, 1])


def test_seed_and_initial_seed():
    cr.manual_seed(42)
    assert cr.initial_seed() == 42
    s = cr.seed()
    assert isinstance(s, int) and 0 <= s < 2**63 and cr.initial_seed() == s
    a = cr.randn(3).numpy().copy()
    cr.manual_seed(s)
    np.testing.assert_array_equal(cr.randn(3).numpy(), a)


# -- layers and modules -------------------------------------------------------------------------
LAYERS = {
    "Linear": lambda **k: nn.Linear(3, 2, **k),
    "Conv1d": lambda **k: nn.Conv1d(2, 3, 3, **k),
    "Conv2d": lambda **k: nn.Conv2d(2, 3, 3, **k),
    "ConvTranspose2d": lambda **k: nn.ConvTranspose2d(2, 3, 2, **k),
    "BatchNorm1d": lambda **k: nn.BatchNorm1d(3, **k),
    "BatchNorm2d": lambda **k: nn.BatchNorm2d(3, **k),
    "LayerNorm": lambda **k: nn.LayerNorm(3, **k),
    "Embedding": lambda **k: nn.Embedding(5, 3, **k),
    "RNN": lambda **k: nn.RNN(3, 4, **k),
    "LSTM": lambda **k: nn.LSTM(3, 4, **k),
    "GRU": lambda **k: nn.GRU(3, 4, **k),
    "RNNCell": lambda **k: nn.RNNCell(3, 4, **k),
    "LSTMCell": lambda **k: nn.LSTMCell(3, 4, **k),
    "GRUCell": lambda **k: nn.GRUCell(3, 4, **k),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layers_take_device_and_dtype(name):
    make = LAYERS[name]
    layer = make(device="cpu", dtype=cr.float64)
    assert {p.dtype for p in layer.parameters()} == {np.dtype(np.float64)}
    assert make(device=cr.device("cpu")).num_parameters() == layer.num_parameters()
    with pytest.raises(RuntimeError, match=f"{name}: {CUDA_ERROR}"):
        make(device="cuda")


def test_layers_take_device_and_dtype_positionally_in_pytorchs_order():
    assert nn.Linear(2, 3, True, "cpu", cr.float64).weight.dtype == np.float64
    assert nn.BatchNorm1d(3, 1e-5, 0.1, True, True, "cpu", cr.float64).running_mean.dtype == np.float64
    assert nn.LayerNorm(3, 1e-5, True, True, "cpu", cr.float64).weight.dtype == np.float64


def _net():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


@pytest.mark.parametrize("call", [
    lambda m: m.to("cpu"), lambda m: m.to(cr.device("cpu")), lambda m: m.to(non_blocking=True), lambda m: m.cpu(),
    lambda m: m.to(cr.float32), lambda m: m.to("cpu", cr.float32), lambda m: m.to(cr.zeros(1)),
])  # fmt: skip
def test_module_to_the_cpu_changes_nothing_and_returns_the_module(call):
    net = _net()
    before = [p.numpy() for p in net.parameters()]
    assert call(net) is net
    assert all(p.numpy() is a for p, a in zip(net.parameters(), before))


@pytest.mark.parametrize("call, dtype", [
    (lambda m: m.to(cr.float64), np.float64), (lambda m: m.to("cpu", cr.double), np.float64),
    (lambda m: m.to(dtype=cr.float64, device="cpu"), np.float64),
    (lambda m: m.to(cr.zeros(1, dtype=cr.float64)), np.float64),
    (lambda m: m.double(), np.float64), (lambda m: m.half(), np.float16), (lambda m: m.double().float(), np.float32),
])  # fmt: skip
def test_module_casts_convert_parameters_and_floating_buffers_in_place(call, dtype):
    net = _net()
    params = list(net.parameters())
    values = [p.numpy().copy() for p in params]
    assert call(net) is net
    assert all(a is b for a, b in zip(net.parameters(), params))  # the same objects
    for p, v in zip(params, values):
        assert p.dtype == dtype
        np.testing.assert_array_equal(p.numpy(), v.astype(dtype))
    bn = net[1]
    assert bn.running_mean.dtype == bn.running_var.dtype == dtype
    assert bn.num_batches_tracked.dtype == np.int64  # an integer buffer keeps its dtype


@pytest.mark.parametrize("dst_type", [cr.float64, cr.DoubleTensor, "torch.DoubleTensor"])
def test_module_type_casts_integer_buffers_too_as_pytorch(dst_type):
    bn = nn.BatchNorm1d(2)
    weight = bn.weight
    assert bn.type(dst_type) is bn and bn.weight is weight
    assert bn.num_batches_tracked.dtype == bn.weight.dtype == bn.running_var.dtype == np.float64


def test_an_optimizer_built_before_a_cast_keeps_training_the_model():
    net = _net()
    opt = cr.optim.SGD(net.parameters(), lr=0.1)
    net.to(cr.float64)
    x, y = cr.randn(8, 3, dtype=cr.float64), cr.randn(8, 2, dtype=cr.float64)
    before = net[0].weight.numpy().copy()
    loss = ((net(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    assert net[0].weight.dtype == np.float64
    np.testing.assert_allclose(net[0].weight.numpy(), before - 0.1 * net[0].weight.grad.numpy())


def test_module_refuses_cuda_and_integer_dtypes():
    net = _net()
    for call in (lambda: net.to("cuda"), lambda: net.cuda(), lambda: net.to("cuda:0", cr.float64)):
        with pytest.raises(RuntimeError, match=CUDA_ERROR):
            call()
    with pytest.raises(TypeError, match=r"nn\.Module\.to only accepts floating point dtypes, but got .*=int64"):
        net.to(cr.int64)
    assert net[0].weight.dtype == np.float32  # nothing changed


# -- a script's device boilerplate --------------------------------------------------------------
def test_the_usual_device_boilerplate_runs():
    torch = cr
    use_cuda = torch.cuda.is_available()
    use_mps = torch.backends.mps.is_available()
    if use_cuda:
        device = torch.device("cuda")
    elif use_mps:
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    accelerated = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else torch.device("cpu")
    assert device == accelerated == torch.device("cpu")
    torch.manual_seed(1)
    torch.cuda.manual_seed_all(1)
    torch.backends.cudnn.benchmark = False
    model = nn.Linear(4, 2).to(device)
    kwargs = {"num_workers": 1, "pin_memory": True} if use_cuda else {}
    assert kwargs == {}
    x = torch.randn(5, 4).to(device)
    target = torch.tensor([0, 1, 1, 0, 1], device=device)
    output = model(x.to(device, torch.float))
    loss = nn.functional.cross_entropy(output, target.to(device))
    loss.backward()
    assert model.weight.grad.device == device and loss.item() > 0
    assert re.fullmatch(r"loss \d+\.\d{4}", "loss {:.4f}".format(loss.detach().cpu()))  # noqa: UP032
    assert loss.cpu().numpy().shape == ()
