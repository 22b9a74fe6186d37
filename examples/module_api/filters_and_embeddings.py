"""The article's "understanding CNNs" scenario on bundled digits: filters and feature maps as images.

Trains the digits CNN of ``train_digits.py`` briefly, then logs

- ``filters/conv0``: the 16 first-layer 3x3 filters as one image grid, each scaled to its own range;
- ``feature_maps/conv0``: the 16 first-layer ReLU outputs for one digit, one grayscale tile each;
- ``input/digit``: that digit.

    .venv/bin/python examples/module_api/filters_and_embeddings.py --logdir runs/filters
"""

from __future__ import annotations

import argparse
import os
import sys

import mxnet as mx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_digits import digits_iterators, train

import mxnet_tb as tb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logdir", default="runs/filters")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    mod = train(os.path.join(args.logdir, "training"), args.epochs)
    arg_params, aux_params = mod.get_params()
    _, val_iter = digits_iterators(batch_size=1)
    digit = val_iter.next().data[0]  # (1, 1, 8, 8)

    features = mod.symbol.get_internals()["relu0_output"]
    executor = features.bind(mx.cpu(), {"data": digit, **arg_params}, aux_states=aux_params)
    maps = executor.forward(is_train=False)[0][0]  # (16, 8, 8)

    with tb.SummaryWriter(args.logdir) as sw:
        sw.add_image("filters/conv0", arg_params["conv0_weight"], normalize=True, scale_each=True, padding=1)
        sw.add_image("feature_maps/conv0", maps, normalize=True, scale_each=True, padding=1)
        sw.add_image("input/digit", digit[0])
    print(f"filters and feature maps in {args.logdir}; view: .venv/bin/tensorboard --logdir {args.logdir}")


if __name__ == "__main__":
    main()
