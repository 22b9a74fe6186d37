"""``tb.Doctor``: live alerts when training goes wrong, from the statistics the monitors already compute.

``mod.fit(..., monitor=tb.Doctor())`` logs what ``GradMonitor`` and ``ActivationMonitor`` log and
``WeightMonitor``'s update ratios, every ``interval`` batches, and judges them with the weights' norms
(``_doctor/rules.py``, thresholds in ``Thresholds``): vanishing or exploding tensors, update ratios out of
band, dead ReLUs, saturated sigmoid/tanh units, NaN/Inf in gradients, weights or outputs; the training loss
logged by ``tb.scalars()`` (a loss metric such as ``'ce'``) not decreasing, or NaN/Inf. Each alert is:

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
run off the training thread with the statistics, ~1% of the loop's CPU (``bench/bench_doctor.py``); the NaN
check waits for each logged batch's backward pass; ``on_alert='raise'`` reduces logged batches on the training
thread, to stop at them.

Example::

    >>> mod.fit(train_iter, num_epoch=5, eval_metric="ce", monitor=tb.Doctor(interval=20),
    ...         batch_end_callback=tb.scalars())   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from ._doctor.judge import Judge
from ._doctor.thresholds import Thresholds
from ._training.default import default_writer, resolve_writer
from ._training.stats import all_finite
from ._values.convert import to_count
from .monitors._base import TensorMonitor
from .monitors.activation import ActivationMonitor
from .monitors.grad import GradMonitor
from .monitors.group import MonitorGroup
from .monitors.weight import WeightMonitor
from .writer import SummaryWriter

__all__ = ["Doctor", "Thresholds"]


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
        known = set(Thresholds.__dataclass_fields__)
        unknown = sorted(set(thresholds) - known)
        if unknown:
            raise TypeError(f"Doctor got unknown threshold(s) {unknown}; known: {sorted(known)}")
        self.thresholds = Thresholds(**thresholds)
        self.on_alert = on_alert
        self._writer = resolve_writer(writer)
        self.judge = Judge(self.thresholds, on_alert, lambda: self.writer, interval)
        nan_check = _NanCheck(self.judge, interval, writer)
        members: list[Any] = [
            GradMonitor(interval, histograms=histograms, writer=writer),
            WeightMonitor(interval, stats=(), histograms=False, writer=writer),  # tb.params logs the weights
            nan_check,  # before the activation monitor logs (and lets go of) the batch's outputs
        ]
        if activations:  # operator outputs (not BatchNorm's batch mean/var, nor workspaces)
            nan_check.activations = ActivationMonitor(interval, r".*_output$", histograms=histograms, writer=writer)
            members.append(nan_check.activations)
        members.append(_StepEnd(self.judge, interval, writer))
        super().__init__(*members)
        self.interval = interval
        for member in members:
            member._doctor = self.judge

    @property
    def writer(self) -> SummaryWriter:
        return self._writer or default_writer()

    @property
    def diagnosis(self) -> Any:
        return self.judge.diagnosis

    def report(self) -> str:
        """The ``doctor`` TEXT report as it stands: one markdown row per rule that fired or was explained.

        Example::

            >>> print(doctor.report())   # doctest: +SKIP
        """
        return self.judge.report()

    def install(self, exe: Any) -> None:
        """Install every monitor on ``exe``; the first time, listen to the logged training loss too."""
        super().install(exe)
        self.judge.listen_to_loss()

    def uninstall(self) -> None:
        """Stop judging and logging (see ``MonitorGroup.uninstall``)."""
        super().uninstall()
        self.judge.stop_listening()


class _NanCheck(TensorMonitor):
    """At each logged batch, before its update: are the outputs, gradients (and captured activations) finite?
    The first time they are not, re-run that batch's forward pass to find the operator that made the NaN/Inf."""

    kind = "nan_check"

    def __init__(self, judge: Judge, interval: int, writer: SummaryWriter | None) -> None:
        super().__init__(interval, histograms=False, writer=writer)  # its run's clock, as the other members'
        self._judge = judge
        self.activations: ActivationMonitor | None = None  # whose captured outputs of the batch are checked too
        self._searched = False

    def _collect(self, group: list[Any], step: int) -> None:
        if self._searched:
            return
        captured = self.activations.pending_outputs() if self.activations is not None else {}
        pending = [array for arrays in captured.values() for array in arrays]
        for exe in group:
            arrays = [*exe.outputs, *(g for g in exe.grad_dict.values() if g is not None), *pending]
            if not arrays or all_finite(arrays):
                continue
            self._searched = True
            self._judge.origin = _origin_text(exe, step)
            return


class _StepEnd(TensorMonitor):
    """The last member: every other monitor has queued the logged batch's statistics; the judge concludes."""

    kind = "doctor"

    def __init__(self, judge: Judge, interval: int, writer: SummaryWriter | None) -> None:
        super().__init__(interval, histograms=False, writer=writer)
        self._judge = judge

    def _collect(self, group: list[Any], step: int) -> None:
        self._judge.conclude(step, later=True)


def _origin_text(exe: Any, step: int) -> str:
    from ._training.mxnet_adapter import symbol_of
    from ._training.nan_origin import find_nan_origin, origin_report

    return origin_report(step, lambda: find_nan_origin(symbol_of(exe), exe.arg_dict, exe.aux_dict, is_train=True))
