"""nn.Module: registration, traversal, modes, state_dict round trips and errors, repr, hooks."""

from collections import OrderedDict

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


# -- PyTorch's Module API: traversal, registration, hooks, state ------------------------------------


def test_apply_visits_children_first_and_returns_self():
    net = Net()
    order = []
    assert net.apply(lambda m: order.append(type(m).__name__)) is net
    assert order == ["Linear", "Tanh", "Sequential", "Linear", "Linear", "ModuleList", "Linear", "ModuleDict", "Net"]
    net.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert all((p._data == 0).all() for n, p in net.named_parameters() if n.endswith("weight"))


def test_named_modules_prefix_memo_and_duplicates():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in model.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    assert [n for n, _ in model.named_modules(prefix="net")] == ["net", "net.0", "net.1"]
    assert [n for n, _ in model.named_modules(memo={shared})] == ["", "1"]
    assert [n for n, _ in model.named_children()] == ["0", "1"]
    every = [n for n, _ in model.named_parameters(remove_duplicate=False)]
    assert every == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in model.named_parameters(prefix="m")] == ["m.0.weight", "m.0.bias"]
    net = Net()
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["temperature"]
    assert [n for n, _ in net.named_buffers(recurse=False)] == ["steps", "cache"]
    assert len(list(net.buffers())) == 2 and len(list(net.children())) == 3


def test_get_submodule_get_parameter_and_get_buffer():
    net = Net()
    assert net.get_submodule("") is net and net.get_submodule("body.0") is net.body[0]
    assert net.get_parameter("extra.scale.weight") is net.extra["scale"].weight
    assert net.get_parameter("temperature") is net.temperature
    assert net.get_buffer("steps") is net.steps
    with pytest.raises(AttributeError, match="Sequential has no attribute `7`"):
        net.get_submodule("body.7")
    with pytest.raises(AttributeError, match="Linear has no parameter `scale`"):
        net.get_parameter("body.0.scale")
    with pytest.raises(AttributeError, match="Net has no buffer `temperature`"):
        net.get_buffer("temperature")


def test_register_buffer_parameter_and_module_as_pytorch():
    m = nn.Module()
    m.register_buffer("mask", None)
    m.register_parameter("bias", None)
    m.register_module("head", nn.Linear(1, 1))
    assert m.mask is None and m.bias is None and list(m.state_dict()) == ["head.weight", "head.bias"]
    m.register_buffer("cache", cr.ones(2), persistent=False)
    m.register_buffer("steps", cr.zeros(1))
    assert [n for n, _ in m.named_buffers()] == ["cache", "steps"]
    assert list(m.state_dict()) == ["steps", "head.weight", "head.bias"]
    m.register_buffer("cache", cr.ones(2))  # registered again, persistent this time
    assert "cache" in m.state_dict()
    m.plain = 3
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", cr.ones(1))
    with pytest.raises(TypeError, match=r"cannot assign 'Tensor' object to parameter 'w' \(nn.Parameter or None"):
        m.register_parameter("w", cr.ones(1))
    with pytest.raises(TypeError, match=r"cannot assign 'ndarray' object to buffer 'b' \(Tensor or None"):
        m.register_buffer("b", np.ones(1))
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'w'"):
        m.register_parameter("w", _non_leaf_parameter(x))
    del m.steps
    assert "steps" not in m.state_dict()


def _non_leaf_parameter(x):
    p = nn.Parameter(cr.ones(2))
    p.grad_fn = (x * 2).grad_fn  # a Parameter that came out of an op
    return p


def test_forward_pre_hook_replaces_the_inputs_and_hooks_can_be_prepended():
    layer = nn.Identity()
    calls = []
    layer.register_forward_pre_hook(lambda m, args: (args[0] * 10,))
    layer.register_forward_pre_hook(lambda m, args: args[0] + 1)  # a non-tuple becomes the 1-tuple
    assert layer(cr.tensor([1.0])).tolist() == [11.0]
    first = layer.register_forward_hook(lambda m, args, out: calls.append("first"))
    layer.register_forward_hook(lambda m, args, out: calls.append("prepended"), prepend=True)
    layer(cr.tensor([1.0]))
    assert calls == ["prepended", "first"]
    first.remove()
    first.remove()  # a second remove does nothing
    calls.clear()
    layer(cr.tensor([1.0]))
    assert calls == ["prepended"]


