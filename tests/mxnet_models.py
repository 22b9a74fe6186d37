"""Small, deterministic MXNet Module set-ups for the Module-API tests (generated data, no downloads)."""

from __future__ import annotations

from typing import Any

import mxnet as mx
import numpy as np

BATCH = 16
SAMPLES = 96  # 6 batches per epoch


def digits_like(samples: int = SAMPLES, seed: int = 0, nan_at: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two separable classes of 1x8x8 images; ``nan_at`` poisons one sample."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, samples)
    images = rng.standard_normal((samples, 1, 8, 8)).astype(np.float32) + labels[:, None, None, None] * 1.5
    if nan_at is not None:
        images[nan_at, 0, 0, 0] = np.nan
    return images, labels.astype(np.float32)


def iterators(samples: int = SAMPLES, nan_at: int | None = None) -> tuple[mx.io.NDArrayIter, mx.io.NDArrayIter]:
    images, labels = digits_like(samples, nan_at=nan_at)
    train = mx.io.NDArrayIter(images, labels, batch_size=BATCH, shuffle=False)
    val_images, val_labels = digits_like(32, seed=1)
    return train, mx.io.NDArrayIter(val_images, val_labels, batch_size=BATCH)


def cnn_symbol(batchnorm: bool = False) -> mx.sym.Symbol:
    data = mx.sym.var("data")
    net = mx.sym.Convolution(data, kernel=(3, 3), num_filter=4, name="conv0")
    if batchnorm:
        net = mx.sym.BatchNorm(net, name="bn0")
    net = mx.sym.Activation(net, act_type="relu", name="relu0")
    net = mx.sym.FullyConnected(mx.sym.flatten(net, name="flatten0"), num_hidden=2, name="fc1")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def initial_params(symbol: mx.sym.Symbol) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same starting weights for every run, so runs on one and on two devices can be compared."""
    shapes, _, aux_shapes = symbol.infer_shape(data=(BATCH, 1, 8, 8), softmax_label=(BATCH,))
    rng = np.random.default_rng(42)
    args = {
        name: mx.nd.array(rng.standard_normal(shape) * 0.1)
        for name, shape in zip(symbol.list_arguments(), shapes)
        if name not in ("data", "softmax_label")
    }
    aux = {
        name: mx.nd.ones(shape) if name.endswith("var") else mx.nd.zeros(shape)
        for name, shape in zip(symbol.list_auxiliary_states(), aux_shapes)
    }
    return args, aux


def module(contexts: int = 1, batchnorm: bool = False) -> mx.mod.Module:
    symbol = cnn_symbol(batchnorm)
    return mx.mod.Module(symbol, context=[mx.cpu(i) for i in range(contexts)])


def fit(mod: mx.mod.Module, train: Any = None, val: Any = None, *, num_epoch: int = 2, **kwargs: Any) -> None:
    """``mod.fit`` with fixed initial weights and plain SGD."""
    if train is None:
        train, val = iterators()
    args, aux = initial_params(mod.symbol)
    kwargs.setdefault("optimizer_params", {"learning_rate": 0.1})
    kwargs.setdefault("eval_metric", "acc")
    mod.fit(train, eval_data=val, num_epoch=num_epoch, arg_params=args, aux_params=aux, **kwargs)
