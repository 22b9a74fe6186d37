"""The doctor's voice: a step's verdict becomes alert scalars, the ``doctor`` report, warnings, an error.

``Judge`` is shared by the Module-API ``tb.Doctor`` (verdicts built off the training thread, in queue order
after the step's statistics) and ``tb.gluon.watch(doctor=...)`` (verdicts made on the training thread).

Example::

    >>> judge = Judge(Thresholds(), "log", lambda: sw)    # doctest: +SKIP
    >>> judge.conclude(step, later=True)                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._facade.listeners import listen_to_scalars
from .._io.encode import ScalarBlock
from .._io.encoders import encode_later
from ..errors import DoctorAlert, EncodeError
from ..summaries.text import text_value
from .report import message, report_markdown
from .rules import LOSS_RULES, TENSOR_RULES, Alarm, Diagnosis, PerList, Verdict
from .thresholds import Thresholds

__all__ = ["ON_ALERT", "REPORT_TAG", "Judge"]

_log = logging.getLogger("mxnet_tb.doctor")
ON_ALERT = ("log", "raise")
REPORT_TAG = "doctor"
ROLE_OF_STAT = {"zero_fraction": "relu", "sigmoid_saturation": "sigmoid", "tanh_saturation": "tanh"}
_TAGS = (*(f"alerts/{rule}" for rule in TENSOR_RULES), REPORT_TAG)
_BLOCK = ScalarBlock(_TAGS[:-1])
_LOSS_TAGS = tuple(f"alerts/{rule}" for rule in LOSS_RULES)
_LOSS_BLOCK = ScalarBlock(_LOSS_TAGS)


class Judge:
    """Rules (``Diagnosis``) plus what they say: ``conclude(step)`` for tensor rules, the loss via the writer.

    ``every``: the tensors' interval; a loss is judged at the steps the tensors are, or every ``every`` steps.
    """

    def __init__(self, thresholds: Thresholds, on_alert: str, writer: Callable[[], Any], every: int = 1) -> None:
        if on_alert not in ON_ALERT:
            raise ValueError(f"on_alert must be one of {ON_ALERT}; got {on_alert!r}")
        self.thresholds = thresholds
        self.on_alert = on_alert
        self.diagnosis = Diagnosis(thresholds)
        self.origin: str | None = None  # where the first NaN/Inf came from, once found
        self._writer = writer
        self._lock = threading.Lock()
        self._version = 1  # report changes (the first verdict writes it: a healthy run shows one too)
        self._shown = 0  # the report version last written
        self._report_step = -1  # the step of the last report queued
        self._concluded = -1  # the last step concluded
        self._deferred: list[tuple[int, Any]] = []  # (step, future of a report) that step's verdict waits for
        self.every = every  # judge the loss at least every this many steps (the tensors' interval)
        self._loss_judged = -(1 << 62)  # the step of the last loss judged
        self._remove_listener: Callable[[], None] | None = None
        self._loss_tags: dict[tuple[str, str], bool] = {}  # (run, tag) -> whether it is the training loss
        self._plans = PerList()  # a plan's names as a list, and their roles

    @property
    def stops_training(self) -> bool:
        return self.on_alert == "raise"

    @property
    def writer(self) -> Any:
        return self._writer()

    @staticmethod
    def needs(kind: str) -> tuple[str, ...]:
        """The statistics the rules read of a monitor ``kind`` (computed even where not logged)."""
        return ("norm",) if kind in ("grads", "weights") else ()

    def listener(self, kind: str, step: int, names: Sequence[str], sizes: Any, extra: Sequence[Sequence[str]]) -> Any:
        """The function a monitor's report calls with one logged batch's statistics (on whichever thread)."""

        def worked_out() -> tuple[list[str], dict[str, str]]:
            roles = {n: ROLE_OF_STAT[s] for n, more in zip(names, extra) for s in more if s in ROLE_OF_STAT}
            return list(names), roles

        listed, roles = self._plans.get(names, worked_out, tuple(extra))  # once per monitor plan

        def record(stats: dict[str, np.ndarray]) -> None:
            self.diagnosis.record(step, kind, listed, stats, sizes, roles)

        return record

    def listen_to_loss(self) -> None:
        """Judge every training loss logged to the writer from now on (once)."""
        if self._remove_listener is None:
            self._remove_listener = listen_to_scalars(self.writer, self._on_scalar)

    def stop_listening(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None

    # -- tensor rules -------------------------------------------------------------------------------------

    def conclude(self, step: int, later: bool) -> None:
        """Judge ``step`` once every statistic of it is recorded (``later``: queued, judged in queue order).

        Once per step: a ``SequentialModule``'s modules each end the step; the statistics of the ones after the
        first are judged with the next step, so every ``alerts/<rule>`` has one value per step.
        """
        writer = self.writer
        with self._lock:
            if step <= self._concluded:
                return
            self._concluded = self._report_step = step
        if later and not self.stops_training:
            writer.add_summary_later(_TAGS, lambda: self._outcome(self._conclude(step)), step)
            return
        verdict = self._conclude(step)
        values = self._outcome(verdict)
        writer.add_summary_later(_TAGS, lambda: values, step)
        self._raise_if_alarmed(verdict)

    def defer(self, step: int, report: Any) -> None:
        """A monitor's report of ``step`` that logs nothing (the weights' norms): computed at once on an encoder
        thread, so its device copies are soon let go; the step's verdict waits for it."""
        if self.stops_training:  # reduced now, as every statistic of a run that stops at its alarms
            report.values()
            return
        future = encode_later(lambda: (report.values(), b"")[1], f"the doctor's statistics at step {step}")
        with self._lock:
            self._deferred.append((step, future))

    def _conclude(self, step: int) -> Verdict:
        with self._lock:
            due = [future for at, future in self._deferred if at <= step]
            self._deferred = [(at, future) for at, future in self._deferred if at > step]
        for future in due:
            try:
                future.result()  # its statistics are recorded
            except EncodeError as exc:  # judged without them, and said
                _log.warning("mxnet_tb doctor: %s", exc)
        return self.diagnosis.conclude(step)

    def _outcome(
        self, verdict: Verdict, block: ScalarBlock = _BLOCK, rules: tuple[str, ...] = TENSOR_RULES, report: bool = True
    ) -> list[Any]:
        """The alert scalars of ``rules`` (and, with ``report``, the report if it changed) of a verdict; warns for
        first alarms."""
        self._warn(verdict)
        values: list[Any] = [block.fill(np.array([verdict.counts[rule] for rule in rules], dtype=np.float64))]
        with self._lock:
            if verdict.changed:
                self._version += 1
            if report and self._version != self._shown:
                self._shown = self._version
                values.append(text_value(REPORT_TAG, self.report()))
        return values

    def _warn(self, verdict: Verdict) -> None:
        for alarm in verdict.first:
            _log.warning("mxnet_tb doctor: %s", self.message(alarm))

    def message(self, alarm: Alarm) -> str:
        origin = self.origin if alarm.rule in ("nonfinite_tensors", "nonfinite_loss") else None
        return message(alarm, origin)

    def report(self) -> str:
        """The ``doctor`` TEXT report as it stands: one markdown row per rule that fired or was explained."""
        return report_markdown(self.diagnosis.fired, self.diagnosis.explained, self.origin)

    def _raise_if_alarmed(self, verdict: Verdict) -> None:
        counted = [alarm for alarm in verdict.alarms if alarm.explained_by is None]
        if not counted or not self.stops_training:
            return
        writer = self.writer
        writer.end_session("failure")
        writer.flush()
        alarm = counted[0]
        raise DoctorAlert(self.message(alarm), alarm.rule, alarm.step)

    # -- the loss ---------------------------------------------------------------------------------------------

    def _on_scalar(self, run: str, tag: str, value: float, step: int) -> None:
        """A logged scalar: a training loss is kept, and judged at the steps the tensors are (or every ``every``
        steps), in queue order after the tensor verdicts queued before it, so that an earlier alarm explains a
        stalled loss whatever the threads' timing."""
        known = self._loss_tags.get((run, tag))
        if known is None:
            path = f"{run}/{tag}" if run else tag
            known = not path.startswith(("alerts/", REPORT_TAG)) and self.diagnosis.is_loss(path)
            if len(self._loss_tags) > 10_000:
                self._loss_tags.clear()
            self._loss_tags[(run, tag)] = known
        if not known:
            return
        self.diagnosis.add_loss(step, value)
        with self._lock:
            due = step == self._concluded or step >= self._loss_judged + self.every
            if not due:
                return
            self._loss_judged = step
            report = step != self._report_step  # one report per step: a tensor verdict's, else this one's
            if report:
                self._report_step = step
        tags = (*_LOSS_TAGS, REPORT_TAG) if report else _LOSS_TAGS
        writer = self.writer
        if not self.stops_training:

            def outcome() -> list[Any]:
                return self._outcome(self.diagnosis.judge_loss(step), _LOSS_BLOCK, LOSS_RULES, report)

            writer.add_summary_later(tags, outcome, step)
            return
        writer.flush()  # every verdict queued before this loss is made
        verdict = self.diagnosis.judge_loss(step)
        values = self._outcome(verdict, _LOSS_BLOCK, LOSS_RULES, report)
        writer.add_summary_later(tags, lambda: values, step)
        self._raise_if_alarmed(verdict)
