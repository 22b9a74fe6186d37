"""tb.scalars / tb.validation / tb.params in real Module.fit runs, read back from disk."""

import io
import os
import subprocess
import sys
import textwrap

import mxnet as mx
import numpy as np
import pytest
from PIL import Image
from tensorboard.compat.proto.graph_pb2 import GraphDef

import mxnet_tb as tb

from . import mxnet_models as models
from .readback import accumulate, event_files, load_events, scalars, tensors

BATCHES = models.SAMPLES // models.BATCH  # per epoch


class Recorder:
    """A batch_end_callback that records what MXNet's own metric says, for comparison."""

    def __init__(self):
        self.running, self.batch_sums = [], []

    def __call__(self, param):
        self.running.append(dict(param.eval_metric.get_global_name_value()))
        self.batch_sums.append([(m.global_sum_metric, m.global_num_inst) for m in _leaves(param.eval_metric)])


def _leaves(metric):
    return [leaf for child in getattr(metric, "metrics", [metric]) for leaf in _leaves_of(child)]


def _leaves_of(metric):
    return _leaves(metric) if hasattr(metric, "metrics") else [metric]


def _steps(logdir, tag):
    return [step for step, _ in scalars(logdir, tag)]


def _values(logdir, tag):
    return [value for _, value in scalars(logdir, tag)]


