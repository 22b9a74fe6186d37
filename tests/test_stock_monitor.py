"""``tb.Monitor`` is MXNet's stock ``mx.mon.Monitor`` written to TensorBoard: the same signature, the same tensors
and the same values at the same batches, compared here against a stock Monitor on the same training; and
``tb.MonitorGroup`` puts several monitors where MXNet takes one."""

import inspect
import logging
from collections import defaultdict

import mxnet as mx
import pytest

import mxnet_tb as tb

from . import mxnet_models as models
from .readback import accumulate, scalars

BATCHES = models.SAMPLES // models.BATCH


class StockCapture(mx.mon.Monitor):
    """The stock Monitor, keeping what its ``toc`` returns (``fit`` prints it and throws it away)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = []

    def toc(self):
        result = super().toc()
        self.lines.extend(result)
        return result


class TbCapture(tb.Monitor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = []

    def toc(self):
        result = super().toc()
        self.lines.extend(result)
        return result


def _by_batch(lines):
    """Stock lines as {batch: {name: value}}, a name's later reports in one batch as name#2, name#3 ..."""
    batches = defaultdict(dict)
    for batch, name, text in lines:
        seen = batches[batch]
        count = sum(1 for key in seen if key == name or key.startswith(name + "#")) + 1
        seen[name if count == 1 else f"{name}#{count}"] = float(text.strip())
    return dict(batches)


def _logged(logdir):
    """{batch (stock numbering: step + 1): {name: value}} read back from TensorBoard."""
    batches = defaultdict(dict)
    for tag in accumulate(logdir).Tags()["tensors"]:
        for step, value in scalars(logdir, tag):
            batches[step + 1][tag.removeprefix("monitor/")] = value
    return dict(batches)


def test_the_signature_is_the_stock_monitors():
    def shape(cls):  # names, kinds and defaults (tb.Monitor adds type hints)
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]

    assert shape(tb.Monitor) == shape(mx.mon.Monitor)
    assert issubclass(tb.Monitor, mx.mon.Monitor)


@pytest.mark.parametrize("monitor_all", [False, True], ids=["outputs", "monitor_all"])
def test_fit_monitor_logs_the_stock_monitors_tensors_and_values(tmp_path, monitor_all):
    stock = StockCapture(2, monitor_all=monitor_all)
    models.fit(models.module(batchnorm=True), monitor=stock)
    logdir = str(tmp_path / "tb")
    tb.init(logdir)
    ported = TbCapture(2, monitor_all=monitor_all)
    models.fit(models.module(batchnorm=True), monitor=ported)
    tb.default_writer().close()

    expected = _by_batch(stock.lines)
    assert sorted(expected) == list(range(1, 2 * BATCHES, 2))  # stock "Batch: 1, 3, ..." = steps 0, 2, ...
    names = set(expected[1])
    assert {"data", "conv0_weight", "bn0_moving_var", "conv0_output", "fc1_backward_output0"} <= names
    assert ("conv0_weight#2" in names) is monitor_all  # with monitor_all: also the input of conv0 and its backward
    logged = _logged(logdir)
    assert sorted(logged) == sorted(expected)
    for batch, values in expected.items():
        assert set(logged[batch]) == set(values), batch
        for name, value in values.items():
            if name.startswith("softmax_backward_output1"):
                continue  # the label's gradient: SoftmaxOutput never writes it, both read uninitialised memory
            assert logged[batch][name] == pytest.approx(value, rel=1e-6), (batch, name)
    assert [(b, n) for b, n, _ in ported.lines] == [(b, n) for b, n, _ in stock.lines]  # the log reads as before


def test_install_monitor_alone_logs_without_tic_or_toc(logdir):
    tb.init(logdir)
    mod = models.module()
    train, val = models.iterators()
    mod.bind(train.provide_data, train.provide_label)
    mod.install_monitor(tb.Monitor(3, pattern=".*weight"))
    models.fit(mod, train, val)
    tb.default_writer().close()
    assert set(accumulate(logdir).Tags()["tensors"]) == {"monitor/conv0_weight", "monitor/fc1_weight"}
    assert [s for s, _ in scalars(logdir, "monitor/fc1_weight")] == list(range(0, 2 * BATCHES, 3))


def _executor_loop(monitor, batches=4):
    """A bare-executor loop in the style of MXNet's old text_cnn example: forward, backward, a hand-written update,
    with the stock ``tic``/``toc_print`` around each batch."""
    symbol = models.cnn_symbol()
    exe = symbol.simple_bind(mx.cpu(), data=(models.BATCH, 1, 8, 8), softmax_label=(models.BATCH,))
    args, _ = models.initial_params(symbol)
    for name, value in args.items():
        exe.arg_dict[name][:] = value
    images, labels = models.digits_like()
    monitor.install(exe)
    for index in range(batches):
        exe.arg_dict["data"][:] = images[index * models.BATCH : (index + 1) * models.BATCH]
        exe.arg_dict["softmax_label"][:] = labels[index * models.BATCH : (index + 1) * models.BATCH]
        monitor.tic()
        exe.forward(is_train=True)
        exe.backward()
        for name in args:
            exe.arg_dict[name][:] -= 0.1 * exe.grad_dict[name]
        monitor.toc_print()


