"""More of PyTorch's surface, found by running other scripts of pytorch/examples after the import
swap (issue 17's follow-up; benchmarks/pytorch_examples.py --only more): PyTorch's module paths for
what chainrule cannot do (xpu, onnx, multiprocessing, sparse) answer or refuse clearly, ``alpha`` of
add/sub and the old ``add_(alpha, other)`` order, and the layer reprs that scripts print."""

import numpy as np
import pytest

import chainrule as torch
import chainrule.multiprocessing as mp
import chainrule.nn as nn
import chainrule.onnx
from chainrule.autograd import gradcheck, gradgradcheck

rng = np.random.default_rng(17)


def _t(shape, requires_grad=False):
    return torch.tensor(rng.standard_normal(shape), dtype=torch.float64, requires_grad=requires_grad)


# -- devices and module paths that have no counterpart --------------------------------------------


def test_xpu_is_never_available():
    # mnist_forward_forward: `use_xpu = not args.no_xpu and torch.xpu.is_available()`
    assert torch.xpu.is_available() is False
    assert torch.xpu.device_count() == 0
    torch.xpu.manual_seed(3)  # accepted, as cuda.manual_seed


def test_onnx_imports_and_export_says_what_to_do():
    # word_language_model: `import torch.onnx` at the top, export only when asked
    assert chainrule.onnx.is_in_onnx_export() is False
    with pytest.raises(NotImplementedError, match=r"onnx.export: .*state_dict"):
        chainrule.onnx.export(nn.Linear(2, 1), (torch.zeros(1, 2),), "model.onnx")


def test_multiprocessing_refuses_hogwild_with_the_reason():
    # mnist_hogwild: mp.set_start_method('spawn', force=True); model.share_memory(); mp.Process(...)
    for name in ("set_start_method", "Process", "spawn", "Queue"):
        with pytest.raises(RuntimeError, match=rf"multiprocessing\.{name}: .*Hogwild.*one process"):
            getattr(mp, name)
    assert not hasattr(mp, "__wrapped__") and not hasattr(mp, "pytest_plugins")  # probes: AttributeError
    mp.set_sharing_strategy("file_system")  # DataLoader settings are accepted
    assert mp.get_sharing_strategy() == "file_system"
    assert mp.get_all_sharing_strategies() == {"file_descriptor", "file_system"}
    with pytest.raises(ValueError, match=r"set_sharing_strategy: got 'shm'"):
        mp.set_sharing_strategy("shm")
    mp.set_sharing_strategy("file_descriptor")


def test_sparse_tensors_are_refused_clearly():
    # gcn/gat build their adjacency matrix with sparse_coo_tensor and to_sparse
    with pytest.raises(NotImplementedError, match=r"sparse_coo_tensor: chainrule has no sparse tensors"):
        torch.sparse_coo_tensor([[0, 1], [1, 0]], torch.ones(2), (2, 2))
    with pytest.raises(NotImplementedError, match=r"to_sparse: chainrule has no sparse tensors"):
        torch.eye(3).to_sparse()
    with pytest.raises(NotImplementedError, match=r"sparse\.mm: "):
        torch.sparse.mm(torch.eye(2), torch.eye(2))
    x = torch.eye(2)
    assert x.is_sparse is False
    assert x.to_dense() is x
    assert x.to_dense(torch.float64).dtype == torch.float64


def test_spmm_of_dense_matrices_is_mm():
    a, b = _t((3, 4), True), _t((4, 2), True)
    np.testing.assert_allclose(torch.spmm(a, b).detach().numpy(), a.detach().numpy() @ b.detach().numpy())
    torch.spmm(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.ones((3, 2)) @ b.detach().numpy().T)


# -- add/sub alpha and the old add_(alpha, other) order ------------------------------------------


@pytest.mark.parametrize("op, sign", [(torch.add, 1.0), (torch.sub, -1.0)])
def test_add_sub_alpha_values_and_gradients(op, sign):
    a, b = _t((3, 1), True), _t((4,), True)  # broadcasting
    out = op(a, b, alpha=2.5)
    expected = a.detach().numpy() + sign * 2.5 * b.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), expected)
    out.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, sign * 2.5 * 3))  # 3 rows broadcast
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), 4.0))
    # the method form, and first and second derivatives against finite differences
    np.testing.assert_allclose(
        getattr(a, op.__name__)(b, alpha=-1).detach().numpy(), a.detach().numpy() - sign * b.detach().numpy()
    )
    assert gradcheck(lambda x, y: op(x * x, y, alpha=0.5), (a, b))
    assert gradgradcheck(lambda x, y: op(x * x, y * y, alpha=-3), (a, b))


