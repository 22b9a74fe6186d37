#!/usr/bin/env python3
"""What the monitors that need MXNet's executor callback cost on a ResNet-20 (CIFAR layout), next to none.

ResNet-20 as in MXNet's ``image-classification/symbols/resnet.py`` for 32x32 inputs (identity + BatchNorm on
the data, three stages of three basic units with 16/32/64 filters), batch 32, trained with ``Module.fit`` on
generated data. Configurations are interleaved per repeat and the best (minimum) time of each is kept, because
this machine is shared and noisy; the process's CPU time (all threads) is reported beside wall time, as the
steadier of the two when other jobs compete for the cores. Every monitor logs every 100 batches; the executor
callback runs on all of them.

- ``none``; ``tb.GradMonitor(100)`` (executor hooks only, no callback);
- ``mx.mon.Monitor(100)``: MXNet's stock monitor, via ``fit(monitor=...)``;
- ``tb.Monitor(100)``: the same tensors written to TensorBoard;
- ``tb.ActivationMonitor(100)``: forward outputs only, with statistics and histograms.

    .venv/bin/python bench/bench_monitor_resnet.py [--batches 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from typing import Any

import mxnet as mx
import numpy as np
from _harness import in_tempdir, print_environment, python_version, version_of

import mxnet_tb as tb

BATCH = 32


def _unit(data: mx.sym.Symbol, filters: int, stride: int, match: bool, name: str) -> mx.sym.Symbol:
    bn1 = mx.sym.BatchNorm(data, fix_gamma=False, eps=2e-5, name=f"{name}_bn1")
    act1 = mx.sym.Activation(bn1, act_type="relu", name=f"{name}_relu1")
    conv1 = mx.sym.Convolution(act1, num_filter=filters, kernel=(3, 3), stride=(stride, stride), pad=(1, 1),
                               no_bias=True, name=f"{name}_conv1")  # fmt: skip
    bn2 = mx.sym.BatchNorm(conv1, fix_gamma=False, eps=2e-5, name=f"{name}_bn2")
    act2 = mx.sym.Activation(bn2, act_type="relu", name=f"{name}_relu2")
    conv2 = mx.sym.Convolution(act2, num_filter=filters, kernel=(3, 3), pad=(1, 1), no_bias=True, name=f"{name}_conv2")
    shortcut = data if match else mx.sym.Convolution(act1, num_filter=filters, kernel=(1, 1), stride=(stride, stride),
                                                     no_bias=True, name=f"{name}_sc")  # fmt: skip
    return conv2 + shortcut


def resnet20() -> mx.sym.Symbol:
    data = mx.sym.BatchNorm(mx.sym.identity(mx.sym.var("data"), name="id"), fix_gamma=True, eps=2e-5, name="bn_data")
    body = mx.sym.Convolution(data, num_filter=16, kernel=(3, 3), pad=(1, 1), no_bias=True, name="conv0")
    for stage, filters in enumerate((16, 32, 64)):
        for unit in range(3):
            stride = 2 if stage > 0 and unit == 0 else 1
            body = _unit(body, filters, stride, stage == 0 or unit > 0, f"stage{stage + 1}_unit{unit + 1}")
    body = mx.sym.Activation(mx.sym.BatchNorm(body, fix_gamma=False, name="bn1"), act_type="relu", name="relu1")
    pool = mx.sym.Pooling(body, global_pool=True, kernel=(8, 8), pool_type="avg", name="pool1")
    net = mx.sym.FullyConnected(mx.sym.flatten(pool), num_hidden=10, name="fc1")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def train_seconds(batches: int, make_monitor: Callable[[], Any]) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batches * BATCH, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, batches * BATCH).astype(np.float32)
    train = mx.io.NDArrayIter(images, labels, batch_size=BATCH)
    mod = mx.mod.Module(resnet20(), context=mx.cpu())

    def run(logdir: str) -> tuple[float, float]:
        tb.init(logdir)
        monitor = make_monitor()
        started, cpu_started = time.perf_counter(), time.process_time()
        mod.fit(train, num_epoch=1, monitor=monitor, initializer=mx.init.Xavier(),
                optimizer_params={"learning_rate": 0.01})  # fmt: skip
        mx.nd.waitall()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        tb.default_writer().close()
        return seconds, cpu

    return in_tempdir(run, prefix="bench-monitor-resnet-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)  # the stock Monitor's toc_print logs at INFO
    configs: dict[str, Callable[[], Any]] = {
        "none": lambda: None,
        "tb.GradMonitor(100)": lambda: tb.GradMonitor(100),
        "mx.mon.Monitor(100) (stock)": lambda: mx.mon.Monitor(100),
        "tb.Monitor(100)": lambda: tb.Monitor(100),
        "tb.ActivationMonitor(100)": lambda: tb.ActivationMonitor(100),
    }
    train_seconds(5, lambda: None)  # warm up MXNet's kernels and allocator
    best = {name: float("inf") for name in configs}
    best_cpu = dict(best)
    for _ in range(args.repeat):
        for name, make in configs.items():
            wall, cpu = train_seconds(args.batches, make)
            best[name], best_cpu[name] = min(best[name], wall), min(best_cpu[name], cpu)
    print_environment([("python", python_version()), ("mxnet", version_of("mxnet")), ("network", "ResNet-20, CPU")])
    print(f"batch {BATCH} of 3x32x32, {args.batches} batches per run, best of {args.repeat} runs (interleaved)")
    print(f"{'configuration':30s} {'ms/batch':>9s} {'vs none':>9s} {'CPU ms':>9s} {'vs none':>9s}")
    for name, seconds in best.items():
        cpu = best_cpu[name]
        print(
            f"{name:30s} {seconds / args.batches * 1e3:9.2f} {seconds / best['none'] - 1:+9.1%} "
            f"{cpu / args.batches * 1e3:9.2f} {cpu / best_cpu['none'] - 1:+9.1%}"
        )


if __name__ == "__main__":
    main()
