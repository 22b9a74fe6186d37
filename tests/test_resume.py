"""Resuming a crashed run: purge_step hides its later points in both TensorBoard loaders, and the Module
callbacks continue the curve from begin_epoch."""

import os

import pytest

from mxnet_tb import SummaryWriter

from .readback import event_files, load_events, scalars
from .tb_server import tensorboard_server


def _crashed_run(logdir):
    sw = SummaryWriter(logdir)
    for step in range(100):
        sw.add_scalar("loss", float(step), global_step=step)
        sw.add_scalar("acc", {"train": step / 100.0}, global_step=step)
        if step % 10 == 0:
            sw.add_histogram("weights", [float(step)] * 4, global_step=step)
    sw.add_text("notes", "crashed at 100", global_step=99)
    sw.flush()
    return sw  # never closed: as if the process died (files end where the last flush left them)


def _resume(logdir, at=50, until=60):
    with SummaryWriter(logdir, purge_step=at) as sw:
        for step in range(at, until):
            sw.add_scalar("loss", 1000.0 + step, global_step=step)
            sw.add_scalar("acc", {"train": 10.0 + step}, global_step=step)


def test_purge_step_hides_the_crashed_points_in_the_python_loader(tmp_path):
    logdir = str(tmp_path / "run")
    _crashed_run(logdir)
    _resume(logdir)
    expected = [(s, float(s)) for s in range(50)] + [(s, 1000.0 + s) for s in range(50, 60)]
    assert scalars(logdir, "loss") == expected
    train = [(s, v) for s, v in scalars(os.path.join(logdir, "acc", "train"), "acc")]
    assert [s for s, _ in train] == list(range(60)) and train[-1][1] == pytest.approx(69.0)
    # steps >= 50 are gone from the files themselves, graph-free events and earlier steps are kept
    steps = [e.step for f in event_files(logdir) for e in load_events(f) if e.HasField("summary")]
    assert sorted(s for s in steps if s >= 50) == sorted([s for s in range(50, 60)])
    assert 0 in steps and 49 in steps


@pytest.mark.parametrize("load_fast", [False, True], ids=["python-loader", "rust-data-server"])
def test_purge_step_hides_the_crashed_points_in_a_server(tmp_path, load_fast):
    root = tmp_path / "runs"
    logdir = str(root / "exp")
    _crashed_run(logdir)
    _resume(logdir)
    with tensorboard_server(root, load_fast=load_fast) as server:
        loss = server.wait_for("/data/plugin/scalars/scalars", lambda p: len(p) >= 60, run="exp", tag="loss")
        assert [(step, value) for _, step, value in loss] == [(s, float(s)) for s in range(50)] + [
            (s, 1000.0 + s) for s in range(50, 60)
        ]
        histograms = server.get_json("/data/plugin/histograms/histograms", run="exp", tag="weights")
        assert [step for _, step, _ in histograms] == [0, 10, 20, 30, 40]  # never re-logged, still hidden
        text = server.get_json("/data/plugin/text/text", run="exp", tag="notes")
        assert text == []


def test_purge_step_is_validated(tmp_path):
    with pytest.raises(ValueError, match="purge_step"):
        SummaryWriter(str(tmp_path), purge_step=-1)
    with pytest.raises(TypeError, match="purge_step"):
        SummaryWriter(str(tmp_path), purge_step="5")
