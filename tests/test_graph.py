"""Network graphs: the GraphDef builder, ``SummaryWriter.add_graph``, and a real TensorBoard server serving them."""

from __future__ import annotations

import json

import mxnet as mx
import numpy as np
import pytest
from google.protobuf import text_format
from mxnet import gluon
from mxnet.gluon import nn
from mxnet.gluon.model_zoo import vision
from tensorboard.compat.proto import graph_pb2

from mxnet_tb import SummaryWriter, WriterClosedError
from mxnet_tb.summaries.graph import graph_def

from .readback import event_files, load_events
from .tb_server import tensorboard_server

RESNET_SHAPES = {"data": (1, 3, 224, 224)}


# -- helpers ------------------------------------------------------------------------------------------------


def small_symbol() -> mx.sym.Symbol:
    """conv -> batchnorm -> split in two -> relu(first) + second -> flatten -> fc -> softmax, with a label."""
    data = mx.sym.var("data")
    label = mx.sym.var("softmax_label")
    conv = mx.sym.Convolution(data, kernel=(3, 3), num_filter=8, pad=(1, 1), name="conv0")
    bn = mx.sym.BatchNorm(conv, fix_gamma=False, eps=1e-5, name="bn0")
    halves = mx.sym.SliceChannel(bn, num_outputs=2, name="split")
    relu = mx.sym.Activation(halves[0], act_type="relu", name="relu0")
    added = mx.sym.elemwise_add(relu, halves[1], name="add0")
    flat = mx.sym.flatten(added, name="flat0")
    fc = mx.sym.FullyConnected(flat, num_hidden=10, name="fc")
    return mx.sym.SoftmaxOutput(fc, label, name="softmax")


SMALL_NODES = [
    ("data", "Input", []),
    ("conv0/weight", "Parameter", []),
    ("conv0/bias", "Parameter", []),
    ("conv0", "Convolution", ["data", "conv0/weight", "conv0/bias"]),
    ("bn0/gamma", "Parameter", []),
    ("bn0/beta", "Parameter", []),
    ("bn0/moving_mean", "AuxiliaryState", []),
    ("bn0/moving_var", "AuxiliaryState", []),
    ("bn0", "BatchNorm", ["conv0", "bn0/gamma", "bn0/beta", "bn0/moving_mean", "bn0/moving_var"]),
    ("split", "SliceChannel", ["bn0"]),
    ("relu0", "Activation", ["split"]),
    ("add0", "elemwise_add", ["relu0", "split:1"]),
    ("flat0", "Flatten", ["add0"]),
    ("fc/weight", "Parameter", []),
    ("fc/bias", "Parameter", []),
    ("fc", "FullyConnected", ["flat0", "fc/weight", "fc/bias"]),
    ("softmax_label", "Input", []),
    ("softmax", "SoftmaxOutput", ["fc", "softmax_label"]),
]

SMALL_SHAPES = {  # with data (2, 3, 4, 4)
    "data": [[2, 3, 4, 4]],
    "conv0/weight": [[8, 3, 3, 3]],
    "conv0/bias": [[8]],
    "conv0": [[2, 8, 4, 4]],
    "bn0/gamma": [[8]],
    "bn0/beta": [[8]],
    "bn0/moving_mean": [[8]],
    "bn0/moving_var": [[8]],
    "bn0": [[2, 8, 4, 4]],
    "split": [[2, 4, 4, 4], [2, 4, 4, 4]],
    "relu0": [[2, 4, 4, 4]],
    "add0": [[2, 4, 4, 4]],
    "flat0": [[2, 64]],
    "fc/weight": [[10, 64]],
    "fc/bias": [[10]],
    "fc": [[2, 10]],
    "softmax_label": [[2]],
    "softmax": [[2, 10]],
}


def nodes_of(graph: graph_pb2.GraphDef) -> list[tuple[str, str, list[str]]]:
    return [(n.name, n.op, list(n.input)) for n in graph.node]


