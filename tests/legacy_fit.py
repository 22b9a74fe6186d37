"""A training script in the style of MXNet 1.9.1's ``example/image-classification`` (``common/fit.py``), with
mxnet_tb's callbacks where that script has ``Speedometer`` and ``do_checkpoint``. The resume tests run it twice.

Like ``fit.py``: ``--load-epoch N`` loads ``<model-prefix>-%04d.params`` and calls
``fit(begin_epoch=N, arg_params=..., aux_params=...)``; ``--benchmark``-style synthetic data comes from a user
``DataIter`` that tells no ``num_data`` (as ``common/data.py``'s ``SyntheticDataIter``). ``--kill-at E:B`` ends
the process with SIGKILL at batch B of epoch E, as a crash or a preempted job would.
"""

import argparse
import logging
import os
import signal

import mxnet as mx
import mxnet_models as models  # this script's directory, tests/
import numpy as np

import mxnet_tb as tb

BATCHES = 6  # per epoch, whatever the iterator


class SyntheticDataIter(mx.io.DataIter):
    """Fixed random batches, ``max_iter`` per epoch; no ``num_data`` (it tells nothing about its size)."""

    def __init__(self, num_classes, data_shape, max_iter):
        super().__init__(data_shape[0])
        self.cur_iter = 0
        self.max_iter = max_iter
        rng = np.random.default_rng(7)
        self.data = mx.nd.array(rng.standard_normal(data_shape))
        self.label = mx.nd.array(rng.integers(0, num_classes, data_shape[0]))

    @property
    def provide_data(self):
        return [mx.io.DataDesc("data", self.data.shape, np.float32)]

    @property
    def provide_label(self):
        return [mx.io.DataDesc("softmax_label", (self.batch_size,), np.float32)]

    def next(self):
        self.cur_iter += 1
        if self.cur_iter > self.max_iter:
            raise StopIteration
        return mx.io.DataBatch(data=(self.data,), label=(self.label,), pad=0, index=None,
                               provide_data=self.provide_data, provide_label=self.provide_label)  # fmt: skip

    def reset(self):
        self.cur_iter = 0


def get_iterator(kind):
    shape = (models.BATCH, 1, 8, 8)
    if kind == "synthetic":
        return SyntheticDataIter(2, shape, BATCHES)
    images, labels = models.digits_like(models.BATCH * 4)
    inner = mx.io.NDArrayIter(images, labels, batch_size=models.BATCH)
    if kind == "resize":  # four batches of data, six per epoch
        return mx.io.ResizeIter(inner, BATCHES)
    images, labels = models.digits_like(models.BATCH * BATCHES)
    return mx.io.NDArrayIter(images, labels, batch_size=models.BATCH)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--logdir", required=True)
    parser.add_argument("--model-prefix", required=True)
    parser.add_argument("--iter", choices=("synthetic", "resize", "ndarray"), default="synthetic")
    parser.add_argument("--num-epochs", type=int, default=4)
    parser.add_argument("--load-epoch", type=int)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--monitor", type=int, default=0, help="tb.GradMonitor every N batches")
    parser.add_argument("--kill-at", help="E:B: SIGKILL at batch B of epoch E")
    parser.add_argument("--batches-per-epoch", type=int, help="tb.init(batches_per_epoch=...)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    told = {"batches_per_epoch": args.batches_per_epoch} if args.batches_per_epoch else {}
    tb.init(args.logdir, flush_secs=1, **told)
    train = get_iterator(args.iter)
    symbol = models.cnn_symbol()
    if args.load_epoch:  # fit.py's _load_model
        symbol, arg_params, aux_params = mx.model.load_checkpoint(args.model_prefix, args.load_epoch)
    else:
        arg_params, aux_params = models.initial_params(symbol)

    batch_end_callbacks = [mx.callback.Speedometer(models.BATCH, 2), tb.scalars()]
    if args.kill_at:
        kill_epoch, kill_batch = (int(part) for part in args.kill_at.split(":"))

        def crash(param):
            if param.epoch == kill_epoch and param.nbatch == kill_batch:
                tb.default_writer().flush()  # what a long run's periodic flushes would have written
                os.kill(os.getpid(), signal.SIGKILL)

        batch_end_callbacks.append(crash)

    mod = mx.mod.Module(symbol, context=mx.cpu())
    mod.fit(
        train,
        begin_epoch=args.load_epoch or 0,
        num_epoch=args.num_epochs,
        eval_metric="acc",
        kvstore="local",
        optimizer="sgd",
        optimizer_params={"learning_rate": args.lr},
        arg_params=arg_params,
        aux_params=aux_params,
        allow_missing=True,
        batch_end_callback=batch_end_callbacks,
        epoch_end_callback=mx.callback.do_checkpoint(args.model_prefix),
        monitor=tb.GradMonitor(interval=args.monitor, histograms=False) if args.monitor else None,
    )
    tb.default_writer().close()


if __name__ == "__main__":
    main()
