"""watch() on real hand-written Gluon loops: exact tags and steps read back, gradients checked numerically."""

from __future__ import annotations

import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

import mxnet_tb as tb
from mxnet_tb import SummaryWriter

from . import gluon_models as gm
from .readback import accumulate, scalars
from .test_distributed import DistKVStore

PARAMS = [
    "cnn_conv0_bias",
    "cnn_conv0_weight",
    "cnn_dense0_bias",
    "cnn_dense0_weight",
    "cnn_dense1_bias",
    "cnn_dense1_weight",
]


def train(net, trainer, ctx, handle=None, batches=6, record=None, metric=None):
    """A plain Gluon loop over ``batches`` batches; ``record(step)`` sees the gradients before each update."""
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for index, (data, label) in enumerate(gm.loader()):
        if index == batches:
            break
        datas = gluon.utils.split_and_load(data, ctx)
        labels = gluon.utils.split_and_load(label, ctx)
        with autograd.record():
            losses = [loss_fn(net(x), y) for x, y in zip(datas, labels)]
        for loss in losses:
            loss.backward()
        if record is not None:
            record(index)
        trainer.step(data.shape[0])
        if handle is not None:
            if metric is not None:
                metric.update(labels, [net(x) for x in datas])
            handle.log_metrics(metric, loss=losses)


@pytest.mark.parametrize("devices", [1, 2])
@pytest.mark.parametrize("hybrid", [True, False])
def test_gradients_equal_param_grad_summed_over_devices_at_the_logged_step(logdir, devices, hybrid):
    ctx = gm.contexts(devices)
    net = gm.initialized(gm.cnn(hybrid=hybrid), ctx)
    if hybrid:
        net.hybridize()
    trainer = gm.trainer(net)
    expected = {}

    def record(step):
        if step % 2 == 0:
            for name, param in net.collect_params().items():
                expected[(name, step)] = sum(g.asnumpy().astype(np.float64) for g in param.list_grad())

    with SummaryWriter(logdir) as sw:
        handle = tb.gluon.watch(net, trainer, every=2, writer=sw)
        train(net, trainer, ctx, handle, record=record)
        handle.remove()
    acc = accumulate(logdir)
    for name in PARAMS:
        norms = [(e.step, float(tb_value(e))) for e in acc.Tensors(f"grads/norm/{name}")]
        assert [s for s, _ in norms] == [0, 2, 4]
        for step, value in norms:
            assert value == pytest.approx(np.linalg.norm(expected[(name, step)]), rel=1e-5)
        maxabs = scalars(logdir, f"grads/max_abs/{name}")
        assert [v for _, v in maxabs] == pytest.approx([np.abs(expected[(name, s)]).max() for s, _ in maxabs], rel=1e-6)
    assert [s for s, _ in scalars(logdir, "train/loss")] == [0, 1, 2, 3, 4, 5]
    assert [s for s, _ in scalars(logdir, "train/lr")] == [0, 1, 2, 3, 4, 5]


def tb_value(event):
    from tensorboard.util import tensor_util

    return tensor_util.make_ndarray(event.tensor_proto)


def test_allreduce_then_update_reads_the_sum_once(logdir):
    ctx = gm.contexts(2)
    net = gm.initialized(gm.cnn(), ctx)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1}, update_on_kvstore=False)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    expected = {}
    with SummaryWriter(logdir) as sw, tb.gluon.watch(net, trainer, every=1, writer=sw):
        for index, (data, label) in enumerate(gm.loader()):
            if index == 2:
                break
            datas, labels = gluon.utils.split_and_load(data, ctx), gluon.utils.split_and_load(label, ctx)
            with autograd.record():
                losses = [loss_fn(net(x), y) for x, y in zip(datas, labels)]
            for loss in losses:
                loss.backward()
            param = net.collect_params()["cnn_dense1_weight"]
            expected[index] = sum(g.asnumpy().astype(np.float64) for g in param.list_grad())
            trainer.allreduce_grads()  # every device now holds the sum: it must not be summed again
            np.testing.assert_allclose(param.list_grad()[0].asnumpy(), expected[index], rtol=1e-5, atol=1e-7)
            trainer.update(data.shape[0])
    norms = scalars(logdir, "grads/norm/cnn_dense1_weight")
    assert [s for s, _ in norms] == [0, 1]
    assert [v for _, v in norms] == pytest.approx([np.linalg.norm(expected[s]) for s, _ in norms], rel=1e-5)