def shapes_of(graph: graph_pb2.GraphDef) -> dict[str, list[list[int]]]:
    """``{node: [[dims of output 0], [dims of output 1], ...]}`` from ``_output_shapes``; [] when absent."""
    return {
        n.name: [[d.size for d in shape.dim] for shape in n.attr["_output_shapes"].list.shape]
        if "_output_shapes" in n.attr
        else []
        for n in graph.node
    }


def mxnet_node_count(symbol: mx.sym.Symbol) -> int:
    return len(json.loads(symbol.tojson())["nodes"])


def small_block() -> nn.HybridSequential:
    net = nn.HybridSequential(prefix="net_")
    with net.name_scope():
        net.add(nn.Conv2D(4, 3), nn.BatchNorm(), nn.Activation("relu"), nn.Dense(3))
    return net


@pytest.fixture(scope="module")
def resnet50() -> nn.HybridBlock:
    with mx.name.NameManager():  # Gluon counts model prefixes per process: a fresh count keeps it "resnetv10_"
        return vision.resnet50_v1(pretrained=False)


@pytest.fixture(scope="module")
def resnet152() -> nn.HybridBlock:
    with mx.name.NameManager():
        return vision.resnet152_v1(pretrained=False)


# -- small symbols ------------------------------------------------------------------------------------------


def test_small_symbol_exact_nodes_ops_and_inputs():
    graph = graph_def(small_symbol())
    assert nodes_of(graph) == SMALL_NODES
    assert all("_output_shapes" not in n.attr for n in graph.node)  # no shapes asked for


def test_small_symbol_shapes_for_every_output_of_every_node():
    graph = graph_def(small_symbol(), shapes={"data": (2, 3, 4, 4)})
    assert nodes_of(graph) == SMALL_NODES
    assert shapes_of(graph) == SMALL_SHAPES


def test_shapes_as_name_shape_pairs_like_module_data_shapes():
    by_dict = graph_def(small_symbol(), shapes={"data": (2, 3, 4, 4)})
    by_pairs = graph_def(small_symbol(), shapes=[("data", (2, 3, 4, 4))])
    by_desc = graph_def(small_symbol(), shapes=[mx.io.DataDesc("data", (2, 3, 4, 4))])
    assert by_pairs == by_dict and by_desc == by_dict


COST_ATTRS = {"macs_per_sample", "flops_per_sample", "parameters", "output_bytes"}  # test_model_card.py


def test_every_mxnet_attribute_becomes_one_typed_attribute():
    graph = graph_def(small_symbol(), shapes={"data": (2, 3, 4, 4)})
    nodes = {n.name: n for n in graph.node}
    conv = nodes["conv0"].attr
    assert set(conv) - COST_ATTRS == {"kernel", "num_filter", "pad", "_output_shapes"}
    assert list(conv["kernel"].list.i) == [3, 3] and list(conv["pad"].list.i) == [1, 1]
    assert conv["num_filter"].WhichOneof("value") == "i" and conv["num_filter"].i == 8
    bn = nodes["bn0"].attr
    assert set(bn) - COST_ATTRS == {"eps", "fix_gamma", "_output_shapes"}
    assert bn["eps"].WhichOneof("value") == "f" and bn["eps"].f == np.float32(1e-5)
    assert bn["fix_gamma"].WhichOneof("value") == "b" and bn["fix_gamma"].b is False
    assert nodes["relu0"].attr["act_type"].s == b"relu"
    assert nodes["split"].attr["num_outputs"].i == 2
    assert set(nodes["add0"].attr) - COST_ATTRS == {"_output_shapes"}
    # MXNet copies the operator's attributes onto the variables it creates, and adds initializers.
    assert set(nodes["bn0/moving_mean"].attr) == {"__init__", "eps", "fix_gamma", "_output_shapes"}
    assert nodes["bn0/moving_mean"].attr["__init__"].s == b'["zero", {}]'


