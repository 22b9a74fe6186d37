"""EstimatorHandler in real Estimator.fit runs, next to MXNet's own handlers in any order."""

from __future__ import annotations

import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon
from mxnet.gluon.contrib.estimator import (
    BatchEnd,
    CheckpointHandler,
    EarlyStoppingHandler,
    Estimator,
    LoggingHandler,
    ValidationHandler,
)

import mxnet_tb as tb
from mxnet_tb import SummaryWriter

from . import gluon_models as gm
from .readback import MODEL_CARD_TAGS, accumulate, scalars
from .test_distributed import DistKVStore

BATCHES = gm.SAMPLES // gm.BATCH  # 6 per epoch


def estimator(devices=1, hybrid=True, lr_scheduler=None, default_metrics=False):
    ctx = gm.contexts(devices)
    net = gm.initialized(gm.cnn(hybrid=hybrid), ctx)
    if hybrid:
        net.hybridize()
    options = {"learning_rate": 0.1, **({"lr_scheduler": lr_scheduler} if lr_scheduler else {})}
    trainer = gluon.Trainer(net.collect_params(), "sgd", options)
    est = Estimator(
        net,
        gluon.loss.SoftmaxCrossEntropyLoss(),
        train_metrics=None if default_metrics else mx.metric.Accuracy(),
        trainer=trainer,
        context=ctx,
    )
    est.logger.setLevel(50)  # quiet LoggingHandler output in test logs
    return est


def test_fit_logs_train_and_validation_on_one_step_axis(logdir):
    est = estimator(devices=2, default_metrics=True)  # accuracy and the loss
    handler = tb.gluon.EstimatorHandler(logdir=logdir, every=4)
    est.fit(gm.loader(), val_data=gm.loader(32, seed=1), epochs=2, event_handlers=[handler])
    acc = accumulate(logdir)
    tags = set(acc.Tags()["tensors"])
    every_batch = list(range(2 * BATCHES))
    for tag in ("train/accuracy", "train/softmaxcrossentropyloss", "train/loss", "train/lr", "train/samples_per_sec"):
        assert [s for s, _ in scalars(logdir, tag)] == every_batch, tag
    assert [s for s, _ in scalars(logdir, "val/accuracy")] == [BATCHES - 1, 2 * BATCHES - 1]
    assert [s for s, _ in scalars(logdir, "val/softmaxcrossentropyloss")] == [BATCHES - 1, 2 * BATCHES - 1]
    assert [s for s, _ in scalars(logdir, "grads/norm/cnn_dense1_weight")] == [0, 4, 8]
    assert "grads/hist/cnn_conv0_weight" in tags
    assert not [t for t in tags if t.startswith(("weights/", "activations/"))]
    assert acc.Graph() is not None
    assert tags >= MODEL_CARD_TAGS  # the model card, beside the graph
    parameters = sum(int(np.prod(p.shape)) for p in est.net.collect_params().values())
    assert scalars(logdir, "model/parameters") == [(0, parameters)]
    assert "| Convolution |" in acc.Tensors("model_card")[0].tensor_proto.string_val[0].decode()
    # the logged validation accuracy is the one the Estimator measured last
    assert scalars(logdir, "val/accuracy")[-1][1] == pytest.approx(est.val_metrics[0].get()[1])
    assert scalars(logdir, "train/lr")[0][1] == pytest.approx(0.1)
    # the handler took its hooks off the trainer at the end of fit
    assert "step" not in vars(est.trainer)


class AccuracyProbe(BatchEnd):
    """Runs after every other batch-end handler and notes the training accuracy the Estimator then holds."""

    def __init__(self, est):
        self.priority = np.inf
        self.values = []
        self._est = est

    def batch_end(self, estimator, *args, **kwargs):
        self.values.append(self._est.train_metrics[0].get()[1])


