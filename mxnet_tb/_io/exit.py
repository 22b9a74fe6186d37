"""Interpreter exit: every event file writer left open writes its queue, within EXIT_TIMEOUT_SECS in all.

The writes run on one helper thread that exit waits for at most EXIT_TIMEOUT_SECS, so a hung disk (a frozen
file system, a dead network mount) cannot hold the process: what it did not take is named in an error log.

Example::

    >>> live_writers.add(event_file_writer)   # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from typing import Any

__all__ = ["EXIT_TIMEOUT_SECS", "live_writers"]

_log = logging.getLogger("mxnet_tb")

EXIT_TIMEOUT_SECS = 5.0  # all writers together
live_writers: weakref.WeakSet[Any] = weakref.WeakSet()  # EventFileWriters not closed yet


def _close_all_at_exit() -> None:
    """Write every open writer's queue, waiting at most EXIT_TIMEOUT_SECS in all (a hung disk cannot hold exit)."""
    pending = [each for each in list(live_writers) if each.refuse_writes()]
    if not pending:
        return
    finisher = threading.Thread(
        target=lambda: [each.finish_at_exit() for each in pending], name="mxnet_tb-exit", daemon=True
    )
    finisher.start()
    finisher.join(EXIT_TIMEOUT_SECS)
    for each in pending:
        if not each.finished:
            _log.error(
                "mxnet_tb: events for %s were not written at exit: the disk did not take them within %s s",
                each.logdir,
                EXIT_TIMEOUT_SECS,
            )


atexit.register(_close_all_at_exit)
