"""tb.gluon.watch(doctor=...): the doctor's rules on a hand-written Gluon loop, judged on the training thread."""

from __future__ import annotations

import logging

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon
from sklearn.datasets import load_digits

import mxnet_tb as tb

from .test_doctor import fired, read_alerts, report

BATCH = 64


def batches(count: int = 10):
    digits = load_digits()
    data = (digits.images / 16.0).astype(np.float32).reshape(-1, 64)
    for i in range(count):
        yield mx.nd.array(data[i * BATCH : (i + 1) * BATCH]), mx.nd.array(digits.target[i * BATCH : (i + 1) * BATCH])


def dense_net(layers: int, act: str, hybridize: bool, init=None) -> gluon.nn.HybridSequential:
    net = gluon.nn.HybridSequential(prefix="net_")
    with net.name_scope():
        for _ in range(layers):
            net.add(gluon.nn.Dense(64, activation=act))
        net.add(gluon.nn.Dense(10))
    net.initialize(init or mx.init.Xavier())
    if hybridize:
        net.hybridize()
    return net


def loop(logdir, net, lr=0.1, count=10, **watch):
    writer = tb.SummaryWriter(str(logdir))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    with tb.gluon.watch(net, trainer, every=1, writer=writer, **watch) as handle:
        for data, label in batches(count):
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            trainer.step(BATCH)
            handle.log_metrics(loss=loss)
    writer.close()
    return read_alerts(logdir)


@pytest.mark.parametrize("hybridize", [False, True])
def test_a_deep_sigmoid_net_raises_vanishing_gradients_only(logdir, hybridize, caplog):
    caplog.set_level(logging.WARNING, logger="mxnet_tb.doctor")
    net = dense_net(10, "sigmoid", hybridize, init=mx.init.Uniform(0.07))
    alerts = loop(logdir, net, doctor=True, weights=True, activations=True)
    assert fired(alerts) == {"vanishing_gradients": 0}
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "mxnet_tb.doctor"]
    assert warning.startswith("mxnet_tb doctor: vanishing_gradients at step 0: grads/net_dense0_weight = ")
    assert "| vanishing_gradients | **alarm** | 0 |" in report(logdir)[0][1]


def test_a_dead_relu_layer_raises_dead_relu_only(logdir):
    net = dense_net(2, "relu", hybridize=False)
    net[1].bias.set_data(mx.nd.full((64,), -10.0))
    alerts = loop(logdir, net, doctor=True, weights=True, activations=True)
    assert fired(alerts) == {"dead_relu": 0}


def test_a_healthy_net_raises_nothing_and_the_alerts_have_one_point_per_batch(logdir):
    alerts = loop(logdir, dense_net(2, "relu", hybridize=True), doctor=True, weights=True, activations=True)
    assert fired(alerts) == {}
    assert [s for s, _ in alerts["exploding_tensors"]] == list(range(10))
    assert [s for s, _ in alerts["loss_not_decreasing"]] == list(range(10))


def test_on_alert_raise_stops_the_loop_at_the_step(logdir):
    net = dense_net(2, "relu", hybridize=False)
    net[1].bias.set_data(mx.nd.full((64,), -10.0))
    with pytest.raises(tb.DoctorAlert, match="dead_relu at step 0"):
        loop(logdir, net, doctor=tb.Doctor(on_alert="raise"), activations=True)


def test_doctor_must_be_a_bool_or_a_doctor(logdir):
    net = dense_net(1, "relu", hybridize=False)
    trainer = gluon.Trainer(net.collect_params(), "sgd")
    with pytest.raises(TypeError, match=r"doctor must be True, False, None or a tb\.Doctor"):
        tb.gluon.watch(net, trainer, doctor="yes")


class LogNet(gluon.nn.HybridBlock):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.fc0 = gluon.nn.Dense(16)
            self.out = gluon.nn.Dense(10)

    def hybrid_forward(self, F, x):
        return self.out(F.relu(F.log(self.fc0(x))))  # F.relu keeps NaN; the loss turns NaN


@pytest.mark.parametrize("hybridize", [False, True])
def test_the_nan_origin_of_a_gluon_net_is_its_log_node(logdir, hybridize, caplog):
    caplog.set_level(logging.WARNING, logger="mxnet_tb.doctor")
    net = LogNet(prefix="lognet_")
    net.initialize(mx.init.Xavier())
    if hybridize:
        net.hybridize()
    alerts = loop(logdir, net, count=3, doctor=True, activations=True)
    assert fired(alerts)["nonfinite_tensors"] == 0
    (message,) = [r.getMessage() for r in caplog.records if "nonfinite_tensors" in r.getMessage()]
    assert "at step 0, operator 'lognet_log0' (log) made " in message


def test_an_estimator_handler_with_a_doctor_judges_the_fit(logdir):
    from mxnet.gluon.contrib.estimator import Estimator

    net = dense_net(2, "relu", hybridize=True)
    net[1].bias.set_data(mx.nd.full((64,), -10.0))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    est = Estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(), train_metrics=mx.metric.Accuracy(), trainer=trainer)
    est.logger.setLevel(50)
    data = gluon.data.DataLoader(gluon.data.ArrayDataset(*[a.asnumpy() for a in next(batches(1))]), batch_size=16)
    handler = tb.gluon.EstimatorHandler(writer=tb.SummaryWriter(str(logdir)), every=1, activations=True, doctor=True)
    est.fit(data, epochs=2, event_handlers=[handler])
    handler._given_writer.close()
    alerts = read_alerts(logdir)
    assert fired(alerts) == {"dead_relu": 0}
    assert [s for s, _ in alerts["dead_relu"]] == list(range(8))


def test_an_estimator_handler_refuses_a_bad_doctor_at_once():
    with pytest.raises(TypeError, match="doctor must be"):
        tb.gluon.EstimatorHandler(doctor="on")


def test_a_learning_rate_of_100_raises_exploding_and_the_saturation_it_causes_is_explained(logdir):
    net = dense_net(2, "tanh", hybridize=True)
    alerts = loop(logdir, net, lr=100.0, count=10, doctor=True, weights=True, activations=True)
    assert fired(alerts) == {"exploding_tensors": 2}  # the weights the third batch used (after two updates)
    text = report(logdir)[-1][1]
    assert "| saturated_activation | explained by exploding_tensors |" in text
