"""A Module script using MXNet's own ``mx.contrib.tensorboard.LogMetricsCallback`` (which imports MXBoard)."""

import sys

import mxnet as mx
import numpy as np

logdir = sys.argv[1]
rng = np.random.default_rng(0)
labels = rng.integers(0, 2, 64).astype(np.float32)
images = rng.standard_normal((64, 4)).astype(np.float32) + labels[:, None]
train = mx.io.NDArrayIter(images, labels, 16)
val = mx.io.NDArrayIter(images, labels, 16)
net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, name="fc"), name="softmax")
mod = mx.mod.Module(net, context=mx.cpu())
mod.fit(
    train,
    eval_data=val,
    num_epoch=2,
    batch_end_callback=mx.contrib.tensorboard.LogMetricsCallback(logdir + "/train"),
    eval_end_callback=mx.contrib.tensorboard.LogMetricsCallback(logdir + "/eval"),
)
print("log metrics script done")
