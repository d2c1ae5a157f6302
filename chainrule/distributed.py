"""Data-parallel training over MPI: every process (rank) holds the whole model, computes the
gradient on its own share of each batch, and the ranks average their gradients before every update,
so that N ranks take the same steps as one process training on the whole batch.

Launch a script with ``mpiexec -n N python train.py`` (``pip install 'chainrule[mpi]'`` brings
mpi4py and the MPICH wheel, whose ``mpiexec`` lands beside the venv's python); the script calls
``chainrule.distributed.init()`` first. Until ``init()`` runs, and whenever mpi4py is absent, every
function here acts for a world of one process: rank 0, world size 1, nothing to communicate.

Semantics, chosen once for all callers:

- Batches: ``batch_size`` is per rank. Every rank draws the same epoch permutation from chainrule's
  generator (``broadcast_rng_state`` makes the generators equal) and keeps every N-th position
  (``shard``), so with a per-rank batch of B/N the ranks' step-k batches together are exactly
  batch k of one process with batch B, and the averaged gradient is the global batch's mean
  gradient when the loss is a mean. Shards are made equal by repeating the order's first samples
  (PyTorch's DistributedSampler does the same); ``drop_last=True`` drops the tail instead.
- Gradients: ``average_gradients`` sums every gradient across ranks with one in-place Allreduce
  on a flat buffer (one per dtype) and divides by N; a gradient that is None on a rank counts as
  zeros there, and stays None only if it is None on every rank.
- Batch norm: running statistics and batch statistics are local to each rank (no SyncBatchNorm);
  ``broadcast_buffers`` after each epoch makes every rank use rank 0's running statistics.
- Random ops in the forward pass (dropout) draw from generators that are equal on every rank.
- Only rank 0 should write checkpoints, logs, plots and the progress bar (``is_main``); metrics
  are averaged over ranks with ``reduce_metrics`` before anyone looks at them, so that every
  rank takes the same decisions (early stopping): a rank that stops alone would leave the others
  waiting.
- Faults: after ``init()`` an uncaught exception on any rank prints the rank and the error and
  aborts every rank (``MPI_Abort``), instead of leaving the others waiting forever.
"""

import os
import sys

import numpy as np

from chainrule import random

_comm = None  # mpi4py's COMM_WORLD once init() ran; None means a world of one process
_mpi = None  # the mpi4py.MPI module (for IN_PLACE and SUM)
_layouts = {}  # the flat gradient buffers of average_gradients, by parameter list


def init() -> None:
    """Join the world that ``mpiexec`` started: rank and world size come from mpi4py's COMM_WORLD.

    With more than one rank it also installs a ``sys.excepthook`` that prints the failing rank
    and its traceback, then aborts every rank. Calling ``init()`` again does nothing.
    """
    global _comm, _mpi
    if _comm is not None:
        return
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as err:  # RuntimeError: mpi4py found no MPI library
        raise ImportError(
            f"chainrule.distributed.init: training over MPI needs mpi4py and an MPI library, which "
            f"failed to load ({err}); install them with: pip install 'chainrule[mpi]'"
        ) from None
    _mpi, _comm = MPI, MPI.COMM_WORLD
    if _comm.Get_size() > 1:
        sys.excepthook = _abort_on_error(_comm, sys.excepthook)


# Variables that MPI launchers set for the processes they start (MPICH/Hydra, Open MPI, Slurm).
_LAUNCHER_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")


def launched_by_mpiexec() -> bool:
    """True when this process is one of several started by ``mpiexec`` (read from the launcher's
    environment variables, without loading MPI)."""
    for name in _LAUNCHER_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


def init_if_launched() -> None:
    """``init()`` when started by ``mpiexec -n N`` with N > 1; nothing otherwise. ``fit`` and
    ``chainrule train`` call it, so they work unchanged under mpiexec."""
    if _comm is None and launched_by_mpiexec():
        init()


def _abort_on_error(comm, previous):
    def hook(kind, value, traceback):
        sys.stderr.write(
            f"chainrule.distributed: rank {comm.Get_rank()} of {comm.Get_size()} failed with "
            f"{kind.__name__}: {value}; aborting all ranks\n"
        )
        previous(kind, value, traceback)
        sys.stderr.flush()
        comm.Abort(1)

    return hook


def rank() -> int:
    """This process's rank, 0 .. world_size() - 1 (0 without MPI)."""
    return 0 if _comm is None else _comm.Get_rank()


_rank = rank  # for the functions below whose argument is called rank


def world_size() -> int:
    """The number of ranks (1 without MPI)."""
    return 1 if _comm is None else _comm.Get_size()


def is_main() -> bool:
    """True on rank 0, the one rank that writes checkpoints, logs, plots and progress."""
    return rank() == 0


