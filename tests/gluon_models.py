"""Small, deterministic Gluon set-ups for the Gluon tests (generated data, no downloads)."""

from __future__ import annotations

from typing import Any

import mxnet as mx
from mxnet import gluon
from mxnet.gluon import nn

from .mxnet_models import digits_like

BATCH = 16
SAMPLES = 96  # 6 batches per epoch


def cnn(prefix: str = "cnn_", hybrid: bool = True) -> nn.Block:
    """Conv -> ReLU -> Dense(ReLU) -> Dense(2); ``hybrid=False`` builds a plain ``nn.Sequential``."""
    net = (nn.HybridSequential if hybrid else nn.Sequential)(prefix=prefix)
    with net.name_scope():
        net.add(nn.Conv2D(4, 3, activation="relu"), nn.Flatten(), nn.Dense(8, activation="relu"), nn.Dense(2))
    return net


def contexts(count: int) -> list[mx.Context]:
    return [mx.cpu(i) for i in range(count)]


def initialized(net: nn.Block, ctx: list[mx.Context], seed: int = 0) -> nn.Block:
    mx.random.seed(seed)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    return net


def loader(samples: int = SAMPLES, seed: int = 0, batch: int = BATCH) -> gluon.data.DataLoader:
    images, labels = digits_like(samples, seed=seed)
    images = images.astype("float32")
    return gluon.data.DataLoader(gluon.data.ArrayDataset(images, labels), batch_size=batch, shuffle=False)


def trainer(net: nn.Block, **kwargs: Any) -> gluon.Trainer:
    return gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, **kwargs})
