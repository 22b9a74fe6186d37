"""Every statistic and histogram the monitors log equals a NumPy reference on the same tensors at the same step.

The reference copies the gradients synchronously in a listener that runs after the monitor's own, at every
batch; the monitor's values are read back from disk. Reports are built on the writer's encoder threads, so a
test also slows those down: a monitor that read the gradients late (not a copy taken at the step) would log
the next batch's values.
"""

import threading
import time

import mxnet as mx
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

import mxnet_tb as tb
from mxnet_tb._training.hooks import hooks_of
from mxnet_tb._training.stats import host_stats
from mxnet_tb.monitors import _report
from mxnet_tb.summaries.histogram import histogram_proto

from . import mxnet_models as models
from .readback import accumulate, scalars

BATCHES = models.SAMPLES // models.BATCH
PARAMS = ("conv0_weight", "conv0_bias", "fc1_weight", "fc1_bias")
GRAD_STATS = ("norm", "mean", "std", "max_abs", "nonfinite")


class _GradientTape:
    """Copies the summed gradients of every parameter at every batch, after the monitor's listener ran."""

    def __init__(self, mod):
        self.steps = []
        self._group = mod._exec_group.execs
        for exe in self._group:
            hooks_of(exe).listen("after_backward", self._record)

    def _record(self, exe):
        if exe is not self._group[-1]:
            return
        self.steps.append({name: sum(e.grad_dict[name].asnumpy() for e in self._group) for name in PARAMS})


def _train(logdir, monitor, contexts=1, nan_at=None, num_epoch=1):
    sw = monitor._writer
    mod = models.module(contexts=contexts)
    train, val = models.iterators(nan_at=nan_at)
    mod.bind(train.provide_data, train.provide_label)
    mod.install_monitor(monitor)
    tape = _GradientTape(mod)
    models.fit(mod, train, val, num_epoch=num_epoch)
    sw.close()
    return tape.steps


def _histograms(logdir, tag):
    legacy = EventAccumulator(logdir, size_guidance={"histograms": 0})
    legacy.Reload()
    return [(event.step, event.histogram_value) for event in legacy.Histograms(tag)]


@pytest.fixture
def slow_reports(monkeypatch):
    """Reports wait before reading what the batch staged: by then the next batches have run."""
    values = _report.BatchReport.values

    def late(self):
        time.sleep(0.05)
        return values(self)

    monkeypatch.setattr(_report.BatchReport, "values", late)


def _check_grads(logdir, steps, scale=1.0, stats=GRAD_STATS, histograms=True, rel=1e-6):
    """Scalars are stored as float32: ``rel`` 1e-6 is their rounding; histograms are float64 and exact."""
    for param in PARAMS:
        for stat in stats:
            logged = scalars(logdir, f"grads/{stat}/{param}")
            assert [s for s, _ in logged] == list(range(len(steps))), (param, stat)
            for step, value in logged:
                expected = host_stats(steps[step][param] * scale, (stat,))[stat]
                assert value == pytest.approx(np.float32(expected), rel=rel, abs=1e-30), (param, stat, step)
        if histograms:
            logged = _histograms(logdir, f"grads/hist/{param}")
            assert [s for s, _ in logged] == list(range(len(steps)))
            for step, histo in logged:
                values = steps[step][param] * scale
                expected = histogram_proto(values[np.isfinite(values)])
                assert list(histo.bucket_limit) == pytest.approx(list(expected.bucket_limit), rel=1e-15)
                assert list(histo.bucket) == list(expected.bucket), (param, step)
                assert (histo.min, histo.max, histo.num) == (expected.min, expected.max, expected.num)
                assert histo.sum == pytest.approx(expected.sum, rel=1e-9, abs=1e-12)
                assert histo.sum_squares == pytest.approx(expected.sum_squares, rel=1e-9)
    global_norms = scalars(logdir, "grads/global_norm")
    assert [s for s, _ in global_norms] == list(range(len(steps)))
    for step, value in global_norms:
        squares = sum(float(np.sum(np.square(steps[step][p].astype(np.float64) * scale))) for p in PARAMS)
        assert value == pytest.approx(np.float32(np.sqrt(squares)), rel=max(rel, 1e-6))


