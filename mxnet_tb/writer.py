"""``SummaryWriter``: MXBoard's logging API, writing TensorBoard event files.

The facade validates arguments, turns values into protos through ``summaries`` (pure builders), and hands the
serialized events to a sink (``_io.sink``): event files under the log directory, or nothing at all for the
processes of a distributed job that do not log (``null_writer``). Steps come from the step policy
(``_io.steps``). The methods of most summary kinds live in ``_facade/`` and are listed in the class body.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from tensorboard.compat.proto import summary_pb2

from ._facade import later, media, plots, sessions, walltime_or_now
from ._facade.core import CLOSED, SharedState, WriterCore
from ._io.encode import scalar_event, scalar_value_prefix, summary_event
from ._io.event_file import DEFAULT_MAX_QUEUE
from ._io.object_store import ObjectStorage, is_url
from ._io.projector import embedding_dir, embedding_lock
from ._io.run_set import RunSet
from ._io.sink import NullSink, Sink
from ._io.storage import LOCAL
from ._values.convert import to_float, to_step
from ._values.names import check_filename_suffix, clean_tag, path_tag, resolve_logdir
from .errors import StepOrderWarning, WriterClosedError
from .summaries.embedding import check_embedding, embedding_info, metadata_tsv, sprite_png, tensor_file
from .summaries.hparams import check_hparams, hparams_values

__all__ = ["StepOrderWarning", "SummaryWriter", "null_writer"]

_MAX_CACHED_TAGS = 10_000


class SummaryWriter(WriterCore):
    """Writes scalars, histograms, images, text, graphs and more for TensorBoard into ``logdir``.

    Events are queued in memory and written by a background thread at least every ``flush_secs`` seconds
    (sooner once half of ``max_queue`` is used); ``flush()`` writes them now, ``close()`` writes, fsyncs
    and closes. Writers left open are closed at interpreter exit. One writer may be shared by threads.

    A failing disk never stops training by default: the next call warns once (``EventWriteWarning``,
    naming the file and the OS error), events that cannot be written are dropped and counted in
    ``dropped_events``, and writing resumes in a new file when the disk recovers. With ``strict=True``
    the next ``add_*``, ``flush()`` or ``close()`` raises ``EventWriteError`` instead.

    Args:
        logdir: directory of the run; created if missing.
        max_queue: events held in memory per run; a full queue waits at most 1 s for the writer thread, then
            the event is dropped and counted (``strict=True``: raised), so a hung disk never holds training.
        flush_secs: longest time an event waits in memory before it is written (values below 0.01 s count
            as 0.01 s: a smaller one would only spin a core).
        filename_suffix: appended to every event file name.
        verbose: log (``logging.INFO``, logger ``mxnet_tb``) each event file created.
        strict: raise write failures instead of warning and counting them.
        purge_step: resuming a crashed run at step N: its events at steps >= N are removed from the run's
            event files (and from sub-runs as this writer first writes to them), and the new file starts with
            ``SessionLog.START`` at N, so both TensorBoard loaders show the resumed curve without a jump back.

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
        *,
        strict: bool = False,
        purge_step: int | None = None,
    ) -> None:
        self._start(
            logdir,
            max_queue=max_queue,
            flush_secs=flush_secs,
            filename_suffix=filename_suffix,
            verbose=verbose,
            strict=strict,
            purge_step=purge_step,
        )

    def _start(
        self,
        logdir: Any,
        *,
        max_queue: int = DEFAULT_MAX_QUEUE,
        flush_secs: float = 120,
        filename_suffix: str = "",
        verbose: bool = True,
        strict: bool = False,
        purge_step: int | None = None,
        sink: Sink | None = None,
    ) -> None:
        """Check every option, then open ``sink`` (by default the event files under ``logdir``)."""
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be a bool; got {strict!r}")
        purge_step = None if purge_step is None else to_step(purge_step, name="purge_step")
        given = os.fspath(logdir) if isinstance(logdir, (str, os.PathLike)) else logdir
        # Resolved once: a later os.chdir does not move the runs (a URL names object storage, never a cwd).
        logdir = given if isinstance(given, str) and is_url(given) else resolve_logdir(logdir)
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise ValueError(f"max_queue must be an int >= 1; got {max_queue!r}")
        flush_secs = to_float(flush_secs, name="flush_secs")
        if not 0 < flush_secs < float("inf"):
            raise ValueError(f"flush_secs must be a positive number of seconds; got {flush_secs!r}")
        filename_suffix = check_filename_suffix(filename_suffix)
        if sink is None:
            sink = RunSet(
                logdir,
                storage=ObjectStorage(logdir) if is_url(logdir) else LOCAL,
                max_queue=max_queue,
                flush_secs=flush_secs,
                filename_suffix=filename_suffix,
                strict=strict,
                purge_step=purge_step,
                verbose=bool(verbose),
            )
        self._attach(SharedState(sink, logdir, first_step=purge_step or 0), "", logdir)
        self._given_logdir = given  # get_logdir() answers it as given
        self._shared.views[""] = self

    # -- lifecycle ----------------------------------------------------------------------------------------

    def get_logdir(self) -> str:
        """The log directory, as given."""
        return self._given_logdir

    @property
    def dropped_events(self) -> int:
        """Events that could not be written (disk full, directory gone, no permission), over all runs."""
        return self._shared.sink.dropped_events

    def flush(self) -> None:
        """Return once every event logged before this call is written to disk (handed to the OS)."""
        self._shared.sink.flush()

    def close(self) -> None:
        """Write everything, fsync and close every event file. Calling it again does nothing.

        On a child-run view (``run()``) it only flushes: the writer that made the view owns the files.
        """
        if self._is_view:
            self.flush()
            return
        sessions.end_sessions(self)
        with self._shared.lock:
            self._shared.closed = True
        self._shared.sink.close()

    def end_session(self, status: str = "success") -> None:
        """End the hparams session of every run of this writer that logged ``add_hparams``: ``'success'`` or
        ``'failure'``, shown in the HPARAMS table's Status column. Once: TensorBoard keeps the first end.

        Without this call a session ends at ``close()``: failure inside a ``with`` block left by an exception
        or after an uncaught exception, else success; a writer never closed ends it at interpreter exit.

        Example::

            >>> sw.add_hparams({"lr": 0.1}, {}); sw.end_session("failure")   # doctest: +SKIP
        """
        sessions.end_sessions(self, sessions.check_status(status))

    def purge_from(self, step: int) -> int:
        """``purge_step`` for a writer that exists already: hide every event at steps >= ``step`` (a resumed run).

        The runs this writer has open are purged now (each event file written so far is flushed, then
        rewritten without those events, and ``SessionLog.START`` at ``step`` follows), sub-runs as it first
        writes to them. Returns how many events were removed now.

        Example::

            >>> sw.purge_from(1200)   # doctest: +SKIP
            0
        """
        step = to_step(step, name="step")
        with self._shared.lock:
            self._check_open()
        return self._shared.sink.purge_from(step)

    def run(self, name: str) -> SummaryWriter:
        """A writer for the sub-run ``<logdir>/<name>``, sharing this writer's thread, files, options and lifetime.

        Keras-style layouts log the same tags into ``train`` and ``val`` runs so TensorBoard overlays them in
        one chart. Every ``add_*`` method works on the view; steps are kept per (run, tag). ``name`` may have
        several parts (``'val/fold1'``) but may not leave the log directory. Closing the view only flushes it.

        Example::

            >>> train, val = sw.run("train"), sw.run("val")   # doctest: +SKIP
            >>> train.add_scalar("loss", 0.31, global_step=100)   # doctest: +SKIP
            >>> val.add_scalar("loss", 0.35, global_step=100)     # doctest: +SKIP
        """
        if not isinstance(name, str) or not name.strip("/. "):
            raise ValueError(f"run name must be a non-empty str naming a directory; got {name!r:.80}")
        key = self._key(self._run_name(name))
        shared = self._shared
        with shared.lock:
            if shared.closed:
                raise WriterClosedError(CLOSED)
            if key in ("", "."):
                return shared.views[""]
            view = shared.views.get(key)
            if view is None:
                view = object.__new__(SummaryWriter)
                view._attach(shared, key, os.path.join(shared.logdir, key))
                view._given_logdir = os.path.join(shared.views[""]._given_logdir, key)
                shared.views[key] = view
        return view

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is not None and not self._is_view:
            sessions.end_sessions(self, "failure")
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
        wall = walltime_or_now(walltime)
        shared, run = self._shared, self._prefix
        with shared.lock:
            if shared.closed:
                raise WriterClosedError(CLOSED)
            step = shared.steps.take(run, cached[0], global_step)
            shared.sink.write(run, scalar_event(cached[1], number, step, wall))
            shared.steps.last[(run, cached[0])] = step
        if shared.scalar_listeners:  # the doctor's loss rules (mxnet_tb/doctor.py)
            for listener in list(shared.scalar_listeners):
                listener(run, cached[0], number, step)

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
        entries = [
            (self._run_name(tag, name), to_float(value, name=f"value {name!r} of {tag!r}"))
            for name, value in tag_scalar_dict.items()
        ]
        self._write_scalars(tag, entries, global_step, walltime)

    def _write_scalars(self, tag: str, entries: list[tuple[str, float]], global_step: Any, walltime: Any) -> None:
        prefix = scalar_value_prefix(tag)
        wall = walltime_or_now(walltime)
        shared = self._shared
        with shared.lock:
            self._check_open()
            for run, number in entries:
                key = self._key(run)
                step = shared.steps.take(key, tag, global_step)
                shared.sink.write(key, scalar_event(prefix, number, step, wall))
                shared.steps.record(key, (tag,), step)

    # -- other kinds (most in _facade/) -------------------------------------------------------------------

    add_histogram = plots.add_histogram
    add_histogram_raw = plots.add_histogram_raw
    add_summary_later = later.add_summary_later
    add_image = media.add_image
    add_images = media.add_images
    add_audio = media.add_audio
    add_pr_curve = plots.add_pr_curve
    add_pr_curve_raw = plots.add_pr_curve_raw

    def add_embedding(
        self,
        tag: str,
        embedding: Any,
        labels: Any = None,
        images: Any = None,
        global_step: int | None = None,
        *,
        metadata_header: list[str] | None = None,
    ) -> None:
        """Save an ``(N, D)`` embedding for the PROJECTOR tab, with optional labels and sprite images.

        ``labels``: N labels (list, NDArray or NumPy), N rows of several labels (with ``metadata_header`` as
        column names, default ``column_1``...), or a dict of columns. ``images``: N images NCHW (or NHW), any
        size, pixels as in ``add_image`` (uint8, bool, floats in [0, 1]); the sprite is scaled to TensorBoard's
        8192 x 8192 limit. Files go to
        ``<logdir>/embeddings/<tag>/<step>/`` and an entry ``<tag>:<step>`` to ``projector_config.pbtxt``;
        logging the same tag and step again replaces both. Without ``global_step`` each tag counts from 0.
        Everything is checked and encoded before any file is written.

        Example::

            >>> sw.add_embedding("resnet_features", features, labels=class_names, images=thumbnails)   # doctest: +SKIP
        """
        clean = path_tag(tag)
        data = check_embedding(embedding, tag=clean)
        count = data.shape[0]
        tensor_name, tensor_bytes = tensor_file(data)
        files = {tensor_name: tensor_bytes}
        if labels is not None:
            files["metadata.tsv"] = metadata_tsv(labels, count, metadata_header, tag=clean)
        elif metadata_header is not None:
            raise ValueError(f"metadata_header for tag {clean!r} needs labels")
        sprite_dim = None
        if images is not None:
            files["sprite.png"], sprite_dim = sprite_png(images, count, tag=clean)
        steps, run = self._shared.embedding_steps, self._key("")
        with embedding_lock(self._logdir):  # the automatic step and the config change together
            step = steps.take(run, clean, global_step)
            info = embedding_info(
                f"{clean}:{step:05d}",
                embedding_dir(clean, step),
                tensor_name,
                data.shape,
                labels is not None,
                sprite_dim,
            )
            self._check_open()
            self._shared.sink.write_embedding(run, clean, step, files, info)
            # An event without a summary: TensorBoard lists only runs with event files, the projector only runs.
            self._write_event(run, summary_event([], step, time.time()), lambda: steps.record(run, (clean,), step))

    def add_hparams(
        self,
        hparam_dict: Mapping[str, Any],
        metric_dict: Mapping[str, Any],
        name: str | None = None,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log this run's hyperparameters and final metrics (HPARAMS tab), once per run.

        Written in this writer's run (or its sub-run ``name``), not a new time-named run, so the HPARAMS table
        lists the run with every scalar it logs as a metric. ``metric_dict`` values are logged as scalars.
        Values may be bools, numbers or strings. A second call for the same run raises ValueError:
        TensorBoard would show only the first.

        Example::

            >>> sw.add_hparams({"lr": 0.1, "optimizer": "sgd"}, {"hparam/accuracy": 0.93})   # doctest: +SKIP
        """
        check_hparams(hparam_dict)
        if not isinstance(metric_dict, Mapping):
            raise TypeError(f"metric_dict must be a dict of tag -> number; got {metric_dict!r:.80}")
        metrics = [
            summary_pb2.Summary.Value(
                tag=clean_tag(k, name="metric tag"), simple_value=to_float(v, name=f"metric {k!r}")
            )
            for k, v in metric_dict.items()
        ]
        run = "" if name is None else self._run_name(name)
        step = None if global_step is None else to_step(global_step)  # a bad step fails before the run is marked
        wall = walltime_or_now(walltime)
        start = hparams_values(hparam_dict, start_time=wall)
        with self._shared.lock:
            if self._key(run) in self._shared.hparams_runs:
                where = f"run {run!r}" if run else "this writer's run"
                raise ValueError(f"hparams were already logged for {where}; TensorBoard would show only the first")
            self._shared.hparams_runs.add(self._key(run))
        self._write_values(run, [start], step, wall)
        sessions.session_started(self, self._key(run), self._shared.steps.last[(self._key(run), start.tag)])
        for metric in metrics:
            self._write_value(run, metric, step, wall)

    add_custom_scalars = plots.add_custom_scalars
    add_custom_scalars_multilinechart = plots.add_custom_scalars_multilinechart
    add_custom_scalars_marginchart = plots.add_custom_scalars_marginchart
    add_figure = media.add_figure
    add_video = media.add_video
    add_mesh = media.add_mesh
    add_text = plots.add_text
    add_graph = plots.add_graph


def null_writer(logdir: str | os.PathLike[str], **options: Any) -> SummaryWriter:
    """A ``SummaryWriter`` that checks every call as usual and writes nothing, creating no directory.

    For the processes of a distributed job that do not log (servers, schedulers, workers other than rank 0 in
    ``rank0`` mode): they run the same script, so every call must work, and fail, as it does where it logs.

    Example::

        >>> sw = null_writer("runs/exp1", flush_secs=5)
        >>> sw.add_scalar("loss", 0.5, global_step=0); sw.dropped_events
        0
    """
    writer = object.__new__(SummaryWriter)
    writer._start(logdir, **options, sink=NullSink())
    return writer
