"""find_nan_origin names the operator that made the first NaN/Inf, on real MXNet Module executors and Gluon nets."""

from __future__ import annotations

import json
import math
from typing import Any

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

from mxnet_tb._training.mxnet_adapter import module_executor_group, symbol_of
from mxnet_tb._training.nan_origin import (
    InputRange,
    NanOrigin,
    NonFiniteInput,
    find_nan_origin,
    gluon_symbol,
)

BATCH, FEATURES, HIDDEN = 8, 3, 4


def batch(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((BATCH, FEATURES)).astype(np.float32)


def trained_executor(symbol: mx.sym.Symbol, data: np.ndarray, aux: dict | None = None, **params: np.ndarray) -> Any:
    """The executor of a Module after one forward_backward on ``data``, as the doctor finds it at the NaN."""
    mod = mx.mod.Module(symbol, context=mx.cpu())
    mod.bind(data_shapes=[("data", data.shape)], label_shapes=[("softmax_label", (len(data),))])
    mx.random.seed(0)
    arg_params = {name: mx.nd.array(value) for name, value in params.items()}
    aux_params = {name: mx.nd.array(value) for name, value in (aux or {}).items()}
    mod.init_params(mx.init.Xavier(), arg_params=arg_params, aux_params=aux_params, allow_missing=True)
    labels = mx.nd.array(np.arange(len(data)) % 2)
    mod.forward_backward(mx.io.DataBatch([mx.nd.array(data)], [labels]))
    return module_executor_group(mod).execs[0]


def origin_of(exe: Any, **kwargs: Any) -> Any:
    return find_nan_origin(symbol_of(exe), exe.arg_dict, exe.aux_dict, **kwargs)


def head(net: mx.sym.Symbol) -> mx.sym.Symbol:
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=2, name="fc2"), name="softmax")


def fc1(data: mx.sym.Symbol | None = None) -> mx.sym.Symbol:
    return mx.sym.FullyConnected(mx.sym.var("data") if data is None else data, num_hidden=HIDDEN, name="fc1")


def fc1_output(data: np.ndarray, exe: Any) -> np.ndarray:
    weight, bias = (exe.arg_dict[name].asnumpy() for name in ("fc1_weight", "fc1_bias"))
    return data @ weight.T + bias


LOG_THEN = {
    "relu keeps the NaN": lambda x: mx.sym.relu(x, name="relu0"),
    "Activation relu hides the NaN": lambda x: mx.sym.Activation(x, act_type="relu", name="relu0"),
    "no relu": lambda x: x,
}


def test_mxnet_activation_relu_turns_nan_into_zero_while_relu_keeps_it() -> None:
    """The MXNet fact behind the hidden case (issue #11115): which ReLU hides a NaN."""
    values = mx.nd.array([math.nan, -1.0, 2.0])
    assert np.isnan(mx.nd.relu(values).asnumpy()[0])
    assert mx.nd.Activation(values, act_type="relu").asnumpy().tolist() == [0.0, 0.0, 2.0]


@pytest.mark.parametrize("then", list(LOG_THEN))
def test_log_of_a_negative_input_is_the_origin_whether_or_not_a_later_relu_hides_it(then: str) -> None:
    symbol = head(LOG_THEN[then](mx.sym.log(fc1(), name="log0")))
    data = batch()
    exe = trained_executor(symbol, data)
    before = fc1_output(data, exe)
    assert (before < 0).any()
    loss_finite = bool(np.isfinite(exe.outputs[0].asnumpy()).all())
    assert loss_finite == (then == "Activation relu hides the NaN")  # the case is what its name says

    origin = origin_of(exe)

    assert isinstance(origin, NanOrigin)
    assert (origin.node, origin.op, origin.output) == ("log0", "log", "log0_output")
    assert (origin.nonfinite, origin.size) == (int((before <= 0).sum()), before.size)
    (only,) = origin.inputs
    assert only.name == "fc1_output" and only.nonfinite == 0
    assert only.low == pytest.approx(before.min(), rel=1e-5) and only.high == pytest.approx(before.max(), rel=1e-5)


