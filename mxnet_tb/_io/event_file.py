"""One TensorBoard event file, fed by callers and written by a background thread.

``EventFileWriter`` owns three things and nothing else: a bounded in-memory queue of framed records, handing
its batches to the run's ``RunFile`` (on a ``WriterThread`` shared by all runs of a ``SummaryWriter``, or on a
caller that flushes), and reporting failures to the caller.

How data moves::

    caller:  write(record) -> appended to the queue (microseconds, no I/O)
    thread:  every ``flush_secs``, or once half the queue is used, writes the queue in one system call
    caller:  flush() / close() write what is queued themselves, so they never wait on a dead thread
    caller:  a full queue (``max_queue`` records or 32 MiB) waits for the thread at most FULL_QUEUE_WAIT_SECS,
             then the record is dropped and counted (``strict=True``: raised); the caller never writes itself

Failures are never swallowed, and never stop training unless asked to. An ``OSError`` becomes an
``EventWriteError`` naming the file, the OS error and the events lost; the next ``write``, ``flush`` or
``close`` reports it: by default as one ``EventWriteWarning`` per failing spell, counting what is dropped in
``dropped_events``; with ``strict=True`` by raising it (``RunFile`` keeps the file readable and reuses or
removes files left without events). A deferred record (a ``Future``, or anything with its ``result()``) is
resolved in queue order when its batch is written; one built empty logs nothing. One whose encoding failed
(``result()`` raising) is an ``EncodeError``:
reported the same way (``EncodeWarning``), not counted as a dropped disk event. At interpreter exit every
writer is given ``exit.EXIT_TIMEOUT_SECS`` in all, even on a hung disk.

Example::

    >>> w = EventFileWriter("/tmp/logs", flush_secs=5)   # doctest: +SKIP
    >>> w.write(frame(event_bytes))                      # doctest: +SKIP
    >>> w.close()                                        # doctest: +SKIP
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from concurrent.futures import Future

from ..errors import EncodeError, EventWriteError, WriterClosedError
from .exit import live_writers
from .failures import FailurePolicy
from .forks import renew_at_fork
from .object_store import is_url
from .open_files import OpenFiles
from .run_file import AppendError, RunFile, write_error
from .storage import LOCAL, Storage
from .writer_thread import WriterThread

__all__ = ["DEFAULT_MAX_QUEUE", "FULL_QUEUE_WAIT_SECS", "EventFileWriter"]

_log = logging.getLogger("mxnet_tb")

DEFAULT_MAX_QUEUE = 1024
MAX_PENDING_BYTES = 32 * 1024 * 1024
FULL_QUEUE_WAIT_SECS = 1.0  # the longest a logging call waits on a full queue (a hung or slow disk)


class EventFileWriter:
    """Appends framed records to one event file in ``logdir`` from any number of threads.

    The file is created on the first write (its directory too), named by ``event_file_name`` and created
    exclusively, so no other writer, in this process or another, can share or truncate it.
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        *,
        max_queue: int = DEFAULT_MAX_QUEUE,
        flush_secs: float = 120.0,
        filename_suffix: str = "",
        strict: bool = False,
        thread: WriterThread | None = None,
        open_files: OpenFiles | None = None,
        storage: Storage = LOCAL,
        failures: FailurePolicy | None = None,
    ) -> None:
        logdir = os.fspath(logdir)
        self._logdir = logdir if is_url(logdir) else os.path.abspath(logdir)  # URLs: object storage
        self._max_queue = max_queue
        self._batch_size = max(1, max_queue // 2)
        self._suffix = filename_suffix
        self._strict = strict
        self._own_thread = thread is None
        self._thread = thread or WriterThread(flush_secs, name=f"mxnet_tb-writer:{self._logdir}")
        self._open_files = open_files
        self._storage = storage
        self._failures = failures or FailurePolicy(strict=strict)
        self._renew_after_fork()
        self.dropped_events = 0
        self._thread.serve(self)
        live_writers.add(self)
        renew_at_fork(self)

    def _renew_after_fork(self) -> None:
        """Fresh state (and, in a forked child, fresh locks): the parent owns its file and its queue."""
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)  # the thread took the queue
        self._io_lock = threading.Lock()  # held while the queue is taken and written, keeps batches in order
        self._pending: list[bytes | Future[bytes]] = []
        self._pending_bytes = 0
        self._closed = False
        self._error: EventWriteError | None = None  # a failure in the thread, not yet reported
        self._encode_error: EncodeError | None = None
        self._stalled = False  # a full queue waited in vain: drop at once until the thread takes a batch
        self._file = RunFile(self._logdir, self._suffix, self._storage, on_open=self._opened)

    @property
    def logdir(self) -> str:
        return self._logdir

    @property
    def path(self) -> str | None:
        """The event file currently written to, or None before the first write."""
        return self._file.path

    @property
    def closed(self) -> bool:
        return self._closed

    # -- callers ------------------------------------------------------------------------------------------

    def write(self, record: bytes | Future[bytes], size: int | None = None) -> None:
        """Queue one framed record; reports a kept failure (see the module doc) or raises ``WriterClosedError``.

        ``record`` may be a ``Future`` of one (a PNG being encoded on another thread); it is waited for, in queue
        order, when its batch is written. ``size`` is then its expected size, for the queue's byte bound.
        """
        with self._lock:
            if self._closed:
                raise WriterClosedError(f"cannot write to the event writer for {self._logdir}: it is closed")
            kept = None
            if self._error is not None or self._encode_error is not None:
                if self._strict:
                    self._raise_kept()  # before queueing: the failed call logs nothing
                kept = self._take_kept()
            pending = self._pending
            if len(pending) < self._max_queue and self._pending_bytes < MAX_PENDING_BYTES:
                pending.append(record)
                self._pending_bytes += len(record) if size is None else size  # type: ignore[arg-type]
                if len(pending) == self._batch_size:
                    self._thread.wake(self)
                elif len(pending) == 1:
                    self._thread.queued(self)  # written within flush_secs
            else:
                dropped = self._wait_for_room()
                if self._closed:  # closed while this call waited
                    raise WriterClosedError(f"cannot write to the event writer for {self._logdir}: it is closed")
                if dropped is None:
                    self._pending.append(record)
                    self._pending_bytes += len(record) if size is None else size  # type: ignore[arg-type]
                    if len(self._pending) == 1:
                        self._thread.queued(self)
                elif self._strict:
                    raise dropped
                else:
                    kept = [*(kept or ()), dropped]
        if kept:
            for error in kept:
                self._report(error)

    def flush(self) -> None:
        """Return once every record written before this call is on disk (handed to the OS)."""
        try:
            self._write_pending()
            failure = None
        except EventWriteError as exc:
            failure = exc
        with self._lock:
            kept = self._take_kept()  # earlier failures, and records of this batch that could not be encoded
        for error in [failure, *kept] if failure is not None else kept:
            self._report(error)

    def close(self) -> None:
        """Write what is queued, fsync and close the file, stop serving it. Safe to call twice."""
        if not self.refuse_writes():
            return
        failure: EventWriteError | None = None
        try:
            self._write_pending()
        except EventWriteError as exc:
            failure = exc
        finally:
            with self._io_lock:
                try:
                    self._file.close(sync=True)
                except EventWriteError as exc:
                    failure = failure or exc
            self._stop_serving()
        with self._lock:
            kept = self._take_kept()
        if failure is not None:
            kept.insert(0, failure)
        for error in kept:
            self._report(error)

    @property
    def failing(self) -> bool:
        """Whether this file's last write failed (and none succeeded since)."""
        return self._failures.is_failing(self)

    def lost(self, error: OSError, events: int, what: str) -> None:
        """Report an ``OSError`` met elsewhere for this run (an embedding, a purge) by the same policy."""
        with self._lock:
            self.dropped_events += events
        self._report(write_error(error, what, getattr(error, "filename", None) or self._logdir))

    def write_queued(self) -> None:
        """The writer thread's entry: write the queue, keeping any failure for the next caller."""
        try:
            self._write_pending()
        except EventWriteError as exc:
            with self._lock:
                self._error = exc  # the latest failure is the one to report
        except BaseException as exc:  # keep the thread alive: a logging bug must not stop logging
            _log.exception("mxnet_tb writer thread for %s failed", self._logdir)
            with self._lock:
                self._error = EventWriteError(errno.EIO, f"writer thread failed: {exc!r}", self.path)

    def park_if_idle(self) -> bool:
        """Close the open file to save a descriptor (it is reopened to append); False while a write holds it."""
        if not self._io_lock.acquire(blocking=False):
            return False
        try:
            parked = self._file.park()
        finally:
            self._io_lock.release()
        if parked and self._open_files is not None:
            self._open_files.closed(self)
        return parked

    # -- internals ----------------------------------------------------------------------------------------

    def _wait_for_room(self) -> EventWriteError | None:
        """The queue is full: wait (bounded) for the thread to take it; the error of a dropped record otherwise.

        The caller holds ``_lock`` (the wait releases it).
        """
        if not self._stalled:
            self._thread.wake(self)
            deadline = time.monotonic() + FULL_QUEUE_WAIT_SECS
            while len(self._pending) >= self._max_queue or self._pending_bytes >= MAX_PENDING_BYTES:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    break
                self._drained.wait(remaining)
            else:
                return None
        if self._closed:
            return None  # the caller refuses the record: nothing was dropped
        self._stalled = True
        self.dropped_events += 1
        return EventWriteError(
            errno.ETIMEDOUT,
            f"could not write 1 event(s): the queue is full and the disk took nothing for {FULL_QUEUE_WAIT_SECS} s "
            "(hung or too slow)",
            self.path or self._logdir,
        )

    def _take_kept(self) -> list[EventWriteError | EncodeError]:
        """The failures kept for the caller, now reported; the caller holds ``_lock``."""
        kept = [error for error in (self._error, self._encode_error) if error is not None]
        self._error = self._encode_error = None
        return kept

    def _raise_kept(self) -> None:
        """Raise the background error once; the caller holds ``_lock``."""
        kept = self._take_kept()
        raise kept[0]

    def _report(self, error: EventWriteError | EncodeError) -> None:
        """Raise ``error`` (strict), or warn once per failing spell: training goes on, the loss is counted."""
        self._failures.report(self, error)

    def _write_pending(self, lock_timeout: float = -1) -> None:
        """Take the whole queue and write it in one call; raise ``EventWriteError`` on failure."""
        if not self._io_lock.acquire(timeout=lock_timeout):
            raise TimeoutError(f"event file in {self._logdir} is busy: a write did not finish in time")
        try:
            with self._lock:
                batch, self._pending, self._pending_bytes = self._pending, [], 0
                self._stalled = False
                self._drained.notify_all()
            if batch:
                self._write_batch(batch)
        finally:
            self._io_lock.release()

    def _resolve(self, batch: list[bytes | Future[bytes]]) -> list[bytes]:
        """The batch's records, waiting for deferred ones; one that could not be encoded is left out and kept."""
        records: list[bytes] = []
        for record in batch:
            if type(record) is bytes:
                records.append(record)
                continue
            try:
                built = record.result()  # type: ignore[union-attr]
            except Exception as exc:  # not a disk failure: reported as what it is, not counted as dropped
                error = exc if isinstance(exc, EncodeError) else EncodeError(f"could not encode an event: {exc!r}")
                with self._lock:
                    self._encode_error = error
                continue
            if built:  # a deferred build may log nothing (b'')
                records.append(built)
        return records

    def _write_batch(self, pending: list[bytes | Future[bytes]]) -> None:
        batch = self._resolve(pending)
        if not batch:
            return
        if self._open_files is not None and self._file.is_open:
            self._open_files.used(self)
        try:
            removed = self._file.append(batch)
        except AppendError as failure:
            with self._lock:  # callers count drops of a full queue under it too
                self.dropped_events += failure.lost
            raise failure.error from failure.__cause__
        self._failures.recovered(self)  # written again: a later failure is news
        if removed is not None:
            raise EventWriteError(
                errno.ENOENT,
                "event file was removed from disk (was the log directory deleted?); what it held is gone, "
                f"logging continues in {self.path}",
                removed,
            )

    def _opened(self) -> None:
        if self._open_files is not None:
            self._open_files.opened(self)

    def _stop_serving(self) -> None:
        if self._open_files is not None:
            self._open_files.closed(self)
        self._thread.forget(self)
        if self._own_thread:
            self._thread.stop()
        live_writers.discard(self)

    def refuse_writes(self) -> bool:
        """Refuse further writes and release waiting callers; False if the writer was closed already."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            self._drained.notify_all()
            return True

    def take_for_exit(self, timeout: float) -> tuple[RunFile, list[bytes]] | None:
        """Interpreter exit: this run's file and the records still to write, with the I/O lock held.

        None if a write (a hung disk) holds the file past ``timeout``; otherwise the caller writes the records,
        closes the file, and calls ``release_after_exit``.
        """
        if not self._io_lock.acquire(timeout=max(timeout, 0.0)):
            return None
        with self._lock:
            batch, self._pending, self._pending_bytes = self._pending, [], 0
        return self._file, self._resolve(batch)

    def release_after_exit(self) -> None:
        self._io_lock.release()
