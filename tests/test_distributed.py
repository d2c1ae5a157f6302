"""Data-parallel training over MPI: mpiexec -n 2 ends with the parameters of one process trained on
the same global batches; a failing rank stops the whole job; and, in this process, the pieces
(shards, flat-buffer averaging, broadcasts, metrics) against a stand-in communicator."""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import distributed, nn
from chainrule.train.loop import Trainer

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "mpi_scripts"


# -- launching real MPI jobs ----------------------------------------------------------------
def _launch(args, timeout):
    """Run ``args`` in its own process group; (returncode, stdout, stderr, seconds). A job that
    outlives ``timeout`` is killed with everything it started and fails the test."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    started = time.monotonic()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(args)} still ran after {timeout} s; stdout:\n{out}\nstderr:\n{err}")
    return proc.returncode, out, err, time.monotonic() - started


@pytest.fixture(scope="module")
def mpiexec():
    """The mpiexec command for 2 ranks, or a skip saying why MPI cannot start here."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("MPI tests need mpi4py and an MPI library: pip install 'chainrule[mpi]'")
    beside = Path(sys.executable).with_name("mpiexec")  # the mpich wheel puts it beside python
    launcher = str(beside) if beside.exists() else shutil.which("mpiexec")
    if launcher is None:
        pytest.skip("MPI tests need an mpiexec (the mpich wheel: pip install 'chainrule[mpi]')")
    command = [launcher, "-n", "2", sys.executable]
    probe = "from mpi4py import MPI; assert MPI.COMM_WORLD.Get_size() == 2"
    try:
        code, out, err, _ = _launch([*command, "-c", probe], timeout=60)
    except OSError as error:
        pytest.skip(f"mpiexec cannot start a 2-rank job here: {error}")
    if code != 0:
        last = (out + err).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"mpiexec cannot start a 2-rank job here (exit {code}): {last[0]}")
    return command


def _load_script(name):
    spec = importlib.util.spec_from_file_location(f"mpi_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def two_rank_run(mpiexec, tmp_path_factory):
    out = tmp_path_factory.mktemp("mpi") / "two_ranks.npz"
    code, stdout, stderr, _ = _launch([*mpiexec, str(SCRIPTS / "train_equivalence.py"), str(out)], timeout=90)
    assert code == 0, f"mpiexec exited {code}; stdout:\n{stdout}\nstderr:\n{stderr}"
    with np.load(out) as saved:
        return dict(saved)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-5)])
def test_two_ranks_train_like_one_process(two_rank_run, dtype, tol):
    script = _load_script("train_equivalence")
    assert int(two_rank_run["world"]) == 2
    # Rank 1 initialised from another seed: after training every rank holds rank 0's result.
    assert float(two_rank_run[f"{dtype}_spread"]) == 0.0
    model, history = script.train(dtype, Trainer, script.GLOBAL_BATCH)
    for key, value in model.state_dict().items():
        mpi = two_rank_run[f"{dtype}/{key}"]
        assert mpi.dtype == value.dtype, key
        np.testing.assert_allclose(mpi, value, rtol=0, atol=tol, err_msg=key)
    cr.manual_seed(100)
    initial = script.Net().to(dtype)
    assert np.abs(model.out.weight.data - initial.out.weight.data).max() > 1000 * tol  # training moved it
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(two_rank_run[f"{dtype}_history/{key}"], history[key], rtol=0, atol=tol,
                                   err_msg=key)


