"""Writes embeddings for TensorBoard's projector: the files of each (tag, step) and ``projector_config.pbtxt``.

Layout, inside a run directory::

    projector_config.pbtxt                     one entry per (tag, step), paths relative to this file
    .projector_config.lock                     flock()ed while the config is read, merged and replaced
    embeddings/<tag>/<step, 5+ digits>/        tensors.bytes (or .tsv), metadata.tsv, sprite.png

``<tag>`` is one directory name: the tag with ``%`` and ``/`` written as ``%25`` and ``%2F``, so no tag's
directory can lie inside another's (``a/00000`` at step 1 and ``a`` at step 0 are two places). A (tag, step)
is written complete under a temporary name, renamed to a name no one uses, and then the config is replaced
atomically: that replace is the one moment the embedding appears (or replaces the earlier one of its tag and
step, whose directory is removed after). A crash at any point leaves a config whose every path exists.

The config is merged, not overwritten: under a thread lock and an ``flock`` on the lock file it is read,
the entry added or replaced, and written back, so writers in several threads or processes keep each other's
entries. Only a regular file is read as the config, and at most ``MAX_CONFIG_BYTES``: a FIFO, a link or a
device there raises ValueError, as a corrupt config does, and nothing is written.

Example::

    >>> write_embedding("/logs", "features", 3, {"tensors.bytes": data}, info)   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator

from google.protobuf import text_format
from tensorboard.plugins.projector import metadata
from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo, ProjectorConfig

from .._values.names import MAX_NAME_BYTES, path_tag, run_dir
from .forks import renew_function_at_fork
from .regular import open_regular

__all__ = ["EMBEDDINGS_DIR", "MAX_CONFIG_BYTES", "embedding_dir", "embedding_lock", "read_config", "write_embedding"]

EMBEDDINGS_DIR = "embeddings"
MAX_CONFIG_BYTES = 64 << 20  # ~300k entries; more is not a config this library wrote
LOCK_FILENAME = ".projector_config.lock"
_STEP_DIR = re.compile(r"\d{5,}(-[0-9a-f]{8})?")
_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


def embedding_lock(logdir: str) -> threading.RLock:
    """The lock (reentrant) that orders embedding writes into ``logdir`` within this process."""
    with _locks_guard:
        return _locks.setdefault(os.path.realpath(logdir), threading.RLock())


def tag_dir_name(tag: str) -> str:
    """The one directory name of ``tag`` (``'a/b'`` -> ``'a%2Fb'``); ValueError if it is too long for one."""
    name = path_tag(tag).replace("%", "%25").replace("/", "%2F")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValueError(f"embedding tag is too long: {MAX_NAME_BYTES} bytes at most as one name; got {tag!r:.80}")
    return name


def _renew_locks_after_fork() -> None:
    """In a forked child: a lock another parent thread held at fork would never be released."""
    global _locks_guard
    _locks.clear()
    _locks_guard = threading.Lock()


renew_function_at_fork(_renew_locks_after_fork)


def embedding_dir(tag: str, step: int) -> str:
    """The '/'-separated directory of (tag, step), relative to the run (a replacement gets a new name)."""
    return f"{EMBEDDINGS_DIR}/{tag_dir_name(tag)}/{step:05d}"


def read_config(logdir: str) -> ProjectorConfig:
    """The run's projector config (empty if there is none); ValueError naming the file if it cannot be used."""
    path = os.path.join(logdir, metadata.PROJECTOR_FILENAME)
    config = ProjectorConfig()
    try:
        fd, info = open_regular(path)
    except FileNotFoundError:
        return config
    except OSError as exc:
        if exc.errno is not None and exc.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise  # the disk failed (ENOTDIR, EACCES, EIO...): the writer's failure policy, not bad input
        raise ValueError(f"cannot add an embedding: {path} is not a regular file ({exc})") from None
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > MAX_CONFIG_BYTES:
            raise ValueError(f"cannot add an embedding: {path} is {info.st_size} bytes, over {MAX_CONFIG_BYTES}")
        data = handle.read(MAX_CONFIG_BYTES + 1)
    try:
        if len(data) > MAX_CONFIG_BYTES:
            raise ValueError(f"over {MAX_CONFIG_BYTES} bytes")
        text_format.Parse(data.decode("utf-8"), config)
    except (text_format.ParseError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"cannot add an embedding: {path} is not a valid projector config ({exc})") from None
    return config