def is_distributed() -> bool:
    """True when more than one rank trains."""
    return world_size() > 1


def barrier() -> None:
    """Wait until every rank got here."""
    if is_distributed():
        _comm.Barrier()


# -- same start on every rank ---------------------------------------------------------------
def _groups(arrays):
    """Arrays grouped by dtype: {dtype: [indices into arrays]}, in order of first appearance."""
    groups = {}
    for i, array in enumerate(arrays):
        groups.setdefault(array.dtype, []).append(i)
    return groups


def _order(array):
    """"F" for an array laid out column-major only (as wide Linear weights are), else "C"."""
    return "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"


def _broadcast(arrays, what):
    """Overwrite ``arrays`` in place with rank 0's, with one Bcast per dtype."""
    # The memory order too: gradients are averaged in each parameter's own order (_FlatGradients)
    layout = [(a.shape, a.dtype.str, _order(a)) for a in arrays]
    expected = _comm.bcast(layout, root=0)
    if layout != expected:
        raise RuntimeError(
            f"{what}: rank {rank()} holds {len(layout)} arrays (shape, dtype, memory order) {layout}, "
            f"rank 0 holds {len(expected)}: {expected}; every rank must build the same model"
        )
    main = is_main()
    for dtype, members in _groups(arrays).items():
        if main:
            flat = np.concatenate([arrays[i].ravel() for i in members])
        else:
            flat = np.empty(sum(arrays[i].size for i in members), dtype)
        _comm.Bcast(flat, root=0)
        if not main:
            start = 0
            for i in members:
                size = arrays[i].size
                np.copyto(arrays[i], flat[start:start + size].reshape(arrays[i].shape))
                start += size


def broadcast_parameters(model) -> None:
    """Copy rank 0's parameters and buffers into every rank's ``model`` (in place), so that all
    ranks start from the same weights. Call it once before training (and after loading weights
    on rank 0 only)."""
    if is_distributed():
        tensors = (*model.parameters(), *model.buffers())
        _broadcast([t.data for t in tensors], "broadcast_parameters")


def broadcast_buffers(model) -> None:
    """Copy rank 0's buffers (batch norm running statistics) into every rank's ``model``; call it
    after each epoch so that evaluation gives the same result on every rank."""
    if is_distributed():
        _broadcast([t.data for t in model.buffers()], "broadcast_buffers")


def broadcast_rng_state() -> None:
    """Give every rank rank 0's random generator state, so that all ranks draw the same shuffles
    (and the same dropout masks) even when the script seeded them differently or not at all."""
    if is_distributed():
        random.set_rng_state(_comm.bcast(random.get_rng_state() if is_main() else None, root=0))


# -- every step ---------------------------------------------------------------------------
class _FlatGradients:
    """One contiguous buffer per dtype holding every parameter's gradient, then one count per
    parameter (ranks that had a gradient), then (first buffer only) the loss: one Allreduce each."""

    def __init__(self, params):
        self.params = params
        self.buffers = []
        for dtype, members in _groups([p.data for p in params]).items():
            sizes = [params[i].data.size for i in members]
            total = sum(sizes)
            buffer = np.zeros(total + len(members) + (not self.buffers), dtype)
            views, start = [], 0
            for i, size in zip(members, sizes):
                # in the parameter's own memory order, so the optimizer's passes stay contiguous
                views.append(buffer[start:start + size].reshape(params[i].data.shape, order=_order(params[i].data)))
                start += size
            self.buffers.append((buffer, members, views, total))
        if not self.buffers:  # no parameters: the loss still needs its slot
            self.buffers.append((np.zeros(1), [], [], 0))

    def average(self, comm, mpi, loss):
        world = comm.Get_size()
        mean_loss = None
        for k, (buffer, members, views, total) in enumerate(self.buffers):
            counts = buffer[total:total + len(members)]
            for j, (i, view) in enumerate(zip(members, views)):
                grad = self.params[i].grad
                if grad is None:
                    view[...] = 0
                elif grad is not view:
                    np.copyto(view, grad)
                counts[j] = grad is not None
            if k == 0:
                buffer[-1] = 0.0 if loss is None else loss
            comm.Allreduce(mpi.IN_PLACE, buffer, op=mpi.SUM)
            np.divide(buffer[:total], world, out=buffer[:total])
            for j, (i, view) in enumerate(zip(members, views)):
                self.params[i].grad = view if counts[j] > 0 else None
            if k == 0 and loss is not None:
                mean_loss = float(buffer[-1]) / world
        return mean_loss


