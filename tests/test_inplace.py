"""In-place ops: values under no_grad, gradients in a graph against their out-of-place equivalents
(also through views and after detach), version counters refusing a modified saved tensor, and
``Tensor.data`` as an untracked alias."""

import numpy as np
import pytest

import chainrule as cr


def _leaf(values):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def _grad_of(make, values):
    """d sum(make(x) * weights) / dx, for a fixed weighting that tells the elements apart."""
    x = _leaf(values)
    out = make(x)
    weights = cr.tensor(np.arange(1.0, out._data.size + 1).reshape(out.shape))
    (out * weights).sum().backward()
    return x.grad._data


@pytest.mark.parametrize("modify, expected", [
    (lambda t: t.add_(2.0), [3.0, 0.0, 5.5]),
    (lambda t: t.add_(cr.tensor([1.0, 1.0, 1.0]), alpha=-2), [-1.0, -4.0, 1.5]),
    (lambda t: t.sub_(0.5), [0.5, -2.5, 3.0]),
    (lambda t: t.sub_(cr.tensor(1.0), alpha=2), [-1.0, -4.0, 1.5]),
    (lambda t: t.mul_(cr.tensor([2.0, 3.0, 4.0])), [2.0, -6.0, 14.0]),
    (lambda t: t.div_(2.0), [0.5, -1.0, 1.75]),
    (lambda t: t.zero_(), [0.0, 0.0, 0.0]),
    (lambda t: t.fill_(7.0), [7.0, 7.0, 7.0]),
    (lambda t: t.fill_(cr.tensor(-1.0)), [-1.0, -1.0, -1.0]),
    (lambda t: t.copy_(cr.tensor([4.0, 5.0, 6.0], dtype=cr.float32)), [4.0, 5.0, 6.0]),
    (lambda t: t.copy_(cr.tensor(9.0)), [9.0, 9.0, 9.0]),
    (lambda t: t.clamp_(-1.0, 2.0), [1.0, -1.0, 2.0]),
    (lambda t: t.clamp_(min=0.0), [1.0, 0.0, 3.5]),
    (lambda t: t.__setitem__(slice(1, None), cr.tensor([8.0, 9.0])), [1.0, 8.0, 9.0]),
    (lambda t: t.__setitem__(0, 5.0), [5.0, -2.0, 3.5]),
    (lambda t: t.__setitem__(cr.tensor([True, False, True]), 0.0), [0.0, -2.0, 0.0]),
])
def test_values_under_no_grad_and_the_version_count(modify, expected):
    x = _leaf([1.0, -2.0, 3.5])
    memory = x._data
    with cr.no_grad():
        returned = modify(x)
    assert returned is None or returned is x
    np.testing.assert_array_equal(x._data, expected)
    assert x._data is memory and x._version_now == 1 and x.grad_fn is None and x.requires_grad


def test_augmented_assignment_modifies_in_place():
    x = cr.tensor([1.0, 2.0])
    memory = x._data
    x += 1.0
    x -= cr.tensor([0.5, 0.5])
    x *= 4.0
    x /= 2.0
    np.testing.assert_array_equal(x._data, [3.0, 5.0])
    assert x._data is memory and x._version_now == 4


def test_in_place_arithmetic_keeps_the_tensor_dtype_as_pytorch():
    counts = cr.tensor([1, 2, 3])
    counts += 2
    counts.mul_(cr.tensor([2, 2, 2]))
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts._data, [6, 8, 10])
    with pytest.raises(RuntimeError, match="div_: the result type float32 can't be cast to the tensor's dtype int64"):
        counts.div_(2)
    single = cr.tensor([1.0, 2.0])
    single.add_(cr.tensor([0.5, 0.25], dtype=cr.float64))  # computed in float64, stored in float32
    single -= cr.tensor(1.0)
    assert single.dtype == np.float32
    np.testing.assert_array_equal(single._data, [0.5, 1.25])
    with pytest.raises(RuntimeError, match=r"sub_: the result has shape \(2, 2\)"):
        single.sub_(cr.ones(2, 2))


def test_random_fills_draw_from_the_seeded_generator():
    x = cr.zeros(1000, dtype=cr.float64)
    cr.manual_seed(3)
    x.normal_(2.0, 0.5)
    first = x._data.copy()
    assert abs(first.mean() - 2.0) < 0.1 and abs(first.std() - 0.5) < 0.05
    cr.manual_seed(3)
    x.normal_(2.0, 0.5)
    np.testing.assert_array_equal(x._data, first)
    x.uniform_(-1.0, 3.0)
    assert x._data.min() >= -1.0 and x._data.max() < 3.0 and x._data.std() > 1.0
    assert x._version_now == 3