def test_an_always_call_forward_hook_hears_of_a_failed_forward():
    class Failing(nn.Module):
        def forward(self, x):
            raise ValueError("bad input")

    m = Failing()
    heard = []
    m.register_forward_hook(lambda mod, args, out: heard.append(("always", out)), always_call=True)
    m.register_forward_hook(lambda mod, args, out: heard.append(("plain", out)))
    with pytest.raises(ValueError, match="bad input"):
        m(cr.ones(1))
    assert heard == [("always", None)]


def test_hooks_with_kwargs_and_handles_as_context_managers():
    class Scale(nn.Module):
        def forward(self, x, *, factor=1.0):
            return x * factor

    m = Scale()
    seen = []
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": kwargs.get("factor", 1.0) * 3}),
                                with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(kwargs["factor"]), with_kwargs=True)
    assert m(cr.tensor([2.0]), factor=2.0).tolist() == [12.0]
    assert seen == [6.0]
    plain = nn.Identity()
    with plain.register_forward_hook(lambda mod, args, out: out * 0):
        assert plain(cr.tensor([5.0])).tolist() == [0.0]
    assert plain(cr.tensor([5.0])).tolist() == [5.0] and not plain._hooked


def test_full_backward_hook_sees_and_replaces_the_gradients():
    layer = nn.Linear(2, 1).double()
    layer.load_state_dict({"weight": np.array([[2.0, -3.0]]), "bias": np.array([0.5])})
    seen = []

    def hook(module, grad_input, grad_output):
        seen.append((module, [g.tolist() for g in grad_input], [g.tolist() for g in grad_output]))
        return (grad_input[0] * 10,)

    handle = layer.register_full_backward_hook(hook)
    x = cr.tensor([[1.0, 1.0], [0.0, 2.0]], dtype=cr.float64, requires_grad=True)
    (layer(x) * cr.tensor([[1.0], [4.0]], dtype=cr.float64)).sum().backward()
    # d(out)/dx = weight, scaled by the upstream gradients 1 and 4
    assert seen == [(layer, [[[2.0, -3.0], [8.0, -12.0]]], [[[1.0], [4.0]]])]
    np.testing.assert_array_equal(x.grad._data, [[20.0, -30.0], [80.0, -120.0]])
    # the parameters' own gradient is untouched: upstream (1, 4) times the rows of x
    np.testing.assert_array_equal(layer.weight.grad._data, [[1.0, 9.0]])
    handle.remove()
    x.grad = None
    layer(x).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [[2.0, -3.0], [2.0, -3.0]])


def test_full_backward_pre_hook_and_a_module_whose_input_needs_no_gradient():
    layer = nn.Linear(2, 1).double()
    nn.init.ones_(layer.weight)
    heard = []
    layer.register_full_backward_pre_hook(lambda m, grad_output: (grad_output[0] * 2,))
    layer.register_full_backward_hook(lambda m, gi, go: heard.append((gi, go[0].tolist())))
    x = cr.ones(1, 2, dtype=cr.float64)  # no gradient for the input: the hook hears grad_input (None,)
    with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are computed with respect"):
        layer(x).sum().backward()
    assert heard == [((None,), [[2.0]])]
    np.testing.assert_array_equal(layer.weight.grad._data, [[2.0, 2.0]])  # the doubled grad_output flowed on


def test_backward_hooks_on_a_module_with_two_inputs_and_a_non_tensor_argument():
    class Mix(nn.Module):
        def forward(self, a, scale, b):
            return a * scale + b * b

    grads = []
    m = Mix()
    m.register_full_backward_hook(lambda mod, gi, go: grads.append(gi))
    a = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    b = cr.tensor([3.0, -1.0], dtype=cr.float64, requires_grad=True)
    m(a, 5.0, b).sum().backward()
    (ga, gs, gb), = grads
    assert gs is None and ga.tolist() == [5.0, 5.0] and gb.tolist() == [6.0, -2.0]
    assert a.grad.tolist() == [5.0, 5.0] and b.grad.tolist() == [6.0, -2.0]


def test_backward_hook_gradients_differentiate_again_under_create_graph():
    m = nn.Tanh()
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 3,))
    x = cr.tensor([0.3, -0.2], dtype=cr.float64, requires_grad=True)
    (g,) = cr.autograd.grad(m(x).sum(), x, create_graph=True)
    t = np.tanh(x._data)
    np.testing.assert_allclose(g._data, 3 * (1 - t**2))
    g.sum().backward()
    np.testing.assert_allclose(x.grad._data, 3 * (-2 * t * (1 - t**2)))


