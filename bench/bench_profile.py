#!/usr/bin/env python3
"""Benchmark ``tb.profile``: profiling N batches costs those batches, and the batches after run as unprofiled.

What is measured: ``Module.fit`` of a small CNN (4 convolution + BatchNorm + ReLU blocks, 16x16 inputs, batch
32, generated data) for ``--total`` batches, timing every batch as the interval between two batch-end
callbacks. Two set-ups, each in a fresh process (MXNet's profiler is per process), alternated ``--repeat``
times:

- ``off``: no profiling;
- ``profile``: ``tb.profile(batches=N, start=M)``, which configures the profiler before ``fit`` binds (so the
  executor runs unbulked for the whole run: MXNet's rule) and profiles batches M..M+N-1.

Reported per set-up and window, over the batches of all repeats pooled: the 10th percentile (the batch time
without other processes' interference, robust on a shared machine) and the median. Windows: warm-up
(batches < M), the profiled batches, and *after* (from M+N+1 on: the session's own writing is in batch M+N).
The headline is ``after(profile) / after(off)`` at p10: within noise means about 1.0 (target <= 1.10).

Run it with::

    .venv/bin/python bench/bench_profile.py
    .venv/bin/python bench/bench_profile.py --repeat 5 --total 80

It is a report, not a test: it always exits 0 and prints whether the target is met.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _harness import fmt, print_environment, python_version, version_of

TARGET = 1.10
START, BATCHES = 10, 5


def _worker(mode: str, total: int) -> None:
    import mxnet as mx
    import numpy as np

    import mxnet_tb as tb

    callbacks = []
    logdir = tempfile.mkdtemp(prefix="mxnet_tb_bench_profile_")
    writer = tb.SummaryWriter(logdir, verbose=False)
    if mode == "profile":
        callbacks.append(tb.profile(batches=BATCHES, start=START, writer=writer))
    net = mx.sym.var("data")
    for i in range(4):
        net = mx.sym.Convolution(net, kernel=(3, 3), pad=(1, 1), num_filter=16, name=f"conv{i}")
        net = mx.sym.BatchNorm(net, name=f"bn{i}")
        net = mx.sym.Activation(net, act_type="relu", name=f"relu{i}")
    net = mx.sym.FullyConnected(mx.sym.flatten(net), num_hidden=10, name="fc")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    rng = np.random.default_rng(0)
    data = rng.standard_normal((32 * total, 3, 16, 16)).astype(np.float32)
    labels = rng.integers(0, 10, 32 * total).astype(np.float32)
    train = mx.io.NDArrayIter(data, labels, batch_size=32)
    stamps: list[float] = []

    def stamp(param: object) -> None:
        mx.nd.waitall()  # the batch's work is done: time it, not the engine's queue
        stamps.append(time.perf_counter())

    mod = mx.mod.Module(net)
    mod.fit(train, num_epoch=1, batch_end_callback=[*callbacks, stamp], optimizer_params={"learning_rate": 0.01})
    writer.close()
    print(json.dumps([b - a for a, b in zip(stamps, stamps[1:])]))


def _run(mode: str, total: int) -> list[float]:
    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(here), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, os.path.join(here, "bench_profile.py"), "--worker", mode, "--total", str(total)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _windows(times: list[float]) -> dict[str, list[float]]:
    # times[k] is batch k+1 (from the end of batch k to the end of batch k+1)
    return {
        "warm-up": times[2 : START - 1],
        "profiled": times[START - 1 : START + BATCHES - 1],
        "after": times[START + BATCHES :],
    }


def _p10(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[0] if len(values) > 1 else values[0]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="processes per set-up (their batches are pooled)")
    parser.add_argument("--total", type=int, default=60, help="batches per run")
    parser.add_argument("--worker", choices=("off", "profile"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    total = max(args.total, START + BATCHES + 10)
    if args.worker:
        _worker(args.worker, total)
        return
    print_environment(
        [
            ("python", python_version()),
            ("mxnet", version_of("mxnet")),
            ("cpus", str(os.cpu_count())),
            ("settings", f"repeat={args.repeat}, total={total} batches, tb.profile(batches={BATCHES}, start={START})"),
        ]
    )
    pooled: dict[str, dict[str, list[float]]] = {}
    for _ in range(max(1, args.repeat)):
        for mode in ("off", "profile"):  # alternated, so both see the same load on a shared machine
            for window, values in _windows(_run(mode, total)).items():
                pooled.setdefault(mode, {}).setdefault(window, []).extend(values)
    print()
    print(f"{'set-up':<10} {'window':<10} {'batches':>8} {'p10 ms':>9} {'median ms':>10}")
    for mode, windows in pooled.items():
        for window, values in windows.items():
            p10, median = fmt(1000 * _p10(values), ".2f"), fmt(1000 * statistics.median(values), ".2f")
            print(f"{mode:<10} {window:<10} {len(values):>8} {p10:>9} {median:>10}")
    print()
    after = _p10(pooled["profile"]["after"]) / _p10(pooled["off"]["after"])
    median = statistics.median(pooled["profile"]["after"]) / statistics.median(pooled["off"]["after"])
    verdict = "met" if after <= TARGET else "NOT met"
    print(f"after profiling / unprofiled, p10 = {after:.2f}x (target <= {TARGET:.2f}x) [{verdict}]")
    print(f"after profiling / unprofiled, median = {median:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
