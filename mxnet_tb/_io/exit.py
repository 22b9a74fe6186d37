"""Interpreter exit: every event file writer left open writes its queue; exit waits EXIT_TIMEOUT_SECS at most.

A write to a hung disk (a frozen file system, a dead network mount) blocks inside the kernel, and a process
cannot end while one of its threads is blocked there. So the last writes run in a forked helper process: the
program waits for it at most EXIT_TIMEOUT_SECS, then ends; the helper finishes the writes (nothing is lost) when
the disk answers again. A file whose write was already hanging on the writer thread is named in an error log.
Without ``fork`` the writes run on a helper thread, with the same bound on the wait.

Example::

    >>> live_writers.add(event_file_writer)   # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from typing import Any

from .run_file import AppendError

__all__ = ["EXIT_TIMEOUT_SECS", "live_writers"]

_log = logging.getLogger("mxnet_tb")

EXIT_TIMEOUT_SECS = 5.0  # all writers together
live_writers: weakref.WeakSet[Any] = weakref.WeakSet()  # EventFileWriters not closed yet


def _write(jobs: list[tuple[Any, Any, list[bytes]]]) -> None:
    for writer, file, records in jobs:
        try:
            if records:
                file.append(records)
            file.close(sync=True)
        except (AppendError, OSError) as exc:
            _log.error("mxnet_tb: events for %s were not written at exit: %s", writer.logdir, exc)


def _detach_from_output() -> None:
    """The helper lets go of the program's stdin/stdout/stderr: whoever reads them sees the program end."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _wait_for(pid: int, deadline: float) -> bool:
    while True:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def _close_all_at_exit() -> None:
    """Write every open writer's queue, waiting at most EXIT_TIMEOUT_SECS in all (a hung disk cannot hold exit)."""
    deadline = time.monotonic() + EXIT_TIMEOUT_SECS
    jobs, busy = [], []
    for writer in [each for each in list(live_writers) if each.refuse_writes()]:
        taken = writer.take_for_exit(deadline - time.monotonic())
        if taken is None:
            busy.append(writer)
        else:
            jobs.append((writer, *taken))
    try:
        if jobs and hasattr(os, "fork"):
            pid = os.fork()
            if pid == 0:  # the helper: write, then end without running anything else of the program
                try:
                    _detach_from_output()
                    _write(jobs)
                finally:
                    os._exit(0)
            finished = _wait_for(pid, deadline)
        elif jobs:
            helper = threading.Thread(target=_write, args=(jobs,), name="mxnet_tb-exit", daemon=True)
            helper.start()
            helper.join(max(deadline - time.monotonic(), 0.0))
            finished = not helper.is_alive()
        else:
            finished = True
    finally:
        for writer, _, _ in jobs:
            writer.release_after_exit()
    if not finished:
        _log.error(
            "mxnet_tb: events for %s were not written at exit within %s s: the disk did not answer; a helper "
            "process writes them when it does",
            ", ".join(writer.logdir for writer, _, _ in jobs),
            EXIT_TIMEOUT_SECS,
        )
    for writer in busy:
        _log.error(
            "mxnet_tb: events for %s were not written at exit: a write to the disk did not finish within %s s",
            writer.logdir,
            EXIT_TIMEOUT_SECS,
        )


atexit.register(_close_all_at_exit)
