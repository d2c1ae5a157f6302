"""Data-parallel training over MPI: mpiexec -n 2 and -n 3 end with the parameters of one process
trained on the same global batches, with dropout and a short last batch; every way a rank leaves
stops the whole job; ranks holding different data are told before any collective; and, in this
process, the pieces (shards, weighted flat-buffer averaging, broadcasts, metrics, the data check,
the leaving protocol) against a stand-in communicator."""

import atexit
import importlib.util
import json
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


def _mpiexec_for(ranks):
    """The mpiexec command for ``ranks`` ranks, or a skip saying why MPI cannot start here."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("MPI tests need mpi4py and an MPI library: pip install 'chainrule[mpi]'")
    beside = Path(sys.executable).with_name("mpiexec")  # the mpich wheel puts it beside python
    launcher = str(beside) if beside.exists() else shutil.which("mpiexec")
    if launcher is None:
        pytest.skip("MPI tests need an mpiexec (the mpich wheel: pip install 'chainrule[mpi]')")
    command = [launcher, "-n", str(ranks), sys.executable]
    probe = f"from mpi4py import MPI; assert MPI.COMM_WORLD.Get_size() == {ranks}"
    try:
        code, out, err, _ = _launch([*command, "-c", probe], timeout=60)
    except OSError as error:
        pytest.skip(f"mpiexec cannot start a {ranks}-rank job here: {error}")
    if code != 0:
        last = (out + err).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"mpiexec cannot start a {ranks}-rank job here (exit {code}): {last[0]}")
    return command


@pytest.fixture(scope="module")
def mpiexec():
    """The mpiexec command for 2 ranks (or a skip)."""
    return _mpiexec_for(2)


def _load_script(name):
    spec = importlib.util.spec_from_file_location(f"mpi_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=[2, 3], ids=["2 ranks", "3 ranks"])
def mpi_run(request, tmp_path_factory):
    """train_equivalence.py's results under mpiexec -n 2 and -n 3."""
    command = _mpiexec_for(request.param)
    out = tmp_path_factory.mktemp("mpi") / f"ranks_{request.param}.npz"
    code, stdout, stderr, _ = _launch([*command, str(SCRIPTS / "train_equivalence.py"), str(out)], timeout=90)
    assert code == 0, f"mpiexec exited {code}; stdout:\n{stdout}\nstderr:\n{stderr}"
    with np.load(out) as saved:
        return request.param, dict(saved)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-6)])
def test_ranks_train_like_one_process_with_dropout_and_a_short_last_batch(mpi_run, dtype, tol):
    # 43 samples: float64's global batch of 6 leaves one sample for the last batch (ranks without
    # a row), float32's batch of 12 leaves 7 (unequal shares); the model has dropout. Before, the
    # shards were padded with repeated samples, the ranks' gradients weighed alike and every rank
    # drew the same dropout mask for its different samples: the weights differed by 0.2.
    world, saved = mpi_run
    script = _load_script("train_equivalence")
    assert int(saved["world"]) == world
    last = script.N_SAMPLES % script.GLOBAL_BATCH[dtype]
    assert 0 < last < world if dtype == "float64" else last > world and last % world  # no row, or unequal rows
    # Rank 1 initialised from another seed: after training every rank holds rank 0's result.
    assert float(saved[f"{dtype}_spread"]) == 0.0
    model, history = script.train(dtype, Trainer, script.GLOBAL_BATCH[dtype])
    for key, value in model.state_dict().items():
        mpi = saved[f"{dtype}/{key}"]
        assert mpi.dtype == value.dtype, key
        np.testing.assert_allclose(mpi, value, rtol=0, atol=tol, err_msg=key)
    cr.manual_seed(100)
    initial = script.Net().to(dtype)
    assert np.abs(model.out.weight._data - initial.out.weight._data).max() > 1000 * tol  # training moved it
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(saved[f"{dtype}_history/{key}"], history[key], rtol=0, atol=tol,
                                   err_msg=key)