@pytest.mark.parametrize("order", ["ours_first", "ours_last"])
def test_plays_with_mxnet_handlers_in_any_order_and_batch_period_validation(logdir, tmp_path, order):
    est = estimator(hybrid=False)
    val = gm.loader(32, seed=1)
    ours = tb.gluon.EstimatorHandler(
        logdir=logdir, every=100, graph=True, priority=-5000 if order == "ours_first" else 0
    )
    theirs = [
        ValidationHandler(val, est.evaluate, epoch_period=None, batch_period=4),
        LoggingHandler(metrics=est.train_metrics),
        CheckpointHandler(str(tmp_path / "ckpt"), epoch_period=1),
        EarlyStoppingHandler(monitor=est.train_metrics[0], patience=5, mode="max"),
    ]
    probe = AccuracyProbe(est)
    handlers = [ours, *theirs, probe] if order == "ours_first" else [probe, *theirs, ours]
    est.fit(gm.loader(), epochs=2, event_handlers=handlers)
    # whatever the order, each batch's logged accuracy includes that batch (MetricHandler ran before it is read)
    assert [v for _, v in scalars(logdir, "train/accuracy")] == pytest.approx(probe.values)
    # batch_period=4 validates after batches 3, 7, 11 (the handler sees each at its next event)
    assert [s for s, _ in scalars(logdir, "val/accuracy")] == [3, 7, 11]
    assert [s for s, _ in scalars(logdir, "train/loss")] == list(range(2 * BATCHES))
    assert [s for s, _ in scalars(logdir, "grads/norm/cnn_conv0_weight")] == [0]
    assert os.listdir(tmp_path / "ckpt")
    assert accumulate(logdir).Graph() is not None  # nn.Sequential of HybridBlocks: traced


def test_steps_continue_across_fit_calls_and_scheduler_learning_rate(logdir):
    schedule = mx.lr_scheduler.FactorScheduler(step=3, factor=0.5, base_lr=0.1)
    est = estimator(lr_scheduler=schedule)
    with SummaryWriter(logdir) as sw:
        handler = tb.gluon.EstimatorHandler(writer=sw, every=5, weights=True)
        est.fit(gm.loader(), epochs=1, event_handlers=[handler])
        est.fit(gm.loader(), batches=3, event_handlers=[handler])
    steps = list(range(BATCHES + 3))
    assert [s for s, _ in scalars(logdir, "train/accuracy")] == steps
    rates = [v for _, v in scalars(logdir, "train/lr")]
    # the rate the optimizer used for each batch: FactorScheduler halves it after every 3 updates
    assert rates == pytest.approx([0.1 * 0.5 ** ((s) // 3) for s in steps])
    assert [s for s, _ in scalars(logdir, "weights/norm/cnn_dense0_weight")] == [0, 5]
    weight = est.net.collect_params()["cnn_dense0_weight"].data().asnumpy()
    assert np.isfinite(weight).all()


def test_runs_layout_overlays_train_and_val(logdir):
    est = estimator()
    handler = tb.gluon.EstimatorHandler(logdir=logdir, layout="runs", grads=False, graph=False)
    est.fit(gm.loader(), val_data=gm.loader(32, seed=1), epochs=1, event_handlers=[handler])
    assert [s for s, _ in scalars(os.path.join(logdir, "train"), "accuracy")] == list(range(BATCHES))
    assert [s for s, _ in scalars(os.path.join(logdir, "val"), "accuracy")] == [BATCHES - 1]


def test_bad_arguments_are_refused_naming_the_value():
    with pytest.raises(ValueError, match="every must be an int >= 1; got -1"):
        tb.gluon.EstimatorHandler(every=-1)
    with pytest.raises(ValueError, match="not both"):
        tb.gluon.EstimatorHandler(logdir="x", writer=SummaryWriter.__new__(SummaryWriter))
    with pytest.raises(TypeError, match="weights must be a bool; got 'no'"):
        tb.gluon.EstimatorHandler(weights="no")
    with pytest.raises(ValueError, match="layout must be one of"):
        tb.gluon.EstimatorHandler(layout="grid")


@pytest.mark.usefixtures("dist_worker_env")
@pytest.mark.parametrize(
    ("mode", "rank", "run"), [("per_worker", 1, "worker-1"), ("rank0", 0, "."), ("rank0", 1, None)]
)
def test_logdir_follows_the_distributed_rules(tmp_path, mode, rank, run):
    from mxnet_tb._training import distributed

    distributed.set_mode(mode)
    distributed.observe(DistKVStore(rank=rank))  # as the trainer's dist_sync kvstore tells it at the first step
    est = estimator()
    handler = tb.gluon.EstimatorHandler(logdir=str(tmp_path / "logs"), every=3)
    est.fit(gm.loader(), epochs=1, event_handlers=[handler])
    if run is None:
        assert not (tmp_path / "logs").exists()
        return
    assert [s for s, _ in scalars(tmp_path / "logs" / run, "train/accuracy")] == list(range(BATCHES))
    assert [s for s, _ in scalars(tmp_path / "logs" / run, "grads/norm/cnn_conv0_weight")] == [0, 3]