def test_a_later_sqrt_is_the_origin_not_the_finite_ops_before_it() -> None:
    net = mx.sym.log(mx.sym.abs(fc1(), name="abs0") + 1.0, name="log0")  # finite: log of >= 1
    net = mx.sym.sqrt(mx.sym.FullyConnected(net, num_hidden=HIDDEN, name="fc_mid") - 10.0, name="sqrt0")
    exe = trained_executor(head(net), batch())

    origin = origin_of(exe)

    assert (origin.node, origin.op) == ("sqrt0", "sqrt")
    assert origin.inputs[0].name.startswith("_minusscalar") and origin.inputs[0].high < 0
    assert origin.nonfinite == origin.size == BATCH * HIDDEN


def test_broadcast_div_by_zero_is_the_origin_of_an_inf() -> None:
    scale = mx.sym.var("scale", shape=(1, HIDDEN))
    symbol = head(mx.sym.broadcast_div(fc1(), scale, name="div0"))
    exe = trained_executor(symbol, batch(), scale=np.array([[1.0, 0.0, 2.0, 0.0]], np.float32))

    origin = origin_of(exe)

    assert (origin.node, origin.op, origin.output) == ("div0", "broadcast_div", "div0_output")
    assert origin.nonfinite == 2 * BATCH
    assert [item.name for item in origin.inputs] == ["fc1_output", "scale"]
    assert (origin.inputs[1].low, origin.inputs[1].high) == (0.0, 2.0)


def test_batchnorm_in_training_mode_is_not_mistaken_for_the_origin() -> None:
    """BatchNorm's outputs (incl. mean/var) and its moving statistics are finite; the log after it is not."""
    net = mx.sym.BatchNorm(fc1(), name="bn0", output_mean_var=True)
    symbol = head(mx.sym.broadcast_add(mx.sym.log(net[0], name="log0"), net[1] * net[2]))
    exe = trained_executor(symbol, batch())

    origin = origin_of(exe, is_train=True)

    assert (origin.node, origin.op) == ("log0", "log")
    assert [item.name for item in origin.inputs] == ["bn0_output"]
    assert origin.inputs[0].low < 0  # batch statistics: zero-mean output, so some values are negative


def test_an_input_that_is_a_secondary_output_is_named_by_that_output() -> None:
    parts = mx.sym.split(fc1(), num_outputs=2, axis=1, name="split0")
    symbol = head(mx.sym.concat(mx.sym.exp(parts[0], name="exp0"), mx.sym.log(parts[1], name="log0"), dim=1))
    data = batch()
    exe = trained_executor(symbol, data)
    assert (fc1_output(data, exe)[:, 2:] < 0).any()

    origin = origin_of(exe)

    assert (origin.node, [item.name for item in origin.inputs]) == ("log0", ["split0_output1"])


def test_a_nan_in_the_data_batch_is_a_nonfinite_input() -> None:
    data = batch()
    data[3, 1] = np.nan
    exe = trained_executor(head(mx.sym.log(fc1(), name="log0")), data)

    assert origin_of(exe) == NonFiniteInput(("data",))


def test_a_nan_in_a_weight_is_a_nonfinite_input_naming_that_weight() -> None:
    weight = np.ones((HIDDEN, FEATURES), np.float32)
    weight[0, 0] = np.nan
    exe = trained_executor(head(mx.sym.relu(fc1(), name="relu0")), batch(), fc1_weight=weight)

    found = origin_of(exe)

    assert found == NonFiniteInput(("fc1_weight",))
    assert found.describe().startswith("the inputs already hold NaN/Inf before any operator runs: fc1_weight (a param")