def test_attribute_types_ints_floats_bools_lists_and_strings():
    data = mx.sym.var("data")
    sliced = mx.sym.slice(data, begin=(0, None), end=(2, None), name="cut")
    reshaped = mx.sym.reshape(sliced, shape=(-1, 0), name="flat")
    pooled = mx.sym.Pooling(reshaped, global_pool=True, kernel=(1, 1), pool_type="avg", name="pool")
    dropped = mx.sym.Dropout(pooled, p=0.5, name="drop")
    summed = mx.sym.sum(dropped, axis=(), name="total")
    prior = mx.sym.contrib.MultiBoxPrior(summed, sizes=(0.5, 0.25), name="prior")
    extra = {"__big__": "99999999999999999999", "__mixed__": "(1, None)", "__nested__": "[(1, 2)]"}
    extra |= {"__one__": "(7,)", "__word__": "None", "__lr_mult__": "1.5", "__inf__": "-inf"}
    weird = mx.sym.var("w", attr=extra)
    graph = graph_def(mx.sym.Group([prior, weird]))
    attr = {n.name: n.attr for n in graph.node}
    assert attr["cut"]["begin"].s == b"(0, None)"
    assert list(attr["flat"]["shape"].list.i) == [-1, 0]
    assert attr["pool"]["global_pool"].b is True and attr["pool"]["pool_type"].s == b"avg"
    assert attr["drop"]["p"].f == 0.5
    assert attr["total"]["axis"].HasField("list") and list(attr["total"]["axis"].list.i) == []
    assert list(attr["prior"]["sizes"].list.f) == [0.5, 0.25]
    w = attr["w"]
    assert w["__big__"].s == b"99999999999999999999"  # beyond int64: kept as text
    assert w["__mixed__"].s == b"(1, None)" and w["__nested__"].s == b"[(1, 2)]"
    assert list(w["__one__"].list.i) == [7] and w["__word__"].s == b"None"
    assert w["__lr_mult__"].f == 1.5 and w["__inf__"].f == float("-inf")


def test_multi_output_edges_keep_their_output_index_and_grouped_outputs_convert():
    data = mx.sym.var("data")
    parts = mx.sym.split(data, num_outputs=3, axis=1, name="parts")
    third = mx.sym.Activation(parts[2], act_type="tanh", name="tanh")
    second = mx.sym.Activation(parts[1], act_type="relu", name="relu")
    grouped = mx.sym.Group([third, parts[0], second])
    graph = graph_def(grouped, shapes={"data": (2, 6)})
    assert nodes_of(graph) == [
        ("data", "Input", []),
        ("parts", "SliceChannel", ["data"]),
        ("tanh", "Activation", ["parts:2"]),
        ("relu", "Activation", ["parts:1"]),
    ]
    assert shapes_of(graph) == {
        "data": [[2, 6]],
        "parts": [[2, 2], [2, 2], [2, 2]],
        "tanh": [[2, 2]],
        "relu": [[2, 2]],
    }


def test_grouped_outputs_keep_the_node_set():
    net = small_symbol()
    grouped = mx.sym.Group([net, net.get_internals()["split_output1"], net.get_internals()["fc_output"]])
    graph = graph_def(grouped, shapes={"data": (2, 3, 4, 4)})
    assert sorted(nodes_of(graph)) == sorted(SMALL_NODES)
    assert shapes_of(graph) == SMALL_SHAPES


