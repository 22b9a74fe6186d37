"""GradMonitor / WeightMonitor / ActivationMonitor in real Module.fit runs, read back from disk."""

import mxnet as mx
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import mxnet_tb as tb

from . import mxnet_models as models
from .readback import accumulate, scalars, tensors

BATCHES = models.SAMPLES // models.BATCH
PARAMS = ("conv0_weight", "conv0_bias", "fc1_weight", "fc1_bias")
GRAD_STATS = ("norm", "mean", "std", "max_abs", "nonfinite")


def _steps(logdir, tag):
    return [step for step, _ in scalars(logdir, tag)]


def _values(logdir, tag):
    return [value for _, value in scalars(logdir, tag)]


def _train(logdir, monitor, style, contexts=1, num_epoch=2, **fit_kwargs):
    sw = monitor._writer
    mod = models.module(contexts=contexts)
    train, val = models.iterators(nan_at=fit_kwargs.pop("nan_at", None))
    if style in ("install", "both"):
        mod.bind(train.provide_data, train.provide_label)
        mod.install_monitor(monitor)
    if style in ("fit", "both"):
        fit_kwargs["monitor"] = monitor
    fit_kwargs.setdefault("batch_end_callback", tb.scalars(writer=sw))
    models.fit(mod, train, val, num_epoch=num_epoch, **fit_kwargs)
    sw.close()
    return mod


@pytest.mark.parametrize("style", ["install", "fit", "both"])
def test_grad_monitor_works_in_every_install_style_without_duplicates(logdir, style):
    monitor = tb.GradMonitor(interval=2, writer=tb.SummaryWriter(logdir))
    _train(logdir, monitor, style)
    expected = {f"grads/{stat}/{p}" for stat in GRAD_STATS for p in PARAMS} | {f"grads/hist/{p}" for p in PARAMS}
    expected.add("grads/global_norm")
    tags = set(accumulate(logdir).Tags()["tensors"])
    assert {t for t in tags if t.startswith("grads/")} == expected
    for tag in expected:
        steps = _steps(logdir, tag) if "/hist/" not in tag else [s for s, _ in tensors(logdir, tag)]
        assert steps == list(range(0, 2 * BATCHES, 2)), tag
    assert set(_values(logdir, "grads/nonfinite/fc1_weight")) == {0.0}


WEIGHT_STATS = ("norm", "mean", "std", "max_abs", "hist", "update_ratio")
EXPECTED_TAGS = {
    "GradMonitor": {f"grads/{s}/{p}" for s in (*GRAD_STATS, "hist") for p in PARAMS} | {"grads/global_norm"},
    "WeightMonitor": {f"weights/{s}/{p}" for s in WEIGHT_STATS for p in PARAMS},
    "ActivationMonitor": {
        *(f"activations/{s}/{o}" for s in ("mean", "std", "max_abs", "nonfinite", "hist") for o in
          ("conv0_output", "relu0_output", "flatten0_output", "fc1_output", "softmax_output")),
        "activations/zero_fraction/relu0_output",
    },
}  # fmt: skip


@pytest.mark.parametrize("contexts", [1, 2])
@pytest.mark.parametrize("style", ["install", "fit", "both"])
@pytest.mark.parametrize("kind", ["GradMonitor", "WeightMonitor", "ActivationMonitor"])
def test_every_monitor_in_every_install_style_and_on_two_devices(logdir, kind, style, contexts):
    monitor = getattr(tb, kind)(interval=4, writer=tb.SummaryWriter(logdir))
    _train(logdir, monitor, style, contexts=contexts, batch_end_callback=None)
    tags = set(accumulate(logdir).Tags()["tensors"])
    assert tags == EXPECTED_TAGS[kind]
    for tag in tags:  # 12 batches, every 4th logged once (update ratios show at the batch after)
        assert [s for s, _ in tensors(logdir, tag)] == [0, 4, 8], tag


def test_grad_monitor_steps_match_the_scalars_callback(logdir):
    monitor = tb.GradMonitor(interval=1, writer=tb.SummaryWriter(logdir))
    _train(logdir, monitor, "fit")
    assert _steps(logdir, "grads/norm/fc1_weight") == _steps(logdir, "train/accuracy") == list(range(2 * BATCHES))


def test_grad_monitor_counts_batches_alone(logdir):
    monitor = tb.GradMonitor(interval=3, writer=tb.SummaryWriter(logdir))
    _train(logdir, monitor, "install", batch_end_callback=None)
    assert _steps(logdir, "grads/norm/fc1_weight") == list(range(0, 2 * BATCHES, 3))


