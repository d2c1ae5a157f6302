"""nn.Module: registration, traversal, modes, state_dict round trips and errors, repr, hooks."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
        self.heads = nn.ModuleList([nn.Linear(4, 2), nn.Linear(4, 1)])
        self.extra = nn.ModuleDict({"scale": nn.Linear(1, 1, bias=False)})
        self.temperature = nn.Parameter(cr.ones(1))
        self.register_buffer("steps", cr.zeros(1))
        self.register_buffer("cache", cr.zeros(2), persistent=False)

    def forward(self, x):
        h = self.body(x)
        return self.heads[0](h) * self.temperature, self.extra["scale"](self.heads[1](h))


def test_parameters_buffers_and_modules_are_registered_in_order():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "temperature", "body.0.weight", "body.0.bias", "heads.0.weight", "heads.0.bias",
        "heads.1.weight", "heads.1.bias", "extra.scale.weight",
    ]
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache"]
    assert [n for n, _ in net.named_children()] == ["body", "heads", "extra"]
    assert len(list(net.modules())) == 9
    assert net.num_parameters() == 1 + 16 + 10 + 5 + 1


def test_state_dict_keys_follow_pytorch_and_skip_non_persistent_buffers():
    keys = list(Net().state_dict())
    assert "steps" in keys and "cache" not in keys
    assert "body.0.weight" in keys and "extra.scale.weight" in keys


def test_shared_parameter_is_listed_once():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert len(list(model.parameters())) == 2


def test_reassigning_and_deleting_attributes_keeps_registries_in_sync():
    net = Net()
    net.temperature = None
    assert "temperature" not in dict(net.named_parameters())
    del net.extra
    assert "extra" not in dict(net.named_children())
    with pytest.raises(TypeError, match=r"cannot assign 'int' as child module 'heads' \(nn.Module or None expected\)"):
        net.heads = 5  # as PyTorch: a plain value cannot silently replace a registered module
    with pytest.raises(TypeError, match=r"cannot assign 'Tensor' as parameter 'temperature'"):
        net.temperature = cr.ones(1)  # it would stop being trained
    with pytest.raises(TypeError, match=r"cannot assign 'ndarray' as buffer 'steps'"):
        net.steps = np.zeros(1)
    net.steps = cr.ones(1)  # a tensor replaces the buffer
    assert net.state_dict()["steps"].tolist() == [1.0]
    net.heads = None
    assert "heads" not in dict(net.named_children()) and net.heads is None
    net.body = nn.Parameter(cr.ones(2))  # another kind under the same name moves registries
    assert "body" not in dict(net.named_children()) and "body" in dict(net.named_parameters())


def test_assigning_before_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_train_and_eval_reach_every_submodule():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad():
    net = Net()
    out, other = net(cr.randn(5, 3))
    (out.sum() + other.sum()).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all((p.grad == 0).all() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("zero", [lambda layer: layer.zero_grad(set_to_none=False),
                                  lambda layer: cr.optim.SGD(layer.parameters(), lr=0.1).zero_grad(set_to_none=False)],
                         ids=["module", "optimizer"])
def test_zero_grad_to_zeros_detaches_a_recorded_gradient_and_is_seen_as_an_in_place_change(zero):
    # PyTorch: a gradient with a grad_fn (create_graph=True) is detached, then zeroed in place, so
    # a graph that saved it refuses to backward through the changed values
    layer = nn.Linear(2, 1)
    (layer(cr.ones(3, 2)) ** 2).sum().backward(create_graph=True)
    grad = layer.weight.grad
    assert grad.grad_fn is not None
    penalty = (grad * grad).sum()  # saves the gradient for its backward
    zero(layer)
    assert layer.weight.grad.grad_fn is None and (layer.weight.grad == 0).all()
    assert np.shares_memory(layer.weight.grad._data, grad._data)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        penalty.backward()


def test_state_dict_round_trip_reproduces_outputs():
    cr.manual_seed(0)
    a, b = Net(), Net()
    x = cr.randn(4, 3)
    b.load_state_dict(a.state_dict())
    for got, expected in zip(b(x), a(x)):
        np.testing.assert_array_equal(got._data, expected._data)
    # loaded values are copies, not aliases of the source arrays
    a.body[0].weight._data[...] = 0
    assert not (b.body[0].weight._data == 0).all()


def test_load_state_dict_errors_name_the_keys_and_shapes():
    net = Net()
    state = dict(net.state_dict())
    state.pop("body.0.bias")
    state["surprise"] = np.zeros(1)
    keys = (r"Error\(s\) in loading state_dict for Net:\n\tMissing key\(s\) in state_dict: \"body.0.bias\". \n\t"
            r"Unexpected key\(s\) in state_dict: \"surprise\". ")
    with pytest.raises(RuntimeError, match=keys):
        net.load_state_dict(state)
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["body.0.bias"] and result.unexpected_keys == ["surprise"]
    bad = dict(net.state_dict())
    bad["heads.0.weight"] = np.zeros((3, 4))
    shapes = (r"size mismatch for heads.0.weight: copying a param with shape \(3, 4\) from checkpoint, "
              r"the shape in current model is \(2, 4\)\.")
    with pytest.raises(RuntimeError, match=shapes):
        net.load_state_dict(bad)


def test_a_failed_load_state_dict_changes_nothing():
    net = Net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    good = {k: np.full(v.shape, 7.0) for k, v in net.state_dict().items()}
    last = list(good)[-1]
    for bad_value, error in [(np.zeros((9, 9)), RuntimeError), (np.full(good[last].shape, "x"), TypeError),
                             ([[1.0, 2.0], [3.0]], TypeError), (np.zeros(good[last].shape, complex), TypeError)]:
        with pytest.raises(error, match=last.replace(".", r"\.")):
            net.load_state_dict({**good, last: bad_value})
        for key, value in net.state_dict().items():  # not even the keys before the bad one changed
            np.testing.assert_array_equal(value, before[key])
    with pytest.raises(RuntimeError, match="size mismatch"):  # shapes are checked even when not strict
        net.load_state_dict({**good, last: np.zeros((9, 9))}, strict=False)
    first = next(iter(good))
    np.testing.assert_array_equal(net.state_dict()[first], before[first])


def test_load_state_dict_refuses_text_naming_the_key_and_non_dicts():
    layer = nn.Linear(2, 1)
    with pytest.raises(TypeError, match=r"'weight' holds <U3 values; expected a tensor or array of numbers"):
        layer.load_state_dict({"weight": np.array([["1.0", "2.0"]]), "bias": np.zeros(1)})
    with pytest.raises(TypeError, match=r"'bias' holds object values"):
        layer.load_state_dict({"weight": np.zeros((1, 2)), "bias": np.array([None])})
    with pytest.raises(TypeError, match=r"Expected state_dict to be dict-like, got list"):
        layer.load_state_dict([np.zeros((1, 2)), np.zeros(1)])


def test_load_state_dict_into_a_read_only_parameter_replaces_its_array():
    layer = nn.Linear(2, 1)
    layer.weight._data.setflags(write=False)
    layer.load_state_dict({"weight": np.ones((1, 2)), "bias": np.zeros(1)})
    np.testing.assert_array_equal(layer.weight._data, [[1.0, 1.0]])
    assert layer.weight.dtype == np.float32


def test_load_state_dict_casts_to_the_parameter_dtype():
    layer = nn.Linear(2, 1)
    layer.load_state_dict({"weight": np.array([[1.0, 2.0]]), "bias": cr.tensor([0.5], dtype=cr.float64)})
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight._data, [[1.0, 2.0]])


def test_to_double_keeps_parameter_objects():
    layer = nn.Linear(2, 2)
    weight = layer.weight
    layer.double()
    assert layer.weight is weight and weight.dtype == np.float64
    assert layer(cr.ones(1, 2, dtype=cr.float64)).dtype == np.float64


def test_nested_repr_shows_structure_and_parameter_counts():
    text = repr(Net())
    assert text.startswith("Net(  # 33 parameters")
    assert "(body): Sequential(  # 16 parameters" in text
    assert "(0): Linear(in_features=3, out_features=4, bias=True)" in text
    assert "(scale): Linear(in_features=1, out_features=1, bias=False)" in text


def test_forward_hook_sees_and_can_replace_the_output():
    layer = nn.Linear(2, 2)
    seen = []
    handle = layer.register_forward_hook(lambda m, inputs, out: seen.append(out.shape))
    layer(cr.ones(3, 2))
    assert seen == [(3, 2)]
    handle.remove()
    layer(cr.ones(3, 2))
    assert seen == [(3, 2)]
    layer.register_forward_hook(lambda m, inputs, out: out * 0)
    assert (layer(cr.ones(1, 2))._data == 0).all()


def test_sequential_indexing_and_append():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    model.append(nn.Linear(3, 1))
    assert len(model) == 3 and isinstance(model[-1], nn.Linear)
    assert isinstance(model[:2], nn.Sequential) and len(model[:2]) == 2
    assert model(cr.ones(4, 2)).shape == (4, 1)


def test_sequential_runs_the_hooks_and_the_own_call_of_its_layers():
    # Sequential calls a plain layer's forward directly; a hook or an own __call__ must still run.
    class Doubling(nn.Module):
        def forward(self, x):
            return x

        def __call__(self, x):
            return super().__call__(x) * 2

    first = nn.Linear(2, 2)
    model = nn.Sequential(first, Doubling())
    seen = []
    first.register_forward_hook(lambda m, inputs, out: seen.append(out.shape))
    x = cr.ones(3, 2)
    np.testing.assert_array_equal(model(x)._data, first(x)._data * 2)
    assert seen == [(3, 2), (3, 2)]


def _plain_order(model, x):
    """What ``model(x)`` computes, each layer called in turn (no rewrite)."""
    for layer in model:
        x = layer(x)
    return x


def _values_and_gradients(run, model, x, weights):
    x = cr.tensor(x, requires_grad=True)
    out = run(model, x)
    model.zero_grad()
    (out * cr.tensor(weights)).sum().backward()
    return out._data, x.grad._data, [p.grad._data.copy() for p in model.parameters()]


_CALL = lambda model, x: model(x)
_ties = np.random.default_rng(0).integers(-3, 3, size=(2, 2, 9, 8)).astype(float)  # many ties, all-negative windows


@pytest.mark.parametrize("build, x", [
    (lambda: nn.Sequential(nn.ReLU(), nn.MaxPool2d(2)), _ties),
    (lambda: nn.Sequential(nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)), _ties - 1.0),
    (lambda: nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, stride=1, dilation=2), nn.ReLU(), nn.MaxPool2d(2)), _ties),
    (lambda: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(48, 2)),
     _ties),
    (lambda: nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True),
                           nn.MaxPool1d(2)), _ties[:, :, 0] - 1.0),
    (lambda: nn.Sequential(nn.ReLU(), nn.MaxPool1d(2)), np.array([[[np.nan, 1.0, -2.0, np.nan, 3.0, -1.0]]])),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequential_runs_a_relu_after_the_max_pool_that_follows_it_with_the_same_values_and_gradients(
        build, x, dtype, monkeypatch):
    cr.manual_seed(0)
    model = build().to(dtype)
    x = x.astype(dtype)
    weights = np.random.default_rng(1).standard_normal(_plain_order(model, cr.tensor(x)).shape).astype(dtype)
    seen = []
    relu = cr.ops.relu
    monkeypatch.setattr(cr.ops, "relu", lambda t: seen.append(t.shape) or relu(t))
    plain = _values_and_gradients(_plain_order, model, x, weights)
    plain_sizes = [np.prod(shape) for shape in seen]
    seen.clear()
    rewritten = _values_and_gradients(_CALL, model, x, weights)
    # each ReLU ran on the smaller, pooled tensor
    assert len(seen) == len(plain_sizes) and all(np.prod(s) < n for s, n in zip(seen, plain_sizes))
    for a, b in zip(plain[:2] + tuple(plain[2]), rewritten[:2] + tuple(rewritten[2])):
        np.testing.assert_array_equal(b, a)
        assert b.dtype == a.dtype


def test_the_relu_after_the_max_pool_has_the_plain_orders_second_derivatives():
    from chainrule.autograd import grad, gradgradcheck

    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU(), nn.MaxPool1d(2), nn.Tanh(), nn.Flatten(), nn.Linear(9, 2))
    model = model.double()
    x = cr.tensor(np.random.default_rng(0).standard_normal((2, 2, 8)), requires_grad=True)
    assert gradgradcheck(model, (x,))
    curvatures = []
    for run in (_plain_order, _CALL):
        (gx,) = grad(run(model, x).tanh().sum(), (x,), create_graph=True)
        curvatures.append([g._data for g in grad((gx * gx).sum(), [x, *model.parameters()])])
    for plain, rewritten in zip(*curvatures):
        np.testing.assert_array_equal(rewritten, plain)


def test_sequential_keeps_a_relu_before_a_max_pool_where_the_other_order_could_be_seen():
    x = cr.tensor(_ties - 1.0)
    # a hook on the ReLU sees its full-size output
    relu, pool = nn.ReLU(), nn.MaxPool2d(2)
    seen = []
    relu.register_forward_hook(lambda m, inputs, out: seen.append(out.shape))
    nn.Sequential(relu, pool)(x)
    assert seen == [x.shape]
    # a pool that returns indices gives an all-negative window's first maximum of the ReLU's zeros
    model = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, return_indices=True))
    out, indices = model(x)
    plain_out, plain_indices = _plain_order(model, x)
    np.testing.assert_array_equal(out._data, plain_out._data)
    np.testing.assert_array_equal(indices._data, plain_indices._data)
    # a list is refused by the ReLU, as in the plain order
    with pytest.raises(TypeError, match="ReLU"):
        nn.Sequential(nn.ReLU(), nn.MaxPool1d(2))([[1.0, 2.0]])


def test_module_without_forward():
    with pytest.raises(NotImplementedError, match="has no forward"):
        nn.Module()(1)


def test_registration_names_and_modes_are_checked_as_pytorch_does():
    net = nn.Module()
    with pytest.raises(KeyError, match=r'parameter name can.+t contain "\."'):
        net.register_parameter("a.b", nn.Parameter(np.ones(1)))  # "a.b" would be ambiguous in state_dict
    with pytest.raises(KeyError, match=r"buffer name can.+t be empty string"):
        net.register_buffer("", cr.ones(1))
    with pytest.raises(TypeError, match=r"module name should be a string. Got int"):
        net.add_module(3, nn.Linear(1, 1))
    with pytest.raises(ValueError, match=r"training mode is expected to be boolean"):
        net.train("no")  # a non-empty string is truthy: it would switch training on
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"only accepts floating point dtypes, but got desired dtype=int64"):
        layer.to(np.int64)  # would truncate every weight
    assert layer.weight.dtype == np.float32
