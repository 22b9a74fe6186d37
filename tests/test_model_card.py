"""The model card: parameters and MACs per layer, checked against published figures and hand-computed formulas."""

import math

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon.model_zoo import vision

import mxnet_tb as tb
from mxnet_tb.cli import main
from mxnet_tb.summaries.graph import graph_def
from mxnet_tb.summaries.model_card import model_card

from . import mxnet_models as models
from .readback import accumulate, scalars, tensors

IMAGE = {"data": (1, 3, 224, 224)}


# -- published figures (architectures only: no weights are downloaded) ----------------------------------------


@pytest.mark.parametrize(
    ("name", "parameters", "macs"),
    [
        ("resnet50_v1", 25.6e6, 3.86e9),  # He et al. 2015: 3.8e9; Gluon's v1 strides in the first 1x1 conv
        ("resnet18_v1", 11.7e6, 1.82e9),
        ("vgg16", 138e6, 15.5e9),
    ],
)
def test_model_zoo_cards_match_the_published_parameters_and_macs(name, parameters, macs):
    card = model_card(vision.get_model(name), IMAGE)
    assert card.trainable_parameters == pytest.approx(parameters, rel=0.02)
    assert card.macs_per_sample == pytest.approx(macs, rel=0.02)
    assert card.unknown_ops == {}


def test_resnet50_parameters_are_exactly_what_mxnet_allocates():
    symbol = vision.resnet50_v1()(mx.sym.var("data"))
    arg_shapes, _, aux_shapes = symbol.infer_shape(**IMAGE)
    args = sum(math.prod(s) for n, s in zip(symbol.list_arguments(), arg_shapes) if n != "data")
    aux = sum(math.prod(s) for s in aux_shapes)
    card = model_card(symbol, IMAGE)
    assert (card.trainable_parameters, card.all_parameters) == (args, args + aux) == (25_575_912, 25_629_032)
    assert card.auxiliary_states == aux == 53_120  # BatchNorm running mean and variance


def test_parameters_match_the_arrays_of_a_bound_module_and_of_a_gluon_block():
    symbol = models.cnn_symbol(batchnorm=True)
    mod = mx.mod.Module(symbol)
    mod.bind(data_shapes=[("data", (16, 1, 8, 8))], label_shapes=[("softmax_label", (16,))])
    mod.init_params()
    args, aux = mod.get_params()
    card = model_card(symbol, {"data": (16, 1, 8, 8)})
    assert card.trainable_parameters == sum(a.size for a in args.values())
    assert card.all_parameters == card.trainable_parameters + sum(a.size for a in aux.values())

    net = vision.resnet18_v1()
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))  # parameters get their shapes; MXNet allocates them
    params = net.collect_params().values()
    card = model_card(net, IMAGE)
    assert card.trainable_parameters == sum(p.data().size for p in params if p.grad_req != "null")
    assert card.all_parameters == sum(p.data().size for p in params)


# -- formulas, by hand --------------------------------------------------------------------------------------


def _layer(card, op):
    return next(layer for layer in card.layers if layer.op == op)


def test_grouped_dilated_strided_convolution():
    data = mx.sym.var("data")
    net = mx.sym.Convolution(data, kernel=(3, 3), stride=(2, 2), dilate=(2, 2), pad=(2, 2), num_filter=16,
                             num_group=8, name="dw")  # fmt: skip
    card = model_card(net, {"data": (2, 8, 10, 10)})
    conv = _layer(card, "Convolution")
    # output side: (10 + 2*2 - (2*(3-1)+1)) // 2 + 1 = 5; each output reads 8/8 channels x 3x3
    assert conv.output_shapes == ((2, 16, 5, 5),)
    assert conv.macs == 16 * 5 * 5 * 1 * 9
    assert conv.flops == 2 * conv.macs + 16 * 5 * 5  # and the bias
    assert conv.parameters == 16 * 1 * 9 + 16
    assert conv.output_bytes == 2 * 16 * 5 * 5 * 4


