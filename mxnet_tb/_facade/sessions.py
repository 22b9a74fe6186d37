"""How a run's hparams session ends: SUCCESS when it ends normally, FAILURE when it raised.

TensorBoard keeps the first session-end value of a run, so it is written once, at the end: by
``SummaryWriter.end_session(status)`` (the doctor's ``on_alert='raise'`` calls it), by ``close()`` (FAILURE
inside a ``with`` block left by an exception, or once the process has reported an uncaught exception), or at
interpreter exit for a writer never closed. A process killed outright writes none: TensorBoard shows the
status as unknown, which is the truth.

Example::

    >>> sw.add_hparams({"lr": 0.1}, {})     # doctest: +SKIP
    >>> sw.end_session("failure")           # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import weakref
from typing import Any

from tensorboard.plugins.hparams import api_pb2

from ..summaries.hparams import session_end_value

__all__ = ["STATUSES", "check_status", "end_sessions", "session_started"]

STATUSES = {"success": api_pb2.STATUS_SUCCESS, "failure": api_pb2.STATUS_FAILURE}

_lock = threading.Lock()
_uncaught = threading.Event()  # the process reported an uncaught exception (sys.excepthook ran)
_hooked = False
_open: weakref.WeakSet[Any] = weakref.WeakSet()  # writers with a session not ended yet


def check_status(status: Any) -> str:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {sorted(STATUSES)}; got {status!r}")
    return status


def session_started(writer: Any, run: str, step: int) -> None:
    """``run`` (relative to the root logdir) has its session start at ``step``; ended at close or exit."""
    _hook_once()
    shared = writer._shared
    shared.sessions[run] = step
    _open.add(writer)


def end_sessions(writer: Any, status: str | None = None) -> None:
    """Write the session end of every run of ``writer`` whose session has not ended (``status`` None: failure
    if the process reported an uncaught exception, else success)."""
    shared = writer._shared
    chosen = status or ("failure" if _uncaught.is_set() else "success")
    with shared.lock:
        todo = [(run, step) for run, step in shared.sessions.items() if run not in shared.ended_sessions]
        todo = [(run, step) for run, step in todo if not shared.sink.failing(run)]  # its error is reported
        shared.ended_sessions.update(run for run, _ in todo)
        if shared.closed:
            return
    for run, step in todo:
        writer._write_values_at_key(run, [session_end_value(STATUSES[chosen])], step, None)


def _excepthook(kind: Any, value: Any, traceback: Any) -> None:
    _uncaught.set()
    _previous(kind, value, traceback)


_previous = sys.excepthook


def _hook_once() -> None:
    global _hooked, _previous
    with _lock:
        if _hooked:
            return
        _hooked = True
        _previous = sys.excepthook
        sys.excepthook = _excepthook
        atexit.register(_end_open_sessions)  # runs before the event files' own exit handler (registered earlier)


def _end_open_sessions() -> None:
    for writer in list(_open):
        with contextlib.suppress(Exception):  # a failing writer: its files' own exit handler reports it
            end_sessions(writer)
