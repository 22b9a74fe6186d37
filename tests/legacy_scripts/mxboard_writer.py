"""A script written for MXBoard: it logs with ``from mxboard import SummaryWriter`` and nothing else."""

import sys

import numpy as np
from mxboard import SummaryWriter

logdir = sys.argv[1]
with SummaryWriter(logdir=logdir) as sw:
    for step in range(3):
        sw.add_scalar(tag="loss", value=1.0 / (step + 1), global_step=step)
    sw.add_histogram(tag="weights", values=np.arange(10.0), global_step=2, bins=5)
print("mxboard script done")
