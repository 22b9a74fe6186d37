"""The training doctor on two runs of scikit-learn's bundled 8x8 digits (no download): one set up badly, one well.

    .venv/bin/python examples/module_api/doctor_demo.py --logdir runs/doctor
    .venv/bin/tensorboard --logdir runs/doctor --host 127.0.0.1 --port 6006

``bad/`` trains a 10-layer sigmoid MLP initialised small (``Uniform(0.07)``): its gradients vanish on their way
down (``vanishing_gradients`` at step 0), so the first layers' updates are tiny and the loss does not decrease;
the doctor reports both as explained by the vanishing gradients (one cause, one alert). ``healthy/`` trains a small
ReLU CNN that learns. Both install ``tb.Doctor(interval=5)``; TEXT shows the ``doctor`` report of
each run (the bad one's alerts, with the likely fix; the healthy one's "No rule has fired"), SCALARS the
``alerts/<rule>`` counts on the step axis, and the console the doctor's warnings.
"""

from __future__ import annotations

import argparse
import logging

import mxnet as mx
import numpy as np
from sklearn.datasets import load_digits
from train_digits import cnn  # the healthy net: the demo's digits CNN (this directory)

import mxnet_tb as tb

BATCH = 64
SIGMOID_LAYERS = 10


def digits_iterator(batch_size: int = BATCH) -> mx.io.NDArrayIter:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # (1797, 1, 8, 8) in [0, 1]
    labels = digits.target.astype(np.float32)
    return mx.io.NDArrayIter(images, labels, batch_size, shuffle=True, last_batch_handle="discard")


def badly_set_up() -> mx.sym.Symbol:
    """Ten sigmoid layers of 32 units, initialised small: the gradients vanish on their way to the first layers."""
    net = mx.sym.flatten(mx.sym.var("data"), name="flatten0")
    for i in range(SIGMOID_LAYERS):
        net = mx.sym.FullyConnected(net, num_hidden=32, name=f"fc{i}")
        net = mx.sym.Activation(net, act_type="sigmoid", name=f"sigmoid{i}")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="out")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def train(logdir: str, net: mx.sym.Symbol, epochs: int, initializer: mx.init.Initializer) -> None:
    mx.random.seed(0)
    np.random.seed(0)  # NDArrayIter shuffles with NumPy's global generator
    writer = tb.SummaryWriter(logdir, flush_secs=5)
    mod = mx.mod.Module(net, context=mx.cpu())
    mod.fit(
        digits_iterator(),
        num_epoch=epochs,
        eval_metric=["acc", "ce"],
        initializer=initializer,
        optimizer="sgd",
        optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
        monitor=tb.Doctor(interval=5, writer=writer),
        batch_end_callback=tb.scalars(writer=writer),
    )
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logdir", default="runs/doctor")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    train(f"{args.logdir}/bad", badly_set_up(), args.epochs, mx.init.Uniform(0.07))
    train(f"{args.logdir}/healthy", cnn(), args.epochs, mx.init.Xavier())  # the demo's CNN
    print(f"two runs, bad/ and healthy/, in {args.logdir}")
    print(f"  view them: .venv/bin/tensorboard --logdir {args.logdir} --host 127.0.0.1 --port 6006")


if __name__ == "__main__":
    main()
