"""tb.profile: MXNet's profiler over a few batches of a real Module.fit, into GRAPHS run metadata and TEXT."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import mxnet as mx
import pytest
from google.protobuf import text_format
from tensorboard.compat.proto import config_pb2, graph_pb2

import mxnet_tb as tb
from mxnet_tb.cli import main
from mxnet_tb.summaries.graph import graph_def
from mxnet_tb.summaries.profile_stats import (
    OpEvent,
    load_trace,
    node_times,
    op_events,
    run_metadata,
    schedule_from_executor,
)

from . import mxnet_models as models
from .readback import event_files, load_events, scalars, tensors
from .tb_server import tensorboard_server

BATCHES = models.SAMPLES // models.BATCH


def _profile_run(logdir, run="profile"):
    """The graph and the (tag, step, RunMetadata) sessions of the run ``<logdir>/<run>``."""
    graphs, sessions = [], []
    for path in event_files(os.path.join(logdir, run)):
        for event in load_events(path):
            if event.graph_def:
                graphs.append(graph_pb2.GraphDef.FromString(event.graph_def))
            if event.HasField("tagged_run_metadata"):
                meta = config_pb2.RunMetadata.FromString(event.tagged_run_metadata.run_metadata)
                sessions.append((event.tagged_run_metadata.tag, event.step, meta))
    return graphs, sessions


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("profiled") / "logs")
    sw = tb.SummaryWriter(logdir)
    callback = tb.profile(batches=2, start=2, writer=sw)
    after = []  # what the profiler counts in batches after the session: nothing
    mod = models.module(batchnorm=True)

    def count_after(param):
        if callback.session is not None:
            after.append(json.loads(mx.profiler.dumps(format="json")).get("Time", {}))

    models.fit(mod, num_epoch=2, batch_end_callback=[callback, count_after])
    sw.close()
    return logdir, callback, mod, after


def test_session_times_every_operator_node_of_the_graph(profiled):
    logdir, callback, _, _ = profiled
    session = callback.session
    assert session.tag == "profile/steps_2-3" and session.unmapped == {}
    (graph,), ((tag, step, meta),) = _profile_run(logdir)
    assert (tag, step) == ("profile/steps_2-3", 3)
    operators = {n.name: n for n in graph.node if n.op not in ("Input", "Parameter", "AuxiliaryState")}
    assert set(operators) == {"conv0", "bn0", "relu0", "flatten0", "fc1", "softmax"}
    (device,) = meta.step_stats.dev_stats
    assert device.device == "/device:CPU:0"
    stats = {s.node_name: s for s in device.node_stats}
    assert set(stats) == set(operators)  # every name is a node of the graph, every operator has a time
    trace = load_trace(Path(session.trace_path).read_text())  # the raw trace beside the run: complete JSON
    events = op_events(trace)
    for name, forward in [("conv0", "Convolution"), ("fc1", "FullyConnected"), ("bn0", "BatchNorm")]:
        expected = sum(e.duration for e in events if e.name in (forward, "_backward_" + forward)) / 2
        assert stats[name].all_end_rel_micros == round(expected)
        assert stats[name].op_end_rel_micros == stats[name].all_end_rel_micros
    assert stats["conv0"].memory[0].total_bytes == operators["conv0"].attr["output_bytes"].i == 16 * 4 * 6 * 6 * 4
    assert [d.size for d in stats["conv0"].output[0].tensor_description.shape.dim] == [16, 4, 6, 6]


def test_top_operators_table_and_batch_time_in_the_training_run(profiled):
    logdir = profiled[0]
    ((step, text),) = tensors(logdir, "profile/top_operators")
    text = text.item().decode()
    assert step == 3
    assert "| # | operator | pass | calls | total ms | mean ms | ms per batch | share |" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "_backward_" in line]
    assert rows and all("| backward | 2 |" in row for row in rows)  # 2 batches, one call each
    assert "| Convolution | forward | 2 |" in text
    assert "6 nodes" in text and "tag `profile/steps_2-3`" in text and "Not mapped" not in text
    ((time_step, ms),) = scalars(logdir, "profile/ms_per_batch")
    assert time_step == 3 and ms > 0


def test_training_goes_on_unprofiled_after_the_session(profiled):
    after = profiled[3]
    assert len(after) == 2 * BATCHES - 3  # from the session's last batch (counts just reset) to the end
    assert all(not times.get("operator") for times in after)


@pytest.mark.slow
def test_tensorboard_lists_the_session_in_graphs_with_node_names_of_the_graph(profiled):
    logdir = profiled[0]
    for load_fast in (False, True):
        with tensorboard_server(logdir, load_fast=load_fast) as server:
            info = server.wait_for("/data/plugin/graphs/info", lambda i: "profile" in i and i["profile"]["tags"])
            assert info["profile"]["run_graph"] is True
            assert info["profile"]["tags"]["profile/steps_2-3"]["profile"] is True
            text = server.get("/data/plugin/graphs/run_metadata", run="profile", tag="profile/steps_2-3").decode()
            meta = text_format.Parse(text, config_pb2.RunMetadata())
            graph = text_format.Parse(
                server.get("/data/plugin/graphs/graph", run="profile").decode(), graph_pb2.GraphDef()
            )
            names = {n.name for n in graph.node}
            timed = {s.node_name for d in meta.step_stats.dev_stats for s in d.node_stats}
            assert timed and timed <= names, load_fast
            assert {"conv0", "fc1"} <= timed


def test_two_sessions_in_one_process_each_get_their_own_batches(tmp_path):
    logdir = str(tmp_path / "logs")
    sw = tb.SummaryWriter(logdir)
    first = tb.profile(batches=1, start=1, writer=sw, run="profile_a")
    second = tb.profile(batches=2, start=3, writer=sw, run="profile_b")
    models.fit(models.module(), num_epoch=1, batch_end_callback=[first, second])
    sw.close()
    for callback, batches in ((first, 1), (second, 2)):
        trace = load_trace(Path(callback.session.trace_path).read_text())
        counts = [e.name for e in op_events(trace)].count("Convolution")
        assert counts == batches and callback.session.unmapped == {}


def test_a_session_that_cannot_be_written_warns_and_training_goes_on(tmp_path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    (logdir / "profile").write_text("a file where the profile run would go")
    sw = tb.SummaryWriter(str(logdir))
    callback = tb.profile(batches=1, start=1, writer=sw)
    seen = []
    with warnings.catch_warnings(record=True) as caught:  # MXNet's imports warn too, in their own categories
        warnings.simplefilter("always")
        models.fit(models.module(), num_epoch=1, batch_end_callback=[callback, lambda p: seen.append(p.nbatch)])
    sw.close()
    (warning,) = [w for w in caught if issubclass(w.category, tb.EventWriteWarning)]
    assert "could not write the session of batches 1-1" in str(warning.message)
    assert callback.session is None and seen == list(range(BATCHES))


@pytest.mark.slow
def test_without_per_node_mxnet_bulks_and_the_segments_are_listed_unmapped(tmp_path):
    code = f"""
