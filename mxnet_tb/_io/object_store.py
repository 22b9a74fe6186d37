"""Event files in object storage (``s3://``, and other fsspec URLs): append-only files over immutable objects.

An object cannot be appended to, so an ``ObjectFile`` keeps the bytes of its current object (a *segment*) in
memory and uploads the whole segment each time the event writer writes a batch (at every ``flush()``,
``flush_secs`` tick or half-full queue); once a segment holds ``SEGMENT_BYTES`` the next batch starts a new
event file, whose name sorts after the previous one. So one write uploads at most one segment plus its batch
(bounded, whatever the run's length), and a run has one object per ``SEGMENT_BYTES`` written, not one per
flush (TensorBoard re-lists a run's objects on every reload). Each upload replaces the object with a longer
copy of itself, so a reader that stopped at an offset reads on from there.

Uploads run on the writer's thread (the training thread never waits for them) and retry with exponential
backoff for at most ``RETRY_SECS``; then the batch counts as dropped, with the warning (or raises with
``strict=True``), exactly as for a failing disk, and the next batch starts a new object. Only errors that
say the upload was not applied (no connection, an error answer) are retried: after a timed-out request the
object is left alone for good, so an upload the endpoint applies late can never replace newer bytes. Such a
late upload can bring back events already counted in ``dropped_events``: whole, in order, never twice.

Clients: boto3 for ``s3://`` — what TensorBoard itself reads S3 with — configured the standard way (AWS
environment variables or config files; the endpoint from ``S3_ENDPOINT`` as TensorBoard reads it, or
``AWS_ENDPOINT_URL``); fsspec for every other scheme (``gs://``, ``az://``, ``hdfs://``, ``memory://``) when
that backend is installed. Install with ``pip install mxnet-tb[s3]`` (or ``[fsspec]``).

Example::

    >>> storage = ObjectStorage("s3://bucket/runs/exp1")                          # doctest: +SKIP
    >>> file = storage.create("s3://bucket/runs/exp1/train", "events.out.tfevents.1")  # doctest: +SKIP
    >>> file.append(records)                                                       # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import time
from collections.abc import Iterator

from .storage import Storage, StoredFile

__all__ = [
    "SEGMENT_BYTES",
    "ObjectFile",
    "ObjectStorage",
    "ObjectStore",
    "as_os_error",
    "is_url",
    "join_url",
    "open_store",
]

SEGMENT_BYTES = 1024 * 1024
RETRY_SECS = 10.0  # longest a flush keeps retrying a failing endpoint before its events count as dropped
_FIRST_BACKOFF_SECS = 0.1
_MAX_BACKOFF_SECS = 2.0
_SCHEME_SEPARATOR = "://"


def is_url(logdir: str) -> bool:
    """Whether ``logdir`` names object storage (``scheme://...``) rather than a local path."""
    scheme, sep, _ = logdir.partition(_SCHEME_SEPARATOR)
    return bool(sep) and scheme.isidentifier() and scheme.lower() != "file"


def join_url(url: str, *parts: str) -> str:
    """``url`` with ``parts`` appended as ``/``-separated path parts."""
    return "/".join([url.rstrip("/"), *(p.strip("/") for p in parts if p.strip("/"))])


class ObjectStore:
    """What an event writer needs from object storage: whole-object writes and listing, nothing else."""

    url_prefix = ""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` as the object ``key`` (replacing it)."""
        raise NotImplementedError

    def list(self, prefix: str) -> list[str]:
        """Keys of the objects directly under ``prefix/`` (not deeper), sorted."""
        raise NotImplementedError

    def get(self, key: str, limit: int) -> bytes:
        """The first ``limit`` bytes of the object ``key``."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def maybe_applied(self, error: Exception) -> bool:
        """Whether a failed ``put`` may still take effect later (a request sent but not answered)."""
        return isinstance(error, TimeoutError)

    def delete(self, key: str) -> None:
        raise NotImplementedError


class _S3Store(ObjectStore):
    def __init__(self, bucket: str) -> None:
        try:
            import boto3
            import botocore.config
        except ImportError as exc:
            raise ImportError("s3:// log directories need boto3: pip install 'mxnet-tb[s3]'") from exc
        endpoint = os.environ.get("S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL") or None
        if endpoint and _SCHEME_SEPARATOR not in endpoint:  # TensorBoard's S3_ENDPOINT may omit the scheme
            endpoint = "https://" + endpoint
        config = botocore.config.Config(
            connect_timeout=2, read_timeout=4, retries={"max_attempts": 1}, s3={"addressing_style": "path"}
        )
        # A session of its own: credentials are read now, from the environment the writer is created in.
        self._client = boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)
        self._bucket = bucket
        self.url_prefix = f"s3://{bucket}/"

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self._bucket, Key=key, Body=data)

    def maybe_applied(self, error: Exception) -> bool:
        from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

        return isinstance(error, (ReadTimeoutError, ConnectionClosedError, TimeoutError))

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix.rstrip("/") + "/", Delimiter="/"):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def get(self, key: str, limit: int) -> bytes:
        response = self._client.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{max(limit - 1, 0)}")
        return response["Body"].read(limit)

    def exists(self, key: str) -> bool:
        response = self._client.list_objects_v2(Bucket=self._bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in response.get("Contents", []))

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=key)


class _FsspecStore(ObjectStore):
    def __init__(self, scheme: str, root: str) -> None:
        try:
            import fsspec
        except ImportError as exc:
            raise ImportError(f"{scheme}:// log directories need fsspec: pip install 'mxnet-tb[fsspec]'") from exc
        self._fs = fsspec.filesystem(scheme)
        self._root = root
        self.url_prefix = f"{scheme}://{root}/" if root else f"{scheme}://"

    def _path(self, key: str) -> str:
        return posixpath.join(self._root, key) if self._root else key

    def put(self, key: str, data: bytes) -> None:
        self._fs.pipe_file(self._path(key), data)

    def list(self, prefix: str) -> list[str]:
        path = self._path(prefix.rstrip("/"))
        try:
            entries = self._fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
        base = self._path("")
        names = [entry["name"].lstrip("/") for entry in entries if entry.get("type") == "file"]
        return sorted(posixpath.relpath(name, base.lstrip("/")) if base else name for name in names)

    def get(self, key: str, limit: int) -> bytes:
        return self._fs.cat_file(self._path(key), start=0, end=limit)

    def exists(self, key: str) -> bool:
        return bool(self._fs.exists(self._path(key)))

    def delete(self, key: str) -> None:
        self._fs.rm_file(self._path(key))


def open_store(url: str) -> tuple[ObjectStore, str]:
    """The store for ``url`` and the key prefix inside it: ``s3://bucket/a/b`` -> (S3 bucket ``bucket``, ``a/b``).

    ValueError for a URL without a bucket (or host) part; ImportError naming the extra for a missing client.
    """
    scheme, _, rest = url.partition(_SCHEME_SEPARATOR)
    scheme = scheme.lower()
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"log directory URL {url!r} names no bucket: use {scheme}://BUCKET/PATH")
    key = key.strip("/")
    if any(part in ("..", ".") for part in key.split("/")):
        raise ValueError(f"log directory URL {url!r} must not contain '.' or '..' path parts")
    if scheme == "s3":
        return _S3Store(bucket), key
    if scheme == "memory":  # fsspec's in-memory filesystem has no bucket: the whole path is the key
        return _FsspecStore(scheme, ""), posixpath.join(bucket, key) if key else bucket
    return _FsspecStore(scheme, bucket), key


class ObjectFile(StoredFile):
    """One event file as one object: every ``append`` stores the whole object again (the segment so far).

    A failed upload leaves ``size`` where it was before the append, so the event writer counts exactly the
    records lost, and the next batch goes to a new object. The caller serializes calls (its I/O lock).
    """

    def __init__(self, store: ObjectStore, key: str, *, retry_secs: float | None = None) -> None:
        self._store = store
        self.key = key
        self.path = store.url_prefix + key
        self.identity = key
        self._data = bytearray()
        self._stored = 0  # bytes of _data the store holds
        self._retry_secs = RETRY_SECS if retry_secs is None else retry_secs

    @property
    def size(self) -> int:  # type: ignore[override]
        """Bytes in the object, stored or being stored."""
        return len(self._data)

    @property
    def stored(self) -> int:
        """Bytes the object store holds (after the last successful upload)."""
        return self._stored

    @property
    def full(self) -> bool:
        """Whether the segment reached ``SEGMENT_BYTES``: the next batch belongs in a new object."""
        return len(self._data) >= SEGMENT_BYTES

    def append(self, data: bytes) -> None:
        """Add ``data`` and store the object; on failure (after the retry budget) nothing of ``data`` counts."""
        before = len(self._data)
        self._data += data
        try:
            self._upload()
        except OSError:
            del self._data[before:]
            raise

    def truncate(self, size: int) -> None:
        del self._data[size:]
        self._stored = min(self._stored, size)

    def sync(self) -> None:
        """Store what is not stored yet (nothing after a successful ``append``)."""
        if self._stored != len(self._data):
            self._upload()

    def close(self) -> None:
        """Nothing to release: the bytes stay in memory until the next segment replaces this one."""

    def _upload(self) -> None:
        snapshot = bytes(self._data)
        deadline = time.monotonic() + self._retry_secs
        delay = _FIRST_BACKOFF_SECS
        while True:
            try:
                self._store.put(self.key, snapshot)
                break
            except Exception as exc:  # any client error is a failed write, reported by the event writer
                if self._store.maybe_applied(exc):
                    raise OSError(errno.ETIMEDOUT, f"the object store did not answer in time: {exc}") from exc
                if time.monotonic() + delay > deadline:
                    raise OSError(
                        errno.EIO, f"could not store the object after {self._retry_secs:g} s of retries: {exc}"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF_SECS)
        self._stored = len(snapshot)


class ObjectStorage(Storage):
    """Event files of a log directory URL as objects; paths are URLs under it (``s3://bucket/run/train``)."""

    def __init__(self, url: str) -> None:
        self._store, self._root = open_store(url)
        self._url = url.rstrip("/")

    @property
    def store(self) -> ObjectStore:
        return self._store

    def key_of(self, path: str) -> str:
        """The object key prefix of ``path`` (a URL inside the log directory)."""
        return self._key(path)

    def _key(self, path: str) -> str:
        if path != self._url and not path.startswith(self._url + "/"):
            raise ValueError(f"{path!r} is not inside the log directory {self._url!r}")
        rest = path[len(self._url) :].strip("/")
        return "/".join(p for p in (self._root, rest) if p)

    def makedirs(self, directory: str) -> None:
        """Nothing to do: a prefix exists once an object is under it."""
        self._key(directory)

    def create(self, directory: str, name: str) -> ObjectFile:
        key = f"{self._key(directory)}/{name}".lstrip("/")
        with as_os_error(self._store.url_prefix + key):
            taken = self._store.exists(key)
        if taken:
            raise FileExistsError(errno.EEXIST, "object exists", self._store.url_prefix + key)
        return ObjectFile(self._store, key)

    def reopen(self, file: StoredFile) -> StoredFile:
        return file  # no descriptor was closed: the segment is still in memory

    def is_current(self, file: StoredFile) -> bool:
        return True  # a deleted object is stored again whole by the next append: nothing is lost

    def is_full(self, file: StoredFile) -> bool:
        return isinstance(file, ObjectFile) and file.full

    def remove(self, file: StoredFile) -> None:
        if isinstance(file, ObjectFile) and file.stored:
            with as_os_error(file.path):
                self._store.delete(file.key)

    def listdir(self, directory: str) -> list[str]:
        prefix = self._key(directory)
        with as_os_error(directory):
            keys = self._store.list(prefix)
        return [key.rsplit("/", 1)[-1] for key in keys]


@contextlib.contextmanager
def as_os_error(where: str) -> Iterator[None]:
    """Any client error as the ``OSError`` the event writer reports (a failed write, never a crash)."""
    try:
        yield
    except OSError:
        raise
    except Exception as exc:
        raise OSError(errno.EIO, f"object store request failed: {exc}", where) from exc