def test_an_operator_that_makes_nan_before_a_nan_weight_is_read_is_the_origin() -> None:
    weight = np.ones((2, HIDDEN), np.float32)
    weight[1, 1] = np.inf
    exe = trained_executor(head(mx.sym.log(fc1(), name="log0")), batch(), fc2_weight=weight)

    assert origin_of(exe).node == "log0"  # log0 runs before fc2 reads fc2_weight


def test_all_finite_outputs_give_none_and_a_described_origin_reads_as_one_line() -> None:
    exe = trained_executor(head(mx.sym.relu(fc1(), name="relu0")), batch())
    assert origin_of(exe) is None
    origin = NanOrigin("log0", "log", "log0_output", 12, 64, (InputRange("fc1_output", -0.98, 1.3, 0),))
    assert origin.describe() == (
        "operator 'log0' (log) made 12 of 64 values of log0_output NaN/Inf from finite inputs: "
        "fc1_output in [-0.98, 1.3]"
    )


def test_a_convolution_batchnorm_relu_net_is_checked_although_mkldnn_would_fuse_it() -> None:
    data = mx.sym.var("data")
    net = mx.sym.Convolution(data, kernel=(3, 3), num_filter=2, name="conv0")
    net = mx.sym.Activation(mx.sym.BatchNorm(net, name="bn0"), act_type="relu", name="relu0")
    symbol = head(mx.sym.log(mx.sym.flatten(net) - 0.5, name="log0"))
    exe = trained_executor(symbol, np.random.default_rng(1).standard_normal((BATCH, 1, 6, 6)).astype(np.float32))

    assert (origin_of(exe, is_train=False).node, origin_of(exe, is_train=True).node) == ("log0", "log0")


class _CountBatches(mx.operator.CustomOp):
    """Passes data through and counts forward passes in its aux state, as cuDNN BatchNorm updates its moving
    statistics in the forward pass (CPU BatchNorm does not, so it could not show a write)."""

    def forward(self, is_train: bool, req: Any, in_data: Any, out_data: Any, aux: Any) -> None:
        aux[0][:] = aux[0] + 1
        self.assign(out_data[0], req[0], in_data[0] * 1)

    def backward(self, req: Any, out_grad: Any, in_data: Any, out_data: Any, in_grad: Any, aux: Any) -> None:
        self.assign(in_grad[0], req[0], out_grad[0])


@mx.operator.register("nan_origin_count_batches")
class _CountBatchesProp(mx.operator.CustomOpProp):
    def list_auxiliary_states(self) -> list[str]:
        return ["seen"]

    def infer_shape(self, in_shape: Any) -> Any:
        return in_shape, [in_shape[0]], [(1,)]

    def create_operator(self, ctx: Any, shapes: Any, dtypes: Any) -> _CountBatches:
        return _CountBatches()


def test_the_given_arguments_and_aux_states_are_left_bit_identical() -> None:
    net = mx.sym.Custom(mx.sym.BatchNorm(fc1(), name="bn0"), op_type="nan_origin_count_batches", name="count0")
    exe = trained_executor(head(mx.sym.log(net, name="log0")), batch(), aux={"count0_seen": np.zeros(1)})
    mx.nd.waitall()  # a custom op's writes are not ordered before a read of the array
    assert exe.aux_dict["count0_seen"].asscalar() == 1  # the training forward pass counted
    args = {name: array.asnumpy().copy() for name, array in exe.arg_dict.items()}
    aux = {name: array.asnumpy().copy() for name, array in exe.aux_dict.items()}

    assert origin_of(exe, is_train=True).node == "log0"

    mx.nd.waitall()
    for given, now in ((args, exe.arg_dict), (aux, exe.aux_dict)):
        for name, before in given.items():
            assert now[name].asnumpy().tobytes() == before.tobytes(), name


def test_missing_arrays_are_named_in_a_value_error() -> None:
    symbol = head(fc1())
    with pytest.raises(ValueError, match=r"\['fc1_bias', 'softmax_label'\]"):
        find_nan_origin(symbol, {name: mx.nd.zeros(1) for name in ("data", "fc1_weight", "fc2_weight", "fc2_bias")})


