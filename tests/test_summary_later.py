"""SummaryWriter.add_summary_later: values built on the encoder threads, at the step of the call, in order."""

import threading
import time

import pytest
from tensorboard.compat.proto import summary_pb2

import mxnet_tb as tb
from mxnet_tb._io.event_file import MAX_PENDING_BYTES

from .readback import scalars, summary_events


def _scalar(tag, value):
    return summary_pb2.Summary.Value(tag=tag, simple_value=value)


def test_values_are_one_event_at_the_step_of_the_call_and_close_waits_for_them(logdir):
    sw = tb.SummaryWriter(logdir)
    release = threading.Event()

    def build():
        release.wait(5)
        return [_scalar("a", 1.5), _scalar("b", 2.5)]

    sw.add_summary_later(("a", "b"), build, global_step=7)
    sw.add_scalar("a", 3.0, global_step=8)  # logged after: it stays after in the file
    release.set()
    sw.close()
    events = summary_events(logdir)
    assert [(e.step, [v.tag for v in e.summary.value]) for e in events] == [(7, ["a", "b"]), (8, ["a"])]
    assert scalars(logdir, "a") == [(7, 1.5), (8, 3.0)] and scalars(logdir, "b") == [(7, 2.5)]


def test_a_build_may_leave_tags_out(logdir):
    with tb.SummaryWriter(logdir) as sw:
        sw.add_summary_later(("a", "b"), lambda: [_scalar("b", 1.0)], global_step=0)
        sw.add_summary_later(("a",), list, global_step=1)  # nothing at all
    assert scalars(logdir, "b") == [(0, 1.0)]
    assert [[v.tag for v in e.summary.value] for e in summary_events(logdir)] == [["b"]]


