"""chainrule.xpu: PyTorch's Intel GPU (XPU) queries, answered for a library that runs on the CPU
(NumPy): no XPU device is available, so scripts that pick ``xpu`` when it is there choose the CPU."""

from chainrule.cuda import device_count, is_available, is_initialized, manual_seed, manual_seed_all  # noqa: F401