def test_scalars_logs_metrics_speed_and_lr_at_the_global_step(logdir):
    sw = tb.SummaryWriter(logdir)
    recorder = Recorder()
    scheduler = mx.lr_scheduler.FactorScheduler(step=4, factor=0.5, base_lr=0.1)
    models.fit(
        models.module(),
        num_epoch=2,
        eval_metric=["acc", "ce"],
        batch_end_callback=[tb.scalars(writer=sw), recorder],
        optimizer_params={"learning_rate": 0.1, "lr_scheduler": scheduler},
    )
    sw.close()
    tags = set(accumulate(logdir).Tags()["tensors"])
    assert tags == {"train/accuracy", "train/cross-entropy", "train/samples_per_sec", "train/lr"}
    assert _steps(logdir, "train/accuracy") == list(range(2 * BATCHES))
    expected = [r["accuracy"] for r in recorder.running]
    assert _values(logdir, "train/accuracy") == pytest.approx(expected, rel=1e-6)
    assert _values(logdir, "train/cross-entropy") == pytest.approx([r["cross-entropy"] for r in recorder.running])
    # lr after n updates: FactorScheduler halves it once num_update passes 4, 8, ...
    expected_lr = [0.1 * 0.5 ** ((n - 1) // 4) for n in range(1, 2 * BATCHES + 1)]
    assert _values(logdir, "train/lr") == pytest.approx(expected_lr)
    # speed needs a start time: not at the first batch of an epoch
    assert _steps(logdir, "train/samples_per_sec") == [s for s in range(2 * BATCHES) if s % BATCHES]
    assert all(v > 0 for v in _values(logdir, "train/samples_per_sec"))


def test_frequent_logs_every_nth_global_step(logdir):
    sw = tb.SummaryWriter(logdir)
    models.fit(models.module(), num_epoch=2, batch_end_callback=tb.scalars(frequent=4, writer=sw))
    sw.close()
    assert _steps(logdir, "train/accuracy") == [0, 4, 8]


@pytest.mark.parametrize("speedometer_first", [True, False])
def test_auto_reset_logs_window_values_beside_a_resetting_speedometer(logdir, speedometer_first):
    sw = tb.SummaryWriter(logdir)
    recorder = Recorder()
    ours = tb.scalars(frequent=2, auto_reset=True, writer=sw)
    speedometer = mx.callback.Speedometer(models.BATCH, frequent=2, auto_reset=True)
    callbacks = [speedometer, ours, recorder] if speedometer_first else [ours, speedometer, recorder]
    models.fit(models.module(), num_epoch=2, batch_end_callback=callbacks)
    sw.close()
    sums = [entry[0] for entry in recorder.batch_sums]  # (global_sum, global_num) after each batch
    expected = []
    for step in range(0, 2 * BATCHES, 2):
        total, count = sums[step]
        if step % BATCHES:  # window since the previous log, within the epoch
            total, count = total - sums[step - 2][0], count - sums[step - 2][1]
        expected.append(total / count)
    assert _steps(logdir, "train/accuracy") == list(range(0, 2 * BATCHES, 2))
    assert _values(logdir, "train/accuracy") == pytest.approx(expected, rel=1e-6)


def test_repeated_fit_calls_continue_the_step(logdir):
    sw = tb.SummaryWriter(logdir)
    mod = models.module()
    callback = tb.scalars(writer=sw)
    models.fit(mod, num_epoch=1, batch_end_callback=callback)
    models.fit(mod, num_epoch=1, batch_end_callback=callback, force_init=True)
    sw.close()
    assert _steps(logdir, "train/accuracy") == list(range(2 * BATCHES))


def test_resumed_fit_starts_at_the_resumed_epochs_step(logdir):
    sw = tb.SummaryWriter(logdir)
    models.fit(models.module(), num_epoch=3, begin_epoch=2, batch_end_callback=tb.scalars(writer=sw))
    sw.close()
    assert _steps(logdir, "train/accuracy") == list(range(2 * BATCHES, 3 * BATCHES))


def test_validation_is_logged_at_the_last_training_step_of_each_epoch(logdir):
    sw = tb.SummaryWriter(logdir)
    scores = []
    mod = models.module()
    models.fit(
        mod,
        num_epoch=2,
        eval_metric=["acc", "ce"],
        batch_end_callback=tb.scalars(writer=sw),
        eval_end_callback=[tb.validation(writer=sw), lambda p: scores.append(dict(p.eval_metric.get_name_value()))],
    )
    sw.close()
    assert _steps(logdir, "val/accuracy") == [BATCHES - 1, 2 * BATCHES - 1]
    assert _values(logdir, "val/accuracy") == pytest.approx([s["accuracy"] for s in scores])
    assert _values(logdir, "val/cross-entropy") == pytest.approx([s["cross-entropy"] for s in scores])


def test_validation_without_batch_callbacks_uses_the_epoch(logdir):
    sw = tb.SummaryWriter(logdir)
    models.fit(models.module(), num_epoch=2, eval_end_callback=tb.validation(writer=sw))
    sw.close()
    assert _steps(logdir, "val/accuracy") == [0, 1]


def test_runs_layout_puts_train_and_val_in_runs_with_identical_tags(logdir):
    sw = tb.SummaryWriter(logdir)
    models.fit(
        models.module(),
        num_epoch=1,
        batch_end_callback=tb.scalars(writer=sw, layout="runs"),
        eval_end_callback=tb.validation(writer=sw, layout="runs"),
    )
    sw.close()
    train, val = os.path.join(logdir, "train"), os.path.join(logdir, "val")
    assert set(accumulate(train).Tags()["tensors"]) == {"accuracy", "samples_per_sec", "lr"}
    assert set(accumulate(val).Tags()["tensors"]) == {"accuracy"}
    assert _steps(train, "accuracy") == list(range(BATCHES))
    assert _steps(val, "accuracy") == [BATCHES - 1]


def test_params_logs_every_weight_and_aux_state(logdir):
    sw = tb.SummaryWriter(logdir)
    mod = models.module(batchnorm=True)
    models.fit(
        mod,
        num_epoch=2,
        batch_end_callback=tb.scalars(writer=sw),
        epoch_end_callback=tb.params(stats=("norm", "mean"), images=(), writer=sw),
    )
    sw.close()
    args, aux = mod.get_params()
    tags = set(accumulate(logdir).Tags()["tensors"])
    for name in args:
        assert {f"weights/hist/{name}", f"weights/norm/{name}", f"weights/mean/{name}"} <= tags
    for name in aux:
        assert {f"aux/hist/{name}", f"aux/norm/{name}"} <= tags
    assert _steps(logdir, "weights/norm/fc1_weight") == [BATCHES - 1, 2 * BATCHES - 1]
    final = args["fc1_weight"].asnumpy().astype(np.float64)
    assert _values(logdir, "weights/norm/fc1_weight")[-1] == pytest.approx(np.linalg.norm(final), rel=1e-6)
    assert _values(logdir, "aux/mean/bn0_moving_var")[-1] == pytest.approx(aux["bn0_moving_var"].asnumpy().mean())


def test_params_logs_first_layer_filters_and_the_graph_once(logdir):
    sw = tb.SummaryWriter(logdir)
    mod = models.module()
    models.fit(mod, num_epoch=2, epoch_end_callback=tb.params(writer=sw))
    sw.close()
    images = tensors(logdir, "weights/filters/conv0_weight")
    assert [step for step, _ in images] == [0, 1]
    width, height, png = images[-1][1]
    picture = Image.open(io.BytesIO(png))
    # 4 filters of 1x3x3 tiled 4 in a row with 1 px padding: 4 * (3 + 1) + 1 wide, 3 + 2 high
    assert (int(width), int(height), picture.size) == (17, 5, (17, 5))
    weight = mod.get_params()[0]["conv0_weight"].asnumpy()[0, 0]
    pixels = np.asarray(picture.convert("L"))[1:4, 1:4].astype(float) / 255
    expected = (weight - weight.min()) / (weight.max() - weight.min())
    assert np.abs(pixels - expected).max() <= 1 / 255 + 1e-6
    graphs = [e for f in event_files(logdir) for e in load_events(f) if e.graph_def]
    assert len(graphs) == 1
    nodes = {node.name: node for node in GraphDef.FromString(graphs[0].graph_def).node}
    assert any(node.op == "Convolution" for node in nodes.values())
    assert any(node.op == "FullyConnected" for node in nodes.values())


def test_params_every_n_epochs(logdir):
    sw = tb.SummaryWriter(logdir)
    models.fit(models.module(), num_epoch=4, epoch_end_callback=tb.params(every=2, images=(), writer=sw))
    sw.close()
    assert _steps(logdir, "weights/norm/fc1_weight") == [1, 3]  # epochs, as no batch callback counts steps


@pytest.mark.parametrize(
    "factory, kwargs, error, message",
    [
        (tb.scalars, {"frequent": 0}, ValueError, "frequent must be an int >= 1; got 0"),
        (tb.scalars, {"frequent": 2.5}, ValueError, "frequent"),
        (tb.scalars, {"prefix": ""}, ValueError, "prefix"),
        (tb.scalars, {"auto_reset": "yes"}, TypeError, "auto_reset"),
        (tb.scalars, {"layout": "grid"}, ValueError, "layout must be one of"),
        (tb.scalars, {"writer": "logs"}, TypeError, "writer must be a mxnet_tb.SummaryWriter"),
        (tb.validation, {"prefix": 3}, TypeError, "prefix"),
        (tb.params, {"every": -1}, ValueError, "every"),
        (tb.params, {"stats": ("norm", "median")}, ValueError, "unknown statistic 'median'"),
        (tb.params, {"stats": "norm"}, TypeError, "stats"),
        (tb.params, {"images": ("fc",)}, ValueError, "images"),
        (tb.params, {"histograms": 1}, TypeError, "histograms"),
    ],
)
def test_factories_validate_arguments_eagerly(factory, kwargs, error, message):
    with pytest.raises(error, match=message):
        factory(**kwargs)


def test_callbacks_use_the_default_writer_from_init(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writer = tb.init(logdir=str(tmp_path / "runs" / "exp1"), flush_secs=5)
    try:
        assert tb.default_writer() is writer
        models.fit(models.module(), num_epoch=1, batch_end_callback=tb.scalars())
        writer.flush()
        assert _steps(tmp_path / "runs" / "exp1", "train/accuracy") == list(range(BATCHES))
    finally:
        writer.close()


def test_default_writer_comes_from_the_environment_and_is_closed_at_exit(tmp_path):
    script = textwrap.dedent(
        """
        import mxnet_tb as tb
        tb.default_writer().add_scalar("x", 1.0)
        print(tb.default_writer().get_logdir())
        """
    )
    env = {**os.environ, "MXNET_TB_LOGDIR": str(tmp_path / "from_env")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(tmp_path / "from_env")
    assert scalars(tmp_path / "from_env", "x") == [(0, 1.0)]
    env.pop("MXNET_TB_LOGDIR")
    subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, check=True)
    (run,) = os.listdir(tmp_path / "runs")
    assert run.count("_") >= 2  # runs/<date>_<time>_<host>
    assert scalars(tmp_path / "runs" / run, "x") == [(0, 1.0)]