def test_steps_are_checked_when_called(logdir):
    with tb.SummaryWriter(logdir) as sw:
        sw.add_scalar("a", 1.0, global_step=5)
        with pytest.warns(tb.StepOrderWarning, match="'a' logged at step 3 after step 5"):
            sw.add_summary_later(("a",), lambda: [_scalar("a", 2.0)], global_step=3)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: [_scalar("other", 1.0)], "tags it was not given"),
        (lambda: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_a_failed_build_loses_its_event_only_and_is_reported_as_an_encoding_failure(logdir, build, message):
    sw = tb.SummaryWriter(logdir)
    sw.add_summary_later(("a",), build, global_step=0)
    sw.add_scalar("a", 2.0, global_step=1)
    with pytest.warns(tb.EncodeWarning, match=f"tag.*'a' at step 0.*{message}"):
        sw.flush()
    assert sw.dropped_events == 0  # an encoding failure, like an image's: not a dropped disk event
    sw.close()
    assert scalars(logdir, "a") == [(1, 2.0)]


def test_a_failed_build_raises_with_strict_at_the_next_call(logdir):
    sw = tb.SummaryWriter(logdir, strict=True)
    sw.add_summary_later(("a",), lambda: 1 / 0, global_step=0)
    with pytest.raises(tb.EncodeError, match="ZeroDivisionError"):
        sw.flush()
    sw.close()
    assert summary_events(logdir) == []


def test_a_run_view_logs_in_its_own_run_at_its_own_steps(logdir):
    with tb.SummaryWriter(logdir) as sw:
        sw.add_scalar("a", 1.0, global_step=9)  # the root's step does not move the view's
        view = sw.run("train")
        view.add_summary_later(("a",), lambda: [_scalar("a", 2.0)], global_step=None)
        view.add_summary_later(("a",), lambda: [_scalar("a", 3.0)], global_step=None)
    assert scalars(logdir, "a") == [(9, 1.0)]
    assert scalars(f"{logdir}/train", "a") == [(0, 2.0), (1, 3.0)]


def test_a_full_queue_makes_the_call_wait_for_pending_builds(logdir):
    builds = []

    def slow(value):
        def build():
            time.sleep(0.3)
            builds.append(value)
            return [_scalar("a", value)]

        return build

    with tb.SummaryWriter(logdir) as sw:
        started = time.monotonic()
        for step in range(3):  # each holds the queue's whole byte bound
            sw.add_summary_later(("a",), slow(float(step)), global_step=step, size=MAX_PENDING_BYTES)
        assert time.monotonic() - started >= 0.25  # the third call waited for the first build to be written
        assert 0.0 in builds  # (the second, on the other encoder thread, may have finished first)
    assert sw.dropped_events == 0
    assert scalars(logdir, "a") == [(0, 0.0), (1, 1.0), (2, 2.0)]


@pytest.mark.parametrize(
    "tags, build, size, error, message",
    [
        ((), list, 0, ValueError, "tags must be a non-empty sequence of clean tags"),
        ("abc", list, 0, ValueError, "tags must be"),
        (("/a/",), list, 0, ValueError, "tags must be"),
        (("a", 3), list, 0, ValueError, "tags must be"),
        (("a",), None, 0, TypeError, "build must be callable"),
        (("a",), list, -1, ValueError, "size must be an int >= 0"),
        (("a",), list, True, ValueError, "size must be an int >= 0"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_written(logdir, tags, build, size, error, message):
    with tb.SummaryWriter(logdir) as sw, pytest.raises(error, match=message):
        sw.add_summary_later(tags, build, global_step=0, size=size)
    assert summary_events(logdir) == []


def test_a_closed_writer_refuses(logdir):
    sw = tb.SummaryWriter(logdir)
    sw.close()
    with pytest.raises(tb.WriterClosedError):
        sw.add_summary_later(("a",), list, global_step=0)


def test_encoded_summaries_parse_to_the_protos_of_the_protobuf_path(logdir):
    import numpy as np

    from mxnet_tb._io.encode import ScalarBlock, histogram_summary
    from mxnet_tb.summaries.histogram import histogram_proto

    values = np.array([-2.5, 0.0, 0.0, 1e-3, 7.0, 7.0], dtype=np.float32)
    proto = histogram_proto(values)
    figures = (proto.min, proto.max, proto.num, proto.sum, proto.sum_squares)
    limits, counts = np.array(proto.bucket_limit), np.array(proto.bucket)
    encoded = histogram_summary("h", figures, limits.astype("<f8").tobytes(), counts.astype("<f8").tobytes())
    assert summary_pb2.Summary.FromString(encoded) == summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag="h", histo=proto)]
    )
    zeros = histogram_summary("z", (0.0, 0.0, 1.0, 0.0, 0.0), np.zeros(1).tobytes(), np.ones(1).tobytes())
    assert summary_pb2.Summary.FromString(zeros).value[0].histo.num == 1.0
    numbers = [0.5, -3.0, 1e39, float("nan"), 1e-3]
    tags = ["s/é", "a", "b" * 200, "c", "d"]
    parsed = summary_pb2.Summary.FromString(ScalarBlock(tags).fill(np.array(numbers)))
    assert [v.tag for v in parsed.value] == tags
    for value, number in zip(parsed.value, numbers):
        expected = summary_pb2.Summary.Value(tag="x", simple_value=number).simple_value  # float32, inf beyond
        assert np.float32(value.simple_value).tobytes() == np.float32(expected).tobytes()
    with tb.SummaryWriter(logdir) as sw:
        sw.add_summary_later(("s", "h"), lambda: [ScalarBlock(["s"]).fill(np.array([2.0])), encoded], 4)
        sw.add_summary_later(("p",), lambda: [summary_pb2.Summary.Value(tag="p", simple_value=1.0)], 5)
    event, proto_event = summary_events(logdir)
    assert event.step == 4 and [v.tag for v in event.summary.value] == ["s", "h"]
    assert event.summary.value[1].histo == proto and scalars(logdir, "s") == [(4, 2.0)]
    assert proto_event.step == 5 and scalars(logdir, "p") == [(5, 1.0)]
