"""dtype promotion follows PyTorch's rules (the expected dtypes below are PyTorch 2.13's): tensors
with dims decide, a 0-d tensor or a number only when it belongs to a higher category (bool <
integer < floating), numbers of either library count as numbers, true division and integer **
float give the default floating dtype; matrix products and layers refuse mixed dtypes."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.ops.operands import result_type


def t(dtype, zero_d=False):
    return cr.tensor(np.ones(() if zero_d else (2,), dtype=dtype))


f16, f32, f64 = np.float16, np.float32, np.float64
i32, i64, u8, b = np.int32, np.int64, np.uint8, np.bool_

# (description, thunk, PyTorch's result dtype)
CASES = [
    ("float32 * np.float64 scalar", lambda: t(f32) * np.float64(2), f32),
    ("np.float64 scalar - float32", lambda: np.float64(2) - t(f32), f32),
    ("float32 * np.float32 scalar", lambda: t(f32) * np.float32(2), f32),
    ("float32 ** np.float64 scalar", lambda: t(f32) ** np.float64(2), f32),
    ("float32 * Python float", lambda: t(f32) * 2.5, f32),
    ("float32 * bool", lambda: t(f32) * True, f32),
    ("float16 * Python float", lambda: t(f16) * 2.5, f16),
    ("float32 * 0-d float64 tensor", lambda: t(f32) * t(f64, True), f32),
    ("float32 + float64", lambda: t(f32) + t(f64), f64),
    ("0-d float64 + 0-d float32", lambda: t(f64, True) + t(f32, True), f64),
    ("int64 * np.float32 scalar", lambda: t(i64) * np.float32(2), f32),
    ("int64 * np.float64 scalar", lambda: t(i64) * np.float64(2), f32),
    ("int64 * np.int32 scalar", lambda: t(i64) * np.int32(2), i64),
    ("int32 * np.int64 scalar", lambda: t(i32) * np.int64(2), i32),
    ("uint8 * np.int64 scalar", lambda: t(u8) * np.int64(2), u8),
    ("uint8 * 3", lambda: t(u8) * 3, u8),
    ("int32 * 0-d float64 tensor", lambda: t(i32) * t(f64, True), f64),
    ("int32 * 0-d int64 tensor", lambda: t(i32) * t(i64, True), i32),
    ("int64 + float32", lambda: t(i64) + t(f32), f32),
    ("0-d float32 + int64", lambda: t(f32, True) + t(i64), f32),
    ("0-d float64 + int64", lambda: t(f64, True) + t(i64), f64),
    ("0-d int64 + 2.5", lambda: t(i64, True) + 2.5, f32),
    ("int64 * 0-d float16 tensor", lambda: t(i64) * t(f16, True), f16),
    ("float16 * int64", lambda: t(f16) * t(i64), f16),
    ("int64 ** 2.5", lambda: t(i64) ** 2.5, f32),
    ("int64 ** 2", lambda: t(i64) ** 2, i64),
    ("2 ** int64", lambda: 2 ** t(i64), i64),
    ("2.5 ** int64", lambda: 2.5 ** t(i64), f32),
    ("int64 ** int64", lambda: t(i64) ** t(i64), i64),
    ("int64 / 2", lambda: t(i64) / 2, f32),
    ("int64 / int64", lambda: t(i64) / t(i64), f32),
    ("uint8 / 0-d int64", lambda: t(u8) / t(i64, True), f32),
    ("bool + bool", lambda: t(b) + t(b), b),
    ("bool * 2", lambda: t(b) * 2, i64),
    ("bool * 2.5", lambda: t(b) * 2.5, f32),
    ("bool + True", lambda: t(b) + True, b),
    ("bool + uint8", lambda: t(b) + t(u8), u8),
    ("uint8 + int32", lambda: t(u8) + t(i32), i32),
    ("int64 < 2.5", lambda: t(i64) < 2.5, b),
    ("where(float32, float64)", lambda: cr.where(t(b), t(f32), t(f64)), f64),
    ("where(float32, 2.0)", lambda: cr.where(t(b), t(f32), 2.0), f32),
    ("where(int64, 2.5)", lambda: cr.where(t(b), t(i64), 2.5), f32),
    ("maximum(int64, float32)", lambda: cr.maximum(t(i64), t(f32)), f32),
    ("minimum(float32, np.float64 scalar)", lambda: cr.minimum(t(f32), np.float64(0.5)), f32),
    ("float32 + list of floats", lambda: cr.add(t(f32), [1.5, 2.5]), f32),
    ("int64 + list of floats", lambda: cr.add(t(i64), [1.5, 2.5]), f32),
    ("float64 + list of floats", lambda: cr.add(t(f64), [1.5, 2.5]), f64),
    ("float32 + float64 array", lambda: t(f32) + np.ones(2), f64),
    ("sqrt(int64)", lambda: t(i64).sqrt(), f32),
    ("exp(bool)", lambda: cr.exp(t(b)), f32),
    ("sigmoid(int32)", lambda: t(i32).sigmoid(), f32),
    ("log(uint8)", lambda: cr.log(t(u8)), f32),
    ("cat(int64, float32)", lambda: cr.cat([t(i64), t(f32)]), f32),
    ("stack(0-d float64, 0-d float32)", lambda: cr.stack([t(f64, True), t(f32, True)]), f64),
]


@pytest.mark.parametrize("make, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_result_dtype_is_pytorchs(make, expected):
    assert make().dtype == np.dtype(expected)


def test_promoted_values_are_computed_in_the_result_dtype():
    # float32 * 0-d float64: the 0-d operand is rounded to float32 first, as PyTorch does
    x = cr.tensor(np.array([1 / 3], np.float32))
    third = cr.tensor(np.float64(1 / 3))
    assert (x * third)._data[0] == np.float32(1 / 3) * np.float32(1 / 3)
    # int64 / int64 divides in float32
    assert (cr.tensor([7]) / cr.tensor([3]))._data[0] == np.float32(7) / np.float32(3)


def test_a_float32_parameter_times_a_float64_zero_d_tensor_keeps_its_gradient():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    s = cr.tensor(np.float64(3.0), requires_grad=True)
    out = (w * s).sum()
    assert out.dtype == np.float32
    out.backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])
    assert s.grad.dtype == np.float64 and s.grad == 3.0


def test_the_default_dtype_decides_what_numbers_become():
    cr.set_default_dtype("float64")
    try:
        assert (t(i64) * 2.5).dtype == np.float64
        assert (t(i64) / 2).dtype == np.float64
        assert (t(f32) * 2.5).dtype == np.float32
    finally:
        cr.set_default_dtype("float32")


def test_result_type_is_one_function_for_any_number_of_operands():
    assert result_type(t(i32), t(f64, True), 2) == np.float64
    assert result_type(t(b), 1, 2.5) == np.float32
    assert result_type(np.zeros(2, np.int32), 2) == np.int32


@pytest.mark.parametrize("x_dtype", [i64, f64, i32])
def test_a_float32_linear_refuses_other_dtypes_as_pytorch_does(x_dtype):
    layer = nn.Linear(2, 3)
    x = cr.tensor(np.ones((4, 2), x_dtype))
    with pytest.raises(RuntimeError, match=f"linear: expected operands of one dtype, but got {np.dtype(x_dtype)}"):
        layer(x)
    with pytest.raises(RuntimeError, match="one dtype"):
        F.linear(x, layer.weight, layer.bias)


def test_matmul_and_conv_refuse_mixed_dtypes_and_arrays_take_the_tensors_dtype():
    with pytest.raises(RuntimeError, match="matmul: expected operands of one dtype, but got float64 and float32"):
        cr.ones(2, 2, dtype="float64") @ cr.ones(2, 2)
    with pytest.raises(RuntimeError, match="one dtype"):
        cr.ones(2, 2, dtype="int64") @ cr.ones(2, 2)
    assert (cr.ones(2, 2) @ np.ones((2, 2))).dtype == np.float32
    assert (np.ones((2, 2)) @ cr.ones(2, 2)).dtype == np.float32
    conv = nn.Conv1d(1, 1, 2)
    with pytest.raises(RuntimeError, match="conv1d: expected operands of one dtype"):
        conv(cr.ones(1, 1, 4, dtype="float64"))


@pytest.mark.parametrize("layer", [nn.BatchNorm1d(3), nn.BatchNorm1d(3).eval(), nn.LayerNorm(3)], ids=str)
def test_normalisation_layers_refuse_another_dtype_as_pytorch_does(layer):
    with pytest.raises(RuntimeError, match="expected operands of one dtype, but got float64 and float32"):
        layer(cr.ones(2, 3, dtype="float64"))
    assert layer.double()(cr.ones(2, 3, dtype="float64")).dtype == np.float64