def test_zero_grad_and_requires_grad_return_as_pytorch():
    net = nn.Linear(2, 1)
    net(cr.ones(1, 2)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert (net.weight.grad._data == 0).all()
    net.zero_grad()
    assert net.weight.grad is None
    assert net.requires_grad_(False) is net and not any(p.requires_grad for p in net.parameters())
    assert net.train() is net and net.eval() is net and not net.training


def test_state_dict_holds_detached_tensors_sharing_memory():
    net = Net()
    state = net.state_dict()
    assert isinstance(state, OrderedDict)
    weight = state["body.0.weight"]
    assert type(weight) is cr.Tensor and not weight.requires_grad and weight.grad_fn is None
    assert np.shares_memory(weight._data, net.body[0].weight._data)
    assert net.state_dict(keep_vars=True)["body.0.weight"] is net.body[0].weight
    assert next(iter(net.state_dict(prefix="model."))) == "model.temperature"
    target = {"kept": 1}
    assert net.state_dict(target) is target and "kept" in target and "steps" in target


def test_load_state_dict_result_and_assign():
    layer = nn.Linear(2, 1)
    assert repr(layer.load_state_dict(layer.state_dict())) == "<All keys matched successfully>"
    result = layer.load_state_dict({"weight": np.ones((1, 2))}, strict=False)
    assert result == (["bias"], []) and "missing_keys=['bias']" in repr(result)
    source = {"weight": cr.tensor([[1.0, 2.0]], dtype=cr.float64), "bias": np.array([3.0])}
    old = layer.weight
    layer.load_state_dict(source, assign=True)
    assert layer.weight is not old and isinstance(layer.weight, nn.Parameter) and layer.weight.requires_grad
    assert layer.weight.dtype == np.float64  # assign keeps the loaded tensor's properties
    assert np.shares_memory(layer.weight._data, source["weight"]._data)
    assert list(layer.parameters()) == [layer.weight, layer.bias]
    np.testing.assert_array_equal(layer(cr.ones(1, 2, dtype=cr.float64))._data, [[6.0]])


def test_repr_follows_pytorch_layout_for_multi_line_extra_repr():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)

        def extra_repr(self):
            return "mode=fast"

    class Table(nn.Module):
        def extra_repr(self):
            return "rows=2\ncols=3"

    assert repr(Table()) == "Table(\n  rows=2\n  cols=3\n)"
    assert repr(Block()) == (
        "Block(  # 2 parameters\n  mode=fast\n  (fc): Linear(in_features=1, out_features=1, bias=True)\n)"
    )


# -- channel dropout, DataParallel and PyTorch's module paths ---------------------------------------


@pytest.mark.parametrize("layer, shape, channel_axes", [
    (nn.Dropout1d, (6, 5, 7), (0, 1)),
    (nn.Dropout1d, (5, 7), (0,)),  # unbatched (C, L)
    (nn.Dropout2d, (6, 5, 3, 4), (0, 1)),
    (nn.Dropout3d, (4, 5, 2, 3, 2), (0, 1)),
    (nn.Dropout3d, (5, 2, 3, 2), (0,)),  # unbatched (C, D, H, W)
])
def test_channel_dropout_zeros_whole_channels_and_scales_the_rest(layer, shape, channel_axes):
    cr.manual_seed(0)
    p = 0.4
    x = cr.tensor(np.random.default_rng(1).uniform(1, 2, size=shape), requires_grad=True)
    out = layer(p)(x)
    ratio = out._data / x._data
    per_channel = ratio.reshape(*[shape[a] for a in channel_axes], -1)
    # every position of a channel shares its fate: all 0 or all 1/(1-p)
    np.testing.assert_allclose(per_channel, per_channel[..., :1] * np.ones_like(per_channel))
    assert set(np.round(np.unique(per_channel), 12)) <= {0.0, round(1 / (1 - p), 12)}
    out.sum().backward()
    np.testing.assert_allclose(x.grad._data, ratio)  # the gradient is the mask
    assert layer(p).eval()(x) is x


def test_channel_dropout_drops_about_p_of_the_channels_and_follows_the_seed():
    cr.manual_seed(3)
    out = nn.Dropout2d(0.3)(cr.ones(200, 50, 2, 2))
    dropped = (out._data[:, :, 0, 0] == 0).mean()
    assert abs(dropped - 0.3) < 0.02  # 10,000 channels: 4.6 standard deviations
    cr.manual_seed(3)
    np.testing.assert_array_equal(nn.Dropout2d(0.3)(cr.ones(200, 50, 2, 2))._data, out._data)
    assert (nn.Dropout2d(1.0)(cr.ones(2, 3, 4, 4))._data == 0).all()
    assert nn.functional.dropout2d(cr.ones(2, 3, 4, 4), p=0.0).tolist() == cr.ones(2, 3, 4, 4).tolist()


