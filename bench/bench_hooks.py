#!/usr/bin/env python3
"""What the monitors' hooks themselves cost per batch: a tiny Module driven by hand, with and without monitors.

The network is one 4-unit FullyConnected layer on a batch of 2, so MXNet's own work per batch is as small as it
gets and the Python calls the hooks add (module ``forward``/``update``, executor ``forward``/``backward``, the
monitors' listeners) are a visible share of it. The monitors never log (``interval`` above the batch count): this
is the price every batch pays. Configurations are interleaved per repeat and the best time is kept (this
machine is shared and noisy). Compare two checkouts by running it with each on ``PYTHONPATH``.

    .venv/bin/python bench/bench_hooks.py [--batches 3000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

import mxnet as mx
import numpy as np

import mxnet_tb as tb


def _module() -> tuple[mx.mod.Module, mx.io.DataBatch]:
    data = mx.sym.var("data")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=4, name="fc"), name="softmax")
    mod = mx.mod.Module(net, context=mx.cpu())
    mod.bind(data_shapes=[("data", (2, 8))], label_shapes=[("softmax_label", (2,))])
    mod.init_params()
    mod.init_optimizer()
    batch = mx.io.DataBatch([mx.nd.array(np.ones((2, 8)))], [mx.nd.array([0, 1])])
    return mod, batch


def _run(monitors: Callable[[], list[mx.monitor.Monitor]], batches: int) -> float:
    """Seconds per batch of forward/backward/update with ``monitors()`` installed."""
    mod, batch = _module()
    for monitor in monitors():
        mod.install_monitor(monitor)
    for _ in range(20):  # warm up
        mod.forward(batch, is_train=True)
        mod.backward()
        mod.update()
    mx.nd.waitall()
    gc.collect()
    start = time.perf_counter()
    for _ in range(batches):
        mod.forward(batch, is_train=True)
        mod.backward()
        mod.update()
    mx.nd.waitall()
    return (time.perf_counter() - start) / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    never = 10 * (args.batches + 20)
    configs: dict[str, Callable[[], list[mx.monitor.Monitor]]] = {
        "none": list,
        "tb.GradMonitor (never active)": lambda: [tb.GradMonitor(interval=never, writer=tb.SummaryWriter(_tmp()))],
        "Grad+Weight+Activation (never active)": lambda: [
            kind(interval=never, writer=tb.SummaryWriter(_tmp()))
            for kind in (tb.GradMonitor, tb.WeightMonitor, tb.ActivationMonitor)
        ],
    }
    best = dict.fromkeys(configs, float("inf"))
    for _ in range(args.repeat):
        for name, monitors in configs.items():
            best[name] = min(best[name], _run(monitors, args.batches))
    print(f"tiny Module (FC 4 units, batch 2), {args.batches} hand-driven batches per run, best of {args.repeat}")
    print(f"{'configuration':40}{'us/batch':>10}{'added us':>10}")
    for name, seconds in best.items():
        print(f"{name:40}{seconds * 1e6:10.1f}{(seconds - best['none']) * 1e6:10.1f}")


_dirs: list[str] = []


def _tmp() -> str:
    import tempfile

    path = tempfile.mkdtemp(prefix="mxnet_tb_bench_hooks_")
    _dirs.append(path)
    return path


if __name__ == "__main__":
    try:
        main()
    finally:
        import shutil

        for path in _dirs:
            shutil.rmtree(path, ignore_errors=True)