def test_add_alpha_one_is_plain_add():
    a, b = _t((2, 2)), _t((2, 2))
    np.testing.assert_array_equal(torch.add(a, b, alpha=1).numpy(), (a + b).numpy())


def test_old_add_order_updates_like_the_new_one():
    # word_language_model's manual SGD step: p.data.add_(-lr, p.grad.data)
    lr = 0.25
    w, g = rng.standard_normal(5), rng.standard_normal(5)
    p = torch.tensor(w)
    assert p.add_(-lr, torch.tensor(g)) is p
    np.testing.assert_allclose(p.numpy(), w - lr * g)
    q = torch.tensor(w)
    q.sub_(lr, torch.tensor(g))
    np.testing.assert_allclose(q.numpy(), w - lr * g)
    r = torch.tensor(w)
    r.add_(torch.tensor(g), alpha=-lr)  # the current form gives the same
    np.testing.assert_allclose(r.numpy(), w - lr * g)


def test_old_add_order_in_a_training_step():
    # one step of the script's loop on a tiny model: loss, backward, the manual update
    model = nn.Linear(3, 1).double()
    x, y = _t((8, 3)), _t((8, 1))
    before = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    residual = 2 * (x.numpy() @ before["weight"].T + before["bias"] - y.numpy()) / 8
    for p in model.parameters():
        p.data.add_(-0.1, p.grad.data)
    np.testing.assert_allclose(model.weight.detach().numpy(), before["weight"] - 0.1 * residual.T @ x.numpy())
    np.testing.assert_allclose(model.bias.detach().numpy(), before["bias"] - 0.1 * residual.sum(0))


def test_old_add_order_refuses_what_fits_neither_form():
    x = torch.zeros(2)
    with pytest.raises(TypeError, match=r"add_: expected .*old add_\(alpha, other\)"):
        x.add_(torch.ones(2), torch.ones(2))
    with pytest.raises(TypeError, match=r"sub_: expected"):
        x.sub_(1.0, torch.ones(2), alpha=2)
    with pytest.raises(TypeError, match=r"add_: expected"):
        x.add_(1.0, 2.0)


# -- reprs that scripts print (dcgan prints its networks) -----------------------------------------


def test_activation_reprs_show_inplace_as_pytorch_does():
    assert repr(nn.ReLU(True)) == "ReLU(inplace=True)"
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.LeakyReLU(0.2, inplace=True)) == "LeakyReLU(negative_slope=0.2, inplace=True)"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.ELU(inplace=True)) == "ELU(alpha=1.0, inplace=True)"
    assert repr(nn.ELU(0.5)) == "ELU(alpha=0.5)"
    x = _t((4,))
    np.testing.assert_array_equal(nn.ReLU(inplace=True)(x).numpy(), np.maximum(x.numpy(), 0))


# -- in-place writes into buffers (differentiable_physics/mass_spring.py) ---------------------------


def _springs(x):
    """forces = zeros; forces[i] += f; forces[j] -= f; forces[:, 1] -= g, mass_spring's pattern."""
    forces = torch.zeros(2, 3, dtype=torch.float64)
    force = x * x
    forces[0] += force
    forces[1] -= 2 * force
    forces[:, 1] -= 9.81
    return forces


def test_in_place_on_a_view_of_a_buffer_brings_the_buffer_into_the_graph():
    x = _t((3,), True)
    forces = _springs(x)
    assert forces.requires_grad
    xv = x.detach().numpy()
    expected = np.stack([xv**2, -2 * xv**2])
    expected[:, 1] -= 9.81
    np.testing.assert_allclose(forces.detach().numpy(), expected)
    weights = rng.standard_normal((2, 3))
    (forces * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * xv * weights[0] - 4 * xv * weights[1])
    assert gradcheck(_springs, (x,))
    assert gradgradcheck(lambda x: _springs(x) ** 2, (x,))


