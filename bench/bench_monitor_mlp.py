#!/usr/bin/env python3
"""What the monitors cost where framework overhead dominates: a 20-layer MLP (32 units, batch 64, 42 tensors).

Every configuration trains the same batches with ``Module.fit``; configurations run interleaved, once per round,
in one process, and the table shows medians over rounds (this machine is shared and noisy). The clock starts at
the end of batch ``WARMUP - 1`` and stops after the last batch (``mx.nd.waitall()``, and the writer closed, so
work a monitor left on its background thread is paid for), so binding and initialisation are not timed.

- ``none``: no monitor. ``never active``: a GradMonitor whose interval is never reached: the noise floor plus
  the per-batch hook.
- ``GradMonitor(interval=100)``: default statistics and histograms; target under +2%.
- ``GradMonitor(interval=1, stats=('norm',), histograms=False)``: per-batch gradient norms; target under +10%.
- ``ActivationMonitor(interval=100)`` against stock ``mx.mon.Monitor(100)``: target no dearer.

With ``--gpu`` (on a machine with one) the MLP trains on ``mx.gpu(0)``, where the monitors reduce on the device
and copy back only scalars and bucket counts.

    .venv/bin/python bench/bench_monitor_mlp.py [--batches 500] [--rounds 15] [--gpu]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import mxnet as mx
import numpy as np
from _harness import in_tempdir, print_environment, python_version, version_of

import mxnet_tb as tb

BATCH = 64
UNITS = 32
LAYERS = 20
WARMUP = 10


def network() -> mx.sym.Symbol:
    net = mx.sym.var("data")
    for i in range(LAYERS):
        net = mx.sym.FullyConnected(net, num_hidden=UNITS, name=f"fc{i}")
        net = mx.sym.Activation(net, act_type="relu", name=f"relu{i}")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="out")
    return mx.sym.SoftmaxOutput(net, name="softmax")


Make = Callable[[tb.SummaryWriter], Any]


CONTEXT = [mx.cpu()]


def train_seconds(batches: int, make_monitor: Make, logdir: str) -> tuple[float, float]:
    """Wall and process CPU seconds (all threads) for batches ``WARMUP..batches+WARMUP-1`` of one epoch with the
    monitor ``make_monitor`` builds. CPU time does not count waiting for a core, so it is steadier on a busy
    machine; it counts the monitor's background work, wherever it ran."""
    rng = np.random.default_rng(0)
    total = (batches + WARMUP) * BATCH
    data = rng.standard_normal((total, UNITS)).astype(np.float32)
    labels = rng.integers(0, 10, total).astype(np.float32)
    train = mx.io.NDArrayIter(data, labels, batch_size=BATCH)
    mod = mx.mod.Module(network(), context=CONTEXT[0])
    started = []

    def clock(param: Any) -> None:
        if param.nbatch == WARMUP - 1:
            mx.nd.waitall()
            started.append((time.perf_counter(), time.process_time()))

    writer = tb.SummaryWriter(logdir, verbose=False)
    monitor = make_monitor(writer)
    mod.fit(
        train,
        num_epoch=1,
        monitor=monitor,
        batch_end_callback=clock,
        initializer=mx.init.Xavier(),
        optimizer_params={"learning_rate": 0.01},
    )
    mx.nd.waitall()
    writer.close()
    return time.perf_counter() - started[0][0], time.process_time() - started[0][1]


CONFIGS: dict[str, Make] = {
    "none": lambda w: None,
    "GradMonitor (never active)": lambda w: tb.GradMonitor(interval=10**9, writer=w),
    "GradMonitor(interval=100)": lambda w: tb.GradMonitor(interval=100, writer=w),
    "GradMonitor(1, norm, no hist)": lambda w: tb.GradMonitor(interval=1, stats=("norm",), histograms=False, writer=w),
    "mx.mon.Monitor(100)": lambda w: mx.mon.Monitor(100),
    "ActivationMonitor(interval=100)": lambda w: tb.ActivationMonitor(interval=100, writer=w),
}
TARGETS = {  # configuration -> (limit, what it is compared with)
    "GradMonitor(interval=100)": (0.02, "none"),
    "GradMonitor(1, norm, no hist)": (0.10, "none"),
    "ActivationMonitor(interval=100)": (0.0, "mx.mon.Monitor(100)"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", nargs="*", default=None, help="configurations to run (default: all)")
    parser.add_argument("--gpu", action="store_true", help="train on mx.gpu(0)")
    args = parser.parse_args()
    if args.gpu:
        CONTEXT[0] = mx.gpu(0)
    logging.getLogger().setLevel(logging.WARNING)  # stock Monitor.toc_print logs at INFO
    configs = {k: v for k, v in CONFIGS.items() if args.only is None or k == "none" or k in args.only}
    in_tempdir(lambda d: train_seconds(50, CONFIGS["none"], d))  # warm up kernels and allocator
    times: dict[str, list[float]] = {name: [] for name in configs}
    cpu: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.rounds):
        for name, make in configs.items():
            wall, used = in_tempdir(lambda d, make=make: train_seconds(args.batches, make, d))
            times[name].append(wall)
            cpu[name].append(used)
    print_environment([("python", python_version()), ("mxnet", version_of("mxnet")), ("mxnet_tb", tb.__version__)])
    shape = f"{LAYERS}-layer MLP, {UNITS} units, batch {BATCH}, on {CONTEXT[0]}"
    print(f"{shape}: {args.batches} timed batches x {args.rounds} rounds (medians; ratios per round, then median)")
    print(f"{'configuration':34s} {'ms/batch':>9s} {'vs none':>9s} {'CPU vs none':>12s}")

    def cost(table: dict[str, list[float]], name: str, against: str = "none") -> float:
        return statistics.median(t / b for t, b in zip(table[name], table[against])) - 1

    for name, runs in times.items():
        ms = statistics.median(runs) / args.batches * 1e3
        print(f"{name:34s} {ms:9.3f} {cost(times, name):+9.1%} {cost(cpu, name):+12.1%}")
    if "GradMonitor (never active)" in times:
        floor, cpu_floor = cost(times, "GradMonitor (never active)"), cost(cpu, "GradMonitor (never active)")
        print(f"noise floor (never-active monitor vs none): {floor:+.1%} wall, {cpu_floor:+.1%} CPU")
    for name, (limit, against) in TARGETS.items():
        if name not in times or against not in times:
            continue
        wall, used = cost(times, name, against), cost(cpu, name, against)
        verdict = "met" if (wall < limit if limit else wall <= 0) else "NOT met"
        target = f"{'<' if limit else '<='} {limit:+.0%}"
        print(f"{name} vs {against}: {wall:+.1%} wall, {used:+.1%} CPU (target {target}) [{verdict}]")


if __name__ == "__main__":
    main()
