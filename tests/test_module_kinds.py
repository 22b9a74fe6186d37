"""True x-axes for the Module kinds and loops of MXNet's own examples: SequentialModule, BucketingModule, loops by hand.

Each test is a small script in the style of MXNet 1.9.1's ``example/module/sequential_module.py``,
``example/rnn/bucketing/lstm_bucketing.py`` and ``example/module/mnist_mlp.py`` (generated data, CPU), read
back through TensorBoard's loaders with exact step lists.
"""

import mxnet as mx
import numpy as np
import pytest

import mxnet_tb as tb

from . import mxnet_models as models
from .readback import scalars
from .tb_server import tensorboard_server

BATCHES = models.SAMPLES // models.BATCH  # 6 per epoch


def _steps(logdir, tag):
    return [step for step, _ in scalars(logdir, tag)]


def _sequential_module():
    """Two modules chained like sequential_module.py: an MLP's first layer, then the rest with the labels."""
    data = mx.sym.var("data")
    act1 = mx.sym.Activation(mx.sym.FullyConnected(data, name="fc1", num_hidden=16), name="relu1", act_type="relu")
    mod1 = mx.mod.Module(act1, label_names=[], context=mx.cpu())
    data = mx.sym.var("data")
    act2 = mx.sym.Activation(mx.sym.FullyConnected(data, name="fc2", num_hidden=8), name="relu2", act_type="relu")
    softmax = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(act2, name="fc3", num_hidden=2), name="softmax")
    mod2 = mx.mod.Module(softmax, context=mx.cpu())
    mod_seq = mx.mod.SequentialModule()
    mod_seq.add(mod1).add(mod2, take_labels=True, auto_wiring=True)
    return mod_seq


def _fit_sequential(logdir, interval):
    sw = tb.SummaryWriter(logdir)
    train, val = models.iterators()
    mod_seq = _sequential_module()
    mod_seq.fit(
        train,
        eval_data=val,
        num_epoch=2,
        optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
        initializer=mx.init.Xavier(),
        batch_end_callback=tb.scalars(writer=sw),
        eval_end_callback=tb.validation(writer=sw),
        monitor=tb.GradMonitor(interval=interval, writer=sw),
    )
    sw.close()


@pytest.mark.parametrize("interval", [1, 2])
def test_sequential_module_counts_one_step_per_batch_and_logs_every_part_at_the_same_steps(logdir, interval):
    _fit_sequential(logdir, interval)
    batches = list(range(2 * BATCHES))
    assert _steps(logdir, "train/accuracy") == _steps(logdir, "train/lr") == batches
    assert [value for _, value in scalars(logdir, "train/lr")] == pytest.approx([0.1] * len(batches))
    logged = batches[::interval]
    for param in ("fc1_weight", "fc2_weight", "fc3_weight"):  # the first part's and the second part's
        assert _steps(logdir, f"grads/norm/{param}") == logged, param
    assert _steps(logdir, "val/accuracy") == [BATCHES - 1, 2 * BATCHES - 1]


def test_activations_and_weights_of_every_part_of_a_sequential_module_share_the_steps(logdir):
    sw = tb.SummaryWriter(logdir)
    train, _ = models.iterators()
    mod_seq = _sequential_module()
    mod_seq.bind(train.provide_data, train.provide_label)
    mod_seq.install_monitor(tb.ActivationMonitor(interval=2, pattern="relu.*", writer=sw))
    mod_seq.install_monitor(tb.WeightMonitor(interval=2, pattern=".*weight", writer=sw))
    mod_seq.fit(train, num_epoch=1, optimizer_params={"learning_rate": 0.1}, initializer=mx.init.Xavier())
    sw.close()
    for relu in ("relu1_output", "relu2_output"):
        for stat in ("mean", "zero_fraction"):
            assert _steps(logdir, f"activations/{stat}/{relu}") == [0, 2, 4], (stat, relu)
    for weight in ("fc1_weight", "fc3_weight"):  # the update of each logged batch, seen at the next batch
        assert _steps(logdir, f"weights/norm/{weight}") == _steps(logdir, f"weights/update_ratio/{weight}") == [0, 2, 4]


