"""``EstimatorHandler``: TensorBoard for ``mx.gluon.contrib.estimator.Estimator.fit``.

Per training batch: every training metric (``train/accuracy``, ``train/softmaxcrossentropyloss``: the running
epoch values the Estimator's ``MetricHandler`` keeps, without its ``training `` prefix), the batch's mean loss
(``train/loss``), the learning rate (``train/lr``) and ``train/samples_per_sec``. Validation metrics
(``val/accuracy``...) at the step of the last batch before the evaluation, whenever a ``ValidationHandler``
(epoch or batch period, any priority) or a call of ``estimator.evaluate`` measured them. Gradients, weights
and activations every ``every`` batches, through ``watch`` (its tags), and the network graph once.

The step is the batch index, counted from the first batch the trainer steps and continuing across ``fit``
calls. A batch is logged at the handler's next event (the next batch's begin, the epoch's end), when every
batch-end handler has run: its metrics include it and its step is that of its update whatever the priorities
(``priority`` defaults to 0, between the Estimator's metric and validation handlers, -1000, and its
``LoggingHandler``, inf). A new validation is recognised by the validation metrics' counts and sums changing:
two evaluations in a row with identical results are logged once.

Example::

    >>> handler = tb.gluon.EstimatorHandler(logdir="runs/digits", every=50, weights=True)   # doctest: +SKIP
    >>> est.fit(train_data, val_data=val_data, epochs=5, event_handlers=[handler])         # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from typing import Any

from mxnet.gluon.contrib.estimator.event_handler import BatchBegin, BatchEnd, EpochBegin, EpochEnd, TrainBegin, TrainEnd

from .._training.default import resolve_writer
from .._training.distributed import logdir_for, logs_here, observe
from .._values.convert import to_count
from ..errors import warn_user
from ..model_cards import model_card
from ..writer import SummaryWriter
from ._doctor import judge_for
from ._metrics import LearningRate, Series, check_layout, loss_value, metric_values
from ._watch import ACTIVATION_STATS, GRAD_STATS, WEIGHT_STATS, Watch

__all__ = ["EstimatorHandler"]

_ESTIMATOR_PREFIXES = ("training ", "validation ")  # the Estimator renames its metrics so


def _fingerprint(scores: list[Any]) -> tuple[Any, ...]:
    """What changes whenever metrics are updated: their instance counts and sums."""
    return tuple((id(m), getattr(m, "num_inst", None), repr(getattr(m, "sum_metric", None))) for m in scores)


def _measured(scores: list[Any]) -> bool:
    return any(getattr(m, "num_inst", 0) for m in scores)


class EstimatorHandler(TrainBegin, EpochBegin, BatchBegin, BatchEnd, EpochEnd, TrainEnd):
    """An Estimator event handler logging training to TensorBoard (see the module docstring for tags).

    ``logdir``: a log directory for a writer of its own (closed at the end of each ``fit``; in a distributed
    job ``<logdir>/worker-<rank>`` or rank 0 only, as ``tb.init``); else ``writer``; else the default writer.
    ``every``: batches between gradient / weight / activation logs (``grads``, ``weights``, ``activations``
    as in ``watch``). ``graph``: log the network graph (and its model card, ``tb.model_card``) at the first
    batch. ``layout='runs'``: runs ``train`` and ``val`` with identical tags, overlaid by TensorBoard.
    ``doctor``: ``True`` or a ``tb.Doctor(...)``: judge what is watched and the training loss (``watch``).

    Example::

        >>> est.fit(train_data, val_data=val_data, epochs=2,
        ...         event_handlers=[tb.gluon.EstimatorHandler(every=20), CheckpointHandler("ckpt")])  # doctest: +SKIP
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str] | None = None,
        writer: SummaryWriter | None = None,
        every: int = 100,
        grads: bool = True,
        weights: bool = False,
        activations: bool = False,
        graph: bool = True,
        layout: str = "tags",
        priority: float = 0,
        doctor: Any = None,
    ) -> None:
        if logdir is not None and writer is not None:
            raise ValueError("pass logdir= or writer=, not both")
        if logdir is not None and not isinstance(logdir, (str, os.PathLike)):
            raise TypeError(f"logdir must be a str or os.PathLike; got {type(logdir).__name__}: {logdir!r:.80}")
        for name, value in (("grads", grads), ("weights", weights), ("activations", activations), ("graph", graph)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool; got {value!r}")
        if isinstance(priority, bool) or not isinstance(priority, (int, float)):
            raise TypeError(f"priority must be a number; got {priority!r}")
        self.every = to_count(every, name="every")
        self.layout = check_layout(layout)
        judge_for(doctor, lambda: None)  # checked now: a bad value fails here, not at the first fit
        self.doctor = doctor
        self.logdir = os.fspath(logdir) if logdir is not None else None
        self.grads, self.weights, self.activations, self.graph = grads, weights, activations, graph
        self.priority = priority
        self._given_writer = resolve_writer(writer)
        self._own_writer: SummaryWriter | None = None
        self._watch: Watch | None = None
        self._learning_rate = LearningRate()
        self._graph_done = False
        self._val_seen: tuple[Any, ...] = ()
        self._stepped_before = -1  # the watch's step when this batch began
        self._since: float | None = None  # end of the previous batch (or the epoch's start)
        self._pending: _Batch | None = None  # the batch that ended, logged at the next event

    # -- the Estimator's events -----------------------------------------------------------------------------

    def train_begin(self, estimator: Any, *args: Any, **kwargs: Any) -> None:
        if self._watch is not None:  # a previous fit raised before train_end
            self._watch.remove()
        self._close_own_writer()  # a previous fit that raised left it open
        writer: Any = self._given_writer if self.logdir is None else self._logdir_writer
        self._train = Series(writer, "train", self.layout)
        self._val = Series(writer, "val", self.layout)
        self._watch = Watch(
            estimator.net,
            estimator.trainer,
            every=self.every,
            grads=self.grads,
            weights=self.weights,
            activations=self.activations,
            writer=writer,
            pattern=".*",
            histograms=True,
            grad_stats=GRAD_STATS,
            weight_stats=WEIGHT_STATS,
            activation_stats=ACTIVATION_STATS,
            layout=self.layout,
            doctor=self.doctor,
        )
        self._val_seen = _fingerprint(estimator.val_metrics)
        self._pending = None

    def epoch_begin(self, estimator: Any, *args: Any, **kwargs: Any) -> None:
        self._since = time.perf_counter()  # time between epochs (validation, checkpoints) is not training speed

    def batch_begin(self, estimator: Any, *args: Any, **kwargs: Any) -> None:
        if self._pending is not None:
            self._log_finished_batch(estimator)  # and any validation since it ended
        else:
            self._log_new_validation(estimator)
        self._stepped_before = self._handle.step

    def batch_end(self, estimator: Any, *args: Any, **kwargs: Any) -> bool:
        """Note the batch; it is logged at the next event, when every batch-end handler (metrics, the update) ran."""
        handle = self._handle
        step = handle.step if handle.step > self._stepped_before else handle.step + 1  # before the update: next
        slowed = self._log_new_validation(estimator)  # ran within this batch's time: no speed reading for it
        loss = kwargs.get("loss")
        loss = loss_value(loss) if loss is not None else None
        self._pending = _Batch(step, loss, kwargs.get("batch"), time.perf_counter(), slowed)
        return False

    def epoch_end(self, estimator: Any, *args: Any, **kwargs: Any) -> bool:
        self._log_finished_batch(estimator)
        self._log_new_validation(estimator)  # (again: a batch logged above may have seen it already)
        return False

    def train_end(self, estimator: Any, *args: Any, **kwargs: Any) -> None:
        self._log_finished_batch(estimator)
        self._log_new_validation(estimator)
        if self._watch is not None:
            self._watch.remove()
            self._watch = None
        if self._own_writer is not None:
            self._close_own_writer()
        elif self.logdir is None and self._logs(estimator):
            self._train.writer.flush()

    # -- helpers --------------------------------------------------------------------------------------------

    @property
    def _handle(self) -> Watch:
        if self._watch is None:
            raise RuntimeError("EstimatorHandler got a batch event before train_begin; pass it to Estimator.fit")
        return self._watch

    def _logdir_writer(self) -> SummaryWriter:
        """The writer of ``logdir=``, created at the first value, when a distributed worker knows its rank:
        ``<logdir>/worker-<rank>`` in per_worker mode (a process that does not log never asks)."""
        if self._own_writer is None:
            assert self.logdir is not None
            self._own_writer = SummaryWriter(logdir_for(self.logdir) or self.logdir)
        return self._own_writer

    def _close_own_writer(self) -> None:
        writer, self._own_writer = self._own_writer, None
        if writer is not None:
            writer.close()

    def _logs(self, estimator: Any) -> bool:
        observe(estimator.trainer)
        return logs_here()

    def _log_finished_batch(self, estimator: Any) -> None:
        batch, self._pending = self._pending, None
        if batch is None:
            return
        validated = self._log_new_validation(estimator)  # after this batch's end: the next one's time is off
        if not self._logs(estimator):
            return
        step = batch.step
        for name, value in metric_values_of(estimator.train_metrics):
            self._train.log(name, value, step)
        if batch.loss is not None:
            self._train.log("loss", batch.loss, step)
        self._train.log("lr", self._learning_rate.at(estimator.trainer, step), step)
        samples = _batch_size(batch.data, getattr(estimator, "batch_axis", 0))
        if self._since is not None and samples and batch.ended > self._since and not batch.slowed:
            self._train.log("samples_per_sec", samples / (batch.ended - self._since), step)
        self._since = None if validated else batch.ended
        if self.graph and not self._graph_done:
            self._graph_done = True
            self._log_graph(estimator, batch.data)

    def _log_new_validation(self, estimator: Any) -> bool:
        """Log the validation metrics if they were measured since last seen; returns whether they were."""
        scores = estimator.val_metrics
        seen = _fingerprint(scores)
        if seen == self._val_seen or not _measured(scores):
            return False
        self._val_seen = seen
        if self._logs(estimator):
            step = max(self._handle.step, 0)  # the weights of the last batch stepped were measured
            for name, value in metric_values_of(scores):
                self._val.log(name, value, step)
        return True

    def _log_graph(self, estimator: Any, batch: Any) -> None:
        data = batch[0] if isinstance(batch, (list, tuple)) and batch else None
        shapes = {"data": tuple(data.shape)} if hasattr(data, "shape") else None
        try:
            self._train.writer.add_graph(estimator.net, shapes=shapes)
        except (TypeError, ValueError) as exc:
            warn_user(f"EstimatorHandler: no graph of {type(estimator.net).__name__}: {exc}", UserWarning)
            return
        if shapes is not None:  # what the network costs, per layer, next to its graph
            try:
                model_card(estimator.net, shapes, writer=self._train.writer, step=max(self._handle.step, 0))
            except (TypeError, ValueError) as exc:
                warn_user(f"EstimatorHandler: no model card of {type(estimator.net).__name__}: {exc}", UserWarning)


class _Batch:
    """What a batch's end showed, kept until every batch-end handler has run."""

    def __init__(self, step: int, loss: float | None, data: Any, ended: float, slowed: bool) -> None:
        self.step, self.loss, self.data, self.ended, self.slowed = step, loss, data, ended, slowed


def metric_values_of(scores: list[Any]) -> list[tuple[str, float]]:
    """``(name, value)`` of the Estimator's metrics, without the ``training ``/``validation `` it adds."""
    return [pair for m in scores for pair in metric_values(m, strip=_ESTIMATOR_PREFIXES)]


def _batch_size(batch: Any, axis: int) -> int:
    data = batch[0] if isinstance(batch, (list, tuple)) and batch else None
    shape = getattr(data, "shape", None)
    return int(shape[axis]) if shape and -len(shape) <= axis < len(shape) else 0
