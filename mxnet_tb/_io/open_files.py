"""A bound on the event files one ``SummaryWriter`` keeps open: the least recently written are closed first.

A closed ("parked") file is reopened for appending when its run writes again, so 1,100 sub-runs need neither
1,100 descriptors (``EMFILE`` under ``ulimit -n 1024``) nor 1,100 files per reopening. A file in the middle of
a write is never parked: the bound may be passed for a moment rather than wait.

Example::

    >>> files = OpenFiles(limit=64)   # doctest: +SKIP
    >>> files.opened(writer)          # parks the least recently used others beyond 64   # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

from .forks import renew_at_fork

__all__ = ["MAX_OPEN_FILES", "OpenFiles"]

MAX_OPEN_FILES = 64


class Parkable(Protocol):
    def park_if_idle(self) -> bool:
        """Close the open file (keeping it for reopening) unless a write holds it; True if parked."""


class OpenFiles:
    """Least recently used order of the writers with an open file."""

    def __init__(self, limit: int = MAX_OPEN_FILES) -> None:
        self._limit = limit
        self._renew_after_fork()
        renew_at_fork(self)

    def _renew_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._order: OrderedDict[Parkable, None] = OrderedDict()  # the parent's files are not the child's

    def __len__(self) -> int:
        return len(self._order)

    def opened(self, writer: Parkable) -> None:
        """``writer`` opened its file: park the least recently used others over the limit."""
        with self._lock:
            self._order[writer] = None
            self._order.move_to_end(writer)
            excess = len(self._order) - self._limit
            victims = [w for w in self._order if w is not writer][: max(excess, 0) * 2]
        for victim in victims:
            if excess <= 0:
                break
            if victim.park_if_idle():  # calls closed(victim)
                excess -= 1

    def used(self, writer: Parkable) -> None:
        with self._lock:
            if writer in self._order:
                self._order.move_to_end(writer)

    def closed(self, writer: Parkable) -> None:
        with self._lock:
            self._order.pop(writer, None)