def test_sequential_module_steps_are_the_same_in_the_rust_data_server(tmp_path):
    root = tmp_path / "runs"
    _fit_sequential(str(root / "seq"), interval=2)
    keep_all = ("--samples_per_plugin", "scalars=100000")
    with tensorboard_server(root, load_fast=True, extra_args=keep_all) as server:
        server.wait_for("/data/runs", lambda runs: "seq" in runs, timeout=120)
        for tag, expected in (
            ("train/accuracy", list(range(2 * BATCHES))),
            ("grads/norm/fc1_weight", list(range(0, 2 * BATCHES, 2))),
            ("grads/norm/fc3_weight", list(range(0, 2 * BATCHES, 2))),
        ):
            count = len(expected)
            points = server.wait_for(
                "/data/plugin/scalars/scalars", lambda p, count=count: len(p) >= count, run="seq", tag=tag
            )
            assert [step for _, step, _ in points] == expected, tag


class _Sentences(mx.rnn.BucketSentenceIter):
    """lstm_bucketing.py's iterator over generated sentences (token ids), in two buckets of lengths 4 and 6."""

    def __init__(self, batch_size):
        rng = np.random.default_rng(7)
        sentences = [list(rng.integers(1, 20, length)) for length in [4] * 48 + [6] * 32]
        super().__init__(sentences, batch_size, buckets=[4, 6], invalid_label=0)


def _lstm_sym_gen(seq_len):
    """An embedding and one unrolled LSTM layer per bucket length, as in lstm_bucketing.py (smaller)."""
    data, label = mx.sym.var("data"), mx.sym.var("softmax_label")
    embed = mx.sym.Embedding(data, input_dim=20, output_dim=8, name="embed")
    cell = mx.rnn.LSTMCell(num_hidden=8, prefix="lstm_")
    outputs, _ = cell.unroll(seq_len, inputs=embed, merge_outputs=True)
    pred = mx.sym.FullyConnected(mx.sym.reshape(outputs, shape=(-1, 8)), num_hidden=20, name="pred")
    softmax = mx.sym.SoftmaxOutput(pred, mx.sym.reshape(label, shape=(-1,)), name="softmax")
    return softmax, ("data",), ("softmax_label",)


def test_bucketing_module_logs_lr_and_scales_effective_gradients_by_rescale_grad(tmp_path):
    batch_size = 8
    train = _Sentences(batch_size)
    batches = 48 // batch_size + 32 // batch_size
    raw_dir, effective_dir = str(tmp_path / "raw"), str(tmp_path / "effective")
    raw_sw, effective_sw = tb.SummaryWriter(raw_dir), tb.SummaryWriter(effective_dir)
    model = mx.mod.BucketingModule(_lstm_sym_gen, default_bucket_key=train.default_bucket_key, context=mx.cpu())
    model.bind(train.provide_data, train.provide_label)
    model.install_monitor(tb.GradMonitor(interval=1, writer=raw_sw))
    model.install_monitor(tb.GradMonitor(interval=1, effective=True, writer=effective_sw))
    model.fit(
        train,
        num_epoch=2,
        eval_metric=mx.metric.Perplexity(0),
        optimizer="sgd",
        optimizer_params={"learning_rate": 0.05, "momentum": 0.0, "wd": 0.00001},
        initializer=mx.init.Xavier(factor_type="in", magnitude=2.34),
        batch_end_callback=tb.scalars(writer=raw_sw),
    )
    raw_sw.close(), effective_sw.close()
    assert len(model._buckets) == 2
    steps = list(range(2 * batches))
    assert _steps(raw_dir, "train/lr") == _steps(raw_dir, "train/perplexity") == steps
    assert [value for _, value in scalars(raw_dir, "train/lr")] == pytest.approx([0.05] * len(steps))
    rescale = model._curr_module._optimizer.rescale_grad
    assert rescale == pytest.approx(1 / batch_size)
    for param in ("lstm_i2h_weight", "embed_weight", "pred_weight"):
        raw, effective = scalars(raw_dir, f"grads/norm/{param}"), scalars(effective_dir, f"grads/norm/{param}")
        assert [s for s, _ in raw] == [s for s, _ in effective] == steps
        assert [v for _, v in effective] == pytest.approx([v * rescale for _, v in raw], rel=1e-5), param


