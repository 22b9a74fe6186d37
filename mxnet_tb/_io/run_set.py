"""The runs of one writer under a log directory: run -> event file writer, one writer thread for all of them.

A run is a path relative to the log directory (``''`` for the directory itself). Its event file writer is made
on its first event and shares the set's ``WriterThread`` and its bound on open files (``OpenFiles``), so
thousands of sub-runs cost one thread and a few dozen descriptors. Its directory is created with its first
file, so a full or read-only disk is reported like any failed write (warn once and count, or raise with
``strict``) instead of raising from the logging call. With ``purge_step`` a run's old events at steps >= it
are removed as the run is first written (see ``purge.py``).

Example::

    >>> runs = RunSet("/logs", max_queue=1024, flush_secs=120, filename_suffix="", strict=False)  # doctest: +SKIP
    >>> runs.write("train", event_bytes); runs.close()                                            # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .encoders import encode_later, encode_when_written
from .event_file import EventFileWriter
from .failures import FailurePolicy
from .forks import renew_at_fork
from .object_projector import write_embedding_objects
from .object_store import ObjectStorage, as_os_error
from .open_files import OpenFiles
from .projector import write_embedding
from .purge import purge_objects, purge_run, session_start_event
from .record import frame
from .sink import Sink
from .storage import LOCAL, Storage
from .writer_thread import WriterThread

__all__ = ["RunSet"]

_log = logging.getLogger("mxnet_tb")

BUILD_WHEN_WRITTEN_BYTES = 1 << 16  # larger deferred builds start at once on an encoder thread, to free memory


class RunSet(Sink):
    """Event files of every run under ``logdir`` (created now, if missing)."""

    def __init__(
        self,
        logdir: str,
        *,
        max_queue: int,
        flush_secs: float,
        filename_suffix: str,
        strict: bool,
        purge_step: int | None = None,
        verbose: bool = False,
        storage: Storage = LOCAL,
    ) -> None:
        self._logdir = logdir
        storage.makedirs(logdir)
        self._options: dict[str, Any] = {"max_queue": max_queue, "filename_suffix": filename_suffix, "strict": strict}
        self._storage = storage
        self._purge_step = purge_step
        self._verbose = verbose
        self._thread = WriterThread(flush_secs, name=f"mxnet_tb-writer:{os.path.abspath(logdir)}")
        self._open_files = OpenFiles()
        self._failures = FailurePolicy(strict=strict)  # one warning per failing spell for all runs
        self.writers: dict[str, EventFileWriter] = {}
        self._purged_when_made: dict[str, int] = {}  # events purge_step removed as each run was made
        self._renew_after_fork()
        renew_at_fork(self)
        if purge_step is not None:  # resuming: the run's own old events go now, even if it logs nothing more
            self.writer("")

    def _renew_after_fork(self) -> None:
        self._lock = threading.Lock()

    def writer(self, run: str) -> EventFileWriter:
        """The event file writer of ``run``, made on first use."""
        writer = self.writers.get(run)
        if writer is not None:
            return writer
        with self._lock:
            writer = self.writers.get(run)
            if writer is None:
                writer = self._new_writer(run)
                self.writers[run] = writer
        return writer

    def _new_writer(self, run: str) -> EventFileWriter:
        directory = os.path.join(self._logdir, run) if run else self._logdir
        writer = EventFileWriter(
            directory,
            thread=self._thread,
            open_files=self._open_files,
            storage=self._storage,
            failures=self._failures,
            **self._options,
        )
        if self._purge_step is not None:  # a resumed run: hide what the crashed one logged from here on
            self._purged_when_made[run] = self._purge(directory, writer, self._purge_step)
        if self._verbose:
            _log.info("mxnet_tb: new run %s", writer.logdir)
        return writer

    def _purge(self, directory: str, writer: EventFileWriter, step: int) -> int:
        """Remove ``directory``'s events at steps >= ``step`` and start ``writer`` with SessionLog.START there."""
        removed = 0
        try:
            if isinstance(self._storage, ObjectStorage):
                with as_os_error(directory):
                    removed = purge_objects(self._storage, directory, step)
            else:
                removed = purge_run(directory, step)
        except OSError as exc:
            writer.lost(exc, 0, f"could not remove the events at steps >= {step}")
        else:
            _log.info("mxnet_tb: purged %d events at steps >= %d from %s", removed, step, directory)
        start = frame(session_start_event(step, time.time()))
        writer.write(start)
        writer.write(start)  # TensorBoard's Python loader purges on the second START it sees
        return removed

    def purge_from(self, step: int) -> int:
        """``purge_step`` decided late (a resumed ``fit``): runs written so far are flushed and purged now."""
        with self._lock:
            self._purge_step = step
            writers = list(self.writers.items())
        removed = 0
        for run, writer in writers:
            writer.flush()
            removed += self._purge(os.path.join(self._logdir, run) if run else self._logdir, writer, step)
        if "" not in self.writers:  # the writer's own run is purged now, even before it logs again
            self.writer("")  # made with the purge (``_new_writer``), which it counts
            removed += self._purged_when_made.get("", 0)
        return removed

    def write(self, run: str, event: bytes) -> None:
        writer = self.writers.get(run) or self.writer(run)
        writer.write(frame(event))

    def write_later(self, run: str, build: Callable[[], bytes], size: int, what: str) -> None:
        writer = self.writers.get(run) or self.writer(run)
        writer.write(encode_later(lambda: frame(build()), what), size=size)

    def write_when_written(self, run: str, build: Callable[[], bytes], size: int, what: str) -> None:
        writer = self.writers.get(run) or self.writer(run)

        def framed() -> bytes:
            event = build()
            return frame(event) if event else b""

        later = encode_when_written if size <= BUILD_WHEN_WRITTEN_BYTES else encode_later
        writer.write(later(framed, what), size=size)  # type: ignore[arg-type]  # answers result() as a Future

    def write_embedding(self, run: str, tag: str, step: int, files: dict[str, bytes], info: Any) -> None:
        directory = os.path.join(self._logdir, run) if run else self._logdir
        try:
            if isinstance(self._storage, ObjectStorage):
                with as_os_error(directory):  # a client error is a failed write: the failure policy below
                    write_embedding_objects(
                        self._storage.store, self._storage.key_of(directory), tag, step, files, info
                    )
            else:
                write_embedding(directory, tag, step, files, info)
        except OSError as exc:  # a full or read-only disk: the run's failure policy, like its events
            self.writer(run).lost(exc, 1, f"could not write embedding {tag!r} at step {step}")

    @property
    def dropped_events(self) -> int:
        return sum(writer.dropped_events for writer in list(self.writers.values()))

    def failing(self, run: str) -> bool:
        writer = self.writers.get(run)
        return writer is not None and writer.failing

    def flush(self) -> None:
        for writer in list(self.writers.values()):
            writer.flush()

    def close(self) -> None:
        errors = []
        for writer in list(self.writers.values()):
            try:
                writer.close()
            except OSError as exc:
                errors.append(exc)
        self._thread.stop()
        if errors:
            raise errors[0]