def test_channel_dropout_input_rules_and_warnings_are_pytorchs():
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        nn.Dropout1d()(cr.ones(2, 3, 4, 5))
    with pytest.warns(UserWarning, match="dropout2d: Received a 3D input to dropout2d and assuming that channel-wise"):
        out = nn.Dropout2d(0.5)(cr.ones(3, 4, 5))  # read as (N, C, L), as PyTorch does
    assert ((out._data == 0).all(-1) | (out._data == 2).all(-1)).all()
    with pytest.warns(UserWarning, match="dropout2d: Received a 5-D input to dropout2d, which is deprecated"):
        nn.functional.dropout2d(cr.ones(2, 3, 2, 2, 2))
    with pytest.warns(UserWarning, match="dropout3d: Received a 3-D input to dropout3d, which is deprecated"):
        nn.functional.dropout3d(cr.ones(3, 2, 2))
    with pytest.raises(ValueError, match=r"Dropout2d: p must be in \[0, 1\], got 1.5"):
        nn.Dropout2d(1.5)
    with pytest.raises(TypeError, match="dropout1d: expected a Tensor input, got list"):
        nn.functional.dropout1d([[1.0]])
    assert repr(nn.Dropout3d(0.2)) == "Dropout3d(p=0.2, inplace=False)"
    assert not isinstance(nn.Dropout2d(), nn.Dropout)  # as in PyTorch: siblings under _DropoutNd
    assert isinstance(nn.Dropout2d(), nn.modules.dropout._DropoutNd)


def test_alpha_dropout_keeps_selu_statistics_and_maps_dropped_units_to_the_saturation():
    cr.manual_seed(0)
    p = 0.2
    x = cr.tensor(np.random.default_rng(0).standard_normal(200_000))
    out = nn.AlphaDropout(p)(x)._data
    saturation = -1.0507009873554805 * 1.6732632423543772
    a = ((1 - p) * (1 + p * saturation**2)) ** -0.5
    b = -a * saturation * p
    dropped = np.isclose(out, a * saturation + b)
    np.testing.assert_allclose(out[~dropped], a * x._data[~dropped] + b)
    assert abs(dropped.mean() - p) < 0.005
    assert abs(out.mean()) < 0.01 and abs(out.std() - 1) < 0.01
    assert nn.functional.alpha_dropout(x, p) is x  # PyTorch's functional default: training=False
    assert nn.AlphaDropout(p).eval()(x) is x


def test_data_parallel_is_a_pass_through_with_prefixed_state_dict_keys():
    cr.manual_seed(0)
    inner = nn.Linear(3, 2)
    model = nn.DataParallel(inner, device_ids=[0], output_device=0)
    x = cr.randn(4, 3)
    np.testing.assert_array_equal(model(x)._data, inner(x)._data)
    assert list(model.state_dict()) == ["module.weight", "module.bias"]
    assert model.module is inner and model.device_ids == [0] and model.dim == 0
    assert nn.parallel.DataParallel is nn.DataParallel
    again = nn.Linear(3, 2)
    again.load_state_dict({k.removeprefix("module."): v for k, v in model.state_dict().items()})
    np.testing.assert_array_equal(again(x)._data, inner(x)._data)
    np.testing.assert_array_equal(nn.parallel.data_parallel(inner, x)._data, inner(x)._data)
    with pytest.raises(TypeError, match=r"DataParallel: module must be an nn\.Module, got function"):
        nn.DataParallel(lambda x: x)


def test_pytorch_module_paths_name_the_same_classes():
    from chainrule.nn.modules.loss import _Loss

    m = nn.modules
    assert m.module.Module is nn.Module and m.linear.Linear is nn.Linear and m.conv.Conv2d is nn.Conv2d
    assert m.loss.MSELoss is nn.MSELoss and m.loss.CrossEntropyLoss is nn.CrossEntropyLoss
    assert m.activation.ReLU is nn.ReLU and m.batchnorm.BatchNorm2d is nn.BatchNorm2d
    assert m.normalization.LayerNorm is nn.LayerNorm and m.pooling.MaxPool2d is nn.MaxPool2d
    assert m.dropout.Dropout2d is nn.Dropout2d and m.rnn.LSTM is nn.LSTM and m.container.Sequential is nn.Sequential
    assert m.sparse.Embedding is nn.Embedding and m.flatten.Flatten is nn.Flatten
    assert m.upsampling.Upsample is nn.Upsample and m.Linear is nn.Linear and m.Conv2d is nn.Conv2d
    assert nn.parameter.Parameter is nn.Parameter and issubclass(nn.MSELoss, _Loss)
