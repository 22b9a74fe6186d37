"""The core every ``SummaryWriter`` method builds on: the state a writer shares with its run views, and the one
path every event takes to the sink (lock, closed check, step policy, queue, step recorded).

Example::

    >>> class Writer(WriterCore): ...                       # doctest: +SKIP
    >>> w._write_value("", text_value("note", "hi"), None, None)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from .._io.encode import summary_event
from .._io.forks import renew_at_fork
from .._io.sink import Sink
from .._io.steps import StepPolicy
from .._values.names import run_dir
from ..errors import WriterClosedError
from ..summaries.custom_scalars import Layout
from . import walltime_or_now

__all__ = ["CLOSED", "SharedState", "WriterCore"]

CLOSED = "Cannot write to a SummaryWriter once it has been closed"


class SharedState:
    """What a writer shares with its run views: the sink, the lock, the step policies and the lifetime."""

    def __init__(self, sink: Sink, logdir: str, first_step: int = 0) -> None:
        self.sink = sink
        self.logdir = logdir
        self.closed = False
        self.steps = StepPolicy(first=first_step)
        self.embedding_steps = StepPolicy(warn_backwards=False, keep_highest=True)
        self.hparams_runs: set[str] = set()  # runs that have their hparams
        self.sessions: dict[str, int] = {}  # run -> step of its hparams session start (_facade/sessions.py)
        self.ended_sessions: set[str] = set()  # runs whose session end is written
        self.scalar_listeners: list[Callable[[str, str, float, int], None]] = []  # (run, tag, value, step)
        self.views: dict[str, WriterCore] = {}
        self._renew_after_fork()
        renew_at_fork(self)

    def _renew_after_fork(self) -> None:
        self.lock = threading.Lock()  # orders steps with the queue: a tag's steps increase in its file
        self.layout_lock = threading.Lock()  # orders add_custom_scalars calls


class WriterCore:
    """Private methods of ``SummaryWriter``: one writer or run view over a ``SharedState``."""

    def _attach(self, shared: SharedState, prefix: str, logdir: str) -> None:
        self._shared = shared
        self._prefix = prefix  # this view's run relative to the root's logdir ('' for the root)
        self._logdir = logdir
        self._scalar_tags: dict[str, tuple[str, bytes]] = {}  # tag as given -> (clean tag, encoded prefix)
        self._custom_layout: Layout = {}  # merged add_custom_scalars charts
        self._later_tags: dict[Any, Any] = {}  # add_summary_later's checked tag tuples (_facade/later.py)

    def _key(self, run: str) -> str:
        """``run`` (relative to this view's directory) relative to the root writer's logdir; '' for the root."""
        if not self._prefix:
            return run
        return os.path.normpath(os.path.join(self._prefix, run)) if run else self._prefix

    @property
    def _is_view(self) -> bool:
        return bool(self._prefix)

    def _run_name(self, *names: str) -> str:
        """The sub-run ``<logdir>/<name1>/<name2>...`` relative to logdir; ValueError if it would leave it."""
        return os.path.relpath(run_dir(self._logdir, *names), os.path.realpath(self._logdir))

    def _check_open(self) -> None:
        if self._shared.closed:
            raise WriterClosedError(CLOSED)

    @property
    def _layout_lock(self) -> threading.Lock:
        return self._shared.layout_lock

    def _write_values(self, run: str, values: list[Any], global_step: Any, walltime: Any) -> None:
        """Several values in one event, at the step of the first value's tag; every tag records that step."""
        self._write_values_at_key(self._key(run), values, global_step, walltime)

    def _write_values_at_key(self, key: str, values: list[Any], global_step: Any, walltime: Any) -> None:
        """``_write_values`` in run ``key``, relative to the root logdir (whichever view calls it)."""
        wall = walltime_or_now(walltime)
        shared = self._shared
        with shared.lock:
            self._check_open()
            step = shared.steps.take(key, values[0].tag, global_step)
            shared.sink.write(key, summary_event(values, step, wall))
            shared.steps.record(key, [value.tag for value in values], step)

    def _write_value(self, run: str, value: Any, global_step: Any, walltime: Any) -> None:
        self._write_values(run, [value], global_step, walltime)

    def _write_value_later(
        self, run: str, tag: str, build: Callable[[], Any], size: int, global_step: Any, walltime: Any
    ) -> None:
        """Like ``_write_value``, but ``build()`` (PNG encoding, which releases the GIL) runs on an encoder thread.

        The step is taken now and the record keeps its place in the queue, so order is what the caller logged;
        the call returns without waiting for the encoder.
        """
        wall = walltime_or_now(walltime)
        shared, key = self._shared, self._key(run)
        with shared.lock:
            self._check_open()
            step = shared.steps.take(key, tag, global_step)
            what = f"value for tag {tag!r} at step {step}"
            shared.sink.write_later(key, lambda: summary_event([build()], step, wall), size, what)
            shared.steps.record(key, (tag,), step)

    def _write_event(self, run: str, event: bytes, then: Callable[[], None] | None = None) -> None:
        """An event outside the step policy (a graph, the projector's marker); ``then()`` runs once it is queued."""
        with self._shared.lock:
            self._check_open()
            self._shared.sink.write(self._key(run), event)
            if then is not None:
                then()
