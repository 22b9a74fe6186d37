"""The files of one profiling session: the raw trace JSON and an event file for the GRAPHS tab.

``write_profile_run(directory, ...)`` writes, in the run directory ``directory`` (a sub-run of the training
run, ``<logdir>/profile`` by default):

- ``trace-<tag>.json``: the session's Chrome trace, complete JSON (written to a temporary name and renamed),
  which chrome://tracing and https://ui.perfetto.dev open;
- one event file holding the network's ``GraphDef`` and one ``Event.tagged_run_metadata`` with the
  per-node step stats, so GRAPHS lists the session for that run and colours the graph's nodes by compute time
  and memory.

The event file is written by its own ``EventFileWriter`` and closed at once: ``SummaryWriter`` has no public
method for run metadata yet (see ``docs`` in the profiling module), and a run directory of its own keeps this
file from ever sharing a run with the writer's open files.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from typing import Any

from tensorboard.compat.proto import config_pb2, graph_pb2

from ..summaries.profile_stats import tagged_run_metadata_event
from .encode import graph_event
from .event_file import EventFileWriter
from .object_store import ObjectStorage, as_os_error, is_url, join_url
from .record import frame
from .storage import LOCAL, Storage

__all__ = ["trace_file_name", "write_profile_run"]


def trace_file_name(tag: str) -> str:
    """``'profile/steps_5-7'`` -> ``'trace-profile_steps_5-7.json'``."""
    return "trace-" + re.sub(r"[^\w.-]", "_", tag, flags=re.ASCII) + ".json"


def write_profile_run(
    directory: str,
    graph: graph_pb2.GraphDef,
    tag: str,
    metadata: config_pb2.RunMetadata,
    step: int,
    trace: dict[str, Any],
) -> tuple[str, str | None]:
    """Write the trace file and the event file; their paths. Raises OSError when either cannot be written.

    The trace goes to a temporary file created exclusively (never through a link planted in the run), renamed
    over the name; in object storage (``s3://``) it is one object.
    """
    data = json.dumps(trace).encode("utf-8")
    storage: Storage = LOCAL
    if is_url(directory):
        storage = ObjectStorage(directory)
        trace_path = join_url(directory, trace_file_name(tag))
        with as_os_error(trace_path):  # any client error is a failed write
            storage.store.put(storage.key_of(trace_path), data)
    else:
        os.makedirs(directory, exist_ok=True)
        trace_path = os.path.join(directory, trace_file_name(tag))
        fd, partial = tempfile.mkstemp(prefix=".trace-", suffix=".partial", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(partial, trace_path)  # replaces the name, never writes through a link there
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
            raise
    wall = time.time()
    writer = EventFileWriter(directory, strict=True, storage=storage)
    try:
        writer.write(frame(graph_event(graph.SerializeToString(deterministic=True), wall)))
        writer.write(frame(tagged_run_metadata_event(tag, metadata, step, wall)))
    finally:
        writer.close()
    return trace_path, writer.path
