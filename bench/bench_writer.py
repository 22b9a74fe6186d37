#!/usr/bin/env python3
"""Benchmark mxnet_tb's SummaryWriter against tensorboardX and TensorBoard's own EventFileWriter, side by side.

What is measured (each run in a fresh ``tempfile.mkdtemp`` directory, removed afterwards):

1. Scalar throughput: ``--scalars`` (default 100,000) ``add_scalar`` calls with a Python float and an increasing
   int step, ``close()`` included in the timing (creating the writer is not). Reported as calls per second.
2. Histograms: ``--histograms`` (default 100) ``add_histogram`` calls on one 1,000,000-element float32 array
   (``np.random.default_rng(0).standard_normal``) with TensorBoard's default exponential buckets
   (``bins='default'`` for mxnet_tb, ``bins='tensorflow'`` for tensorboardX), ``close()`` included.
   Reported as milliseconds per histogram.
3. Caller-visible latency of one ``add_scalar``: after 1,000 warm-up calls, each of ``--scalars`` calls is timed
   on its own with ``time.perf_counter_ns()`` around the call. Reported as median and p99 in microseconds
   (the timer's own overhead, printed separately, is included).

TensorBoard's writer is driven the "naive protobuf path" way: every call builds an ``Event`` proto (for
histograms a ``HistogramProto`` computed with NumPy on TensorBoard's default bucket edges) and hands it to
``EventFileWriter.add_event``.

Each workload is repeated ``--repeat`` times (default 3) with the writers interleaved (A, B, C, A, B, C, ...) so
that noise on a shared machine hits all of them alike, and the best (minimum time) per writer is reported; for
latency the median and the p99 are each the lowest over the repeats. ``gc.collect()`` runs before every timed
run; nothing else (not even the garbage collector) is disabled.

Run it with::

    python3 dev.py bench                        # sets up .venv with the peers, then runs this script
    python3 dev.py bench --quick                # 10x smaller smoke run
    .venv/bin/python bench/bench_writer.py --repeat 5 --scalars 200000 --histograms 50

It is a report, not a test: it always exits 0 and prints whether each target is met.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from _harness import (
    Contender,
    attempt,
    fmt,
    in_tempdir,
    keep_min,
    print_environment,
    print_error_notes,
    python_version,
    ratio_line,
    version_of,
)

WARMUP_CALLS = 1_000
HIST_SIZE = 1_000_000
SCALAR_TAG = "loss"
HIST_TAG = "weights"

# Targets for mxnet_tb, checked in the summary.
TARGET_SCALAR_SPEEDUP = 10.0
TARGET_P99_US = 20.0
TARGET_HIST_SPEEDUP = 5.0

ScalarFn = Callable[[str, float, int], Any]
HistFn = Callable[[str, np.ndarray, int], Any]


@dataclass
class Handle:
    """An open writer, reduced to the three operations the workloads use."""

    scalar: ScalarFn
    histogram: HistFn
    close: Callable[[], Any]


@dataclass
class Results:
    """Best-of-repeats figures per writer (seconds for the timed workloads, nanoseconds for latency)."""

    scalar_s: dict[str, float] = field(default_factory=dict)
    hist_s: dict[str, float] = field(default_factory=dict)
    lat_median_ns: dict[str, float] = field(default_factory=dict)
    lat_p99_ns: dict[str, float] = field(default_factory=dict)


# -- the writers --------------------------------------------------------------------------------------------


def open_mxnet_tb(logdir: str) -> Handle:
    """mxnet_tb's SummaryWriter with its default settings."""
    from mxnet_tb import SummaryWriter

    writer = SummaryWriter(logdir)
    return Handle(writer.add_scalar, functools.partial(writer.add_histogram, bins="default"), writer.close)


def open_tensorboardx(logdir: str) -> Handle:
    """tensorboardX's SummaryWriter with its default settings; TensorBoard's default buckets for histograms."""
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(logdir)
    return Handle(writer.add_scalar, functools.partial(writer.add_histogram, bins="tensorflow"), writer.close)


def tensorboard_bucket_limits() -> np.ndarray:
    """TensorBoard's default histogram bucket limits: +-1e-12 * 1.1**k below 1e20, 0, and +-DBL_MAX at the ends."""
    positive = []
    edge = 1e-12
    while edge < 1e20:
        positive.append(edge)
        edge *= 1.1
    dbl_max = float(np.finfo(np.float64).max)
    pos = np.array(positive)
    return np.concatenate([[-dbl_max], -pos[::-1], [0.0], pos, [dbl_max]])


