"""``tb.params`` shows the filters of a real net's first convolution, whatever elementwise or normalisation
operators come before it (ResNet puts ``identity`` and ``BatchNorm`` on the data), and no later convolution."""

import mxnet as mx
import numpy as np
import pytest

import mxnet_tb as tb
from mxnet_tb._training.parameters import first_layer_convolutions

from .readback import accumulate


def _resnet_like(mean_subtraction=False):
    """The stem and one residual unit as MXNet's ``image-classification/symbols/resnet.py`` builds them."""
    data = mx.sym.var("data")
    net = mx.sym.identity(data, name="id")
    if mean_subtraction:
        net = mx.sym.broadcast_sub(net, mx.sym.var("mean", shape=(1, 3, 1, 1), init=mx.init.Zero()))
    net = mx.sym.BatchNorm(net, fix_gamma=True, eps=2e-5, name="bn_data")
    body = mx.sym.Convolution(net, num_filter=4, kernel=(3, 3), pad=(1, 1), no_bias=True, name="conv0")
    body = mx.sym.Activation(mx.sym.BatchNorm(body, name="bn0"), act_type="relu", name="relu0")
    unit = mx.sym.Convolution(body, num_filter=4, kernel=(3, 3), pad=(1, 1), no_bias=True, name="unit1_conv1")
    body = body + mx.sym.Activation(mx.sym.BatchNorm(unit, name="unit1_bn1"), act_type="relu")
    pool = mx.sym.Pooling(body, global_pool=True, kernel=(8, 8), pool_type="avg", name="pool1")
    net = mx.sym.FullyConnected(mx.sym.flatten(pool), num_hidden=2, name="fc1")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def _param_shapes(symbol, data_shape):
    shapes, _, _ = symbol.infer_shape(data=data_shape)
    return {n: s for n, s in zip(symbol.list_arguments(), shapes) if n not in ("data", "softmax_label")}


@pytest.mark.parametrize("mean_subtraction", [False, True], ids=["identity-batchnorm", "mean-subtraction"])
def test_a_resnet_like_symbols_first_convolution_is_found_through_identity_and_batchnorm(mean_subtraction):
    symbol = _resnet_like(mean_subtraction)
    assert first_layer_convolutions(symbol, _param_shapes(symbol, (2, 3, 8, 8))) == ["conv0_weight"]


@pytest.mark.parametrize(("model", "expected"), [("resnet18_v2", "resnetv20_conv0_weight"),
                                                  ("resnet18_v1", "resnetv10_conv0_weight")])  # fmt: skip
def test_model_zoo_resnets_have_one_first_layer(model, expected):
    net = mx.gluon.model_zoo.vision.get_model(model, pretrained=False)  # the architecture only, no download
    symbol = net(mx.sym.var("data"))
    assert first_layer_convolutions(symbol, _param_shapes(symbol, (1, 3, 224, 224))) == [expected]


def test_a_convolution_after_a_residual_sum_with_the_data_is_not_a_first_layer():
    data = mx.sym.var("data")
    stem = mx.sym.Convolution(data, num_filter=3, kernel=(1, 1), name="stem")
    mixed = mx.sym.Convolution(data + stem, num_filter=3, kernel=(3, 3), name="mixed")
    assert first_layer_convolutions(mixed, _param_shapes(mixed, (1, 3, 8, 8))) == ["stem_weight"]


def test_params_callback_logs_the_resnet_stems_filters_in_a_real_fit(logdir):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 32).astype(np.float32)
    images = rng.standard_normal((32, 3, 8, 8)).astype(np.float32) + labels[:, None, None, None]
    train = mx.io.NDArrayIter(images, labels, batch_size=8)
    sw = tb.SummaryWriter(logdir)
    mod = mx.mod.Module(_resnet_like(), context=mx.cpu())
    mod.fit(train, num_epoch=2, optimizer_params={"learning_rate": 0.05},
            batch_end_callback=tb.scalars(writer=sw), epoch_end_callback=tb.params(writer=sw))  # fmt: skip
    sw.close()
    acc = accumulate(logdir)
    assert [t for t in acc.Tags()["tensors"] if "/filters/" in t] == ["weights/filters/conv0_weight"]
    images = acc.Tensors("weights/filters/conv0_weight")
    assert [e.step for e in images] == [3, 7]  # the last batch of each epoch
