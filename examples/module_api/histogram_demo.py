"""The article's first scenario: a normal distribution whose standard deviation shrinks over 10 steps.

Each step logs 1,920 samples of N(0, (10 / (step + 1))^2) as one histogram with 200 bins, under the article's
own tag ``norml_dist``: HISTOGRAMS shows the bell narrowing towards the front, DISTRIBUTIONS the bands
closing in on 0.

    .venv/bin/python examples/module_api/histogram_demo.py --logdir runs/histogram
    .venv/bin/tensorboard --logdir runs/histogram --host 127.0.0.1 --port 8888
"""

from __future__ import annotations

import argparse

import mxnet as mx

from mxnet_tb import SummaryWriter

STEPS = 10


def log_histograms(logdir: str, steps: int = STEPS) -> None:
    """Write the article's loop: ``steps`` histograms of ``tag='norml_dist'`` into ``logdir``."""
    mx.random.seed(0)
    with SummaryWriter(logdir=logdir) as sw:
        for i in range(steps):
            # create a normal distribution with fixed mean and decreasing std
            data = mx.nd.random.normal(loc=0, scale=10.0 / (i + 1), shape=(10, 3, 8, 8))
            sw.add_histogram(tag="norml_dist", values=data, bins=200, global_step=i)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logdir", default="runs/histogram")
    args = parser.parse_args()
    log_histograms(args.logdir)
    print(f"{STEPS} histograms of 'norml_dist' in {args.logdir}")
    print(f"  view them: .venv/bin/tensorboard --logdir {args.logdir} --host 127.0.0.1 --port 8888")


if __name__ == "__main__":
    main()
