"""Append-only event files over immutable objects: bounded uploads, bounded retries, readable while growing."""

import errno
import time
import uuid

import pytest

from mxnet_tb._io import object_store
from mxnet_tb._io.object_store import ObjectFile, is_url, join_url, open_store


def _prefix(s3_server):
    return f"s3://{s3_server.bucket}/{uuid.uuid4().hex}"


@pytest.mark.parametrize(
    ("logdir", "expected"),
    [("s3://b/p", True), ("gs://b", True), ("memory://x", True), ("runs/exp1", False), ("file:///tmp/x", False),
     ("C:/x", False), ("./s3://x", False)],
)  # fmt: skip
def test_urls_are_told_from_local_paths(logdir, expected):
    assert is_url(logdir) is expected


def test_join_url_adds_parts_with_single_slashes():
    assert join_url("s3://b/p/", "train", "/val/") == "s3://b/p/train/val"


@pytest.mark.parametrize("url", ["s3://", "s3:///key", "s3://b/a/../c", "s3://b/./c"])
def test_urls_without_a_bucket_or_with_dot_parts_are_refused(url):
    with pytest.raises(ValueError, match=r"bucket|path parts"):
        open_store(url)


def test_each_append_stores_the_whole_segment_so_far(s3_env):
    store, key = open_store(_prefix(s3_env))
    handle = ObjectFile(store, key + "/events.out.tfevents.1")
    handle.append(b"abc")
    assert store.get(handle.key, 100) == b"abc"
    handle.append(b"def")
    assert store.get(handle.key, 100) == b"abcdef"
    assert handle.stored == handle.size == 6
    assert store.list(key) == [handle.key]


def test_a_segment_is_full_at_the_size_cap(s3_env, monkeypatch):
    monkeypatch.setattr(object_store, "SEGMENT_BYTES", 10)
    store, key = open_store(_prefix(s3_env))
    handle = ObjectFile(store, key + "/f")
    handle.append(b"x" * 9)
    assert not handle.full
    handle.append(b"x")
    assert handle.full


def test_listing_sees_only_direct_children(s3_env):
    store, key = open_store(_prefix(s3_env))
    store.put(key + "/a", b"1")
    store.put(key + "/sub/b", b"2")
    store.put(key + "x/c", b"3")  # a sibling prefix that merely starts the same
    assert store.list(key) == [key + "/a"]


def test_a_failing_endpoint_raises_after_the_retry_budget(s3_env, monkeypatch):
    monkeypatch.setenv("S3_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    store, key = open_store("s3://bucket/run")
    handle = ObjectFile(store, key + "/f", retry_secs=1.0)
    started = time.monotonic()
    with pytest.raises(OSError) as caught:
        handle.append(b"abc")
    assert 0.5 < time.monotonic() - started < 15  # retried with backoff, within the budget
    assert caught.value.errno == errno.EIO
    assert handle.stored == handle.size == 0  # the failed append counts for nothing


def test_wrong_credentials_fail_as_a_write_error(s3_env, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    store, key = open_store(_prefix(s3_env))
    handle = ObjectFile(store, key + "/f", retry_secs=0.2)
    with pytest.raises(OSError, match="could not store"):
        handle.append(b"abc")


def test_fsspec_urls_use_fsspec(tmp_path):
    pytest.importorskip("fsspec")
    store, key = open_store(f"memory://mxtb-{uuid.uuid4().hex}/run")
    handle = ObjectFile(store, key + "/events.out.tfevents.1")
    handle.append(b"hello")
    assert store.get(handle.key, 5) == b"hello"
    assert store.list(key) == [handle.key]
    assert handle.path.startswith("memory://")
