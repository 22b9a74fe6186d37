"""The Gluon MNIST scenario with ``gluon.contrib.estimator``, on scikit-learn's bundled 8x8 digits (no download).

    .venv/bin/python examples/gluon/mnist_estimator.py --logdir runs/gluon_estimator

The only mxnet_tb line is ``tb.gluon.EstimatorHandler(...)`` in ``event_handlers``: SCALARS shows the training
metrics, loss, learning rate and samples/sec per batch (``train/...``) and validation per epoch (``val/...``)
on the same step axis; HISTOGRAMS the gradients and weights every 20 batches; GRAPHS the network.
"""

from __future__ import annotations

import argparse
import logging

import mxnet as mx
import numpy as np
from mxnet import gluon
from mxnet.gluon import nn
from mxnet.gluon.contrib.estimator import Estimator
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


def train(logdir: str, epochs: int) -> Estimator:
    mx.random.seed(0)
    train_data, val_data = digits_loaders()
    net = cnn()
    net.initialize(mx.init.Xavier())
    net.hybridize()
    scheduler = mx.lr_scheduler.FactorScheduler(step=100, factor=0.5, base_lr=0.1)
    trainer = gluon.Trainer(
        net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9, "lr_scheduler": scheduler}
    )
    est = Estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(), train_metrics=mx.metric.Accuracy(), trainer=trainer)
    handler = tb.gluon.EstimatorHandler(logdir=logdir, every=20, weights=True)
    est.fit(train_data, val_data=val_data, epochs=epochs, event_handlers=[handler])
    return est


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logdir", default="runs/gluon_estimator")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    est = train(args.logdir, args.epochs)
    name, accuracy = est.val_metrics[0].get()
    print(f"{name} {accuracy:.3f}; TensorBoard run in {args.logdir}")
    print(f"  view it: .venv/bin/tensorboard --logdir {args.logdir} --host 127.0.0.1")


if __name__ == "__main__":
    main()
