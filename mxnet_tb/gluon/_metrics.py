"""Per-batch scalars of a Gluon loop: metric values, the loss, the learning rate, samples per second.

Example::

    >>> tb.gluon.log_metrics(metric, step=batch, loss=loss)   # train/accuracy, train/loss   # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np

from .._training.default import default_writer, resolve_writer
from .._training.distributed import logs_here, updates_on_servers
from .._values.convert import to_step
from .._values.names import clean_tag
from ..writer import SummaryWriter

__all__ = [
    "LAYOUTS",
    "LearningRate",
    "Series",
    "WriterChoice",
    "check_layout",
    "check_writer_choice",
    "chosen_writer",
    "log_metrics",
    "loss_value",
    "metric_values",
]

LAYOUTS = ("tags", "runs")

# A writer, a function creating one when first needed (the EstimatorHandler's ``logdir=``), or None: the default.
WriterChoice = Union[SummaryWriter, Callable[[], SummaryWriter], None]


def check_writer_choice(choice: Any) -> WriterChoice:
    return choice if callable(choice) and not isinstance(choice, SummaryWriter) else resolve_writer(choice)


def chosen_writer(choice: WriterChoice) -> SummaryWriter:
    if choice is None:
        return default_writer()
    return choice if isinstance(choice, SummaryWriter) else choice()


def check_layout(layout: Any) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    return layout


class Series:
    """Where scalars go: tags ``<prefix>/<name>``, or (``layout="runs"``) run ``<prefix>``, tag ``<name>``."""

    def __init__(self, writer: WriterChoice, prefix: str, layout: str) -> None:
        self._writer = check_writer_choice(writer)
        self.prefix = clean_tag(prefix, name="prefix")
        self.layout = check_layout(layout)

    @property
    def writer(self) -> SummaryWriter:
        return chosen_writer(self._writer)

    def log(self, name: str, value: float, step: int) -> None:
        if self.layout == "runs":
            self.writer.run(self.prefix).add_scalar(name, value, step)
        else:
            self.writer.add_scalar(f"{self.prefix}/{name}", value, step)


def metric_values(metric: Any, strip: Sequence[str] = ()) -> list[tuple[str, float]]:
    """``(name, value)`` of an ``mx.metric.EvalMetric`` (each part of a composite one), names without ``strip``."""
    if not hasattr(metric, "get_name_value"):
        raise TypeError(f"metric must be an mx.metric.EvalMetric; got {type(metric).__name__}: {metric!r:.80}")
    result = []
    for name, value in metric.get_name_value():
        for prefix in strip:
            if name.startswith(prefix):
                name = name[len(prefix) :]
        result.append((name.strip().replace(" ", "_"), float(value)))
    return result


def loss_value(loss: Any) -> float:
    """The mean of a loss NDArray, or of a list of them (one per device), over all their entries.

    Copied to the host as is: an NDArray ``sum`` would be one more operator per batch and device.
    """
    parts = loss if isinstance(loss, (list, tuple)) else [loss]
    if not parts or not all(hasattr(part, "asnumpy") for part in parts):
        raise TypeError(f"loss must be an NDArray or a list of NDArrays; got {type(loss).__name__}: {loss!r:.80}")
    values = [part.asnumpy() for part in parts]
    count = sum(v.size for v in values)
    return float(sum(v.sum(dtype=np.float64) for v in values) / count) if count else math.nan


class LearningRate:
    """The learning rate a trainer's optimizer uses at a step.

    When the servers of a distributed kvstore run the optimizer, the worker's copy never advances; then the
    rate comes from a private copy of its scheduler at the step (as for the Module API).
    """

    def __init__(self) -> None:
        self._scheduler: Any = None

    def at(self, trainer: Any, step: int) -> float:
        optimizer = trainer.optimizer
        if optimizer.lr_scheduler is None or not updates_on_servers(trainer):
            return float(trainer.learning_rate)
        if self._scheduler is None:
            self._scheduler = copy.deepcopy(optimizer.lr_scheduler)
        return float(self._scheduler(step + 1))


def log_metrics(
    metric: Any,
    step: int,
    *,
    loss: Any = None,
    prefix: str = "train",
    writer: SummaryWriter | None = None,
    layout: str = "tags",
) -> list[str]:
    """Log ``metric``'s values (and the mean ``loss``) at ``step``: tags ``<prefix>/<name>`` (``layout='runs'``:
    run ``<prefix>``, tag ``<name>``). Returns the names logged. A distributed worker that does not log
    (``rank0`` mode) writes nothing.

    A loop watched with ``watch`` can call ``handle.log_metrics(metric, loss=loss)`` instead, which knows the
    step and adds the learning rate and samples per second.

    Example::

        >>> tb.gluon.log_metrics(acc, step=i, loss=loss)                   # doctest: +SKIP
        >>> tb.gluon.log_metrics(None, step=i, loss=loss)                  # the loss alone   # doctest: +SKIP
        >>> tb.gluon.log_metrics(val_acc, step=i, prefix="val")            # doctest: +SKIP
    """
    series = Series(writer, prefix, layout)
    step = to_step(step, name="step")
    values = metric_values(metric) if metric is not None else []
    if loss is not None:
        values.append(("loss", loss_value(loss)))
    if not logs_here():
        return []
    for name, value in values:
        series.log(name, value, step)
    return [name for name, _ in values]
