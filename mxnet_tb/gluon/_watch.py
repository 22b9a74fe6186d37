"""``watch``: gradients, weights, update ratios and activations of a hand-written Gluon loop, one call.

The handle wraps ``trainer.step`` (and ``allreduce_grads``/``update`` for loops that call them apart) on the
trainer object itself; ``remove()`` takes the wrappers off, leaving the trainer's attributes as they were.
Every wrapped step is one batch: the step of TensorBoard's x-axis is the batch index, counted per trainer from
its first watched step and continuing across ``watch`` calls. On the batches ``every`` selects:

- ``grads/<stat>/<param>``, ``grads/hist/<param>``: read just before the update, summed over devices
  (``ctx=[...]``) once: each device holds the gradient of its slice; after ``allreduce_grads()`` every device
  holds the sum and one is read. They are sums over the batch, as ``param.grad()`` holds them;
- ``weights/<stat>/<param>``, ``weights/hist/<param>``: read just after the update;
- ``updates/ratio/<param>``: ``|w_after - w_before| / |w_before|`` (with ``weights=True``);
- ``activations/...`` (with ``activations=True``, see ``_activations.py``).

In a distributed job (``Trainer(kvstore='dist_sync')``) the rank is read from the trainer's kvstore at its
first step, and the ``per_worker``/``rank0`` rules of ``tb.init`` apply; each worker logs its own gradients
(read before they are pushed). A process that does not log stops measuring.

Example::

    >>> handle = tb.gluon.watch(net, trainer, every=100, weights=True)   # doctest: +SKIP
    >>> ...  # the loop: trainer.step(batch_size); handle.log_metrics(acc, loss=loss)
    >>> handle.remove()                                                  # doctest: +SKIP
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._training import gluon_adapter as gluon_state
from .._training.activation_roles import ROLE_STATS, role_stats
from .._training.distributed import logs_here, observe
from .._training.stats import check_stats
from .._values.convert import to_count, to_pattern
from ..writer import SummaryWriter
from ._activations import ActivationTap
from ._doctor import columns, judge_for, nan_origin
from ._metrics import (
    LearningRate,
    Series,
    WriterChoice,
    check_writer_choice,
    chosen_writer,
    loss_value,
    metric_values,
)
from ._tensors import TensorSummary, summarize

__all__ = ["Watch", "watch"]

GRAD_STATS = ("norm", "mean", "std", "max_abs", "nonfinite")
WEIGHT_STATS = ("norm", "mean", "std", "max_abs")
ACTIVATION_STATS = ("mean", "std", "max_abs", "nonfinite")
_WRAPPED = ("step", "allreduce_grads", "update")


class _Batches:
    """Training batches of one trainer: steps taken, and samples since the last speed reading."""

    def __init__(self) -> None:
        self.done = 0
        self.samples = 0
        self.since: float | None = None


_batches: weakref.WeakKeyDictionary[Any, _Batches] = weakref.WeakKeyDictionary()
_watched: weakref.WeakKeyDictionary[Any, Watch] = weakref.WeakKeyDictionary()  # trainer -> its live handle


def _batches_of(trainer: Any) -> _Batches:
    found = _batches.get(trainer)
    if found is None:
        found = _batches[trainer] = _Batches()
    return found


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool; got {value!r}")
    return value


class Watch:
    """The handle ``watch`` returns: ``step``, ``log_metrics``, ``log_validation``, ``remove``."""

    def __init__(
        self,
        net: Any,
        trainer: Any,
        *,
        every: int,
        grads: bool,
        weights: bool,
        activations: bool,
        writer: WriterChoice,
        pattern: str,
        histograms: bool,
        grad_stats: Sequence[str],
        weight_stats: Sequence[str],
        activation_stats: Sequence[str],
        layout: str,
        doctor: Any = None,
    ) -> None:
        self.every = to_count(every, name="every")
        self.grads = _check_bool(grads, "grads")
        self.weights = _check_bool(weights, "weights")
        self.activations = _check_bool(activations, "activations")
        self.histograms = _check_bool(histograms, "histograms")
        self._writer = check_writer_choice(writer)
        self._pattern = to_pattern(pattern)
        self.grad_stats = check_stats(grad_stats, name="grad_stats")
        self.weight_stats = check_stats(weight_stats, name="weight_stats")
        self.activation_stats = check_stats(activation_stats, name="activation_stats")
        self._judge = judge_for(doctor, lambda: self.writer, self.every)
        self._sizes: dict[str, int] = {}  # parameter -> number of values (the doctor's gradient RMS)
        self._last_input: tuple[Any, ...] | None = None  # the last training batch's net inputs (NaN origin)
        self._train = Series(writer, "train", layout)
        self._val = Series(writer, "val", layout)
        if trainer in _watched:
            raise ValueError("this trainer is already watched; remove() the first handle before watching it again")
        self.net, self.trainer = net, trainer
        self._batches = _batches_of(trainer)
        self._autograd = _mxnet().autograd
        self._learning_rate = LearningRate()
        self._reduced = False  # allreduce_grads() ran since the last update: every device holds the sum
        self._logging = True
        self._removed = False
        self._tap = ActivationTap(net, self._batch_is_logged, self._pattern) if activations else None
        self._saved = {name: trainer.__dict__[name] for name in _WRAPPED if name in trainer.__dict__}
        self._originals = {name: getattr(trainer, name) for name in _WRAPPED}
        trainer.step = self._wrap(self._originals["step"], reduced=False)
        trainer.update = self._wrap(self._originals["update"], reduced=None)
        trainer.allreduce_grads = self._allreduce_grads
        self._sample_counter = net.register_forward_pre_hook(self._count_samples)
        _watched[trainer] = self

    # -- public --------------------------------------------------------------------------------------------

    @property
    def step(self) -> int:
        """The index of the last batch stepped (-1 before the first); the step everything of that batch uses."""
        return self._batches.done - 1

    @property
    def writer(self) -> SummaryWriter:
        return chosen_writer(self._writer)

    def log_metrics(self, metric: Any = None, *, loss: Any = None) -> None:
        """Log the batch just stepped: ``train/<metric>``, ``train/loss`` (mean of ``loss``), ``train/lr`` and
        ``train/samples_per_sec`` (samples the net trained on since the last call, per second).

        Example::

            >>> trainer.step(batch_size); handle.log_metrics(acc, loss=loss)   # doctest: +SKIP
        """
        step = self.step
        if step < 0:
            raise RuntimeError("log_metrics() logs the batch just stepped; call it after trainer.step()")
        values = metric_values(metric) if metric is not None else []
        if loss is not None:
            values.append(("loss", loss_value(loss)))
        if not self._logs():
            return
        for name, value in values:
            self._train.log(name, value, step)
        self._train.log("lr", self._learning_rate.at(self.trainer, step), step)
        now, batches = time.perf_counter(), self._batches
        if batches.since is not None and now > batches.since and batches.samples:
            self._train.log("samples_per_sec", batches.samples / (now - batches.since), step)
        batches.since, batches.samples = now, 0

    def log_validation(self, metric: Any) -> None:
        """Log ``val/<metric>`` at the step of the last batch stepped (the weights it measured); the time since
        the last ``log_metrics`` is left out of ``samples_per_sec``.

        Example::

            >>> handle.log_validation(val_acc)   # after evaluating   # doctest: +SKIP
        """
        values = metric_values(metric)
        self._batches.since = None  # evaluation time is not training speed: the next speed reading starts afresh
        if self._logs():
            for name, value in values:
                self._val.log(name, value, max(self.step, 0))

    def remove(self) -> None:
        """Take every hook off: the trainer's ``step``/``update``/``allreduce_grads`` and the block hooks."""
        if self._removed:
            return
        self._removed = True
        _watched.pop(self.trainer, None)
        for name in _WRAPPED:
            if name in self._saved:
                setattr(self.trainer, name, self._saved[name])
            else:
                self.trainer.__dict__.pop(name, None)
        self._sample_counter.detach()
        if self._tap is not None:
            self._tap.remove()
        if self._judge is not None:
            self._judge.stop_listening()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    # -- the wrapped trainer methods ------------------------------------------------------------------------

    def _logs(self) -> bool:
        observe(self.trainer)  # a distributed kvstore exists from the first step on and tells the rank
        return logs_here()

    def _count_samples(self, block: Any, args: tuple[Any, ...]) -> None:
        """Training samples are what the net is called on while recording (each device's slice once); the
        ``batch_size`` given to ``trainer.step`` is often 1 (a mean loss), so it cannot tell."""
        if args and self._autograd.is_recording() and getattr(args[0], "shape", None):
            self._batches.samples += int(args[0].shape[0])
            if self._judge is not None:  # the batch a NaN search replays
                self._last_input = args

    def _batch_is_logged(self) -> bool:
        return self._logging and self._batches.done % self.every == 0

    def _wrap(self, original: Any, reduced: bool | None) -> Any:
        def wrapped(batch_size: int, ignore_stale_grad: bool = False) -> Any:
            summed = self._reduced if reduced is None else reduced
            self._reduced = False
            step = self._batches.done
            before = self._measure_before(summed) if self._batch_is_logged() else None
            result = original(batch_size, ignore_stale_grad)
            self._batches.done += 1
            if before is not None:
                self._after_update(step, *before)
            return result

        wrapped.__wrapped__ = original  # type: ignore[attr-defined]
        wrapped.__doc__ = original.__doc__
        return wrapped

    def _allreduce_grads(self) -> Any:
        result = self._originals["allreduce_grads"]()
        self._reduced = gluon_state.grads_already_summed(self.trainer)
        return result

    def _params(self) -> list[Any]:
        return [
            p
            for p in gluon_state.trainer_params(self.trainer)
            if p.grad_req != "null" and self._pattern.match(p.name) is not None
        ]

    def _measure_before(self, summed: bool) -> tuple[dict[str, TensorSummary], dict[str, Any], dict[str, Any]]:
        grads, before = {}, {}
        computed = (*self.grad_stats, "norm") if self._judge is not None else self.grad_stats
        for param in self._params():
            if self.grads:
                arrays = param.list_grad()
                self._sizes[param.name] = int(arrays[0].size)
                grads[param.name] = summarize(arrays[:1] if summed else arrays, computed, self.histograms)
            if self.weights:
                before[param.name] = param.list_data()[0].copy()
        captured = self._tap.collect() if self._tap is not None else {}
        if self._judge is not None and self._judge.origin is None and self._last_input is not None:
            self._find_nan_origin(grads, captured)  # before the update spreads it to the weights
        return grads, before, captured

    def _after_update(self, step: int, grads: dict[str, Any], before: dict[str, Any], captured: dict[str, Any]) -> None:
        if not self._logs():
            self._stop_logging()
            return
        writer = self.writer
        diagnosis = self._judge.diagnosis if self._judge is not None else None
        if self._judge is not None:
            self._judge.listen_to_loss()  # log_metrics(loss=...) after this step reaches the loss rules
        for name, summary in grads.items():
            summary.write(writer, "grads", name, self.grad_stats, step)
        if diagnosis is not None and grads:
            names = list(grads)
            sizes = [self._sizes.get(name, 0) for name in names]
            diagnosis.record(step, "grads", names, columns(grads, ("norm", "nonfinite")), sizes)
        used, ratios = {}, {}  # the norms of the weights this batch used (as the Module monitors read them)
        for param in self._params():
            if param.name not in before:
                continue
            after = param.list_data()[0]
            summarize([after], self.weight_stats, self.histograms).write(
                writer, "weights", param.name, self.weight_stats, step
            )
            old = before[param.name]
            scale = used[param.name] = float(old.norm().asscalar())
            change = float((after - old).norm().asscalar())
            ratios[param.name] = change / scale if scale else float("nan")
            writer.add_scalar(f"updates/ratio/{param.name}", ratios[param.name], step)
        if diagnosis is not None and used:
            diagnosis.record(step, "weights", list(used), {"norm": np.array(list(used.values()))})
            diagnosis.record(step, "update_ratio", list(ratios), {"update_ratio": np.array(list(ratios.values()))})
        measured = {}
        for name, outputs in captured.items():
            arrays = outputs.arrays
            merged = [_joined(arrays)] if len(arrays) > 1 else arrays
            extra = role_stats(outputs.role, self.activation_stats)
            summary = measured[name] = summarize(merged, (*self.activation_stats, *extra, "nonfinite"), self.histograms)
            summary.write(writer, "activations", name, self.activation_stats, step)
            for stat in extra:
                writer.add_scalar(f"activations/{stat}/{name}", summary.stats[stat], step)
        if diagnosis is not None:
            if measured:
                roles = {name: outputs.role for name, outputs in captured.items() if outputs.role is not None}
                stats = (*ROLE_STATS.values(), "nonfinite")
                diagnosis.record(step, "activations", list(measured), columns(measured, stats), roles=roles)
            self._judge.conclude(step, later=False)  # with on_alert='raise': DoctorAlert

    def _find_nan_origin(self, grads: dict[str, TensorSummary], captured: dict[str, Any]) -> None:
        assert self._judge is not None and self._last_input is not None
        self._judge.origin = nan_origin(self.net, self._last_input, self.step + 1, grads, captured)

    def _stop_logging(self) -> None:
        """This process does not log (a distributed worker in rank0 mode): measure nothing from now on."""
        self._logging = False
        if self._tap is not None:
            self._tap.remove()
            self._tap = None


