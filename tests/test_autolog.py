"""``mxnet-tb run`` and ``tb.autolog()``: unchanged fit.py-style scripts, read back with TensorBoard's loaders.

The scripts in ``tests/legacy_scripts/`` know nothing of mxnet_tb. They run in subprocesses as a user runs
them (``python -m mxnet_tb run -- SCRIPT ARGS`` and plain ``python SCRIPT ARGS``).
"""

import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mxnet_tb.cli import main
from tests import readback
from tests.tb_server import tensorboard_server

SCRIPTS = Path(__file__).parent / "legacy_scripts"
TRAIN = str(SCRIPTS / "train_digits.py")
B = 7  # ceil(100 examples / batch 16): the iterator pads the last batch
PARAMS = ("conv0_bias", "conv0_weight", "fc1_bias", "fc1_weight")
HPARAMS_TAGS = {"_hparams_/session_start_info", "_hparams_/session_end_info"}

pytestmark = pytest.mark.slow


def f32(value: float) -> float:
    return float(np.float32(value))


def mxnet_tb_run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mxnet_tb", "run", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd)


def plain_python(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def new_run(logdir: Path, before: set) -> Path:
    (run,) = set(logdir.iterdir()) - before
    return run


def series(run: Path, tag: str) -> dict[int, float]:
    return dict(readback.scalars(run, tag))


def logged(log: str, pattern: str) -> dict[int, float]:
    """``{epoch: value}`` of the log lines ``Epoch[e] <pattern>=<value>``."""
    return {int(e): float(v) for e, v in re.findall(rf"Epoch\[(\d+)\] {pattern}=(\S+)", log)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two runs of train_digits.py under ``mxnet-tb run``: 2 epochs with checkpoints, then resumed for a third."""
    root = tmp_path_factory.mktemp("autolog")
    logdir, prefix = root / "runs", str(root / "model" / "digits")
    (root / "model").mkdir()
    first = mxnet_tb_run(
        "--logdir", str(logdir), "--", TRAIN, "--model-prefix", prefix, "--auto-reset", "0", "--lr", "0.1"
    )
    assert first.returncode == 0, first.stderr
    first_run = new_run(logdir, set())
    (root / "first.log").write_text(first.stderr)
    resumed = mxnet_tb_run(
        "--logdir", str(logdir), "--", TRAIN, "--model-prefix", prefix, "--load-epoch", "2", "--num-epochs", "3",
        "--lr", "0.05",
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    return {
        "root": root, "logdir": logdir, "prefix": prefix, "first": first, "first_run": first_run,
        "resumed": resumed, "resumed_run": new_run(logdir, {first_run}), "log": root / "first.log",
    }  # fmt: skip


def expected_tags() -> set[str]:
    tags = {"train/accuracy", "train/samples_per_sec", "train/lr", "val/accuracy", "weights/filters/conv0_weight"}
    for name in PARAMS:
        tags |= {f"weights/hist/{name}", f"weights/norm/{name}"}
        tags |= {f"grads/{stat}/{name}" for stat in ("norm", "mean", "std", "max_abs", "nonfinite", "hist")}
    tags |= readback.MODEL_CARD_TAGS  # tb.params writes the model card once
    tags.add("grads/global_norm")  # autolog's GradMonitor logs it per logged batch
    return tags | {"autolog/batches_per_epoch", "autolog/run", "__run_graph__"} | HPARAMS_TAGS


def test_an_unchanged_fit_py_script_logs_exact_tags_and_steps(trained):
    run, log = trained["first_run"], trained["log"].read_text()
    assert re.fullmatch(r"\d{8}_\d{6}_train_digits", run.name)
    assert set(readback.accumulate(run).Tags()["tensors"]) == expected_tags()
    assert sorted(series(run, "train/accuracy")) == list(range(2 * B))  # every batch of both epochs
    assert series(run, "train/lr") == dict.fromkeys(range(2 * B), f32(0.1))
    assert sorted(series(run, "val/accuracy")) == [B - 1, 2 * B - 1]  # each epoch's last batch
    assert [s for s, _ in readback.tensors(run, "weights/hist/fc1_weight")] == [B - 1, 2 * B - 1]
    assert sorted(series(run, "grads/norm/fc1_weight")) == [0]  # GradMonitor's default interval: 100
    assert series(run, "autolog/batches_per_epoch") == {B - 1: float(B)}
    # The script's own callbacks kept working: its Speedometer logged, do_checkpoint saved both epochs.
    assert re.findall(r"Epoch\[(\d)\] Batch \[0-4\]\tSpeed", log) == ["0", "1"]
    assert Path(f"{trained['prefix']}-0002.params").is_file() and Path(f"{trained['prefix']}-symbol.json").is_file()
    val = series(run, "val/accuracy")
    assert [val[s] for s in (B - 1, 2 * B - 1)] == pytest.approx(list(logged(log, "Validation-accuracy").values()))
    assert trained["first"].stdout.splitlines()[0].startswith("final validation accuracy ")


def test_a_run_resumed_with_load_epoch_continues_the_step_axis(trained):
    run = trained["resumed_run"]
    assert re.fullmatch(r"\d{8}_\d{6}_train_digits(_2)?", run.name)
    assert sorted(series(run, "train/accuracy")) == list(range(2 * B, 3 * B))
    assert sorted(series(run, "val/accuracy")) == [3 * B - 1]
    assert series(run, "train/lr") == dict.fromkeys(range(2 * B, 3 * B), f32(0.05))


@pytest.mark.parametrize("load_fast", [False, True], ids=["python-loader", "rust-data-server"])
def test_hparams_and_the_run_table_reach_a_real_tensorboard(trained, load_fast):
    first, resumed = trained["first_run"].name, trained["resumed_run"].name
    with tensorboard_server(trained["logdir"], load_fast=load_fast) as server:
        server.wait_for("/data/runs", lambda runs: {first, resumed} <= set(runs))
        experiment = server.post_json("/data/plugin/hparams/experiment", {"experimentName": ""})
        infos = {h["name"]: h for h in experiment["hparamInfos"]}
        assert {"lr", "batch_size", "num_epochs", "num_examples", "load_epoch", "model_prefix"} <= set(infos)
        assert {"autolog/command", "autolog/mxnet", "autolog/mxnet_tb", "autolog/python"} <= set(infos)
        assert "monitor" in infos and "fail" in infos
        lr = infos["lr"]
        assert lr["type"] == "DATA_TYPE_FLOAT64"
        assert (lr["domainInterval"]["minValue"], lr["domainInterval"]["maxValue"]) == (0.05, 0.1)
        assert sorted(infos["autolog/mxnet"]["domainDiscrete"]) == ["1.9.1"]
        metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
        assert {"val/accuracy", "train/accuracy"} <= metrics
        (text,) = server.get_json("/data/plugin/text/text", run=first, tag="autolog/run")
        assert "<td>lr</td>" in text["text"] and "<code>0.1</code>" in text["text"]
        assert "<td>mxnet</td>" in text["text"] and "<code>1.9.1</code>" in text["text"]
        assert "--model-prefix" in text["text"]  # the command line


def test_import_log_recovers_exact_batches_per_epoch_and_overlays_the_live_run(trained, capsys):
    logdir, live = trained["logdir"], trained["first_run"]
    assert main(["import-log", str(trained["log"]), "--logdir", str(logdir), "--run", "imported"]) == 0
    out, err = capsys.readouterr()
    assert f"{B} batches per epoch (from the log's arguments)" in out and err == ""
    imported = logdir / "imported"
    shared = {"train/accuracy", "train/samples_per_sec", "val/accuracy"}
    assert shared <= set(readback.accumulate(imported).Tags()["tensors"])
    for tag in shared:
        assert set(series(imported, tag)) <= set(series(live, tag)), tag  # one chart, one step axis
    # Validation, and training accuracy (Speedometer auto_reset=False: both since the epoch's start), agree.
    for tag in ("val/accuracy", "train/accuracy"):
        theirs, ours = series(imported, tag), series(live, tag)
        assert sorted(theirs) == ([B - 1, 2 * B - 1] if tag.startswith("val") else [4, B + 4])
        assert [theirs[s] for s in theirs] == pytest.approx([ours[s] for s in theirs], abs=1e-6), tag


def test_without_the_arguments_line_batches_per_epoch_is_guessed_and_says_so(trained, tmp_path, capsys):
    log = tmp_path / "no-arguments.log"
    lines = trained["log"].read_text().splitlines(keepends=True)
    log.write_text("".join(line for line in lines if "start with arguments" not in line))
    assert main(["import-log", str(log), "--logdir", str(tmp_path / "runs")]) == 0
    out, err = capsys.readouterr()
    assert "5 batches per epoch (guessed)" in out  # Speedometer(4) never printed batches 5 and 6
    assert "pass --batches-per-epoch B to set it" in err


def test_checkpoint_all_puts_weights_at_the_live_step_learned_from_the_run(trained, capsys):
    logdir, live = trained["logdir"], trained["first_run"]
    assert main(["checkpoint", trained["prefix"], "--all", "--logdir", str(logdir), "--run", "ckpt"]) == 0
    out = capsys.readouterr().out
    assert f"3 epochs (1-3) at steps {B - 1}-{3 * B - 1} ({B} batches per epoch, from run " in out
    norms = series(logdir / "ckpt", "weights/norm/fc1_weight")
    assert sorted(norms) == [B - 1, 2 * B - 1, 3 * B - 1]
    live_norms = series(live, "weights/norm/fc1_weight")
    assert {s: norms[s] for s in live_norms} == live_norms  # the same weights at the same steps
    assert (
        series(logdir / "ckpt", "weights/norm/fc1_weight")[3 * B - 1]
        == series(trained["resumed_run"], "weights/norm/fc1_weight")[3 * B - 1]
    )


def test_checkpoint_reads_batches_per_epoch_from_a_log_or_the_option(trained, tmp_path, capsys):
    prefix = trained["prefix"]
    assert main(["checkpoint", prefix, "--epochs", "2", "--logdir", str(tmp_path), "--log", str(trained["log"])]) == 0
    assert f"at steps {2 * B - 1}-{2 * B - 1} ({B} batches per epoch, arguments from " in capsys.readouterr().out
    assert (
        main(
            [
                "checkpoint",
                prefix,
                "--epochs",
                "1",
                "--logdir",
                str(tmp_path),
                "--run",
                "b",
                "--batches-per-epoch",
                "10",
            ]
        )
        == 0
    )
    assert sorted(series(tmp_path / "b", "weights/norm/fc1_weight")) == [9]


def test_the_script_sees_what_plain_python_gives_it_and_ends_the_same_way(tmp_path):
    for args, code in (
        (["--callback-style", "single", "--exit-code", "3"], 3),
        (["--callback-style", "none", "--fail"], 1),
    ):
        common = [TRAIN, "--num-epochs", "1", *args]
        plain = plain_python(*common, cwd=tmp_path)
        ours = mxnet_tb_run("--logdir", str(tmp_path / "runs"), "--", *common, cwd=tmp_path)
        assert (ours.returncode, plain.returncode) == (code, code)
        assert ours.stdout == plain.stdout  # final accuracy, __name__, argv, sys.path[0] as python gives them
        assert "__name__=__main__" in ours.stdout and "path0_is_here=True" in ours.stdout
        assert ("Speed:" in ours.stderr) == ("single" in args)  # a single Speedometer callable still runs
    assert ours.stderr.splitlines()[-1] == plain.stderr.splitlines()[-1] == "RuntimeError: failing as asked"
    traceback = ours.stderr[ours.stderr.index("Traceback (most recent call last):") :]
    assert "runpy" not in traceback and "mxnet_tb" not in traceback  # the script's frames, as python shows
    assert len(list((tmp_path / "runs").iterdir())) == 2  # each run its own directory


SLEEPER = """\
import sys, time
print("mxnet imported:", "mxnet" in sys.modules, flush=True)
time.sleep(60)
"""


def test_ctrl_c_ends_the_script_as_python_does_and_mxnet_is_not_imported_first(tmp_path):
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    codes = []
    for command in ([sys.executable, str(script)], [sys.executable, "-m", "mxnet_tb", "run", "--", str(script)]):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        assert process.stdout.readline() == "mxnet imported: False\n"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        codes.append(process.returncode)
        assert err.splitlines()[-1] == "KeyboardInterrupt"
    assert codes == [-signal.SIGINT, -signal.SIGINT]


def test_mxboard_scripts_and_log_metrics_callback_run_unchanged(tmp_path):
    board = mxnet_tb_run(
        "--logdir", str(tmp_path / "runs"), "--", str(SCRIPTS / "mxboard_writer.py"), str(tmp_path / "mb")
    )
    assert board.returncode == 0, board.stderr
    assert board.stdout == "mxboard script done\n"
    assert readback.scalars(tmp_path / "mb", "loss") == [(0, 1.0), (1, 0.5), (2, f32(1 / 3))]
    assert readback.plugin_name(tmp_path / "mb", "weights") == "histograms"

    metrics = mxnet_tb_run(
        "--logdir", str(tmp_path / "runs"), "--", str(SCRIPTS / "log_metrics.py"), str(tmp_path / "lm")
    )
    assert metrics.returncode == 0, metrics.stderr
    train = readback.scalars(tmp_path / "lm" / "train", "accuracy")
    assert sorted({step for step, _ in train}) == [0, 1]  # LogMetricsCallback logs at step = epoch
    assert [step for step, _ in readback.scalars(tmp_path / "lm" / "eval", "accuracy")] == [0, 1]
    (live,) = (tmp_path / "runs").glob("*_log_metrics")
    assert sorted(series(live, "val/accuracy")) == [3, 7]  # and autolog instrumented the same fit

    try:
        import mxboard  # noqa: F401
    except Exception:  # no working MXBoard here: the plain script fails as it does for users
        plain = plain_python(str(SCRIPTS / "log_metrics.py"), str(tmp_path / "plain"))
        assert plain.returncode == 1
        assert "'LogMetricsCallback' object has no attribute 'summary_writer'" in plain.stderr


def test_run_usage_errors_exit_2_and_run_nothing(tmp_path, capsys):
    assert main(["run", "--logdir", str(tmp_path), "--", str(tmp_path / "missing.py")]) == 2
    assert capsys.readouterr().err == f"mxnet-tb run: error: no such script: '{tmp_path / 'missing.py'}'\n"
    assert main(["run", "--every", "0", "--logdir", str(tmp_path), "--", TRAIN]) == 2
    assert capsys.readouterr().err == "mxnet-tb run: error: --every must be an integer >= 1; got 0\n"
    assert list(tmp_path.iterdir()) == []
    help_text = subprocess.run(
        [sys.executable, "-m", "mxnet_tb", "run", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "usage: mxnet-tb run" in help_text and "examples:\n  mxnet-tb run -- train_mnist.py" in help_text


@pytest.mark.parametrize(
    "argv, script_args",
    [
        (["run", "--", "t.py", "--lr", "1", "--logdir", "x"], ["--lr", "1", "--logdir", "x"]),
        (["run", "t.py", "--every", "2", "--weights"], ["--every", "2", "--weights"]),
        (["run", "--every", "3", "t.py", "--", "--x"], ["--", "--x"]),  # the script's own '--' is kept
        (["run", "--logdir=a", "--no-grads", "--", "t.py", "--", "-h"], ["--", "-h"]),
    ],
)
def test_the_scripts_arguments_reach_it_verbatim(argv, script_args):
    from mxnet_tb.cli import build_parser
    from mxnet_tb.cli.run import protect_script_args

    args = build_parser().parse_args(protect_script_args(argv))
    assert (args.script, args.script_args) == ("t.py", script_args)


def test_a_multi_device_monitor_log_imports_as_one_batch_per_count(tmp_path, capsys):
    # fit.py's --monitor on two devices: MXNet prints every tensor once per device at each count.
    logdir = tmp_path / "runs"
    done = mxnet_tb_run(
        "--logdir", str(logdir), "--", TRAIN, "--monitor", "3", "--num-devices", "2", "--disp-batches", "2"
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = re.findall(r"Batch:\s+(\d+) fc1_weight\s+(\S+)", done.stderr)
    assert [count for count, _ in printed] == ["1", "1", "4", "4", "7", "7", "10", "10", "13", "13"]
    (live,) = logdir.iterdir()
    assert not any(t.startswith("grads/") for t in readback.accumulate(live).Tags()["tensors"])  # its monitor kept
    log = tmp_path / "two-devices.log"
    log.write_text(done.stderr)

    assert main(["import-log", str(log), "--logdir", str(logdir), "--run", "imported"]) == 0
    out, err = capsys.readouterr()
    assert f"{B} batches per epoch (from the log's arguments)" in out
    assert "the first of each was kept" in err and "replaced" not in err
    monitor = series(logdir / "imported", "monitor/fc1_weight")
    assert monitor == {int(c) - 1: f32(float(v)) for c, v in printed[::2]}  # steps 0, 3, ..., 12: no restart
    assert sorted(series(logdir / "imported", "val/accuracy")) == sorted(series(live, "val/accuracy")) == [6, 13]


def test_checkpoint_step_options_are_checked_before_anything_is_written(trained, tmp_path, capsys):
    prefix, logdir = trained["prefix"], tmp_path / "runs"
    assert main(["checkpoint", prefix, "--logdir", str(logdir), "--batches-per-epoch", "0"]) == 2
    assert capsys.readouterr().err == "mxnet-tb checkpoint: error: --batches-per-epoch must be an integer >= 1; got 0\n"
    assert main(["checkpoint", prefix, "--logdir", str(logdir), "--log", str(tmp_path / "none.log")]) == 2
    assert capsys.readouterr().err == f"mxnet-tb checkpoint: error: no such log file: '{tmp_path / 'none.log'}'\n"
    assert not logdir.exists()


def test_run_doctor_judges_an_unchanged_script_and_a_failing_script_ends_failure(tmp_path):
    from tensorboard.plugins.hparams import api_pb2, metadata

    logdir = tmp_path / "runs"
    args = ("--lr", "100", "--num-examples", "1700", "--num-epochs", "1", "--fail")  # 106 batches: steps 0, 100 judged
    done = mxnet_tb_run("--doctor", "--logdir", str(logdir), "--", TRAIN, *args)
    assert done.returncode == 1  # --fail raises once training is over
    # Judged every 100 batches: by step 100 an update between the two has made the weights NaN, and the
    # replay of that batch says so (an earlier update, not an operator of this batch).
    assert "mxnet_tb doctor: nonfinite_tensors at step 100: grads/conv0_weight" in done.stderr
    assert "the inputs already hold NaN/Inf before any operator runs: conv0_weight" in done.stderr
    (run,) = logdir.iterdir()
    assert readback.scalars(run, "alerts/nonfinite_tensors") == [(0, 0.0), (100, 11.0)]  # 7 gradients, 4 weights
    acc = readback.accumulate(run)
    assert "doctor" in acc.Tags()["tensors"]
    content = acc.SummaryMetadata(metadata.SESSION_END_INFO_TAG).plugin_data.content
    assert metadata.parse_session_end_info_plugin_data(content).status == api_pb2.STATUS_FAILURE