@pytest.mark.parametrize("contexts", [1, 2])
def test_grad_statistics_and_histograms_equal_numpy_on_the_same_gradients(logdir, contexts, slow_reports):
    monitor = tb.GradMonitor(interval=1, writer=tb.SummaryWriter(logdir))
    steps = _train(logdir, monitor, contexts=contexts)
    assert len(steps) == BATCHES
    _check_grads(logdir, steps)


def test_effective_gradients_equal_numpy_on_the_scaled_gradients(logdir, slow_reports):
    monitor = tb.GradMonitor(interval=1, effective=True, writer=tb.SummaryWriter(logdir))
    steps = _train(logdir, monitor)
    _check_grads(logdir, steps, scale=np.float32(1.0 / models.BATCH))


@pytest.mark.parametrize("contexts", [1, 2])
def test_per_batch_norms_equal_numpy_on_the_same_gradients(logdir, contexts, slow_reports):
    monitor = tb.GradMonitor(interval=1, stats=("norm",), histograms=False, writer=tb.SummaryWriter(logdir))
    steps = _train(logdir, monitor, contexts=contexts)
    _check_grads(logdir, steps, stats=("norm",), histograms=False, rel=1e-5)  # multi_sum_sq adds in float32


def test_device_reductions_equal_numpy_on_the_same_gradients(logdir, slow_reports):
    monitor = tb.GradMonitor(interval=1, reduce="device", writer=tb.SummaryWriter(logdir))
    steps = _train(logdir, monitor, contexts=2)
    _check_grads(logdir, steps, histograms=False)
    for step, histo in _histograms(logdir, "grads/hist/fc1_weight"):
        values = steps[step]["fc1_weight"].astype(np.float64)
        counts, edges = np.histogram(values, bins=100)
        assert (histo.min, histo.max) == pytest.approx((edges[0], edges[-1]), rel=1e-12)
        assert np.abs(np.array(histo.bucket) - counts).sum() <= 2  # a value on an edge may fall either side
        assert histo.num == values.size and sum(histo.bucket) == values.size


def test_global_norm_is_nan_when_a_gradient_is_while_norms_skip_nonfinite_entries(logdir):
    monitor = tb.GradMonitor(interval=1, writer=tb.SummaryWriter(logdir))
    steps = _train(logdir, monitor, nan_at=2 * models.BATCH + 3)
    poisoned = dict(scalars(logdir, "grads/global_norm"))[2]
    assert np.isnan(poisoned)
    norm = dict(scalars(logdir, "grads/norm/conv0_weight"))[2]
    assert norm == pytest.approx(host_stats(steps[2]["conv0_weight"], ("norm",))["norm"], rel=1e-6)
    assert dict(scalars(logdir, "grads/nonfinite/conv0_weight"))[2] > 0


def test_activation_statistics_equal_numpy_on_the_first_batchs_outputs(logdir, slow_reports):
    sw = tb.SummaryWriter(logdir)
    monitor = tb.ActivationMonitor(interval=100, pattern=".*(relu0|fc1)_output", writer=sw)
    mod = models.module(contexts=2)  # each device computes half the batch: joined into one set of statistics
    train, val = models.iterators()
    models.fit(mod, train, val, num_epoch=1, monitor=monitor)
    sw.close()
    args = models.initial_params(mod.symbol)[0]
    images = mx.nd.array(models.digits_like()[0][: models.BATCH])
    for output in ("relu0_output", "fc1_output"):
        node = mod.symbol.get_internals()[output]
        expected = node.eval(data=images, **{k: v for k, v in args.items() if k in node.list_arguments()})[0]
        expected = expected.asnumpy()
        for stat in ("mean", "std", "max_abs", "nonfinite"):
            ((step, value),) = scalars(logdir, f"activations/{stat}/{output}")
            assert step == 0
            assert value == pytest.approx(host_stats(expected, (stat,))[stat], rel=1e-5, abs=1e-7), (output, stat)
        ((step, histo),) = _histograms(logdir, f"activations/hist/{output}")
        assert step == 0 and histo.num == expected.size
        if output == "relu0_output":
            ((_, zero),) = scalars(logdir, "activations/zero_fraction/relu0_output")
            assert zero == pytest.approx(1.0 - np.count_nonzero(expected) / expected.size)