def test_weights_after_update_and_update_ratio(logdir):
    ctx = gm.contexts(1)
    net = gm.initialized(gm.cnn(), ctx)
    trainer = gm.trainer(net)
    before, after = {}, {}
    weight = net.collect_params()["cnn_dense0_weight"]
    original_step = trainer.step

    with SummaryWriter(logdir) as sw:
        handle = tb.gluon.watch(net, trainer, every=3, grads=False, weights=True, writer=sw)
        wrapped_step = trainer.step

        def step_and_record(batch_size, ignore_stale_grad=False):
            index = handle.step + 1
            before[index] = weight.data().asnumpy().astype(np.float64)
            wrapped_step(batch_size, ignore_stale_grad)
            after[index] = weight.data().asnumpy().astype(np.float64)

        trainer.step = step_and_record
        train(net, trainer, ctx, handle)
        trainer.step = wrapped_step
        handle.remove()
    assert trainer.step == original_step and "step" not in vars(trainer)
    acc = accumulate(logdir)
    assert not [t for t in acc.Tags()["tensors"] if t.startswith("grads/")]
    norms = scalars(logdir, "weights/norm/cnn_dense0_weight")
    assert [s for s, _ in norms] == [0, 3]
    assert [v for _, v in norms] == pytest.approx([np.linalg.norm(after[s]) for s in (0, 3)], rel=1e-5)
    ratios = scalars(logdir, "updates/ratio/cnn_dense0_weight")
    want = [np.linalg.norm(after[s] - before[s]) / np.linalg.norm(before[s]) for s in (0, 3)]
    assert [v for _, v in ratios] == pytest.approx(want, rel=1e-4)


@pytest.mark.parametrize("hybrid", [True, False])
def test_activations_of_hybridized_and_imperative_nets_with_zero_fraction(logdir, hybrid):
    ctx = gm.contexts(2)
    net = gm.initialized(gm.cnn(hybrid=hybrid), ctx)
    if hybrid:
        net.hybridize()
    trainer = gm.trainer(net)
    seen, hidden = {}, {}

    def look(block, args, output):
        seen.setdefault(handle.step + 1, []).append(output)
        with autograd.pause():  # Dense(8, relu)'s output for the same input, computed apart
            hidden.setdefault(handle.step + 1, []).append(net[0:3](args[0]).asnumpy())

    with SummaryWriter(logdir) as sw:
        handle = tb.gluon.watch(net, trainer, every=2, grads=False, activations=True, writer=sw)
        probe = net.register_forward_hook(look)
        train(net, trainer, ctx, handle, batches=3)
        probe.detach()
        handle.remove()
    acc = accumulate(logdir)
    tags = set(acc.Tags()["tensors"])
    assert {"activations/zero_fraction/cnn_dense0_relu", "activations/zero_fraction/cnn_conv0_relu"} <= tags
    zero = scalars(logdir, "activations/zero_fraction/cnn_dense0_relu")
    assert [s for s, _ in zero] == [0, 2]
    for step, value in zero:
        outputs = np.concatenate([h.ravel() for h in hidden[step]])
        assert 0 < value < 1 and value == pytest.approx(np.mean(outputs == 0), abs=1e-9)
    # the last layer's output is the network's output: its mean over both devices' slices is checkable
    name = "cnn_dense1"
    means = scalars(logdir, f"activations/mean/{name}")
    assert [s for s, _ in means] == [0, 2]
    for step, value in means:
        outputs = np.concatenate([o.asnumpy().ravel() for o in seen[step][:2]])
        assert value == pytest.approx(outputs.mean(), rel=1e-4, abs=1e-6)


