import math
import os
import warnings

import mxnet as mx
import numpy as np
import pytest

from mxnet_tb import StepOrderWarning, SummaryWriter, WriterClosedError

from .readback import accumulate, event_files, scalars, summary_events


def test_scalars_read_back_with_exact_tags_steps_and_values(logdir):
    with SummaryWriter(logdir) as sw:
        for step in range(5):
            sw.add_scalar("loss/train", 1.0 / (step + 1), global_step=step * 10)
        sw.add_scalar("lr", 0.1, global_step=0, walltime=1234.5)
    assert scalars(logdir, "loss/train") == [(s * 10, pytest.approx(1.0 / (s + 1), rel=1e-7)) for s in range(5)]
    assert scalars(logdir, "lr") == [(0, pytest.approx(0.1, rel=1e-7))]
    lr_event = next(e for e in summary_events(logdir) if e.summary.value[0].tag == "lr")
    assert lr_event.wall_time == 1234.5
    assert set(accumulate(logdir).Tags()["tensors"]) == {"loss/train", "lr"}


@pytest.mark.parametrize(
    "value, expected",
    [
        (3, 3.0),
        (True, 1.0),
        (np.float16(0.5), 0.5),
        (np.int64(7), 7.0),
        (np.array(2.5), 2.5),
        (np.array([[4.0]], dtype=np.float32), 4.0),
        (mx.nd.array([1.25], dtype="float16"), 1.25),
        (mx.nd.array([9], dtype="int32"), 9.0),
        (mx.nd.array([0.75]).reshape((1, 1)), 0.75),
        (mx.nd.ones((1,), dtype="uint8"), 1.0),
        (mx.nd.array([0.5]).mean(), 0.5),
        (mx.nd.array([0.5]).mean().asscalar(), 0.5),
        (math.inf, math.inf),
        (1e39, math.inf),  # beyond float32: stored as +inf, like protobuf does
    ],
)
def test_scalar_accepts_numbers_numpy_and_ndarrays(logdir, value, expected):
    with SummaryWriter(logdir) as sw:
        sw.add_scalar("v", value, global_step=1)
    assert scalars(logdir, "v") == [(1, expected)]


