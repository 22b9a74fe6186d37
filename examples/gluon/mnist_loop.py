"""The Gluon MNIST scenario as a hand-written loop, on scikit-learn's bundled 8x8 digits (no download).

    .venv/bin/python examples/gluon/mnist_loop.py --logdir runs/gluon_loop [--devices 2] [--no-hybridize]

The mxnet_tb lines: ``tb.gluon.watch(net, trainer, ...)`` once, ``handle.log_metrics(...)`` after each
``trainer.step`` and ``handle.log_validation(...)`` after each evaluation. SCALARS shows ``train/...`` per
batch and ``val/...`` per epoch on one step axis, ``updates/ratio/...`` and the ReLU layers'
``activations/zero_fraction/...`` every 20 batches; HISTOGRAMS the gradients (summed over devices), weights and
layer outputs.
"""

from __future__ import annotations

import argparse

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from mxnet.gluon import nn
from sklearn.datasets import load_digits

import mxnet_tb as tb

BATCH = 64


def digits_loaders(batch_size: int = BATCH) -> tuple[gluon.data.DataLoader, gluon.data.DataLoader]:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # (1797, 1, 8, 8) in [0, 1]
    labels = digits.target.astype(np.float32)
    order = np.random.default_rng(0).permutation(len(labels))
    train, val = order[:1500], order[1500:]
    return (
        gluon.data.DataLoader(gluon.data.ArrayDataset(images[train], labels[train]), batch_size, last_batch="discard"),
        gluon.data.DataLoader(gluon.data.ArrayDataset(images[val], labels[val]), batch_size),
    )


def cnn() -> nn.HybridSequential:
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


def evaluate(net: nn.Block, data: gluon.data.DataLoader, ctx: list[mx.Context]) -> mx.metric.EvalMetric:
    metric = mx.metric.Accuracy()
    for images, labels in data:
        xs = gluon.utils.split_and_load(images, ctx, even_split=False)
        ys = gluon.utils.split_and_load(labels, ctx, even_split=False)
        for x, y in zip(xs, ys):
            metric.update(y, net(x))
    return metric


def train(logdir: str, epochs: int, devices: int, hybridize: bool) -> float:
    mx.random.seed(0)
    ctx = [mx.cpu(i) for i in range(devices)]
    train_data, val_data = digits_loaders()
    net = cnn()
    net.initialize(mx.init.Xavier(), ctx=ctx)
    if hybridize:
        net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    tb.init(logdir=logdir, flush_secs=5)
    handle = tb.gluon.watch(net, trainer, every=20, weights=True, activations=True)
    for _ in range(epochs):
        metric = mx.metric.Accuracy()
        for images, labels in train_data:
            xs, ys = gluon.utils.split_and_load(images, ctx), gluon.utils.split_and_load(labels, ctx)
            with autograd.record():
                outputs = [net(x) for x in xs]
                losses = [loss_fn(out, y) for out, y in zip(outputs, ys)]
            for loss in losses:
                loss.backward()
            trainer.step(images.shape[0])
            metric.update(ys, outputs)
            handle.log_metrics(metric, loss=losses)
        val = evaluate(net, val_data, ctx)
        handle.log_validation(val)
    handle.remove()
    tb.default_writer().close()
    return val.get()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logdir", default="runs/gluon_loop")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--devices", type=int, default=1, help="CPU contexts to split each batch over")
    parser.add_argument("--no-hybridize", action="store_true")
    args = parser.parse_args()
    accuracy = train(args.logdir, args.epochs, args.devices, not args.no_hybridize)
    print(f"validation accuracy {accuracy:.3f}; TensorBoard run in {args.logdir}")
    print(f"  view it: .venv/bin/tensorboard --logdir {args.logdir} --host 127.0.0.1")


if __name__ == "__main__":
    main()
