"""Data-parallel training under mpiexec, and the one-process run it must equal.

    mpiexec -n N python tests/mpi_scripts/train_equivalence.py OUT.npz

Rank 0 writes OUT.npz: the final parameters and epoch records of a run with per-rank batch
GLOBAL_BATCH[dtype] / N for float64 and float32 (the data do not fill the last batch: with 2 or 3
ranks, float64's last batch leaves some ranks without a row, float32's gives them unequal
shares; the model has dropout), how far the ranks' parameters (and batch norm running
statistics) lie apart, and the results of reduce_metrics, average_gradients with a gradient
missing on one rank and weighted by rows, and DistributedSampler. tests/test_distributed.py
imports ``train`` from this file for the one-process reference (no MPI there).

The plain Trainer runs here: its calls into chainrule.distributed make it data-parallel.
"""

import sys

import numpy as np

import chainrule as cr
from chainrule import distributed, nn, optim, random
from chainrule.train.loop import Trainer

N_SAMPLES, EPOCHS = 43, 3
GLOBAL_BATCH = {"float64": 6, "float32": 12}  # 43 = 7 * 6 + 1 = 3 * 12 + 7


class Net(nn.Module):
    """A small MLP with dropout, plus a layer it never uses (its gradient stays None on every rank).
    Flatten and the gradient monitor's ReLU hook fail on zero rows: a rank without rows in the
    last batch must not run the model."""

    def __init__(self, batch_norm=False):
        super().__init__()
        self.flat = nn.Flatten()
        self.hidden = nn.Linear(6, 16)
        self.norm = nn.BatchNorm1d(16) if batch_norm else nn.Identity()
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(16, 3)
        self.unused = nn.Linear(2, 2)

    def forward(self, x):
        return self.out(self.drop(self.act(self.norm(self.hidden(self.flat(x))))))


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_SAMPLES, 6))
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)


def train(dtype, trainer_class, batch_size, init_seed=100, batch_norm=False):
    """Build the model from ``init_seed``, fit it, return (model, history). The shuffles come
    from the generator as init left it (no seed to fit)."""
    random.manual_seed(init_seed)
    model = Net(batch_norm).to(dtype)
    x, y = data()
    trainer = trainer_class(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02),
                            batch_size=batch_size, grad_clip=5.0, verbose=0)
    history = trainer.fit((x.astype(dtype), y), epochs=EPOCHS, val_data=(x[:20].astype(dtype), y[:20]))
    return model, history


def _spread(comm, arrays):
    """max |rank r's array - rank 0's| over ranks and arrays (on rank 0)."""
    gathered = comm.gather(arrays, root=0)
    if comm.Get_rank() != 0:
        return None
    return max(float(np.max(np.abs(a - b))) for other in gathered for a, b in zip(gathered[0], other))


def main(out):
    from mpi4py import MPI

    distributed.init()
    comm, me, world = MPI.COMM_WORLD, distributed.rank(), distributed.world_size()
    results = {"world": np.array(world)}
    for dtype in ("float64", "float32"):
        # Each rank initialises differently: broadcast_parameters and broadcast_rng_state must
        # make every rank continue from rank 0's weights and generator.
        model, history = train(dtype, Trainer, GLOBAL_BATCH[dtype] // world, init_seed=100 + me)
        state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
        results[f"{dtype}_spread"] = np.array(_spread(comm, list(state.values())))
        results.update({f"{dtype}/{k}": v for k, v in state.items()})
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            results[f"{dtype}_history/{key}"] = np.array(history[key])
    model, _ = train("float64", Trainer, GLOBAL_BATCH["float32"] // world, 100 + me, batch_norm=True)
    results["batch_norm_buffer_spread"] = np.array(_spread(comm, [b._data for b in model.buffers()]))

    # reduce_metrics: rank r reports accuracy r over r + 1 samples; ints pass through.
    reduced = distributed.reduce_metrics({"accuracy": float(me), "epoch": 3, "name": "x"}, count=me + 1)
    results["reduced_accuracy"] = np.array(reduced["accuracy"])
    results["reduced_epoch_is_int"] = np.array(reduced["epoch"] == 3 and type(reduced["epoch"]) is int)

    # average_gradients: rank 0 alone has a gradient for `a`, every rank has one for `b`.
    a, b, c = (cr.tensor(np.zeros(3), requires_grad=True) for _ in range(3))
    a.grad = cr.tensor(np.full(3, 6.0)) if me == 0 else None
    b.grad = cr.tensor(np.arange(3.0) + me)
    mean_loss = distributed.average_gradients([a, b, c], loss=float(me))
    results["grad_a"] = a.grad.numpy()
    results["grad_b"] = b.grad.numpy()
    results["grad_c_is_none"] = np.array(c.grad is None)
    results["mean_loss"] = np.array(mean_loss)
    # weighted by rows: rank 0 holds 3 rows (gradient 1, loss 2), rank 1 one row (gradient 5, loss 6),
    # a third rank none
    w = cr.tensor(np.zeros(2), requires_grad=True)
    w.grad = cr.tensor(np.full(2, 1.0 + 4 * me))
    results["weighted_loss"] = np.array(distributed.average_gradients([w], loss=2.0 + 4 * me, count=(3, 1, 0)[me]))
    results["weighted_grad"] = w.grad.numpy()

    # DistributedSampler: every rank draws the same permutation and keeps its own shard.
    random.manual_seed(5)
    sampler = distributed.DistributedSampler(range(11))
    shards = comm.gather(list(sampler), root=0)
    if me == 0:
        results["sampler_shards"] = np.array(shards)
        np.savez(out, **results)
    distributed.barrier()


if __name__ == "__main__":
    main(sys.argv[1])
