"""The process's default writer, used by every callback and monitor not given ``writer=``.

Example::

    >>> import mxnet_tb as tb
    >>> tb.init(logdir="runs/exp1", flush_secs=10)   # doctest: +SKIP
    >>> tb.default_writer().get_logdir()             # doctest: +SKIP
    'runs/exp1'
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import socket
import threading
from typing import Any

from .writer import SummaryWriter

__all__ = ["LOGDIR_ENV", "default_writer", "init", "resolve_writer"]

LOGDIR_ENV = "MXNET_TB_LOGDIR"

_lock = threading.Lock()
_writer: SummaryWriter | None = None


def _default_logdir() -> str:
    from_env = os.environ.get(LOGDIR_ENV)
    if from_env:
        return from_env
    stamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S")
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())
    return os.path.join("runs", f"{stamp}_{host}")


def init(logdir: str | os.PathLike[str] | None = None, **writer_kwargs: Any) -> SummaryWriter:
    """Create (or replace) the default writer and return it.

    ``logdir`` defaults to ``$MXNET_TB_LOGDIR`` or ``runs/<date>_<time>_<host>``; other keyword arguments go
    to ``SummaryWriter``. A replaced default writer is closed.

    Example::

        >>> tb.init(logdir="runs/exp1")   # doctest: +SKIP
    """
    global _writer
    writer = SummaryWriter(logdir if logdir is not None else _default_logdir(), **writer_kwargs)
    with _lock:
        previous, _writer = _writer, writer
    if previous is not None:
        previous.close()
    return writer


def default_writer() -> SummaryWriter:
    """The default writer, created on first use (see ``init`` for its log directory).

    Example::

        >>> tb.default_writer().add_scalar("loss", 0.5)   # doctest: +SKIP
    """
    global _writer
    with _lock:
        if _writer is None:
            _writer = SummaryWriter(_default_logdir())
        return _writer


def resolve_writer(writer: SummaryWriter | None, *, name: str = "writer") -> SummaryWriter | None:
    """Check a ``writer=`` argument eagerly; None means "the default writer, when first needed"."""
    if writer is not None and not isinstance(writer, SummaryWriter):
        raise TypeError(f"{name} must be a mxnet_tb.SummaryWriter or None; got {type(writer).__name__}: {writer!r:.80}")
    return writer


def _close_default() -> None:
    with _lock:
        writer = _writer
    if writer is not None:
        with contextlib.suppress(OSError):  # errors at exit are logged by the event writer itself
            writer.close()


atexit.register(_close_default)