def test_two_ranks_pieces(two_rank_run):
    # Batch norm statistics are local, then rank 0's are broadcast after each epoch.
    assert float(two_rank_run["batch_norm_buffer_spread"]) == 0.0
    # Accuracy 0 over 1 sample on rank 0 and 1 over 2 samples on rank 1.
    assert float(two_rank_run["reduced_accuracy"]) == pytest.approx(2 / 3, abs=1e-15)
    assert bool(two_rank_run["reduced_epoch_is_int"])
    # `a` had a gradient (6) on rank 0 only: None counts as zeros. `c` had none anywhere.
    np.testing.assert_array_equal(two_rank_run["grad_a"], [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(two_rank_run["grad_b"], [0.5, 1.5, 2.5])
    assert bool(two_rank_run["grad_c_is_none"])
    assert float(two_rank_run["mean_loss"]) == 0.5
    shards = two_rank_run["sampler_shards"]
    assert shards.shape == (2, 6)
    cr.manual_seed(5)
    order = cr.random.get_generator().permutation(11)
    np.testing.assert_array_equal(shards[0], order[0::2])
    np.testing.assert_array_equal(shards[1], [*order[1::2], order[0]])


def test_a_failing_rank_stops_every_rank(mpiexec):
    code, out, err, seconds = _launch([*mpiexec, str(SCRIPTS / "fail_one_rank.py")], timeout=30)
    assert code != 0
    assert seconds < 30
    assert "rank 1 of 2 failed with ValueError: deliberate failure on rank 1" in err
    assert "Traceback" in err
    assert "got past" not in out


# -- a world of one process (no init) -------------------------------------------------------
def test_world_of_one():
    assert distributed._comm is None, "no test may leave MPI initialised in the test process"
    assert (distributed.rank(), distributed.world_size()) == (0, 1)
    assert distributed.is_main() and not distributed.is_distributed()
    distributed.barrier()
    model = nn.Linear(3, 2)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    distributed.broadcast_parameters(model)
    distributed.broadcast_buffers(model)
    distributed.broadcast_rng_state()
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    grad = np.ones((2, 3), np.float32)
    model.weight.grad = grad
    assert distributed.average_gradients(model.parameters(), loss=np.float32(1.5)) == 1.5
    assert distributed.average_gradients(model.parameters()) is None
    assert model.weight.grad is grad and model.bias.grad is None
    metrics = {"loss": 0.25, "epoch": 2}
    reduced = distributed.reduce_metrics(metrics, count=7)
    assert reduced == metrics and reduced is not metrics
    np.testing.assert_array_equal(distributed.shard([4, 2, 9]), [4, 2, 9])
    assert list(distributed.DistributedSampler(range(4), shuffle=False)) == [0, 1, 2, 3]


def test_init_without_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes `import mpi4py` fail
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[mpi\]'"):
        distributed.init()
    assert distributed._comm is None


# -- shards ---------------------------------------------------------------------------------
@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [1, 2, 5, 8, 11, 12])
def test_shards_are_equal_and_cover_the_order(n, world):
    order = np.random.default_rng(n).permutation(n) + 100
    padded = [distributed.shard(order, r, world) for r in range(world)]
    assert {len(s) for s in padded} == {-(-n // world)}
    together = np.concatenate(padded)
    assert sorted(set(together.tolist())) == sorted(order.tolist())  # every sample, none lost
    extra = len(together) - n
    assert extra == (-n) % world
    # the padding repeats the first samples of the order (cycling if it is shorter), nothing else
    assert Counter(together.tolist()) - Counter(order.tolist()) == Counter(np.resize(order, extra).tolist())
    dropped = [distributed.shard(order, r, world, drop_last=True) for r in range(world)]
    assert {len(s) for s in dropped} == {n // world}
    together = np.concatenate(dropped).tolist()
    assert len(set(together)) == len(together)  # disjoint
    assert sorted(together) == sorted(order[:n - n % world].tolist())


@pytest.mark.parametrize("world", [2, 4])
def test_rank_batches_make_up_the_global_batch(world):
    order, global_batch = np.random.default_rng(0).permutation(48), 8
    shards = [distributed.shard(order, r, world) for r in range(world)]
    local = global_batch // world
    for step in range(48 // global_batch):
        pieces = np.concatenate([s[step * local:(step + 1) * local] for s in shards])
        assert sorted(pieces) == sorted(order[step * global_batch:(step + 1) * global_batch])


def test_shard_rejects_a_bad_rank():
    with pytest.raises(ValueError, match="rank 2, world 2"):
        distributed.shard(np.arange(4), 2, 2)
    with pytest.raises(ValueError, match="num_replicas"):
        distributed.DistributedSampler(range(4), num_replicas=2, rank=-1)


def test_sampler_shards_one_permutation():
    cr.manual_seed(3)
    shards = [list(distributed.DistributedSampler(range(10), num_replicas=3, rank=r)) for r in range(3)]
    for r in range(1, 3):  # each sampler drew its own permutation: rewind the generator between
        cr.manual_seed(3)
        shards[r] = list(distributed.DistributedSampler(range(10), num_replicas=3, rank=r))
    cr.manual_seed(3)
    order = cr.random.get_generator().permutation(10)
    assert shards == [distributed.shard(order, r, 3).tolist() for r in range(3)]
    assert len(distributed.DistributedSampler(range(10), num_replicas=3, rank=0)) == 4
    assert len(distributed.DistributedSampler(range(10), num_replicas=3, rank=0, drop_last=True)) == 3


# -- the collectives against a stand-in communicator ----------------------------------------
class FakeMPI:
    IN_PLACE = object()
    SUM = object()


class FakeComm:
    """One rank of a pretend world. Each collective records what this rank sent (``sent``) and
    adds what the other rank sent in the same call (``received``, e.g. another FakeComm's
    ``sent``): a world of two, replayed one rank after the other."""

    def __init__(self, rank, size=2, received=()):
        self.rank, self.size = rank, size
        self.sent, self.received, self.aborted = [], list(received), None
        self.calls = []

    def _other(self):
        i = len(self.sent) - 1
        return self.received[i] if i < len(self.received) else None

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.size

    def Allreduce(self, sendbuf, recvbuf, op):
        assert sendbuf is FakeMPI.IN_PLACE and op is FakeMPI.SUM
        self.calls.append(("Allreduce", recvbuf))
        self.sent.append(recvbuf.copy())
        if self._other() is not None:
            recvbuf += self._other()

    def Bcast(self, buf, root=0):
        self.calls.append(("Bcast", buf))
        self.sent.append(buf.copy())
        if self.rank != root:
            buf[...] = self._other()

    def bcast(self, obj, root=0):
        self.sent.append(obj)
        return obj if self.rank == root else self._other()

    def Barrier(self):
        self.calls.append(("Barrier", None))

    def Abort(self, code):
        self.aborted = code


@pytest.fixture
def world(monkeypatch):
    """world(comm) makes ``comm`` this process's world until the test ends."""
    monkeypatch.setattr(distributed, "_layouts", {})

    def use(comm):
        monkeypatch.setattr(distributed, "_comm", comm)
        monkeypatch.setattr(distributed, "_mpi", FakeMPI)
        return comm

    return use


def _grads(params, values):
    for p, v in zip(params, values):
        p.grad = None if v is None else np.asarray(v, p.data.dtype)


def test_average_gradients_one_allreduce_on_a_flat_buffer(world):
    shapes = [(2, 3), (3,), (4,), (1,)]
    mine = [cr.tensor(np.zeros(s, np.float32), requires_grad=True) for s in shapes]
    theirs = [cr.tensor(np.zeros(s, np.float32), requires_grad=True) for s in shapes]
    frozen = cr.tensor(np.zeros(2, np.float32))  # requires_grad False: left out
    g_mine = [np.arange(6.0).reshape(2, 3), [1.0, 2.0, 3.0], None, None]
    g_theirs = [np.ones((2, 3)), [3.0, 2.0, 1.0], [8.0, 0.0, 2.0, 4.0], None]
    rank1 = world(FakeComm(1))
    _grads(theirs, g_theirs)
    distributed.average_gradients([*theirs, frozen], loss=3.0)
    world(FakeComm(0, received=rank1.sent))
    _grads(mine, g_mine)
    distributed._layouts.clear()  # rank 0 builds its own buffer, as on its own machine
    mean_loss = distributed.average_gradients([*mine, mine[0], frozen], loss=1.0)
    comm = distributed._comm
    assert [name for name, _ in comm.calls] == ["Allreduce"]  # one call for all parameters
    flat = comm.calls[0][1]
    assert flat.dtype == np.float32 and flat.flags.c_contiguous
    for p in mine[:3]:
        assert np.shares_memory(p.grad, flat)  # the gradients are views of the flat buffer
    np.testing.assert_array_equal(mine[0].grad, (np.arange(6.0).reshape(2, 3) + 1) / 2)
    np.testing.assert_array_equal(mine[1].grad, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(mine[2].grad, [4.0, 0.0, 1.0, 2.0])  # None on rank 0 counts as zeros
    assert mine[3].grad is None  # None on every rank stays None
    assert frozen.grad is None
    assert mean_loss == 2.0
    assert mine[0].grad.dtype == np.float32
    # The next step reuses the buffer: one more Allreduce, on the same array.
    _grads(mine, [np.ones((2, 3)), None, None, [5.0]])
    distributed.average_gradients(mine)
    assert [name for name, _ in comm.calls] == ["Allreduce", "Allreduce"] and comm.calls[1][1] is flat
    np.testing.assert_array_equal(mine[3].grad, [2.5])  # the other rank sent nothing this time


def test_average_gradients_keeps_views_and_groups_dtypes(world):
    a = cr.tensor(np.zeros(3), requires_grad=True)  # float64
    b = cr.tensor(np.zeros(2, np.float32), requires_grad=True)
    comm = world(FakeComm(0, received=[]))  # no other contributions: the sum is our own buffer
    a.grad, b.grad = np.full(3, 4.0), np.full(2, 6.0, np.float32)
    distributed.average_gradients([a, b])
    assert sorted(buf.dtype.str for _, buf in comm.calls) == ["<f4", "<f8"]  # one Allreduce per dtype
    np.testing.assert_array_equal(a.grad, [2.0, 2.0, 2.0])  # divided by the world of two
    view = a.grad
    a.grad += 1.0  # accumulating into the view (zero_grad(set_to_none=False) keeps it) works too
    distributed.average_gradients([a, b])
    assert a.grad is view
    np.testing.assert_array_equal(a.grad, [1.5, 1.5, 1.5])


def test_broadcast_parameters_copies_rank0_parameters_and_buffers(world):
    def model(seed):
        cr.manual_seed(seed)
        net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
        net.train()
        net(cr.tensor(np.random.default_rng(seed).normal(size=(5, 3)).astype(np.float32)))  # move buffers
        return net

    main, other = model(0), model(1)
    assert not np.array_equal(main[1].running_mean.data, other[1].running_mean.data)
    rank0 = world(FakeComm(0))
    distributed.broadcast_parameters(main)
    world(FakeComm(1, received=rank0.sent))
    distributed.broadcast_parameters(other)
    assert sorted(call[1].dtype.str for call in distributed._comm.calls) == ["<f4", "<i8"]  # one per dtype
    for (key, value), expected in zip(other.state_dict().items(), main.state_dict().values()):
        np.testing.assert_array_equal(value, expected, err_msg=key)
    # broadcast_buffers: the buffers alone
    main[1].running_var.data[...] = 7.0
    rank0 = world(FakeComm(0))
    distributed.broadcast_buffers(main)
    world(FakeComm(1, received=rank0.sent))
    distributed.broadcast_buffers(other)
    np.testing.assert_array_equal(other[1].running_var.data, 7.0)


def test_broadcast_parameters_names_a_different_model(world):
    rank0 = world(FakeComm(0))
    distributed.broadcast_parameters(nn.Linear(3, 4))
    world(FakeComm(1, received=rank0.sent))
    message = r"rank 1 holds 2 arrays.*\(5, 3\).*every rank must build the same model"
    with pytest.raises(RuntimeError, match=message):
        distributed.broadcast_parameters(nn.Linear(3, 5))


def test_broadcast_rng_state(world):
    cr.manual_seed(11)
    rank0 = world(FakeComm(0))
    distributed.broadcast_rng_state()
    expected = cr.random.get_generator().permutation(20)
    cr.manual_seed(12)
    world(FakeComm(1, received=rank0.sent))
    distributed.broadcast_rng_state()
    np.testing.assert_array_equal(cr.random.get_generator().permutation(20), expected)


def test_reduce_metrics_weights_by_count(world):
    rank1 = world(FakeComm(1))
    distributed.reduce_metrics({"loss": 1.0, "accuracy": np.float32(0.5), "epoch": 4, "tag": "x"}, count=3)
    world(FakeComm(0, received=rank1.sent))
    reduced = distributed.reduce_metrics({"loss": 3.0, "accuracy": np.float32(1.0), "epoch": 4, "tag": "x"},
                                         count=1)
    assert reduced["loss"] == pytest.approx((3.0 * 1 + 1.0 * 3) / 4, abs=1e-15)
    assert reduced["accuracy"] == pytest.approx((1.0 + 0.5 * 3) / 4, abs=1e-15)
    assert reduced["epoch"] == 4 and reduced["tag"] == "x"
    assert len(distributed._comm.calls) == 1


def test_init_reads_comm_world_and_aborts_on_an_uncaught_error(monkeypatch, capsys):
    comm = FakeComm(1, size=2)
    fake = types.ModuleType("mpi4py.MPI")
    fake.COMM_WORLD, fake.IN_PLACE, fake.SUM = comm, FakeMPI.IN_PLACE, FakeMPI.SUM
    package = types.ModuleType("mpi4py")
    package.MPI = fake
    monkeypatch.setitem(sys.modules, "mpi4py", package)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", fake)
    monkeypatch.setattr(distributed, "_comm", None)
    monkeypatch.setattr(distributed, "_mpi", None)
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    distributed.init()
    distributed.init()  # a second call changes nothing
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (1, 2, False)
    assert distributed.is_distributed()
    try:
        raise ValueError("broken batch")
    except ValueError as error:
        sys.excepthook(ValueError, error, error.__traceback__)
    err = capsys.readouterr().err
    assert "rank 1 of 2 failed with ValueError: broken batch" in err and "Traceback" in err
    assert comm.aborted == 1


def test_the_command_line_trains_unchanged_under_mpiexec(mpiexec, tmp_path):
    run = tmp_path / "run"
    code, out, err, _ = _launch([*mpiexec, "-m", "chainrule", "train", "--epochs", "2", "--hidden", "16",
                                 "--quiet", "--run-dir", str(run)], timeout=120)
    assert code == 0, err
    assert out.count("test: test_loss") == 1  # rank 0 alone reports ...
    assert (run / "model.safetensors").exists() and (run / "checkpoint.safetensors").exists()  # ... and writes


def test_launcher_variables_decide_whether_fit_joins_mpi(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(name, raising=False)
    assert not distributed.launched_by_mpiexec()
    monkeypatch.setenv("PMI_SIZE", "1")
    assert not distributed.launched_by_mpiexec()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert distributed.launched_by_mpiexec()
