"""``SummaryWriter``: MXBoard's logging API, writing TensorBoard event files.

The writer validates arguments, turns values into protos through ``summaries``, and hands the encoded events
to one ``EventFileWriter`` per run. It does nothing else.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2

from ._io.encode import (
    encoded_summary_event,
    graph_event,
    scalar_event,
    scalar_value_prefix,
    summary_event,
    values_summary,
)
from ._io.event_file import DEFAULT_MAX_QUEUE, EventFileWriter
from ._io.projector import embedding_dir, write_embedding
from ._io.purge import purge_run, session_start_event
from ._io.record import frame
from ._values.convert import MAX_STEP, to_float, to_numpy, to_step, to_walltime
from ._values.names import clean_tag, path_tag, run_dir
from .errors import EncodeError, StepOrderWarning, WriterClosedError, warn_user
from .summaries.audio import audio_value
from .summaries.custom_scalars import Layout, check_layout, layout_value, merge_layouts
from .summaries.embedding import check_embedding, embedding_info, metadata_tsv, sprite_png, tensor_file
from .summaries.figure import figure_to_rgba
from .summaries.graph import Shapes, graph_def
from .summaries.histogram import Bins, histogram_value, raw_histogram_value
from .summaries.hparams import check_hparams, hparams_values
from .summaries.image import image_tensor_value, image_to_hwc, image_value
from .summaries.mesh import mesh_values
from .summaries.pr_curve import pr_curve_raw_value, pr_curve_value
from .summaries.text import text_value
from .summaries.video import check_fps, encode_gif, video_frames

__all__ = ["StepOrderWarning", "SummaryWriter"]

_log = logging.getLogger("mxnet_tb")
_MAX_CACHED_TAGS = 10_000
_ENCODER_THREADS = 2
_encoder_pool: tuple[int, ThreadPoolExecutor] | None = None
_encoder_lock = threading.Lock()


def _encoders() -> ThreadPoolExecutor:
    """The process's encoder threads (created on first use, anew in a forked child)."""
    global _encoder_pool
    with _encoder_lock:
        if _encoder_pool is None or _encoder_pool[0] != os.getpid():
            _encoder_pool = (os.getpid(), ThreadPoolExecutor(_ENCODER_THREADS, thread_name_prefix="mxnet_tb-encode"))
        return _encoder_pool[1]


_BUILD_WHEN_WRITTEN_BYTES = 1 << 16


class _BuiltWhenWritten:
    """A record built when the event writer resolves it (``add_summary_later``'s small builds).

    It answers ``result()`` as the ``Future`` records of the encoder threads do; the event writer resolves each
    queued record once, on one thread. Far cheaper to make than a ``Future`` (no condition, no locks).
    """

    __slots__ = ("_build", "_outcome")

    def __init__(self, build: Callable[[], bytes]) -> None:
        self._build: Callable[[], bytes] | None = build
        self._outcome: bytes | BaseException | None = None

    def result(self, timeout: float | None = None) -> bytes:
        build, self._build = self._build, None
        if build is not None:
            try:
                self._outcome = build()
            except Exception as exc:
                self._outcome = exc
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome


