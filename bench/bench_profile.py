#!/usr/bin/env python3
"""Benchmark ``tb.profile``: profiling N batches costs those batches; the batches after run as unprofiled ones.

What is measured: two Modules of the same small CNN (4 convolution + BatchNorm + ReLU blocks, 16x16 inputs,
batch 32, generated data) in one process, trained batch by batch *interleaved* (A, B, A, B, ...), so that
the load of a shared machine falls on both alike:

- A, the unprofiled run: bound before anything configures MXNet's profiler (so MXNet bulks its operators as
  in any run);
- B, the profiled run: bound after ``tb.profile(batches=N, start=M)`` was created (its executor runs unbulked:
  MXNet's rule while the profiler collects aggregate statistics), with the callback called after each of its
  batches as ``fit`` would; it profiles B's batches M..M+N-1.

Every batch is ``forward_backward`` + ``update`` + ``waitall``, timed alone; B's time includes the callback.
Reported for each module and window (warm-up: batches < M; profiled; after: from M+N+1 on, as batch M+N
writes the session) the 10th percentile and the median. The headline is ``after(B) / after(A)``: within
noise is about 1.0 (target <= 1.10). ``warm-up(B) / warm-up(A)`` shows what unbulked execution alone costs.

Run it with::

    .venv/bin/python bench/bench_profile.py
    .venv/bin/python bench/bench_profile.py --total 400

It is a report, not a test: it always exits 0 and prints whether the target is met.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

from _harness import fmt, print_environment, python_version, version_of

TARGET = 1.10
START, BATCHES = 10, 5
BATCH = 32


def _module(mx: Any) -> Any:
    net = mx.sym.var("data")
    for i in range(4):
        net = mx.sym.Convolution(net, kernel=(3, 3), pad=(1, 1), num_filter=16, name=f"conv{i}")
        net = mx.sym.BatchNorm(net, name=f"bn{i}")
        net = mx.sym.Activation(net, act_type="relu", name=f"relu{i}")
    net = mx.sym.FullyConnected(mx.sym.flatten(net), num_hidden=10, name="fc")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    mod = mx.mod.Module(net)
    mod.bind(data_shapes=[("data", (BATCH, 3, 16, 16))], label_shapes=[("softmax_label", (BATCH,))])
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer_params={"learning_rate": 0.01})
    return mod


def _p10(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[0] if len(values) > 1 else values[0]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total", type=int, default=200, help="batches per module")
    args = parser.parse_args(argv)
    total = max(args.total, START + BATCHES + 20)

    import mxnet as mx
    import numpy as np

    import mxnet_tb as tb

    print_environment(
        [
            ("python", python_version()),
            ("mxnet", version_of("mxnet")),
            ("cpus", str(os.cpu_count())),
            ("settings", f"total={total} batches per module, tb.profile(batches={BATCHES}, start={START})"),
        ]
    )
    logdir = tempfile.mkdtemp(prefix="mxnet_tb_bench_profile_")
    try:
        writer = tb.SummaryWriter(logdir, verbose=False)
        unprofiled = _module(mx)  # bound before the profiler is configured: bulked, as any run
        callback = tb.profile(batches=BATCHES, start=START, writer=writer)
        profiled = _module(mx)  # bound after: unbulked
        rng = np.random.default_rng(0)
        batch = mx.io.DataBatch(
            [mx.nd.array(rng.standard_normal((BATCH, 3, 16, 16)))], [mx.nd.array(rng.integers(0, 10, BATCH))]
        )
        times: dict[str, list[float]] = {"A unprofiled": [], "B profiled": []}
        for nbatch in range(total):
            for name, mod in (("A unprofiled", unprofiled), ("B profiled", profiled)):
                start = time.perf_counter()
                mod.forward_backward(batch)
                mod.update()
                mx.nd.waitall()
                if mod is profiled:
                    callback(mx.model.BatchEndParam(epoch=0, nbatch=nbatch, eval_metric=None, locals={"self": mod}))
                times[name].append(time.perf_counter() - start)
        writer.close()
        session = callback.session
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    windows = {
        "warm-up": slice(2, START),
        "profiled": slice(START, START + BATCHES),
        "after": slice(START + BATCHES + 1, None),
    }
    unmapped = ", ".join(sorted(session.unmapped)) if session else "-"
    print(f"session       {session.nodes if session else 0} nodes of B timed; unmapped (A's bulked ops): {unmapped}")
    print()
    print(f"{'module':<14} {'window':<10} {'batches':>8} {'p10 ms':>9} {'median ms':>10}")
    stats: dict[tuple[str, str], tuple[float, float]] = {}
    for name, values in times.items():
        for window, part in windows.items():
            chunk = values[part]
            stats[name, window] = (_p10(chunk), statistics.median(chunk))
            p10, median = fmt(1000 * stats[name, window][0], ".2f"), fmt(1000 * stats[name, window][1], ".2f")
            print(f"{name:<14} {window:<10} {len(chunk):>8} {p10:>9} {median:>10}")
    print()
    for window in ("warm-up", "profiled", "after"):
        p10 = stats["B profiled", window][0] / stats["A unprofiled", window][0]
        median = stats["B profiled", window][1] / stats["A unprofiled", window][1]
        print(f"B / A, {window:<9} p10 {p10:.2f}x, median {median:.2f}x")
    ratio = stats["B profiled", "after"][1] / stats["A unprofiled", "after"][1]
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"after profiling / unprofiled (median) = {ratio:.2f}x (target <= {TARGET:.2f}x) [{verdict}]")


if __name__ == "__main__":
    main(sys.argv[1:])