def _first_grad_norms(tmp_path, contexts, **kwargs):
    logdir = str(tmp_path / f"ctx{contexts}")
    monitor = tb.GradMonitor(interval=1, writer=tb.SummaryWriter(logdir), **kwargs)
    _train(logdir, monitor, "install", contexts=contexts, num_epoch=1)
    return {p: _values(logdir, f"grads/norm/{p}")[0] for p in PARAMS}, logdir


def test_gradients_of_two_devices_are_combined_once(tmp_path):
    one, _ = _first_grad_norms(tmp_path, 1)
    two, logdir = _first_grad_norms(tmp_path, 2)
    assert two == pytest.approx(one, rel=1e-4)  # the batch's gradient, not a device's half or twice the sum
    assert len(_steps(logdir, "grads/norm/fc1_weight")) == BATCHES


def test_effective_gradients_are_scaled_by_rescale_grad(tmp_path):
    raw, _ = _first_grad_norms(tmp_path, 1)
    effective, _ = _first_grad_norms(tmp_path / "eff", 1, effective=True)
    assert effective == pytest.approx({p: v / models.BATCH for p, v in raw.items()}, rel=1e-6)


def test_host_and_device_reductions_agree(tmp_path):
    host, host_dir = _first_grad_norms(tmp_path / "host", 2, reduce="host")
    device, device_dir = _first_grad_norms(tmp_path / "device", 2, reduce="device")
    assert device == pytest.approx(host, rel=1e-6)
    for stat in ("mean", "std", "max_abs", "nonfinite"):
        assert _values(device_dir, f"grads/{stat}/fc1_weight") == pytest.approx(
            _values(host_dir, f"grads/{stat}/fc1_weight")
        )
    # the device histogram: 100 equal buckets from min to max, counted by mx.nd.histogram, like NumPy's
    ((_, device_buckets), *_) = tensors(device_dir, "grads/hist/conv0_weight")
    legacy = EventAccumulator(device_dir, size_guidance={"histograms": 0})
    legacy.Reload()
    histo = legacy.Histograms("grads/hist/conv0_weight")[0].histogram_value
    assert histo.num == 4 * 1 * 3 * 3 and device_buckets[:, 2].sum() == 36
    assert len(histo.bucket) == 100 and histo.min < histo.max


def test_nonfinite_gradients_are_counted_and_can_stop_training(logdir):
    monitor = tb.GradMonitor(interval=1, on_nonfinite="raise", writer=tb.SummaryWriter(logdir))
    poisoned_batch = 2
    with pytest.raises(
        tb.NonFiniteError, match=rf"grads 'conv0_weight' holds \d+ NaN/Inf values at step {poisoned_batch}"
    ):
        _train(logdir, monitor, "install", nan_at=poisoned_batch * models.BATCH + 3)
    counts = scalars(logdir, "grads/nonfinite/conv0_weight")
    assert counts[:poisoned_batch] == [(0, 0.0), (1, 0.0)]
    assert counts[poisoned_batch][0] == poisoned_batch and counts[poisoned_batch][1] > 0


def test_nonfinite_gradients_are_logged_by_default(logdir):
    monitor = tb.GradMonitor(interval=1, writer=tb.SummaryWriter(logdir))
    _train(logdir, monitor, "install", num_epoch=1, nan_at=5)
    assert _values(logdir, "grads/nonfinite/conv0_weight")[0] > 0


def test_weight_monitor_logs_weights_and_update_ratios(logdir):
    sw = tb.SummaryWriter(logdir)
    weights = tb.WeightMonitor(interval=1, writer=sw)
    grads = tb.GradMonitor(interval=1, writer=sw)
    mod = models.module()
    train, val = models.iterators()
    mod.bind(train.provide_data, train.provide_label)
    mod.install_monitor(weights)
    mod.install_monitor(grads)
    models.fit(mod, train, val, num_epoch=1, optimizer_params={"learning_rate": 0.1})
    sw.close()
    tags = set(accumulate(logdir).Tags()["tensors"])
    assert {f"weights/update_ratio/{p}" for p in PARAMS} <= tags
    assert {f"weights/norm/{p}" for p in PARAMS} <= tags and "weights/norm/data" not in tags
    # plain SGD: w_{s+1} = w_s - lr * rescale_grad * g_s, so ratio_s = lr * |g_s| / batch / |w_{s+1}|
    grad_norms = _values(logdir, "grads/norm/fc1_weight")
    weight_norms = _values(logdir, "weights/norm/fc1_weight")
    ratios = scalars(logdir, "weights/update_ratio/fc1_weight")
    assert [s for s, _ in ratios] == list(range(BATCHES - 1))  # the last update shows at no later batch
    expected = [0.1 * grad_norms[s] / models.BATCH / weight_norms[s + 1] for s in range(BATCHES - 1)]
    assert [r for _, r in ratios] == pytest.approx(expected, rel=1e-4)
    initial = models.initial_params(mod.symbol)[0]["fc1_weight"].asnumpy().astype(np.float64)
    assert weight_norms[0] == pytest.approx(np.linalg.norm(initial), rel=1e-6)


