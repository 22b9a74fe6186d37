"""Small, deterministic Gluon set-ups for the Gluon tests (generated data, no downloads); no package imports,
so ``dist_gluon_job.py`` can import it as a script."""

from __future__ import annotations

from typing import Any

import mxnet as mx
import numpy as np
from mxnet import gluon
from mxnet.gluon import nn

BATCH = 16
SAMPLES = 96  # 6 batches per epoch


def digits_like(samples: int = SAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two separable classes of 1x8x8 float32 images (as tests/mxnet_models.py makes them for the Module API)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, samples)
    images = rng.standard_normal((samples, 1, 8, 8)) + labels[:, None, None, None] * 1.5
    return images.astype(np.float32), labels.astype(np.float32)


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
    return gluon.data.DataLoader(gluon.data.ArrayDataset(images, labels), batch_size=batch, shuffle=False)


def trainer(net: nn.Block, **kwargs: Any) -> gluon.Trainer:
    return gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, **kwargs})