def test_gradients_weighted_by_rows(mpi_run):
    _, saved = mpi_run
    # 3 rows on rank 0, 1 on rank 1, none on a third rank (whose gradient must not count)
    np.testing.assert_array_equal(saved["weighted_grad"], [(3 * 1.0 + 1 * 5.0) / 4] * 2)
    assert float(saved["weighted_loss"]) == (3 * 2.0 + 1 * 6.0) / 4


def test_two_ranks_pieces(mpi_run):
    world, saved = mpi_run
    if world != 2:
        pytest.skip("the pieces are checked for a world of two")
    # Batch norm statistics are local, then rank 0's are broadcast after each epoch.
    assert float(saved["batch_norm_buffer_spread"]) == 0.0
    # Accuracy 0 over 1 sample on rank 0 and 1 over 2 samples on rank 1.
    assert float(saved["reduced_accuracy"]) == pytest.approx(2 / 3, abs=1e-15)
    assert bool(saved["reduced_epoch_is_int"])
    # `a` had a gradient (6) on rank 0 only: None counts as zeros. `c` had none anywhere.
    np.testing.assert_array_equal(saved["grad_a"], [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(saved["grad_b"], [0.5, 1.5, 2.5])
    assert bool(saved["grad_c_is_none"])
    assert float(saved["mean_loss"]) == 0.5
    shards = saved["sampler_shards"]
    assert shards.shape == (2, 6)
    cr.manual_seed(5)
    order = cr.random.get_generator().permutation(11)
    np.testing.assert_array_equal(shards[0], order[0::2])
    np.testing.assert_array_equal(shards[1], [*order[1::2], order[0]])


# Every way rank 1 can leave while rank 0 waits in a collective: (what stderr must say, exit code)
LEAVING = {
    "raise": ("rank 1 of 2 failed with ValueError: deliberate failure on rank 1", 1),
    "sys.exit(2)": ("rank 1 of 2 ended (sys.exit, SystemExit or the end of its script) while rank 0 waited for "
                    "it in average_gradients", 1),
    "sys.exit(0)": ("rank 1 of 2 ended (sys.exit, SystemExit or the end of its script) while rank 0 waited for "
                    "it in average_gradients", 1),
    "raise SystemExit(3)": ("rank 1 of 2 ended (sys.exit, SystemExit or the end of its script) while rank 0 "
                            "waited for it in average_gradients", 1),
    "os._exit(0)": ("rank 1 of 2 called os._exit(0) while rank 0 waited for it in average_gradients", 1),
    "os._exit(3)": ("rank 1 of 2 called os._exit(3); stopping every rank", 3),
    # signals: MPICH's mpiexec ends the job and names the process, on stdout (chainrule cannot run then)
    "SIGTERM": ("Terminated (signal 15)", 15),
    "SIGKILL": ("Killed (signal 9)", 9),
}


@pytest.mark.parametrize("how", list(LEAVING))
def test_every_way_a_rank_leaves_stops_every_rank(mpiexec, how):
    # Before, sys.exit, SystemExit and os._exit(0) left rank 0 waiting forever, os._exit(3)
    # ended the job without a word, os._exit(0) even with exit code 0.
    code, out, err, seconds = _launch([*mpiexec, str(SCRIPTS / "leave_one_rank.py"), how], timeout=60)
    message, expected = LEAVING[how]
    assert seconds < 20
    assert "got past" not in out
    assert code == expected, f"exit {code}; stdout:\n{out}\nstderr:\n{err}"
    assert message in (out + err if how.startswith("SIG") else err), f"stdout:\n{out}\nstderr:\n{err}"
    if how == "raise":
        assert "Traceback" in err


def test_ranks_that_finish_at_different_times_end_normally(mpiexec):
    code, out, err, _ = _launch([*mpiexec, str(SCRIPTS / "leave_one_rank.py"), "finish"], timeout=60)
    assert code == 0, err
    assert "rank 1 finished" in out and "rank 0 finished" in out  # rank 1 waited a second for rank 0
    assert "chainrule.distributed" not in err


def _csv(path, rows, seed):
    x = np.random.default_rng(seed).normal(size=(rows, 3))
    lines = ["a,b,c,label", *(f"{u:.4f},{v:.4f},{w:.4f},{int(u > 0)}" for u, v, w in x)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _train_on_each_rank(mpiexec, paths, run):
    """mpiexec with one `chainrule train` per rank, each reading its own CSV file."""
    launcher, python = mpiexec[0], mpiexec[-1]
    args = [launcher]
    for path in paths:
        if args[-1] != launcher:
            args.append(":")
        args += ["-n", "1", python, "-m", "chainrule", "train", "--data", "csv", "--data-path", str(path),
                 "--label-column", "label", "--epochs", "1", "--hidden", "4", "--quiet", "--run-dir", str(run)]
    return _launch(args, timeout=60)


def test_a_data_file_missing_on_one_host_stops_every_rank(mpiexec, tmp_path):
    # The command line reports the missing file and exits 2 on rank 1; rank 0 used to wait forever.
    data = _csv(tmp_path / "data.csv", 40, 0)
    code, _, err, seconds = _train_on_each_rank(mpiexec, [data, tmp_path / "missing.csv"], tmp_path / "run")
    assert code != 0 and seconds < 20
    assert "missing.csv" in err  # rank 1 says why ...
    assert "rank 1 of 2 ended" in err and "while rank 0 waited for it in check_same_data" in err  # ... rank 0 who


def test_ranks_holding_different_sample_counts_are_told_before_any_collective(mpiexec, tmp_path):
    # Before: MPI's "Message truncated" from inside the first Allreduce.
    paths = [_csv(tmp_path / "a.csv", 60, 0), _csv(tmp_path / "b.csv", 45, 1)]
    code, _, err, seconds = _train_on_each_rank(mpiexec, paths, tmp_path / "run")
    assert code == 2 and seconds < 20, err
    message = "fit: every rank must hold the same data set (each trains on its rows of every batch), but the " \
              "ranks hold different numbers of samples: rank 0: 43, rank 1: 32"
    assert err.count(message) == 2  # on every rank
    assert "truncated" not in err


def test_the_command_line_trains_unchanged_under_mpiexec(mpiexec, tmp_path):
    run = tmp_path / "run"
    code, out, err, _ = _launch([*mpiexec, "-m", "chainrule", "train", "--epochs", "2", "--hidden", "16",
                                 "--quiet", "--run-dir", str(run)], timeout=120)
    assert code == 0, err
    assert out.count("test: test_loss") == 1  # rank 0 alone reports ...
    assert (run / "model.safetensors").exists() and (run / "checkpoint.safetensors").exists()  # ... and writes


# -- a world of one process (no init) -------------------------------------------------------
def test_world_of_one():
    assert distributed._comm is None, "no test may leave MPI initialised in the test process"
    assert (distributed.rank(), distributed.world_size()) == (0, 1)
    assert distributed.is_main() and not distributed.is_distributed()
    distributed.barrier()
    model = nn.Linear(3, 2)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    distributed.broadcast_parameters(model)
    distributed.broadcast_buffers(model)
    distributed.broadcast_rng_state()
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    grad = cr.ones(2, 3)
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
class FakeStatus:
    source = None

    def Get_source(self):
        return self.source


class FakeRequest:
    """A request that completes on its ``polls``-th Test (never with polls None)."""

    def __init__(self, polls=1):
        self.polls, self.tests = polls, 0

    def Test(self):
        self.tests += 1
        return self.polls is not None and self.tests >= self.polls

    @staticmethod
    def Waitall(requests):
        pass


class FakeMPI:
    IN_PLACE = object()
    SUM = object()
    ANY_SOURCE = -1
    Status = FakeStatus
    Request = FakeRequest

    @staticmethod
    def Is_finalized():
        return False


class FakeComm:
    """One rank of a pretend world. Each collective records what this rank sent (``sent``) and
    adds what the other rank sent in the same call (``received``, e.g. another FakeComm's
    ``sent``): a world of two, replayed one rank after the other. Collectives complete at once."""

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

    def Iallreduce(self, sendbuf, recvbuf, op):
        assert sendbuf is FakeMPI.IN_PLACE and op is FakeMPI.SUM
        self.calls.append(("Allreduce", recvbuf))
        self.sent.append(recvbuf.copy())
        if self._other() is not None:
            recvbuf += self._other()
        return FakeRequest()

    def Ibcast(self, buf, root=0):
        self.calls.append(("Bcast", buf))
        self.sent.append(buf.copy())
        if self.rank != root:
            buf[...] = self._other()
        return FakeRequest()

    def Ibarrier(self):
        self.calls.append(("Barrier", None))
        return FakeRequest()

    def Dup(self):
        return FakeControl()

    def Abort(self, code):
        self.aborted = code


class FakeControl:
    """The leaving notices' communicator: ``notices`` (source, [completed, code]) arrive in order."""

    def __init__(self, notices=()):
        self.notices, self.sent = list(notices), []

    def Iprobe(self, source, tag, status):
        if self.notices:
            status.source = self.notices[0][0]
        return bool(self.notices)

    def Recv(self, buf, source, tag):
        assert source == self.notices[0][0]
        buf[...] = self.notices.pop(0)[1]

    def Isend(self, buf, dest, tag):
        self.sent.append((dest, buf.tolist()))
        return FakeRequest()


class Stopped(Exception):
    """Raised by the stand-in for the hard exit after MPI_Abort."""


@pytest.fixture
def world(monkeypatch):
    """world(comm) makes ``comm`` this process's world until the test ends."""
    monkeypatch.setattr(distributed, "_layouts", {})
    for name, value in (("_control", FakeControl()), ("_left", {}), ("_completed", 0), ("_leaving", False),
                        ("_pid", os.getpid())):
        monkeypatch.setattr(distributed, name, value)

    def hard_exit(code):
        raise Stopped(code)

    monkeypatch.setattr(distributed, "_hard_exit", hard_exit)

    def use(comm):
        monkeypatch.setattr(distributed, "_comm", comm)
        monkeypatch.setattr(distributed, "_mpi", FakeMPI)
        return comm

    return use


def _grads(params, values):
    for p, v in zip(params, values):
        p.grad = None if v is None else cr.tensor(np.asarray(v, p._data.dtype))


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
    _grads(theirs, [np.zeros((2, 3)), None, None, None])  # the second step: nothing for `mine[3]`
    distributed.average_gradients([*theirs, frozen])
    world(FakeComm(0, received=rank1.sent))
    _grads(mine, g_mine)
    distributed._layouts.clear()  # rank 0 builds its own buffer, as on its own machine
    mean_loss = distributed.average_gradients([*mine, mine[0], frozen], loss=1.0)
    comm = distributed._comm
    assert [name for name, _ in comm.calls] == ["Allreduce"]  # one call for all parameters
    flat = comm.calls[0][1]
    assert flat.dtype == np.float32 and flat.flags.c_contiguous
    for p in mine[:3]:
        assert np.shares_memory(p.grad._data, flat)  # the gradients are views of the flat buffer
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
    np.testing.assert_array_equal(mine[3].grad, [2.5])  # None on the other rank this time


def _theirs(*buffers):
    """What another rank sent in one step: one array per dtype buffer."""
    return [np.array(b, dtype) for b, dtype in buffers]


def test_average_gradients_keeps_views_and_groups_dtypes(world):
    a = cr.tensor(np.zeros(3), requires_grad=True)  # float64
    b = cr.tensor(np.zeros(2, np.float32), requires_grad=True)
    # the other rank: zero gradients (that it had), no loss, weight 1: float64 first, then float32
    step = _theirs(([0, 0, 0, 1, 0, 1], np.float64), ([0, 0, 1], np.float32))
    comm = world(FakeComm(0, received=step + step))
    a.grad, b.grad = cr.tensor(np.full(3, 4.0)), cr.tensor(np.full(2, 6.0, np.float32))
    distributed.average_gradients([a, b])
    assert sorted(buf.dtype.str for _, buf in comm.calls) == ["<f4", "<f8"]  # one Allreduce per dtype
    np.testing.assert_array_equal(a.grad, [2.0, 2.0, 2.0])  # divided by the world of two
    np.testing.assert_array_equal(b.grad, [3.0, 3.0])
    view = a.grad
    a.grad += 1.0  # accumulating into the view (zero_grad(set_to_none=False) keeps it) works too
    distributed.average_gradients([a, b])
    assert a.grad is view
    np.testing.assert_array_equal(a.grad, [1.5, 1.5, 1.5])


def test_average_gradients_weighted_by_rows_is_the_global_batch_mean(world):
    # Rank 1 holds 3 rows of the batch (mean gradient 2, loss 0.5), rank 0 one row (gradient 6,
    # loss 1.5): the global batch's mean is (3 * 2 + 1 * 6) / 4 = 3, not the ranks' mean 4.
    w = cr.tensor(np.zeros(2), requires_grad=True)
    rank1 = world(FakeComm(1))
    w.grad = cr.tensor(np.full(2, 2.0))
    distributed.average_gradients([w], loss=0.5, count=3)
    world(FakeComm(0, received=rank1.sent))
    w.grad = cr.tensor(np.full(2, 6.0))
    assert distributed.average_gradients([w], loss=1.5, count=1) == (3 * 0.5 + 1.5) / 4
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])


@pytest.mark.parametrize("count", [-1, 2.5, True, "3"])
def test_average_gradients_refuses_a_count_that_is_not_a_number_of_samples(world, count):
    world(FakeComm(0))
    with pytest.raises(ValueError, match=r"average_gradients: count must be this rank's number of samples"):
        distributed.average_gradients([cr.tensor(np.zeros(2), requires_grad=True)], count=count)


def test_a_rank_without_rows_adds_nothing_not_even_nan(world):
    # A rank whose share of the last batch is empty ran its model on zero rows: its loss is nan
    # (a mean over nothing) and whatever its gradients hold must not count.
    w = cr.tensor(np.zeros(2), requires_grad=True)
    rank1 = world(FakeComm(1))
    w.grad = cr.tensor(np.full(2, np.nan))
    distributed.average_gradients([w], loss=float("nan"), count=0)
    world(FakeComm(0, received=rank1.sent))
    w.grad = cr.tensor(np.full(2, 6.0))
    assert distributed.average_gradients([w], loss=1.5, count=2) == 1.5
    np.testing.assert_array_equal(w.grad, [6.0, 6.0])


def test_broadcast_parameters_copies_rank0_parameters_and_buffers(world):
    def model(seed):
        cr.manual_seed(seed)
        net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
        net.train()
        net(cr.tensor(np.random.default_rng(seed).normal(size=(5, 3)).astype(np.float32)))  # move buffers
        return net

    main, other = model(0), model(1)
    assert not np.array_equal(main[1].running_mean._data, other[1].running_mean._data)
    rank0 = world(FakeComm(0))
    distributed.broadcast_parameters(main)
    world(FakeComm(1, received=rank0.sent))
    distributed.broadcast_parameters(other)
    # the layout (its length, then its JSON text), then one Bcast per dtype
    assert [call[1].dtype.str for call in distributed._comm.calls] == ["<i8", "|u1", "<f4", "<i8"]
    for (key, value), expected in zip(other.state_dict().items(), main.state_dict().values()):
        np.testing.assert_array_equal(value, expected, err_msg=key)
    # broadcast_buffers: the buffers alone
    main[1].running_var._data[...] = 7.0
    rank0 = world(FakeComm(0))
    distributed.broadcast_buffers(main)
    world(FakeComm(1, received=rank0.sent))
    distributed.broadcast_buffers(other)
    np.testing.assert_array_equal(other[1].running_var._data, 7.0)


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
    # a rank whose values cover no sample (nan: a mean over nothing) adds nothing
    rank1 = world(FakeComm(1))
    distributed.reduce_metrics({"loss": float("nan")}, count=0)
    world(FakeComm(0, received=rank1.sent))
    assert distributed.reduce_metrics({"loss": 3.0}, count=2) == {"loss": 3.0}


# -- the same data on every rank --------------------------------------------------------------
def _check_against(world, monkeypatch, mine, others):
    """check_same_data on rank 0 of a world of 1 + len(others), the others holding ``others``."""
    world(FakeComm(0, size=1 + len(others)))
    described = [[distributed._describe(t), None if v is None else distributed._describe(v)] for t, v in others]
    monkeypatch.setattr(distributed, "_allgather_json",
                        lambda obj, what: [json.loads(json.dumps(obj)), *described])
    distributed.check_same_data(*mine)


def _xy(n, seed=0, features=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype(dtype), rng.integers(0, 2, n)


def test_check_same_data_names_the_ranks_and_what_they_hold(world, monkeypatch):
    _check_against(world, monkeypatch, (_xy(40), _xy(10)), [(_xy(40), _xy(10))])  # the same: no error
    with pytest.raises(ValueError, match=r"^fit: every rank must hold the same data set .* different numbers of "
                                         r"samples: rank 0: 40, rank 1: 40, rank 2: 31$"):
        _check_against(world, monkeypatch, (_xy(40), None), [(_xy(40), None), (_xy(31), None)])
    with pytest.raises(ValueError, match=r"fit\(val_data\): .*rank 0: 10, rank 1: 12"):
        _check_against(world, monkeypatch, (_xy(40), _xy(10)), [(_xy(40), _xy(12))])
    with pytest.raises(ValueError, match=r"fit\(val_data\): given on some ranks only: rank 0: 10 samples, "
                                         r"rank 1: none"):
        _check_against(world, monkeypatch, (_xy(40), _xy(10)), [(_xy(40), None)])
    with pytest.raises(ValueError, match=r"different shapes or dtypes: rank 0: \(40, 3\) float64 and \(40,\) "
                                         r"int64, rank 1: \(40, 4\) float64"):
        _check_against(world, monkeypatch, (_xy(40), None), [(_xy(40, features=4), None)])
    with pytest.raises(ValueError, match=r"rank 0: \(40, 3\) float64 .* rank 1: \(40, 3\) float32"):
        _check_against(world, monkeypatch, (_xy(40), None), [(_xy(40, dtype=np.float32), None)])
    with pytest.raises(ValueError, match=r"ranks \[2\] hold other values than rank 0 .* load the same file"):
        _check_against(world, monkeypatch, (_xy(40), None), [(_xy(40), None), (_xy(40, seed=1), None)])
    with pytest.raises(ValueError, match=r"fit: 2 samples cannot give each of 3 ranks a share"):
        _check_against(world, monkeypatch, (_xy(2), None), [(_xy(2), None)] * 2)


def test_fit_checks_the_data_before_its_first_collective(world, monkeypatch):
    calls = []

    def first_collective(model):
        calls.append("broadcast_parameters")
        raise Stopped  # the order of the calls is the point

    monkeypatch.setattr(distributed, "check_same_data", lambda train, val: calls.append((train, val)))
    monkeypatch.setattr(distributed, "broadcast_parameters", first_collective)
    world(FakeComm(0))
    x, y = _xy(8)
    model = nn.Linear(3, 2).double()
    trainer = Trainer(model, nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1), verbose=0)
    with pytest.raises(Stopped):
        trainer.fit((x, y), epochs=1, val_data=(x[:3], y[:3]))
    (train, val), second = calls
    assert train[0] is x and val[0].shape == (3, 3) and second == "broadcast_parameters"


# -- a rank that leaves stops every rank (the protocol, against stand-ins) ----------------------
def test_a_rank_that_left_before_the_collective_stops_every_rank(world, monkeypatch, capsys):
    comm = world(FakeComm(0, size=3))
    monkeypatch.setattr(distributed, "_completed", 4)
    # rank 2 left after completing the collective rank 0 waits in (its 5th) and the next: that one
    # completes; rank 1 left after 5: it never joins the 6th, so rank 0 must not wait for it
    monkeypatch.setattr(distributed, "_control", FakeControl([(2, [6, -1])]))
    request = FakeRequest(polls=3)
    distributed._wait(request, "average_gradients")
    assert request.tests == 3 and comm.aborted is None and distributed._completed == 5
    monkeypatch.setattr(distributed, "_control", FakeControl([(1, [5, 0])]))
    with pytest.raises(Stopped, match="1"):
        distributed._wait(FakeRequest(polls=None), "reduce_metrics")
    assert comm.aborted == 1
    assert ("chainrule.distributed: rank 1 of 3 called os._exit(0) while rank 0 waited for it in reduce_metrics; "
            "stopping every rank") in capsys.readouterr().err


def test_leaving_tells_every_rank_and_waits_for_them(world, monkeypatch, capsys):
    comm = world(FakeComm(1, size=3))
    monkeypatch.setattr(distributed, "_completed", 7)
    control = FakeControl([(0, [7, -1]), (2, [7, -1])])
    monkeypatch.setattr(distributed, "_control", control)
    distributed._leave(None)  # the end of the script: every rank leaves after the same 7 collectives
    assert control.sent == [(0, [7, -1]), (2, [7, -1])] and not control.notices
    assert comm.aborted is None
    distributed._leave(None)  # once only
    assert len(control.sent) == 2
    monkeypatch.setattr(distributed, "_leaving", False)
    monkeypatch.setattr(distributed, "_pid", -1)
    distributed._leave(3)  # in a forked child: not this rank's exit
    assert comm.aborted is None and len(control.sent) == 2
    monkeypatch.setattr(distributed, "_pid", os.getpid())
    with pytest.raises(Stopped, match="3"):
        distributed._leave(3)  # os._exit(3): stop everyone now, with that code
    assert comm.aborted == 3
    assert "rank 1 of 3 called os._exit(3); stopping every rank" in capsys.readouterr().err


def test_init_installs_the_exit_guards_and_aborts_on_an_uncaught_error(world, monkeypatch, capsys):
    comm = FakeComm(1, size=2)
    fake = types.ModuleType("mpi4py.MPI")
    fake.COMM_WORLD, fake.IN_PLACE, fake.SUM = comm, FakeMPI.IN_PLACE, FakeMPI.SUM
    fake.Is_finalized = FakeMPI.Is_finalized
    package = types.ModuleType("mpi4py")
    package.MPI = fake
    monkeypatch.setitem(sys.modules, "mpi4py", package)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", fake)
    monkeypatch.setattr(distributed, "_comm", None)
    monkeypatch.setattr(distributed, "_mpi", None)
    monkeypatch.setattr(distributed, "_pid", None)
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    exits = []
    monkeypatch.setattr(os, "_exit", exits.append)
    registered = []
    monkeypatch.setattr(atexit, "register", registered.append)
    distributed.init()
    distributed.init()  # a second call changes nothing
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (1, 2, False)
    assert distributed.is_distributed()
    assert registered == [distributed._at_exit] and isinstance(distributed._control, FakeControl)
    try:
        raise ValueError("broken batch")
    except ValueError as error:
        with pytest.raises(Stopped):
            sys.excepthook(ValueError, error, error.__traceback__)
    err = capsys.readouterr().err
    assert "rank 1 of 2 failed with ValueError: broken batch" in err and "Traceback" in err
    assert comm.aborted == 1
    # os._exit now leaves first: with code 256 (0 to the system) it stops every rank with 1
    monkeypatch.setattr(distributed, "_leaving", False)
    with pytest.raises(Stopped, match="1"):
        os._exit(256)
    assert exits == [] and "rank 1 of 2 called os._exit(1)" in capsys.readouterr().err


def test_launcher_variables_decide_whether_fit_joins_mpi(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(name, raising=False)
    assert not distributed.launched_by_mpiexec()
    monkeypatch.setenv("PMI_SIZE", "1")
    assert not distributed.launched_by_mpiexec()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert distributed.launched_by_mpiexec()