def _mxnet() -> Any:
    import mxnet

    return mxnet


def _joined(arrays: list[Any]) -> Any:
    import mxnet as mx

    return mx.nd.concat(*[a.reshape((-1,)).as_in_context(arrays[0].context) for a in arrays], dim=0)


def watch(
    net: Any,
    trainer: Any = None,
    every: int = 100,
    grads: bool = True,
    weights: bool = False,
    activations: bool = False,
    writer: SummaryWriter | None = None,
    *,
    pattern: str = ".*",
    histograms: bool = True,
    grad_stats: Sequence[str] = GRAD_STATS,
    weight_stats: Sequence[str] = WEIGHT_STATS,
    activation_stats: Sequence[str] = ACTIVATION_STATS,
    layout: str = "tags",
    doctor: Any = None,
) -> Watch:
    """Watch a hand-written Gluon training loop; call once, after creating ``net`` and its ``Trainer``.

    ``trainer`` defaults to the Trainer holding ``net``'s parameters. Every ``every`` batches (from the first)
    logs gradients (``grads``), weights and update ratios (``weights``) and layer outputs (``activations``) of
    the parameters / outputs whose names match ``pattern``; see the module docstring for tags and steps.
    ``handle.log_metrics(metric, loss=loss)`` after ``trainer.step`` logs the batch's scalars;
    ``handle.remove()`` (or leaving a ``with`` block) restores the trainer and blocks.

    ``doctor=True`` (or a ``tb.Doctor(...)``, for its thresholds and ``on_alert``) judges what is watched on
    each logged batch, as ``tb.Doctor`` does for ``Module.fit``: gradients; with ``weights=True`` exploding
    weights and update ratios; with ``activations=True`` dead ReLUs, saturation and NaN in outputs; the loss
    given to ``log_metrics``. Alerts: ``alerts/<rule>``, the TEXT report ``doctor``, warnings, ``DoctorAlert``.

    Example::

        >>> with tb.gluon.watch(net, trainer, every=50) as handle:          # doctest: +SKIP
        ...     for data, label in train_data:
        ...         with autograd.record():
        ...             loss = loss_fn(net(data), label)
        ...         loss.backward()
        ...         trainer.step(data.shape[0])
        ...         handle.log_metrics(loss=loss)
    """
    import mxnet as mx

    if not isinstance(net, mx.gluon.Block):
        raise TypeError(f"net must be a Gluon Block; got {type(net).__name__}: {net!r:.80}")
    if trainer is None:
        trainer = gluon_state.trainer_of(net)
        if trainer is None:
            raise ValueError("no Trainer holds net's parameters yet; create the gluon.Trainer first, or pass trainer=")
    elif not isinstance(trainer, mx.gluon.Trainer):
        raise TypeError(f"trainer must be a gluon.Trainer or None; got {type(trainer).__name__}: {trainer!r:.80}")
    return Watch(
        net,
        trainer,
        every=every,
        grads=grads,
        weights=weights,
        activations=activations,
        writer=writer,
        pattern=pattern,
        histograms=histograms,
        grad_stats=grad_stats,
        weight_stats=weight_stats,
        activation_stats=activation_stats,
        layout=layout,
        doctor=doctor,
    )