def test_shared_prefixes_fold_into_nested_scopes():
    data = mx.sym.var("data")
    x = mx.sym.Convolution(data, kernel=(1, 1), num_filter=2, name="stage1_unit1_conv1")
    x = mx.sym.Activation(x, act_type="relu", name="stage1_unit1_relu1")
    x = mx.sym.Convolution(x, kernel=(1, 1), num_filter=2, no_bias=True, name="stage1_unit2_conv1")
    x = mx.sym.Activation(x, act_type="relu", name="conv_1")  # "_1": a counter, not a scope
    x = mx.sym.Activation(x, act_type="relu", name="conv_2")
    graph = graph_def(x)
    assert [n.name for n in graph.node] == [
        "data",
        "stage1/unit1/conv1/weight",
        "stage1/unit1/conv1/bias",
        "stage1/unit1/conv1",
        "stage1/unit1/relu1",
        "stage1/unit2_conv1/weight",  # unit2 holds one layer only: no scope of its own
        "stage1/unit2_conv1",
        "conv_1",
        "conv_2",
    ]


def test_names_stay_unique_and_parseable():
    a = mx.sym.var("a:b")
    first = mx.sym.Activation(a, act_type="relu", name="same")
    second = mx.sym.Activation(first, act_type="relu", name="same")
    graph = graph_def(second)
    assert nodes_of(graph) == [
        ("a_b", "Input", []),
        ("same", "Activation", ["a_b"]),
        ("same_1", "Activation", ["same"]),
    ]


def test_variables_named_after_no_consumer_stay_inputs():
    data = mx.sym.var("data")
    weight = mx.sym.var("shared_weight")
    fc = mx.sym.FullyConnected(data, weight=weight, num_hidden=3, no_bias=True, name="fc")
    label = mx.sym.var("fc_label")  # named after its consumer, but a label
    out = mx.sym.LinearRegressionOutput(fc, label, name="fc_out")
    graph = graph_def(out, shapes={"data": (4, 5)})
    assert nodes_of(graph) == [
        ("data", "Input", []),
        ("shared_weight", "Input", []),
        ("fc", "FullyConnected", ["data", "shared_weight"]),
        ("fc_label", "Input", []),
        ("fc_out", "LinearRegressionOutput", ["fc", "fc_label"]),
    ]
    assert shapes_of(graph)["shared_weight"] == [[3, 5]]


def test_a_variable_named_in_shapes_is_an_input_even_when_named_after_its_consumer():
    data = mx.sym.var("fc_data")
    fc = mx.sym.FullyConnected(data, num_hidden=3, name="fc")
    assert [n.name for n in graph_def(fc).node] == ["fc/data", "fc/weight", "fc/bias", "fc"]
    graph = graph_def(fc, shapes={"fc_data": (1, 2)})
    assert nodes_of(graph)[:2] == [("fc_data", "Input", []), ("fc/weight", "Parameter", [])]


# -- files and Gluon blocks ---------------------------------------------------------------------------------


def test_checkpoint_symbol_file_converts_like_the_symbol(tmp_path):
    net = small_symbol()
    mx.model.save_checkpoint(str(tmp_path / "small"), 3, net, {}, {})
    path = tmp_path / "small-symbol.json"
    expected = graph_def(net, shapes={"data": (2, 3, 4, 4)})
    assert graph_def(str(path), shapes={"data": (2, 3, 4, 4)}) == expected
    assert graph_def(path, shapes={"data": (2, 3, 4, 4)}) == expected
    assert nodes_of(graph_def(path)) == SMALL_NODES


