"""Module-API callbacks in MXNet's own style: factories returning the callable ``fit`` expects.

    mod.fit(train_iter, eval_data=val_iter, num_epoch=10,
            batch_end_callback=tb.scalars(),        # metrics, samples/sec, learning rate per batch
            eval_end_callback=tb.validation(),      # validation metrics at the same step
            epoch_end_callback=tb.params())         # weight histograms and stats, conv filters, graph

Tags (``layout='tags'``, the default) put everything in one run: ``train/accuracy``, ``train/samples_per_sec``,
``train/lr``, ``val/accuracy``. With ``layout='runs'`` (Keras's convention) training and validation go to
the runs ``<logdir>/train`` and ``<logdir>/val`` under identical tags (``accuracy``), so TensorBoard overlays
them in one chart. Every series is logged against the same global step: training batches since the first
one logged, continuing across epochs and ``fit`` calls (see ``_training/clock.py``). In a distributed job the callbacks
of a process that does not log (a worker other than rank 0 in ``rank0`` mode) return at once
(see ``_training/distributed.py``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from typing import Any

from ._training.clock import StepClock, clock_of
from ._training.default import default_writer, resolve_writer
from ._training.distributed import logs_here, updates_on_servers
from ._training.mxnet_adapter import (
    batch_of,
    bound_batch_size,
    calling_module,
    ends_an_epoch,
    module_of,
    optimizer_of,
    train_data_of,
)
from ._training.parameters import log_parameters
from ._training.resume import epoch_ended, start_clock
from ._training.stats import check_stats
from ._values.convert import to_count, to_numpy
from ._values.names import series_prefix
from .model_cards import write_card
from .summaries.model_card import model_card
from .writer import SummaryWriter

__all__ = ["params", "scalars", "validation"]

LAYOUTS = ("tags", "runs")


def _check_layout(layout: Any) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    return layout


class _Series:
    """Where a callback's values go: ``<prefix>/<name>`` tags, or a ``<prefix>`` run with plain tags."""

    def __init__(self, writer: SummaryWriter | None, prefix: str, layout: str) -> None:
        self._writer, self._prefix, self._layout = writer, prefix, layout

    @property
    def writer(self) -> SummaryWriter:
        return self._writer or default_writer()

    def log(self, name: str, value: float, step: int) -> None:
        if self._layout == "runs":
            self.writer.run(self._prefix).add_scalar(name, value, step)
        else:
            self.writer.add_scalar(f"{self._prefix}/{name}", value, step)


def _leaf_metrics(metric: Any) -> list[Any]:
    children = getattr(metric, "metrics", None)
    if isinstance(children, list):
        return [leaf for child in children for leaf in _leaf_metrics(child)]
    return [metric]


def _names_values(pairs: Any) -> list[tuple[str, float]]:
    names, values = pairs
    if isinstance(names, str):
        return [(names, values)]
    return list(zip(names, values))


class _MetricWindow:
    """Metric values over the batches since the last log, from the metrics' global sums.

    ``reset_local()`` by a ``Speedometer(auto_reset=True)`` leaves global sums alone, so this works before or
    after one. Metrics whose value is not a plain sum/count ratio report their running epoch value instead.
    """

    def __init__(self) -> None:
        self._seen: dict[int, tuple[float, float]] = {}

    def values(self, metric: Any) -> list[tuple[str, float]]:
        import mxnet as mx

        result = []
        for leaf in _leaf_metrics(metric):
            plain = type(leaf).get_global is mx.metric.EvalMetric.get_global and isinstance(leaf.name, str)
            if not plain or not getattr(leaf, "_has_global_stats", False):
                result.extend(_names_values(leaf.get_global()))
                continue
            total, count = float(leaf.global_sum_metric), float(leaf.global_num_inst)
            last_total, last_count = self._seen.get(id(leaf), (0.0, 0.0))
            if count < last_count:  # the metric was reset (a new epoch)
                last_total, last_count = 0.0, 0.0
            self._seen[id(leaf)] = (total, count)
            value = (total - last_total) / (count - last_count) if count > last_count else math.nan
            result.append((leaf.name, value))
        return result