def test_remove_restores_trainer_and_blocks_exactly():
    ctx = gm.contexts(1)
    net = gm.initialized(gm.cnn(), ctx)
    net.hybridize()
    trainer = gm.trainer(net)
    before = dict(vars(trainer))
    hooks_before = [(len(b._forward_hooks), len(b._forward_pre_hooks)) for b in _blocks(net)]
    handle = tb.gluon.watch(net, trainer, every=1, activations=True, writer=None)
    assert trainer.step is not type(trainer).step
    handle.remove()
    assert vars(trainer) == before
    assert [(len(b._forward_hooks), len(b._forward_pre_hooks)) for b in _blocks(net)] == hooks_before
    handle.remove()  # twice is harmless


def _blocks(net):
    yield net
    for child in net._children.values():
        yield from _blocks(child)


def test_watch_finds_the_trainer_and_refuses_bad_arguments(logdir):
    net = gm.initialized(gm.cnn(), gm.contexts(1))
    with pytest.raises(ValueError, match="no Trainer holds net's parameters"):
        tb.gluon.watch(net)
    trainer = gm.trainer(net)
    with pytest.raises(TypeError, match="net must be a Gluon Block; got int"):
        tb.gluon.watch(3, trainer)
    with pytest.raises(ValueError, match="every must be an int >= 1; got 0"):
        tb.gluon.watch(net, trainer, every=0)
    with pytest.raises(TypeError, match="grads must be a bool"):
        tb.gluon.watch(net, trainer, grads="yes")
    with pytest.raises(ValueError, match=r"pattern '\(' is not a valid regular expression"):
        tb.gluon.watch(net, trainer, pattern="(")
    with pytest.raises(ValueError, match="grad_stats: unknown statistic 'median'"):
        tb.gluon.watch(net, trainer, grad_stats=("norm", "median"))
    with pytest.raises(TypeError, match=r"trainer must be a gluon\.Trainer or None; got dict"):
        tb.gluon.watch(net, {})
    with pytest.raises(TypeError, match=r"writer must be a mxnet_tb\.SummaryWriter or None; got str"):
        tb.gluon.watch(net, trainer, writer="runs/x")
    assert "step" not in vars(trainer)  # a refused call changes nothing
    assert not net._forward_pre_hooks and not net[0]._forward_hooks
    with SummaryWriter(logdir) as sw:
        handle = tb.gluon.watch(net, writer=sw)
        assert handle.trainer is trainer
        with pytest.raises(ValueError, match="already watched"):
            tb.gluon.watch(net, trainer, writer=sw)
        with pytest.raises(RuntimeError, match=r"after trainer\.step"):
            handle.log_metrics(loss=mx.nd.ones((2,)))
        handle.remove()


def test_steps_continue_across_watch_calls_and_validation_shares_the_axis(logdir):
    ctx = gm.contexts(1)
    net = gm.initialized(gm.cnn(), ctx)
    trainer = gm.trainer(net)
    metric = mx.metric.Accuracy()
    with SummaryWriter(logdir) as sw:
        with tb.gluon.watch(net, trainer, every=100, writer=sw) as handle:
            train(net, trainer, ctx, handle, batches=3, metric=metric)
            handle.log_validation(metric)
        with tb.gluon.watch(net, trainer, every=100, writer=sw) as handle:
            train(net, trainer, ctx, handle, batches=2, metric=metric)
            handle.log_validation(metric)
    assert [s for s, _ in scalars(logdir, "train/accuracy")] == [0, 1, 2, 3, 4]
    assert [s for s, _ in scalars(logdir, "val/accuracy")] == [2, 4]
    assert [s for s, _ in scalars(logdir, "grads/norm/cnn_conv0_weight")] == [0]
    assert [s for s, _ in scalars(logdir, "train/samples_per_sec")] == [1, 2, 4]  # needs a previous call