def test_hybrid_block_needs_no_forward_or_initialization():
    net = small_block()  # never initialized, never called
    graph = graph_def(net, shapes={"data": (1, 3, 6, 6)})
    assert nodes_of(graph) == [
        ("data", "Input", []),
        ("net/conv0/weight", "Parameter", []),
        ("net/conv0/bias", "Parameter", []),
        ("net/conv0", "Convolution", ["data", "net/conv0/weight", "net/conv0/bias"]),
        ("net/batchnorm0/gamma", "Parameter", []),
        ("net/batchnorm0/beta", "Parameter", []),
        ("net/batchnorm0/running_mean", "AuxiliaryState", []),
        ("net/batchnorm0/running_var", "AuxiliaryState", []),
        (
            "net/batchnorm0",
            "BatchNorm",
            [
                "net/conv0",
                "net/batchnorm0/gamma",
                "net/batchnorm0/beta",
                "net/batchnorm0/running_mean",
                "net/batchnorm0/running_var",
            ],
        ),
        ("net/relu0", "Activation", ["net/batchnorm0"]),
        ("net/dense0/weight", "Parameter", []),
        ("net/dense0/bias", "Parameter", []),
        ("net/dense0", "FullyConnected", ["net/relu0", "net/dense0/weight", "net/dense0/bias"]),
    ]
    shapes = shapes_of(graph)
    assert shapes["net/conv0/weight"] == [[4, 3, 3, 3]] and shapes["net/conv0"] == [[1, 4, 4, 4]]
    assert shapes["net/dense0/weight"] == [[3, 64]] and shapes["net/dense0"] == [[1, 3]]
    assert graph.node[1].attr["__shape__"].list.i == [4, 0, 3, 3]  # Gluon's deferred shape hint, typed
    net.hybridize()
    assert graph_def(net, shapes={"data": (1, 3, 6, 6)}) == graph


def test_hybrid_block_with_several_outputs_is_grouped():
    class TwoHeads(nn.HybridBlock):
        def __init__(self) -> None:
            super().__init__(prefix="heads_")
            with self.name_scope():
                self.a = nn.Dense(2)
                self.b = nn.Dense(3)

        def hybrid_forward(self, F, x):
            return self.a(x), [self.b(x)]

    graph = graph_def(TwoHeads(), shapes={"data": (5, 4)})
    shapes = shapes_of(graph)
    assert shapes["heads/dense0"] == [[5, 2]] and shapes["heads/dense1"] == [[5, 3]]
    assert len(graph.node) == 7


def test_resnet50_converts_node_for_node_with_gluon_scopes_and_shapes(resnet50):
    symbol = resnet50(mx.sym.var("data"))
    graph = graph_def(resnet50, shapes=RESNET_SHAPES)
    assert len(graph.node) == mxnet_node_count(symbol) == 474
    names = [n.name for n in graph.node]
    assert len(set(names)) == len(names)
    ops = {n.name: n.op for n in graph.node}
    assert ops["resnetv10/stage1/conv0"] == "Convolution"
    assert ops["resnetv10/stage1/conv0/weight"] == "Parameter"
    assert ops["resnetv10/stage1/batchnorm0/running_mean"] == "AuxiliaryState"
    assert ops["resnetv10/stage4/_plus2"] == "elemwise_add"
    assert ops["data"] == "Input"
    roles = [n.op for n in graph.node]
    assert roles.count("Parameter") == len(symbol.list_arguments()) - 1
    assert roles.count("AuxiliaryState") == len(symbol.list_auxiliary_states())
    assert roles.count("Input") == 1
    assert all(name.startswith("resnetv10/") for name in names if name != "data")
    shapes = shapes_of(graph)
    assert all(len(s) == 1 for s in shapes.values())
    assert shapes["resnetv10/conv0/weight"] == [[64, 3, 7, 7]]
    assert shapes["resnetv10/stage1/conv0"] == [[1, 64, 56, 56]]
    assert shapes["resnetv10/dense0"] == [[1, 1000]]


def test_resnet152_converts_node_for_node(resnet152):
    graph = graph_def(resnet152, shapes=RESNET_SHAPES)
    symbol = resnet152(mx.sym.var("data"))
    assert len(graph.node) == mxnet_node_count(symbol) == 1392
    assert shapes_of(graph)["resnetv10/dense0"] == [[1, 1000]]
    assert sum(n.op == "Convolution" for n in graph.node) == 155


# -- validation ---------------------------------------------------------------------------------------------


