"""One TensorBoard event file, fed by callers and written by a background thread.

``EventFileWriter`` owns four things and nothing else: a unique file name, a bounded in-memory queue of
framed records, the background thread that writes the queue to disk, and reporting I/O failures to the caller.

How data moves::

    caller:  write(record) -> appended to the queue (microseconds, no I/O)
    thread:  every ``flush_secs``, or once half the queue is used, writes the queue in one system call
    caller:  flush() / close() write what is queued themselves, so they never wait on a dead thread
    caller:  a full queue (``max_queue`` records or 32 MiB) is written by the caller that fills it

Failures are never swallowed, and never stop training unless asked to. An ``OSError`` (in the thread or in
a caller's own write) becomes an ``EventWriteError`` naming the file, the OS error and the events lost; the
next ``write``, ``flush`` or ``close`` reports it: by default as one ``EventWriteWarning`` per failing spell,
counting what is dropped in ``dropped_events``; with ``strict=True`` by raising it. The writer then carries on
in a fresh file (recreating a deleted directory), so a disk that recovers loses nothing more.

Example::

    >>> w = EventFileWriter("/tmp/logs", flush_secs=5)   # doctest: +SKIP
    >>> w.write(frame(event_bytes))                      # doctest: +SKIP
    >>> w.close()                                        # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import itertools
import logging
import os
import socket
import threading
import time
import weakref
from concurrent.futures import Future
from typing import BinaryIO

from ..errors import EventWriteError, EventWriteWarning, WriterClosedError, warn_user
from .encode import file_version_event
from .record import frame

__all__ = ["DEFAULT_MAX_QUEUE", "EventFileWriter"]

_log = logging.getLogger("mxnet_tb")

DEFAULT_MAX_QUEUE = 1024
MAX_PENDING_BYTES = 32 * 1024 * 1024
EXIT_TIMEOUT_SECS = 5.0
MAX_WAIT_SECS = 3600.0  # the writer thread re-checks its deadline at least this often

_file_counter = itertools.count()  # per process: two writers in one second never pick the same name
_live_writers: weakref.WeakSet[EventFileWriter] = weakref.WeakSet()


def _host_name() -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname()) or "localhost"


class EventFileWriter:
    """Appends framed records to one event file in ``logdir`` from any number of threads.

    The file is created on the first write, named
    ``events.out.tfevents.<10-digit seconds>.<host>.<pid>.<8-digit counter><suffix>`` and opened exclusively,
    so no other writer, in this process or another, can share or truncate it. Both TensorBoard loaders read a
    run's files in name order and never go back, so the counter is zero-padded: a process's later file always
    sorts after its earlier ones.
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        *,
        max_queue: int = DEFAULT_MAX_QUEUE,
        flush_secs: float = 120.0,
        filename_suffix: str = "",
        strict: bool = False,
    ) -> None:
        self._logdir = os.path.abspath(os.fspath(logdir))
        os.makedirs(self._logdir, exist_ok=True)
        self._max_queue = max_queue
        self._batch_size = max(1, max_queue // 2)
        self._flush_secs = flush_secs
        self._suffix = filename_suffix
        self._strict = strict
        self._init_state()
        self.dropped_events = 0
        _live_writers.add(self)

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._io_lock = threading.Lock()  # held while the queue is taken and written, keeps batches in order
        self._pending: list[bytes | Future[bytes]] = []
        self._pending_bytes = 0
        self._closed = False
        self._error: EventWriteError | None = None  # a failure in the thread, not yet reported
        self._warned = False  # the current failing spell was reported as a warning
        self._file: BinaryIO | None = None
        self._path: str | None = None
        self._file_id: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None

    @property
    def logdir(self) -> str:
        return self._logdir

    @property
    def path(self) -> str | None:
        """The event file currently written to, or None before the first write."""
        return self._path

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
            if self._strict and self._error is not None:
                self._raise_kept_error()  # before queueing: the failed call logs nothing
            kept, self._error = self._error, None
            self._pending.append(record)
            self._pending_bytes += len(record) if size is None else size  # type: ignore[arg-type]
            queued = len(self._pending)
            if queued == self._batch_size or self._thread is None:
                self._wake_thread()
            full = queued >= self._max_queue or self._pending_bytes >= MAX_PENDING_BYTES
        if kept is not None:
            self._report(kept)
        if full:
            self._write_pending_and_report()

    def flush(self) -> None:
        """Return once every record written before this call is on disk (handed to the OS)."""
        with self._lock:
            kept, self._error = self._error, None
        if kept is not None:
            self._report(kept)
        self._write_pending_and_report()

    def close(self) -> None:
        """Write what is queued, fsync and close the file, stop the thread. Safe to call twice."""
        if not self._mark_closed():
            return
        thread = self._thread
        failure: EventWriteError | None = None
        try:
            self._write_pending()
        except EventWriteError as exc:
            failure = exc
        finally:
            with self._io_lock:
                try:
                    self._close_file(sync=True)
                except EventWriteError as exc:
                    failure = failure or exc
            if thread is not None and thread is not threading.current_thread():
                thread.join(EXIT_TIMEOUT_SECS)
            _live_writers.discard(self)
        with self._lock:
            kept, self._error = self._error, None
        if kept is not None or failure is not None:
            self._report(failure or kept)

    # -- internals ----------------------------------------------------------------------------------------

    def _raise_kept_error(self) -> None:
        """Raise the background error once; the caller holds ``_lock``."""
        error, self._error = self._error, None
        assert error is not None
        raise error

    def _report(self, error: EventWriteError) -> None:
        """Raise ``error`` (strict), or warn once per failing spell: training goes on, the loss is counted."""
        if self._strict:
            raise error
        if not self._warned:
            self._warned = True
            warn_user(
                f"{error}. Events that cannot be written are dropped and counted in dropped_events "
                "(use strict=True to raise instead)",
                EventWriteWarning,
            )

    def _write_pending_and_report(self) -> None:
        try:
            self._write_pending()
        except EventWriteError as exc:
            self._report(exc)

    def _wake_thread(self) -> None:
        """Notify the thread, starting it if needed; the caller holds ``_lock``."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=f"mxnet_tb-writer:{self._logdir}", daemon=True)
            self._thread.start()
        self._wake.notify()

    def _run(self) -> None:
        next_flush = time.monotonic() + self._flush_secs
        while True:
            with self._lock:
                while not self._closed and len(self._pending) < self._batch_size:
                    remaining = next_flush - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(min(remaining, MAX_WAIT_SECS))  # huge flush_secs must not overflow
                if self._closed:
                    return
            try:
                self._write_pending()
            except EventWriteError as exc:
                with self._lock:
                    self._error = exc  # the latest failure is the one to report
            except BaseException as exc:  # keep the thread alive: a logging bug must not stop logging
                _log.exception("mxnet_tb writer thread for %s failed", self._logdir)
                with self._lock:
                    self._error = EventWriteError(errno.EIO, f"writer thread failed: {exc!r}", self._path)
            next_flush = time.monotonic() + self._flush_secs

    def _write_pending(self, lock_timeout: float = -1) -> None:
        """Take the whole queue and write it in one call; raise ``EventWriteError`` on failure."""
        if not self._io_lock.acquire(timeout=lock_timeout):
            raise TimeoutError(f"event file in {self._logdir} is busy: a write did not finish in time")
        try:
            with self._lock:
                batch, self._pending, self._pending_bytes = self._pending, [], 0
            if batch:
                self._write_batch(batch)
        finally:
            self._io_lock.release()

    def _resolve(self, batch: list[bytes | Future[bytes]]) -> tuple[list[bytes], BaseException | None]:
        """The batch's records, waiting for deferred ones; a record that could not be built is dropped."""
        records: list[bytes] = []
        failure = None
        for record in batch:
            if type(record) is bytes:
                records.append(record)
                continue
            try:
                records.append(record.result())  # type: ignore[union-attr]
            except Exception as exc:  # the event could not be built: lost, and reported like a failed write
                self.dropped_events += 1
                failure = exc
        return records, failure

    def _write_batch(self, pending: list[bytes | Future[bytes]]) -> None:
        batch, build_failure = self._resolve(pending)
        removed = self._file is not None and not self._file_still_on_disk()
        old_path = self._path
        if removed:
            self._discard_file()
        start = None
        try:
            if self._file is None:
                self._open_new_file()
            assert self._file is not None
            start = self._file.tell()
            self._file.write(b"".join(batch))
            self._file.flush()
            self._warned = False  # written again: a later failure is news
        except OSError as exc:
            lost = len(batch) - self._records_on_disk(batch, start)
            self.dropped_events += lost
            failed_path = self._path or self._logdir
            self._discard_file()
            raise EventWriteError(
                exc.errno or errno.EIO,
                f"could not write {lost} event(s): {exc.strerror or exc}",
                failed_path,
            ) from exc
        if build_failure is not None:
            raise EventWriteError(errno.EIO, f"could not build an event: {build_failure!r}", self._path)
        if removed:
            raise EventWriteError(
                errno.ENOENT,
                "event file was removed from disk (was the log directory deleted?); what it held is gone, "
                f"logging continues in {self._path}",
                old_path,
            )

    def _records_on_disk(self, batch: list[bytes], start: int | None) -> int:
        """How many whole records of ``batch`` reached the file before a failed write (readers keep those)."""
        if self._file is None or start is None:
            return 0
        try:
            size = os.fstat(self._file.fileno()).st_size
        except OSError:
            return 0
        complete, end = 0, start
        for record in batch:
            end += len(record)
            if end > size:
                break
            complete += 1
        return complete

    def _open_new_file(self) -> None:
        os.makedirs(self._logdir, exist_ok=True)
        while True:
            name = (
                f"events.out.tfevents.{int(time.time()):010d}.{_host_name()}.{os.getpid()}."
                f"{next(_file_counter):08d}{self._suffix}"  # zero-padded: TensorBoard reads files in name order
            )
            self._path = os.path.join(self._logdir, name)  # a failure to create it names it too
            try:
                handle = open(self._path, "xb")  # noqa: SIM115 - lives until close()
            except FileExistsError:
                continue
            break
        self._file = handle
        stat = os.fstat(handle.fileno())
        self._file_id = (stat.st_dev, stat.st_ino)
        handle.write(frame(file_version_event(time.time())))

    def _file_still_on_disk(self) -> bool:
        assert self._path is not None
        try:
            stat = os.stat(self._path)
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) == self._file_id

    def _close_file(self, sync: bool) -> None:
        """Flush (and with ``sync``, fsync) and close the file; raise ``EventWriteError`` on failure."""
        handle, path, self._file, self._file_id = self._file, self._path, None, None
        if handle is None:
            return
        try:
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        except OSError as exc:
            raise EventWriteError(
                exc.errno or errno.EIO, f"could not flush event file: {exc.strerror or exc}", path
            ) from exc
        finally:
            with contextlib.suppress(OSError):  # a failed flush above is already reported
                handle.close()

    def _discard_file(self) -> None:
        """Drop a broken file handle after a failure that is reported already."""
        with contextlib.suppress(EventWriteError):
            self._close_file(sync=False)

    def _mark_closed(self) -> bool:
        """Refuse further writes and stop the thread's waiting; False if the writer was closed already."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            self._wake.notify_all()
            return True

    def _close_at_exit(self) -> None:
        """Interpreter exit: write what is queued with a bounded wait; report failures, never raise."""
        if not self._mark_closed():
            return
        try:
            self._write_pending(lock_timeout=EXIT_TIMEOUT_SECS)
            with self._io_lock:
                self._close_file(sync=True)
        except (OSError, TimeoutError) as exc:
            _log.error("mxnet_tb: events for %s were not written at exit: %s", self._logdir, exc)
        if self._error is not None:
            _log.error("mxnet_tb: %s", self._error)

    def _forget_parent_after_fork(self) -> None:
        """In a forked child: the parent owns the file and the queue; the child starts afresh if it logs."""
        self._init_state()


def _close_all_at_exit() -> None:
    for writer in list(_live_writers):
        writer._close_at_exit()


def _after_fork_in_child() -> None:
    for writer in list(_live_writers):
        writer._forget_parent_after_fork()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
