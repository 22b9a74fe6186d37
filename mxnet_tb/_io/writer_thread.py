"""One background thread writing the queues of many event files (all runs of one ``SummaryWriter``).

A run's queue is written when it holds half of ``max_queue`` events (its writer calls ``wake``) and every
``flush_secs``, at most ``1 / MIN_FLUSH_SECS`` times a second however small ``flush_secs`` is. 1,000 sub-runs
cost one thread, not 1,000.

Example::

    >>> thread = WriterThread(flush_secs=5, name="mxnet_tb-writer:/logs")   # doctest: +SKIP
    >>> thread.serve(event_file_writer); thread.wake(event_file_writer)     # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from .forks import renew_at_fork

__all__ = ["MAX_WAIT_SECS", "MIN_FLUSH_SECS", "WriterThread"]

MIN_FLUSH_SECS = 0.01  # a smaller flush_secs would only spin a core
MAX_WAIT_SECS = 3600.0  # the thread re-checks its deadline at least this often (a huge flush_secs must not overflow)
STOP_TIMEOUT_SECS = 5.0


class Queued(Protocol):
    def write_queued(self) -> None:
        """Write what is queued now; never raises (failures are kept for the caller)."""


class WriterThread:
    """Writes the queues of the writers it serves: when one is woken, and all of them every ``flush_secs``."""

    def __init__(self, flush_secs: float, name: str) -> None:
        self.interval = max(float(flush_secs), MIN_FLUSH_SECS)
        self._name = name
        self._served: dict[Queued, None] = {}
        self._renew_after_fork()
        renew_at_fork(self)

    def _renew_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._due: dict[Queued, None] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._thread is not None

    def serve(self, writer: Queued) -> None:
        with self._lock:
            self._served[writer] = None

    def forget(self, writer: Queued) -> None:
        with self._lock:
            self._served.pop(writer, None)
            self._due.pop(writer, None)

    def wake(self, writer: Queued | None = None) -> None:
        """Write ``writer``'s queue soon (start the thread if needed); with None only start the thread."""
        with self._lock:
            if self._stopping:
                return
            if writer is not None:
                self._due[writer] = None
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()

    def stop(self) -> None:
        """Stop the thread after its current write (waiting at most ``STOP_TIMEOUT_SECS``)."""
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_TIMEOUT_SECS)

    def _loop(self) -> None:
        next_flush = time.monotonic() + self.interval
        while True:
            with self._lock:
                while not self._due and not self._stopping:
                    remaining = next_flush - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(min(remaining, MAX_WAIT_SECS))
                if self._stopping:
                    return
                periodic = time.monotonic() >= next_flush
                targets = list(self._served) if periodic else list(self._due)
                self._due.clear()
            for writer in targets:
                writer.write_queued()
            if periodic:
                next_flush = time.monotonic() + self.interval
