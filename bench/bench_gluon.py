#!/usr/bin/env python3
"""What mxnet_tb.gluon costs a Gluon training loop: time per batch bare, under watch(), and with EstimatorHandler.

The digits CNN of examples/gluon (two conv layers, 8x8 inputs, batch 64, hybridized) trains on preloaded
batches. Every configuration trains the same number of batches on a fresh net and trainer; configurations are
interleaved per repeat and the best (minimum) time per configuration is kept, because this machine is shared
and noisy.

- ``bare loop``: forward, backward, ``trainer.step`` and an accuracy ``metric.update`` per batch.
- ``watch(every=100)``: gradients (stats + histograms) every 100 batches, ``handle.log_metrics`` (metric, loss,
  learning rate, samples/sec) every batch; target: under 3% slower than the bare loop. Also without
  ``log_metrics``: the hooks alone.
- ``watch(every=100, weights=True)`` and ``watch(every=100, activations=True)`` (operator hook of the
  hybridized graph, set only for logged batches).
- ``Estimator.fit`` bare and with ``EstimatorHandler(every=100)`` (per-batch scalars, gradients every 100).
- ``--resnet``: the same bare / watch comparison on ResNet-18 (CIFAR-sized 32x32 inputs, batch 32).

    .venv/bin/python bench/bench_gluon.py [--batches 300] [--repeat 5] [--resnet]
"""

from __future__ import annotations

import argparse
import gc
import logging
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


def loop_seconds(
    make_net: Callable[[], nn.HybridBlock], data: list[Any], watched: dict[str, Any] | None, scalars: bool = True
) -> float:
    """A plain loop that updates an accuracy metric every batch (as loops do), optionally watched and logging."""
    net, trainer = fresh(make_net, data[0][0])
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    with tb.SummaryWriter(tempfile.mkdtemp(prefix="bench-gluon-")) as writer:
        handle = tb.gluon.watch(net, trainer, writer=writer, **watched) if watched is not None else None
        metric = mx.metric.Accuracy()
        gc.collect()
        started = time.perf_counter()
        for x, y in data:
            with autograd.record():
                out = net(x)
                loss = loss_fn(out, y)
            loss.backward()
            trainer.step(x.shape[0])
            metric.update(y, out)
            if handle is not None and scalars:
                handle.log_metrics(metric, loss=loss)
        mx.nd.waitall()
        seconds = time.perf_counter() - started
        if handle is not None:
            handle.remove()
        return seconds


def estimator_seconds(data: list[Any], with_handler: bool) -> float:
    net, trainer = fresh(digits_cnn, data[0][0])
    loader = gluon.data.DataLoader(  # the ready batches, one by one, as the Estimator wants a DataLoader
        _Preloaded(data), batch_sampler=[[i] for i in range(len(data))], batchify_fn=lambda items: items[0]
    )
    est = Estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(), train_metrics=mx.metric.Accuracy(), trainer=trainer)
    est.logger.setLevel(logging.WARNING)
    with tb.SummaryWriter(tempfile.mkdtemp(prefix="bench-gluon-")) as writer:
        handlers = [tb.gluon.EstimatorHandler(writer=writer, every=100, graph=False)] if with_handler else []
        gc.collect()
        started = time.perf_counter()
        est.fit(loader, epochs=1, event_handlers=handlers)
        mx.nd.waitall()
        return time.perf_counter() - started


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
    print(f"{'configuration':44s} {'ms/batch':>9s} {'vs bare':>9s}")
    for name, seconds in best.items():
        base = best[base_name if not name.startswith("Estimator") else "Estimator.fit bare"]
        print(f"{name:44s} {seconds / count * 1e3:9.3f} {seconds / base - 1:+9.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--resnet", action="store_true", help="also ResNet-18 (slow on a CPU)")
    parser.add_argument("--resnet-batches", type=int, default=100)
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)  # scipy.sparse deprecations inside MXNet's DataLoader
    print_environment([("python", python_version()), ("mxnet", version_of("mxnet")), ("mxnet_tb", tb.__version__)])
    data = batches(args.batches, 64, 8, 1)
    configs: dict[str, Callable[[], float]] = {
        "bare loop": lambda: loop_seconds(digits_cnn, data, None),
        "watch(every=100), no log_metrics": lambda: loop_seconds(digits_cnn, data, {"every": 100}, scalars=False),
        "watch(every=100)": lambda: loop_seconds(digits_cnn, data, {"every": 100}),
        "watch(every=100, weights=True)": lambda: loop_seconds(digits_cnn, data, {"every": 100, "weights": True}),
        "watch(every=100, activations=True)": lambda: loop_seconds(
            digits_cnn, data, {"every": 100, "activations": True}
        ),
        "Estimator.fit bare": lambda: estimator_seconds(data, False),
        "Estimator.fit + EstimatorHandler(every=100)": lambda: estimator_seconds(data, True),
    }
    loop_seconds(digits_cnn, data[:20], None)  # warm up MXNet's kernels and allocator
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for name, run in configs.items():
            keep_min(best, name, run())
    report(f"digits CNN, batch 64, {args.batches} batches per run, best of {args.repeat} (interleaved)", best,
           args.batches, "bare loop")  # fmt: skip
    for name, base in (
        ("watch(every=100)", "bare loop"),
        ("Estimator.fit + EstimatorHandler(every=100)", "Estimator.fit bare"),
    ):
        slowdown = best[name] / best[base] - 1
        verdict = "met" if slowdown < TARGET_SLOWDOWN else "NOT met"
        print(f"{name} slowdown: {slowdown:+.1%} (target < {TARGET_SLOWDOWN:.0%}) [{verdict}]")
    if args.resnet:
        data = batches(args.resnet_batches, 32, 32, 3)
        resnet = {
            "bare loop": lambda: loop_seconds(resnet18, data, None),
            "watch(every=100)": lambda: loop_seconds(resnet18, data, {"every": 100}),
        }
        best = {}
        for _ in range(max(1, args.repeat // 2)):
            for name, run in resnet.items():
                keep_min(best, name, run())
        report(
            f"ResNet-18, 32x32, batch 32, {args.resnet_batches} batches per run", best, args.resnet_batches, "bare loop"
        )


if __name__ == "__main__":
    main()