def open_event_file_writer(logdir: str) -> Handle:
    """TensorBoard's EventFileWriter fed with Event protos built per call (the naive protobuf path)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(logdir)
    limits = tensorboard_bucket_limits()

    def add_scalar(tag: str, value: float, step: int) -> None:
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def add_histogram(tag: str, values: np.ndarray, step: int) -> None:
        flat = np.asarray(values, dtype=np.float64).ravel()
        # Bucket i holds limits[i-1] <= v < limits[i], i.e. the first limit above v.
        counts = np.bincount(np.searchsorted(limits, flat, side="right"), minlength=len(limits))[: len(limits)]
        # Keep non-empty buckets; a run of empty buckets becomes one empty bucket ending where the run ends.
        nonzero = counts > 0
        keep = nonzero | np.append(nonzero[1:], True)
        proto = summary_pb2.HistogramProto(
            min=float(flat.min()),
            max=float(flat.max()),
            num=float(flat.size),
            sum=float(flat.sum()),
            sum_squares=float(np.dot(flat, flat)),
            bucket_limit=limits[keep].tolist(),
            bucket=counts[keep].astype(np.float64).tolist(),
        )
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, histo=proto)])
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    return Handle(add_scalar, add_histogram, writer.close)


CONTENDERS: list[Contender[Handle]] = [
    Contender("mxnet_tb", open_mxnet_tb),
    Contender("tensorboardX", open_tensorboardx),
    Contender("EventFileWriter", open_event_file_writer),
]


# -- the workloads ------------------------------------------------------------------------------------------


def scalar_throughput(contender: Contender[Handle], values: list[float]) -> float:
    """Seconds for len(values) add_scalar calls plus close()."""

    def run(logdir: str) -> float:
        handle = contender.open(logdir)
        add = handle.scalar
        start = time.perf_counter()
        for step, value in enumerate(values):
            add(SCALAR_TAG, value, step)
        handle.close()
        return time.perf_counter() - start

    return in_tempdir(run)


def histogram_time(contender: Contender[Handle], data: np.ndarray, count: int) -> float:
    """Seconds for ``count`` add_histogram calls on ``data`` plus close()."""

    def run(logdir: str) -> float:
        handle = contender.open(logdir)
        add = handle.histogram
        start = time.perf_counter()
        for step in range(count):
            add(HIST_TAG, data, step)
        handle.close()
        return time.perf_counter() - start

    return in_tempdir(run)


def scalar_latency(contender: Contender[Handle], values: list[float], warmup: int) -> tuple[float, float]:
    """(median, p99) in nanoseconds of single add_scalar calls, each timed on its own after ``warmup`` calls."""

    def run(logdir: str) -> tuple[float, float]:
        handle = contender.open(logdir)
        add = handle.scalar
        clock = time.perf_counter_ns
        for step in range(warmup):
            add(SCALAR_TAG, values[step % len(values)], step)
        samples = [0] * len(values)
        for i, value in enumerate(values):
            start = clock()
            add(SCALAR_TAG, value, warmup + i)
            samples[i] = clock() - start
        handle.close()
        median, p99 = np.percentile(np.array(samples, dtype=np.float64), [50, 99])
        return float(median), float(p99)

    return in_tempdir(run)


def timer_overhead_ns(calls: int = 100_000) -> float:
    """Median nanoseconds between two back-to-back perf_counter_ns() calls (included in every latency sample)."""
    clock = time.perf_counter_ns
    samples = [0] * calls
    for i in range(calls):
        start = clock()
        samples[i] = clock() - start
    return float(np.median(samples))


# -- reporting ----------------------------------------------------------------------------------------------


def environment_rows() -> list[tuple[str, str]]:
    """Rows for print_environment: interpreter, cpus, peer versions, protobuf backend, OPENBLAS_CORETYPE."""
    from google.protobuf.internal import api_implementation

    coretype = os.environ.get("OPENBLAS_CORETYPE")
    modules = ("numpy", "tensorboard", "tensorboardX", "google.protobuf", "mxnet_tb")
    return [
        ("python", f"{python_version()} ({platform.python_implementation()}) on {platform.platform()}"),
        ("cpus", f"{os.cpu_count()}"),
        *((module, version_of(module)) for module in modules),
        ("protobuf impl", f"{api_implementation.Type()}"),
        ("OPENBLAS_CORETYPE", f"set to {coretype!r}" if coretype is not None else "not set"),
    ]


def print_summary(results: Results, scalars: int, histograms: int, hist_size: int, overhead_ns: float) -> None:
    names = [c.name for c in CONTENDERS]
    size = f"{hist_size / 1e6:g}M" if hist_size >= 1_000_000 else f"{hist_size / 1e3:g}k"

    def per_sec(name: str) -> float | None:
        seconds = results.scalar_s.get(name)
        return scalars / seconds if seconds else None

    def hist_ms(name: str) -> float | None:
        seconds = results.hist_s.get(name)
        return seconds / histograms * 1e3 if seconds is not None else None

    def us(table: dict[str, float], name: str) -> float | None:
        return table[name] / 1e3 if name in table else None

    print()
    print(f"summary (best of repeats; {scalars:,} scalars, {histograms} histograms of {hist_size:,} float32)")
    header = f"{'writer':<16} {'scalars/s':>12} {'ms/histogram':>13} {'latency p50 us':>15} {'latency p99 us':>15}"
    print(header)
    print("-" * len(header))
    for name in names:
        print(
            f"{name:<16} {fmt(per_sec(name), ',.0f'):>12} {fmt(hist_ms(name), '.2f'):>13} "
            f"{fmt(us(results.lat_median_ns, name), '.2f'):>15} {fmt(us(results.lat_p99_ns, name), '.2f'):>15}"
        )
    print(f"(latency includes perf_counter_ns overhead of about {overhead_ns:.0f} ns)")
    print()
    me = "mxnet_tb"
    for peer in names[1:]:
        print(ratio_line(f"scalar throughput: {me}/{peer}", per_sec(me), per_sec(peer), TARGET_SCALAR_SPEEDUP))
    p99 = us(results.lat_p99_ns, me)
    if p99 is None:
        print(f"scalar p99 latency: {me} = n/a (target < {TARGET_P99_US:g} us)")
    else:
        verdict = "met" if p99 < TARGET_P99_US else "NOT met"
        print(f"scalar p99 latency: {me} = {p99:.1f} us (target < {TARGET_P99_US:g} us) [{verdict}]")
    for peer in names[1:]:
        peer_p99 = us(results.lat_p99_ns, peer)
        print(f"scalar p99 latency: {peer} = {fmt(peer_p99, '.1f')} us")
    for peer in names[1:]:
        print(
            ratio_line(
                f"histogram {size}: {peer}/{me}", results.hist_s.get(peer), results.hist_s.get(me), TARGET_HIST_SPEEDUP
            )
        )
    print_error_notes(CONTENDERS)


# -- main ---------------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per writer and workload; the best is kept")
    parser.add_argument("--scalars", type=int, default=100_000, help="add_scalar calls (throughput and latency)")
    parser.add_argument("--histograms", type=int, default=100, help="add_histogram calls")
    parser.add_argument("--quick", action="store_true", help="scale all counts and the array size down 10x")
    args = parser.parse_args(argv)
    args.repeat = max(1, args.repeat)
    args.hist_size = HIST_SIZE
    args.warmup = WARMUP_CALLS
    if args.quick:
        args.scalars, args.histograms = args.scalars // 10, args.histograms // 10
        args.hist_size, args.warmup = args.hist_size // 10, args.warmup // 10
    args.scalars, args.histograms = max(1, args.scalars), max(1, args.histograms)
    return args


def run(args: argparse.Namespace) -> None:
    print_environment(environment_rows())
    print(
        f"settings      repeat={args.repeat} scalars={args.scalars:,} histograms={args.histograms} "
        f"hist_size={args.hist_size:,} warmup={args.warmup:,}{' (quick)' if args.quick else ''}"
    )
    values = [math.sin(i * 1e-3) + 1.5 for i in range(args.scalars)]
    data = np.random.default_rng(0).standard_normal(args.hist_size, dtype=np.float32)
    results = Results()

    print("\n[1] scalar throughput (calls + close)", flush=True)
    for rep in range(args.repeat):
        for contender in CONTENDERS:
            seconds = attempt(contender, "scalars", lambda c=contender: scalar_throughput(c, values))
            if seconds is not None:
                keep_min(results.scalar_s, contender.name, seconds)
                print(f"  repeat {rep + 1} {contender.name:<16} {args.scalars / seconds:>12,.0f} calls/s", flush=True)

    print(f"\n[2] histograms of {args.hist_size:,} float32 (calls + close)", flush=True)
    for rep in range(args.repeat):
        for contender in CONTENDERS:
            seconds = attempt(contender, "histograms", lambda c=contender: histogram_time(c, data, args.histograms))
            if seconds is not None:
                keep_min(results.hist_s, contender.name, seconds)
                ms = seconds / args.histograms * 1e3
                print(f"  repeat {rep + 1} {contender.name:<16} {ms:>10.2f} ms/histogram", flush=True)

    print(f"\n[3] single add_scalar latency ({args.warmup:,} warm-up calls first)", flush=True)
    overhead = timer_overhead_ns()
    for rep in range(args.repeat):
        for contender in CONTENDERS:
            stats = attempt(contender, "latency", lambda c=contender: scalar_latency(c, values, args.warmup))
            if stats is not None:
                median, p99 = stats
                keep_min(results.lat_median_ns, contender.name, median)
                keep_min(results.lat_p99_ns, contender.name, p99)
                line = f"median {median / 1e3:>8.2f} us   p99 {p99 / 1e3:>8.2f} us"
                print(f"  repeat {rep + 1} {contender.name:<16} {line}", flush=True)

    print_summary(results, args.scalars, args.histograms, args.hist_size, overhead)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except Exception:
        print("benchmark aborted:", flush=True)
        traceback.print_exc(file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