# -- Gluon ----------------------------------------------------------------------------------------------


class LogNet(nn.HybridBlock):
    def __init__(self, hide: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hide = hide
        with self.name_scope():
            self.fc1 = nn.Dense(HIDDEN)
            self.bn = nn.BatchNorm()
            self.fc2 = nn.Dense(2)

    def hybrid_forward(self, F: Any, x: Any) -> Any:
        logged = F.log(self.bn(self.fc1(x)))
        return self.fc2(F.Activation(logged, act_type="relu") if self.hide else F.relu(logged))


def trained_gluon(net: nn.Block, data: mx.nd.NDArray) -> mx.nd.NDArray:
    net.initialize(mx.init.Xavier())
    with mx.autograd.record():
        out = net(data)
    out.backward()
    return out


@pytest.mark.parametrize("hybridize", [False, True])
@pytest.mark.parametrize("hide", [False, True])
def test_a_gluon_log_of_a_negative_input_is_the_origin(hybridize: bool, hide: bool) -> None:
    net = LogNet(hide)
    if hybridize:
        net.hybridize()
    data = mx.nd.array(batch())
    out = trained_gluon(net, data)
    assert bool(np.isfinite(out.asnumpy()).all()) == hide
    running = net.bn.running_mean.data().asnumpy().copy()

    symbol, args, aux = gluon_symbol(net, data)
    origin = find_nan_origin(symbol, args, aux)

    (log_node,) = [node["name"] for node in json.loads(symbol.tojson())["nodes"] if node["op"] == "log"]
    assert (origin.node, origin.op) == (log_node, "log")
    assert log_node == f"{net.prefix}log0"
    assert [item.name for item in origin.inputs] == [f"{net.bn.name}_fwd_output"]
    assert args["data"] is data
    assert net.bn.running_mean.data().asnumpy().tobytes() == running.tobytes()


def test_a_gluon_dense_net_whose_data_holds_nan_is_a_nonfinite_input() -> None:
    net = nn.HybridSequential()
    net.add(nn.Dense(HIDDEN, activation="relu"), nn.Dense(2))
    values = batch()
    values[0, 0] = np.nan
    trained_gluon(net, mx.nd.array(values))

    assert find_nan_origin(*gluon_symbol(net, mx.nd.array(values))) == NonFiniteInput(("data",))


class NumpyBlock(nn.Block):
    def forward(self, x: Any) -> Any:
        return mx.nd.array(np.log(np.abs(x.asnumpy())))


def test_a_plain_block_doing_ndarray_work_has_no_symbol_but_a_sequential_of_dense_has_one() -> None:
    data = mx.nd.array(batch())
    assert gluon_symbol(NumpyBlock(), data) is None
    plain = nn.Sequential()
    plain.add(nn.Dense(HIDDEN))
    plain.initialize()
    plain(data)
    symbol, args, aux = gluon_symbol(plain, data)
    assert set(args) == {"data", *(p.name for p in plain.collect_params().values())} and aux == {}
    assert find_nan_origin(symbol, args, aux) is None


class TwoInputs(nn.HybridBlock):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.fc = nn.Dense(HIDDEN)

    def hybrid_forward(self, F: Any, x: Any, scale: Any) -> Any:
        return F.broadcast_mul(self.fc(x), scale)


@pytest.mark.parametrize("hybridize", [False, True])
def test_a_gluon_block_of_two_inputs_names_them_data0_and_data1(hybridize: bool) -> None:
    net = TwoInputs()
    net.initialize()
    if hybridize:
        net.hybridize()
    x, scale = mx.nd.array(batch()), mx.nd.array([[1.0, math.inf, 1.0, 1.0]])
    net(x, scale)

    symbol, args, aux = gluon_symbol(net, x, scale)

    assert args["data0"] is x and args["data1"] is scale
    assert find_nan_origin(symbol, args, aux) == NonFiniteInput(("data1",))
