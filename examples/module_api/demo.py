"""Write a small demo run (scalars, histograms, text) and print the command that shows it in TensorBoard.

python3 dev.py demo [LOGDIR]
"""

from __future__ import annotations

import math
import os
import sys

import mxnet as mx
import numpy as np

from mxnet_tb import SummaryWriter


def main(logdir: str) -> None:
    with SummaryWriter(logdir=logdir, flush_secs=5) as sw:
        sw.add_text("about", "A demo run written by **mxnet_tb**: scalars, histograms and text.")
        for step in range(100):
            sw.add_scalar("loss/train", math.exp(-step / 30) + 0.05 * np.random.rand(), global_step=step)
            sw.add_scalar("accuracy", {"train": 1 - math.exp(-step / 25), "valid": 0.95 - math.exp(-step / 20)}, step)
        for i in range(10):
            # the article's first snippet: a normal distribution whose std shrinks
            data = mx.nd.random.normal(loc=0, scale=10.0 / (i + 1), shape=(10, 3, 8, 8))
            sw.add_histogram(tag="norml_dist", values=data, bins=200, global_step=i)
            sw.add_histogram(tag="weights/default_buckets", values=np.random.randn(10_000) / (i + 1), global_step=i)
    print(f"Wrote {os.path.abspath(logdir)}. View it with:")
    print(f"  .venv/bin/tensorboard --logdir={logdir} --host=127.0.0.1 --port=8888")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "logs/demo")
