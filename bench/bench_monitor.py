#!/usr/bin/env python3
"""What a monitor costs a Module training loop: time per batch with none, tb.GradMonitor, stock mx.mon.Monitor.

A small CNN (two conv layers, 28x28 inputs, batch 64) trains with ``Module.fit`` on generated data. Each
configuration trains the same number of batches; configurations are interleaved per round and the table shows
medians over rounds (of times, and of each round's ratio to ``none``), because this machine is shared and noisy.

- ``none``: no monitor.
- ``tb.GradMonitor(interval=100)``: installed with ``fit(monitor=...)``; target: under 1% slower than none.
- ``tb.GradMonitor (never active)``: the per-batch hook alone, and the noise floor.
- ``tb.WeightMonitor(interval=100)``: the same hooks.
- ``mx.mon.Monitor(interval=100)``: MXNet's stock monitor (an executor callback on every op output).
- ``tb.ActivationMonitor(interval=100)``: needs that callback too; reported so its documented cost is measured.

    .venv/bin/python bench/bench_monitor.py [--batches 300] [--repeat 9]
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import mxnet as mx
import numpy as np

import mxnet_tb as tb

BATCH = 64
TARGET_SLOWDOWN = 0.01


def network() -> mx.sym.Symbol:
    data = mx.sym.var("data")
    net = mx.sym.Convolution(data, kernel=(3, 3), num_filter=16, name="conv0")
    net = mx.sym.Activation(net, act_type="relu", name="relu0")
    net = mx.sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool0")
    net = mx.sym.Convolution(net, kernel=(3, 3), num_filter=32, name="conv1")
    net = mx.sym.Activation(net, act_type="relu", name="relu1")
    net = mx.sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool1")
    net = mx.sym.FullyConnected(mx.sym.flatten(net, name="flatten0"), num_hidden=64, name="fc1")
    net = mx.sym.Activation(net, act_type="relu", name="relu2")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def train_seconds(batches: int, make_monitor: Callable[[tb.SummaryWriter], Any]) -> float:
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batches * BATCH, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, batches * BATCH).astype(np.float32)
    train = mx.io.NDArrayIter(images, labels, batch_size=BATCH)
    mod = mx.mod.Module(network(), context=mx.cpu())
    with tb.SummaryWriter(tempfile.mkdtemp(prefix="bench-monitor-")) as writer:
        monitor = make_monitor(writer)
        gc.collect()
        started = time.perf_counter()
        mod.fit(
            train, num_epoch=1, monitor=monitor, initializer=mx.init.Xavier(), optimizer_params={"learning_rate": 0.01}
        )
        mx.nd.waitall()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)  # stock Monitor.toc_print logs at INFO
    configs: dict[str, Callable[[tb.SummaryWriter], Any]] = {
        "none": lambda writer: None,
        "tb.GradMonitor(interval=100)": lambda writer: tb.GradMonitor(interval=100, writer=writer),
        "tb.GradMonitor (never active)": lambda writer: tb.GradMonitor(interval=10**9, writer=writer),
        "tb.WeightMonitor(interval=100)": lambda writer: tb.WeightMonitor(interval=100, writer=writer),
        "mx.mon.Monitor(interval=100)": lambda writer: mx.mon.Monitor(interval=100),
        "tb.ActivationMonitor(interval=100)": lambda writer: tb.ActivationMonitor(interval=100, writer=writer),
    }
    train_seconds(20, lambda writer: None)  # warm up MXNet's kernels and allocator
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.repeat):
        for name, make in configs.items():
            times[name].append(train_seconds(args.batches, make))
    ratios = {name: statistics.median(t / b for t, b in zip(runs, times["none"])) - 1 for name, runs in times.items()}
    print(f"small CNN, batch {BATCH}, {args.batches} batches per run, medians of {args.repeat} interleaved rounds")
    print(f"{'configuration':38s} {'ms/batch':>9s} {'vs none':>9s}")
    for name, runs in times.items():
        print(f"{name:38s} {statistics.median(runs) / args.batches * 1e3:9.3f} {ratios[name]:+9.1%}")
    print(f"noise floor (never-active monitor vs none): {ratios['tb.GradMonitor (never active)']:+.1%}")
    slowdown = ratios["tb.GradMonitor(interval=100)"]
    verdict = "met" if slowdown < TARGET_SLOWDOWN else "NOT met"
    print(f"GradMonitor(interval=100) slowdown: {slowdown:+.1%} (target < {TARGET_SLOWDOWN:.0%}) [{verdict}]")


if __name__ == "__main__":
    main()
