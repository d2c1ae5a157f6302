"""Containers: Sequential runs modules in order; ModuleList and ModuleDict hold modules so that
their parameters are registered."""

from collections import OrderedDict

from chainrule.nn.module import Module

_MODULE_CALL = Module.__call__


class Sequential(Module):
    """Modules applied one after another: ``Sequential(a, b)(x) == b(a(x))``.

    >>> from chainrule import nn
    >>> nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    Sequential(  # 15 parameters
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): ReLU()
    )
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)
        self._refresh()

    def _refresh(self):
        object.__setattr__(self, "_layers", tuple(m for m in self._modules.values() if m is not None))

    def add_module(self, name, module):
        super().add_module(name, module)
        if "_layers" in self.__dict__:
            self._refresh()

    def append(self, module) -> "Sequential":
        self.add_module(str(len(self._modules)), module)
        return self

    def forward(self, x):
        for layer in self._layers:
            # A layer without forward hooks is its forward: calling that directly skips
            # Module.__call__'s frame and argument packing (~2k instructions a layer).
            x = layer.forward(x) if not layer._forward_hooks and type(layer).__call__ is _MODULE_CALL else layer(x)
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*list(self._modules.values())[index])
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of modules whose parameters belong to the owner."""

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module) -> "ModuleList":
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules whose parameters belong to the owner."""

    def __init__(self, modules=None):
        super().__init__()
        for name, module in (modules or {}).items():
            self[name] = module

    def __getitem__(self, name):
        return self._modules[name]

    def __setitem__(self, name, module):
        self.add_module(name, module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, name):
        return name in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()