def _batch_samples(param: Any, module: Any) -> int | None:
    batch = batch_of(param)
    batches = batch if isinstance(batch, list) else [batch]
    try:
        return sum(int(b.data[0].shape[0]) - int(getattr(b, "pad", 0) or 0) for b in batches)
    except (AttributeError, IndexError, TypeError):
        return bound_batch_size(module)


class _LearningRate:
    """The learning rate the optimizer uses at a step.

    With a distributed kvstore that updates on the servers, the worker's optimizer never advances, so the rate
    comes from a private copy of its scheduler at the global step instead.
    """

    def __init__(self) -> None:
        self._scheduler: Any = None

    def at(self, module: Any, step: int) -> float | None:
        optimizer = optimizer_of(module)
        if optimizer is None:
            return None
        if optimizer.lr_scheduler is None or not updates_on_servers(module):
            return float(optimizer.learning_rate)
        if self._scheduler is None:
            self._scheduler = copy.deepcopy(optimizer.lr_scheduler)
        return float(self._scheduler(step + 1))


def scalars(
    frequent: int = 1,
    prefix: str = "train",
    auto_reset: bool = False,
    writer: SummaryWriter | None = None,
    layout: str = "tags",
) -> Callable[[Any], None]:
    """A ``batch_end_callback`` logging metrics, samples per second and learning rate every ``frequent`` batches.

    Composite metrics are expanded into one series each. ``auto_reset=False`` logs each metric's running value
    over the epoch so far; ``auto_reset=True`` its value over the batches since the last log (like
    ``Speedometer``'s, without resetting the metric, so both may share it). Tags: ``<prefix>/<metric>``,
    ``<prefix>/samples_per_sec``, ``<prefix>/lr`` (``layout='runs'``: run ``<prefix>``, plain tags).

    In a loop written by hand, call it with ``mx.model.BatchEndParam(epoch, nbatch, metric, locals())`` after
    ``update()``: the module found in those locals gives the step (shared with its monitors); without one,
    each call with a new ``BatchEndParam`` is the next step.

    Example::

        >>> mod.fit(train_iter, num_epoch=10, batch_end_callback=tb.scalars(frequent=10))   # doctest: +SKIP
    """
    frequent = to_count(frequent, name="frequent")
    series = _Series(resolve_writer(writer), series_prefix(prefix, _check_layout(layout)), layout)
    if not isinstance(auto_reset, bool):
        raise TypeError(f"auto_reset must be a bool; got {auto_reset!r}")
    window = _MetricWindow()
    learning_rate = _LearningRate()
    timing = {"since": None, "samples": 0}
    own_clock = StepClock()  # for a hand-written loop whose locals() hold no module

    def _callback(param: Any) -> None:
        module = module_of(param)
        if not logs_here(module):  # a distributed worker that does not log (rank0 mode)
            return
        clock = clock_of(module) if module is not None else own_clock
        start_clock(clock, series.writer, param.epoch, param.nbatch, train_data_of(param))
        step = clock.batch_ended(param)
        _log_batch(param, module, step)
        if ends_an_epoch(param):  # fit's last batch of the epoch: the log directory records it
            epoch_ended(clock, series.writer, param.epoch)

    def _log_batch(param: Any, module: Any, step: int) -> None:
        now = time.perf_counter()
        if param.nbatch == 0:  # time between epochs (evaluation, checkpoints) is not training speed
            timing["since"], timing["samples"] = None, 0
        timing["samples"] += _batch_samples(param, module) or 0
        if step % frequent:
            if timing["since"] is None:
                timing["since"], timing["samples"] = now, 0
            return
        if param.eval_metric is not None:
            pairs = window.values(param.eval_metric) if auto_reset else param.eval_metric.get_global_name_value()
            for name, value in pairs:
                series.log(name, value, step)
        if timing["since"] is not None and now > timing["since"] and timing["samples"]:
            series.log("samples_per_sec", timing["samples"] / (now - timing["since"]), step)
        timing["since"], timing["samples"] = now, 0
        rate = learning_rate.at(module, step)
        if rate is not None:
            series.log("lr", rate, step)

    return _callback


