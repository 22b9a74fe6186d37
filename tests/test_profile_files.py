"""A profiling session's files: never written through a planted link; in the bucket for an s3:// logdir."""

import os
import uuid
from pathlib import Path

from tensorboard.compat.proto import config_pb2, graph_pb2

from mxnet_tb._io.profile_run import trace_file_name, write_profile_run

from .readback import event_files, load_events


def _session(directory):
    graph = graph_pb2.GraphDef()
    graph.node.add(name="fc1", op="FullyConnected")
    metadata = config_pb2.RunMetadata()
    metadata.step_stats.dev_stats.add(device="/cpu:0").node_stats.add(node_name="fc1", all_start_micros=1)
    return write_profile_run(directory, graph, "profile/steps_5-7", metadata, 7, {"traceEvents": []})


def test_links_planted_at_the_trace_names_are_not_written_through(tmp_path):
    run, outside = tmp_path / "profile", tmp_path / "precious.txt"
    run.mkdir()
    outside.write_text("keep me")
    name = trace_file_name("profile/steps_5-7")
    os.symlink(outside, run / f"{name}.partial")  # where the trace was written first before
    os.symlink(outside, run / name)
    trace_path, _ = _session(str(run))
    assert outside.read_text() == "keep me"
    assert not os.path.islink(trace_path) and Path(trace_path).read_text() == '{"traceEvents": []}'
    (events,) = [load_events(f) for f in event_files(run)]
    assert [e.tagged_run_metadata.tag for e in events if e.HasField("tagged_run_metadata")] == ["profile/steps_5-7"]


def test_an_s3_logdir_gets_the_trace_and_the_session_as_objects(s3_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"s3://{s3_env.bucket}/{uuid.uuid4().hex}/profile"
    trace_path, _ = _session(url)
    assert trace_path == f"{url}/{trace_file_name('profile/steps_5-7')}"
    prefix = url[len(f"s3://{s3_env.bucket}/") :] + "/"
    listing = s3_env.client().list_objects_v2(Bucket=s3_env.bucket, Prefix=prefix)["Contents"]
    names = sorted(item["Key"][len(prefix) :] for item in listing)
    assert names[0].startswith("events.out.tfevents.") and names[1] == trace_file_name("profile/steps_5-7")
    assert os.listdir(tmp_path) == []  # nothing local named like the URL
