"""Rank 1 raises while rank 0 waits in a collective: after distributed.init() the whole job must
stop (MPI_Abort) with the failing rank and its error on stderr, instead of hanging.

    mpiexec -n 2 python tests/mpi_scripts/fail_one_rank.py
"""

import numpy as np

import chainrule as cr
from chainrule import distributed


def main():
    distributed.init()
    if distributed.rank() == 1:
        raise ValueError("deliberate failure on rank 1")
    weight = cr.tensor(np.ones(4), requires_grad=True)
    weight.grad = np.ones(4)
    distributed.average_gradients([weight])  # rank 1 never joins: without the abort this waits forever
    print("rank 0 got past the collective", flush=True)


if __name__ == "__main__":  # pytest's doctest collection imports this file: nothing may run then
    main()
