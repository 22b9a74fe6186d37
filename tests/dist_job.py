"""One process of the small distributed job that ``test_distributed.py`` launches; every role runs this script.

Like a script started by MXNet's ``tools/launch.py`` it calls ``tb.init`` before importing MXNet: with
``DMLC_ROLE=server`` or ``scheduler``, ``import mxnet`` runs the server loop and exits the process right there.
A worker trains a tiny Module with ``kvstore='dist_sync'``, every mxnet_tb callback and ``tb.GradMonitor``, then
leaves for the test what it needs to check the logs exactly: its rank and pid, the weights after every batch,
and the gradients of each of its batches at the weights that batch used, computed again by a plain Module.

Environment: the ``DMLC_*`` variables of the job, ``MXNET_TB_LOGDIR`` (and ``MXNET_TB_DIST_MODE``) for
mxnet_tb, ``DIST_JOB_SHARD`` (which data this worker trains on) and ``DIST_JOB_OUT`` (where its record goes).
"""

import json
import os

import mxnet_tb as tb

tb.init(flush_secs=1)  # logdir from $MXNET_TB_LOGDIR; on servers and the scheduler nothing is created

import mxnet as mx  # noqa: E402 - servers and the scheduler serve here and exit
import mxnet_models as models  # noqa: E402 - this script's directory, tests/
import numpy as np  # noqa: E402

EPOCHS = 2
SCHEDULE = {"step": 4, "factor": 0.5, "base_lr": 0.1}  # the learning rate halves every 4 updates


def main() -> None:
    shard = int(os.environ["DIST_JOB_SHARD"])
    images, labels = models.digits_like(seed=10 + shard)  # each worker its own data, so their gradients differ
    train = mx.io.NDArrayIter(images, labels, batch_size=models.BATCH)
    val = mx.io.NDArrayIter(*models.digits_like(32, seed=1), batch_size=models.BATCH)
    mod = models.module()
    after = []  # the weights after each batch (pulled from the servers, or updated here)

    def record_weights(param):
        group = mod._exec_group
        after.append({name: arrays[0].asnumpy() for name, arrays in zip(group.param_names, group.param_arrays)})

    monitor = tb.GradMonitor(interval=1)
    models.fit(
        mod,
        train,
        val,
        num_epoch=EPOCHS,
        kvstore="dist_sync",
        batch_end_callback=[tb.scalars(), record_weights],
        eval_end_callback=tb.validation(),
        epoch_end_callback=tb.params(),
        monitor=monitor,
        optimizer_params={"learning_rate": 0.1, "lr_scheduler": mx.lr_scheduler.FactorScheduler(**SCHEDULE)},
    )
    writer = tb.default_writer()
    logdir = writer.get_logdir()
    writer.close()

    initial, _ = models.initial_params(mod.symbol)
    before = [{name: value.asnumpy() for name, value in initial.items()}, *after[:-1]]
    grads = _reference_gradients(mod.symbol, train, before)
    arrays = {f"grad/{step}/{name}": g for step, named in enumerate(grads) for name, g in named.items()}
    arrays.update({f"before/{step}/{name}": w for step, named in enumerate(before) for name, w in named.items()})
    arrays.update({f"after/{step}/{name}": w for step, named in enumerate(after) for name, w in named.items()})
    kvstore = mod._kvstore
    out = os.environ["DIST_JOB_OUT"]
    np.savez(os.path.join(out, f"worker-{kvstore.rank}.npz"), **arrays)
    clock = getattr(mod, "_mxnet_tb_clock", None)
    record = {
        "rank": kvstore.rank,
        "num_workers": kvstore.num_workers,
        "kvstore": kvstore.type,
        "update_on_kvstore": bool(mod._update_on_kvstore),
        "pid": os.getpid(),
        "shard": shard,
        "steps": len(after),
        "logdir": logdir,
        "clock_step": None if clock is None else clock.step,
        "listeners_left": sum(_backward_listeners(exe) for exe in mod._exec_group.execs),
    }
    with open(os.path.join(out, f"worker-{kvstore.rank}.json"), "w") as f:
        json.dump(record, f)


def _backward_listeners(exe):
    """How many mxnet_tb listeners follow ``exe``'s backward pass (0 once the hooks are removed)."""
    hooks = getattr(exe, "_mxnet_tb_hooks", None)
    return 0 if hooks is None else len(hooks.listeners["after_backward"])


def _reference_gradients(symbol, train, weights_before):
    """Each batch's gradients at the weights it was trained with, from a plain Module without a kvstore."""
    reference = mx.mod.Module(symbol, context=mx.cpu())
    reference.bind(train.provide_data, train.provide_label)
    train.reset()
    batches = list(train)
    _, aux = models.initial_params(symbol)
    grads = []
    for step, weights in enumerate(weights_before):
        reference.set_params({n: mx.nd.array(w) for n, w in weights.items()}, aux, force_init=True)
        reference.forward_backward(batches[step % len(batches)])
        group = reference._exec_group
        grads.append({name: g[0].asnumpy() for name, g in zip(group.param_names, group.grad_arrays)})
    return grads


if __name__ == "__main__":
    main()
