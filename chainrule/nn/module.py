"""Module: the base of every layer and network. Parameters, buffers and sub-modules register
themselves by attribute assignment; state_dict names and shapes match PyTorch's, and so do the
traversal methods and the forward and backward hooks."""

import itertools
import warnings
from collections import OrderedDict, namedtuple

import numpy as np

from chainrule import _backend
from chainrule._tensor import Tensor, _as_array, _check_requires_grad, _legacy_dtype, _to_arguments


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys the module has and the dict lacks, and the reverse."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


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
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())
        # True while any hook is registered: Sequential calls an unhooked layer's forward directly
        object.__setattr__(self, "_hooked", False)
        object.__setattr__(self, "training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        if not self._hooked:
            return self.forward(*args, **kwargs)
        for hook, with_kwargs in tuple(self._forward_pre_hooks.values()):
            if with_kwargs:
                replaced = hook(self, args, kwargs)
                if replaced is not None:
                    if not (isinstance(replaced, tuple) and len(replaced) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                            f"but got {replaced!r}"[:300]
                        )
                    args, kwargs = replaced
            else:
                replaced = hook(self, args)
                if replaced is not None:
                    args = replaced if isinstance(replaced, tuple) else (replaced,)
        backward = _BackwardHooks(self, len(args)) if self._backward_hooks or self._backward_pre_hooks else None
        if backward is not None:
            args = backward.wrap_inputs(args)
        try:
            out = self.forward(*args, **kwargs)
        except Exception:
            for hook, with_kwargs, always in tuple(self._forward_hooks.values()):
                if always:  # told of the failure with output None; the forward's error stays the one raised
                    try:
                        hook(self, args, kwargs, None) if with_kwargs else hook(self, args, None)
                    except Exception as err:
                        warnings.warn(f"forward hook with always_call=True raised an exception that was "
                                      f"ignored: {err!r}", stacklevel=2)
            raise
        for hook, with_kwargs, _ in tuple(self._forward_hooks.values()):
            replaced = hook(self, args, kwargs, out) if with_kwargs else hook(self, args, out)
            if replaced is not None:
                out = replaced
        if backward is not None:
            out = backward.wrap_outputs(out)
        return out

    # -- registration -----------------------------------------------------------------------
    # Parameters and modules live both in the registries (for traversal) and as ordinary
    # attributes, so that `self.weight` in forward is a plain, fast attribute read.
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() ran: call super().__init__() first"
            )
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif name in self._parameters:
            if value is not None:  # as PyTorch: a plain tensor would silently stop being trained
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' (nn.Parameter or None expected)"
                )
            self._parameters[name] = None
        elif isinstance(value, Module):
            self._forget(name)
            self._modules[name] = value
        elif name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' (nn.Module or None expected)"
                )
            self._modules[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)")
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def _forget(self, name):
        """Take ``name`` out of every registry (before it is registered as another kind)."""
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self._non_persistent.discard(name)

    def __delattr__(self, name):
        self._forget(name)
        object.__delattr__(self, name)

    def _check_new_attribute(self, kind, name, registry):
        _check_name(kind, name)
        # a plain None (``self.bias = None`` before registering the absent bias) may be replaced
        if self.__dict__.get(name) is not None and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param) -> None:
        """Add a Parameter (or None, for an absent optional one such as a missing bias)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_new_attribute("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' (nn.Parameter or None required)"
            )
        if param is not None and param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be created "
                "explicitly. To express '{name}' as a function of another Tensor, compute the value in "
                "the forward() method."
            )
        self._forget(name)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add state that is not trained (e.g. batch norm's running mean), or None. A persistent
        buffer is saved in state_dict; a non-persistent one (a cache) only moves with the module."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_new_attribute("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or None required)"
            )
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module) -> None:
        """Add a child module (or None) under ``name``, as attribute assignment does."""
        _check_name("module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        if self.__dict__.get(name) is not None and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._forget(name)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    def register_module(self, name: str, module) -> None:
        """The same as ``add_module``."""
        self.add_module(name, module)

    def _lookup(self, target: str, what: str):
        """The module holding the attribute at the dotted path ``target``, and the attribute's name."""
        if not isinstance(target, str):
            raise TypeError(f"get_{what}: target must be a dotted name (str), got {type(target).__name__}")
        module_path, _, name = target.rpartition(".")
        owner = self.get_submodule(module_path)
        return owner, name

    def get_submodule(self, target: str = "") -> "Module":
        """The sub-module at the dotted path ``target`` (``''`` is this module itself).

        >>> from chainrule import nn
        >>> nn.Sequential(nn.Linear(2, 3), nn.ReLU()).get_submodule("1")
        ReLU()
        """
        if not isinstance(target, str):
            raise TypeError(f"get_submodule: target must be a dotted name (str), got {type(target).__name__}")
        module = self
        for item in target.split(".") if target else ():
            child = module._modules.get(item)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no attribute `{item}`")
            module = child
        return module

    def get_parameter(self, target: str) -> "Parameter":
        """The parameter at the dotted path ``target`` (e.g. ``'0.weight'``)."""
        owner, name = self._lookup(target, "parameter")
        if name not in owner._parameters:
            raise AttributeError(f"{type(owner).__name__} has no parameter `{name}`")
        return owner._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target`` (e.g. ``'bn.running_mean'``)."""
        owner, name = self._lookup(target, "buffer")
        if name not in owner._buffers:
            raise AttributeError(f"{type(owner).__name__} has no buffer `{name}`")
        return owner._buffers[name]

    # -- hooks ------------------------------------------------------------------------------
    def _add_hook(self, registry, hook, value, prepend, where):
        if not callable(hook):
            raise TypeError(f"{where}: expected a callable hook, got {type(hook).__name__}")
        handle = RemovableHandle(self, registry)
        registry[handle.id] = value
        if prepend:
            registry.move_to_end(handle.id, last=False)
        object.__setattr__(self, "_hooked", True)
        return handle

    def _update_hooked(self):
        hooked = bool(self._forward_hooks or self._forward_pre_hooks or self._backward_hooks
                      or self._backward_pre_hooks)
        object.__setattr__(self, "_hooked", hooked)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> "RemovableHandle":
        """Call ``hook(module, args, output)`` after every forward (``hook(module, args, kwargs,
        output)`` with ``with_kwargs``); a value it returns replaces the output. ``prepend`` runs
        it before the hooks already registered; ``always_call`` calls it (with output None) when
        forward raises, too. Returns a handle whose ``remove()`` unregisters it.

        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> layer = nn.Identity()
        >>> handle = layer.register_forward_hook(lambda module, args, out: out * 2)
        >>> layer(cr.ones(2))
        tensor([2., 2.])
        >>> handle.remove()
        """
        return self._add_hook(self._forward_hooks, hook, (hook, bool(with_kwargs), bool(always_call)), prepend,
                              "register_forward_hook")

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False) -> "RemovableHandle":
        """Call ``hook(module, args)`` before every forward; a value it returns replaces the
        positional arguments (a non-tuple becomes a 1-tuple). With ``with_kwargs`` it is called
        as ``hook(module, args, kwargs)`` and may return ``(args, kwargs)``."""
        return self._add_hook(self._forward_pre_hooks, hook, (hook, bool(with_kwargs)), prepend,
                              "register_forward_pre_hook")

    def register_full_backward_hook(self, hook, prepend: bool = False) -> "RemovableHandle":
        """Call ``hook(module, grad_input, grad_output)`` once the gradients with respect to the
        module's positional inputs are computed. Both are tuples (None where an input or output
        has no gradient); a tuple the hook returns replaces ``grad_input``. The module's tensor
        inputs and outputs pass through an identity Function that catches their gradients, so
        the hook sees exactly what flows into and out of the module (PyTorch's semantics). A
        gradient that reaches the inputs without passing through the outputs (a double backward
        through values the module saved) calls no hook, as in PyTorch."""
        return self._add_hook(self._backward_hooks, hook, hook, prepend, "register_full_backward_hook")

    def register_full_backward_pre_hook(self, hook, prepend: bool = False) -> "RemovableHandle":
        """Call ``hook(module, grad_output)`` when the gradients with respect to the module's
        outputs arrive, before the module's own backward; a tuple it returns replaces them."""
        return self._add_hook(self._backward_pre_hooks, hook, hook, prepend, "register_full_backward_pre_hook")

    # -- traversal --------------------------------------------------------------------------
    def apply(self, fn) -> "Module":
        """Call ``fn`` on every sub-module (children first) and then on this module; returns self.

        >>> from chainrule import nn
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
        >>> net.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None) is net
        True
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """Yield (dotted name, module) for this module (named ``prefix``) and every descendant,
        depth first; a module reachable twice is yielded once unless ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:  # modules hash by identity; memo holds modules, as PyTorch's
                return
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        """Every module of the tree, this one first, each once."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """Yield (name, module) for each direct child, each once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry_name, prefix, recurse, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry_name).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Yield (dotted name, Parameter); a shared parameter is yielded once (under its first
        name) unless ``remove_duplicate=False``. ``recurse=False``: this module's own only."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        """Every parameter of the tree (this module's own only with ``recurse=False``), each once."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Yield (dotted name, buffer tensor), persistent or not, as ``named_parameters``."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

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
        """Evaluation mode: the same as ``train(False)``; returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad``: to None (default), or to zeros in place."""
        for param in self.parameters():
            if set_to_none:
                param._grad = None
            elif param._grad is not None:
                param._grad = param._grad.detach() if param._grad.grad_fn is not None else param._grad
                param._grad._data[...] = 0
                param._grad._bump_version()  # as zero_(): a graph that saved it sees the change

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set ``requires_grad`` on every parameter (False freezes the module); returns self."""
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
    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """Every parameter and persistent buffer by dotted name (PyTorch's keys), in an OrderedDict.

        The values are tensors detached from the graph that share memory with the module (as
        PyTorch's): ``clone()`` them (or copy ``.numpy()``) to keep a snapshot. ``keep_vars=True``
        gives the parameters themselves. ``destination`` (a dict to fill) and ``prefix`` (put
        before every key) are PyTorch's; the three may also come positionally, in that order.
        """
        if len(args) > 3:
            raise TypeError(f"state_dict() takes at most 3 positional arguments, got {len(args)}")
        destination, prefix, keep_vars = (*args, *(destination, prefix, keep_vars)[len(args):])
        if destination is None:
            destination = OrderedDict()
        for key, tensor in self._state_tensors().items():
            destination[prefix + key] = tensor if keep_vars else tensor.detach()
        return destination

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False) -> IncompatibleKeys:
        """Copy tensors or arrays (PyTorch's tensors too) into this module's parameters and buffers.

        All or nothing: every key, shape and dtype is checked before anything is copied, so a
        failed load leaves the module as it was. Values are cast to each parameter's dtype; shapes
        must match. With ``strict`` (default) missing and unexpected keys are errors; either way
        they are returned as ``(missing_keys, unexpected_keys)``. Errors read as PyTorch's.
        ``assign=True`` puts the loaded values in place of the module's tensors (sharing their
        memory and keeping their dtype) instead of copying into them; parameters stay Parameters
        and keep their ``requires_grad``.
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
        if assign:
            self._assign_state(arrays)
            return IncompatibleKeys(missing, unexpected)
        for key, value in arrays.items():  # nothing below can fail: every check is done
            target = own[key]
            if target._data.flags.writeable:
                np.copyto(target._data, value, casting="unsafe")
            else:
                target._data = value.astype(target._data.dtype)
        return IncompatibleKeys(missing, unexpected)

    def _assign_state(self, arrays) -> None:
        """load_state_dict(assign=True): new Parameters and buffers around the loaded arrays."""
        for module_prefix, module in self.named_modules():
            dot = f"{module_prefix}." if module_prefix else ""
            for name, param in list(module._parameters.items()):
                if param is not None and dot + name in arrays:
                    array = arrays[dot + name]
                    fresh = Parameter(array, param.requires_grad and array.dtype.kind == "f")
                    module._parameters[name] = fresh
                    object.__setattr__(module, name, fresh)
            for name, buffer in list(module._buffers.items()):
                if buffer is not None and dot + name in arrays:
                    fresh = Tensor(arrays[dot + name], dtype=arrays[dot + name].dtype)
                    module._buffers[name] = fresh
                    object.__setattr__(module, name, fresh)

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
        """The layer's settings, shown inside its repr (override in layers; may span lines)."""
        return ""

    def num_parameters(self) -> int:
        return int(sum(p._data.size for p in self.parameters()))

    def __repr__(self):
        return self._repr(top=True)

    def _repr(self, top=False):
        """PyTorch's layout: ``Name(extra)`` for a leaf; otherwise the extra_repr lines and then
        ``(name): child`` lines, indented by two. The parameter count rides on the first line as
        a comment (the whole network's, and each container's)."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        children = [(n, m) for n, m in self._modules.items() if m is not None]
        count = Module.num_parameters(self)  # (PReLU's num_parameters is PyTorch's int attribute)
        suffix = f"  # {count:,} parameters" if count and (top or children) else ""
        if not children and len(extra_lines) <= 1:
            return f"{type(self).__name__}({extra})" + (suffix if top else "")
        lines = [f"{type(self).__name__}(" + suffix, *(f"  {line}" for line in extra_lines)]
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


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods: ``remove()`` unregisters the hook (also as a
    context manager: ``with module.register_forward_hook(h): ...``)."""

    _ids = itertools.count()

    def __init__(self, module, hooks):
        self.id = next(RemovableHandle._ids)
        self._module = module
        self._hooks = hooks

    def remove(self) -> None:
        self._hooks.pop(self.id, None)
        self._module._update_hooked()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


class _BackwardHooks:
    """The full backward hooks of one module call. The tensors going in and coming out pass
    through ``BackwardHookFunction`` (an identity), whose backward sees their gradients: the
    outputs' first (kept as grad_output, after the pre-hooks), then the inputs' (grad_input,
    given to the hooks, whose returned tuple replaces it)."""

    def __init__(self, module, n_args):
        self.module = module
        self.n_args = n_args
        self.input_positions = ()
        self.n_outputs = 0
        self.output_positions = ()
        self.grad_output = None

    def wrap_inputs(self, args):
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        wrapped = _through_identity(self._on_input_gradients, [args[i] for i in positions])
        if wrapped is None:
            return args
        self.input_positions = positions
        args = list(args)
        for i, tensor in zip(positions, wrapped):
            args[i] = tensor
        return tuple(args)

    def wrap_outputs(self, out):
        single = isinstance(out, Tensor)
        outputs = (out,) if single else out if isinstance(out, tuple) else ()
        positions = [k for k, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
        wrapped = _through_identity(self._on_output_gradients, [outputs[k] for k in positions])
        if wrapped is None:
            return out
        self.n_outputs, self.output_positions = len(outputs), positions
        outputs = list(outputs)
        for k, tensor in zip(positions, wrapped):
            outputs[k] = tensor
        return outputs[0] if single else tuple(outputs)

    def _on_output_gradients(self, grads):
        grad_output = [None] * self.n_outputs
        for k, g in zip(self.output_positions, grads):
            grad_output[k] = g
        grad_output = tuple(grad_output)
        for hook in tuple(self.module._backward_pre_hooks.values()):
            replaced = hook(self.module, grad_output)
            if replaced is not None:
                grad_output = _checked_gradients(replaced, len(grad_output), "backward pre-hook", "grad_output")
        self.grad_output = grad_output
        if not self.input_positions and self.module._backward_hooks:
            # no input needs a gradient: the hooks hear of grad_output now, with grad_input all None
            warnings.warn(
                "Full backward hook is firing when gradients are computed with respect to module outputs since "
                "no inputs require gradients: grad_input is all None",
                stacklevel=2,
            )
            for hook in tuple(self.module._backward_hooks.values()):
                if hook(self.module, (None,) * self.n_args, grad_output) is not None:
                    raise RuntimeError(
                        "backward hook returned a grad_input, but no input of the module requires grad"
                    )
        return tuple(grad_output[k] for k in self.output_positions)

    def _on_input_gradients(self, grads):
        if self.grad_output is None:
            # the gradient reached the inputs without passing through the outputs (a double
            # backward through the module's saved values): PyTorch calls no hook then
            return grads
        grad_input = [None] * self.n_args
        for i, g in zip(self.input_positions, grads):
            grad_input[i] = g
        grad_input = tuple(grad_input)
        for hook in tuple(self.module._backward_hooks.values()):
            replaced = hook(self.module, grad_input, self.grad_output)
            if replaced is not None:
                grad_input = _checked_gradients(replaced, self.n_args, "backward hook", "grad_input")
        self.grad_output = None
        return tuple(grad_input[i] for i in self.input_positions)


def _checked_gradients(replaced, expected: int, who: str, what: str) -> tuple:
    replaced = tuple(replaced) if isinstance(replaced, (tuple, list)) else (replaced,)
    if len(replaced) != expected:
        raise RuntimeError(f"{who} returned {len(replaced)} gradient(s) as {what}, expected {expected}")
    return replaced


def _through_identity(on_gradients, tensors):
    """``tensors`` passed through BackwardHookFunction (None when nothing would be recorded)."""
    from chainrule.autograd.engine import needs_graph

    if not tensors or not needs_graph(*tensors):
        return None
    out = _hook_function().apply(on_gradients, *tensors)
    return out if isinstance(out, tuple) else (out,)


_HOOK_FUNCTION = []


def _hook_function():
    """The identity Function, defined on first use (autograd.function imports after nn)."""
    if not _HOOK_FUNCTION:
        from chainrule.autograd.function import Function

        class BackwardHookFunction(Function):
            @staticmethod
            def forward(ctx, on_gradients, *tensors):
                ctx.on_gradients = on_gradients
                return tensors if len(tensors) > 1 else tensors[0]

            @staticmethod
            def backward(ctx, *grads):
                replaced = ctx.on_gradients(grads)
                if any(g is not None and not isinstance(g, Tensor) for g in replaced):
                    raise TypeError("a backward hook must return Tensors (or None) as gradients")
                return (None, *replaced)

        _HOOK_FUNCTION.append(BackwardHookFunction)
    return _HOOK_FUNCTION[0]
