"""writer.run(name): a child-run view for train/val layouts, and add_histogram_raw for counts made elsewhere."""

import pytest
from tensorboard.util import tensor_util

from mxnet_tb import SummaryWriter, WriterClosedError

from .readback import accumulate, event_files, scalars


def test_run_views_write_the_same_tag_into_sibling_runs(tmp_path):
    with SummaryWriter(tmp_path) as sw:
        train, val = sw.run("train"), sw.run("val")
        for step in range(3):
            train.add_scalar("loss", 1.0 - step / 10, step)
        val.add_scalar("loss", 0.5, 2)
        sw.add_scalar("lr", 0.1, 0)
    assert scalars(tmp_path / "train", "loss") == [(0, 1.0), (1, pytest.approx(0.9)), (2, pytest.approx(0.8))]
    assert scalars(tmp_path / "val", "loss") == [(2, 0.5)]
    assert scalars(tmp_path, "lr") == [(0, pytest.approx(0.1))]
    assert len(event_files(tmp_path / "train")) == 1  # one file per run, however many views of it


def test_run_views_count_automatic_steps_per_run(tmp_path):
    with SummaryWriter(tmp_path) as sw:
        for _ in range(2):
            sw.run("a").add_scalar("x", 1.0)
        sw.add_scalar("x", 2.0)
        sw.run("a/b").add_scalar("x", 3.0)
    assert [s for s, _ in scalars(tmp_path / "a", "x")] == [0, 1]
    assert [s for s, _ in scalars(tmp_path, "x")] == [0]
    assert [s for s, _ in scalars(tmp_path / "a" / "b", "x")] == [0]


def test_a_view_of_a_view_is_the_nested_run(tmp_path):
    with SummaryWriter(tmp_path) as sw:
        sw.run("val").run("fold1").add_scalar("acc", 0.9, 1)
        assert sw.run("val").run("fold1") is sw.run("val/fold1")
        assert sw.run("val").get_logdir().endswith("val")
    assert scalars(tmp_path / "val" / "fold1", "acc") == [(1, pytest.approx(0.9))]


@pytest.mark.parametrize("name", ["../outside", "", "/", "a/../../b", 3, None])
def test_run_names_cannot_leave_the_logdir(tmp_path, name):
    sw = SummaryWriter(tmp_path / "run")
    with pytest.raises((ValueError, TypeError)):
        sw.run(name)
    sw.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_leading_slash_names_a_run_inside_the_logdir(tmp_path):
    with SummaryWriter(tmp_path) as sw:
        assert sw.run("/etc").get_logdir() == str(tmp_path / "etc")


def test_closing_a_view_flushes_and_the_owner_closes_everything(tmp_path):
    sw = SummaryWriter(tmp_path)
    view = sw.run("train")
    view.add_scalar("loss", 1.0, 0)
    view.close()
    assert scalars(tmp_path / "train", "loss") == [(0, 1.0)]
    view.add_scalar("loss", 0.5, 1)  # still open: its owner is
    sw.close()
    with pytest.raises(WriterClosedError):
        view.add_scalar("loss", 0.25, 2)
    with pytest.raises(WriterClosedError):
        sw.run("other")
    assert scalars(tmp_path / "train", "loss") == [(0, 1.0), (1, 0.5)]


def test_histogram_raw_reads_back_exactly(tmp_path):
    with SummaryWriter(tmp_path) as sw:
        sw.add_histogram_raw(
            "w", min=-1.0, max=2.0, num=5, sum=3.0, sum_squares=7.0,
            bucket_limits=[0.0, 1.0, 2.0], bucket_counts=[1, 3, 1], global_step=4,
        )  # fmt: skip
    (event,) = accumulate(tmp_path).Tensors("w")
    assert event.step == 4
    buckets = tensor_util.make_ndarray(event.tensor_proto)
    assert buckets.tolist() == [[-1.0, 0.0, 1.0], [0.0, 1.0, 3.0], [1.0, 2.0, 1.0]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bucket_counts": [1, 2]}, "equal, non-zero length"),
        ({"bucket_limits": [0.0, 2.0, 1.0]}, "must increase"),
        ({"bucket_counts": [1, -1, 0]}, "finite and >= 0"),
        ({"num": -1}, "num of histogram 'w'"),
        ({"min": float("nan")}, "min of histogram 'w' must be finite"),
        ({"min": 3.0}, "above its max"),
        ({"sum": "x"}, "sum of histogram 'w'"),
    ],
)
def test_bad_raw_histograms_raise_naming_the_field_and_write_nothing(tmp_path, change, message):
    good = dict(min=-1.0, max=2.0, num=5, sum=3.0, sum_squares=7.0, bucket_limits=[0.0, 1.0, 2.0])
    good["bucket_counts"] = [1, 3, 1]
    with SummaryWriter(tmp_path) as sw:
        with pytest.raises((ValueError, TypeError), match=message):
            sw.add_histogram_raw("w", **{**good, **change}, global_step=0)
        sw.add_histogram_raw("w", **good, global_step=0)  # the failed call used no step
    assert [e.step for e in accumulate(tmp_path).Tensors("w")] == [0]
