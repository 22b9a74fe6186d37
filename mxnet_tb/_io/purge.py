"""``purge_step``: hide what a crashed run logged at or after the step a resumed run starts from.

Two mechanisms, one per TensorBoard loader:

- the run's existing event files are rewritten without events at steps >= N (atomically: the kept records go to
  a new temporary file in the run directory, created exclusively, fsynced, then renamed over the original).
  TensorBoard's Rust data server has no other way to forget them; its Python loader would keep them too if it
  had read them before.
- the resumed file starts with ``SessionLog.START`` at step N, twice. TensorBoard's Python loader purges
  everything at steps >= N when it sees a second START: a server that read the crashed points before the
  rewrite drops them live.

Only regular files are touched. The run directory is listed (never globbed: a logdir may be named ``exp?`` or
``lr[0.1]``); a symlink, FIFO, directory or a file that does not parse as an event file is left as it is, with a
warning, and training goes on.

Example::

    >>> purge_run("runs/exp1", 1000)   # doctest: +SKIP
    250
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import struct
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from google.protobuf.message import DecodeError
from tensorboard.compat.proto import event_pb2

from ..errors import ForeignFileWarning, warn_user
from .record import frame, masked_crc32c
from .regular import open_regular

__all__ = ["event_file_names", "purge_objects", "purge_run", "session_start_event"]

MAX_PURGE_OBJECT_BYTES = 256 << 20  # an event file object read whole to purge it; larger ones are left alone
_KEEP_ALWAYS = {"file_version", "graph_def", "meta_graph_def"}  # not step data
_HEADER = struct.Struct("<QI")
_U32 = struct.Struct("<I")


class _Corrupt(Exception):
    """A record whose CRC or protobuf does not check: the file is not ours to rewrite."""


def session_start_event(step: int, walltime: float) -> bytes:
    """A serialized ``SessionLog.START`` event at ``step``."""
    return event_pb2.Event(
        wall_time=walltime, step=step, session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)
    ).SerializeToString()


def event_file_names(directory: str) -> list[str]:
    """Names of the entries directly in ``directory`` whose name contains 'tfevents', sorted; [] if none."""
    try:
        return sorted(name for name in os.listdir(directory) if "tfevents" in name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _records(handle: BinaryIO, size: int) -> Iterator[bytes]:
    """Checked records of an event file of ``size`` bytes; stops at a truncated last record (a crash mid-write).

    Raises ``_Corrupt`` for a CRC mismatch: readers stop there, and what follows would be lost by a rewrite.
    """
    offset = 0
    while offset + _HEADER.size <= size:
        header = handle.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        length, length_crc = _HEADER.unpack(header)
        if masked_crc32c(header[:8]) != length_crc:
            raise _Corrupt("record length CRC mismatch")
        if offset + _HEADER.size + length + _U32.size > size:  # never read (or allocate) past the file's end
            return
        data = handle.read(length)
        footer = handle.read(_U32.size)
        if len(data) < length or len(footer) < _U32.size:
            return
        if masked_crc32c(data) != _U32.unpack(footer)[0]:
            raise _Corrupt("record data CRC mismatch")
        offset += _HEADER.size + length + _U32.size
        yield data


def _removed(record: bytes, step: int) -> bool:
    try:
        event = event_pb2.Event.FromString(record)
    except DecodeError as exc:
        raise _Corrupt(f"not an Event ({exc})") from None
    return event.step >= step and event.WhichOneof("what") not in _KEEP_ALWAYS


def _purge_file(path: str, step: int) -> int:
    fd, info = open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        removed = sum(_removed(record, step) for record in _records(handle, info.st_size))
        if not removed:
            return 0
        handle.seek(0)
        out_fd, temporary = tempfile.mkstemp(prefix=".mxnet_tb-purge-", suffix=".tmp", dir=os.path.dirname(path))
        try:  # mkstemp: O_CREAT | O_EXCL | O_NOFOLLOW, mode 0600 -> the original's mode below
            with os.fdopen(out_fd, "wb") as out:
                for record in _records(handle, info.st_size):
                    if not _removed(record, step):
                        out.write(frame(record))
                out.flush()
                os.fchmod(out.fileno(), stat.S_IMODE(info.st_mode))
                os.fsync(out.fileno())
            os.replace(temporary, path)  # replaces the name: never writes through a link at ``path``
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
    return removed


def purge_run(directory: str, step: int) -> int:
    """Remove events at steps >= ``step`` from the event files directly in ``directory``; returns how many.

    Entries that are not regular event files (symlinks, FIFOs, directories, corrupt or unreadable files) are
    left untouched with a ``ForeignFileWarning``.
    """
    total = 0
    for name in event_file_names(directory):
        path = os.path.join(directory, name)
        try:
            total += _purge_file(path, step)
        except (OSError, _Corrupt) as exc:
            message = f"purge_step: left {path} as it is ({exc}); its points at steps >= {step} stay"
            warn_user(message, ForeignFileWarning)
    return total


def purge_objects(storage: Any, directory: str, step: int) -> int:
    """``purge_run`` for a run in object storage (``ObjectStorage``): each event file object with events at
    steps >= ``step`` is stored again without them (objects cannot be edited in place); returns how many."""
    store, prefix = storage.store, storage.key_of(directory)
    total = 0
    for key in store.list(prefix):
        if "tfevents" not in key.rsplit("/", 1)[-1]:
            continue
        data = store.get(key, MAX_PURGE_OBJECT_BYTES + 1)
        try:
            if len(data) > MAX_PURGE_OBJECT_BYTES:
                raise _Corrupt(f"over {MAX_PURGE_OBJECT_BYTES} bytes")
            records = list(_records(io.BytesIO(data), len(data)))
            kept = [record for record in records if not _removed(record, step)]
        except _Corrupt as exc:
            message = f"purge_step: left {store.url_prefix + key} as it is ({exc}); its points at steps >= {step} stay"
            warn_user(message, ForeignFileWarning)
            continue
        if len(kept) != len(records):
            store.put(key, b"".join(frame(record) for record in kept))
            total += len(records) - len(kept)
    return total