import mxnet_tb as tb
from tests import mxnet_models as models
callback = tb.profile(batches=2, start=2, writer=tb.SummaryWriter({str(tmp_path)!r}), per_node=False)
models.fit(models.module(), num_epoch=1, batch_end_callback=[callback])
print(sorted(callback.session.unmapped), callback.session.nodes)
"""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    names, nodes = out.strip().rsplit(" ", 1)
    assert "[Convolution,Activation,Flatten,FullyConnected,SoftmaxOutput]" in names and nodes == "0"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batches": 0}, ValueError, "batches must be an int >= 1; got 0"),
        ({"start": 0}, ValueError, "start must be an int >= 1; got 0"),
        ({"run": "../escape"}, ValueError, "'..'"),
        ({"run": 3}, TypeError, "run must be a str"),
        ({"writer": "logs"}, TypeError, "writer must be a mxnet_tb.SummaryWriter"),
        ({"per_node": 1}, TypeError, "per_node must be a bool"),
    ],
)
def test_bad_arguments_fail_when_the_callback_is_made(kwargs, error, message):
    with pytest.raises(error, match=message):
        tb.profile(**kwargs)


# -- mxnet-tb profile-import ------------------------------------------------------------------------------


def test_profile_import_maps_a_saved_trace_exactly_as_the_callback_did(profiled, tmp_path, capsys):
    logdir, callback, mod, _ = profiled
    symbol = str(tmp_path / "net-symbol.json")
    mod.symbol.save(symbol)
    out = tmp_path / "imported"
    args = ["profile-import", callback.session.trace_path, "--symbol", symbol, "--shape", "data=16,1,8,8"]
    assert main([*args, "--logdir", str(out), "--run", "net"]) == 0
    printed = capsys.readouterr().out
    assert f"-> run 'net' in {out}: 6 nodes timed over 2 batches" in printed
    (graph,), ((tag, _, meta),) = _profile_run(str(out), "net")
    _, ((_, _, original),) = _profile_run(logdir)
    assert tag == "profile/steps_0-1" and meta.step_stats == original.step_stats
    assert {n.name for n in graph.node} >= {s.node_name for s in meta.step_stats.dev_stats[0].node_stats}
    ((_, text),) = tensors(str(out / "net"), "profile/top_operators")
    assert "| Convolution | forward | 2 |" in text.item().decode()
    assert (out / "net" / "trace-profile_steps_0-1.json").is_file()


def test_profile_import_fails_when_nothing_maps_and_on_bad_files(profiled, tmp_path, capsys):
    symbol = str(tmp_path / "other-symbol.json")
    mx.sym.Pooling(mx.sym.var("data"), kernel=(2, 2), name="pool").save(symbol)  # no op of the trace
    trace = profiled[1].session.trace_path
    logdir = tmp_path / "logs"
    assert main(["profile-import", trace, "--symbol", symbol, "--logdir", str(logdir)]) == 1
    assert "maps to a node" in capsys.readouterr().err and not logdir.exists()
    assert main(["profile-import", str(tmp_path / "missing.json"), "--symbol", symbol]) == 2
    assert "no such trace file" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["profile-import", str(tmp_path / "bad.json"), "--symbol", symbol, "--logdir", str(logdir)]) == 1
    assert "not a Chrome trace JSON file" in capsys.readouterr().err


# -- mapping trace events to nodes, on hand-made traces ---------------------------------------------------


def _two_conv_graph():
    data = mx.sym.var("data")
    net = mx.sym.Convolution(data, kernel=(1, 1), num_filter=2, name="a")
    net = mx.sym.Convolution(net, kernel=(1, 1), num_filter=2, name="b")
    net = mx.sym.Flatten(net, name="flat")
    return graph_def(net, {"data": (1, 2, 3, 3)})


def _events(names, device="/device:CPU:0"):
    return [OpEvent(name, 100 * i, 10 + i, device) for i, name in enumerate(names)]


def test_forward_in_topological_order_backward_in_reverse():
    batch = [
        "Convolution",
        "Convolution",
        "Flatten",
        "_backward_copy",
        "_backward_Convolution",
        "_backward_Convolution",
    ]
    times = node_times(_two_conv_graph(), _events(batch * 2), batches=2)
    graph = _two_conv_graph()
    names = {graph.node[i].name: t for i, t in times.forward.items()}
    backward = {graph.node[i].name: t for i, t in times.backward.items()}
    assert names == {"a": 10 + 16, "b": 11 + 17, "flat": 12 + 18}
    assert backward == {"flat": 13 + 19, "b": 14 + 20, "a": 15 + 21}
    meta = run_metadata(graph, times)
    stats = {s.node_name: s.all_end_rel_micros for s in meta.step_stats.dev_stats[0].node_stats}
    assert stats == {"a": round((26 + 36) / 2), "b": round((28 + 34) / 2), "flat": round((30 + 32) / 2)}


def test_gradient_sums_of_a_residual_go_to_the_output_read_twice():
    data = mx.sym.var("data")
    relu = mx.sym.Activation(mx.sym.Convolution(data, kernel=(1, 1), num_filter=2, name="a"), "relu", name="r")
    net = mx.sym.elemwise_add(relu, mx.sym.Convolution(relu, kernel=(1, 1), num_filter=2, name="b"), name="plus")
    graph = graph_def(net, {"data": (1, 2, 3, 3)})
    batch = ["Convolution", "Activation", "Convolution", "elemwise_add", "_backward_add", "_backward_Convolution"]
    batch += ["add_n", "_backward_Activation", "_backward_Convolution"]
    times = node_times(graph, _events(batch), batches=1)
    backward = {graph.node[i].name: t for i, t in times.backward.items()}
    assert backward == {"plus": 14, "b": 15, "r": 16 + 17, "a": 18} and times.unmapped == {}


def test_the_executor_schedule_names_the_node_of_every_call():
    graph = _two_conv_graph()
    names = ["data", "a_weight", "a_bias", "a", "b_weight", "b_bias", "b", "flat"]
    assert [n.name for n in graph.node] == ["data", "a/weight", "a/bias", "a", "b/weight", "b/bias", "b", "flat"]
    calls = [("Convolution", "a"), ("Convolution", "b"), ("Flatten", "flat"), ("_backward_copy", "flat_backward")]
    calls += [("_backward_Convolution", "a_backward"), ("_backward_Convolution", "b_backward")]  # not reversed
    calls += [("add_n", "sum_grad")]
    schedule = schedule_from_executor(calls, names)
    batch = [name for name, _ in calls]
    times = node_times(graph, _events(batch), batches=1, schedule=schedule)
    backward = {graph.node[i].name: t for i, t in times.backward.items()}
    assert backward == {"flat": 13, "a": 14, "b": 15}  # the executor's order, not the reverse-order rule's
    assert times.unmapped["add_n"].startswith("its calls belong to no node of the graph")


def test_counts_that_do_not_fit_and_bulked_segments_are_listed_not_guessed():
    events = _events(["Convolution", "Convolution", "Convolution", "[Convolution,Flatten]", "argmax"])
    times = node_times(_two_conv_graph(), events, batches=1)
    assert times.forward == {} and times.backward == {}
    assert times.unmapped["Convolution"].startswith("3 events for 2 nodes × 1 batches")
    assert "bulked" in times.unmapped["[Convolution,Flatten]"]
    assert times.unmapped["argmax"].startswith("no operator of this type in the graph")


def test_batches_are_inferred_from_forward_counts_and_unfinished_dumps_parse():
    times = node_times(_two_conv_graph(), _events(["Convolution", "Convolution", "Flatten"] * 3))
    assert times.batches == 3 and times.unmapped == {}
    unfinished = '{"traceEvents": [{"ph": "M", "name": "process_name", "pid": 0, "args": {"name": "cpu/0"}},\n'
    unfinished += '{"name": "Flatten", "ph": "B", "ts": 5, "pid": 0, "tid": 1},\n'
    unfinished += '{"name": "Flatten", "ph": "E", "ts": 9, "pid": 0, "tid": 1}\n'
    assert op_events(load_trace(unfinished)) == [OpEvent("Flatten", 5, 4, "/device:CPU:0")]
    with pytest.raises(ValueError, match="not a Chrome trace"):
        load_trace('{"events": []}')
