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
    assert len(summary_events(logdir)) == 2  # the first call's session event and metric only


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
