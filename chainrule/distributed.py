"""Data-parallel training over MPI: every process (rank) holds the whole model and the whole data
set, trains on its own rows of every batch, and the ranks average their gradients before every
update, so that N ranks take the steps of one process, within float rounding.

Launch a script with ``mpiexec -n N python train.py`` (``pip install 'chainrule[mpi]'`` brings
mpi4py and the MPICH wheel, whose ``mpiexec`` lands beside the venv's python); the script calls
``chainrule.distributed.init()`` first (``fit`` and ``chainrule train`` do it themselves). Until
``init()`` runs, and whenever mpi4py is absent, every function here acts for a world of one
process: rank 0, world size 1, nothing to communicate.

Semantics, chosen once for all callers (``fit`` and ``chainrule train`` keep every one):

- Data: every rank loads the same data set. ``fit`` checks that before its first collective
  (``check_same_data``: sample counts, shapes, dtypes and a digest of the values) and stops on
  every rank with a ValueError naming the ranks and what they hold.
- Batches: ``batch_size`` is per rank, so the global batch is ``batch_size * N``. Every rank draws
  the same epoch permutation from chainrule's generator (equal on every rank: see
  ``broadcast_rng_state``) and cuts it into global batches exactly as one process with the global
  batch does; rank r takes rows r, r + N, ... of each. Nothing is padded or dropped: the last
  batch may be short, and a rank's rows of it may be none: that rank then skips the forward and
  backward pass and adds nothing to the average (``count`` 0).
- Gradients: ``average_gradients(parameters, loss, count)`` weights each rank's mean gradient by
  its row count ``count``: the result is the global batch's mean gradient, whatever the batch
  sizes. One in-place Allreduce per step on a flat buffer (one per dtype); a gradient that is None
  on a rank counts as zeros there, and stays None only if it is None on every rank. This assumes
  a loss that is a mean over the batch's samples (the losses' default ``reduction='mean'``, without
  class weights or ``ignore_index``); a sum, or a mean over a rank-dependent subset, is not.
- Random ops in the forward pass (``nn.Dropout``, ``nn.functional.dropout`` and so the recurrent
  layers' dropout between layers) draw their numbers for the whole global batch on every rank and
  keep the rows of this rank (``chainrule.random.batch_random``), so a sample gets the mask it gets
  in one process. Dropout on an input whose first axis is not the batch (sequence-first) draws
  numbers of this rank's own instead: equal to one process in distribution only. After every
  epoch every rank takes rank 0's generator (a rank without rows in the last batch drew nothing).
- Batch norm (the exception): batch statistics and running statistics are local to each rank
  (no SyncBatchNorm), so a model with batch norm does not reproduce one process, and a rank whose
  share of a batch is a single row fails in training mode, as one process fails on a batch of one;
  ``broadcast_buffers`` after each epoch makes every rank use rank 0's running statistics.
- Metrics are averaged over ranks with ``reduce_metrics`` (weighted by samples) before anyone
  looks at them, so that every rank takes the same decisions (early stopping, schedules).
  Validation data is evaluated whole on every rank. Only rank 0 writes checkpoints, logs, plots
  and the progress bar (``is_main``).
- Faults: after ``init()`` with more than one rank, no rank is left waiting forever for a rank
  that left: the job ends with a non-zero exit and a line on stderr naming the rank and how it
  left. An uncaught exception prints the rank and its traceback, then aborts every rank at once
  (``MPI_Abort``, exit code 1); so does ``os._exit`` with a non-zero code (with that code). A rank
  that ends any other way (``sys.exit`` with any code, as every handled error of the command line
  does; ``raise SystemExit``; the end of its script; ``os._exit(0)``) tells the other ranks how
  many of this module's collectives it joined and waits for them to end too (Python does not tell
  exit handlers the exit code). A rank that waits in one of this module's collectives that the
  leaver never joined, or arrives in one later, then aborts every rank with exit code 1, naming
  the leaver and the collective (the leaver's own stderr says why it left); ranks that finish as
  well end normally. A rank killed by a signal (SIGKILL, SIGTERM) is left to MPICH's ``mpiexec``,
  which kills the other ranks at once and exits with the signal's number, naming the process id
  and host (not the rank). Not covered: a collective the script makes with mpi4py directly keeps
  waiting for a rank that left through a clean exit.
"""