def _manual_mlp():
    data = mx.sym.var("data")
    act1 = mx.sym.Activation(mx.sym.FullyConnected(data, name="fc1", num_hidden=16), name="relu1", act_type="relu")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(act1, name="fc2", num_hidden=2), name="softmax")


@pytest.mark.parametrize("with_monitor", [False, True])
def test_a_loop_by_hand_advances_one_step_per_batch(logdir, with_monitor):
    sw = tb.SummaryWriter(logdir)
    batch_end = tb.scalars(writer=sw)
    train_dataiter, _ = models.iterators()
    n_epoch = 2
    mod = mx.mod.Module(_manual_mlp())
    mod.bind(data_shapes=train_dataiter.provide_data, label_shapes=train_dataiter.provide_label)
    mod.init_params()
    mod.init_optimizer(optimizer_params={"learning_rate": 0.01, "momentum": 0.9})
    if with_monitor:
        mod.install_monitor(tb.GradMonitor(interval=1, writer=sw))
    metric = mx.metric.create("acc")
    for i_epoch in range(n_epoch):
        for i_iter, batch in enumerate(train_dataiter):
            mod.forward(batch)
            mod.update_metric(metric, batch.label)
            mod.backward()
            mod.update()
            batch_end(mx.model.BatchEndParam(epoch=i_epoch, nbatch=i_iter, eval_metric=metric, locals=locals()))
        metric.reset()
        train_dataiter.reset()
    sw.close()
    steps = list(range(n_epoch * BATCHES))
    assert _steps(logdir, "train/accuracy") == _steps(logdir, "train/lr") == steps
    if with_monitor:  # the monitor and the callback count the same batches once
        assert _steps(logdir, "grads/norm/fc1_weight") == steps


def test_a_loop_by_hand_whose_locals_hold_no_module_still_counts_its_batches(logdir):
    sw = tb.SummaryWriter(logdir)
    batch_end = tb.scalars(writer=sw)
    train_dataiter, _ = models.iterators()
    mod = mx.mod.Module(_manual_mlp())
    mod.bind(data_shapes=train_dataiter.provide_data, label_shapes=train_dataiter.provide_label)
    mod.init_params()
    mod.init_optimizer()
    metric = mx.metric.create("acc")

    def report(epoch, nbatch):  # its locals() are epoch and nbatch only
        batch_end(mx.model.BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=metric, locals=locals()))

    for i_epoch in range(2):
        for i_iter, batch in enumerate(train_dataiter):
            mod.forward_backward(batch)
            mod.update()
            mod.update_metric(metric, batch.label)
            report(i_epoch, i_iter)
        train_dataiter.reset()
    sw.close()
    assert _steps(logdir, "train/accuracy") == list(range(2 * BATCHES))


def test_the_doctor_on_a_sequential_module_judges_every_part_once_per_step(logdir):
    sw = tb.SummaryWriter(logdir)
    train, _ = models.iterators()
    mod_seq = _sequential_module()
    mod_seq.fit(
        train,
        num_epoch=1,
        optimizer_params={"learning_rate": 0.1},
        initializer=mx.init.Xavier(),
        arg_params={"fc1_bias": mx.nd.full((16,), -50.0)},  # the first part's ReLU is dead
        allow_missing=True,
        monitor=tb.Doctor(2, writer=sw),
    )
    sw.close()
    assert _steps(logdir, "alerts/dead_relu") == list(range(0, BATCHES, 2))  # one value per judged step
    assert {count for _, count in scalars(logdir, "alerts/dead_relu")} == {2.0}  # relu1, and relu2 behind it
    assert _steps(logdir, "grads/norm/fc1_weight") == _steps(logdir, "grads/norm/fc3_weight")
