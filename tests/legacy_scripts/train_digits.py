"""A training script in the style of MXNet 1.9.1's example/image-classification (train_mnist.py + common/fit.py).

It knows nothing of mxnet_tb: the tests run it unchanged under ``mxnet-tb run`` and with plain ``python``.
Generated data (two classes of 1x8x8 images), so nothing is downloaded.
"""

import argparse
import logging
import sys

import mxnet as mx
import numpy as np


def add_fit_args(parser):
    train = parser.add_argument_group("Training", "model training")
    train.add_argument("--num-epochs", type=int, default=2, help="max num of epochs")
    train.add_argument("--lr", type=float, default=0.1, help="initial learning rate")
    train.add_argument("--mom", type=float, default=0.9, help="momentum for sgd")
    train.add_argument("--batch-size", type=int, default=16, help="the batch size")
    train.add_argument("--disp-batches", type=int, default=4, help="show progress for every n batches")
    train.add_argument("--model-prefix", type=str, help="model prefix")
    train.add_argument("--load-epoch", type=int, help="load the model on an epoch using the model-load-prefix")
    train.add_argument("--monitor", dest="monitor", type=int, default=0, help="log network parameters every N iters")
    train.add_argument("--num-devices", type=int, default=1, help="number of CPU contexts")
    train.add_argument("--auto-reset", type=int, default=1, help="Speedometer auto_reset (1 as in fit.py)")
    train.add_argument("--callback-style", choices=["list", "single", "none"], default="list")
    train.add_argument("--exit-code", type=int, default=0, help="sys.exit with this code after training")
    train.add_argument("--fail", action="store_true", help="raise an error after training")
    return train


def get_iterators(args):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, args.num_examples)
    images = rng.standard_normal((args.num_examples, 1, 8, 8)).astype(np.float32) + labels[:, None, None, None] * 1.5
    train = mx.io.NDArrayIter(images, labels.astype(np.float32), args.batch_size, shuffle=False)
    val_labels = rng.integers(0, 2, 32)
    val_images = rng.standard_normal((32, 1, 8, 8)).astype(np.float32) + val_labels[:, None, None, None] * 1.5
    val = mx.io.NDArrayIter(val_images, val_labels.astype(np.float32), args.batch_size)
    return train, val


def get_symbol():
    data = mx.sym.var("data")
    net = mx.sym.Convolution(data, kernel=(3, 3), num_filter=4, name="conv0")
    net = mx.sym.Activation(net, act_type="relu", name="relu0")
    net = mx.sym.FullyConnected(mx.sym.flatten(net), num_hidden=2, name="fc1")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def fit(args, network):
    head = "%(asctime)-15s Node[0] %(message)s"
    logging.basicConfig(level=logging.DEBUG, format=head)
    logging.info("start with arguments %s", args)
    train, val = get_iterators(args)
    arg_params = aux_params = None
    if args.load_epoch is not None:
        _, arg_params, aux_params = mx.model.load_checkpoint(args.model_prefix, args.load_epoch)
        logging.info("Loaded model %s_%04d.params", args.model_prefix, args.load_epoch)
    checkpoint = mx.callback.do_checkpoint(args.model_prefix) if args.model_prefix else None
    speedometer = mx.callback.Speedometer(args.batch_size, args.disp_batches, auto_reset=bool(args.auto_reset))
    callbacks = {"list": [speedometer], "single": speedometer, "none": None}[args.callback_style]
    monitor = mx.mon.Monitor(args.monitor, pattern=".*weight") if args.monitor > 0 else None
    mx.random.seed(1)
    model = mx.mod.Module(context=[mx.cpu(i) for i in range(args.num_devices)], symbol=network)
    model.fit(
        train,
        begin_epoch=args.load_epoch if args.load_epoch else 0,
        num_epoch=args.num_epochs,
        eval_data=val,
        eval_metric=["accuracy"],
        optimizer="sgd",
        optimizer_params={"learning_rate": args.lr, "momentum": args.mom},
        initializer=mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2),
        arg_params=arg_params,
        aux_params=aux_params,
        batch_end_callback=callbacks,
        epoch_end_callback=checkpoint,
        monitor=monitor,
    )
    return model


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="train digits", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--num-examples", type=int, default=100, help="the number of training examples")
    add_fit_args(parser)
    args = parser.parse_args()
    model = fit(args, get_symbol())
    score = dict(model.score(get_iterators(args)[1], "acc"))
    print(f"final validation accuracy {score['accuracy']:.6f}")
    print(f"__name__={__name__} argv={sys.argv[1:]} path0_is_here={sys.path[0] == __file__.rsplit('/', 1)[0]}")
    if args.fail:
        raise RuntimeError("failing as asked")
    sys.exit(args.exit_code)