class SummaryWriter:
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
        max_queue: events held in memory per run before the logging call writes them itself.
        flush_secs: longest time an event waits in memory before it is written.
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
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be a bool; got {strict!r}")
        self._purge_step = None if purge_step is None else to_step(purge_step, name="purge_step")
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
        self._options = {
            "max_queue": max_queue,
            "flush_secs": flush_secs,
            "filename_suffix": filename_suffix,
            "strict": strict,
        }
        self._verbose = bool(verbose)
        self._lock = threading.Lock()
        self._closed = False
        self._root = self  # a child-run view (``run()``) shares the root's files, steps and lifetime
        self._prefix = ""  # this view's run relative to the root's logdir ('' for the root)
        self._views: dict[str, SummaryWriter] = {}
        self._runs: dict[str, EventFileWriter] = {}
        self._run("")
        self._last_steps: dict[tuple[str, str], int] = {}
        self._warned_tags: set[tuple[str, str]] = set()
        self._scalar_tags: dict[str, tuple[str, bytes]] = {}  # tag as given -> (clean tag, encoded prefix)
        self._custom_layout: Layout = {}  # merged add_custom_scalars charts
        self._layout_lock = threading.Lock()  # orders add_custom_scalars calls
        self._hparams_runs: set[str] = set()  # runs that have their hparams
        self._embedding_steps: dict[str, int] = {}  # embedding tag -> last step
        # add_summary_later's checked tag tuples -> (their set, their _last_steps keys per run)
        self._later_tags: dict[tuple[str, ...], tuple[frozenset[str], dict[str, tuple[tuple[str, str], ...]]]] = {}

    # -- lifecycle ----------------------------------------------------------------------------------------

    def get_logdir(self) -> str:
        """The log directory, as given."""
        return self._logdir

    @property
    def dropped_events(self) -> int:
        """Events that could not be written (disk full, directory gone, no permission), over all runs."""
        return sum(writer.dropped_events for writer in list(self._runs.values()))

    def flush(self) -> None:
        """Return once every event logged before this call is written to disk (handed to the OS)."""
        for writer in list(self._runs.values()):
            writer.flush()

    def close(self) -> None:
        """Write everything, fsync and close every event file. Calling it again does nothing.

        On a child-run view (``run()``) it only flushes: the writer that made the view owns the files.
        """
        if self._root is not self:
            self.flush()
            return
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
        relative = self._run_name(name)
        key = self._key(relative)
        root = self._root
        with self._lock:
            if root._closed:
                raise WriterClosedError("Cannot write to a SummaryWriter once it has been closed")
            view = root._views.get(key)
            if view is None:
                view = copy.copy(root)
                view._logdir = os.path.join(root._logdir, key)
                view._prefix = key
                view._embedding_steps = {}
                view._custom_layout = {}
                root._views[key] = view
        return view

    def _key(self, run: str) -> str:
        """``run`` (relative to this view's directory) relative to the root writer's logdir; '' for the root."""
        if not self._prefix:
            return run
        return os.path.normpath(os.path.join(self._prefix, run)) if run else self._prefix

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
            self._last_steps[(self._key(""), cached[0])] = step

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

    def _run_name(self, *names: str) -> str:
        """The sub-run ``<logdir>/<name1>/<name2>...`` relative to logdir; ValueError if it would leave it."""
        return os.path.relpath(run_dir(self._logdir, *names), os.path.realpath(self._logdir))

    def _write_scalars(self, tag: str, entries: list[tuple[str, float]], global_step: Any, walltime: Any) -> None:
        prefix = scalar_value_prefix(tag)
        wall = time.time() if walltime is None else to_walltime(walltime)
        with self._lock:
            for run, number in entries:
                writer = self._run(run)
                step = self._step(run, tag, global_step)
                writer.write(frame(scalar_event(prefix, number, step, wall)))
                self._last_steps[(self._key(run), tag)] = step

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

    def add_histogram_raw(
        self,
        tag: str,
        min: float,
        max: float,
        num: int,
        sum: float,
        sum_squares: float,
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log a histogram already counted elsewhere (on a GPU, in another process) under ``tag``.

        ``bucket_counts[i]`` values fell in ``(bucket_limits[i-1], bucket_limits[i]]`` (the first bucket starts
        at ``min``); ``bucket_limits`` must increase, counts be finite and >= 0, ``num`` the number of values.

        Example::

            >>> sw.add_histogram_raw("w", min=-1.0, max=1.0, num=4, sum=0.0, sum_squares=2.0,
            ...                      bucket_limits=[0.0, 1.0], bucket_counts=[2, 2], global_step=3)  # doctest: +SKIP
        """
        clean = clean_tag(tag)
        value = raw_histogram_value(
            clean,
            min,
            max,
            num,
            sum,
            sum_squares,
            to_numpy(bucket_limits, name=f"bucket_limits for tag {clean!r}"),
            to_numpy(bucket_counts, name=f"bucket_counts for tag {clean!r}"),
        )
        self._write_value("", value, global_step, walltime)

    def add_summary_later(
        self,
        tags: Sequence[str],
        build: Callable[[], Sequence[summary_pb2.Summary.Value]],
        global_step: int,
        walltime: float | None = None,
        size: int = 0,
    ) -> None:
        """Log the ``Summary.Value`` protos ``build()`` returns (for some or all of ``tags``) as one event at
        ``global_step``, built later, off the calling thread. ``build()`` may also return ``bytes``: a serialized
        ``Summary`` of one or more values (``mxnet_tb._io.encode.ScalarBlock``, much cheaper for many values),
        whose tags must be among ``tags`` and are not parsed back to check.

        For values that are costly to compute, such as a monitor's statistics of a whole batch: the call returns
        at once. The step is checked and taken now for every tag, and the event keeps its place in the queue, so
        ``flush()`` and ``close()`` wait for it. ``tags`` must be clean (as ``add_scalar`` would write them).
        ``size`` is the memory (bytes) the pending build holds; it counts against the queue's bound, and once
        that is full this call waits for queued events. A build holding up to 64 KiB runs when its event is
        written, on the writer's thread together with the others queued (one burst, not a thread hand-off per
        event); a larger one starts at once on an encoder thread, so that its memory is soon released. A build
        that raises, or returns a value whose tag is not in ``tags``, loses this event only: it is counted in
        ``dropped_events`` and reported (warned, or raised with ``strict=True``) like a failed write.

        Example::

            >>> loss = lambda: [summary_pb2.Summary.Value(tag="loss", simple_value=0.5)]   # doctest: +SKIP
            >>> sw.add_summary_later(("loss",), loss, global_step=3)   # doctest: +SKIP
        """
        try:  # a tuple of tags checked before (the usual case: a monitor's every batch)
            known = self._later_tags.get(tags) if type(tags) is tuple else None
        except TypeError:  # unhashable entries
            known = None
        if known is None:
            names = list(tags) if isinstance(tags, Sequence) and not isinstance(tags, str) else None
            if not names or not all(isinstance(tag, str) and clean_tag(tag) == tag for tag in names):
                raise ValueError(f"tags must be a non-empty sequence of clean tags; got {tags!r:.120}")
            known = (frozenset(names), {})
            if type(tags) is tuple:
                if len(self._later_tags) >= _MAX_CACHED_TAGS:
                    self._later_tags.clear()
                self._later_tags[tags] = known
        allowed, step_keys = known
        if not callable(build):
            raise TypeError(f"build must be callable; got {build!r:.80}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be an int >= 0; got {size!r}")
        wall = time.time() if walltime is None else to_walltime(walltime)
        first = tags[0]

        def encode() -> bytes:
            items = list(build())
            stray = [item.tag for item in items if type(item) is not bytes and item.tag not in allowed]
            if stray:
                raise EncodeError(f"build() returned values for tags it was not given: {stray[:3]}")
            parts = [item if type(item) is bytes else values_summary([item]) for item in items]
            return frame(encoded_summary_event(parts, step, wall)) if parts else b""

        with self._lock:
            writer = self._run("")
            step = self._step("", first, global_step)
            record = _BuiltWhenWritten(encode) if size <= _BUILD_WHEN_WRITTEN_BYTES else _encoders().submit(encode)
            writer.write(record, size=size)  # type: ignore[arg-type]  # answers result() as a Future does
            key = self._key("")
            keys = step_keys.get(key)
            if keys is None:
                keys = step_keys[key] = tuple((key, tag) for tag in allowed)
            self._last_steps.update(dict.fromkeys(keys, step))

    def add_image(
        self,
        tag: str,
        image: Any,
        global_step: int | None = None,
        dataformats: str = "CHW",
        walltime: float | None = None,
        *,
        nrow: int = 8,
        padding: int = 2,
        normalize: bool = False,
        norm_range: tuple[float, float] | None = None,
        scale_each: bool = False,
        pad_value: float = 0,
        square_image: bool = False,
    ) -> None:
        """Log an image (PNG, IMAGES tab) under ``tag``; a batch is tiled into one grid image.

        ``dataformats``: ``'CHW'`` (default), ``'HWC'``, ``'HW'``, or a batch ``'NCHW'``, ``'NHWC'``, ``'NHW'``.
        As in MXBoard, a 2-D array is taken as ``HW`` and a 4-D one as a batch (``NCHW`` for ``'CHW'``). A single
        ``(C, H, W)`` array with C not 1, 3 or 4 (a stack of feature maps) is shown as C grayscale tiles.

        Pixels: uint8 as is; bool black/white; floats with 0.0 black and 1.0 white, values outside ``[0, 1]``
        clipped. ``normalize=True`` first maps ``norm_range=(low, high)`` (default: the data's minimum and
        maximum, per image with ``scale_each=True``) onto ``[0, 1]``. ``nrow``, ``padding``, ``pad_value`` and
        ``square_image`` lay out a batch as ``make_image_grid`` does. Nothing is logged on an error.

        Example::

            >>> filters = net.conv0.weight.data()              # (64, 3, 7, 7)   # doctest: +SKIP
            >>> sw.add_image("conv0_filters", filters, normalize=True, global_step=epoch)   # doctest: +SKIP
            >>> maps = features[0]                             # (C, H, W)       # doctest: +SKIP
            >>> sw.add_image("feature_maps", maps, normalize=True, scale_each=True)   # doctest: +SKIP
        """
        clean = clean_tag(tag)
        name = f"image for tag {clean!r}"
        source = to_numpy(image, name=name)
        hwc = image_to_hwc(
            source,
            dataformats,
            name=name,
            nrow=nrow,
            padding=padding,
            normalize=normalize,
            norm_range=norm_range,
            scale_each=scale_each,
            pad_value=pad_value,
            square_image=square_image,
        )
        if np.may_share_memory(hwc, source):  # encoded later: the caller may reuse its buffer at once
            hwc = hwc.copy()
        self._write_value_later("", clean, lambda: image_value(clean, hwc), hwc.nbytes, global_step, walltime)

    def add_images(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "NCHW",
        **grid_options: Any,
    ) -> None:
        """Log a batch of images (``'NCHW'``, ``'NHWC'`` or ``'NHW'``) as one grid image under ``tag``.

        ``grid_options`` are ``add_image``'s keyword options (``nrow``, ``normalize``, ...).

        Example::

            >>> sw.add_images("inputs", batch.data[0][:16], global_step=step)   # (16, 1, 28, 28)  # doctest: +SKIP
        """
        if not isinstance(dataformats, str) or not dataformats.startswith("N"):
            raise ValueError(f"dataformats for add_images must be 'NCHW', 'NHWC' or 'NHW'; got {dataformats!r}")
        self.add_image(tag, img_tensor, global_step, dataformats, walltime, **grid_options)

    def add_audio(
        self,
        tag: str,
        audio: Any,
        sample_rate: int = 44100,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log a sound clip (16-bit WAV, AUDIO tab) under ``tag``.

        ``audio``: ``(frames,)`` mono or ``(frames, channels)``; floats are clipped to ``[-1, 1]``, int16 is PCM.

        Example::

            >>> t = np.arange(44100) / 44100.0                                  # doctest: +SKIP
            >>> sw.add_audio("tone", np.sin(2 * np.pi * 440 * t), sample_rate=44100)   # doctest: +SKIP
        """
        clean = clean_tag(tag)
        value = audio_value(clean, to_numpy(audio, name=f"audio for tag {clean!r}"), sample_rate)
        self._write_value("", value, global_step, walltime)

    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        num_thresholds: int = 127,
        global_step: int | None = None,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a precision-recall curve (PR CURVES tab) of binary ``labels`` against ``predictions`` in [0, 1].

        Example::

            >>> sw.add_pr_curve("pr/cat", labels == 3, probs[:, 3], global_step=epoch)   # doctest: +SKIP
        """
        clean = clean_tag(tag)
        where = f"for tag {clean!r}"
        value = pr_curve_value(
            clean,
            to_numpy(labels, name=f"labels {where}"),
            to_numpy(predictions, name=f"predictions {where}"),
            num_thresholds,
            None if weights is None else to_numpy(weights, name=f"weights {where}"),
        )
        self._write_value("", value, global_step, walltime)

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: Any,
        false_positive_counts: Any,
        true_negative_counts: Any,
        false_negative_counts: Any,
        precision: Any,
        recall: Any,
        global_step: int | None = None,
        num_thresholds: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log a PR curve from precomputed per-threshold arrays (all of one length, the number of thresholds).

        Example::

            >>> sw.add_pr_curve_raw("pr", tp, fp, tn, fn, precision, recall, global_step=0)   # doctest: +SKIP
        """
        clean = clean_tag(tag)
        arrays = (true_positive_counts, false_positive_counts, true_negative_counts, false_negative_counts)
        names = ("true_positive_counts", "false_positive_counts", "true_negative_counts", "false_negative_counts")
        rows = [
            to_numpy(a, name=f"{n} for tag {clean!r}")
            for a, n in zip((*arrays, precision, recall), (*names, "precision", "recall"))
        ]
        self._write_value("", pr_curve_raw_value(clean, rows, num_thresholds), global_step, walltime)

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
        steps = self._embedding_steps
        if global_step is None:
            step = steps.get(clean, -1) + 1
        else:
            step = global_step if type(global_step) is int and 0 <= global_step <= MAX_STEP else to_step(global_step)
        info = embedding_info(
            f"{clean}:{step:05d}", embedding_dir(clean, step), tensor_name, data.shape, labels is not None, sprite_dim
        )
        if self._root._closed:
            raise WriterClosedError("Cannot write to a SummaryWriter once it has been closed")
        write_embedding(self._logdir, clean, step, files, info)
        with self._lock:
            # An event without a summary: TensorBoard lists only runs with event files, the projector only runs.
            self._run("").write(frame(summary_event([], step, time.time())))
            steps[clean] = max(step, steps.get(clean, -1))

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
        run = "" if name is None else os.path.relpath(run_dir(self._logdir, name), os.path.realpath(self._logdir))
        wall = time.time() if walltime is None else to_walltime(walltime)
        start, end = hparams_values(hparam_dict, start_time=wall)
        with self._lock:
            if self._key(run) in self._hparams_runs:
                where = f"run {run!r}" if run else "this writer's run"
                raise ValueError(f"hparams were already logged for {where}; TensorBoard would show only the first")
            self._hparams_runs.add(self._key(run))
        self._write_values(run, [start, end], global_step, wall)
        for metric in metrics:
            self._write_value(run, metric, global_step, wall)

    def add_custom_scalars(self, layout: Mapping[str, Mapping[str, Any]]) -> None:
        """Define charts of the CUSTOM SCALARS tab: ``{category: {title: ['Multiline', [tag regexes]]}}``.

        A chart is ``['Multiline', [tag, ...]]`` (tags are regular expressions) or
        ``['Margin', [value_tag, lower_tag, upper_tag]]``. Calls merge: a chart with the same category and title
        replaces the earlier one.

        Example::

            >>> chart = ["Multiline", ["loss/train", "loss/valid"]]            # doctest: +SKIP
            >>> sw.add_custom_scalars({"loss": {"train vs valid": chart}})     # doctest: +SKIP
        """
        new = check_layout(layout)
        with self._layout_lock:
            merged = merge_layouts(self._custom_layout, new)
            self._write_value("", layout_value(merged), None, None)
            self._custom_layout = merged

    def add_custom_scalars_multilinechart(
        self, tags: list[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """Add one chart of several scalar tags (regular expressions) to the CUSTOM SCALARS tab.

        Example::

            >>> sw.add_custom_scalars_multilinechart(["loss/.*"], category="loss", title="all")   # doctest: +SKIP
        """
        self._add_chart("Multiline", tags, category, title)

    def add_custom_scalars_marginchart(
        self, tags: list[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """Add a chart of a value with a lower and upper margin, ``tags = [value, lower, upper]``.

        Example::

            >>> sw.add_custom_scalars_marginchart(["acc", "acc_low", "acc_high"], title="acc")   # doctest: +SKIP
        """
        self._add_chart("Margin", tags, category, title)

    def _add_chart(self, kind: str, tags: Any, category: Any, title: Any) -> None:
        for what, text in (("category", category), ("title", title)):
            if not isinstance(text, str):
                raise TypeError(f"chart {what} must be a str; got {type(text).__name__}: {text!r:.80}")
        self.add_custom_scalars({category: {title: [kind, tags]}})

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: int | None = None,
        close: bool = True,
        walltime: float | None = None,
    ) -> None:
        """Log a matplotlib figure, rendered with Agg, as an image; ``close`` closes it in pyplot afterwards.

        Needs matplotlib (``pip install 'mxnet-tb[figures]'``); without it, ImportError says so.

        Example::

            >>> fig, ax = plt.subplots(); ax.plot(losses)                 # doctest: +SKIP
            >>> sw.add_figure("loss_curve", fig, global_step=epoch)       # doctest: +SKIP
        """
        clean = clean_tag(tag)
        rgba = figure_to_rgba(figure, close=bool(close))
        hwc = image_to_hwc(rgba, "HWC", name=f"figure for tag {clean!r}")
        self._write_value("", image_value(clean, hwc), global_step, walltime)

    def add_video(
        self,
        tag: str,
        video: Any,
        global_step: int | None = None,
        fps: float = 4,
        walltime: float | None = None,
    ) -> None:
        """Log a video ``(N, T, C, H, W)`` or ``(T, C, H, W)`` as an animated GIF (IMAGES tab).

        N clips are tiled side by side; C is 1 or 3; pixels as in ``add_image`` (floats in [0, 1]).

        Example::

            >>> sw.add_video("rollout", frames, fps=10)   # (1, 50, 3, 64, 64) float32   # doctest: +SKIP
        """
        clean = clean_tag(tag)
        rate = check_fps(fps)
        frames = video_frames(to_numpy(video, name=f"video for tag {clean!r}"), name=f"video for tag {clean!r}")
        gif = encode_gif(frames, rate)
        value = image_tensor_value(clean, [gif], width=frames.shape[2], height=frames.shape[1])
        self._write_value("", value, global_step, walltime)

    def add_mesh(
        self,
        tag: str,
        vertices: Any,
        colors: Any = None,
        faces: Any = None,
        config_dict: Mapping[str, Any] | None = None,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log a 3-D mesh or point cloud (MESH tab): vertices ``(B, N, 3)``, faces ``(B, F, 3)``, colors RGB.

        ``config_dict`` holds three.js settings (camera, lights, material), as in TensorBoard's mesh summary.

        Example::

            >>> sw.add_mesh("point_cloud", points, colors=rgb)   # (1, 1000, 3) each   # doctest: +SKIP
        """
        clean = clean_tag(tag)
        where = f"for tag {clean!r}"
        values = mesh_values(
            clean,
            to_numpy(vertices, name=f"vertices {where}"),
            None if colors is None else to_numpy(colors, name=f"colors {where}"),
            None if faces is None else to_numpy(faces, name=f"faces {where}"),
            config_dict,
        )
        self._write_values("", values, global_step, walltime)

    def _write_values(self, run: str, values: list[Any], global_step: Any, walltime: Any) -> None:
        """Several values in one event, at the step of the first value's tag; every tag records that step."""
        wall = time.time() if walltime is None else to_walltime(walltime)
        with self._lock:
            writer = self._run(run)
            step = self._step(run, values[0].tag, global_step)
            writer.write(frame(summary_event(values, step, wall)))
            for value in values:
                self._last_steps[(self._key(run), value.tag)] = step

    def add_text(self, tag: str, text: str, global_step: int | None = None, walltime: float | None = None) -> None:
        """Log ``text`` (Markdown) under ``tag``; the TEXT tab shows it.

        Example::

            >>> sw.add_text("config", "lr = 0.1, batch = 64")   # doctest: +SKIP
        """
        clean = clean_tag(tag)
        self._write_value("", text_value(clean, text), global_step, walltime)

    def add_graph(self, net: Any, shapes: Shapes | None = None, walltime: float | None = None) -> None:
        """Log the network ``net`` for TensorBoard's GRAPHS tab.

        ``net`` is an ``mx.sym.Symbol`` (grouped outputs too), the path of a ``-symbol.json`` file, or a Gluon
        ``HybridBlock``, which is called on ``mx.sym.var('data')`` (no forward pass or initialization needed).
        With ``shapes`` (``{input name: shape}``), every edge shows its tensor's shape. Operators keep their
        attributes; parameters and auxiliary states sit in their operator's scope (``conv0/weight``). The
        network is checked and converted before anything is written (TypeError or ValueError otherwise, and
        FileNotFoundError for a missing file).
        Log one graph per run: given several, TensorBoard's Python loader shows the first, its Rust data server
        (``--load_fast``) the last.

        Example::

            >>> net = mx.gluon.model_zoo.vision.resnet50_v1()   # doctest: +SKIP
            >>> sw.add_graph(net, shapes={"data": (1, 3, 224, 224)})   # doctest: +SKIP
            >>> sw.add_graph("model-symbol.json")   # doctest: +SKIP
        """
        wall = time.time() if walltime is None else to_walltime(walltime)
        graph = graph_def(net, shapes).SerializeToString(deterministic=True)
        with self._lock:
            writer = self._run("")
            writer.write(frame(graph_event(graph, wall)))

    # -- internals ----------------------------------------------------------------------------------------

    def _write_value(self, run: str, value: Any, global_step: Any, walltime: Any) -> None:
        self._write_values(run, [value], global_step, walltime)

    def _write_value_later(
        self, run: str, tag: str, build: Callable[[], Any], size: int, global_step: Any, walltime: Any
    ) -> None:
        """Like ``_write_value``, but ``build()`` (PNG encoding, which releases the GIL) runs on an encoder thread.

        The step is taken now and the record keeps its place in the queue, so order is what the caller logged;
        the call returns without waiting for the encoder.
        """
        wall = time.time() if walltime is None else to_walltime(walltime)
        with self._lock:
            writer = self._run(run)
            step = self._step(run, tag, global_step)
            future = _encoders().submit(lambda: frame(summary_event([build()], step, wall)))
            writer.write(future, size=size)
            self._last_steps[(self._key(run), tag)] = step

    def _run(self, run: str) -> EventFileWriter:
        """The event writer of ``run`` (relative to logdir, '' for the writer's own); caller holds the lock."""
        if self._root._closed:
            raise WriterClosedError("Cannot write to a SummaryWriter once it has been closed")
        run = self._key(run)
        writer = self._runs.get(run)
        if writer is None:
            directory = os.path.join(self._root._logdir, run)
            writer = EventFileWriter(directory, **self._options)
            if self._purge_step is not None:  # a resumed run: hide what the crashed one logged from here on
                removed = purge_run(directory, self._purge_step)
                start = frame(session_start_event(self._purge_step, time.time()))
                writer.write(start)
                writer.write(start)  # TensorBoard's Python loader purges on the second START it sees
                _log.info("mxnet_tb: purged %d events at steps >= %d from %s", removed, self._purge_step, directory)
            self._runs[run] = writer
            if self._verbose:
                _log.info("mxnet_tb: new run %s", writer.logdir)
        return writer

    def _step(self, run: str, tag: str, global_step: Any) -> int:
        """The step to log at; warns once per tag when steps go backwards. Caller holds the lock.

        The caller records the step in ``_last_steps`` once the event is queued, so a failed call uses none.
        """
        key = (self._key(run), tag)
        last = self._last_steps.get(key)
        if global_step is None:
            step = 0 if last is None else min(last + 1, MAX_STEP)
        else:
            step = global_step if type(global_step) is int and 0 <= global_step <= MAX_STEP else to_step(global_step)
            if last is not None and step <= last and key not in self._warned_tags:
                self._warned_tags.add(key)
                warn_user(
                    f"tag {tag!r}{' in run ' + repr(run) if run else ''} logged at step {step} after step {last}; "
                    f"TensorBoard drops earlier points at steps >= {step} when it reads this run",
                    StepOrderWarning,
                )
        return step
