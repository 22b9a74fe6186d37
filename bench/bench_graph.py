#!/usr/bin/env python3
"""Benchmark ``graph_def``: how long a ResNet-152 takes to become a TensorBoard GraphDef, input shapes included.

What is measured (ResNet-152 v1 from ``mxnet.gluon.model_zoo.vision`` with ``pretrained=False``: built offline,
parameters never initialized; building it is not timed):

1. ``graph_def(net, shapes={'data': (1, 3, 224, 224)})`` on the Gluon HybridBlock: calling the block on
   ``mx.sym.var('data')``, shape inference and the GraphDef. This is the number the target applies to.
2. The same from the traced ``mx.sym.Symbol`` (no tracing), and from the Symbol without shapes.
3. ``SummaryWriter.add_graph(net, shapes=...)`` plus ``close()`` on a fresh temporary directory: conversion,
   serialization, and the write to disk.

One untimed warm-up call comes first (imports and MXNet's operator registry); then each workload runs
``--repeat`` times (default 10) with ``gc.collect()`` before each, and the median and the best are reported.
The target is checked against the median.

Run it with::

    .venv/bin/python bench/bench_graph.py
    .venv/bin/python bench/bench_graph.py --repeat 30

It is a report, not a test: it always exits 0 and prints whether the target is met.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

TARGET_S = 0.5
SHAPES = {"data": (1, 3, 224, 224)}


def timings(run: Callable[[], Any], repeat: int) -> list[float]:
    """Seconds of ``repeat`` calls of ``run``, each after a gc.collect()."""
    seconds = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return seconds


def add_graph_once(net: Any) -> None:
    from mxnet_tb import SummaryWriter

    logdir = tempfile.mkdtemp(prefix="mxnet_tb_bench_graph_")
    try:
        writer = SummaryWriter(logdir, verbose=False)
        writer.add_graph(net, shapes=SHAPES)
        writer.close()
    finally:
        shutil.rmtree(logdir, ignore_errors=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per workload (median and best reported)")
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat)

    import mxnet as mx
    from google.protobuf.internal import api_implementation
    from mxnet.gluon.model_zoo import vision

    from mxnet_tb.summaries.graph import graph_def

    print(f"python        {sys.version.split()[0]} on {platform.platform()}, {os.cpu_count()} cpus")
    print(f"mxnet         {mx.__version__}; protobuf {api_implementation.Type()}")

    start = time.perf_counter()
    net = vision.resnet152_v1(pretrained=False)
    symbol = net(mx.sym.var("data"))
    print(f"model         ResNet-152 v1, built and traced in {time.perf_counter() - start:.3f} s (not timed below)")
    warm = time.perf_counter()
    graph = graph_def(net, shapes=SHAPES)
    size = len(graph.SerializeToString())
    print(f"warm-up       {time.perf_counter() - warm:.3f} s; {len(graph.node)} nodes, {size / 1e6:.2f} MB serialized")
    print(f"settings      repeat={repeat}, shapes={SHAPES}")
    print()

    workloads = [
        ("graph_def(HybridBlock, shapes)", lambda: graph_def(net, shapes=SHAPES)),
        ("graph_def(Symbol, shapes)", lambda: graph_def(symbol, shapes=SHAPES)),
        ("graph_def(Symbol)", lambda: graph_def(symbol)),
        ("add_graph(HybridBlock, shapes) + close", lambda: add_graph_once(net)),
    ]
    medians = {}
    print(f"{'workload':<40} {'median s':>10} {'best s':>10}")
    for name, run in workloads:
        seconds = timings(run, repeat)
        medians[name] = statistics.median(seconds)
        print(f"{name:<40} {medians[name]:>10.4f} {min(seconds):>10.4f}", flush=True)
    print()
    headline = medians[workloads[0][0]]
    verdict = "met" if headline < TARGET_S else "NOT met"
    print(f"ResNet-152 conversion with shapes: {headline:.3f} s median (target < {TARGET_S:g} s) [{verdict}]")


if __name__ == "__main__":
    main(sys.argv[1:])