def test_log_metrics_without_watch_and_with_runs_layout(logdir):
    metric = mx.metric.create(["acc", "ce"])
    metric.update([mx.nd.array([0, 1])], [mx.nd.array([[0.9, 0.1], [0.2, 0.8]])])
    with SummaryWriter(logdir) as sw:
        names = tb.gluon.log_metrics(metric, 7, loss=mx.nd.array([1.0, 3.0]), writer=sw)
        tb.gluon.log_metrics(metric, 7, prefix="val", writer=sw, layout="runs")
    assert names == ["accuracy", "cross-entropy", "loss"]
    assert scalars(logdir, "train/accuracy") == [(7, 1.0)]
    assert scalars(logdir, "train/loss") == [(7, 2.0)]
    assert scalars(os.path.join(logdir, "val"), "accuracy") == [(7, 1.0)]
    with pytest.raises(TypeError, match=r"metric must be an mx\.metric\.EvalMetric; got str"):
        tb.gluon.log_metrics("acc", 1)
    with pytest.raises(ValueError, match="layout must be one of"):
        tb.gluon.log_metrics(metric, 1, layout="columns")


# -- distributed rules (the same functions as the Module API's) ----------------------------------------------


def test_per_worker_mode_logs_to_the_workers_run(dist_worker_env, tmp_path):
    tb.init(logdir=str(tmp_path), kvstore=DistKVStore(rank=1))
    ctx = gm.contexts(1)
    net = gm.initialized(gm.cnn(), ctx)
    trainer = gm.trainer(net)
    with tb.gluon.watch(net, trainer, every=2) as handle:
        train(net, trainer, ctx, handle, batches=3)
    tb.default_writer().close()
    assert os.listdir(tmp_path) == ["worker-1"]
    assert [s for s, _ in scalars(tmp_path / "worker-1", "grads/norm/cnn_conv0_weight")] == [0, 2]
    assert [s for s, _ in scalars(tmp_path / "worker-1", "train/loss")] == [0, 1, 2]


def test_rank0_mode_other_workers_log_nothing_and_stop_measuring(dist_worker_env, tmp_path):
    tb.init(logdir=str(tmp_path), dist_mode="rank0", kvstore=DistKVStore(rank=1))
    ctx = gm.contexts(1)
    net = gm.initialized(gm.cnn(), ctx)
    net.hybridize()
    trainer = gm.trainer(net)
    est_metric = mx.metric.Accuracy()
    with tb.gluon.watch(net, trainer, every=1, weights=True, activations=True) as handle:
        train(net, trainer, ctx, handle, batches=3, metric=est_metric)
        handle.log_validation(est_metric)
        assert handle._tap is None and not handle._batch_is_logged()  # no hooks left on the blocks
        assert handle.step == 2  # batches are still counted
    tb.default_writer().close()
    assert os.listdir(tmp_path) == []


def test_samples_per_sec_counts_what_the_net_trained_on_not_the_step_argument(logdir, monkeypatch):
    import itertools

    from mxnet_tb.gluon import _watch as watch_module

    ticks = itertools.count()
    monkeypatch.setattr(watch_module.time, "perf_counter", lambda: float(next(ticks)))  # one second per call
    ctx = gm.contexts(2)
    net = gm.initialized(gm.cnn(), ctx)
    trainer = gm.trainer(net)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    with SummaryWriter(logdir) as sw, tb.gluon.watch(net, trainer, writer=sw) as handle:
        for index, (data, label) in enumerate(gm.loader()):
            if index == 3:
                break
            datas, labels = gluon.utils.split_and_load(data, ctx), gluon.utils.split_and_load(label, ctx)
            with autograd.record():
                losses = [loss_fn(net(x), y).mean() for x, y in zip(datas, labels)]
            autograd.backward(losses)
            trainer.step(1)  # mean losses: the step's batch_size is 1
            net(datas[0])  # a forward pass outside autograd.record() is not training
            handle.log_metrics(loss=losses)
    assert scalars(logdir, "train/samples_per_sec") == [(1, 16.0), (2, 16.0)]
