#!/usr/bin/env python3
"""What mxnet_tb.gluon costs a Gluon training loop: time per batch bare, under watch(), and with EstimatorHandler.

The digits CNN of examples/gluon (two conv layers, 8x8 inputs, batch 64, hybridized) trains on preloaded
batches. All configurations share one net and trainer (watch is attached for a chunk and removed after it) and
train chunks of 100 batches in turn; the best (minimum) chunk time per configuration is kept, because this
machine is shared and noisy.

- ``bare loop``: forward, backward, ``trainer.step`` and an accuracy ``metric.update`` per batch.
- ``watch(every=100)``: gradients (stats + histograms) every 100 batches, ``handle.log_metrics`` (metric, loss,
  learning rate, samples/sec) every batch; target: under 3% slower than the bare loop. Also without
  ``log_metrics``: the hooks alone.
- ``watch(every=100, weights=True)`` and ``watch(every=100, activations=True)`` (operator hook of the
  hybridized graph, set only for logged batches).
- ``Estimator.fit`` bare and with ``EstimatorHandler(every=100)`` (per-batch scalars, gradients every 100).
- ``watch(every=1)``: every batch logged, for the cost of one logged batch.
- ``--resnet``: the same bare / watch comparison on ResNet-18 (CIFAR-sized 32x32 inputs, batch 32).

Chunk minimums difference two noisy sums (the second bare loop shows how noisy); the per-batch medians model
``(watched - bare) / bare + (logged - watched) / (100 * bare)`` is the steadier estimate of the 3% target.

    .venv/bin/python bench/bench_gluon.py [--rounds 20] [--resnet]
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import mxnet as mx
import numpy as np
from _harness import keep_min, print_environment, python_version, version_of
from mxnet import autograd, gluon
from mxnet.gluon import nn
from mxnet.gluon.contrib.estimator import Estimator
from mxnet.gluon.model_zoo import vision

import mxnet_tb as tb

TARGET_SLOWDOWN = 0.03
CHUNK = 100  # batches per timed chunk: one logged batch each with every=100
# The process's CPU time (all its threads): on a shared machine other processes' load inflates wall-clock times
# by several times and at random, while the work a configuration adds shows in its own CPU time. ``--wall``
# switches to wall-clock time (for a quiet machine).
CLOCK = time.process_time


def digits_cnn() -> nn.HybridSequential:
    net = nn.HybridSequential(prefix="cnn_")
    with net.name_scope():
        net.add(
            nn.Conv2D(16, 3, padding=1),
            nn.BatchNorm(),
            nn.Activation("relu"),
            nn.MaxPool2D(2),
            nn.Conv2D(32, 3, padding=1, activation="relu"),
            nn.Dense(64, activation="relu"),
            nn.Dense(10),
        )
    return net


def resnet18() -> nn.HybridBlock:
    return vision.resnet18_v1(classes=10)


def batches(count: int, batch: int, side: int, channels: int) -> list[tuple[mx.nd.NDArray, mx.nd.NDArray]]:
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch, channels, side, side)).astype(np.float32)
    labels = rng.integers(0, 10, batch).astype(np.float32)
    one = (mx.nd.array(images), mx.nd.array(labels))
    return [one] * count


def fresh(make_net: Callable[[], nn.HybridBlock], sample: mx.nd.NDArray) -> tuple[nn.HybridBlock, gluon.Trainer]:
    mx.random.seed(0)
    net = make_net()
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(sample)  # deferred initialization and graph building are not training time
    return net, gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.01})


class Rig:
    """One net and trainer (or Estimator) shared by every configuration, so that they differ only in what
    mxnet_tb adds: separate nets differ in speed by several percent on their own (memory placement)."""

    def __init__(self, make_net: Callable[[], nn.HybridBlock], data: list[Any]) -> None:
        self.data = data
        self.net, self.trainer = fresh(make_net, data[0][0])
        self.loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        self.writer = tb.SummaryWriter(tempfile.mkdtemp(prefix="bench-gluon-"))
        self.metric = mx.metric.Accuracy()
        self.loader = gluon.data.DataLoader(  # the ready batches, one by one, as the Estimator wants a DataLoader
            _Preloaded(data), batch_sampler=[[i] for i in range(len(data))], batchify_fn=lambda items: items[0]
        )
        self.est = Estimator(
            self.net, gluon.loss.SoftmaxCrossEntropyLoss(), train_metrics=mx.metric.Accuracy(), trainer=self.trainer
        )
        self.est.logger.setLevel(logging.WARNING)
        self.handler = tb.gluon.EstimatorHandler(writer=self.writer, every=100, graph=False)

    def loop(self, watched: dict[str, Any] | None, scalars: bool = True) -> float:
        """A chunk of the hand-written loop: forward, backward, step and an accuracy update per batch (as loops
        do), under ``watch(**watched)`` (attached for the chunk; its step count goes on) and ``log_metrics``."""
        handle = tb.gluon.watch(self.net, self.trainer, writer=self.writer, **watched) if watched is not None else None
        gc.collect()
        times = []
        for x, y in self.data:
            started = CLOCK()
            with autograd.record():
                out = self.net(x)
                loss = self.loss_fn(out, y)
            loss.backward()
            self.trainer.step(x.shape[0])
            self.metric.update(y, out)
            if handle is not None and scalars:
                handle.log_metrics(self.metric, loss=loss)
            times.append(CLOCK() - started)
        mx.nd.waitall()
        if handle is not None:
            handle.remove()
        self.batch_times = times
        return sum(times)

    def fit(self, with_handler: bool) -> float:
        """A chunk as ``Estimator.fit(batches=...)``, with or without the (same) EstimatorHandler."""
        gc.collect()
        started = CLOCK()
        self.est.fit(self.loader, batches=len(self.data), event_handlers=[self.handler] if with_handler else [])
        mx.nd.waitall()
        return CLOCK() - started


def interleaved(
    configs: dict[str, Callable[[], float]], rounds: int, rig: Rig | None = None
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The best chunk time per configuration over ``rounds`` rounds, each running every configuration once.

    Chunks are 100 batches with ``every=100``: each holds exactly one logged batch, as a long run does. Short
    chunks in turn spread the load of a shared machine over all configurations alike.
    """
    best: dict[str, float] = {}
    per_batch: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, run in configs.items():
            keep_min(best, name, run())
            if rig is not None and not name.startswith("Estimator"):
                per_batch.setdefault(name, []).extend(rig.batch_times)
    return best, per_batch