import atexit
import hashlib
import itertools
import json
import os
import sys
import time

import numpy as np

from chainrule import random
from chainrule._tensor import Tensor

_comm = None  # mpi4py's COMM_WORLD once init() ran; None means a world of one process
_mpi = None  # the mpi4py.MPI module (for IN_PLACE, SUM, ANY_SOURCE, Status)
_layouts = {}  # the flat gradient buffers of average_gradients, by parameter list

# Leaving: how a rank that exits tells the others (see the module docstring, "Faults").
_control = None  # a duplicate of COMM_WORLD that carries only the leaving notices
_LEAVING = 1  # the notices' tag
_completed = 0  # collectives of this module this rank completed: a leaver's count says which it joined
_left = {}  # rank -> (its completed collectives, its exit code or -1 unknown), for ranks that left
_leaving = False  # this rank is leaving: nothing may start the protocol again
_pid = None  # the process that ran init() (a forked child's os._exit is its own business)
_hard_exit = os._exit  # the real one: init() wraps os._exit


def init() -> None:
    """Join the world that ``mpiexec`` started: rank and world size come from mpi4py's COMM_WORLD.

    With more than one rank it also makes any exit of this rank stop every rank (the module
    docstring, "Faults"): it installs a ``sys.excepthook``, an ``atexit`` handler and a thin
    wrapper around ``os._exit`` (which skips both). Calling it again does nothing.
    """
    global _comm, _mpi, _control, _pid
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
        _control, _pid = _comm.Dup(), os.getpid()
        sys.excepthook = _abort_on_error(sys.excepthook)
        os._exit = _leave_before(os._exit)
        atexit.register(_at_exit)


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


# -- a rank that leaves stops every rank --------------------------------------------------------
def _whoami():
    return f"rank {_comm.Get_rank()} of {_comm.Get_size()}"


def _stop_every_rank(message: str | None, code: int) -> None:
    """Print ``message`` (if any) and end every rank of the job (MPI_Abort) with exit code ``code``."""
    global _leaving
    _leaving = True
    sys.stdout.flush()
    if message:
        sys.stderr.write(f"chainrule.distributed: {message}\n")
    sys.stderr.flush()
    time.sleep(0.2)  # the launcher forwards our output as it reads it: give it time before the kill
    _comm.Abort(code)
    _hard_exit(code)  # MPICH's MPI_Abort can return before the launcher ends this process


def _exit_status(status: int) -> int:
    """What the system reports for ``os._exit(status)`` (its low 8 bits), but 1 where a non-zero
    status would read as success (256)."""
    return status & 0xFF or (1 if status else 0)


def _abort_on_error(previous):
    def hook(kind, value, traceback):
        sys.stderr.write(f"chainrule.distributed: {_whoami()} failed with {kind.__name__}: {value}; "
                         f"aborting all ranks\n")
        previous(kind, value, traceback)
        _stop_every_rank(None, 1)

    return hook


def _leave_before(os_exit):
    def leave_then_exit(status, /):
        if isinstance(status, int):
            _leave(_exit_status(status))
        os_exit(status)

    leave_then_exit.__doc__ = os_exit.__doc__
    return leave_then_exit


def _at_exit():
    # Python does not tell atexit handlers the exit code (sys.exit's or a SystemExit's): unknown
    _leave(None)


def _receive_notices() -> None:
    """Take in the leaving notices other ranks sent (into ``_left``)."""
    status = _mpi.Status()
    while _control.Iprobe(source=_mpi.ANY_SOURCE, tag=_LEAVING, status=status):
        source, notice = status.Get_source(), np.empty(2, np.int64)
        _control.Recv(notice, source=source, tag=_LEAVING)
        _left[source] = (int(notice[0]), int(notice[1]))


def _how_it_left(code):
    return "ended (sys.exit, SystemExit or the end of its script)" if code < 0 else f"called os._exit({code})"