def test_a_bare_executor_loop_logs_what_the_stock_monitor_prints(logdir, caplog):
    stock = StockCapture(1, pattern=".*output|fc1_weight")
    _executor_loop(stock)
    tb.init(logdir)
    with caplog.at_level(logging.INFO):
        _executor_loop(tb.Monitor(1, pattern=".*output|fc1_weight"))
    tb.default_writer().close()
    expected = _by_batch(stock.lines)
    logged = _logged(logdir)
    assert sorted(logged) == [1, 2, 3, 4] == sorted(expected)
    for batch, values in expected.items():
        assert logged[batch] == pytest.approx(values, rel=1e-6), batch
    printed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Batch:")]
    assert len(printed) == len(stock.lines) and "fc1_weight" in printed[-1]


def test_stat_func_values_are_the_scalars_and_lists_become_series(logdir):
    tb.init(logdir)
    stat = lambda x: [mx.nd.max(x), mx.nd.min(x)]  # noqa: E731 - as stock examples pass it
    models.fit(models.module(), monitor=tb.Monitor(4, stat_func=stat, pattern="fc1_bias"), num_epoch=1)
    tb.default_writer().close()
    assert set(accumulate(logdir).Tags()["tensors"]) == {"monitor/fc1_bias/0", "monitor/fc1_bias/1"}
    highs, lows = scalars(logdir, "monitor/fc1_bias/0"), scalars(logdir, "monitor/fc1_bias/1")
    assert [s for s, _ in highs] == [0, 4] and all(h >= low for (_, h), (_, low) in zip(highs, lows))


def test_bad_arguments_are_refused_before_anything_is_installed():
    with pytest.raises(TypeError, match="stat_func"):
        tb.Monitor(1, stat_func="norm")
    with pytest.raises(ValueError, match="pattern"):
        tb.Monitor(1, pattern="(")
    with pytest.raises(TypeError, match="monitor_all"):
        tb.Monitor(1, monitor_all=1)
    with pytest.raises(ValueError, match="interval"):
        tb.Monitor(0)


def test_a_monitor_group_is_one_monitor_for_fit(logdir):
    tb.init(logdir)
    stock = StockCapture(3, pattern="fc1_weight")
    group = tb.MonitorGroup(tb.GradMonitor(2, histograms=False), tb.WeightMonitor(3, stats=("norm",)), stock)
    assert isinstance(group, mx.mon.Monitor)
    models.fit(models.module(), monitor=group)
    tb.default_writer().close()
    assert [s for s, _ in scalars(logdir, "grads/norm/fc1_weight")] == list(range(0, 2 * BATCHES, 2))
    assert [s for s, _ in scalars(logdir, "weights/norm/fc1_weight")] == list(range(0, 2 * BATCHES, 3))
    assert [b for b, _, _ in stock.lines] == [1, 4, 7, 10]  # the stock member still ticks with fit


def test_a_monitor_group_refuses_what_would_silently_lose_data():
    with pytest.raises(ValueError, match="executor's monitor callback"):
        tb.MonitorGroup(tb.Monitor(1), tb.ActivationMonitor(1))
    with pytest.raises(ValueError, match="executor's monitor callback"):
        tb.MonitorGroup(tb.GradMonitor(1), tb.MonitorGroup(mx.mon.Monitor(1), tb.Monitor(2)))
    grads = tb.GradMonitor(1)
    with pytest.raises(ValueError, match="twice"):
        tb.MonitorGroup(grads, grads)
    with pytest.raises(TypeError, match="GradMonitor"):
        tb.MonitorGroup([grads])
    with pytest.raises(ValueError, match="at least one"):
        tb.MonitorGroup()


def test_each_device_of_a_data_parallel_module_logs_its_own_series(logdir):
    tb.init(logdir)
    models.fit(models.module(contexts=2), monitor=tb.Monitor(2, pattern="fc1_weight|softmax_output"), num_epoch=1)
    tb.default_writer().close()
    tags = set(accumulate(logdir).Tags()["tensors"])
    assert tags == {f"monitor/{name}/dev{i}" for name in ("fc1_weight", "softmax_output") for i in (0, 1)}
    assert scalars(logdir, "monitor/fc1_weight/dev0") == scalars(logdir, "monitor/fc1_weight/dev1")  # one weight
    assert [s for s, _ in scalars(logdir, "monitor/softmax_output/dev1")] == [0, 2, 4]
