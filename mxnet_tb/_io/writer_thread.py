"""One background thread writing the queues of many event files (all runs of one ``SummaryWriter``).

A run's queue is written once it holds half of ``max_queue`` events (its writer calls ``wake``), and within
``flush_secs`` of holding anything (``queued``), however small ``flush_secs`` is at most every
``MIN_FLUSH_SECS``. Only runs with something queued are visited: 1,000 idle sub-runs cost nothing, and all
runs cost one thread, not one each.

Example::

    >>> thread = WriterThread(flush_secs=5, name="mxnet_tb-writer:/logs")   # doctest: +SKIP
    >>> thread.queued(event_file_writer); thread.wake(event_file_writer)    # doctest: +SKIP
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
    """Writes a writer's queue when it is woken, and every queue holding something every ``flush_secs``."""

    def __init__(self, flush_secs: float, name: str) -> None:
        self.interval = max(float(flush_secs), MIN_FLUSH_SECS)
        self._name = name
        self._served: set[Queued] = set()  # kept alive until closed, so nothing queued is ever collected
        self._renew_after_fork()
        renew_at_fork(self)

    def _renew_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._due: dict[Queued, None] = {}  # a batch is ready: write now
        self._dirty: dict[Queued, None] = {}  # something is queued: write within the interval
        self._thread: threading.Thread | None = None
        self._stopping = False

    def serve(self, writer: Queued) -> None:
        with self._lock:
            self._served.add(writer)

    def forget(self, writer: Queued) -> None:
        with self._lock:
            self._served.discard(writer)
            self._due.pop(writer, None)
            self._dirty.pop(writer, None)

    def wake(self, writer: Queued) -> None:
        """Write ``writer``'s queue now (a batch is ready), starting the thread if needed."""
        with self._lock:
            if self._stopping:
                return
            self._due[writer] = None
            self._start()
            self._wake.notify()

    def queued(self, writer: Queued) -> None:
        """``writer``'s queue is no longer empty: write it within ``flush_secs``."""
        with self._lock:
            if not self._stopping:
                self._dirty[writer] = None
                self._start()

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

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
                targets = list(self._due)
                self._due.clear()
                if periodic:
                    targets += [writer for writer in self._dirty if writer not in targets]
                    self._dirty.clear()
            for writer in targets:
                writer.write_queued()
            if periodic:
                next_flush = time.monotonic() + self.interval