def test_unsupported_nets_are_type_errors_naming_what_was_given():
    with pytest.raises(TypeError, match=r"got int: 42"):
        graph_def(42)
    with pytest.raises(TypeError, match=r"got bytes"):
        graph_def(b"net-symbol.json")
    with pytest.raises(TypeError, match=r"NDArrayOnly, not a HybridBlock, .*its forward needs NDArrays"):
        graph_def(NDArrayOnly())
    module = mx.mod.Module(small_symbol(), context=mx.cpu())
    with pytest.raises(TypeError, match=r"Module; pass its symbol"):
        graph_def(module)


class NDArrayOnly(gluon.Block):
    def forward(self, x):
        return mx.nd.relu(x) + mx.nd.ones((1,))


def test_plain_sequential_of_hybrid_blocks_traces_like_hybrid_sequential():
    plain = nn.Sequential(prefix="net_")
    with plain.name_scope():
        plain.add(nn.Conv2D(4, 3), nn.BatchNorm(), nn.Activation("relu"), nn.Dense(3))
    shapes = {"data": (2, 1, 8, 8)}
    traced = graph_def(plain, shapes=shapes)
    hybrid = graph_def(small_block(), shapes=shapes)
    assert [(n.name, n.op, list(n.input)) for n in traced.node] == [(n.name, n.op, list(n.input)) for n in hybrid.node]
    assert [n.op for n in traced.node if n.op not in ("Input", "Parameter", "AuxiliaryState")] == [
        "Convolution",
        "BatchNorm",
        "Activation",
        "FullyConnected",
    ]


def test_block_whose_forward_only_uses_symbol_methods_is_traced():
    class Head(gluon.Block):
        def __init__(self):
            super().__init__(prefix="head_")
            with self.name_scope():
                self.fc = nn.Dense(3)

        def forward(self, x):
            return self.fc(x).relu()

    ops = [n.op for n in graph_def(Head()).node]
    assert ops[-2:] == ["FullyConnected", "relu"]


def test_blocks_with_other_inputs_say_how_to_pass_them():
    class Pair(nn.HybridBlock):
        def hybrid_forward(self, F, a, b):
            return a + b

    with pytest.raises(TypeError, match=r"Pair on one input mx\.sym\.var\('data'\) failed"):
        graph_def(Pair())
    pair = Pair()(mx.sym.var("a"), mx.sym.var("b"))
    assert [n.name for n in graph_def(pair).node][:2] == ["a", "b"]


def test_missing_or_foreign_files(tmp_path):
    missing = tmp_path / "nothing-symbol.json"
    with pytest.raises(FileNotFoundError, match=r"nothing-symbol\.json"):
        graph_def(missing)
    foreign = tmp_path / "notes-symbol.json"
    foreign.write_text("not json at all")
    with pytest.raises(ValueError, match=r"notes-symbol\.json' is not an MXNet symbol JSON file"):
        graph_def(foreign)


@pytest.mark.parametrize(
    ("shapes", "error", "message"),
    [
        ({"date": (1, 3, 4, 4)}, ValueError, r"'date', which is not an input of the network; .*'data'"),
        ({"data": (2, 0, 4, 4)}, ValueError, r"shape of 'data' must be a non-empty tuple of positive ints; got"),
        ({"data": "2x3"}, ValueError, r"shape of 'data' .* got '2x3'"),
        ({"data": ()}, ValueError, r"shape of 'data'"),
        ({"data": (2, True)}, ValueError, r"shape of 'data'"),
        ({}, ValueError, r"shapes is empty"),
        ((2, 3, 4, 4), TypeError, r"\(name, shape\) pairs; got item 2"),
        ("data", TypeError, r"got str: 'data'"),
        ({1: (2, 3)}, TypeError, r"input names \(str\); got int: 1"),
    ],
)
def test_bad_shapes_are_refused_before_inference(shapes, error, message):
    with pytest.raises(error, match=message):
        graph_def(small_symbol(), shapes=shapes)


