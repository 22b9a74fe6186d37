"""The process's default writer, used by every callback and monitor not given ``writer=``.

Example::

    >>> import mxnet_tb as tb
    >>> tb.init(logdir="runs/exp1", flush_secs=10)   # doctest: +SKIP
    >>> tb.default_writer().get_logdir()             # doctest: +SKIP
    'runs/exp1'
"""

from __future__ import annotations

import datetime
import inspect
import os
import threading
from typing import Any

from .._io.file_names import host_name
from .._io.forks import renew_function_at_fork
from .._values.convert import to_count, to_step
from ..writer import SummaryWriter, null_writer
from . import distributed as _distributed
from .mxnet_adapter import calling_module

__all__ = ["LOGDIR_ENV", "default_writer", "init", "resolve_writer", "resume_option"]

LOGDIR_ENV = "MXNET_TB_LOGDIR"

_lock = threading.Lock()
_writer: SummaryWriter | None = None
_settings: tuple[str, dict[str, Any]] | None = None  # tb.init's log directory and writer options
_resume_options: dict[str, int | None] = {}  # tb.init's batches_per_epoch and initial_step
_WRITER_ARGUMENTS = inspect.signature(SummaryWriter)


def _default_logdir() -> str:
    from_env = os.environ.get(LOGDIR_ENV)
    if from_env:
        return from_env
    stamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S")
    return os.path.join("runs", f"{stamp}_{host_name()}")


def init(
    logdir: str | os.PathLike[str] | None = None,
    *,
    dist_mode: str | None = None,
    kvstore: Any = None,
    batches_per_epoch: int | None = None,
    initial_step: int | None = None,
    **writer_kwargs: Any,
) -> SummaryWriter | None:
    """Create (or replace) the default writer and return it.

    ``logdir`` defaults to ``$MXNET_TB_LOGDIR`` or ``runs/<date>_<time>_<host>``; other keyword arguments go
    to ``SummaryWriter``. A replaced default writer is closed.

    In a distributed job (``kvstore='dist_sync'``, see the README's "Distributed training") ``dist_mode``
    (else ``$MXNET_TB_DIST_MODE``) is ``'per_worker'`` (default: each worker logs to ``<logdir>/worker-<rank>``)
    or ``'rank0'`` (only rank 0 logs, to ``<logdir>``). Servers, schedulers and workers that do not log get a
    writer that writes nothing. A worker learns its rank from the module's kvstore when ``fit`` creates it, so
    until then this returns None and the writer is created at its first use; ``kvstore`` (a distributed
    kvstore created by the script) tells the rank now.

    Example::

        >>> tb.init(logdir="runs/exp1")                                # doctest: +SKIP
        >>> tb.init(logdir="/shared/runs/exp1", dist_mode="rank0")     # doctest: +SKIP
    """
    global _writer, _settings, _resume_options
    resume_options = {
        "batches_per_epoch": _optional(to_count, batches_per_epoch, "batches_per_epoch"),
        "initial_step": _optional(to_step, initial_step, "initial_step"),
    }
    _distributed.set_mode(dist_mode)
    if kvstore is not None:
        _check_store(kvstore)
        _distributed.observe(kvstore)
    _WRITER_ARGUMENTS.bind("logdir", **writer_kwargs)  # a misspelt option fails now, not at the first batch
    settings = (os.fspath(logdir) if logdir is not None else _default_logdir(), writer_kwargs)
    writer = _create(*settings) if _distributed.rank_known() else None
    with _lock:
        previous, _writer, _settings = _writer, writer, settings
        _resume_options = resume_options
    if previous is not None:
        previous.close()
    return writer


def _optional(check: Any, value: Any, name: str) -> int | None:
    return None if value is None else check(value, name=name)


def resume_option(name: str) -> int | None:
    """``tb.init``'s ``batches_per_epoch`` or ``initial_step`` (None when not given)."""
    return _resume_options.get(name)


def default_writer() -> SummaryWriter:
    """The default writer, created on first use (see ``init`` for its log directory).

    On a distributed worker whose rank is not known yet it is read from the module on the call stack (inside
    ``fit``); without one, ``RuntimeError`` explains what to do.

    Example::

        >>> tb.default_writer().add_scalar("loss", 0.5)   # doctest: +SKIP
    """
    global _writer
    with _lock:
        if _writer is None:
            if not _distributed.rank_known():
                _distributed.observe(calling_module())
            _writer = _create(*(_settings or (_default_logdir(), {})))
        return _writer


def _renew_lock_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # another parent thread may have held it at the fork


renew_function_at_fork(_renew_lock_after_fork)


def _create(logdir: str, writer_kwargs: dict[str, Any]) -> SummaryWriter:
    where = _distributed.logdir_for(logdir)
    if where is None:  # a process of a distributed job that does not log: checks every call, writes nothing
        return null_writer(logdir, **writer_kwargs)
    return SummaryWriter(where, **writer_kwargs)


def _check_store(kvstore: Any) -> None:
    if not all(hasattr(kvstore, name) for name in ("type", "rank", "num_workers")):
        raise TypeError(f"kvstore must be an MXNet KVStore; got {type(kvstore).__name__}: {kvstore!r:.80}")


def resolve_writer(writer: SummaryWriter | None, *, name: str = "writer") -> SummaryWriter | None:
    """Check a ``writer=`` argument eagerly; None means "the default writer, when first needed"."""
    if writer is not None and not isinstance(writer, SummaryWriter):
        raise TypeError(f"{name} must be a mxnet_tb.SummaryWriter or None; got {type(writer).__name__}: {writer!r:.80}")
    return writer
