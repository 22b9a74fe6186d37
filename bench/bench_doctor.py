#!/usr/bin/env python3
"""What ``tb.Doctor``'s rules cost over the monitors they read: the digits CNN, with those monitors, then with it.

``tb.Doctor(I)`` is ``GradMonitor(I)``, ``WeightMonitor(I)`` and ``ActivationMonitor(I)`` plus the rules (and the
NaN check at each logged batch). Each configuration trains the same digits CNN (``train_digits.py``'s, on
scikit-learn's 8x8 digits, batch 64, CPU) with ``Module.fit`` and ``batch_end_callback=tb.scalars()`` (the loss
rules read its ``train/cross-entropy``); configurations run interleaved, once per round, in one process.

- ``none``: no monitor. ``monitors(I)``: ``tb.MonitorGroup(GradMonitor(I), WeightMonitor(I),
  ActivationMonitor(I))``. ``Doctor(I)``: ``tb.Doctor(I)``. For I = 1 and 10.
- End to end: training-loop time (clock from the end of batch ``WARMUP - 1`` to the last batch, the writer closed
  so background work is paid for), wall and process CPU; per round ``Doctor(I) / monitors(I)``, then the median
  and the spread of those ratios. On a shared machine this is noisier than the 1% it should show.
- Direct: every entry point of the doctor's own work is timed with the calling thread's CPU clock during the
  ``Doctor(I)`` runs (from the same batch on): the rules (``Diagnosis.record``/``conclude``, the verdict's scalars
  and report, the loss listener), the NaN check (wall time: it waits for the batch), and the monitors' statistics
  (``BatchReport.values``, ``UpdateRatios.values``, minus the rules they call). The rules' CPU over the loop's CPU
  with the monitors is the robust measure; target under 1%.

    .venv/bin/python bench/bench_doctor.py [--epochs 4] [--rounds 5] [--intervals 1 10]
"""

from __future__ import annotations

import argparse
import functools
import logging
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mxnet as mx
import numpy as np
from _harness import in_tempdir, print_environment, python_version, version_of
from sklearn.datasets import load_digits

import mxnet_tb as tb
from mxnet_tb import doctor as doctor_module
from mxnet_tb._doctor import judge as judge_module
from mxnet_tb._doctor import rules as rules_module
from mxnet_tb.monitors import _report

BATCH = 64
WARMUP = 5
TARGET = 0.01

Make = Callable[[tb.SummaryWriter], Any]


def network() -> mx.sym.Symbol:
    """``examples/module_api/train_digits.py``'s CNN."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "module_api"))
    from train_digits import cnn

    return cnn()


@functools.lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    return (data.images / 16.0).astype(np.float32)[:, None, :, :], data.target.astype(np.float32)


def train_seconds(
    epochs: int, make_monitor: Make, logdir: str, on_start: Callable[[], None] = lambda: None
) -> tuple[float, float, int]:
    """Wall and process CPU seconds (all threads) of the batches after the first ``WARMUP``, and their number;
    ``on_start()`` is called when the clock starts."""
    images, labels = digits()
    train = mx.io.NDArrayIter(images, labels, BATCH, shuffle=False, last_batch_handle="discard")
    mod = mx.mod.Module(network(), context=mx.cpu())
    started: list[tuple[float, float]] = []
    batches = [0]

    def clock(param: Any) -> None:
        batches[0] += 1
        if batches[0] == WARMUP:
            mx.nd.waitall()
            on_start()
            started.append((time.perf_counter(), time.process_time()))

    mx.random.seed(0)
    writer = tb.SummaryWriter(logdir, verbose=False)
    mod.fit(
        train,
        num_epoch=epochs,
        eval_metric=["acc", "ce"],
        monitor=make_monitor(writer),
        batch_end_callback=[clock, tb.scalars(writer=writer)],
        initializer=mx.init.Xavier(),
        optimizer="sgd",
        optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
    )
    mx.nd.waitall()
    writer.close()
    return time.perf_counter() - started[0][0], time.process_time() - started[0][1], batches[0] - WARMUP


def monitors(interval: int) -> Make:
    def make(writer: tb.SummaryWriter) -> Any:
        return tb.MonitorGroup(
            tb.GradMonitor(interval, writer=writer),
            tb.WeightMonitor(interval, writer=writer),
            tb.ActivationMonitor(interval, writer=writer),
        )

    return make


def doctor(interval: int) -> Make:
    return lambda writer: tb.Doctor(interval, writer=writer)


class Stopwatch:
    """Seconds spent in wrapped functions, by label, on the calling thread's CPU clock (or the wall clock)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.on = False
        self.missing: list[str] = []

    def start(self) -> None:
        self.on = True

    def wrap(self, owner: Any, name: str, label: str, clock: Callable[[], float] = time.thread_time) -> None:
        original = owner.__dict__.get(name)
        if original is None:  # the doctor's internals moved: say what is no longer timed
            self.missing.append(f"{owner.__name__}.{name}")
            return

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.on:
                return original(*args, **kwargs)
            begin = clock()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += clock() - begin
                self.calls[label] += 1

        setattr(owner, name, timed)


