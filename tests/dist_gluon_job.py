"""One process of the small distributed Gluon job ``test_gluon_distributed.py`` launches; every role runs it.

A worker trains a tiny CNN on two CPU contexts with ``Trainer(kvstore='dist_sync')`` under ``tb.gluon.watch``,
and leaves for the test its rank and, for every batch, the gradients summed over its two devices just before
``trainer.step`` (what watch must have logged).

Environment: the ``DMLC_*`` variables of the job, ``MXNET_TB_LOGDIR`` (and ``MXNET_TB_DIST_MODE``),
``DIST_JOB_SHARD`` (which data this worker trains on) and ``DIST_JOB_OUT`` (where its record goes).
"""

import json
import os

import mxnet_tb as tb

tb.init(flush_secs=1)  # servers and the scheduler create nothing

import gluon_models as gm  # noqa: E402 - this script's directory, tests/
import mxnet as mx  # noqa: E402 - servers and the scheduler serve here and exit
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

BATCHES = 4


def main() -> None:
    shard = int(os.environ["DIST_JOB_SHARD"])
    ctx = gm.contexts(2)
    net = gm.initialized(gm.cnn(), ctx)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1}, kvstore="dist_sync")
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    grads = {}
    with tb.gluon.watch(net, trainer, every=1) as handle:
        for index, (data, label) in enumerate(gm.loader(seed=10 + shard)):
            if index == BATCHES:
                break
            datas, labels = gluon.utils.split_and_load(data, ctx), gluon.utils.split_and_load(label, ctx)
            with autograd.record():
                losses = [loss_fn(net(x), y) for x, y in zip(datas, labels)]
            for loss in losses:
                loss.backward()
            for name, param in net.collect_params().items():
                grads[f"{index}/{name}"] = sum(g.asnumpy().astype(np.float64) for g in param.list_grad())
            trainer.step(data.shape[0])
            handle.log_metrics(loss=losses)
    tb.default_writer().close()
    kvstore = trainer._kvstore
    out = os.environ["DIST_JOB_OUT"]
    np.savez(os.path.join(out, f"worker-{kvstore.rank}.npz"), **grads)
    with open(os.path.join(out, f"worker-{kvstore.rank}.json"), "w") as f:
        json.dump({"rank": kvstore.rank, "pid": os.getpid(), "shard": shard, "mx": mx.__version__}, f)


if __name__ == "__main__":
    main()