def _leave(code: int | None) -> None:
    """This rank is ending, with exit status ``code`` (``os._exit``'s) or None (unknown). A non-zero
    code stops every rank now. Otherwise tell every other rank how many collectives this one completed, then wait
    until each has left too; one waiting in a collective this rank never joins stops the job."""
    global _leaving
    if _comm is None or _leaving or os.getpid() != _pid or _mpi.Is_finalized():  # a forked child; MPI ended
        return
    _leaving = True
    if code:
        _stop_every_rank(f"{_whoami()} called os._exit({code}); stopping every rank", code)
    me, world = _comm.Get_rank(), _comm.Get_size()
    notice = np.array([_completed, -1 if code is None else code], np.int64)
    sends = [_control.Isend(notice, dest=other, tag=_LEAVING) for other in range(world) if other != me]
    polls = 0
    while True:
        _receive_notices()
        if len(_left) == world - 1:
            break
        polls += 1
        time.sleep(0 if polls < 1000 else 0.001)
    _mpi.Request.Waitall(sends)


def _wait(request, what: str) -> None:
    """Wait until this rank's part of the collective ``what`` (a request) is done. A rank that left
    without joining it never will: then stop every rank, naming it, instead of waiting forever."""
    global _completed
    polls = 0
    while not request.Test():
        _receive_notices()
        for other, (completed, code) in _left.items():
            if completed <= _completed:
                _stop_every_rank(
                    f"rank {other} of {_comm.Get_size()} {_how_it_left(code)} while rank {_comm.Get_rank()} "
                    f"waited for it in {what}; stopping every rank", 1)
        polls += 1
        if polls > 2000:  # a long wait (another rank writes a checkpoint): leave the cores to it
            time.sleep(0.0002)
    _completed += 1


def rank() -> int:
    """This process's rank, 0 .. world_size() - 1 (0 without MPI)."""
    return 0 if _comm is None else _comm.Get_rank()


_rank = rank  # for the functions below whose argument is called rank


def world_size() -> int:
    """The number of ranks (1 without MPI)."""
    return 1 if _comm is None else _comm.Get_size()