def test_deconvolution_scatters_every_input_element_over_its_kernel():
    net = mx.sym.Deconvolution(mx.sym.var("data"), kernel=(3, 3), stride=(2, 2), num_filter=6, num_group=2)
    card = model_card(net, {"data": (1, 4, 5, 5)})
    assert _layer(card, "Deconvolution").macs == 4 * 5 * 5 * (6 // 2) * 9
    assert card.trainable_parameters == 4 * (6 // 2) * 9  # no bias by default


def test_fully_connected_without_flatten_and_per_sample_division():
    net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=5, flatten=False)
    one, four = model_card(net, {"data": (1, 7, 10)}), model_card(net, {"data": (4, 7, 10)})
    assert one.macs_per_sample == four.macs_per_sample == 7 * 10 * 5
    assert four.flops_per_sample == 2 * 7 * 10 * 5 + 7 * 5


def test_lstm_counts_every_layer_direction_and_gate():
    lstm = mx.gluon.rnn.LSTM(20, num_layers=2, bidirectional=True)
    card = model_card(lstm, {"data": (5, 3, 10)}, batch_size=3)  # time-major: T=5, N=3, C=10
    per_step = 2 * 4 * 20 * (10 + 20) + 2 * 4 * 20 * (2 * 20 + 20)  # layer 0, layer 1 (input: both directions)
    assert card.macs_per_sample == 5 * per_step
    symbol = lstm(mx.sym.var("data"))
    arg_shapes, _, _ = symbol.infer_shape(data=(5, 3, 10))
    assert card.trainable_parameters == sum(math.prod(s) for s in arg_shapes[1:])


def test_pooling_batchnorm_and_elementwise_flops():
    data = mx.sym.var("data")
    bn = mx.sym.BatchNorm(data, name="bn")
    pool = mx.sym.Pooling(bn, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool")
    gpool = mx.sym.Pooling(pool, global_pool=True, kernel=(1, 1), pool_type="avg", name="gpool")
    net = mx.sym.elemwise_add(gpool, gpool, name="add")
    card = model_card(net, {"data": (1, 3, 8, 8)})
    flops = {layer.name: layer.flops for layer in card.layers}
    assert flops == {"bn": 2 * 3 * 64, "pool": 3 * 16 * 4, "gpool": 3 * 16, "add": 3}
    assert card.macs_per_sample == 0
    assert (card.trainable_parameters, card.auxiliary_states) == (6, 6)


def test_unknown_operators_count_zero_and_are_listed_by_name():
    net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=4, name="fc")
    net = mx.sym.sort(mx.sym.sort(net, name="sort0"), name="sort1")
    card = model_card(net, {"data": (1, 3)})
    assert card.unknown_ops == {"sort": 2}
    assert card.macs_per_sample == 12
    text = card.markdown()
    assert "**Counted as 0, no formula for:** `sort` ×2" in text
    assert "| 1 | sort0 | sort | 1×4 | 0 | ? | ? (unknown op) | 16 B |" in text
    nodes = {n.name: n for n in graph_def(net, {"data": (1, 3)}).node}
    assert nodes["sort0"].attr["cost"].s == b"unknown: no formula for sort, counted as 0"
    assert "macs_per_sample" not in nodes["sort0"].attr


def test_graph_nodes_carry_the_card_figures():
    symbol = models.cnn_symbol(batchnorm=True)
    shapes = {"data": (2, 1, 8, 8)}
    card = model_card(symbol, shapes)
    nodes = {n.name: n for n in graph_def(symbol, shapes).node}
    for layer in card.layers:
        attr = nodes[layer.name].attr
        assert attr["output_bytes"].i == layer.output_bytes
        assert attr["macs_per_sample"].i == layer.macs
        assert attr["parameters"].i == layer.parameters if layer.parameters else "parameters" not in attr
    assert nodes["conv0"].attr["macs_per_sample"].i == 4 * 6 * 6 * 9
    assert "macs_per_sample" not in nodes["conv0/weight"].attr  # variables keep MXNet's attributes only


def test_card_needs_shapes_and_a_positive_batch_size():
    symbol = models.cnn_symbol()
    with pytest.raises(TypeError, match="shapes are required"):
        model_card(symbol, None)
    with pytest.raises(ValueError, match="batch_size must be a positive int; got 0"):
        model_card(symbol, {"data": (2, 1, 8, 8)}, batch_size=0)
    with pytest.raises(ValueError, match="not an input of the network"):
        model_card(symbol, {"image": (2, 1, 8, 8)})


# -- written to TensorBoard ---------------------------------------------------------------------------------


def test_tb_model_card_writes_the_table_and_scalars(logdir):
    with tb.SummaryWriter(logdir) as sw:
        card = tb.model_card(models.cnn_symbol(batchnorm=True), {"data": (16, 1, 8, 8)}, writer=sw, step=3)
    assert (card.trainable_parameters, card.all_parameters) == (4 * 9 + 4 + 8 + 144 * 2 + 2, 338 + 8)
    assert scalars(logdir, "model/parameters") == [(3, 346.0)]
    assert scalars(logdir, "model/trainable_parameters") == [(3, 338.0)]
    assert scalars(logdir, "model/macs_per_sample") == [(3, card.macs_per_sample)]
    assert card.macs_per_sample == 4 * 36 * 9 + 144 * 2
    ((step, text),) = tensors(logdir, "model_card")
    text = text.item().decode()
    assert step == 3 and text == card.markdown()
    assert "**Parameters** 338 trainable, 346 in all" in text
    assert "| 0 | conv0 | Convolution | 16×4×6×6 | 40 | 1.3 k | 2.74 k | 9.22 kB |" in text  # 4·36·9 MACs


def test_bad_shapes_write_nothing(logdir):
    sw = tb.SummaryWriter(logdir)
    with pytest.raises(ValueError, match="do not fit the network"):
        tb.model_card(models.cnn_symbol(), {"data": (2, 1, 2, 2)}, writer=sw)
    sw.close()
    assert accumulate(logdir).Tags()["tensors"] == []


def test_params_callback_writes_the_card_once_at_training_start(logdir):
    sw = tb.SummaryWriter(logdir)
    models.fit(models.module(), num_epoch=2, epoch_end_callback=tb.params(images=(), writer=sw))
    sw.close()
    assert scalars(logdir, "model/parameters") == [(0, 4 * 9 + 4 + 144 * 2 + 2)]
    assert [step for step, _ in tensors(logdir, "model_card")] == [0]


def test_graph_command_writes_the_card(tmp_path):
    prefix = str(tmp_path / "resnet18")
    symbol = vision.resnet18_v1()(mx.sym.var("data"))
    symbol.save(f"{prefix}-symbol.json")
    logdir = tmp_path / "logs"
    assert main(["graph", f"{prefix}-symbol.json", "--shape", "data=1,3,224,224", "--logdir", str(logdir)]) == 0
    (value,) = [v for _, v in scalars(logdir / "resnet18", "model/parameters")]
    assert value == np.float32(11_699_112)  # every scalar is a float32 in TensorBoard; exact in the text
    ((_, text),) = tensors(logdir / "resnet18", "model_card")
    assert "**Parameters** 11,689,512 trainable, 11,699,112 in all" in text.item().decode()