def median_model(per_batch: dict[str, list[float]], every: int) -> float:
    """Overhead at ``every`` from per-batch medians, which a shared machine's spikes barely move: the
    unlogged batch's extra time, plus a logged batch's extra (from ``every=1``) spread over ``every`` batches."""
    bare = statistics.median(per_batch["bare loop"])
    unlogged = statistics.median(per_batch["watch(every=100)"])
    logged = statistics.median(per_batch["watch(every=1)"])
    print(
        f"per-batch medians (ms): bare {bare * 1e3:.3f}, watched {unlogged * 1e3:.3f}, logged {logged * 1e3:.3f} "
        f"(every=1)"
    )
    return (unlogged - bare) / bare + (logged - unlogged) / (every * bare)


class _Preloaded(gluon.data.Dataset):
    """Ready batches as a dataset whose items are batches."""

    def __init__(self, data: list[Any]) -> None:
        self._data = data

    def __getitem__(self, index: int) -> Any:
        return self._data[index]

    def __len__(self) -> int:
        return len(self._data)


def report(title: str, best: dict[str, float], count: int, base_name: str) -> None:
    print(title)
    print(
        f"{'configuration':44s} {'ms/batch':>9s} {'vs bare':>9s}   ({'wall' if CLOCK is time.perf_counter else 'CPU'})"
    )
    for name, seconds in best.items():
        base = best[base_name if not name.startswith("Estimator") else "Estimator.fit bare"]
        print(f"{name:44s} {seconds / count * 1e3:9.3f} {seconds / base - 1:+9.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="chunks of 100 batches per configuration")
    parser.add_argument("--resnet", action="store_true", help="also ResNet-18 (slow on a CPU)")
    parser.add_argument("--resnet-rounds", type=int, default=3)
    parser.add_argument("--wall", action="store_true", help="time wall-clock instead of the process's CPU time")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.perf_counter if args.wall else time.process_time
    warnings.simplefilter("ignore", DeprecationWarning)  # scipy.sparse deprecations inside MXNet's DataLoader
    print_environment([("python", python_version()), ("mxnet", version_of("mxnet")), ("mxnet_tb", tb.__version__)])
    rig = Rig(digits_cnn, batches(CHUNK, 64, 8, 1))
    configs: dict[str, Callable[[], float]] = {
        "bare loop": lambda: rig.loop(None),
        "bare loop again (the noise floor)": lambda: rig.loop(None),
        "watch(every=100), no log_metrics": lambda: rig.loop({"every": 100}, scalars=False),
        "watch(every=100)": lambda: rig.loop({"every": 100}),
        "watch(every=100, weights=True)": lambda: rig.loop({"every": 100, "weights": True}),
        "watch(every=100, activations=True)": lambda: rig.loop({"every": 100, "activations": True}),
        "watch(every=1)": lambda: rig.loop({"every": 1}),
        "Estimator.fit bare": lambda: rig.fit(with_handler=False),
        "Estimator.fit + EstimatorHandler(every=100)": lambda: rig.fit(with_handler=True),
    }
    interleaved(configs, 1)  # warm up MXNet's kernels, the allocator and the writers
    best, per_batch = interleaved(configs, args.rounds, rig)
    report(
        f"digits CNN, batch 64, best of {args.rounds} interleaved chunks of {CHUNK} batches", best, CHUNK, "bare loop"
    )
    for name, base in (
        ("watch(every=100)", "bare loop"),
        ("Estimator.fit + EstimatorHandler(every=100)", "Estimator.fit bare"),
    ):
        slowdown = best[name] / best[base] - 1
        verdict = "met" if slowdown < TARGET_SLOWDOWN else "NOT met"
        print(f"{name} slowdown: {slowdown:+.1%} (target < {TARGET_SLOWDOWN:.0%}) [{verdict}]")
    modelled = median_model(per_batch, 100)
    verdict = "met" if modelled < TARGET_SLOWDOWN else "NOT met"
    print(
        f"watch(every=100) slowdown from per-batch medians: {modelled:+.1%} "
        f"(target < {TARGET_SLOWDOWN:.0%}) [{verdict}]"
    )
    if args.resnet:
        big = Rig(resnet18, batches(CHUNK, 32, 32, 3))
        resnet: dict[str, Callable[[], float]] = {
            "bare loop": lambda: big.loop(None),
            "watch(every=100)": lambda: big.loop({"every": 100}),
            "watch(every=1)": lambda: big.loop({"every": 1}),
        }
        interleaved(resnet, 1)
        best, per_batch = interleaved(resnet, args.resnet_rounds, big)
        report(
            f"ResNet-18, 32x32, batch 32, best of {args.resnet_rounds} chunks of {CHUNK} batches",
            best,
            CHUNK,
            "bare loop",
        )
        print(f"ResNet-18 watch(every=100) slowdown from per-batch medians: {median_model(per_batch, 100):+.1%}")


if __name__ == "__main__":
    main()