def batches_per_epoch(n_samples: int, batch_size: int) -> int:
    """Steps in an epoch of ``n_samples`` with ``batch_size`` rows per rank: every step takes a
    global batch of ``batch_size`` x N samples (the last may be short), as ``fit`` cuts them.

    >>> batches_per_epoch(1293, 64)
    21
    """
    return -(-n_samples // (batch_size * world_size()))


def is_main() -> bool:
    """True on rank 0, the one rank that writes checkpoints, logs, plots and progress."""
    return rank() == 0


def is_distributed() -> bool:
    """True when more than one rank trains."""
    return world_size() > 1


def barrier() -> None:
    """Wait until every rank got here."""
    if is_distributed():
        _wait(_comm.Ibarrier(), "barrier")


# -- objects between ranks (JSON, never pickles) ------------------------------------------------
def _json_bytes(obj) -> np.ndarray:
    return np.frombuffer(bytearray(json.dumps(obj).encode()), np.uint8)


def _bcast_json(obj, what: str):
    """Rank 0's ``obj`` (anything JSON holds) on every rank."""
    main = is_main()
    data = _json_bytes(obj) if main else None
    size = np.array([len(data) if main else 0], np.int64)
    _wait(_comm.Ibcast(size, root=0), what)
    if not main:
        data = np.empty(int(size[0]), np.uint8)
    _wait(_comm.Ibcast(data, root=0), what)
    return json.loads(data.tobytes())


def _allgather_json(obj, what: str) -> list:
    """Every rank's ``obj`` (anything JSON holds), in rank order, on every rank."""
    mine = _json_bytes(obj)
    sizes = np.empty(world_size(), np.int64)
    _wait(_comm.Iallgather(np.array([len(mine)], np.int64), sizes), what)
    everything = np.empty(int(sizes.sum()), np.uint8)
    _wait(_comm.Iallgatherv(mine, [everything, sizes]), what)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    return [json.loads(everything[a:b].tobytes()) for a, b in itertools.pairwise(starts)]


# -- the same data on every rank ----------------------------------------------------------------
def _describe(arrays) -> dict:
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        if array.dtype.kind == "O":  # Python objects: their bytes are addresses, not values
            digest = None
            break
        digest.update(np.ascontiguousarray(array).data)
    return {"samples": len(arrays[0]), "arrays": [[list(a.shape), a.dtype.name] for a in arrays],
            "digest": None if digest is None else digest.hexdigest()}


def _by_rank(described, show) -> str:
    return ", ".join(f"rank {r}: {show(d)}" for r, d in enumerate(described))


def check_same_data(train: tuple, val: tuple | None = None) -> None:
    """Raise a ValueError on every rank unless every rank holds the same ``train`` and ``val``
    (pairs of arrays): every rank trains on its rows of the same global batches, so ranks holding
    different sample counts would wait for each other forever (or crash in MPI), and different
    values would mix two data sets. ``fit`` calls it before its first collective. The training
    set needs a sample for each rank."""
    if not is_distributed():
        return
    everyone = _allgather_json([_describe(train), None if val is None else _describe(val)], "check_same_data")
    world = world_size()
    for index, what in enumerate(("fit", "fit(val_data)")):
        described = [mine[index] for mine in everyone]
        if any(d is None for d in described):
            if all(d is None for d in described):
                continue
            raise ValueError(f"{what}: given on some ranks only: "
                             + _by_rank(described, lambda d: "none" if d is None else f"{d['samples']} samples"))
        if len({d["samples"] for d in described}) > 1:
            raise ValueError(
                f"{what}: every rank must hold the same data set (each trains on its rows of every batch), "
                f"but the ranks hold different numbers of samples: {_by_rank(described, lambda d: d['samples'])}"
            )
        if len({json.dumps(d["arrays"]) for d in described}) > 1:
            shapes = _by_rank(described, lambda d: " and ".join(f"{tuple(s)} {t}" for s, t in d["arrays"]))
            raise ValueError(f"{what}: every rank must hold the same data set, but the ranks hold arrays of "
                             f"different shapes or dtypes: {shapes}")
        differ = [r for r, d in enumerate(described) if d["digest"] != described[0]["digest"]]
        if differ:
            raise ValueError(
                f"{what}: every rank must hold the same data set, but ranks {differ} hold other values than "
                f"rank 0 (same sample counts and shapes): load the same file on every host"
            )
        if what == "fit" and described[0]["samples"] < world:
            raise ValueError(f"{what}: {described[0]['samples']} samples cannot give each of {world} ranks a share; "
                             f"use at most {described[0]['samples']} ranks")


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
    layout = [[list(a.shape), a.dtype.str, _order(a)] for a in arrays]
    expected = _bcast_json(layout, what)
    if layout != expected:
        show = lambda rows: [(tuple(s), t, o) for s, t, o in rows]
        raise RuntimeError(
            f"{what}: rank {rank()} holds {len(layout)} arrays (shape, dtype, memory order) {show(layout)}, "
            f"rank 0 holds {len(expected)}: {show(expected)}; every rank must build the same model"
        )
    main = is_main()
    for dtype, members in _groups(arrays).items():
        if main:
            flat = np.concatenate([arrays[i].ravel() for i in members])
        else:
            flat = np.empty(sum(arrays[i].size for i in members), dtype)
        _wait(_comm.Ibcast(flat, root=0), what)
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
        _broadcast([t._data for t in tensors], "broadcast_parameters")


def broadcast_buffers(model) -> None:
    """Copy rank 0's buffers (batch norm running statistics) into every rank's ``model``; call it
    after each epoch so that evaluation gives the same result on every rank."""
    if is_distributed():
        _broadcast([t._data for t in model.buffers()], "broadcast_buffers")


def broadcast_rng_state() -> None:
    """Give every rank rank 0's random generator state, so that all ranks draw the same shuffles
    (and the same dropout numbers) even when the script seeded them differently or not at all."""
    if is_distributed():
        random.set_rng_state(_bcast_json(random.get_rng_state() if is_main() else None, "broadcast_rng_state"))


# -- every step ---------------------------------------------------------------------------
class _FlatGradients:
    """One contiguous buffer per dtype holding every parameter's gradient, then one count per
    parameter (ranks that had a gradient), then (first buffer only) the loss and the rank's
    weight: one Allreduce each."""

    def __init__(self, params):
        self.params = params
        self.buffers = []
        for dtype, members in _groups([p._data for p in params]).items():
            sizes = [params[i]._data.size for i in members]
            total = sum(sizes)
            buffer = np.zeros(total + len(members) + 2 * (not self.buffers), dtype)
            views, start = [], 0
            for i, size in zip(members, sizes):
                # in the parameter's own memory order, so the optimizer's passes stay contiguous
                views.append(buffer[start:start + size].reshape(params[i]._data.shape, order=_order(params[i]._data)))
                start += size
            self.buffers.append((buffer, members, views, total))
        if not self.buffers:  # no parameters: the loss and weight still need their slots
            self.buffers.append((np.zeros(2), [], [], 0))

    def average(self, loss, weight):
        mean_loss, weights = None, 1.0
        for k, (buffer, members, views, total) in enumerate(self.buffers):
            counts = buffer[total:total + len(members)]
            for j, (i, view) in enumerate(zip(members, views)):
                grad = self.params[i]._grad
                grad = None if grad is None else grad._data
                if grad is None or weight == 0:  # no rows here: nothing to add (not even 0 * nan)
                    view[...] = 0
                elif weight != 1:
                    np.multiply(grad, weight, out=view)
                elif grad is not view:
                    np.copyto(view, grad)
                counts[j] = grad is not None
            if k == 0:
                buffer[-2] = 0.0 if loss is None or weight == 0 else loss * weight
                buffer[-1] = weight
            _wait(_comm.Iallreduce(_mpi.IN_PLACE, buffer, op=_mpi.SUM), "average_gradients")
            if k == 0:
                weights = float(buffer[-1]) or 1.0
                if loss is not None:
                    mean_loss = float(buffer[-2]) / weights
            np.divide(buffer[:total], weights, out=buffer[:total])
            for j, (i, view) in enumerate(zip(members, views)):
                p = self.params[i]
                if counts[j] == 0:
                    p._grad = None
                elif p._grad is None or p._grad._data is not view:  # the same .grad Tensor, step after step
                    p._grad = Tensor._make(view, False, None)
        return mean_loss


def average_gradients(parameters, loss: float | None = None, count: int | None = None) -> float | None:
    """Replace every parameter's gradient by its mean over the ranks; call it after each backward,
    before clipping and the optimizer step.

    ``count``: the samples of the batch on this rank; each rank's gradient then weighs by it, which
    makes the result the whole global batch's mean gradient when the loss is a mean over samples,
    also when the ranks hold different numbers of rows (the last batch) or none (count 0, any
    gradient ignored). Without ``count`` every rank weighs the same.

    One in-place Allreduce per step (per dtype) on a preallocated flat buffer; afterwards the
    ``.grad`` arrays are views of that buffer. A rank whose gradient is None contributes zeros;
    a gradient None on every rank stays None (the optimizer skips it, as in one process).
    Parameters that do not require grad are left out. ``loss`` (this rank's batch loss) rides
    in the same Allreduce (in the first parameter's dtype): its mean over the ranks, weighted
    likewise, is returned (None when not given).
    """
    if not is_distributed():
        return None if loss is None else float(loss)
    if count is not None and (isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0):
        raise ValueError(f"average_gradients: count must be this rank's number of samples (>= 0), got {count!r}")
    params, seen = [], set()
    for p in parameters:
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            params.append(p)
    key = tuple((id(p), p._data.shape, p._data.dtype.str) for p in params)
    layout = _layouts.get(key)
    if layout is None:
        if len(_layouts) >= 8:  # a few models (a GAN's two) keep theirs; anything more starts over
            _layouts.clear()
        layout = _layouts[key] = _FlatGradients(params)
    return layout.average(None if loss is None else float(loss), 1 if count is None else count)


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
    values = np.array([*(float(metrics[k]) * count if count else 0.0 for k in keys), count], dtype=np.float64)
    _wait(_comm.Iallreduce(_mpi.IN_PLACE, values, op=_mpi.SUM), "reduce_metrics")
    reduced = dict(metrics)
    for k, total in zip(keys, values[:-1]):
        reduced[k] = float(total / values[-1]) if values[-1] else float("nan")  # no samples anywhere
    return reduced


# -- for loops of one's own: this rank's samples ----------------------------------------------
def shard(order, rank: int | None = None, world: int | None = None, drop_last: bool = False) -> np.ndarray:
    """This rank's share of an epoch's sample ``order``: positions rank, rank + world, ...
    (PyTorch's DistributedSampler; ``fit`` does not pad, see the module docstring).

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

    def set_epoch(self, epoch: int) -> None:
        """For PyTorch's loops (``sampler.set_epoch(epoch)`` before each epoch): the number is kept
        as ``epoch``, but the order does not depend on it, since every ``iter`` already draws a new
        one from chainrule's generator (PyTorch's draws from seed + epoch)."""
        self.epoch = epoch

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = (random.get_generator() if self.generator is None else self.generator).permutation(n)
        else:
            order = np.arange(n)
        return iter(shard(order, self.rank, self.num_replicas, self.drop_last).tolist())