@pytest.mark.parametrize("on_nonfinite, off_thread", [("log", True), ("raise", False)])
def test_batches_are_reduced_off_the_training_thread_unless_they_must_stop_it(
    logdir, monkeypatch, on_nonfinite, off_thread
):
    """Small reports are built when the writer's thread writes them (here every 10 ms), big ones at once on an
    encoder thread; never by the training thread, but with ``on_nonfinite='raise'``, which must stop it."""
    training = threading.Event()
    during_training = []
    values = _report.BatchReport.values

    def record(self):
        if training.is_set():
            during_training.append(threading.current_thread())
        return values(self)

    monkeypatch.setattr(_report.BatchReport, "values", record)
    monitor = tb.GradMonitor(interval=1, on_nonfinite=on_nonfinite, writer=tb.SummaryWriter(logdir, flush_secs=0.01))
    sw = monitor._writer
    mod = models.module()
    train, val = models.iterators(samples=64 * models.BATCH)
    mod.bind(train.provide_data, train.provide_label)
    mod.install_monitor(monitor)
    training.set()
    models.fit(mod, train, val, num_epoch=1)
    training.clear()
    sw.close()
    assert during_training
    assert all((thread is not threading.main_thread()) == off_thread for thread in during_training)
    assert len(scalars(logdir, "grads/global_norm")) == 64


@pytest.mark.parametrize("kind", ["GradMonitor", "WeightMonitor", "ActivationMonitor"])
def test_host_and_device_reductions_agree_for_every_monitor(tmp_path, kind):
    logged = {}
    for reduce in ("host", "device"):
        logdir = str(tmp_path / reduce)
        monitor = getattr(tb, kind)(interval=3, reduce=reduce, writer=tb.SummaryWriter(logdir))
        _train(logdir, monitor, contexts=2)
        accumulator = accumulate(logdir)
        logged[reduce] = {
            tag: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in accumulator.Tensors(tag)]
            for tag in accumulator.Tags()["tensors"]
            if "/hist/" not in tag
        }
    assert logged["host"].keys() == logged["device"].keys() and logged["host"]
    for tag, points in logged["host"].items():
        device = logged["device"][tag]
        assert [s for s, _ in device] == [s for s, _ in points], tag
        assert [v for _, v in device] == pytest.approx([v for _, v in points], rel=1e-5, abs=1e-7), tag


EXIT_SCRIPT = """
import json, sys
import mxnet_tb as tb
tb.init(logdir=sys.argv[1])  # before MXNet is imported, and never closed here: it is closed at exit, after MXNet's
from tests import mxnet_models as models  # own exit hook shut its engine down (exit hooks run last in, first out)
from tests.test_monitor_values import _GradientTape
mod = models.module()
train, val = models.iterators()
mod.bind(train.provide_data, train.provide_label)
mod.install_monitor(tb.GradMonitor(interval=1, stats=("norm",), histograms=False))
tape = _GradientTape(mod)
models.fit(mod, train, val, num_epoch=1)
json.dump([{k: float((v.astype("float64") ** 2).sum() ** 0.5) for k, v in s.items()} for s in tape.steps],
          open(sys.argv[2], "w"))
"""


def test_values_still_pending_at_interpreter_exit_are_read_before_mxnet_shuts_down(tmp_path):
    import json
    import os
    import subprocess
    import sys

    logdir, expected = tmp_path / "logs", tmp_path / "expected.json"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-c", EXIT_SCRIPT, str(logdir), str(expected)], check=True, env=env, cwd=root)
    norms = json.loads(expected.read_text())
    for param in PARAMS:
        logged = scalars(str(logdir), f"grads/norm/{param}")
        assert [s for s, _ in logged] == list(range(len(norms)))
        assert [v for _, v in logged] == pytest.approx([n[param] for n in norms], rel=1e-5), param
