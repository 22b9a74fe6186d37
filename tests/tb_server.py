"""A real ``tensorboard`` server on 127.0.0.1 for end-to-end tests, always stopped afterwards.

Example::

    with tensorboard_server(logdir, load_fast=True) as server:
        runs = server.wait_for("/data/runs", lambda runs: "train" in runs)
        tags = server.get_json("/data/plugin/scalars/tags")
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TensorBoardServer:
    def __init__(self, process: subprocess.Popen, port: int, log_path: str) -> None:
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def url(self, path: str, **params: str) -> str:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return f"{self.base_url}{path}{query}"

    def get(self, path: str, **params: str) -> bytes:
        with urllib.request.urlopen(self.url(path, **params), timeout=30) as response:
            return response.read()

    def get_json(self, path: str, **params: str) -> Any:
        return json.loads(self.get(path, **params))

    def post_json(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            self.url(path), data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def wait_for(self, path: str, ready: Callable[[Any], bool], timeout: float = 60.0, **params: str) -> Any:
        """Poll ``path`` until ``ready(json)`` holds; the server loads runs in the background."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tensorboard exited with {self.process.returncode}: {self.output()}")
            with contextlib.suppress(urllib.error.URLError, ConnectionError, json.JSONDecodeError):
                last = self.get_json(path, **params)
                if ready(last):
                    return last
            time.sleep(0.25)
        raise TimeoutError(f"{path} not ready after {timeout}s; last answer: {last!r}; server said: {self.output()}")

    def output(self) -> str:
        """The end of what the server printed, for error messages."""
        return Path(self.log_path).read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def tensorboard_server(
    logdir: str | os.PathLike[str],
    *,
    load_fast: bool = False,
    extra_args: tuple[str, ...] = (),
    log_dir: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[TensorBoardServer]:
    """Start ``tensorboard --logdir LOGDIR`` on a free loopback port; stop it (and its data server) on exit.

    The server's own output goes beside LOGDIR, or into ``log_dir`` (for a LOGDIR that is a URL).
    """
    port = free_port()
    where = os.fspath(log_dir) if log_dir is not None else os.path.join(os.fspath(logdir), os.pardir)
    log = open(os.path.join(where, f"tensorboard-{port}.log"), "wb")  # noqa: SIM115
    command = [
        sys.executable, "-m", "tensorboard.main",
        "--logdir", os.fspath(logdir),
        "--host", "127.0.0.1",
        "--port", str(port),
        f"--load_fast={'true' if load_fast else 'false'}",
        "--reload_interval", "1",
        *extra_args,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})}
    )
    server = TensorBoardServer(process, port, log.name)
    try:
        server.wait_for("/data/runs", lambda runs: isinstance(runs, list), timeout=90)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