@pytest.mark.parametrize("in_place, out_of_place", [
    (lambda y, x: y.add_(x * x, alpha=3), lambda y, x: y + 3 * x * x),
    (lambda y, x: y.sub_(x.exp()), lambda y, x: y - x.exp()),
    (lambda y, x: y.mul_(x), lambda y, x: y * x),
    (lambda y, x: y.div_(x * x + 1), lambda y, x: y / (x * x + 1)),
    (lambda y, x: y.clamp_(-1.0, 2.0), lambda y, x: y.clamp(-1.0, 2.0)),
    (lambda y, x: y.copy_(x.sin()), lambda y, x: x.sin() + 0 * y),
    (lambda y, x: y.zero_(), lambda y, x: y * 0),
    (lambda y, x: y.fill_(x[1]), lambda y, x: x[1] * cr.ones(3, dtype=cr.float64) + 0 * y),
    (lambda y, x: y.__setitem__(slice(0, 2), x[1:] * x[1:]), lambda y, x: cr.cat([x[1:] * x[1:], y[2:]])),
    (lambda y, x: y.__iadd__(y), lambda y, x: y + y),
])
def test_gradients_in_a_graph_match_the_out_of_place_op(in_place, out_of_place):
    values = [0.5, -1.5, 2.5]

    def modified(x):
        y = x * x - x  # computed, so it may be modified in place
        in_place(y, x)
        return y * x

    expected = _grad_of(lambda x: out_of_place(x * x - x, x) * x, values)
    np.testing.assert_allclose(_grad_of(modified, values), expected, rtol=1e-12)


def test_an_in_place_op_on_a_view_changes_its_base_gradient_too():
    def through_row(x):
        y = x * 1.0
        row = y[0]
        row.mul_(3.0)
        return y * y

    def through_column_and_transpose(x):
        y = x * 1.0
        y[:, 1:].reshape(2, 1).mul_(x[:, :1])  # a view of a view: both bases take the change
        y.transpose(0, 1).add_(x)
        return y * y

    values = [[1.0, 2.0], [3.0, 4.0]]
    np.testing.assert_allclose(_grad_of(through_row, values), _grad_of(lambda x: cr.cat([x[:1] * 3.0, x[1:]]) ** 2,
                                                                        values))

    def reference(x):
        column = x[:, 1:] * x[:, :1]
        y = cr.cat([x[:, :1], column], dim=1)
        y = y + x.transpose(0, 1)
        return y * y

    np.testing.assert_allclose(_grad_of(through_column_and_transpose, values), _grad_of(reference, values))


def test_a_view_used_after_its_base_changed_is_refused_and_one_used_before_is_right():
    x = _leaf([1.0, 2.0])
    y = x * 1.0
    first = y[0:1]
    before = first + 5.0  # used before the change: its gradient goes to the value it saw
    y.mul_(2.0)
    (before.sum() + y.sum()).backward()
    np.testing.assert_array_equal(x.grad._data, [3.0, 2.0])
    y = x * 1.0
    first = y[0:1]
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"its input of shape \(1,\) is a view .*computed by Index"):
        (first + 5.0).sum().backward()


def test_detach_shares_memory_and_version_but_not_the_graph():
    x = _leaf([1.0, 2.0, 3.0])
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and np.shares_memory(d._data, y._data)
    d.mul_(2.0)
    np.testing.assert_array_equal(y._data, [4.0, 8.0, 12.0])
    y.sum().backward()  # sum saves nothing: y's gradient is unchanged
    np.testing.assert_array_equal(x.grad._data, [2.0, 2.0, 2.0])
    x.grad = None
    y = x * 2.0
    z = y * y  # saves y
    y.detach().zero_()
    with pytest.raises(RuntimeError, match=r"backward of Mul: .*\(shape \(3,\), dtype float64\) was modified"):
        z.sum().backward()


def test_modifying_a_saved_output_names_the_op_and_shape():
    x = _leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x.exp()
    y.add_(1.0)
    with pytest.raises(RuntimeError, match=r"backward of Exp: .*\(shape \(2, 2\), dtype float64\) was modified "
                                           r"by an in-place operation after Exp saved it \(it is now at version 1\)"):
        y.sum().backward()
    s = x.sigmoid()
    with cr.no_grad():
        s.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"backward of Sigmoid: .*shape \(2, 2\)"):
        s.sum().backward()


def test_an_optimizer_step_on_a_parameter_a_retained_graph_saved_is_caught():
    w = _leaf([1.0, 2.0])
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    cr.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match=r"backward of Mul: .*shape \(2,\).*now at version 1"):
        loss.backward()


def test_a_leaf_that_requires_grad_is_refused_in_a_graph_and_fine_under_no_grad():
    w = _leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"add_: a leaf tensor that requires grad \(shape \(3,\)\)"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="mul_: a view of a leaf tensor that requires grad"):
        w[0:2].mul_(2.0)
    with cr.no_grad():
        w.add_(1.0)
    np.testing.assert_array_equal(w._data, [2.0, 3.0, 4.0])
    assert w.requires_grad and w.is_leaf


