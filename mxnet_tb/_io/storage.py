"""Where event files live: the small storage interface the event file writer writes through.

An event file writer needs a few operations: make a directory, create a new file exclusively, append bytes,
truncate a partial tail, fsync and close, and tell whether its file is still the one on disk (then reopen it
for appending after closing it to save descriptors). ``LocalStorage`` implements them on the local file
system with raw descriptors (one system call per batch, no user-space buffer, so the bytes written are known
exactly after a failure). An object store (``s3://``) plugs in as another ``Storage``.

Example::

    >>> file = LOCAL.create("/tmp/logs", "events.out.tfevents.x")   # doctest: +SKIP
    >>> file.append(record); file.sync(); file.close()              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["LOCAL", "LocalFile", "LocalStorage", "Storage", "StoredFile"]

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


class StoredFile:
    """An open file being appended to. ``size`` counts the bytes in it, including a failed append's part."""

    path: str
    size: int
    identity: object  # what ``Storage.is_current`` compares: the file, not just its name

    def append(self, data: bytes) -> None:
        raise NotImplementedError

    def truncate(self, size: int) -> None:
        raise NotImplementedError

    def sync(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class Storage:
    """The operations an event file writer needs from where its files live; every failure is an ``OSError``."""

    def makedirs(self, directory: str) -> None:
        raise NotImplementedError

    def create(self, directory: str, name: str) -> StoredFile:
        """A new empty file; ``FileExistsError`` if the name is taken (by anyone, ever)."""
        raise NotImplementedError

    def reopen(self, file: StoredFile) -> StoredFile:
        """``file`` (closed) opened again to append; ``FileNotFoundError`` if it is no longer there."""
        raise NotImplementedError

    def is_current(self, file: StoredFile) -> bool:
        """Whether ``file`` is still the file at its path (not removed or replaced)."""
        raise NotImplementedError

    def remove(self, file: StoredFile) -> None:
        raise NotImplementedError

    def is_full(self, file: StoredFile) -> bool:
        """Whether ``file`` should take no more batches (an object-store segment at its size cap)."""
        return False

    def listdir(self, directory: str) -> list[str]:
        """The names in ``directory``, sorted (``[]`` if it does not exist)."""
        raise NotImplementedError


class LocalFile(StoredFile):
    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd = fd
        stat = os.fstat(fd)
        self.size = stat.st_size
        self.identity = (stat.st_dev, stat.st_ino)

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)  # a short write then an OSError leaves ``size`` exact
            self.size += written
            view = view[written:]

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)
        self.size = size

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


class LocalStorage(Storage):
    """Files on the local file system (or anything mounted there)."""

    def makedirs(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)

    def create(self, directory: str, name: str) -> LocalFile:
        path = os.path.join(directory, name)
        fd = os.open(path, _CREATE_FLAGS, 0o666)
        return _wrap(path, fd)

    def reopen(self, file: StoredFile) -> LocalFile:
        fd = os.open(file.path, _APPEND_FLAGS)  # no O_CREAT: a removed file is not silently recreated
        reopened = _wrap(file.path, fd)
        if reopened.identity != file.identity:
            reopened.close()
            raise FileNotFoundError(2, "event file was replaced", file.path)
        return reopened

    def is_current(self, file: StoredFile) -> bool:
        try:
            stat = os.stat(file.path)
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) == file.identity

    def remove(self, file: StoredFile) -> None:
        if self.is_current(file):
            os.unlink(file.path)

    def listdir(self, directory: str) -> list[str]:
        try:
            return sorted(os.listdir(directory))
        except FileNotFoundError:
            return []


def _wrap(path: str, fd: int) -> LocalFile:
    try:
        return LocalFile(path, fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


LOCAL = LocalStorage()
