"""tb.Doctor on real Module training: each badly set-up run raises exactly its alert, at its step; a healthy one none.

Every run is read back with TensorBoard's own loader: ``alerts/<rule>`` scalars (one per judged step), the
``doctor`` TEXT report, and the warnings on the ``mxnet_tb.doctor`` logger.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
from sklearn.datasets import load_digits
from tensorboard.plugins.hparams import api_pb2, metadata
from tensorboard.util import tensor_util

import mxnet_tb as tb
from mxnet_tb._doctor.rules import RULES

from .readback import accumulate

BATCH = 64


def digits_iter(samples: int = 640, flat: bool = True, regression: bool = False) -> mx.io.NDArrayIter:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:samples]
    data = images.reshape(len(images), -1) if flat else images[:, None]
    labels = digits.target[:samples].astype(np.float32)
    if regression:
        labels = labels[:, None]
    return mx.io.NDArrayIter(data, labels, BATCH, shuffle=False, last_batch_handle="discard")


def mlp(layers: int, act: str, hidden: int = 64) -> mx.sym.Symbol:
    net = mx.sym.var("data")
    for i in range(layers):
        net = mx.sym.FullyConnected(net, num_hidden=hidden, name=f"fc{i}")
        net = mx.sym.Activation(net, act_type=act, name=f"{act}{i}")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=10, name="out"), name="softmax")


def train(logdir, symbol, *, lr, epochs=1, init=None, arg_params=None, data=None, metric=("acc", "ce"), **doctor):
    writer = tb.SummaryWriter(str(logdir))
    mod = mx.mod.Module(symbol, context=mx.cpu(), label_names=[symbol.list_arguments()[-1]])
    try:
        mod.fit(
            data or digits_iter(),
            num_epoch=epochs,
            eval_metric=list(metric),
            initializer=init or mx.init.Xavier(),
            optimizer="sgd",
            optimizer_params={"learning_rate": lr},
            monitor=tb.Doctor(doctor.pop("interval", 1), writer=writer, **doctor),
            batch_end_callback=tb.scalars(writer=writer),
            arg_params=arg_params,
            allow_missing=True,
        )
    finally:
        writer.close()
    return read_alerts(logdir)


def read_alerts(logdir) -> dict[str, list[tuple[int, float]]]:
    acc = accumulate(str(logdir))
    return {
        tag.split("/", 1)[1]: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
        for tag in acc.Tags()["tensors"]
        if tag.startswith("alerts/")
    }


def fired(alerts: dict[str, list[tuple[int, float]]]) -> dict[str, int]:
    """Each rule that counted a tensor, with the first step it did."""
    return {rule: next(step for step, n in points if n) for rule, points in alerts.items() if any(n for _, n in points)}


def report(logdir) -> list[tuple[int, str]]:
    acc = accumulate(str(logdir))
    return [(e.step, tensor_util.make_ndarray(e.tensor_proto).item().decode()) for e in acc.Tensors("doctor")]


@pytest.fixture
def warnings(caplog):
    caplog.set_level(logging.WARNING, logger="mxnet_tb.doctor")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "mxnet_tb.doctor"]


def test_a_deep_sigmoid_mlp_raises_vanishing_gradients_only(logdir, warnings):
    alerts = train(logdir, mlp(10, "sigmoid"), lr=0.1, init=mx.init.Uniform(0.07))
    assert fired(alerts) == {"vanishing_gradients": 0}
    assert set(alerts) == set(RULES)
    assert [step for step, _ in alerts["dead_relu"]] == list(range(10))  # one point per judged batch, every rule
    (message,) = warnings()
    assert message.startswith("mxnet_tb doctor: vanishing_gradients at step 0: grads/fc0_weight = ")
    assert "Likely fix" in message and "initializer" in message
    (step, text), *later = report(logdir)
    assert step == 0 and "| vanishing_gradients | **alarm** | 0 |" in text
    assert later and "| update_ratio | explained by vanishing_gradients |" in later[-1][1]  # tiny updates: a symptom


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # MXNet's own MSE metric, diverging
def test_a_learning_rate_of_100_raises_exploding_and_nan(logdir, warnings):
    net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=32, name="fc0")
    net = mx.sym.FullyConnected(mx.sym.Activation(net, act_type="tanh", name="tanh0"), num_hidden=1, name="out")
    symbol = mx.sym.LinearRegressionOutput(net, name="softmax")  # the label NDArrayIter names softmax_label
    alerts = train(logdir, symbol, lr=100.0, data=digits_iter(regression=True), metric=("mse",), activations=False)
    first = fired(alerts)
    assert set(first) == {"exploding_tensors", "nonfinite_tensors", "nonfinite_loss"}
    assert first["exploding_tensors"] <= first["nonfinite_tensors"]
    rules = [m.split(" at step")[0].removeprefix("mxnet_tb doctor: ") for m in warnings()]
    assert sorted(rules) == ["exploding_tensors", "nonfinite_loss", "nonfinite_tensors"]


def test_a_relu_layer_with_bias_minus_10_raises_dead_relu_only(logdir, warnings):
    symbol = mlp(2, "relu")
    alerts = train(logdir, symbol, lr=0.1, arg_params={"fc1_bias": mx.nd.full((64,), -10.0)})
    assert fired(alerts) == {"dead_relu": 0}
    (message,) = warnings()
    assert "dead_relu at step 0: activations/relu1_output = 1" in message


def test_a_constant_loss_raises_loss_not_decreasing_when_two_windows_are_in(logdir, warnings):
    alerts = train(logdir, mlp(2, "relu"), lr=0.0, epochs=5)  # 50 batches, nothing learns; judged every batch
    window = tb.Doctor().thresholds.loss_window
    assert fired(alerts) == {"loss_not_decreasing": 2 * window - 1}
    (message,) = warnings()
    assert message.startswith(f"mxnet_tb doctor: loss_not_decreasing at step {2 * window - 1}: loss = ")


def test_a_changed_threshold_changes_the_verdict(logdir):
    alerts = train(
        logdir, mlp(10, "sigmoid"), lr=0.1, init=mx.init.Uniform(0.07), vanishing_rms=1e-13, vanishing_ratio=1e-13
    )
    assert "vanishing_gradients" not in fired(alerts)


@pytest.mark.slow
def test_the_healthy_digits_cnn_demo_raises_no_alert(logdir, monkeypatch, warnings):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "module_api"))
    import train_digits

    train_digits.train(str(logdir), epochs=8)
    alerts = read_alerts(logdir)
    assert set(alerts) == set(RULES) and len(alerts["vanishing_gradients"]) > 30
    assert fired(alerts) == {} and warnings() == []
    ((_, text),) = report(logdir)
    assert text.startswith("No rule has fired")


def test_on_alert_raise_stops_training_at_the_step_with_the_same_text_and_the_session_fails(logdir):
    writer = tb.SummaryWriter(str(logdir))
    writer.add_hparams({"lr": 0.1}, {})
    mod = mx.mod.Module(mlp(2, "relu"), context=mx.cpu())
    batches = []
    with pytest.raises(tb.DoctorAlert) as raised:
        mod.fit(
            digits_iter(),
            num_epoch=1,
            initializer=mx.init.Xavier(),
            arg_params={"fc1_bias": mx.nd.full((64,), -10.0)},
            allow_missing=True,
            monitor=tb.Doctor(2, writer=writer, on_alert="raise"),
            batch_end_callback=lambda param: batches.append(param.nbatch),
        )
    assert raised.value.rule == "dead_relu" and raised.value.step == 0
    assert str(raised.value).startswith("dead_relu at step 0: activations/relu1_output = 1")
    assert batches == []  # stopped in the first batch, before its update
    writer.close()
    acc = accumulate(str(logdir))
    end = metadata.parse_session_end_info_plugin_data(
        acc.SummaryMetadata(metadata.SESSION_END_INFO_TAG).plugin_data.content
    )
    assert end.status == api_pb2.STATUS_FAILURE
    assert [(s, n) for s, n in read_alerts(logdir)["dead_relu"]] == [(0, 1.0)]


def test_a_run_that_ends_normally_ends_its_session_as_success(logdir):
    writer = tb.SummaryWriter(str(logdir))
    writer.add_hparams({"lr": 0.1}, {})
    mod = mx.mod.Module(mlp(1, "relu"), context=mx.cpu())
    mod.fit(digits_iter(128), num_epoch=1, monitor=tb.Doctor(1, writer=writer, on_alert="raise"))
    writer.close()
    acc = accumulate(str(logdir))
    end = metadata.parse_session_end_info_plugin_data(
        acc.SummaryMetadata(metadata.SESSION_END_INFO_TAG).plugin_data.content
    )
    assert end.status == api_pb2.STATUS_SUCCESS


@pytest.mark.parametrize(
    ("options", "error", "text"),
    [
        ({"vanishing_rms": -1.0}, ValueError, "vanishing_rms must be a positive finite number"),
        ({"vanishing_rm": 1e-7}, TypeError, "unknown threshold"),
        ({"update_ratio_band": (1e-2, 1e-6)}, ValueError, "low < high"),
        ({"loss_pattern": "("}, ValueError, "not a valid regular expression"),
        ({"dead_fraction": 2.0}, ValueError, "must be <= 1"),
        ({"on_alert": "stop"}, ValueError, "on_alert must be one of"),
        ({"interval": 0}, ValueError, "interval"),
        ({"activations": "yes"}, TypeError, "activations must be a bool"),
    ],
)
def test_bad_options_are_refused_by_name(options, error, text):
    with pytest.raises(error, match=text):
        tb.Doctor(**options)


@pytest.mark.parametrize("hidden", [True, False], ids=["relu-hides-it", "nan-reaches-the-loss"])
def test_the_nan_origin_is_the_log_of_a_negative_input_also_when_a_later_relu_hides_it(logdir, warnings, hidden):
    net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=16, name="fc0")  # Xavier: negative outputs
    net = mx.sym.log(net, name="log0")
    net = mx.sym.Activation(net, act_type="relu", name="relu0") if hidden else net
    symbol = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=10, name="out"), name="softmax")
    alerts = train(logdir, symbol, lr=0.1, interval=2)
    assert fired(alerts)["nonfinite_tensors"] == 0
    (message,) = [m for m in warnings() if "nonfinite_tensors" in m]
    assert "at step 0, operator 'log0' (log) made " in message and "from finite inputs: fc0_output in [" in message
    assert "Where the first NaN/Inf came from: at step 0, operator 'log0' (log)" in report(logdir)[-1][1]


def test_the_weights_copied_for_the_rules_are_reduced_at_once_not_when_the_writer_flushes(logdir):
    import time

    writer = tb.SummaryWriter(str(logdir), flush_secs=600)  # nothing is written until close
    doctor = tb.Doctor(1, writer=writer)
    mod = mx.mod.Module(mlp(2, "relu"), context=mx.cpu())
    mod.fit(digits_iter(256), num_epoch=1, initializer=mx.init.Xavier(), monitor=doctor)
    pending = [future for _, future in doctor.judge._deferred]
    deadline = time.monotonic() + 10
    while not all(future.done() for future in pending) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pending and all(future.done() for future in pending)  # their device copies are let go
    writer.close()
    assert [s for s, _ in read_alerts(logdir)["exploding_tensors"]] == [0, 1, 2, 3]


def test_a_doctor_given_a_writer_creates_no_default_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default writer would make runs/<date>_<time>_<host> here
    logdir = tmp_path / "mine"
    train(logdir, mlp(1, "relu"), lr=0.1, data=digits_iter(128))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