def average_gradients(parameters, loss: float | None = None) -> float | None:
    """Replace every parameter's gradient by its mean over the ranks; call it after each backward,
    before clipping and the optimizer step.

    One in-place Allreduce per step (per dtype) on a preallocated flat buffer; afterwards the
    ``.grad`` arrays are views of that buffer. A rank whose gradient is None contributes zeros;
    a gradient None on every rank stays None (the optimizer skips it, as in one process).
    Parameters that do not require grad are left out. ``loss`` (this rank's batch loss) rides
    in the same Allreduce (in the first parameter's dtype): its mean over the ranks is returned
    (None when not given).
    """
    if not is_distributed():
        return None if loss is None else float(loss)
    params, seen = [], set()
    for p in parameters:
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            params.append(p)
    key = tuple((id(p), p.data.shape, p.data.dtype.str) for p in params)
    layout = _layouts.get(key)
    if layout is None:
        if len(_layouts) >= 8:  # a few models (a GAN's two) keep theirs; anything more starts over
            _layouts.clear()
        layout = _layouts[key] = _FlatGradients(params)
    return layout.average(_comm, _mpi, None if loss is None else float(loss))


def reduce_metrics(metrics: dict, count: int = 1) -> dict:
    """``metrics`` with every float replaced by its mean over the ranks, weighted by ``count``
    (the samples this rank's values cover), in one Allreduce; other values (ints such as the
    epoch, strings, dicts) are returned as they are. Every rank must pass the same keys.

    The weighted mean is exact for means over samples (loss, accuracy); for other metrics
    (F1, R2) it approximates the value over the whole data.
    """
    if not is_distributed():
        return dict(metrics)
    keys = [k for k, v in metrics.items() if isinstance(v, (float, np.floating))]
    values = np.array([*(float(metrics[k]) * count for k in keys), count], dtype=np.float64)
    _comm.Allreduce(_mpi.IN_PLACE, values, op=_mpi.SUM)
    reduced = dict(metrics)
    for k, total in zip(keys, values[:-1]):
        reduced[k] = float(total / values[-1])
    return reduced


# -- every epoch: this rank's samples ------------------------------------------------------
def shard(order, rank: int | None = None, world: int | None = None, drop_last: bool = False) -> np.ndarray:
    """This rank's share of an epoch's sample ``order``: positions rank, rank + world, ...

    Taking every world-th position (not a contiguous block) makes batch k of each rank, with a
    per-rank batch of B / world, a piece of batch k of one process with batch B. When
    ``len(order)`` is not a multiple of ``world`` the order is padded by repeating its first
    samples (every rank gets ceil(n / world)), or with ``drop_last`` cut (floor(n / world)).
    ``rank`` and ``world`` default to this process's.

    >>> shard([5, 6, 7, 8, 9], rank=0, world=2).tolist(), shard([5, 6, 7, 8, 9], rank=1, world=2).tolist()
    ([5, 7, 9], [6, 8, 5])
    >>> shard([5, 6, 7, 8, 9], rank=1, world=2, drop_last=True).tolist()
    [6, 8]
    """
    rank = _rank() if rank is None else rank
    world = world_size() if world is None else world
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"shard: rank must lie in [0, world) and world >= 1, got rank {rank}, world {world}")
    order = np.asarray(order)
    n = len(order)
    if drop_last:
        order = order[:n - n % world]
    elif n % world:
        if n == 0:
            raise ValueError(f"shard: cannot pad an empty order to {world} equal shards")
        order = np.concatenate([order, np.resize(order, world - n % world)])
    return order[rank::world]


class DistributedSampler:
    """The indices of this rank's shard of ``dataset`` (anything with ``len``): each ``iter`` draws
    a new permutation from chainrule's generator (equal on every rank, see ``broadcast_rng_state``)
    and ``shard``s it; without ``shuffle`` the order is 0 .. n - 1. Use it as
    ``DataLoader(Subset(dataset, list(sampler)), batch_size=B // N)`` each epoch.
    ``num_replicas`` and ``rank`` default to this process's world.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, drop_last: bool = False, generator: np.random.Generator | None = None):
        self.dataset = dataset
        self.num_replicas = world_size() if num_replicas is None else num_replicas
        self.rank = _rank() if rank is None else rank
        if self.num_replicas < 1 or not 0 <= self.rank < self.num_replicas:
            raise ValueError(
                f"DistributedSampler: rank must lie in [0, num_replicas), got rank {self.rank}, "
                f"num_replicas {self.num_replicas}"
            )
        self.shuffle, self.drop_last, self.generator = shuffle, drop_last, generator

    def __len__(self) -> int:
        n, world = len(self.dataset), self.num_replicas
        return n // world if self.drop_last else -(-n // world)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = (random.get_generator() if self.generator is None else self.generator).permutation(n)
        else:
            order = np.arange(n)
        return iter(shard(order, self.rank, self.num_replicas, self.drop_last).tolist())
