"""Event files in object storage (``s3://``, and other fsspec URLs): append-only files over immutable objects.

An object cannot be appended to, so an ``ObjectFile`` keeps the bytes of its current object (a *segment*) in
memory and uploads the whole segment when it is flushed; once a segment holds ``SEGMENT_BYTES`` the caller
starts a new event file, whose name sorts after the previous one. So one flush uploads at most one segment
(bounded, whatever the run's length), and a run has one object per ``SEGMENT_BYTES`` written, not one per
flush (TensorBoard re-lists a run's objects on every reload). Each upload replaces the object with a longer
copy of itself, so a reader that stopped at an offset reads on from there.

Uploads retry with exponential backoff for at most ``retry_secs``; then ``flush`` raises ``OSError`` and the
event writer drops and counts the events (or raises, ``strict=True``), exactly as for a failing disk.

Clients: boto3 for ``s3://`` — what TensorBoard itself reads S3 with — configured the standard way (AWS
environment variables or config files; the endpoint from ``S3_ENDPOINT`` as TensorBoard reads it, or
``AWS_ENDPOINT_URL``); fsspec for every other scheme (``gs://``, ``az://``, ``hdfs://``, ``memory://``) when
that backend is installed. Install with ``pip install mxnet-tb[s3]`` (or ``[fsspec]``).

Example::

    >>> store, key = open_store("s3://bucket/runs/exp1")       # doctest: +SKIP
    >>> handle = ObjectFile(store, key + "/events.out.tfevents.1")   # doctest: +SKIP
    >>> handle.write(record); handle.flush()                 # doctest: +SKIP
"""

from __future__ import annotations

import errno
import os
import posixpath
import threading
import time
from typing import Any

__all__ = ["SEGMENT_BYTES", "ObjectFile", "ObjectStore", "is_url", "join_url", "open_store"]

SEGMENT_BYTES = 4 * 1024 * 1024
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
            connect_timeout=5, read_timeout=10, retries={"max_attempts": 1}, s3={"addressing_style": "path"}
        )
        # A session of its own: credentials are read now, from the environment the writer is created in.
        self._client = boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)
        self._bucket = bucket
        self.url_prefix = f"s3://{bucket}/"

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self._bucket, Key=key, Body=data)

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix.rstrip("/") + "/", Delimiter="/"):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def get(self, key: str, limit: int) -> bytes:
        response = self._client.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{max(limit - 1, 0)}")
        return response["Body"].read(limit)


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


class ObjectFile:
    """One event file as one object, rewritten whole on ``flush``; ``full`` once it should give way to a new one.

    Not thread-safe by itself: the event writer calls it under its own lock.
    """

    def __init__(self, store: ObjectStore, key: str, *, retry_secs: float = RETRY_SECS) -> None:
        self._store = store
        self.key = key
        self._data = bytearray()
        self._stored = 0  # bytes of _data the store holds
        self._retry_secs = retry_secs
        self._lock = threading.Lock()
        self.closed = False

    @property
    def name(self) -> str:
        """The object's URL."""
        return self._store.url_prefix + self.key

    @property
    def size(self) -> int:
        """Bytes written so far (stored or not)."""
        return len(self._data)

    @property
    def stored(self) -> int:
        """Bytes the object store holds (after the last successful flush)."""
        return self._stored

    @property
    def full(self) -> bool:
        """Whether the segment reached ``SEGMENT_BYTES``: the next bytes belong in a new object."""
        return len(self._data) >= SEGMENT_BYTES

    def write(self, data: bytes) -> int:
        """Append ``data`` in memory; ``flush`` stores it."""
        if self.closed:
            raise ValueError(f"write to closed object file {self.name}")
        self._data += data
        return len(data)

    def flush(self) -> None:
        """Upload the object if it changed; retries for at most ``retry_secs``, then raises ``OSError``."""
        with self._lock:
            if self._stored == len(self._data):
                return
            snapshot = bytes(self._data)
            deadline = time.monotonic() + self._retry_secs
            delay = _FIRST_BACKOFF_SECS
            while True:
                try:
                    self._store.put(self.key, snapshot)
                    break
                except Exception as exc:
                    if time.monotonic() + delay > deadline:
                        raise OSError(
                            errno.EIO, f"could not store {self.name} after {self._retry_secs:g} s of retries: {exc}"
                        ) from exc
                    time.sleep(delay)
                    delay = min(delay * 2, _MAX_BACKOFF_SECS)
            self._stored = len(snapshot)

    def close(self) -> None:
        """Flush, then refuse further writes (the bytes stay in memory if the flush failed)."""
        try:
            self.flush()
        finally:
            self.closed = True

    def records_stored(self, sizes: list[int], start: int) -> int:
        """How many of the records of ``sizes`` appended at ``start`` are in the stored object."""
        complete, end = 0, start
        for size in sizes:
            end += size
            if end > self._stored:
                break
            complete += 1
        return complete


def describe(store: Any) -> str:
    """A short name of the store's location, for messages."""
    return getattr(store, "url_prefix", "") or type(store).__name__
