import math

import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2

from mxnet_tb._io.encode import scalar_event, scalar_value_prefix


def _proto_path(tag, value, step, walltime):
    event = event_pb2.Event(wall_time=walltime, step=step)
    event.summary.value.add(tag=tag, simple_value=value)
    return event.SerializeToString()


@pytest.mark.parametrize("tag", ["x", "loss/train", "α/β 😀", "t" * 300])
@pytest.mark.parametrize("step", [0, 1, 127, 128, 300, 2**31, 2**63 - 1])
@pytest.mark.parametrize("value", [0.0, -0.0, 1.5, -2.25e-30, 3.4e38, 1e300, -1e300, math.inf, math.nan])
def test_fast_scalar_event_is_byte_identical_to_protobuf(tag, step, value):
    walltime = 1_795_000_000.123456
    fast = scalar_event(scalar_value_prefix(tag), value, step, walltime)
    assert fast == _proto_path(tag, value, step, walltime)
    assert event_pb2.Event.FromString(fast).summary.value[0].tag == tag


def test_fast_scalar_event_reads_back_fields():
    event = event_pb2.Event.FromString(scalar_event(scalar_value_prefix("acc"), 0.25, 42, 12.5))
    assert (event.step, event.wall_time) == (42, 12.5)
    assert event.summary == summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="acc", simple_value=0.25)])