def validation(prefix: str = "val", writer: SummaryWriter | None = None, layout: str = "tags") -> Callable[[Any], None]:
    """An ``eval_end_callback`` logging validation metrics at the training step where they were measured.

    The step is the module's global step (shared with ``tb.scalars``), so train and validation curves share an
    x-axis; before any batch was counted, the epoch. Tags ``<prefix>/<metric>``; with ``layout='runs'`` the
    run ``<prefix>`` with plain tags, which TensorBoard overlays with ``tb.scalars(layout='runs')``.

    Example::

        >>> mod.fit(train_iter, eval_data=val_iter, num_epoch=10,
        ...         batch_end_callback=tb.scalars(), eval_end_callback=tb.validation())   # doctest: +SKIP
    """
    series = _Series(resolve_writer(writer), series_prefix(prefix, _check_layout(layout)), layout)

    def _callback(param: Any) -> None:
        module = module_of(param)
        if not logs_here(module):
            return
        clock = clock_of(module)
        step = clock.step if clock.ticked else param.epoch
        for name, value in param.eval_metric.get_name_value():
            series.log(name, value, step)

    return _callback


def params(
    every: int = 1,
    histograms: bool = True,
    stats: tuple[str, ...] = ("norm",),
    images: tuple[str, ...] = ("conv",),
    writer: SummaryWriter | None = None,
) -> Callable[[int, Any, dict[str, Any], dict[str, Any]], None]:
    """An ``epoch_end_callback`` logging every parameter and auxiliary state every ``every`` epochs.

    Tags: ``weights/hist/<name>`` and ``weights/<stat>/<name>`` for parameters, ``aux/hist/<name>`` and
    ``aux/<stat>/<name>`` for auxiliary states (BatchNorm's moving statistics), ``weights/filters/<name>`` for
    the first convolution layer's filters as an image grid (``images=('conv',)``; ``()`` for none), and on
    the first call the network graph and its model card (TEXT ``model_card``, ``model/parameters``,
    ``model/macs_per_sample``; see ``tb.model_card``). Logged at the module's global step (the epoch when no
    batch was counted).

    Example::

        >>> mod.fit(train_iter, num_epoch=10, epoch_end_callback=tb.params(every=2))   # doctest: +SKIP
    """
    every = to_count(every, name="every")
    stats = check_stats(stats)
    if not isinstance(histograms, bool):
        raise TypeError(f"histograms must be a bool; got {histograms!r}")
    if isinstance(images, str):
        images = (images,)
    if not isinstance(images, (tuple, list)):
        raise TypeError(f"images must be a tuple of kinds such as ('conv',), or (); got {images!r:.80}")
    images = tuple(images)
    for kind in images:
        if kind != "conv":
            raise ValueError(f"images: unknown kind {kind!r}; supported: ('conv',)")
    writer = resolve_writer(writer)
    state = {"graph_done": False}

    def _callback(epoch: int, symbol: Any, arg_params: dict[str, Any], aux_params: dict[str, Any]) -> None:
        module = calling_module()
        if not logs_here(module):
            return
        sw = writer or default_writer()
        clock = clock_of(module)
        if module is not None:
            epoch_ended(clock, sw, epoch)
        if (epoch + 1) % every:
            return
        step = clock.step if clock.ticked else epoch
        if not state["graph_done"] and symbol is not None:
            shapes = _input_shapes(module)
            sw.add_graph(symbol, shapes=shapes)
            if shapes:  # parameters, MACs per layer (model_cards.py)
                write_card(sw, model_card(symbol, shapes), step)
            state["graph_done"] = True
        groups = {
            group: {name: to_numpy(value, name=name) for name, value in (named or {}).items()}
            for group, named in (("weights", arg_params), ("aux", aux_params))
        }
        log_parameters(sw, groups, step, stats=stats, histograms=histograms, filters_of=symbol if images else None)

    return _callback


def _input_shapes(module: Any) -> dict[str, tuple[int, ...]] | None:
    """The bound module's data and label shapes, so the graph's edges show tensor sizes."""
    if module is None or not getattr(module, "binded", False):
        return None
    descs = list(module.data_shapes or []) + list(module.label_shapes or [])
    return {desc.name: tuple(desc.shape) for desc in descs} or None
