"""A legacy Module-API training script with TensorBoard, on scikit-learn's bundled 8x8 digits (no download).

    python3 dev.py demo                     # train, then serve the run on http://127.0.0.1:6006
    .venv/bin/python examples/module_api/train_digits.py --logdir runs/digits --no-serve

The only mxnet_tb lines are ``tb.init``, ``install_monitor`` and the three callbacks: SCALARS shows the
training metrics, samples/sec and learning rate per batch (``train/...``) and validation per epoch (``val/...``)
on the same step axis; HISTOGRAMS/DISTRIBUTIONS the gradients (``grads/hist/...``), weights and activations;
IMAGES the first conv layer's filters; GRAPHS the network. ``tb.Doctor`` judges them live: ``alerts/<rule>``
scalars stay at 0 and the TEXT report ``doctor`` says no rule fired, for this healthy run.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import subprocess
import sys

import mxnet as mx
import numpy as np
from sklearn.datasets import load_digits

import mxnet_tb as tb

BATCH = 64


def digits_iterators(batch_size: int = BATCH) -> tuple[mx.io.NDArrayIter, mx.io.NDArrayIter]:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # (1797, 1, 8, 8) in [0, 1]
    labels = digits.target.astype(np.float32)
    order = np.random.default_rng(0).permutation(len(labels))
    train, val = order[:1500], order[1500:]
    return (
        mx.io.NDArrayIter(images[train], labels[train], batch_size, shuffle=True, last_batch_handle="discard"),
        mx.io.NDArrayIter(images[val], labels[val], batch_size),
    )


def cnn() -> mx.sym.Symbol:
    data = mx.sym.var("data")
    net = mx.sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=16, name="conv0")
    net = mx.sym.BatchNorm(net, name="bn0")
    net = mx.sym.Activation(net, act_type="relu", name="relu0")
    net = mx.sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool0")
    net = mx.sym.Convolution(net, kernel=(3, 3), pad=(1, 1), num_filter=32, name="conv1")
    net = mx.sym.Activation(net, act_type="relu", name="relu1")
    net = mx.sym.FullyConnected(mx.sym.flatten(net, name="flatten0"), num_hidden=64, name="fc1")
    net = mx.sym.Activation(net, act_type="relu", name="relu2")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def train(logdir: str, epochs: int) -> mx.mod.Module:
    mx.random.seed(0)
    tb.init(logdir=logdir, flush_secs=5)
    train_iter, val_iter = digits_iterators()
    mod = mx.mod.Module(cnn(), context=mx.cpu())
    mod.bind(train_iter.provide_data, train_iter.provide_label)
    mod.install_monitor(tb.Doctor(interval=5))  # gradients, weights, activations, judged: alerts/*, TEXT "doctor"
    scheduler = mx.lr_scheduler.FactorScheduler(step=100, factor=0.5, base_lr=0.1)
    mod.fit(
        train_iter,
        eval_data=val_iter,
        num_epoch=epochs,
        eval_metric=["acc", "ce"],
        initializer=mx.init.Xavier(),
        optimizer="sgd",
        optimizer_params={"learning_rate": 0.1, "momentum": 0.9, "lr_scheduler": scheduler},
        batch_end_callback=[mx.callback.Speedometer(BATCH, 10), tb.scalars()],
        eval_end_callback=tb.validation(),
        epoch_end_callback=tb.params(),
    )
    tb.default_writer().close()
    return mod


def serve(logdir: str, port: int) -> None:
    print(f"Serving {logdir} on http://127.0.0.1:{port} (Ctrl-C to stop)", flush=True)
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host", "127.0.0.1", "--port", str(port)]
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(command, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logdir", default="runs/digits")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--port", type=int, default=6006)
    parser.add_argument("--no-serve", action="store_true", help="train and exit (CI)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    mod = train(args.logdir, args.epochs)
    _, val_iter = digits_iterators()
    accuracy = dict(mod.score(val_iter, "acc"))["accuracy"]
    print(f"validation accuracy {accuracy:.3f}; TensorBoard run in {args.logdir}")
    print(f"  view it: .venv/bin/tensorboard --logdir {args.logdir} --host 127.0.0.1 --port {args.port}")
    if not args.no_serve:
        serve(args.logdir, args.port)


if __name__ == "__main__":
    main()
