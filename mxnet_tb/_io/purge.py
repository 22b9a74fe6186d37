"""``purge_step``: hide what a crashed run logged at or after the step a resumed run starts from.

Two mechanisms, one per TensorBoard loader:

- the run's existing event files are rewritten without events at steps >= N (atomically: the kept records go to
  a temporary file, fsynced, then renamed over the original). TensorBoard's Rust data server has no other way
  to forget them; its Python loader would keep them too if it had read them before.
- the resumed file starts with ``SessionLog.START`` at step N, twice. TensorBoard's Python loader purges
  everything at steps >= N when it sees a second START: a server that read the crashed points before the
  rewrite drops them live.

Example::

    >>> purge_run("runs/exp1", 1000)   # doctest: +SKIP
    250
"""

from __future__ import annotations

import glob
import os

from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto import event_pb2

from .record import frame

__all__ = ["purge_run", "session_start_event"]

_KEEP_ALWAYS = {"file_version", "graph_def", "meta_graph_def"}  # not step data


def session_start_event(step: int, walltime: float) -> bytes:
    """A serialized ``SessionLog.START`` event at ``step``."""
    return event_pb2.Event(
        wall_time=walltime, step=step, session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)
    ).SerializeToString()


def _purge_file(path: str, step: int) -> int:
    kept, removed = [], 0
    for record in RawEventFileLoader(path).Load():  # stops at a truncated last record, as every reader does
        event = event_pb2.Event.FromString(record)
        if event.step >= step and event.WhichOneof("what") not in _KEEP_ALWAYS:
            removed += 1
        else:
            kept.append(record)
    if removed:
        temporary = os.path.join(os.path.dirname(path), f".mxnet_tb-purge-{os.getpid()}.tmp")  # no 'tfevents'
        with open(temporary, "wb") as handle:
            handle.write(b"".join(frame(record) for record in kept))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    return removed


def purge_run(directory: str, step: int) -> int:
    """Remove events at steps >= ``step`` from the event files directly in ``directory``; returns how many."""
    return sum(_purge_file(path, step) for path in sorted(glob.glob(os.path.join(directory, "*tfevents*"))))
