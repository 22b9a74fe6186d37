"""The doctor's output through a real TensorBoard server, with the Python loader and the Rust data server:
alert scalars, the TEXT report, and the HPARAMS status of a run the doctor stopped (FAILURE) and of one that
ended normally (SUCCESS)."""

from __future__ import annotations

import contextlib

import mxnet as mx
import pytest

import mxnet_tb as tb

from .tb_server import tensorboard_server
from .test_doctor import digits_iter, mlp

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("doctor_runs")
    for name, bias, lr in (("dead", -10.0, 0.1), ("healthy", 0.0, 0.1)):
        writer = tb.SummaryWriter(str(root / name))
        writer.add_hparams({"lr": lr, "bias": bias}, {})
        mod = mx.mod.Module(mlp(2, "relu"), context=mx.cpu())
        with contextlib.suppress(tb.DoctorAlert):  # the dead run stops at its first batch
            mod.fit(
                digits_iter(320),
                num_epoch=1,
                eval_metric="ce",
                initializer=mx.init.Xavier(),
                arg_params={"fc1_bias": mx.nd.full((64,), bias)},
                allow_missing=True,
                optimizer_params={"learning_rate": lr},
                monitor=tb.Doctor(1, writer=writer, on_alert="raise"),
                batch_end_callback=tb.scalars(writer=writer),
            )
        writer.close()
    return root


@pytest.mark.parametrize("load_fast", [False, True], ids=["python-loader", "rust-data-server"])
def test_alerts_report_and_session_status_reach_tensorboard(runs, load_fast):
    with tensorboard_server(runs, load_fast=load_fast) as server:
        server.wait_for("/data/runs", lambda found: {"dead", "healthy"} <= set(found))
        dead = server.get_json("/data/plugin/scalars/scalars", run="dead", tag="alerts/dead_relu")
        assert [(point[1], point[2]) for point in dead] == [(0, 1.0)]
        healthy = server.get_json("/data/plugin/scalars/scalars", run="healthy", tag="alerts/dead_relu")
        assert [point[1] for point in healthy] == list(range(5)) and {point[2] for point in healthy} == {0.0}
        (report,) = server.get_json("/data/plugin/text/text", run="dead", tag="doctor")
        assert "<td>dead_relu</td>" in report["text"] and "LeakyReLU" in report["text"]
        (fine,) = server.get_json("/data/plugin/text/text", run="healthy", tag="doctor")
        assert "No rule has fired" in fine["text"]
        groups = server.post_json(
            "/data/plugin/hparams/session_groups",
            {
                "experimentName": "",
                "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
                "colParams": [],
                "startIndex": 0,
                "sliceSize": 10,
            },
        )
        status = {s["name"]: s["status"] for g in groups["sessionGroups"] for s in g["sessions"]}
        assert status == {"dead": "STATUS_FAILURE", "healthy": "STATUS_SUCCESS"}
