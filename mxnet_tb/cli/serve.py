"""``mxnet-tb serve``: TensorBoard on 127.0.0.1 for a log directory, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

from .._io.object_store import is_url
from ._common import UsageError, default_logdir

__all__ = ["add_parser", "run", "tensorboard_command"]

HOST = "127.0.0.1"
DEFAULT_PORT = 6006
_STOP_TIMEOUT_SECS = 10

EXAMPLES = """\
examples:
  mxnet-tb serve                      # ./runs (or $MXNET_TB_LOGDIR) on http://127.0.0.1:6006/
  mxnet-tb serve old_runs --port 8888
  S3_ENDPOINT=http://127.0.0.1:8333 mxnet-tb serve s3://bucket/runs   # object storage (boto3 installed)
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "serve",
        help="start TensorBoard on 127.0.0.1 for a log directory",
        description=textwrap.dedent(
            """\
            Start TensorBoard (python -m tensorboard.main) on 127.0.0.1 for LOGDIR and print its URL.
            Ctrl-C stops it."""
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("logdir", nargs="?", default=None, metavar="LOGDIR", help="default: $MXNET_TB_LOGDIR or runs")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N", help=f"default: {DEFAULT_PORT}")
    parser.set_defaults(handler=run)
    return parser


def tensorboard_command(logdir: str, port: int) -> list[str]:
    """The TensorBoard command line ``serve`` runs.

    Example::

        >>> tensorboard_command("runs", 6006)[1:]
        ['-m', 'tensorboard.main', '--logdir', 'runs', '--host', '127.0.0.1', '--port', '6006']
    """
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host", HOST, "--port", str(port)]
    if is_url(logdir):  # TensorBoard's Rust data server reads no s3://: its Python loader does
        command.append("--load_fast=false")
    return command


def tensorboard_env(logdir: str) -> dict[str, str]:
    """The environment TensorBoard needs to read ``logdir``: its S3 reader takes the endpoint from S3_ENDPOINT.

    Example::

        >>> tensorboard_env("runs") == dict(os.environ)
        True
    """
    env = dict(os.environ)
    if is_url(logdir) and not env.get("S3_ENDPOINT") and env.get("AWS_ENDPOINT_URL"):
        env["S3_ENDPOINT"] = env["AWS_ENDPOINT_URL"]
    return env


def _die_with_parent() -> None:
    """In the TensorBoard child, before exec: ask Linux to SIGTERM it when this process dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT_SECS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(args: argparse.Namespace) -> int:
    logdir = args.logdir or default_logdir()
    if not is_url(logdir) and not os.path.isdir(logdir):
        raise UsageError(f"no such log directory: {logdir!r}")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535; got {args.port}")
    process = subprocess.Popen(
        tensorboard_command(logdir, args.port), env=tensorboard_env(logdir), preexec_fn=_die_with_parent
    )
    print(f"TensorBoard for {logdir} at http://{HOST}:{args.port}/ (Ctrl-C to stop)", flush=True)

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)  # `kill` stops TensorBoard too
    try:
        code = process.wait()
    except KeyboardInterrupt:
        _stop(process)
        print("TensorBoard stopped", flush=True)
        return 0
    finally:
        _stop(process)
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, previous)
    if code != 0:
        print(f"mxnet-tb serve: TensorBoard exited with code {code}", file=sys.stderr)
        return 1
    return 0
