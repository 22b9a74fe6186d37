"""``SummaryWriter``: MXBoard's logging API, writing TensorBoard event files.

The writer validates arguments, turns values into protos through ``summaries``, and hands the encoded events
to one ``EventFileWriter`` per run. It does nothing else.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from typing import Any

from ._convert import MAX_STEP, to_float, to_numpy, to_step, to_walltime
from ._encode import scalar_event, scalar_value_prefix, summary_event
from ._event_file import DEFAULT_MAX_QUEUE, EventFileWriter, WriterClosedError
from ._names import clean_tag, run_dir
from ._record import frame
from .summaries.histogram import Bins, histogram_value
from .summaries.text import text_value

__all__ = ["StepOrderWarning", "SummaryWriter"]

_log = logging.getLogger("mxnet_tb")
_MAX_CACHED_TAGS = 10_000
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


class StepOrderWarning(UserWarning):
    """A tag was logged at a step not above one it already has; TensorBoard may hide the earlier points."""


class SummaryWriter:
    """Writes scalars, histograms and text for TensorBoard into ``logdir``.

    Events are queued in memory and written by a background thread at least every ``flush_secs`` seconds
    (sooner once half of ``max_queue`` is used); ``flush()`` writes them now, ``close()`` writes, fsyncs
    and closes. Writers left open are closed at interpreter exit. One writer may be shared by threads.

    Args:
        logdir: directory of the run; created if missing.
        max_queue: events held in memory per run before the logging call writes them itself.
        flush_secs: longest time an event waits in memory before it is written.
        filename_suffix: appended to every event file name.
        verbose: log (``logging.INFO``, logger ``mxnet_tb``) each event file created.

    Example::

        >>> with SummaryWriter(logdir="./logs", flush_secs=5) as sw:   # doctest: +SKIP
        ...     sw.add_scalar("cross_entropy", 0.42, global_step=1)
        ...     sw.add_histogram("fc1_weight", mx.nd.random.normal(shape=(64, 32)), global_step=1)
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str] = "./logs",
        max_queue: int = DEFAULT_MAX_QUEUE,
        flush_secs: float = 120,
        filename_suffix: str = "",
        verbose: bool = True,
    ) -> None:
        if not isinstance(logdir, (str, os.PathLike)):
            raise TypeError(f"logdir must be a str or os.PathLike; got {type(logdir).__name__}: {logdir!r:.80}")
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise ValueError(f"max_queue must be an int >= 1; got {max_queue!r}")
        flush_secs = to_float(flush_secs, name="flush_secs")
        if not 0 < flush_secs < float("inf"):
            raise ValueError(f"flush_secs must be a positive number of seconds; got {flush_secs!r}")
        if not isinstance(filename_suffix, str) or any(c in "/\\" or c < " " for c in filename_suffix):
            raise ValueError(
                f"filename_suffix must be a str without path separators or control characters; got {filename_suffix!r}"
            )
        self._logdir = os.fspath(logdir)
        self._options = {"max_queue": max_queue, "flush_secs": flush_secs, "filename_suffix": filename_suffix}
        self._verbose = bool(verbose)
        self._lock = threading.Lock()
        self._closed = False
        self._runs: dict[str, EventFileWriter] = {"": EventFileWriter(self._logdir, **self._options)}
        self._last_steps: dict[tuple[str, str], int] = {}
        self._warned_tags: set[tuple[str, str]] = set()
        self._scalar_tags: dict[str, tuple[str, bytes]] = {}  # tag as given -> (clean tag, encoded prefix)

    # -- lifecycle ----------------------------------------------------------------------------------------

    def get_logdir(self) -> str:
        """The log directory, as given."""
        return self._logdir

    def flush(self) -> None:
        """Return once every event logged before this call is written to disk (handed to the OS)."""
        for writer in list(self._runs.values()):
            writer.flush()

    def close(self) -> None:
        """Write everything, fsync and close every event file. Calling it again does nothing."""
        with self._lock:
            self._closed = True
            writers = list(self._runs.values())
        errors = []
        for writer in writers:
            try:
                writer.close()
            except OSError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- scalars ------------------------------------------------------------------------------------------

    def add_scalar(
        self,
        tag: str,
        value: Any,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log one number under ``tag``.

        ``value`` is a Python number, a NumPy scalar, or a NumPy array or NDArray of one element. A
        ``(name, value)`` pair or a ``{name: value}`` dict logs each value in its own run ``<logdir>/<tag>/<name>``
        with the same tag, so TensorBoard draws them in one chart (see ``add_scalars``). Without
        ``global_step``, the tag's previous step plus one is used (0 first).

        Example::

            >>> sw.add_scalar("cross_entropy", loss.mean().asscalar(), global_step=step)   # doctest: +SKIP
            >>> sw.add_scalar("accuracy", {"train": 0.91, "valid": 0.88}, global_step=epoch)  # doctest: +SKIP
        """
        if type(value) is not float:
            if isinstance(value, Mapping):
                self.add_scalars(tag, value, global_step, walltime)
                return
            if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str):
                self.add_scalars(tag, {value[0]: value[1]}, global_step, walltime)
                return
        cached = self._scalar_tags.get(tag) if type(tag) is str else None
        if cached is None:
            clean = clean_tag(tag)
            cached = (clean, scalar_value_prefix(clean))
            if type(tag) is str:
                if len(self._scalar_tags) >= _MAX_CACHED_TAGS:
                    self._scalar_tags.clear()
                self._scalar_tags[tag] = cached
        number = value if type(value) is float else to_float(value, name=f"value for tag {cached[0]!r}")
        wall = time.time() if walltime is None else to_walltime(walltime)
        with self._lock:
            writer = self._run("")
            step = self._step("", cached[0], global_step)
            writer.write(frame(scalar_event(cached[1], number, step, wall)))
            self._last_steps[("", cached[0])] = step

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: Mapping[str, Any],
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log ``{name: value}`` as one chart ``main_tag`` with one run per name, ``<logdir>/<main_tag>/<name>``.

        Every value is checked before anything is written.

        Example::

            >>> sw.add_scalars("loss", {"train": 0.31, "valid": 0.35}, global_step=epoch)   # doctest: +SKIP
        """
        tag = clean_tag(main_tag, name="main_tag")
        if not isinstance(tag_scalar_dict, Mapping) or not tag_scalar_dict:
            raise TypeError(
                f"tag_scalar_dict for {tag!r} must be a non-empty dict of name -> value; got {tag_scalar_dict!r:.80}"
            )
        prefix = scalar_value_prefix(tag)
        wall = time.time() if walltime is None else to_walltime(walltime)
        entries = []
        for name, value in tag_scalar_dict.items():
            run = os.path.relpath(run_dir(self._logdir, tag, name), os.path.realpath(self._logdir))
            entries.append((run, to_float(value, name=f"value {name!r} of {tag!r}")))
        with self._lock:
            for run, number in entries:
                writer = self._run(run)
                step = self._step(run, tag, global_step)
                writer.write(frame(scalar_event(prefix, number, step, wall)))
                self._last_steps[(run, tag)] = step

    # -- other kinds --------------------------------------------------------------------------------------

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: int | None = None,
        bins: Bins = "default",
        walltime: float | None = None,
    ) -> None:
        """Log the distribution of ``values`` (NDArray, NumPy array or list) under ``tag``.

        ``bins``: ``'default'`` (TensorBoard's exponential buckets), an int number of equal buckets, a
        NumPy rule name such as ``'auto'``, or increasing bucket edges. NaN or Inf values raise ValueError
        with their count; nothing is logged then.

        Example::

            >>> data = mx.nd.random.normal(loc=0, scale=1.0, shape=(10, 3, 8, 8))   # doctest: +SKIP
            >>> sw.add_histogram(tag="norml_dist", values=data, bins=200, global_step=0)   # doctest: +SKIP
        """
        clean = clean_tag(tag)
        value = histogram_value(clean, to_numpy(values, name=f"values for tag {clean!r}"), bins)
        self._write_value("", value, global_step, walltime)

    def add_text(self, tag: str, text: str, global_step: int | None = None, walltime: float | None = None) -> None:
        """Log ``text`` (Markdown) under ``tag``; the TEXT tab shows it.

        Example::

            >>> sw.add_text("config", "lr = 0.1, batch = 64")   # doctest: +SKIP
        """
        clean = clean_tag(tag)
        self._write_value("", text_value(clean, text), global_step, walltime)

    # -- internals ----------------------------------------------------------------------------------------

    def _write_value(self, run: str, value: Any, global_step: Any, walltime: Any) -> None:
        wall = time.time() if walltime is None else to_walltime(walltime)
        with self._lock:
            writer = self._run(run)
            step = self._step(run, value.tag, global_step)
            writer.write(frame(summary_event([value], step, wall)))
            self._last_steps[(run, value.tag)] = step

    def _run(self, run: str) -> EventFileWriter:
        """The event writer of ``run`` (relative to logdir, '' for the writer's own); caller holds the lock."""
        if self._closed:
            raise WriterClosedError("Cannot write to a SummaryWriter once it has been closed")
        writer = self._runs.get(run)
        if writer is None:
            writer = EventFileWriter(os.path.join(self._logdir, run), **self._options)
            self._runs[run] = writer
            if self._verbose:
                _log.info("mxnet_tb: new run %s", writer.logdir)
        return writer

    def _step(self, run: str, tag: str, global_step: Any) -> int:
        """The step to log at; warns once per tag when steps go backwards. Caller holds the lock.

        The caller records the step in ``_last_steps`` once the event is queued, so a failed call uses none.
        """
        key = (run, tag)
        last = self._last_steps.get(key)
        if global_step is None:
            step = 0 if last is None else min(last + 1, MAX_STEP)
        else:
            step = global_step if type(global_step) is int and 0 <= global_step <= MAX_STEP else to_step(global_step)
            if last is not None and step <= last and key not in self._warned_tags:
                self._warned_tags.add(key)
                warnings.warn(
                    f"tag {tag!r}{' in run ' + repr(run) if run else ''} logged at step {step} after step {last}; "
                    f"TensorBoard drops earlier points at steps >= {step} when it reads this run",
                    StepOrderWarning,
                    stacklevel=_caller_stacklevel(),
                )
        return step
