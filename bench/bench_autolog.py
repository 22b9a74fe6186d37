#!/usr/bin/env python3
"""What ``mxnet-tb run`` costs over plain ``python``: start-up, and time per training batch.

Each configuration runs the same generated training script in a fresh interpreter (as users run it):

- ``python`` (no logging), ``python`` with the four-line recipe (``tb.scalars``, ``tb.validation``,
  ``tb.params``, ``tb.GradMonitor`` written into the script), and ``mxnet-tb run`` (the unchanged script;
  autolog adds the same callbacks and monitor).
- start-up: the script imports MXNet and exits; wall time of the whole process.
- per batch: the script times its own ``fit`` (small CNN, 28x28 inputs, batch 64) and prints it.

Configurations are interleaved and the best (minimum) of ``--repeat`` runs kept: the machine is shared.
Target: ``mxnet-tb run`` within noise of the four-line recipe (ratio about 1.0).

    .venv/bin/python bench/bench_autolog.py [--batches 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from _harness import fmt, keep_min, print_environment, python_version, version_of

STARTUP = "import mxnet\n"

TRAIN = """\
import sys, time
import mxnet as mx
import numpy as np
batches, recipe = int(sys.argv[1]), sys.argv[2] == "recipe"
if recipe:
    import mxnet_tb as tb
    tb.init(logdir=sys.argv[3])
data = mx.sym.var("data")
net = mx.sym.Convolution(data, kernel=(3, 3), num_filter=16, name="conv0")
net = mx.sym.Pooling(mx.sym.Activation(net, act_type="relu"), kernel=(2, 2), stride=(2, 2), pool_type="max")
net = mx.sym.Convolution(net, kernel=(3, 3), num_filter=32, name="conv1")
net = mx.sym.Pooling(mx.sym.Activation(net, act_type="relu"), kernel=(2, 2), stride=(2, 2), pool_type="max")
net = mx.sym.FullyConnected(mx.sym.flatten(net), num_hidden=10, name="fc1")
net = mx.sym.SoftmaxOutput(net, name="softmax")
rng = np.random.default_rng(0)
images = rng.standard_normal((batches * 64, 1, 28, 28)).astype(np.float32)
labels = rng.integers(0, 10, batches * 64).astype(np.float32)
train = mx.io.NDArrayIter(images, labels, batch_size=64)
extra = {}
if recipe:
    extra = dict(batch_end_callback=tb.scalars(), eval_end_callback=tb.validation(),
                 epoch_end_callback=tb.params(), monitor=tb.GradMonitor())
mod = mx.mod.Module(net, context=mx.cpu())
mod.bind(train.provide_data, train.provide_label)
mod.init_params(mx.init.Xavier())
started = time.perf_counter()
mod.fit(train, num_epoch=1, optimizer_params={"learning_rate": 0.01}, **extra)
mx.nd.waitall()
print(time.perf_counter() - started)
"""


def _python(script: str, *args: str) -> list[str]:
    return [sys.executable, script, *args]


def _mxnet_tb_run(logdir: str, script: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "mxnet_tb", "run", "--logdir", logdir, "--", script, *args]


def _timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench-autolog-")
    startup, train = os.path.join(work, "startup.py"), os.path.join(work, "train.py")
    with open(startup, "w") as f:
        f.write(STARTUP)
    with open(train, "w") as f:
        f.write(TRAIN)
    logs = os.path.join(work, "runs")
    n = str(args.batches)
    starts: dict[str, float] = {}
    fits: dict[str, float] = {}
    for i in range(args.repeat):
        keep_min(starts, "python", _timed(_python(startup))[0])
        keep_min(starts, "mxnet-tb run", _timed(_mxnet_tb_run(logs, startup))[0])
        keep_min(fits, "python", float(_timed(_python(train, n, "plain"))[1]))
        keep_min(fits, "python + recipe", float(_timed(_python(train, n, "recipe", os.path.join(logs, f"r{i}")))[1]))
        keep_min(fits, "mxnet-tb run", float(_timed(_mxnet_tb_run(logs, train, n, "plain"))[1]))
    print_environment(
        [("python", python_version()), ("mxnet", version_of("mxnet")), ("mxnet_tb", version_of("mxnet_tb"))]
    )
    print(f"best of {args.repeat} interleaved runs; training: small CNN, batch 64, {args.batches} batches")
    print(f"{'start-up (import mxnet, exit)':34s} {'seconds':>9s}")
    for name, seconds in starts.items():
        print(f"  {name:32s} {fmt(seconds, '9.3f')}")
    print(f"start-up cost of mxnet-tb run: {starts['mxnet-tb run'] - starts['python']:+.3f} s")
    print(f"{'training (fit)':34s} {'ms/batch':>9s}")
    for name, seconds in fits.items():
        print(f"  {name:32s} {fmt(seconds / args.batches * 1e3, '9.3f')}")
    recipe, ours = fits["python + recipe"], fits["mxnet-tb run"]
    print(f"mxnet-tb run / four-line recipe per batch = {ours / recipe:.3f}x (target: about 1.0, within noise)")
    print(f"mxnet-tb run / plain python per batch = {ours / fits['python']:.3f}x")


if __name__ == "__main__":
    main()
