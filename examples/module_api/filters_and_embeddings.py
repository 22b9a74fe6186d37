"""The article's "understanding CNNs" scenario on bundled digits: filters, feature maps and embeddings.

Trains the digits CNN of ``train_digits.py`` briefly, then logs

- ``filters/conv0``: the 16 first-layer 3x3 filters as one image grid, each scaled to its own range;
- ``feature_maps/conv0``: the 16 first-layer ReLU outputs for one digit, one grayscale tile each;
- ``input/digit``: that digit;
- ``digits_relu2`` (PROJECTOR): the penultimate layer's output (``relu2``, 64 numbers) for all 1,797 digits,
  with a sprite of the digits and two metadata columns, ``label`` (the true digit) and ``predicted``. Color
  by ``label`` and switch PCA to t-SNE: the points gather by class; the few misclassified digits show where
  ``label`` and ``predicted`` differ.

    .venv/bin/python examples/module_api/filters_and_embeddings.py --logdir runs/filters
"""

from __future__ import annotations

import argparse
import os
import sys

import mxnet as mx
import numpy as np
from sklearn.datasets import load_digits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_digits import digits_iterators, train

import mxnet_tb as tb

SPRITE_SCALE = 3  # 8x8 digits become 24x24 sprite cells, big enough to read in the projector


def embed_digits(mod: mx.mod.Module) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(images (N, 1, 8, 8), true labels, predicted labels, penultimate-layer outputs (N, 64)) of every digit."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    arg_params, aux_params = mod.get_params()
    internals = mod.symbol.get_internals()
    outputs = mx.sym.Group([internals["relu2_output"], internals["fc2_output"]])
    executor = outputs.bind(mx.cpu(), {"data": mx.nd.array(images), **arg_params}, aux_states=aux_params)
    features, scores = (out.asnumpy() for out in executor.forward(is_train=False))
    return images, digits.target, scores.argmax(axis=1), features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logdir", default="runs/filters")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    np.random.seed(0)  # NDArrayIter shuffles with NumPy's global generator; train() seeds MXNet's
    mod = train(os.path.join(args.logdir, "training"), args.epochs)
    arg_params, aux_params = mod.get_params()
    _, val_iter = digits_iterators(batch_size=1)
    digit = val_iter.next().data[0]  # (1, 1, 8, 8)

    relu0 = mod.symbol.get_internals()["relu0_output"]
    executor = relu0.bind(mx.cpu(), {"data": digit, **arg_params}, aux_states=aux_params)
    maps = executor.forward(is_train=False)[0][0]  # (16, 8, 8)

    with tb.SummaryWriter(args.logdir) as sw:
        sw.add_image("filters/conv0", arg_params["conv0_weight"], normalize=True, scale_each=True, padding=1)
        sw.add_image("feature_maps/conv0", maps, normalize=True, scale_each=True, padding=1)
        sw.add_image("input/digit", digit[0])
        images, labels, predicted, embedding = embed_digits(mod)
        sprite = images.repeat(SPRITE_SCALE, axis=2).repeat(SPRITE_SCALE, axis=3)
        sw.add_embedding(
            "digits_relu2", embedding, labels={"label": labels, "predicted": predicted}, images=sprite, global_step=0
        )
    accuracy = float(np.mean(labels == predicted))
    print(f"filters, feature maps and {len(labels)} embedded digits ({accuracy:.1%} predicted right) in {args.logdir}")
    print(f"  view: .venv/bin/tensorboard --logdir {args.logdir} --host 127.0.0.1 --port 6006")


if __name__ == "__main__":
    main()
