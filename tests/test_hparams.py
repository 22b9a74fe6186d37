"""add_hparams: session start/end values for the hparams plugin, metrics as scalars, in the writer's own run."""

import os

import numpy as np
import pytest
from tensorboard.plugins.hparams import api_pb2, metadata

from mxnet_tb import SummaryWriter

from .readback import accumulate, event_files, summary_events


def start_info(logdir):
    acc = accumulate(logdir)
    content = acc.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data
    assert content.plugin_name == "hparams"
    return metadata.parse_session_start_info_plugin_data(content.content), acc


def test_hparams_and_metrics_are_written_in_the_same_run(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_hparams(
            {"lr": 0.1, "layers": np.int64(3), "optimizer": "sgd", "bn": True},
            {"hparam/accuracy": 0.75},
            walltime=100.0,
        )
    start, acc = start_info(logdir)
    assert {k: v.WhichOneof("kind") for k, v in start.hparams.items()} == {
        "lr": "number_value",
        "layers": "number_value",
        "optimizer": "string_value",
        "bn": "bool_value",
    }
    assert start.hparams["lr"].number_value == 0.1 and start.hparams["layers"].number_value == 3.0
    assert start.hparams["optimizer"].string_value == "sgd" and start.hparams["bn"].bool_value is True
    assert start.start_time_secs == 100.0
    end = metadata.parse_session_end_info_plugin_data(
        acc.SummaryMetadata(metadata.SESSION_END_INFO_TAG).plugin_data.content
    )
    assert end.status == api_pb2.STATUS_SUCCESS
    assert metadata.EXPERIMENT_TAG not in acc.Tags()["tensors"]
    (metric,) = acc.Tensors("hparam/accuracy")
    assert acc.SummaryMetadata("hparam/accuracy").plugin_data.plugin_name == "scalars"
    assert float(metric.tensor_proto.float_val[0]) == 0.75
    assert os.listdir(logdir) == [os.path.basename(f) for f in event_files(logdir)]  # no time-named sub-run


def test_a_named_sub_run(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_hparams({"lr": 0.5}, {"acc": 1.0}, name="trial_1")
    start, _ = start_info(os.path.join(logdir, "trial_1"))
    assert start.hparams["lr"].number_value == 0.5


def test_a_second_call_for_the_same_run_is_refused(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_hparams({"lr": 0.1}, {"acc": 0.5})
        with pytest.raises(ValueError, match="already logged for this writer's run"):
            sw.add_hparams({"lr": 0.2}, {"acc": 0.6})
    assert len(summary_events(logdir)) == 3  # the first call's session start and metric, its end at close


@pytest.mark.parametrize(
    "hparams, metrics, name, error, match",
    [
        ({}, {}, None, TypeError, "non-empty dict"),
        ({"lr": [0.1]}, {}, None, TypeError, "hparam 'lr' must be a bool, a number or a str; got list"),
        ({"lr": None}, {}, None, TypeError, "got NoneType"),
        ({"lr": float("nan")}, {}, None, ValueError, "must be finite"),
        ({1: 2}, {}, None, TypeError, "names must be non-empty str"),
        ({"lr": 0.1}, {"acc": "high"}, None, TypeError, "metric 'acc'"),
        ({"lr": 0.1}, [0.5], None, TypeError, "metric_dict must be a dict"),
        ({"lr": 0.1}, {}, "../../x", ValueError, r"'\.\.' path parts"),
        ({"lr": 0.1}, {}, "a\\b", ValueError, "path separators other than '/'"),
        ({"lr": 0.1}, {}, "a\x00b", ValueError, "control characters"),
    ],
)
def test_bad_arguments_raise_and_log_nothing(tmp_path, hparams, metrics, name, error, match):
    logdir = tmp_path / "logs"
    with SummaryWriter(str(logdir)) as sw, pytest.raises(error, match=match):
        sw.add_hparams(hparams, metrics, name=name)
    assert summary_events(logdir) == [] and sorted(os.listdir(tmp_path)) == ["logs"]


def session_status(logdir):
    acc = accumulate(logdir)
    content = acc.SummaryMetadata(metadata.SESSION_END_INFO_TAG).plugin_data.content
    return metadata.parse_session_end_info_plugin_data(content).status


def test_a_with_block_left_by_an_exception_ends_the_session_as_failure(logdir):
    with pytest.raises(RuntimeError, match="diverged"), SummaryWriter(logdir) as sw:
        sw.add_hparams({"lr": 100.0}, {})
        raise RuntimeError("diverged")
    assert session_status(logdir) == api_pb2.STATUS_FAILURE


def test_end_session_failure_is_kept_when_the_writer_closes_later(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_hparams({"lr": 1.0}, {})
        sw.end_session("failure")
        sw.add_scalar("loss", 1.0, 0)
    assert session_status(logdir) == api_pb2.STATUS_FAILURE
    ends = [v for e in summary_events(logdir) for v in e.summary.value if v.tag == metadata.SESSION_END_INFO_TAG]
    assert len(ends) == 1


def test_end_session_rejects_an_unknown_status_and_writes_nothing(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_hparams({"lr": 1.0}, {})
        with pytest.raises(ValueError, match="status must be one of"):
            sw.end_session("crashed")
    assert session_status(logdir) == api_pb2.STATUS_SUCCESS


def test_a_script_dying_of_an_uncaught_exception_ends_failure_and_a_clean_one_success(tmp_path):
    import subprocess
    import sys

    script = (
        "import sys, mxnet_tb as tb\n"
        "sw = tb.SummaryWriter(sys.argv[1])\n"
        "sw.add_hparams({'lr': 0.1}, {})\n"
        "sw.add_scalar('loss', 1.0, 0)\n"
        "if sys.argv[2] == 'raise':\n"
        "    raise RuntimeError('boom')\n"
    )
    for mode, status in (("raise", api_pb2.STATUS_FAILURE), ("ok", api_pb2.STATUS_SUCCESS)):
        run = tmp_path / mode
        done = subprocess.run([sys.executable, "-c", script, str(run), mode], capture_output=True, text=True)
        assert (done.returncode != 0) == (mode == "raise"), done.stderr
        assert session_status(run) == status
