"""The bytes of one run's event file: created on the first batch, appended to, cut back after a failure.

``RunFile`` is what ``EventFileWriter`` writes batches into. It creates the file (and its directory) on the
first batch, starting it with the version record; after a failed append it cuts the file back to its last
complete record, so readers never meet a torn record in the middle. A file holding events is then closed (the
next batch starts a new one); a file still without events is reused, and removed at close: a disk-full spell
leaves no trail of empty files. A file closed to save descriptors (``park``) is reopened to append.

Example::

    >>> file = RunFile("/logs/train", ".v1", LOCAL, on_open=lambda: None)   # doctest: +SKIP
    >>> file.append([frame(event)]); file.close(sync=True)                   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Callable

from ..errors import EventWriteError
from .encode import file_version_event
from .file_names import event_file_name
from .record import frame
from .storage import Storage, StoredFile

__all__ = ["AppendError", "RunFile", "write_error"]


class AppendError(Exception):
    """A batch could not be written: ``error`` names the file and the OS error, ``lost`` the records lost."""

    def __init__(self, error: EventWriteError, lost: int) -> None:
        super().__init__(error)
        self.error = error
        self.lost = lost


def write_error(exc: OSError, what: str, path: str) -> EventWriteError:
    return EventWriteError(exc.errno or errno.EIO, f"{what}: {exc.strerror or exc}", path)


class RunFile:
    """The current event file of a run directory; the caller serializes calls (its I/O lock)."""

    def __init__(self, logdir: str, suffix: str, storage: Storage, on_open: Callable[[], None]) -> None:
        self._logdir = logdir
        self._suffix = suffix
        self._storage = storage
        self._on_open = on_open  # told whenever a descriptor is opened (the bound on open files)
        self._file: StoredFile | None = None  # open, or parked (closed, reopened to append) when not _open
        self._open = False
        self._records = 0  # events in the current file

    @property
    def path(self) -> str | None:
        return None if self._file is None else self._file.path

    @property
    def is_open(self) -> bool:
        return self._open

    def append(self, batch: list[bytes]) -> str | None:
        """Write ``batch``; the path of a file found removed from disk (written to a new one), else None.

        ``AppendError`` if it failed; the records that reached the disk whole are kept (and not lost).
        """
        removed = self._file is not None and not self._storage.is_current(self._file)
        old_path = self.path
        if removed:
            self.forget()
        start = None
        try:
            file = self._current()
            head = frame(file_version_event(time.time())) if file.size == 0 else b""  # a new or emptied file
            start = file.size + len(head)
            file.append(head + b"".join(batch))
        except OSError as exc:
            lost = len(batch) - self._keep_complete(batch, start)
            failed = exc.filename or self.path or self._logdir  # a file that could not be created is named too
            raise AppendError(write_error(exc, f"could not write {lost} event(s)", failed), lost) from exc
        self._records += len(batch)
        return old_path if removed else None

    def _current(self) -> StoredFile:
        """The open file: reopened if parked, else created (with its directory)."""
        if self._file is not None and self._records and self._storage.is_full(self._file):
            self.close(sync=True)  # an object-store segment at its cap: the next batch starts the next object
        if self._file is not None and self._open:
            return self._file
        if self._file is not None:
            try:
                self._file = self._storage.reopen(self._file)
            except FileNotFoundError:
                self._file = None
        if self._file is None:
            self._storage.makedirs(self._logdir)
            while self._file is None:
                with contextlib.suppress(FileExistsError):
                    self._file = self._storage.create(self._logdir, event_file_name(self._suffix))
            self._records = 0
        self._open = True
        self._on_open()
        return self._file

    def _keep_complete(self, batch: list[bytes], start: int | None) -> int:
        """After a failed append: cut the file back to its last complete record; how many of ``batch`` it kept."""
        file = self._file
        if file is None or start is None or not self._open:
            return 0
        complete, end = 0, start
        if file.size >= start:
            for record in batch:
                if end + len(record) > file.size:
                    break
                end += len(record)
                complete += 1
        else:
            end = 0  # even the version record is incomplete: the file is empty again
        try:
            if file.size != end:
                file.truncate(end)
        except OSError:
            self.forget()  # a partial record we cannot cut: never append after it
            return complete
        self._records += complete
        if self._records:
            self.forget()
        return complete

    def park(self) -> bool:
        """Close the descriptor, keeping the file to reopen; False if it was not open."""
        if not self._open:
            return False
        with contextlib.suppress(OSError):
            self._file.close()  # type: ignore[union-attr]
        self._open = False
        return True

    def forget(self) -> None:
        """Close the current file after a failure that is reported already; the next batch starts a new one."""
        with contextlib.suppress(EventWriteError):
            self.close(sync=False)

    def close(self, sync: bool) -> None:
        """fsync (with ``sync``) and close the file, removing it if it holds no event; ``EventWriteError`` if not."""
        file, was_open = self._file, self._open
        self._file, self._open = None, False
        if file is None:
            return
        try:
            if sync and self._records:
                if not was_open:  # parked: reopened to fsync what the OS holds
                    file, was_open = self._storage.reopen(file), True
                file.sync()
        except FileNotFoundError:
            pass  # removed from disk: reported by the write that finds it gone
        except OSError as exc:
            raise write_error(exc, "could not flush event file", file.path) from exc
        finally:
            with contextlib.suppress(OSError):  # a failed sync above is already reported
                if was_open:
                    file.close()
                if not self._records:  # only a version record (or nothing): an empty run file
                    self._storage.remove(file)
