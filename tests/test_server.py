"""End to end: what the SummaryWriter writes, a real TensorBoard server serves (both loaders)."""

import pytest

from mxnet_tb import SummaryWriter

from .tb_server import tensorboard_server


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("served") / "logs"
    with SummaryWriter(str(logdir)) as sw:
        for step in range(5):
            sw.add_scalar("loss", 1.0 / (step + 1), global_step=step)
            sw.add_scalar("acc", {"train": 0.5 + step / 10, "val": 0.4 + step / 10}, global_step=step)
        sw.add_histogram("weights/fc1", [0.0, 1.0, 1.0, 2.0], global_step=3, bins=3)
        sw.add_text("notes", "hello **world**", global_step=2)
    return logdir


@pytest.mark.parametrize("load_fast", [False, True], ids=["python-loader", "rust-data-server"])
def test_tensorboard_serves_scalars_histograms_and_text(written, load_fast):
    with tensorboard_server(written, load_fast=load_fast) as server:
        runs = server.wait_for("/data/runs", lambda r: {".", "acc/train", "acc/val"} <= set(r))
        assert set(runs) == {".", "acc/train", "acc/val"}
        tags = server.wait_for("/data/plugin/scalars/tags", lambda t: "." in t and "acc/val" in t)
        assert set(tags["."]) == {"loss"} and set(tags["acc/train"]) == {"acc"}
        loss = server.get_json("/data/plugin/scalars/scalars", run=".", tag="loss")
        assert [(step, value) for _, step, value in loss] == [(s, pytest.approx(1.0 / (s + 1))) for s in range(5)]
        val = server.get_json("/data/plugin/scalars/scalars", run="acc/val", tag="acc")
        assert [step for _, step, _ in val] == list(range(5))
        histo = server.get_json("/data/plugin/histograms/histograms", run=".", tag="weights/fc1")
        ((_, step, buckets),) = histo
        assert step == 3 and [count for _, _, count in buckets] == [1.0, 2.0, 1.0]
        text = server.get_json("/data/plugin/text/text", run=".", tag="notes")
        assert text[0]["step"] == 2 and "<strong>world</strong>" in text[0]["text"]