def test_writing_a_tensor_that_requires_grad_into_a_buffer_records_it():
    x = _leaf([1.0, 2.0])
    buffer = cr.zeros(4, dtype=cr.float64)
    buffer.add_(1.0)  # modified before: it has a version counter of its own
    buffer[1:3] = x * x
    assert buffer.requires_grad and buffer.grad_fn is not None
    np.testing.assert_array_equal(buffer._data, [1.0, 1.0, 4.0, 1.0])
    (buffer * cr.tensor([1.0, 10.0, 100.0, 1000.0], dtype=cr.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [20.0, 400.0])
    base = cr.zeros(4, dtype=cr.float64)
    view = base[1:3]  # the base outside the graph joins it through the view (PyTorch's CopySlices)
    view.copy_(x * x)
    assert base.requires_grad and view.requires_grad
    np.testing.assert_array_equal(base._data, [0.0, 1.0, 4.0, 0.0])
    x.grad = None
    (base * cr.tensor([1.0, 10.0, 100.0, 1000.0], dtype=cr.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [20.0, 400.0])
    other = cr.zeros(4, dtype=cr.float64)
    view, _another = other[1:3], other[:2]  # another view would miss the gradient: refused
    with pytest.raises(RuntimeError, match=r"copy_: the tensor \(shape \(2,\)\) shares its memory with another"):
        view.copy_(x * x)


def test_data_is_an_untracked_alias():
    w = _leaf([1.0, 2.0])
    data = w.data
    assert isinstance(data, cr.Tensor) and not data.requires_grad and data.grad_fn is None
    assert np.shares_memory(data._data, w._data)
    y = w * w
    w.data.mul_(3.0)  # not seen by autograd, as PyTorch's .data: the gradient uses the new values
    y.sum().backward()
    np.testing.assert_array_equal(w.grad._data, [6.0, 12.0])
    w.data = cr.tensor([5.0, 6.0], dtype=cr.float64)
    np.testing.assert_array_equal(w._data, [5.0, 6.0])
    with pytest.raises(TypeError, match="data: expected a Tensor, got ndarray"):
        w.data = np.zeros(2)


@pytest.mark.parametrize("modify, error, message", [
    (lambda t: t.add_(cr.ones(2, 3)), RuntimeError, r"add_: the result has shape \(2, 3\).*tensor's shape \(3,\)"),
    (lambda t: t.long().add_(1.5), RuntimeError, "add_: the result type float32 can't be cast to the tensor's dtype"),
    (lambda t: t.expand(2, 3).mul_(t), RuntimeError, r"mul_: the tensor is an expanded view \(shape \(2, 3\)"),
    (lambda t: t.fill_(cr.ones(2)), RuntimeError, r"fill_: only a 0-d tensor fills, got one of shape \(2,\)"),
])
def test_bad_in_place_ops_are_named(modify, error, message):
    x = _leaf([1.0, 2.0, 3.0]) * 1.0
    with pytest.raises(error, match=message):
        modify(x)


def test_an_op_that_remakes_its_intermediates_sees_its_input_as_it_was():
    """Under create_graph cross-entropy rebuilds its log-probabilities from its input: after a
    recorded in-place change it must use the value it saw, and after an unrecorded one refuse."""
    import chainrule.nn.functional as F

    leaf = cr.tensor([[1.0, 2.0, 0.5]], dtype=cr.float64, requires_grad=True)
    target = cr.tensor([0])
    (expected,) = cr.autograd.grad(F.cross_entropy(leaf * 1, target), leaf, create_graph=True)
    x = leaf * 1
    loss = F.cross_entropy(x, target)
    x.mul_(3)
    (got,) = cr.autograd.grad(loss, leaf, create_graph=True)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)
    x = leaf * 1
    loss = F.cross_entropy(x, target)
    with cr.no_grad():
        x.mul_(3)
    with pytest.raises(RuntimeError, match=r"CrossEntropy: its input of shape \(1, 3\) was modified"):
        cr.autograd.grad(loss, leaf, create_graph=True)


def test_a_released_node_drops_what_its_remake_held():
    import chainrule.nn.functional as F

    x = cr.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(x * 2, cr.tensor([0, 1, 2, 0]))
    node = loss.grad_fn
    assert node.remake is not None
    loss.backward()
    assert node.remake is None and node.arrays is None


def test_augmented_item_assignment_writes_into_the_tensor_and_differentiates():
    """``z[i] op= v`` is Python's z.__setitem__(i, z[i].__iop__(v)): the one-element index is a
    view, so the change reaches z, and the gradient is the out-of-place one's."""
    y = cr.tensor([1.0, 2.0, 3.0])
    first = y[0]
    y[0] *= 3
    assert y.tolist() == [3.0, 2.0, 3.0] and first.item() == 3.0
    x = cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64, requires_grad=True)
    z = x * 1
    z[1] *= 5
    z[0:2] += x[1:]
    (z * z).sum().backward()
    # z = [x0 + x1, 5 x1 + x2, x2]
    x0, x1, x2 = 1.0, 2.0, 3.0
    expected = [2 * (x0 + x1), 2 * (x0 + x1) + 10 * (5 * x1 + x2), 2 * (5 * x1 + x2) + 2 * x2]
    np.testing.assert_allclose(x.grad.numpy(), expected)
