"""Rank 1 leaves in the way argv[1] names while rank 0 waits in a collective: every way must stop
the whole job within seconds with a non-zero exit, instead of leaving rank 0 waiting forever.
With "finish", rank 1 ends first and rank 0 a second later, after its last collective: the job
must end normally.

    mpiexec -n 2 python tests/mpi_scripts/leave_one_rank.py HOW
"""

import os
import signal
import sys
import time

import numpy as np

import chainrule as cr
from chainrule import distributed

WAYS = {
    "raise": lambda: (_ for _ in ()).throw(ValueError("deliberate failure on rank 1")),
    "sys.exit(2)": lambda: sys.exit(2),
    "sys.exit(0)": lambda: sys.exit(0),
    "raise SystemExit(3)": lambda: (_ for _ in ()).throw(SystemExit(3)),
    "os._exit(0)": lambda: os._exit(0),
    "os._exit(3)": lambda: os._exit(3),
    "SIGTERM": lambda: os.kill(os.getpid(), signal.SIGTERM),
    "SIGKILL": lambda: os.kill(os.getpid(), signal.SIGKILL),
}


def main(how):
    distributed.init()
    weight = cr.tensor(np.ones(4), requires_grad=True)
    weight.grad = cr.tensor(np.ones(4))
    distributed.average_gradients([weight])  # one collective both ranks join
    if distributed.rank() == 1:
        if how == "finish":
            print("rank 1 finished", flush=True)
            return
        WAYS[how]()
    if how == "finish":
        time.sleep(1.0)  # rank 1 has long left: it must wait for rank 0, not stop it
        print("rank 0 finished", flush=True)
        return
    weight.grad = cr.tensor(np.ones(4))
    distributed.average_gradients([weight])  # rank 1 never joins: without help this waits forever
    print("rank 0 got past the collective", flush=True)


if __name__ == "__main__":  # pytest's doctest collection imports this file: nothing may run then
    main(sys.argv[1])
