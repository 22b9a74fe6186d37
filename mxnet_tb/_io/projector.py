"""Writes embeddings for TensorBoard's projector: the files of each (tag, step) and ``projector_config.pbtxt``.

Layout, inside a run directory::

    projector_config.pbtxt                     one entry per (tag, step), paths relative to this file
    embeddings/<tag>/<step, 5+ digits>/        tensors.bytes (or .tsv), metadata.tsv, sprite.png

A (tag, step) directory is written complete under a temporary name and then renamed into place, and the config
is replaced atomically, so a reader (or a crash) never sees half an embedding. Re-logging a (tag, step)
replaces its directory and its config entry. Tags are paths checked by ``_names.path_tag``/``run_dir``: none
can name a file outside the run.

Example::

    >>> write_embedding("/logs", "features", 3, {"tensors.bytes": data}, info)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading

from google.protobuf import text_format
from tensorboard.plugins.projector import metadata
from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo, ProjectorConfig

from .._values.names import path_tag, run_dir
from .forks import renew_function_at_fork

__all__ = ["EMBEDDINGS_DIR", "embedding_dir", "read_config", "write_embedding"]

EMBEDDINGS_DIR = "embeddings"
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(root: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(root, threading.Lock())


def _renew_locks_after_fork() -> None:
    """In a forked child: a lock another parent thread held at fork would never be released."""
    global _locks_guard
    _locks.clear()
    _locks_guard = threading.Lock()


renew_function_at_fork(_renew_locks_after_fork)


def embedding_dir(tag: str, step: int) -> str:
    """The '/'-separated directory of (tag, step), relative to the run."""
    return f"{EMBEDDINGS_DIR}/{path_tag(tag)}/{step:05d}"


def read_config(logdir: str) -> ProjectorConfig:
    """The run's projector config (empty if there is none); ValueError naming the file if it does not parse."""
    path = os.path.join(logdir, metadata.PROJECTOR_FILENAME)
    config = ProjectorConfig()
    try:
        with open(path, encoding="utf-8") as handle:
            text_format.Parse(handle.read(), config)
    except FileNotFoundError:
        pass
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot add an embedding: {path} is not a valid projector config ({exc})") from None
    return config


def _write_file(path: str, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)


def write_embedding(logdir: str, tag: str, step: int, files: dict[str, bytes], info: EmbeddingInfo) -> str:
    """Write ``files`` into the (tag, step) directory and its config entry ``info``; returns the directory."""
    relative = embedding_dir(tag, step)
    target = run_dir(logdir, *relative.split("/"))  # refuses anything that resolves outside logdir
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".staging-", dir=parent)
    done = False
    try:
        for name, data in files.items():
            _write_file(os.path.join(staging, name), data)
        root = os.path.realpath(logdir)
        with _lock_for(root):
            config = read_config(logdir)
            replaced = any(entry.tensor_name == info.tensor_name for entry in config.embeddings)
            if os.path.lexists(target):
                trash = tempfile.mkdtemp(prefix=".replaced-", dir=parent)
                os.rename(target, os.path.join(trash, "old"))
                os.rename(staging, target)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.rename(staging, target)
            if replaced:  # keep the entry's place in the list
                for entry in config.embeddings:
                    if entry.tensor_name == info.tensor_name:
                        entry.CopyFrom(info)
            else:
                config.embeddings.append(info)
            _replace_config(logdir, config)
        done = True
    finally:
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
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
