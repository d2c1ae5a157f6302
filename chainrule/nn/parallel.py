"""PyTorch's torch.nn.parallel on the one device chainrule runs on: DataParallel is a
pass-through wrapper, so a script written for several GPUs runs unchanged (and its state_dict
keys carry the ``module.`` prefix, as PyTorch's do). Data-parallel training over several
processes is chainrule.distributed (MPI), whose API is not DistributedDataParallel's."""

from chainrule.nn.module import Module


class DataParallel(Module):
    """``DataParallel(module)(x) == module(x)``: PyTorch splits the batch over GPUs along ``dim``
    and gathers the outputs; on one CPU device the split and the gather are the identity.
    ``device_ids``, ``output_device`` and ``dim`` are kept as attributes only.

    >>> from chainrule import nn
    >>> model = nn.DataParallel(nn.Linear(2, 1))
    >>> list(model.state_dict())
    ['module.weight', 'module.bias']
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be an nn.Module, got {type(module).__name__}")
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"DataParallel: dim must be an int, got {type(dim).__name__} {dim!r}")
        self.module = module
        # PyTorch without CUDA keeps an empty device list and runs the module where it is
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module: Module, inputs, device_ids=None, output_device=None, dim: int = 0, module_kwargs=None):
    """The functional form: ``module(*inputs, **module_kwargs)`` (one device, nothing to scatter)."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    return module(*inputs, **(module_kwargs or {}))