def test_activation_monitor_logs_outputs_and_relu_zero_fraction(logdir):
    sw = tb.SummaryWriter(logdir)
    monitor = tb.ActivationMonitor(interval=2, pattern=".*(relu0|fc1)_output", writer=sw)
    mod = _train(logdir, monitor, "fit", num_epoch=1)
    tags = {t for t in accumulate(logdir).Tags()["tensors"] if t.startswith("activations/")}
    assert tags == {
        *(
            f"activations/{s}/{o}"
            for s in ("mean", "std", "max_abs", "nonfinite")
            for o in ("relu0_output", "fc1_output")
        ),
        "activations/hist/relu0_output",
        "activations/hist/fc1_output",
        "activations/zero_fraction/relu0_output",
    }
    assert _steps(logdir, "activations/zero_fraction/relu0_output") == [0, 2, 4]
    # the first batch's ReLU output, recomputed from the initial weights
    internals = mod.symbol.get_internals()["relu0_output"]
    args = models.initial_params(mod.symbol)[0]
    images, _ = models.digits_like()
    out = internals.eval(data=mx.nd.array(images[: models.BATCH]), **{k: v for k, v in args.items() if "conv" in k})
    expected = 1.0 - np.count_nonzero(out[0].asnumpy()) / out[0].size
    assert _values(logdir, "activations/zero_fraction/relu0_output")[0] == pytest.approx(expected)


class _TwoBuckets(mx.io.DataIter):
    """The training batches, alternately tagged with bucket keys 8 and 9 (same shapes, two bucket modules)."""

    def __init__(self):
        super().__init__(models.BATCH)
        self._inner = models.iterators()[0]
        self.provide_data, self.provide_label = self._inner.provide_data, self._inner.provide_label
        self.default_bucket_key = 8
        self._count = 0

    def reset(self):
        self._inner.reset()

    def next(self):
        batch = self._inner.next()
        self._count += 1
        return mx.io.DataBatch(
            batch.data,
            batch.label,
            bucket_key=8 + self._count % 2,
            provide_data=self.provide_data,
            provide_label=self.provide_label,
        )


def test_activation_monitor_watches_forward_outputs_only(logdir):
    monitor = tb.ActivationMonitor(interval=3, writer=tb.SummaryWriter(logdir))
    _train(logdir, monitor, "install", num_epoch=1)
    tags = {t for t in accumulate(logdir).Tags()["tensors"] if t.startswith("activations/mean/")}
    outputs = {t.split("/", 2)[2] for t in tags}
    assert outputs == {"conv0_output", "relu0_output", "flatten0_output", "fc1_output", "softmax_output"}
    assert _steps(logdir, "activations/mean/fc1_output") == [0, 3]


def test_bucketing_module_shares_one_step_across_buckets(logdir):
    sw = tb.SummaryWriter(logdir)

    def sym_gen(bucket_key):
        return models.cnn_symbol(), ("data",), ("softmax_label",)

    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=8, context=mx.cpu())
    train = _TwoBuckets()
    mod.bind(train.provide_data, train.provide_label)
    mod.install_monitor(tb.GradMonitor(interval=1, writer=sw))
    mod.fit(
        train,
        num_epoch=2,
        batch_end_callback=tb.scalars(writer=sw),
        optimizer_params={"learning_rate": 0.1},
        initializer=mx.init.Xavier(),
    )
    sw.close()
    assert len(mod._buckets) == 2
    assert _steps(logdir, "grads/norm/fc1_weight") == _steps(logdir, "train/accuracy") == list(range(2 * BATCHES))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"interval": 0}, ValueError, "interval must be an int >= 1; got 0"),
        ({"pattern": "("}, ValueError, "pattern '\\(' is not a valid regular expression"),
        ({"pattern": 3}, TypeError, "pattern"),
        ({"stats": ("norm", "p99")}, ValueError, "unknown statistic 'p99'"),
        ({"reduce": "gpu"}, ValueError, "reduce must be one of"),
        ({"on_nonfinite": "ignore"}, ValueError, "on_nonfinite must be one of"),
        ({"writer": object()}, TypeError, "writer"),
        ({"effective": "yes"}, TypeError, "effective"),
    ],
)
def test_monitors_validate_arguments_eagerly(kwargs, error, message):
    with pytest.raises(error, match=message):
        tb.GradMonitor(**kwargs)


def test_monitors_are_mxnet_monitors():
    for monitor in (tb.GradMonitor(), tb.WeightMonitor(), tb.ActivationMonitor()):
        assert isinstance(monitor, mx.monitor.Monitor)
        monitor.tic()
        assert monitor.toc() == []
        monitor.toc_print()
