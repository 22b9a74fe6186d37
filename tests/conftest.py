"""Shared fixtures."""

import socket

import pytest


@pytest.fixture
def logdir(tmp_path):
    return str(tmp_path / "logs")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real SeaweedFS S3 endpoint on 127.0.0.1 for the whole session (started on first use)."""
    from .s3_server import SeaweedS3

    with SeaweedS3(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """The S3 server's endpoint and credentials in this process's environment, as a user would set them."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # TensorBoard's S3 reader reads S3_ENDPOINT once, when its gfile module is imported: give it a fresh one.
    from tensorboard.compat.tensorflow_stub.io import gfile

    monkeypatch.setitem(gfile._REGISTERED_FILESYSTEMS, "s3", gfile.S3FileSystem())
    return s3_server


@pytest.fixture
def root_port():
    """A free TCP port on 127.0.0.1 for the ps-lite scheduler; the job tests are skipped only without one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]
    except OSError as exc:
        pytest.skip(f"cannot bind a TCP port on 127.0.0.1 for the ps-lite scheduler: {exc}")


@pytest.fixture
def dist_env(monkeypatch):
    """A clean distributed state and default writer; ``dist_env.setenv`` sets DMLC variables for this test."""
    from mxnet_tb._training import default as _default
    from mxnet_tb._training import distributed as _distributed

    for name in ("DMLC_ROLE", "DMLC_NUM_WORKER", "MXNET_TB_DIST_MODE", "MXNET_TB_LOGDIR"):
        monkeypatch.delenv(name, raising=False)
    saved = _default._writer, _default._settings
    _default._writer = _default._settings = None
    _distributed._reset()
    yield monkeypatch
    if _default._writer is not None:
        _default._writer.close()
    _default._writer, _default._settings = saved
    _distributed._reset()


@pytest.fixture
def dist_worker_env(dist_env):
    """``dist_env`` as a worker of a two-worker job whose rank comes from a kvstore (``DistKVStore``)."""
    dist_env.setenv("DMLC_ROLE", "worker")
    dist_env.setenv("DMLC_NUM_WORKER", "2")
    return dist_env