def test_nan_scalar_is_kept(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_scalar("v", float("nan"))
    ((step, value),) = scalars(logdir, "v")
    assert step == 0 and math.isnan(value)


@pytest.mark.parametrize(
    "value, error, message",
    [
        ("0.5", TypeError, "value for tag 'v'.*str"),
        (None, TypeError, "NoneType"),
        (1 + 2j, TypeError, "complex"),
        (np.array([1.0, 2.0]), ValueError, r"single number.*\(2,\)"),
        (mx.nd.zeros((2, 3)), ValueError, r"\(2, 3\)"),
        (np.array([1j]), TypeError, "complex"),
        (10**400, ValueError, "too large"),
    ],
)
def test_bad_scalar_values_raise_naming_tag_and_problem(logdir, value, error, message):
    with SummaryWriter(logdir) as sw:
        with pytest.raises(error, match=message):
            sw.add_scalar("v", value)
        sw.add_scalar("v", 1.0)  # the writer stays usable
    assert scalars(logdir, "v") == [(0, 1.0)]


@pytest.mark.parametrize(
    "tag, error, message",
    [
        (None, TypeError, "tag must be a str; got NoneType"),
        (3, TypeError, "tag must be a str; got int"),
        (b"loss", TypeError, "got bytes"),
        ("", ValueError, "non-empty"),
        ("  / ", ValueError, "non-empty"),
        ("a\x00b", ValueError, "control"),
        ("a\nb", ValueError, "control"),
        ("\ud800", ValueError, "Unicode"),
    ],
)
def test_bad_tags_raise_clear_errors_and_write_nothing(logdir, tag, error, message):
    with SummaryWriter(logdir) as sw, pytest.raises(error, match=message):
        sw.add_scalar(tag, 1.0)
    assert summary_events(logdir) == []


def test_tags_are_normalised(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_scalar(" /train//loss/ ", 1.0, global_step=0)
        sw.add_scalar("train/loss", 2.0, global_step=1)
    assert scalars(logdir, "train/loss") == [(0, 1.0), (1, 2.0)]


def test_steps_default_to_a_per_tag_counter_that_follows_explicit_steps(logdir):
    with SummaryWriter(logdir) as sw:
        for _ in range(3):
            sw.add_scalar("a", 1.0)
        sw.add_scalar("b", 1.0)
        sw.add_scalar("a", 1.0, global_step=10)
        sw.add_scalar("a", 1.0)
    assert [s for s, _ in scalars(logdir, "a")] == [0, 1, 2, 10, 11]
    assert [s for s, _ in scalars(logdir, "b")] == [0]


@pytest.mark.parametrize("step", [np.int64(5), 5.0, mx.nd.array([5]).asscalar(), np.array(5)])
def test_integral_steps_of_other_types_are_accepted(logdir, step):
    with SummaryWriter(logdir) as sw:
        sw.add_scalar("a", 1.0, global_step=step)
    assert scalars(logdir, "a") == [(5, 1.0)]


@pytest.mark.parametrize(
    "step, error, message",
    [
        (-1, ValueError, "between 0"),
        (2.5, ValueError, "whole number"),
        ("3", TypeError, "global_step"),
        (True, TypeError, "global_step"),
        (2**63, ValueError, "between 0"),
        (math.nan, ValueError, "whole"),
    ],
)
def test_bad_steps_raise(logdir, step, error, message):
    with SummaryWriter(logdir) as sw, pytest.raises(error, match=message):
        sw.add_scalar("a", 1.0, global_step=step)
    assert summary_events(logdir) == []


def test_step_going_backwards_warns_once_per_tag(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_scalar("a", 1.0, global_step=5)
        with pytest.warns(StepOrderWarning, match=r"'a'.*step 5 after step 5") as record:
            sw.add_scalar("a", 1.0, global_step=5)
            sw.add_scalar("a", 1.0, global_step=3)
        assert len(record) == 1
        assert record[0].filename == __file__  # points at the caller, not at mxnet_tb
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sw.add_scalar("b", 1.0, global_step=3)  # other tags are independent


def test_dict_and_pair_values_write_one_subrun_per_name(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_scalar("acc", {"train": 0.9, "valid": 0.8}, global_step=1)
        sw.add_scalar("acc", ("train", 0.95), global_step=2)
        sw.add_scalars("loss", {"train": 0.5}, global_step=3)
    assert scalars(os.path.join(logdir, "acc", "train"), "acc") == [(1, pytest.approx(0.9)), (2, pytest.approx(0.95))]
    assert scalars(os.path.join(logdir, "acc", "valid"), "acc") == [(1, pytest.approx(0.8))]
    assert scalars(os.path.join(logdir, "loss", "train"), "loss") == [(3, 0.5)]
    assert event_files(logdir) == []  # nothing was logged to the parent run itself


def test_a_tag_can_switch_between_plain_and_dict_values(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_scalar("acc", 0.5, global_step=0)
        sw.add_scalar("acc", {"train": 0.9}, global_step=1)
    assert scalars(logdir, "acc") == [(0, 0.5)]
    assert scalars(os.path.join(logdir, "acc", "train"), "acc") == [(1, pytest.approx(0.9))]


def test_bad_dict_value_writes_nothing(logdir):
    with SummaryWriter(logdir) as sw, pytest.raises(TypeError, match="value 'valid' of 'acc'"):
        sw.add_scalars("acc", {"train": 0.9, "valid": "x"})
    assert not os.path.exists(os.path.join(logdir, "acc"))


@pytest.mark.parametrize("name", ["..", "../../escape", "a/../../b", "x\\..\\y", "/.."])
def test_subrun_names_cannot_leave_the_logdir(tmp_path, name):
    logdir = tmp_path / "logs"
    with SummaryWriter(str(logdir)) as sw:
        with pytest.raises(ValueError, match="run name"):
            sw.add_scalars("acc", {name: 1.0})
        with pytest.raises(ValueError, match="run name"):
            sw.add_scalars(name, {"train": 1.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]
    assert list(logdir.iterdir()) == []


def test_closed_writer_refuses_events(logdir):
    sw = SummaryWriter(logdir)
    sw.add_scalar("a", 1.0)
    sw.close()
    sw.close()  # idempotent
    with pytest.raises(WriterClosedError, match="closed"):
        sw.add_scalar("a", 2.0)
    with pytest.raises(WriterClosedError, match="closed"):
        sw.add_histogram("h", [1.0, 2.0])
    assert scalars(logdir, "a") == [(0, 1.0)]


def test_get_logdir_returns_the_given_path(logdir):
    with SummaryWriter(logdir=logdir) as sw:
        assert sw.get_logdir() == logdir


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_queue": 0}, "max_queue"),
        ({"flush_secs": -1}, "flush_secs"),
        ({"filename_suffix": "/x"}, "suffix"),
        ({"filename_suffix": "a\x00"}, "suffix"),
        ({"logdir": 5}, "logdir"),
    ],
)
def test_bad_constructor_arguments_raise(tmp_path, kwargs, message):
    kwargs.setdefault("logdir", str(tmp_path))
    with pytest.raises((TypeError, ValueError), match=message):
        SummaryWriter(**kwargs)