def test_shapes_that_do_not_fit_name_the_operator():
    with pytest.raises(ValueError, match=r"do not fit the network: .*conv0"):
        graph_def(small_symbol(), shapes={"data": (2, 3)})


def test_shapes_that_leave_some_unknown_name_them():
    dot = mx.sym.dot(mx.sym.var("a"), mx.sym.var("b"), name="dot0")
    with pytest.raises(ValueError, match=r"do not determine the shapes of b, dot0; add the missing inputs"):
        graph_def(dot, shapes={"a": (2, 3)})
    assert shapes_of(graph_def(dot, shapes={"a": (2, 3), "b": (3, 4)}))["dot0"] == [[2, 4]]


# -- SummaryWriter.add_graph ----------------------------------------------------------------------------------


def graph_events(logdir: str) -> list:
    return [e for f in event_files(logdir) for e in load_events(f) if e.HasField("graph_def")]


def test_add_graph_writes_one_graph_event(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_graph(small_symbol(), shapes={"data": (2, 3, 4, 4)}, walltime=1234.5)
    (event,) = graph_events(logdir)
    assert event.wall_time == 1234.5 and event.step == 0
    graph = graph_pb2.GraphDef.FromString(event.graph_def)
    assert graph == graph_def(small_symbol(), shapes={"data": (2, 3, 4, 4)})
    assert nodes_of(graph) == SMALL_NODES and shapes_of(graph) == SMALL_SHAPES


def test_add_graph_takes_blocks_and_files(logdir, tmp_path):
    mx.model.save_checkpoint(str(tmp_path / "small"), 0, small_symbol(), {}, {})
    with SummaryWriter(logdir) as sw:
        sw.add_graph(small_block())
        sw.add_graph(str(tmp_path / "small-symbol.json"))
    first, second = (graph_pb2.GraphDef.FromString(e.graph_def) for e in graph_events(logdir))
    assert first.node[-1].name == "net/dense0" and len(first.node) == 13
    assert nodes_of(second) == SMALL_NODES


def test_add_graph_checks_everything_before_writing(logdir):
    with SummaryWriter(logdir) as sw:
        with pytest.raises(TypeError, match="got str"):
            sw.add_graph(small_symbol(), shapes="data")
        with pytest.raises(ValueError, match="walltime"):
            sw.add_graph(small_symbol(), walltime=-1.0)
        with pytest.raises(TypeError, match="got list"):
            sw.add_graph([small_symbol()])
    assert graph_events(logdir) == []
    with pytest.raises(WriterClosedError):
        sw.add_graph(small_symbol())


# -- a real TensorBoard server --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logged_resnets(tmp_path_factory, resnet50, resnet152):
    logdir = tmp_path_factory.mktemp("graphs") / "logs"
    expected = {}
    for run, net in (("resnet50", resnet50), ("resnet152", resnet152)):
        with SummaryWriter(str(logdir / run)) as sw:
            sw.add_graph(net, shapes=RESNET_SHAPES)
        expected[run] = graph_def(net, shapes=RESNET_SHAPES)
    return logdir, expected


@pytest.mark.parametrize("load_fast", [False, True], ids=["python-loader", "rust-data-server"])
def test_tensorboard_serves_the_resnet_graphs(logged_resnets, load_fast):
    logdir, expected = logged_resnets
    with tensorboard_server(logdir, load_fast=load_fast) as server:
        info = server.wait_for(
            "/data/plugin/graphs/info", lambda i: all(i.get(r, {}).get("run_graph") for r in expected)
        )
        assert set(info) == {"resnet50", "resnet152"}
        for run, graph in expected.items():
            served = text_format.Parse(
                server.get("/data/plugin/graphs/graph", run=run).decode("utf-8"), graph_pb2.GraphDef()
            )
            assert len(served.node) == {"resnet50": 474, "resnet152": 1392}[run]
            assert served == graph
            assert shapes_of(served)["resnetv10/dense0"] == [[1, 1000]]
