"""What every mxnet_tb monitor shares: install styles, batch counting, the global step, writing statistics.

A monitor is an ``mx.monitor.Monitor`` so it goes wherever MXNet takes one: ``mod.install_monitor(m)``,
``fit(monitor=m)``, or both (an executor is hooked once). It does its work in executor hooks (``_hooks.py``),
so it needs no ``tic``/``toc`` from MXNet; those stay harmless no-ops when ``fit`` calls them.

A logged batch is one ``_log_batch`` call: device work on the training thread (``_staging.py``), everything
else off it, in the writer (``_report.py``, ``SummaryWriter.add_summary_later``), one event per batch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import mxnet as mx
import numpy as np

from .._training.clock import StepClock, calling_module, clock_of
from .._training.default import default_writer, resolve_writer
from .._training.distributed import logs_here
from .._training.hooks import executor_group, hooks_of
from .._training.stats import check_stats
from .._values.convert import to_count
from ..errors import NonFiniteError
from ..writer import SummaryWriter
from ._report import BatchReport, Plan, device_stats_of
from ._staging import FlatViews, Layout, stage_copy, stage_device_stats, stage_sum_squares

__all__ = ["TensorMonitor"]

REDUCE_MODES = ("auto", "host", "device")
NONFINITE_POLICIES = ("log", "raise")


class TensorMonitor(mx.monitor.Monitor):
    """Base of the monitors: every ``interval`` training batches, statistics of named tensors.

    Subclasses choose the hook (``_listen``) and the tensors (``_collect``), and log through ``_log``.
    """

    kind = "tensors"  # first part of every tag, e.g. "grads"

    def __init__(
        self,
        interval: int = 100,
        pattern: str = ".*",
        stats: Sequence[str] = ("norm",),
        histograms: bool = True,
        writer: SummaryWriter | None = None,
        reduce: str = "auto",
        on_nonfinite: str = "log",
    ) -> None:
        interval = to_count(interval, name="interval")
        if not isinstance(pattern, str):
            raise TypeError(f"pattern must be a regular expression string; got {pattern!r:.80}")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
        if not isinstance(histograms, bool):
            raise TypeError(f"histograms must be a bool; got {histograms!r}")
        if reduce not in REDUCE_MODES:
            raise ValueError(f"reduce must be one of {REDUCE_MODES}; got {reduce!r}")
        if on_nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f"on_nonfinite must be one of {NONFINITE_POLICIES}; got {on_nonfinite!r}")
        super().__init__(interval, pattern=pattern)
        self.stats = check_stats(stats)
        self.histograms = histograms
        self.reduce = reduce
        self.on_nonfinite = on_nonfinite
        self._writer = resolve_writer(writer)
        self._module: Any = None
        self._clock: StepClock | None = None
        self._groups: dict[int, list[Any]] = {}
        self._batches = 0  # training batches seen, for ``interval``
        self._active = False
        self._step = -1
        self._unhooked = False  # this process does not log (distributed, see _distributed.py): hooks removed
        self._views = FlatViews()  # flat views of the arrays read every logged batch, made once
        self._plans: dict[tuple[Any, ...], Plan] = {}
        self._last_plan: tuple[Any, Any, Plan] | None = None  # (names list, extra, plan) of the last batch
        self._layouts: tuple[Any, Layout] | None = None  # the last list of tensors staged, and its layout
        self._selection: dict[tuple[int, str], tuple[tuple[Any, ...], list[str], list[list[Any]]]] = {}

    # -- MXNet's Monitor interface --------------------------------------------------------------------------

    def install(self, exe: Any) -> None:
        """Hook ``exe`` (MXNet calls this from ``install_monitor``); installing one executor twice is a no-op."""
        if any(known is exe for known in self.exes):
            return
        if self._clock is None:
            self._module = calling_module()
            self._clock = clock_of(self._module)
        group = executor_group(exe)
        self.exes.append(exe)
        self._groups[id(exe)] = group
        self._listen(hooks_of(exe))

    def tic(self) -> None:
        """Nothing to do: the executor hooks see every batch."""

    def toc(self) -> list[Any]:
        """Nothing to return: statistics go to TensorBoard, not to the log."""
        return []

    def toc_print(self) -> None:
        """Nothing to print: statistics go to TensorBoard."""

    # -- for subclasses -------------------------------------------------------------------------------------

    def _listen(self, hooks: Any) -> None:
        """Register listeners on one executor's hooks; by default after its backward pass."""
        hooks.after_backward.append(self._after_backward)

    def _batch_begins(self, exe: Any) -> bool:
        """Count a batch at the first executor of its group; returns whether this batch is logged."""
        if not logs_here(self._module):  # the module's kvstore exists by the first batch and tells the rank
            self._unhook()
            return False
        group = self._groups[id(exe)]
        if exe is group[0]:
            token = (id(group[0]), hooks_of(group[0]).train_batches)
            assert self._clock is not None
            self._step = self._clock.batch_started(token)
            self._active = self._batches % self.interval == 0
            self._batches += 1
        return self._active

    def _after_backward(self, exe: Any) -> None:
        self._batch_begins(exe)
        group = self._groups[id(exe)]
        if exe is group[-1] and self._active:
            self._collect(group, self._step)

    def _collect(self, group: list[Any], step: int) -> None:
        raise NotImplementedError

    def _unhook(self) -> None:
        """Remove this monitor's listeners from every executor, so a process that does not log pays nothing."""
        self._active, self._unhooked = False, True
        for exe in self.exes:
            hooks = hooks_of(exe)
            for listeners in (hooks.before_train_forward, hooks.after_train_forward, hooks.after_backward):
                listeners[:] = [f for f in listeners if getattr(f, "__self__", None) is not self]

    @property
    def writer(self) -> SummaryWriter:
        return self._writer or default_writer()

    def _matches(self, name: str) -> bool:
        return self.re_prog.match(name) is not None

    def _log(self, name: str, arrays: Sequence[Any], step: int, scale: float = 1.0) -> float:
        """Log statistics (and a histogram) of the sum of ``arrays`` (one per device); returns its non-finite count.

        One tensor, read at once; monitors log a whole batch with ``_log_batch``.
        """
        report = self._log_batch([name], [list(arrays)], step, scale, wait=True)
        return report.nonfinite.get(name, 0.0)

    def _log_batch(
        self,
        names: Sequence[str],
        tensors: Sequence[Sequence[Any]],
        step: int,
        scale: float = 1.0,
        *,
        join: bool = False,
        extra: tuple[tuple[str, ...], ...] = (),
        wait: bool = False,
    ) -> BatchReport:
        """Log every tensor of a batch together: ``tensors[i]`` is tensor ``names[i]`` on each device, summed
        (or with ``join`` laid end to end); ``extra[i]`` names statistics logged for that tensor only.

        The training thread only issues device work here (``_staging.py``); reading it back, the statistics and
        their encoding (``_report.py``) run off it, in the writer (``add_summary_later``), as one event at
        ``step``. With ``on_nonfinite='raise'`` (or ``wait``) the batch is reduced now, to stop training at it.
        """
        plan = self._plan(names, extra)
        sync = wait or self.on_nonfinite == "raise"
        layout = self._layout(tensors, join)
        on_device = self.reduce == "device" or (self.reduce == "auto" and layout.on_gpu)
        report_scale = scale
        if on_device:
            if join:
                totals = [stage_copy(self._layout([pieces], join=True)).parts[0][1] for pieces in tensors]
                totals = [total * scale if scale != 1.0 else total for total in totals]
            else:
                totals = [self._device_total(arrays, scale) for arrays in tensors]
            staged = stage_device_stats(totals, device_stats_of(plan), plan.histograms)
            report_scale = 1.0
        elif plan.stats == ("norm",) and not plan.histograms and not any(plan.extra) and not sync and not join:
            staged = stage_sum_squares(layout)
        else:
            staged = stage_copy(layout)
        report = BatchReport(plan, staged, report_scale)
        writer = self.writer
        if sync:
            values = report.values()
            writer.add_summary_later(plan.tags, lambda: values, step)
            self._check_nonfinite(report.nonfinite, step)
        else:
            writer.add_summary_later(plan.tags, report.values, step, size=staged.nbytes)
        return report

    def _layout(self, tensors: Sequence[Sequence[Any]], join: bool = False) -> Layout:
        """How ``tensors`` are staged; kept while the same list of arrays comes back (gradients, weights)."""
        if join:  # activations: fresh copies every batch
            return Layout([list(t) for t in tensors], FlatViews.fresh, join=True)
        known = self._layouts
        if known is not None and known[0] is tensors:
            return known[1]
        layout = Layout([list(t) for t in tensors], self._views)
        self._layouts = (tensors, layout)
        return layout

    def _plan(self, names: Sequence[str], extra: tuple[tuple[str, ...], ...] = ()) -> Plan:
        """The tags of a batch over ``names``, made once per set of names."""
        last = self._last_plan
        if last is not None and last[0] is names and last[1] == extra:  # the same list as last batch's
            return last[2]
        key = (tuple(names), extra)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= 64:
                self._plans.clear()
            plan = Plan(self.kind, key[0], self.stats, self.histograms, extra, self._logs_global_norm())
            self._plans[key] = plan
        self._last_plan = (names, extra, plan)
        return plan

    def _logs_global_norm(self) -> bool:
        """Whether batches also log ``<kind>/global_norm`` (``GradMonitor`` does)."""
        return False

    def _parameter_tensors(self, group: list[Any], source: str) -> tuple[list[str], list[list[Any]]]:
        """The parameters this monitor watches in ``group`` and their ``source`` arrays (``'grad'`` or ``'arg'``)
        on each device; looked up once per group of executors.

        A parameter is watched if its name matches and every device has a gradient for it (not data, labels or
        frozen parameters).
        """
        key = (id(group), source)
        known = self._selection.get(key)
        if known is not None and len(known[0]) == len(group) and all(a is b for a, b in zip(known[0], group)):
            return known[1], known[2]
        names, tensors = [], []
        for name in group[0]._symbol.list_arguments():
            if not self._matches(name):
                continue
            grads = [exe.grad_dict.get(name) for exe in group]
            if any(grad is None for grad in grads):
                continue
            names.append(name)
            tensors.append(grads if source == "grad" else [exe.arg_dict[name] for exe in group])
        self._selection[key] = (tuple(group), names, tensors)
        return names, tensors

    @staticmethod
    def _host_total(arrays: Sequence[Any], scale: float) -> np.ndarray:
        values = arrays[0].asnumpy()
        for array in arrays[1:]:
            values = values + array.asnumpy()
        return values * scale if scale != 1.0 else values

    @staticmethod
    def _device_total(arrays: Sequence[Any], scale: float) -> Any:
        total = arrays[0].copy()
        for array in arrays[1:]:
            total += array.as_in_context(total.context)
        return total * scale if scale != 1.0 else total

    def _check_nonfinite(self, counts: dict[str, float], step: int) -> None:
        """With ``on_nonfinite='raise'``, stop training naming the first tensor with NaN or Inf."""
        bad = [(name, count) for name, count in counts.items() if count]
        if bad and self.on_nonfinite == "raise":
            self.writer.flush()
            name, count = bad[0]
            raise NonFiniteError(
                f"{self.kind} {name!r} holds {int(count)} NaN/Inf values at step {step}"
                + (f" (and {len(bad) - 1} more tensors)" if len(bad) > 1 else "")
            )
