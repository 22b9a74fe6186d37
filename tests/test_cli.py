"""The ``mxnet-tb`` command line: real MXNet logs and checkpoints in, TensorBoard's loaders read them back."""

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
from tensorboard.compat.proto import graph_pb2

from mxnet_tb import make_image_grid
from mxnet_tb.cli import _common, main
from tests import mxnet_models, readback
from tests.tb_server import free_port

SCRIPT = str(Path(sys.executable).parent / "mxnet-tb")
BATCHES_PER_EPOCH = mxnet_models.SAMPLES // mxnet_models.BATCH  # 6


def f32(value: float) -> float:
    """What TensorBoard reads back for a scalar logged as ``value`` (a float32 ``simple_value``)."""
    return float(np.float32(value))


def run_cli(*args: str, module: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mxnet_tb", *args] if module else [SCRIPT, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _RecordingMonitor(mx.mon.Monitor):
    """MXNet's own Monitor, remembering the (count, name, text) rows ``toc_print`` logs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[tuple[int, str, str]] = []

    def toc(self):
        rows = super().toc()
        self.rows.extend(rows)
        return rows


def train_with_mxnet_logging(log_path: Path, num_epoch: int = 2) -> tuple[list[logging.LogRecord], list]:
    """Train a tiny Module with MXNet's Speedometer and Monitor, its log going to ``log_path`` as a user's does."""
    root = logging.getLogger()
    to_file = logging.FileHandler(log_path)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s:%(name)s:%(message)s"))
    capture = _Capture()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(to_file)
    root.addHandler(capture)
    try:
        monitor = _RecordingMonitor(2, pattern="fc1_weight|conv0_bias")
        mxnet_models.fit(
            mxnet_models.module(),
            num_epoch=num_epoch,
            eval_metric=mx.metric.create(["acc", "ce"]),
            batch_end_callback=mx.callback.Speedometer(mxnet_models.BATCH, frequent=2),
            monitor=monitor,
        )
    finally:
        root.removeHandler(to_file)
        root.removeHandler(capture)
        root.setLevel(level)
        to_file.close()
    return capture.records, monitor.rows


def expected_points(records: list[logging.LogRecord], monitor_rows: list) -> dict[str, dict[int, float]]:
    """What import-log must write, from the arguments MXNet passed to logging (not from the log's text)."""
    b = BATCHES_PER_EPOCH
    points: dict[str, dict[int, float]] = {}
    for record in records:
        msg, args = record.msg, record.args
        if msg.startswith("Epoch[%d] Batch [%d-%d]\tSpeed: %.2f samples/sec"):
            epoch, _, batch, speed, *pairs = args
            step = epoch * b + batch
            points.setdefault("train/samples_per_sec", {})[step] = f32(float(f"{speed:.2f}"))
            for name, value in zip(pairs[::2], pairs[1::2]):
                points.setdefault(f"train/{name}", {})[step] = f32(float(f"{value:f}"))
        elif msg == "Epoch[%d] Train-%s=%f":
            epoch, name, value = args
            points.setdefault(f"train/epoch_{name}", {})[(epoch + 1) * b - 1] = f32(float(f"{value:f}"))
        elif msg == "Epoch[%d] Time cost=%.3f":
            epoch, value = args
            points.setdefault("train/epoch_time", {})[(epoch + 1) * b - 1] = f32(float(f"{value:.3f}"))
        elif msg == "Epoch[%d] Validation-%s=%f":
            epoch, name, value = args
            points.setdefault(f"val/{name}", {})[(epoch + 1) * b - 1] = f32(float(f"{value:f}"))
    for count, name, text in monitor_rows:
        points.setdefault(f"monitor/{name}", {})[count - 1] = f32(float(text))
    return points


def read_run(run: Path) -> dict[str, dict[int, float]]:
    tags = readback.accumulate(run).Tags()["tensors"]
    return {tag: dict(readback.scalars(run, tag)) for tag in tags}


def test_import_log_of_a_real_mxnet_training_reads_back_exactly(tmp_path):
    log_path = tmp_path / "digits-train.log"
    records, monitor_rows = train_with_mxnet_logging(log_path)
    expected = expected_points(records, monitor_rows)
    # The Speedometer printed batches 2 and 4 of each epoch, the monitor every second batch from the first.
    assert sorted(expected["train/accuracy"]) == [2, 4, 8, 10]
    assert sorted(expected["monitor/fc1_weight"]) == [0, 2, 4, 6, 8, 10]
    assert sorted(expected["val/accuracy"]) == sorted(expected["train/epoch_time"]) == [5, 11]
    assert len(expected) == 10

    result = run_cli("import-log", str(log_path), "--logdir", str(tmp_path / "logs"))

    assert result.returncode == 0, result.stderr
    assert read_run(tmp_path / "logs" / "digits-train") == expected
    points = sum(map(len, expected.values()))
    lines = len(log_path.read_text().splitlines())
    assert result.stdout.splitlines() == [
        f"{log_path} -> run 'digits-train': 10 tags, {points} points, 6 batches per epoch (learned); "
        f"{lines} lines, 0 unparseable, {lines - len(records)} other",
        f"imported 1 run, 10 tags, {points} points into {tmp_path / 'logs'}",
    ]
    assert result.stderr == ""  # no progress bar without a terminal, nothing to warn about


OLD_FORMAT_LOG = """\
2016-11-02 10:00:00,000 Node[0] start with arguments Namespace(batch_size=128)
2016-11-02 10:00:01,000 Node[0] Epoch[0] Batch [50]\tSpeed: 1500.00 samples/sec\tTrain-accuracy=0.400000
2016-11-02 10:00:02,000 Node[0] Epoch[0] Batch [100]\tSpeed: 1600.00 samples/sec\tTrain-accuracy=0.600000
2016-11-02 10:00:03,000 Node[0] Epoch[0] Train-accuracy=0.550000
2016-11-02 10:00:03,000 Node[0] Epoch[0] Time cost=8.125
2016-11-02 10:00:03,000 Node[0] Epoch[0] Validation-accuracy=0.625000
2016-11-02 10:00:04,000 Node[0] Epoch[1] Batch [50]\tSpeed: 1700.00 samples/sec\tTrain-accuracy=garbage
2016-11-02 10:00:05,000 Node[0] Epoch[1] Batch [100]\tSpeed: 1800.00 samples/sec\tTrain-accuracy=0.750000
"""


def test_import_log_of_old_format_lines_and_several_files(tmp_path):
    old = tmp_path / "old.log"
    old.write_text(OLD_FORMAT_LOG)
    other = tmp_path / "sub" / "old.log"  # same file name: the second run gets a suffix
    other.parent.mkdir()
    other.write_text("Epoch[0] Batch [10]\tSpeed: 5.00 samples/sec\taccuracy=0.500000\n")
    logdir = tmp_path / "logs"

    code = main(["import-log", str(old), str(other), "--logdir", str(logdir), "--batches-per-epoch", "120"])

    assert code == 0
    assert read_run(logdir / "old") == {
        "train/samples_per_sec": {50: 1500.0, 100: 1600.0, 220: 1800.0},
        "train/accuracy": {50: f32(0.4), 100: f32(0.6), 220: 0.75},
        "train/epoch_accuracy": {119: f32(0.55)},
        "train/epoch_time": {119: 8.125},
        "val/accuracy": {119: 0.625},
    }
    assert read_run(logdir / "old_2") == {"train/samples_per_sec": {10: 5.0}, "train/accuracy": {10: 0.5}}


def test_import_log_reports_unparseable_lines_and_never_fails_on_them(tmp_path, capsys):
    log = tmp_path / "old.log"
    log.write_text(OLD_FORMAT_LOG)

    assert main(["import-log", str(log), "--logdir", str(tmp_path / "logs"), "--run", "exp/sgd"]) == 0

    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{log} -> run 'exp/sgd': 5 tags, 9 points, 101 batches per epoch (guessed); 8 lines, 1 unparseable, 1 other",
        f"imported 1 run, 5 tags, 9 points into {tmp_path / 'logs'}",
    ]
    assert err.splitlines() == [
        f"mxnet-tb: {log}:7: cannot parse '2016-11-02 10:00:04,000 Node[0] Epoch[1] Batch [50]\\tSpeed: "
        "1700.00 samples/sec\\tTrain-accuracy=garbage'",
        f"mxnet-tb: {log}: 101 batches per epoch is a guess (the largest batch index printed, plus one; too small if "
        "the Speedometer skipped an epoch's last batches): pass --batches-per-epoch B to set it",
    ]  # the arguments line has batch_size but no num_examples
    assert readback.scalars(tmp_path / "logs" / "exp" / "sgd", "train/accuracy")[-1] == (201, 0.75)


def test_import_log_of_a_file_without_mxnet_lines_fails_with_1(tmp_path, capsys):
    log = tmp_path / "notes.txt"
    log.write_text("hello\nworld\n")
    assert main(["import-log", str(log), "--logdir", str(tmp_path / "logs")]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == f"imported 0 runs, 0 tags, 0 points into {tmp_path / 'logs'}"
    assert err == f"mxnet-tb: {log}: no MXNet training lines found; nothing written\n"
    assert not (tmp_path / "logs" / "notes").exists()


def test_no_input_writes_outside_the_logdir(tmp_path, capsys):
    log = tmp_path / "..log"  # run name derived from '.': not a path part
    log.write_text("Epoch[0] Batch [1]\tSpeed: 1.00 samples/sec\t../../escape=1.000000\n")
    logdir = tmp_path / "logs"
    before = files_under(tmp_path)

    assert main(["import-log", str(log), "--logdir", str(logdir)]) == 0
    assert main(["import-log", str(log), "--logdir", str(logdir), "--run", "../../escape"]) == 2

    created = files_under(tmp_path) - before
    assert all(path.startswith("logs") for path in created), created
    assert readback.accumulate(logdir / "run").Tags()["tensors"] == ["train/samples_per_sec", "train/../../escape"]
    assert "bad run name '../../escape': run name must not contain '..' path parts" in capsys.readouterr().err


# -- checkpoints ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Three epochs of a small CNN with BatchNorm, saved by ``Module.save_checkpoint`` after each epoch."""
    prefix = str(tmp_path_factory.mktemp("models") / "digits-cnn")
    mod = mxnet_models.module(batchnorm=True)
    mxnet_models.fit(mod, num_epoch=3, epoch_end_callback=lambda epoch, *_: mod.save_checkpoint(prefix, epoch + 1))
    return prefix


def load(prefix: str, epoch: int) -> dict[str, np.ndarray]:
    return {key: value.asnumpy() for key, value in mx.nd.load(f"{prefix}-{epoch:04d}.params").items()}


def graph_of(run: Path) -> graph_pb2.GraphDef:
    graphs = [e.graph_def for f in readback.event_files(run) for e in readback.load_events(f) if e.graph_def]
    assert len(graphs) == 1
    return graph_pb2.GraphDef.FromString(graphs[0])


def test_checkpoint_series_reads_back(tmp_path, checkpoints):
    logdir = tmp_path / "logs"
    result = run_cli("checkpoint", checkpoints, "--shape", "data=1,1,8,8", "--logdir", str(logdir), module=True)
    assert result.returncode == 0, result.stderr
    run = logdir / "digits-cnn"
    params = {epoch: load(checkpoints, epoch) for epoch in (1, 2, 3)}
    names = sorted(params[1])
    assert names == [
        "arg:bn0_beta", "arg:bn0_gamma", "arg:conv0_bias", "arg:conv0_weight", "arg:fc1_bias", "arg:fc1_weight",
        "aux:bn0_moving_mean", "aux:bn0_moving_var",
    ]  # fmt: skip

    for key in names:
        group, name = ("aux" if key.startswith("aux:") else "weights"), key.split(":", 1)[1]
        series = {e: params[e][key].astype(np.float64).ravel() for e in (1, 2, 3)}
        assert readback.scalars(run, f"{group}/norm/{name}") == [
            (e, f32(np.sqrt(np.dot(v, v)))) for e, v in series.items()
        ]
        assert readback.scalars(run, f"{group}/mean/{name}") == [(e, f32(v.mean())) for e, v in series.items()]
        assert readback.scalars(run, f"{group}/std/{name}") == [(e, f32(v.std())) for e, v in series.items()]
        histograms = readback.tensors(run, f"{group}/hist/{name}")
        assert [(step, h[:, 2].sum()) for step, h in histograms] == [(e, params[e][key].size) for e in (1, 2, 3)]
        if group == "weights":
            change = [(e, float(np.linalg.norm(series[e] - series[e - 1]))) for e in (2, 3)]
            assert readback.scalars(run, f"change/norm/{name}") == [(e, f32(d)) for e, d in change]
            assert readback.scalars(run, f"change/relative/{name}") == [
                (e, f32(d / np.linalg.norm(series[e - 1]))) for e, d in change
            ]
    assert readback.plugin_name(run, "change/norm/fc1_weight") == "scalars"

    # First-layer filters (4, 1, 3, 3) as one grid image per epoch; fc1_weight is not a convolution.
    images = readback.tensors(run, "weights/filters/conv0_weight")
    _, height, width = make_image_grid(params[1]["arg:conv0_weight"], padding=1).shape
    assert (height, width) == (5, 17)
    assert [(step, int(t[0]), int(t[1])) for step, t in images] == [(e, width, height) for e in (1, 2, 3)]
    tags = readback.accumulate(run).Tags()["tensors"]
    assert [t for t in tags if t.startswith("weights/filters/")] == ["weights/filters/conv0_weight"]

    # The graph, once, with one node per MXNet node and edge shapes from --shape.
    graph = graph_of(run)
    symbol_nodes = json.loads(Path(f"{checkpoints}-symbol.json").read_text())["nodes"]
    assert len(graph.node) == len(symbol_nodes) == 16
    conv = next(n for n in graph.node if n.op == "Convolution")
    assert [[d.size for d in s.dim] for s in conv.attr["_output_shapes"].list.shape] == [[1, 4, 6, 6]]

    tag_count = 8 * 4 + 6 * 2 + 1  # stats and histograms; change norm and relative of 6 weights; filters
    expected_tags = {"__run_graph__", "weights/filters/conv0_weight"}
    for key in names:
        group, name = ("aux" if key.startswith("aux:") else "weights"), key.split(":", 1)[1]
        expected_tags |= {f"{group}/{kind}/{name}" for kind in ("norm", "mean", "std", "hist")}
        if group == "weights":
            expected_tags |= {f"change/norm/{name}", f"change/relative/{name}"}
    assert sorted(tags) == sorted(expected_tags)
    assert len(tags) == tag_count + 1  # and TensorBoard's '__run_graph__'
    assert result.stdout == (
        f"{checkpoints} -> run 'digits-cnn' in {logdir}: 3 epochs (1-3), graph of 16 nodes, "
        f"{tag_count} tags, {8 * 4 * 3 + 6 * 2 * 2 + 3} points\n"
    )


def test_checkpoint_selected_epochs_change_is_between_consecutive_selected(tmp_path, checkpoints):
    logdir = tmp_path / "logs"
    assert main(["checkpoint", checkpoints, "--epochs", "1,3", "--logdir", str(logdir), "--run", "pick"]) == 0
    first, third = load(checkpoints, 1)["arg:fc1_weight"], load(checkpoints, 3)["arg:fc1_weight"]
    delta = np.linalg.norm(third.astype(np.float64).ravel() - first.astype(np.float64).ravel())
    assert readback.scalars(logdir / "pick", "change/norm/fc1_weight") == [(3, f32(delta))]
    assert [s for s, _ in readback.scalars(logdir / "pick", "weights/norm/fc1_weight")] == [1, 3]
    edges = graph_of(logdir / "pick").node[1].attr["_output_shapes"].list.shape
    assert len(edges) == 0  # no --shape: no edge sizes


def test_graph_command_logs_the_graph_and_with_shapes_its_model_card(tmp_path, checkpoints, capsys):
    logdir = tmp_path / "logs"
    symbol = f"{checkpoints}-symbol.json"
    assert main(["graph", symbol, "--shape", "data=2,1,8,8", "--logdir", str(logdir)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{symbol} -> run 'digits-cnn' in {logdir}: graph of 16 nodes with shapes"
    )
    graph = graph_of(logdir / "digits-cnn")
    conv = next(n for n in graph.node if n.op == "Convolution")
    assert [[d.size for d in s.dim] for s in conv.attr["_output_shapes"].list.shape] == [[2, 4, 6, 6]]
    assert set(readback.accumulate(logdir / "digits-cnn").Tags()["tensors"]) == {
        "__run_graph__",
        "model_card",
        "model/parameters",
        "model/trainable_parameters",
        "model/macs_per_sample",
    }
    assert main(["graph", symbol, "--logdir", str(logdir), "--run", "plain"]) == 0  # no shapes: no card
    assert readback.accumulate(logdir / "plain").Tags()["tensors"] == ["__run_graph__"]


# -- usage errors: exit 2 with a message naming the bad value, nothing written -----------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import-log", "{tmp}/missing.log"], "mxnet-tb import-log: error: no such log file: '{tmp}/missing.log'"),
        (
            ["graph", "{tmp}/missing-symbol.json"],
            "mxnet-tb graph: error: no such symbol file: '{tmp}/missing-symbol.json'",
        ),
        (
            ["checkpoint", "{tmp}/missing"],
            "mxnet-tb checkpoint: error: no checkpoint at prefix '{tmp}/missing': no {tmp}/missing-NNNN.params files "
            "nor '{tmp}/missing-symbol.json'",
        ),
        (
            ["checkpoint", "{ckpt}", "--shape", "data=1,x,3"],
            "mxnet-tb checkpoint: error: bad --shape 'data=1,x,3': dimension 'x' is not a positive integer "
            "(expected NAME=D1,D2,..., e.g. data=1,3,224,224)",
        ),
        (
            ["graph", "{ckpt}-symbol.json", "--shape", "data"],
            "mxnet-tb graph: error: bad --shape 'data': expected NAME=D1,D2,..., e.g. data=1,3,224,224",
        ),
        (
            ["graph", "{ckpt}-symbol.json", "--shape", "label=1,2"],
            "mxnet-tb graph: error: --shape label=1,2: shapes names 'label', which is not an input of the network; "
            "its arguments are 'data', 'conv0_weight', 'conv0_bias', 'bn0_gamma', 'bn0_beta', 'fc1_weight', "
            "'fc1_bias', 'softmax_label'",
        ),
        (
            ["checkpoint", "{ckpt}", "--epochs", "1,two"],
            "mxnet-tb checkpoint: error: bad --epochs '1,two': 'two' is not an epoch number or range "
            "(e.g. --epochs 1,5,10 or 10-20)",
        ),
        (
            ["checkpoint", "{ckpt}", "--epochs", "2-5"],
            "mxnet-tb checkpoint: error: --epochs 2-5: no checkpoint '{ckpt}' for epoch 4, 5; available: 1, 2, 3",
        ),
        (
            ["import-log", "{ckpt}-symbol.json", "{ckpt}-symbol.json", "--run", "x"],
            "mxnet-tb import-log: error: --run 'x' names one run, but 2 log files were given",
        ),
        (["serve", "{tmp}/nothing"], "mxnet-tb serve: error: no such log directory: '{tmp}/nothing'"),
    ],
)
def test_usage_errors_exit_2_naming_the_bad_value(tmp_path, checkpoints, capsys, args, message):
    logdir = tmp_path / "logs"
    args = [a.format(tmp=tmp_path, ckpt=checkpoints) for a in args]
    extra = [] if args[0] == "serve" else ["--logdir", str(logdir)]
    assert main(args + extra) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", message.format(tmp=tmp_path, ckpt=checkpoints) + "\n")
    assert not logdir.exists()


def test_console_script_help_and_errors(tmp_path):
    result = run_cli("--help")
    assert result.returncode == 0
    assert "examples:\n  mxnet-tb import-log train.log --logdir runs" in result.stdout
    for command in ("import-log", "checkpoint", "graph", "serve"):
        help_text = run_cli(command, "--help").stdout
        assert f"usage: mxnet-tb {command}" in help_text
        assert f"examples:\n  mxnet-tb {command} " in help_text

    missing = run_cli("import-log", str(tmp_path / "train.log"))
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr == f"mxnet-tb import-log: error: no such log file: '{tmp_path / 'train.log'}'\n"

    shape = run_cli("graph", str(tmp_path / "x-symbol.json"), "--shape", "data=1,x,3", module=True)
    assert shape.returncode == 2
    assert "bad --shape 'data=1,x,3': dimension 'x' is not a positive integer" in shape.stderr

    for args in ([], ["frobnicate"], ["checkpoint", "p", "--epochs", "1", "--all"], ["serve", "--port", "many"]):
        result = run_cli(*args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("usage: mxnet-tb"), result.stderr


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    assert list(_common.progress(range(3), total=3, desc="checkpoints")) == [0, 1, 2]
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(_common, "_stderr_is_tty", lambda: True)
    assert list(_common.progress(range(3), total=3, desc="checkpoints")) == [0, 1, 2]
    assert "checkpoints" in capsys.readouterr().err


def test_importing_the_package_or_the_cli_imports_neither_mxnet_nor_tqdm():
    code = "import sys, mxnet_tb, mxnet_tb.cli; print(sorted({'mxnet', 'tqdm'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "[]\n"


# -- serve ----------------------------------------------------------------------------------------------------------


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def test_serve_answers_and_stops_cleanly_on_ctrl_c(tmp_path):
    logdir = tmp_path / "logs"
    (tmp_path / "t.log").write_text("Epoch[0] Batch [1]\tSpeed: 1.00 samples/sec\n")
    assert main(["import-log", str(tmp_path / "t.log"), "--logdir", str(logdir)]) == 0
    port = free_port()
    process = subprocess.Popen(
        [SCRIPT, "serve", str(logdir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        assert process.stdout.readline() == f"TensorBoard for {logdir} at {url} (Ctrl-C to stop)\n"
        deadline, runs = time.monotonic() + 90, None
        while time.monotonic() < deadline and runs != ["t"]:
            assert process.poll() is None, "serve exited early"
            try:
                runs = json.loads(_get(url + "data/runs"))
            except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
                time.sleep(0.25)
        assert runs == ["t"]

        os.kill(process.pid, signal.SIGINT)  # Ctrl-C reaches mxnet-tb; it stops TensorBoard
        assert process.wait(timeout=30) == 0
        assert process.stdout.read() == "TensorBoard stopped\n"
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            _get(url + "data/runs")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the whole group: mxnet-tb and TensorBoard, if still there
        process.wait(timeout=10)
        process.stdout.close()


def test_unreadable_inputs_fail_with_1_naming_the_file(tmp_path, capsys):
    prefix = tmp_path / "broken"
    Path(f"{prefix}-0001.params").write_bytes(b"not an ndarray file")
    assert main(["checkpoint", str(prefix), "--logdir", str(tmp_path / "logs")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"mxnet-tb: no '{prefix}-symbol.json': logging parameters without the graph and filter images"
    assert err[1].startswith(f"mxnet-tb checkpoint: error: cannot read '{prefix}-0001.params': ")

    Path(f"{prefix}-symbol.json").write_text("{ not json")
    assert main(["graph", f"{prefix}-symbol.json", "--logdir", str(tmp_path / "logs")]) == 1
    assert capsys.readouterr().err.startswith(
        f"mxnet-tb graph: error: '{prefix}-symbol.json' is not an MXNet symbol JSON file: "
    )


def test_import_log_skips_a_point_it_cannot_write_and_imports_the_rest(tmp_path, capsys):
    log = tmp_path / "colour.log"
    log.write_text(
        "Epoch[0] Batch [1]\tSpeed: 1.00 samples/sec\taccuracy=0.500000\n"
        "Epoch[0] Batch [2]\tSpeed: 2.00 samples/sec\taccuracy\x1b=0.750000\n"  # a control character in a name
        "Epoch[0] Validation-accuracy=0.625000\n"
    )
    assert main(["import-log", str(log), "--logdir", str(tmp_path / "logs"), "--batches-per-epoch", "3"]) == 0
    err = capsys.readouterr().err
    assert f"mxnet-tb: {log}:2: skipped: 'train/accuracy\\x1b' is not a usable tag: " in err
    assert read_run(tmp_path / "logs" / "colour") == {
        "train/samples_per_sec": {1: 1.0, 2: 2.0},
        "train/accuracy": {1: 0.5},
        "val/accuracy": {2: 0.625},
    }
