"""``tb.Doctor``: live alerts when training goes wrong, from the statistics the monitors already compute.

``mod.fit(..., monitor=tb.Doctor())`` logs what ``GradMonitor``, ``WeightMonitor`` and ``ActivationMonitor`` log,
every ``interval`` batches, and judges it (``_doctor/rules.py``, thresholds in ``Thresholds``): vanishing or
exploding tensors, update ratios out of band, dead ReLUs, saturated sigmoid/tanh units, NaN/Inf in gradients,
weights or outputs; the training loss logged by ``tb.scalars()`` (a loss metric such as ``'ce'``) not
decreasing, or NaN/Inf. Each alert is:

- one ``logging`` warning (logger ``mxnet_tb.doctor``) the first time its rule fires, naming the tensor, the step,
  the value and the likely fix;
- a scalar ``alerts/<rule>``: the number of tensors in alarm, at every judged step (0 when healthy);
- a row of the TEXT report ``doctor`` (markdown), written again whenever it changes;
- with ``on_alert='raise'``: ``DoctorAlert`` with the same text stops training (the run's hparams session,
  if any, ends as FAILURE), at the logged batch, before its update (an update ratio: with the next one).

When a NaN/Inf first shows in a logged batch, the same batch's forward pass is re-run (before the update) with
every operator's output checked, and the first operator whose output is non-finite while its inputs are finite
is named: in the warning, the error and the report.

Cost: the monitors' own (see their docs; ``activations=True`` installs MXNet's per-operator callback). The rules
themselves run off the training thread with the statistics (``bench/bench_doctor.py``); ``on_alert='raise'``
reduces logged batches on the training thread, to stop at them.

Example::

    >>> mod.fit(train_iter, num_epoch=5, eval_metric="ce", monitor=tb.Doctor(interval=20),
    ...         batch_end_callback=tb.scalars())   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import mxnet as mx
import numpy as np

from ._doctor.report import message, report_markdown
from ._doctor.rules import LOSS_RULES, TENSOR_RULES, Alarm, Diagnosis, Thresholds, Verdict
from ._facade.listeners import listen_to_scalars
from ._io.encode import ScalarBlock
from ._training.default import default_writer, resolve_writer
from ._values.convert import to_count
from .errors import DoctorAlert
from .monitors._base import TensorMonitor
from .monitors.activation import ROLE_STATS, ActivationMonitor
from .monitors.grad import GradMonitor
from .monitors.group import MonitorGroup
from .monitors.weight import WeightMonitor
from .summaries.text import text_value
from .writer import SummaryWriter

__all__ = ["Doctor", "Thresholds"]

_log = logging.getLogger("mxnet_tb.doctor")
ON_ALERT = ("log", "raise")
REPORT_TAG = "doctor"
_ROLE_OF_STAT = {stat: role for role, stat in ROLE_STATS.items()}


class Doctor(MonitorGroup):
    """A monitor for ``fit(monitor=...)`` / ``mod.install_monitor``: the monitors' logging, judged live.

    ``interval``: judge (and log) every ``interval`` training batches. It logs what ``GradMonitor`` and
    ``ActivationMonitor`` log, and of ``WeightMonitor`` the update ratios (``tb.params()`` logs the weights at
    each epoch's end, under the same tags). ``activations``: also watch operator outputs (dead ReLUs,
    saturation, NaN in outputs; costs MXNet's per-operator callback). ``histograms``: the monitors'
    histograms. ``on_alert``: ``'log'`` (warn, count, report) or ``'raise'`` (also stop training with
    ``DoctorAlert``). Any ``Thresholds`` field may be given by name (``vanishing_rms=1e-8``, ...).

    Example::

        >>> doctor = tb.Doctor(interval=10, exploding_growth=1e3)           # doctest: +SKIP
        >>> mod.fit(train_iter, num_epoch=2, monitor=doctor, eval_metric="ce",
        ...         batch_end_callback=tb.scalars())                        # doctest: +SKIP
    """

    def __init__(
        self,
        interval: int = 100,
        *,
        activations: bool = True,
        histograms: bool = True,
        on_alert: str = "log",
        writer: SummaryWriter | None = None,
        **thresholds: Any,
    ) -> None:
        interval = to_count(interval, name="interval")
        for name, value in (("activations", activations), ("histograms", histograms)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool; got {value!r}")
        if on_alert not in ON_ALERT:
            raise ValueError(f"on_alert must be one of {ON_ALERT}; got {on_alert!r}")
        known = set(Thresholds.__dataclass_fields__)
        unknown = sorted(set(thresholds) - known)
        if unknown:
            raise TypeError(f"Doctor got unknown threshold(s) {unknown}; known: {sorted(known)}")
        self.thresholds = Thresholds(**thresholds)
        self.on_alert = on_alert
        self._writer = resolve_writer(writer)
        members: list[Any] = [
            GradMonitor(interval, histograms=histograms, writer=writer),
            WeightMonitor(interval, stats=(), histograms=False, writer=writer),  # tb.params logs the weights
            _NanCheck(self, interval),
        ]
        if activations:
            outputs = ActivationMonitor(interval, r".*_output$", histograms=histograms, writer=writer)
            members.append(outputs)  # operator outputs (not BatchNorm's batch mean/var, nor workspaces)
        members.append(_Judge(self, interval))
        super().__init__(*members)
        self.interval = interval
        self.diagnosis = Diagnosis(self.thresholds)
        self.origin: str | None = None  # where the first NaN/Inf came from, once found
        self._last_verdict: Verdict | None = None
        self._remove_listener: Any = None
        self._lock = threading.Lock()
        self._version = 1  # report changes (the first judged step writes it, so a healthy run shows one too)
        self._shown = 0  # the report version last written
        self._report_step = -1  # the step of the last report queued
        for member in members:
            member._doctor = self

    # -- what the monitors call -------------------------------------------------------------------------------

    @staticmethod
    def needs(kind: str) -> tuple[str, ...]:
        """The statistics the rules read of a monitor ``kind`` (computed even where not logged)."""
        return ("norm",) if kind in ("grads", "weights") else ()

    @property
    def stops_training(self) -> bool:
        return self.on_alert == "raise"

    @property
    def writer(self) -> SummaryWriter:
        return self._writer or default_writer()

    def listener(self, kind: str, step: int, names: Sequence[str], sizes: Any, extra: Sequence[Sequence[str]]) -> Any:
        """The function a monitor's report calls with one logged batch's statistics (on whichever thread)."""
        names, sizes = list(names), np.asarray(sizes)
        roles = {n: _ROLE_OF_STAT[s] for n, more in zip(names, extra) for s in more if s in _ROLE_OF_STAT}

        def record(stats: dict[str, np.ndarray]) -> None:
            self.diagnosis.record(step, kind, names, stats, sizes, roles)

        return record

    # -- installing -----------------------------------------------------------------------------------------

    def install(self, exe: Any) -> None:
        """Install every monitor on ``exe``; the first time, listen to the logged training loss too."""
        super().install(exe)
        if self._remove_listener is None:
            self._remove_listener = listen_to_scalars(self.writer, self._on_scalar)

    def uninstall(self) -> None:
        """Stop judging and logging (see ``MonitorGroup.uninstall``)."""
        super().uninstall()
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None

    # -- conclusions ----------------------------------------------------------------------------------------

    def conclude(self, step: int) -> None:
        """Judge ``step``: every monitor queued its statistics (the last member, ``_Judge``, calls this)."""
        tags = (*(f"alerts/{rule}" for rule in TENSOR_RULES), REPORT_TAG)
        block = ScalarBlock(tags[:-1])
        writer = self.writer

        def build() -> list[Any]:
            verdict = self.diagnosis.conclude(step)
            return self._outcome(verdict, block, TENSOR_RULES)

        with self._lock:
            self._report_step = step
        if not self.stops_training:
            writer.add_summary_later(tags, build, step)
            return
        values = build()
        writer.add_summary_later(tags, lambda: values, step)
        assert self._last_verdict is not None
        self._raise_if_alarmed(self._last_verdict)

    def _outcome(self, verdict: Verdict, block: ScalarBlock, rules: Sequence[str]) -> list[Any]:
        """The alert scalars (and the report, if it changed) of a verdict; warns for first alarms."""
        self._last_verdict = verdict
        for alarm in verdict.first:
            _log.warning("mxnet_tb doctor: %s", self._message(alarm))
        values: list[Any] = [block.fill(np.array([verdict.counts[rule] for rule in rules], dtype=np.float64))]
        with self._lock:
            if verdict.changed:
                self._version += 1
            if self._version != self._shown:
                self._shown = self._version
                values.append(text_value(REPORT_TAG, self.report()))
        return values

    def _message(self, alarm: Alarm) -> str:
        origin = self.origin if alarm.rule in ("nonfinite_tensors", "nonfinite_loss") else None
        return message(alarm, origin)

    def report(self) -> str:
        """The ``doctor`` TEXT report as it stands: one markdown row per rule that fired or was explained."""
        return report_markdown(self.diagnosis.fired, self.diagnosis.explained, self.origin)

    def _raise_if_alarmed(self, verdict: Verdict) -> None:
        counted = [alarm for alarm in verdict.alarms if alarm.explained_by is None]
        if not counted:
            return
        writer = self.writer
        writer.end_session("failure")
        writer.flush()
        alarm = counted[0]
        raise DoctorAlert(self._message(alarm), alarm.rule, alarm.step)

    # -- the loss ---------------------------------------------------------------------------------------------

    def _on_scalar(self, run: str, tag: str, value: float, step: int) -> None:
        path = f"{run}/{tag}" if run else tag
        if not self.diagnosis.is_loss(path):
            return
        verdict = self.diagnosis.loss(step, value)
        self._last_verdict = verdict
        writer = self.writer
        for rule in LOSS_RULES:
            writer.add_scalar(f"alerts/{rule}", verdict.counts[rule], step)
        for alarm in verdict.first:
            _log.warning("mxnet_tb doctor: %s", self._message(alarm))
        with self._lock:
            if verdict.changed:
                self._version += 1
            show = self._version != self._shown and step != self._report_step
            if show:
                self._shown, self._report_step = self._version, step
        if show:
            writer.add_text(REPORT_TAG, self.report(), global_step=step)
        if self.stops_training:
            self._raise_if_alarmed(verdict)


class _NanCheck(TensorMonitor):
    """At each logged batch, before its update: are the outputs, gradients (and captured activations) finite?
    The first time they are not, re-run that batch's forward pass to find the operator that made the NaN/Inf."""

    kind = "nan_check"

    def __init__(self, doctor: Doctor, interval: int) -> None:
        super().__init__(interval, histograms=False)
        self._owner = doctor
        self._searched = False

    def _collect(self, group: list[Any], step: int) -> None:
        if self._searched:
            return
        activations = next((m for m in self._owner.monitors if isinstance(m, ActivationMonitor)), None)
        pending = [a for arrays in (activations.pending_outputs() if activations else {}).values() for a in arrays]
        for exe in group:
            arrays = [*exe.outputs, *(g for g in exe.grad_dict.values() if g is not None), *pending]
            if not arrays or _all_finite(arrays):
                continue
            self._searched = True
            self._owner.origin = _origin_text(exe, step)
            return


class _Judge(TensorMonitor):
    """The last member: every other monitor has queued the logged batch's statistics; the doctor judges them."""

    kind = "doctor"

    def __init__(self, doctor: Doctor, interval: int) -> None:
        super().__init__(interval, histograms=False)
        self._owner = doctor

    def _collect(self, group: list[Any], step: int) -> None:
        self._owner.conclude(step)


def _all_finite(arrays: Sequence[Any]) -> bool:
    bad = [mx.nd.sum(mx.nd.contrib.isfinite(a.astype("float32")) == 0) for a in arrays]
    return float(mx.nd.add_n(*bad).asscalar()) == 0 if len(bad) > 1 else float(bad[0].asscalar()) == 0


def _origin_text(exe: Any, step: int) -> str:
    from ._training.mxnet_adapter import symbol_of

    try:
        from ._training.nan_origin import find_nan_origin

        found = find_nan_origin(symbol_of(exe), exe.arg_dict, exe.aux_dict, is_train=True)
    except Exception as exc:  # the search is a diagnosis aid: it must not stop a training that logs
        return f"the search for the NaN's origin at step {step} failed: {exc!r}"
    if found is None:
        return f"the NaN/Inf at step {step} is in the gradients only (the forward pass is finite)"
    return f"at step {step}, {found.describe()}"
