"""chainrule.multiprocessing: PyTorch's torch.multiprocessing shares tensors between processes
through shared memory (Hogwild training: several processes update one model). chainrule's tensors
are NumPy arrays owned by one process, so that cannot work: every process would train its own copy
and the model in the parent would stay untrained. Rather than run such a script wrongly, starting
processes raises an error that says so; the sharing-strategy settings, which only concern
DataLoader workers (in-process here), are accepted.
"""

_STRATEGY = ["file_descriptor"]


def get_all_sharing_strategies() -> set:
    return {"file_descriptor", "file_system"}


def get_sharing_strategy() -> str:
    return _STRATEGY[0]


def set_sharing_strategy(new_strategy: str) -> None:
    """Accepted and recorded (DataLoader workers run in-process, so nothing is shared)."""
    if new_strategy not in get_all_sharing_strategies():
        raise ValueError(
            f"multiprocessing.set_sharing_strategy: got {new_strategy!r}, expected one of "
            f"{sorted(get_all_sharing_strategies())}"
        )
    _STRATEGY[0] = new_strategy


# what scripts take from torch.multiprocessing to start and feed processes (Python's names)
_PROCESSES = (
    "Process", "spawn", "start_processes", "set_start_method", "get_start_method", "get_context",
    "Queue", "SimpleQueue", "JoinableQueue", "Pool", "Manager", "Event", "Lock", "Value", "Array",
    "Pipe", "ProcessContext", "SpawnContext", "ProcessRaisedException", "ProcessExitedException",
)  # fmt: skip


def __getattr__(name):
    """Process, spawn, set_start_method, Queue, Pool...: not available, with the reason."""
    if name not in _PROCESSES:
        raise AttributeError(f"module 'chainrule.multiprocessing' has no attribute {name!r}")
    raise RuntimeError(
        f"multiprocessing.{name}: chainrule cannot share tensors between processes (they are NumPy "
        "arrays owned by one process), so Hogwild-style training, where worker processes update one "
        "shared model, is not supported; train in one process (the DataLoader's num_workers is "
        "accepted and batches are made in-process)"
    )
