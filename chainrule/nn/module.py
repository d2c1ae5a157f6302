"""Module: the base of every layer and network. Parameters, buffers and sub-modules register
themselves by attribute assignment; state_dict names and shapes match PyTorch's."""

from collections import OrderedDict, namedtuple

import numpy as np

from chainrule import _backend
from chainrule._tensor import Tensor, _as_array, _check_requires_grad, _legacy_dtype, _to_arguments

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A tensor that is a module's learnable weight: requires_grad by default, and listed by
    ``Module.parameters()`` when assigned as a module attribute."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        array = np.empty(0, dtype=np.float32) if data is None else _as_array(data)
        _check_requires_grad(array, requires_grad)
        Tensor.__init__(self, array, requires_grad=requires_grad, dtype=array.dtype)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class for layers and networks: subclass it, assign layers and Parameters in
    ``__init__``, and compute the output in ``forward``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = nn.Linear(2, 8)
    ...         self.out = nn.Linear(8, 1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).tanh())
    >>> net = TwoLayer()
    >>> [name for name, _ in net.named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    >>> net(cr.zeros(4, 2)).shape
    (4, 1)
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in tuple(self._forward_hooks.values()):
                replaced = hook(self, args, out)
                if replaced is not None:
                    out = replaced
        return out

    # -- registration -----------------------------------------------------------------------
    # Parameters and modules live both in the registries (for traversal) and as ordinary
    # attributes, so that `self.weight` in forward is a plain, fast attribute read.
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() ran: call super().__init__() first"
            )
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry and not self._same_kind(registry, value):
                del registry[name]
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"buffer {name!r} must be a Tensor or None, got {type(value).__name__}")
            self._buffers[name] = value
        elif name in self._parameters and value is None:
            self._parameters[name] = None
        object.__setattr__(self, name, value)

    def _same_kind(self, registry, value):
        if registry is self._parameters:
            return isinstance(value, Parameter) or value is None
        if registry is self._modules:
            return isinstance(value, Module)
        return value is None or isinstance(value, Tensor)

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self._non_persistent.discard(name)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param) -> None:
        """Add a Parameter (or None, for an absent optional one such as a missing bias)."""
        _check_name("parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}"
            )
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add state that is saved in state_dict but not trained (e.g. batch norm's running mean)."""
        _check_name("buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}"
            )
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module) -> None:
        _check_name("module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after every forward; it may return a new output.
        Returns a handle whose ``remove()`` unregisters it."""
        key = object()
        self._forward_hooks[key] = hook
        return _HookHandle(self._forward_hooks, key)

    # -- traversal --------------------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo=None):
        """Yield (name, module) for this module and every descendant, each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry_name, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry_name).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """Yield (dotted name, Parameter), each shared parameter once."""
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # -- modes and gradients ----------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active, batch norm uses batch statistics); returns self."""
        if not isinstance(mode, (bool, np.bool_)):
            raise ValueError(f"training mode is expected to be boolean, got {type(mode).__name__} {mode!r}"[:200])
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.parameters():
            if set_to_none:
                param._grad = None
            elif param._grad is not None:
                param._grad = param._grad.detach() if param._grad.grad_fn is not None else param._grad
                param._grad._data[...] = 0
                param._grad._bump_version()  # as zero_(): a graph that saved it sees the change

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def to(self, *args, **kwargs) -> "Module":
        """Move and/or cast every floating parameter and buffer in place, as PyTorch's forms:
        ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``, with
        ``non_blocking``; returns self. The tensors stay the same objects, so optimizers already
        holding them keep working. Only the CPU holds tensors here: another device is a
        RuntimeError; an integer dtype is a TypeError (it would truncate every weight)."""
        dtype, _ = _to_arguments(args, kwargs, "nn.Module.to")
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
        return self if dtype is None else self._cast(dtype, floating_only=True)

    def _cast(self, dtype, floating_only: bool) -> "Module":
        for tensor in (*self.parameters(), *self.buffers()):
            if tensor._data.dtype != dtype and (tensor._data.dtype.kind == "f" or not floating_only):
                tensor._data = tensor._data.astype(dtype)
                if tensor._grad is not None:
                    tensor._grad = Tensor._make(tensor._grad._data.astype(dtype), False, None)
        return self

    def cpu(self) -> "Module":
        """Self: chainrule's tensors always live in CPU memory."""
        return self

    def cuda(self, device=None) -> "Module":
        """Not available: chainrule runs on the CPU (a RuntimeError saying so)."""
        _backend.as_cuda_device(device, "nn.Module.cuda")
        return self

    def type(self, dst_type) -> "Module":
        """Cast every parameter and buffer (integer ones too, as PyTorch) to ``dst_type``."""
        return self._cast(_legacy_dtype(dst_type, "nn.Module.type"), floating_only=False)

    def double(self) -> "Module":
        return self._cast(np.dtype(np.float64), floating_only=True)

    def float(self) -> "Module":
        return self._cast(np.dtype(np.float32), floating_only=True)

    def half(self) -> "Module":
        return self._cast(np.dtype(np.float16), floating_only=True)

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Every parameter and persistent buffer by dotted name (PyTorch's keys), as arrays that
        share memory with the module: copy them to keep a snapshot."""
        return OrderedDict((key, tensor._data) for key, tensor in self._state_tensors().items())

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (or tensors, PyTorch's included) into this module's parameters and buffers.

        All or nothing: every key, shape and dtype is checked before anything is copied, so a
        failed load leaves the module as it was. Values are cast to each parameter's dtype; shapes
        must match. With ``strict`` (default) missing and unexpected keys are errors; either way
        they are returned as ``(missing_keys, unexpected_keys)``. Errors read as PyTorch's.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in own]
        problems = []
        if strict and missing:
            problems.append("Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
        if strict and unexpected:
            problems.append("Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected)))
        arrays = {}
        for key, tensor in own.items():
            if key in state_dict:
                value = _loadable_array(state_dict[key], key, type(self).__name__)
                if value.shape != tensor._data.shape:
                    problems.append(
                        f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from checkpoint, "
                        f"the shape in current model is {tensor._data.shape}."
                    )
                arrays[key] = value
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(problems))
        for key, value in arrays.items():  # nothing below can fail: every check is done
            target = own[key]
            if target._data.flags.writeable:
                np.copyto(target._data, value, casting="unsafe")
            else:
                target._data = value.astype(target._data.dtype)
        return IncompatibleKeys(missing, unexpected)

    def _state_tensors(self):
        state = OrderedDict()
        for module_prefix, module in self.named_modules():
            dot = f"{module_prefix}." if module_prefix else ""
            for name, param in module._parameters.items():
                if param is not None:
                    state[dot + name] = param
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent:
                    state[dot + name] = buffer
        return state

    # -- display ----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's settings, shown inside its repr (override in layers)."""
        return ""

    def num_parameters(self) -> int:
        return int(sum(p._data.size for p in self.parameters()))

    def __repr__(self):
        return self._repr(top=True)

    def _repr(self, top=False):
        children = [(n, m) for n, m in self._modules.items() if m is not None]
        count = self.num_parameters()
        suffix = f"  # {count:,} parameters" if count and (top or children) else ""
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})" + (suffix if top else "")
        lines = [f"{type(self).__name__}({self.extra_repr()}" + suffix]
        for name, child in children:
            body = child._repr().replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


def _check_name(kind: str, name) -> None:
    """Names become state_dict keys joined by dots: a dot or an empty name would make them ambiguous."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f"{kind} name can't contain \".\", got: {name}")
    if not name:
        raise KeyError(f"{kind} name can't be empty string \"\"")


def _loadable_array(value, key: str, owner: str) -> np.ndarray:
    """A state dict entry as a numeric array, or TypeError naming its key."""
    try:
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
    except Exception as err:  # a ragged list, a tensor of another library that refuses to convert
        raise TypeError(
            f"load_state_dict for {owner}: {key!r} cannot be read as an array ({type(value).__name__}: {err})"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"load_state_dict for {owner}: {key!r} holds {array.dtype} values; expected a tensor or array "
            "of numbers (bool, integer or floating)"
        )
    return array


class _HookHandle:
    __slots__ = ("_hooks", "_key")

    def __init__(self, hooks, key):
        self._hooks = hooks
        self._key = key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)