def test_in_place_on_a_view_of_a_buffer_reaches_later_views_and_writes():
    x = _t((2,), True)
    buffer = torch.zeros(3, 2, dtype=torch.float64)
    row = buffer[1]
    row += x  # the buffer joins the graph through row
    row *= 3.0  # row is now a view in the graph: the buffer follows again
    buffer[2] = row * 2.0 + x * x  # (row * x would save row, which this write changes: refused)
    np.testing.assert_allclose(buffer.detach().numpy()[1], 3 * x.detach().numpy())
    buffer.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 9 + 2 * x.detach().numpy())  # d/dx (3x + 6x + x^2)


def test_in_place_on_a_view_is_refused_while_another_view_shares_the_buffer():
    x = _t((2,), True)
    buffer = torch.zeros(4, dtype=torch.float64)
    view, overlapping = buffer[1:3], buffer[:2]  # overlapping would keep values without gradient
    with pytest.raises(RuntimeError, match=r"add_: the tensor \(shape \(2,\)\) shares its memory with another"):
        view += x
    del overlapping


def test_a_product_with_a_constant_does_not_hold_its_input():
    # mass_spring: positions + velocities * dt, then velocities[0] = ... in place
    x = _t((3,), True)
    velocities = x * 1.0
    positions = velocities * 0.5
    velocities[0] = torch.tensor(0.0, dtype=torch.float64)  # PyTorch's MulBackward keeps only dt
    (positions.sum() + velocities.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 1.5, 1.5])
    w = _t((3,), True) * 1.0
    product = w * x  # each operand is needed for the other's gradient: changing one is refused
    w.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"backward of Mul: one of the tensors it saved"):
        product.sum().backward()


def test_functional_activations_take_inplace():
    # F.relu(x, inplace=True) and F.leaky_relu(x, 0.2, True), as scripts write them
    import chainrule.nn.functional as F

    x = _t((5,), True)
    v = x.detach().numpy()
    np.testing.assert_array_equal(F.relu(x, inplace=True).detach().numpy(), np.maximum(v, 0))
    np.testing.assert_allclose(F.leaky_relu(x, 0.2, True).detach().numpy(), np.where(v > 0, v, 0.2 * v))
    np.testing.assert_allclose(F.leaky_relu(x, negative_slope=0.5).detach().numpy(), np.where(v > 0, v, 0.5 * v))
    np.testing.assert_allclose(F.elu(x, 2.0, True).detach().numpy(), np.where(v > 0, v, 2.0 * np.expm1(v)))
    F.relu(x, inplace=True).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (v > 0).astype(float))
    assert F.relu.__name__ == "relu"


# -- PyTorch's deprecated names that older scripts still call ------------------------------------


@pytest.mark.parametrize(
    "old, args", [("uniform", (-0.5, 0.5)), ("normal", (0.0, 0.1)), ("constant", (0.25,)), ("xavier_uniform", ()),
                  ("xavier_normal", ()), ("kaiming_uniform", ()), ("kaiming_normal", ()), ("orthogonal", ())]
)  # fmt: skip
def test_init_names_without_underscore_warn_and_do_the_same(old, args):
    # siamese_network: torch.nn.init.xavier_uniform(m.weight)
    new = getattr(nn.init, old + "_")
    a, b = torch.empty(4, 6), torch.empty(4, 6)
    torch.manual_seed(5)
    new(a, *args)
    torch.manual_seed(5)
    with pytest.warns(FutureWarning, match=rf"`nn.init.{old}` is now deprecated in favor of `nn.init.{old}_`"):
        assert getattr(nn.init, old)(b, *args) is b
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_clip_grad_norm_without_underscore():
    # word_language_model (older versions): torch.nn.utils.clip_grad_norm(model.parameters(), clip)
    p = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    (p * p).sum().backward()  # gradient (6, 8), norm 10
    with pytest.warns(FutureWarning, match=r"clip_grad_norm_"):
        total = torch.nn.utils.clip_grad_norm([p], 5.0)
    assert float(total) == pytest.approx(10.0)
    np.testing.assert_allclose(p.grad.numpy(), [3.0, 4.0], rtol=1e-5)  # scaled by 5 / (10 + 1e-6)