def stopwatch() -> Stopwatch:
    """Wrap the doctor's entry points (rules) and the monitors' statistics (minus the rules they call)."""
    watch = Stopwatch()
    watch.wrap(rules_module.Diagnosis, "record", "rules: Diagnosis.record")  # inside the monitors' statistics
    watch.wrap(rules_module.Diagnosis, "conclude", "rules: Diagnosis.conclude")
    watch.wrap(rules_module.Diagnosis, "judge_loss", "rules: Diagnosis.judge_loss")
    watch.wrap(judge_module.Judge, "listener", "rules: Judge.listener")
    watch.wrap(judge_module.Judge, "conclude", "rules: Judge.conclude")
    watch.wrap(judge_module.Judge, "_outcome", "rules: scalars and report")
    watch.wrap(judge_module.Judge, "_on_scalar", "rules: loss listener")
    watch.wrap(doctor_module._NanCheck, "_collect", "NaN check (wall)", time.perf_counter)
    watch.wrap(_report.BatchReport, "values", "statistics")
    watch.wrap(_report.UpdateRatios, "values", "statistics")
    return watch


def spread(values: list[float]) -> str:
    """The median and the interquartile range of per-round ratios, as percentages over 1."""
    if len(values) < 2:
        return f"{values[0] - 1:+.1%}"
    low, _, high = statistics.quantiles(values, n=4)
    return f"{statistics.median(values) - 1:+.1%} (IQR {low - 1:+.1%} .. {high - 1:+.1%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4, help="epochs of 28 batches per run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--intervals", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # the doctor may warn (it should not on this healthy net)
    configs: dict[str, Make] = {"none": lambda writer: None}
    for interval in args.intervals:
        configs[f"monitors({interval})"] = monitors(interval)
        configs[f"Doctor({interval})"] = doctor(interval)
    watch = stopwatch()
    spent: dict[str, dict[str, float]] = {name: defaultdict(float) for name in configs}  # label -> s, per config
    in_tempdir(lambda d: train_seconds(1, configs[f"Doctor({args.intervals[0]})"], d))  # warm up
    wall: dict[str, list[float]] = {name: [] for name in configs}
    cpu: dict[str, list[float]] = {name: [] for name in configs}
    batches = 0
    for _ in range(args.rounds):
        for name, make in configs.items():
            before = dict(watch.seconds)
            start = watch.start if name.startswith("Doctor") else (lambda: None)
            seconds, used, batches = in_tempdir(lambda d, m=make, s=start: train_seconds(args.epochs, m, d, s))
            watch.on = False
            for label, total in watch.seconds.items():
                spent[name][label] += total - before.get(label, 0.0)
            wall[name].append(seconds)
            cpu[name].append(used)
    print_environment([("python", python_version()), ("mxnet", version_of("mxnet")), ("mxnet_tb", tb.__version__)])
    print(f"digits CNN, batch {BATCH}, CPU: {batches} timed batches x {args.rounds} interleaved rounds (medians)")
    print(f"{'configuration':14s} {'ms/batch':>9s} {'CPU ms/batch':>13s}")
    for name in configs:
        ms = statistics.median(wall[name]) / batches * 1e3
        cpu_ms = statistics.median(cpu[name]) / batches * 1e3
        print(f"{name:14s} {ms:9.2f} {cpu_ms:13.2f}")
    print("end to end, Doctor(I) vs monitors(I), median of per-round ratios:")
    for interval in args.intervals:
        a, b = f"monitors({interval})", f"Doctor({interval})"
        wall_ratios = [d / m for d, m in zip(wall[b], wall[a])]
        cpu_ratios = [d / m for d, m in zip(cpu[b], cpu[a])]
        print(f"  I={interval:<3d} wall {spread(wall_ratios)}; CPU {spread(cpu_ratios)}")
    print("direct, inside the Doctor(I) runs (thread CPU time of the wrapped calls, summed over rounds):")
    for interval in args.intervals:
        name = f"Doctor({interval})"
        seconds = spent[name]
        parts = {label[7:]: value for label, value in seconds.items() if label.startswith("rules: ")}
        rules = sum(parts.values())
        stats = seconds["statistics"] - parts.get("Diagnosis.record", 0.0)  # record runs inside the statistics
        loop = sum(cpu[name])
        monitored = sum(cpu[f"monitors({interval})"])
        added = monitored - sum(cpu["none"])
        logged = batches * args.rounds / interval
        if rules <= 0 or stats <= 0:
            print(f"  I={interval:<3d} rules or statistics not timed (see the note below)")
            continue
        verdict = "met" if rules / monitored < TARGET else "NOT met"
        print(
            f"  I={interval:<3d} rules {rules / logged * 1e6:7.1f} us/logged batch = {rules / monitored:.2%} of the "
            f"loop's CPU with the monitors (target < {TARGET:.0%}) [{verdict}]"
        )
        print(
            f"         = {rules / stats:.1%} of the monitors' statistics ({stats / logged * 1e6:.0f} us/logged batch)"
            f", {rules / added:.1%} of the monitors' whole added CPU ({added / logged * 1e6:.0f} us/logged batch)"
        )
        shares = ", ".join(f"{label} {value / logged * 1e6:.0f}" for label, value in parts.items())
        print(f"         rules in us/logged batch: {shares}")
        nan = seconds.get("NaN check (wall)", 0.0)
        print(
            f"         NaN check {nan / logged * 1e6:.0f} us wall/logged batch = {nan / sum(wall[name]):.1%} of "
            f"the loop's wall time (loop CPU {loop / batches / args.rounds * 1e3:.2f} ms/batch)"
        )
    if watch.missing:
        print(f"note: not timed, no longer found (the doctor changed): {', '.join(watch.missing)}")


if __name__ == "__main__":
    main()