@contextlib.contextmanager
def _config_locked(logdir: str) -> Iterator[None]:
    """This process's lock and an exclusive ``flock`` on the run's lock file, for other processes."""
    path = os.path.join(logdir, LOCK_FILENAME)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    with embedding_lock(logdir):
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise ValueError(f"cannot add an embedding: cannot open the lock file {path} ({exc})") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ValueError(f"cannot add an embedding: {path} is not a regular file")
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


def _write_file(path: str, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)


def _relocate(info: EmbeddingInfo, old: str, new: str) -> None:
    """Point the paths of ``info`` from directory ``old`` to ``new``."""
    for holder, field in ((info, "tensor_path"), (info, "metadata_path"), (info.sprite, "image_path")):
        value = getattr(holder, field)
        if value.startswith(old + "/"):
            setattr(holder, field, new + value[len(old) :])


def _free_name(parent: str, step: int) -> str:
    name = f"{step:05d}"
    while os.path.lexists(os.path.join(parent, name)):
        name = f"{step:05d}-{secrets.token_hex(4)}"
    return name


def _remove_unlisted(parent: str, relative_parent: str, config: ProjectorConfig) -> None:
    """Remove step directories of ``parent`` that no config entry names (replaced, or left by a crash)."""
    listed = {os.path.dirname(entry.tensor_path) for entry in config.embeddings}
    for name in os.listdir(parent):
        path = os.path.join(parent, name)
        if _STEP_DIR.fullmatch(name) and f"{relative_parent}/{name}" not in listed and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)


def write_embedding(logdir: str, tag: str, step: int, files: dict[str, bytes], info: EmbeddingInfo) -> str:
    """Write ``files`` into the (tag, step) directory and its config entry ``info``; returns the directory.

    ``info`` names the files in ``embedding_dir(tag, step)``; it is pointed to the directory used.
    """
    read_config(logdir)  # a config that cannot be merged is refused before anything is written
    relative_parent = f"{EMBEDDINGS_DIR}/{tag_dir_name(tag)}"
    parent = run_dir(logdir, EMBEDDINGS_DIR, tag_dir_name(tag))  # refuses anything that resolves outside logdir
    os.makedirs(parent, exist_ok=True)
    staging: str | None = tempfile.mkdtemp(prefix=".staging-", dir=parent)
    done = False
    try:
        for name, data in files.items():
            _write_file(os.path.join(staging, name), data)
        with _config_locked(logdir):
            config = read_config(logdir)
            name = _free_name(parent, step)
            target = os.path.join(parent, name)
            os.rename(staging, target)
            staging = None
            _relocate(info, embedding_dir(tag, step), f"{relative_parent}/{name}")
            entries = [entry for entry in config.embeddings if entry.tensor_name == info.tensor_name]
            for entry in entries:  # keep the entry's place in the list
                entry.CopyFrom(info)
            if not entries:
                config.embeddings.append(info)
            try:
                _replace_config(logdir, config)  # the moment the embedding appears
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            done = True
            _remove_unlisted(parent, relative_parent, config)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if not done:
            _prune_empty(parent, os.path.realpath(logdir))
    return target


def _prune_empty(directory: str, root: str) -> None:
    """Remove ``directory`` and its parents while they are empty, stopping below ``root``."""
    directory = os.path.realpath(directory)
    while directory != root and os.path.commonpath([root, directory]) == root:
        try:
            os.rmdir(directory)
        except OSError:
            return
        directory = os.path.dirname(directory)


def _replace_config(logdir: str, config: ProjectorConfig) -> None:
    path = os.path.join(logdir, metadata.PROJECTOR_FILENAME)
    handle, temporary = tempfile.mkstemp(prefix=".projector_config.", dir=logdir)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text_format.MessageToString(config))
            out.flush()
            os.fchmod(out.fileno(), 0o644)
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
