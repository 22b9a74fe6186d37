"""How I/O and encoding failures reach the user: raised (``strict=True``) or warned, once per failing spell.

All event file writers of one ``SummaryWriter`` share one ``FailurePolicy``: a full disk that fails 1,000 runs
warns once, not 1,000 times. A spell starts when a writer fails while none is failing, and ends when every
failing writer has written again. Encoding failures (``EncodeError``) are not disk failures: each warns
(``EncodeWarning``) with its tag.

Example::

    >>> policy = FailurePolicy(strict=False)
    >>> policy.report("run-a", EventWriteError(28, "could not write 3 event(s): No space left", "/logs/x"))
    ... # doctest: +SKIP
"""

from __future__ import annotations

import threading
from typing import Any

from ..errors import EncodeError, EncodeWarning, EventWriteError, EventWriteWarning, warn_user
from .forks import renew_at_fork

__all__ = ["FailurePolicy"]


class FailurePolicy:
    """Raise, or warn once per spell; ``source`` is whatever failed (an event file writer)."""

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self._renew_after_fork()
        renew_at_fork(self)

    def _renew_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._failing: set[int] = set()

    def report(self, source: Any, error: EventWriteError | EncodeError) -> None:
        if self.strict:
            if isinstance(error, EventWriteError):
                with self._lock:
                    self._failing.add(id(source))
            raise error
        if isinstance(error, EncodeError):
            warn_user(f"{error}; the event was not logged (use strict=True to raise instead)", EncodeWarning)
            return
        with self._lock:
            first = not self._failing
            self._failing.add(id(source))
        if first:
            warn_user(
                f"{error}. Events that cannot be written are dropped and counted in dropped_events "
                "(use strict=True to raise instead)",
                EventWriteWarning,
            )

    def is_failing(self, source: Any) -> bool:
        return id(source) in self._failing

    def recovered(self, source: Any) -> None:
        """``source`` wrote again: its failures are over (a later one is news once no other source fails)."""
        if self._failing:
            with self._lock:
                self._failing.discard(id(source))
