"""What every mxnet_tb monitor shares: install styles, batch counting, the global step, writing statistics.

A monitor is an ``mx.monitor.Monitor`` so it goes wherever MXNet takes one: ``mod.install_monitor(m)``,
``fit(monitor=m)``, or both (an executor is hooked once). It does its work in removable executor hooks
(``_training/hooks.py``), so it needs no ``tic``/``toc`` from MXNet (those stay harmless no-ops when ``fit``
calls them) and ``uninstall()`` gives the executors back their own methods.

A logged batch is one ``_log_batch`` call: device work on the training thread (``_staging.py``), everything
else off it, in the writer (``_report.py``, ``SummaryWriter.add_summary_later``), one event per batch.

``TensorMonitor`` is not public API: its extension points (``_listen``, ``_collect``, ``_log_batch``) follow the
executor hooks, which change as MXNet quirks (reshape, SequentialModule, Gluon) are covered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mxnet as mx
import numpy as np

from .._training.clock import StepClock, clock_of
from .._training.default import default_writer, resolve_writer
from .._training.distributed import logs_here
from .._training.hooks import ExecutorHooks, ModuleHooks, RemovableHandle, hooks_of, module_hooks_of
from .._training.mxnet_adapter import (
    ExecutorGroup,
    argument_names,
    calling_module,
    drives,
    executor_group_of,
    follow_executor_replacement,
    follow_new_buckets,
)
from .._training.resume import start_clock_in_fit
from .._training.stats import check_stats
from .._values.convert import to_count, to_pattern
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
        to_pattern(pattern)
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
        self._module: Any = None  # the module fit trains (the outermost one), or None
        self._module_hooks: ModuleHooks | None = None
        self._module_handles: list[RemovableHandle] = []
        self._token: Any = None  # the batch the module started last
        self._clock: StepClock | None = None
        self._groups: dict[int, list[Any]] = {}  # id(exe) -> the executors sharing its batch (MXNet's list)
        self._placements: dict[int, ExecutorGroup] = {}  # id(exe) -> its group, with the group's owner and module
        self._exe_handles: dict[int, list[RemovableHandle]] = {}
        self._in_module_batch: dict[int, bool] = {}  # id(exe) -> whether fit's module's forward runs it
        self._followed: dict[int, tuple[Any, list[RemovableHandle]]] = {}  # id(group owner) -> (it, handles)
        self._batches = 0  # training batches seen, for ``interval``
        self._active = False
        self._step = -1
        self._unhooked = False  # this process does not log (distributed, see _distributed.py): hooks removed
        self._views = FlatViews()  # flat views of the arrays read every logged batch, made once
        self._plans: dict[tuple[Any, ...], Plan] = {}
        self._last_plan: tuple[Any, Any, Plan] | None = None  # (names list, extra, plan) of the last batch
        self._layouts: tuple[Any, Layout] | None = None  # the last list of tensors staged, and its layout
        self._selection: dict[tuple[int, str], tuple[tuple[Any, ...], list[str], list[list[Any]]]] = {}
        self._doctor: Any = None  # the tb.Doctor reading this monitor's statistics (mxnet_tb/doctor.py), if any

    # -- MXNet's Monitor interface --------------------------------------------------------------------------

    def install(self, exe: Any) -> None:
        """Hook ``exe`` (MXNet calls this from ``install_monitor``); installing one executor twice is a no-op.

        The monitor follows the executors MXNet puts in their place (``Module.reshape``, a batch of a new
        shape, ``bind(force_rebind=True)``) and those of a ``BucketingModule``'s new buckets (where MXNet
        itself installs only the last monitor given), so it keeps logging on those.
        """
        if any(known is exe for known in self.exes):
            return
        if self._clock is None:
            self._module = calling_module()
            self._clock = clock_of(self._module)
            if self._module is not None:  # one batch is one training forward of the module fit trains
                self._module_hooks = module_hooks_of(self._module)
                self._module_handles.append(self._module_hooks.listen("before_train_forward", self._module_batch))
                self._module_handles.extend(follow_new_buckets(self._module, self._executors_replaced))
        group = executor_group_of(exe)
        self._hook(exe, group)
        self._follow(group)

    def uninstall(self) -> None:
        """Stop monitoring: every executor and module method this monitor wrapped is MXNet's own again.

        Methods are restored once no other mxnet_tb monitor listens to them. Installing again later works.

        Example::

            >>> monitor.uninstall()   # after fit; mod.install_monitor(monitor) would start it again  # doctest: +SKIP
        """
        for exe in list(self.exes):
            self._forget(exe)
        for _, handles in self._followed.values():
            for handle in handles:
                handle.remove()
        for handle in self._module_handles:
            handle.remove()
        self._followed, self._module_handles = {}, []
        self._module = self._module_hooks = self._clock = None
        self._active = False

    def tic(self) -> None:
        """Nothing to do: the executor hooks see every batch."""

    def toc(self) -> list[Any]:
        """Nothing to return: statistics go to TensorBoard, not to the log."""
        return []

    def toc_print(self) -> None:
        """Nothing to print: statistics go to TensorBoard."""

    # -- executors, as MXNet binds and replaces them ------------------------------------------------------

    def _hook(self, exe: Any, group: ExecutorGroup) -> None:
        self.exes.append(exe)
        self._groups[id(exe)] = group.execs
        self._placements[id(exe)] = group
        self._exe_handles[id(exe)] = self._listen(hooks_of(exe))

    def _forget(self, exe: Any) -> None:
        """Unhook one executor (replaced by MXNet, or the monitor uninstalled)."""
        for handle in self._exe_handles.pop(id(exe), []):
            handle.remove()
        self.exes[:] = [known for known in self.exes if known is not exe]
        self._groups.pop(id(exe), None)
        self._placements.pop(id(exe), None)
        self._in_module_batch.pop(id(exe), None)

    def _follow(self, group: ExecutorGroup) -> None:
        if group.owner is not None and id(group.owner) not in self._followed:
            handles = follow_executor_replacement(group, self._executors_replaced)
            self._followed[id(group.owner)] = (group.owner, handles)

    def _executors_replaced(self, group: ExecutorGroup) -> None:
        """MXNet replaced the executors of ``group`` (reshape) or its module's group (rebind): hook the new ones."""
        if self._unhooked:
            return
        live = {id(exe) for exe in group.execs}
        for exe in list(self.exes):
            known = self._placements[id(exe)]
            moved = known.owner is group.owner or (group.module is not None and known.module is group.module)
            if moved and id(exe) not in live:
                self._forget(exe)
        for exe in group.execs:
            if not any(known is exe for known in self.exes):
                self._hook(exe, group)
        self._follow(group)
        owners = {id(p.owner) for p in self._placements.values()}
        for key in [key for key in self._followed if key not in owners]:  # a group no executor of ours is in
            for handle in self._followed.pop(key)[1]:
                handle.remove()

    # -- for subclasses -------------------------------------------------------------------------------------

    def _listen(self, hooks: ExecutorHooks) -> list[RemovableHandle]:
        """Register listeners on one executor's hooks (by default after its backward pass); return the handles."""
        return [hooks.listen("after_backward", self._after_backward)]

    def _module_batch(self, module: Any) -> None:
        """The module ``fit`` trains starts a training batch: every executor of it shares this batch."""
        if self._module_hooks is not None:
            self._token = self._module_hooks.batch_id

    def _batch_begins(self, exe: Any) -> bool:
        """Count a batch at the first executor of its group; returns whether this batch is logged."""
        if not logs_here(self._module):  # the module's kvstore exists by the first batch and tells the rank
            self._unhook()
            return False
        group = self._groups[id(exe)]
        if exe is group[0]:
            # every executor fit's module runs (a SequentialModule's parts too) shares the batch it started
            token = self._token if self._runs_in_module_batch(exe) else hooks_of(exe).batch_id
            assert self._clock is not None
            start_clock_in_fit(self._clock, self.writer)  # a resumed fit continues the earlier run's steps
            step = self._clock.batch_started(token)
            if step != self._step:
                self._step = step
                self._active = self._batches % self.interval == 0
                self._batches += 1
        return self._active

    def _runs_in_module_batch(self, exe: Any) -> bool:
        """Whether ``exe`` runs within a training forward of fit's module (asked at batch time, when a new
        bucket's module is already in its BucketingModule, so that every monitor answers alike)."""
        if self._in_module_batch.get(id(exe)):
            return True
        placement = self._placements.get(id(exe))
        answer = placement is not None and drives(self._module, placement.module)
        if answer:
            self._in_module_batch[id(exe)] = True
        return answer

    def _after_backward(self, exe: Any) -> None:
        if not self._batch_begins(exe):
            return
        group = self._groups[id(exe)]
        if exe is group[-1] and self._active:
            self._collect(group, self._step)

    def _collect(self, group: list[Any], step: int) -> None:
        raise NotImplementedError

    def _module_of(self, exe: Any) -> Any:
        """The module whose executor group ``exe`` is in (a part of a SequentialModule, a bucket), else fit's."""
        placement = self._placements.get(id(exe))
        return placement.module if placement is not None and placement.module is not None else self._module

    def _unhook(self) -> None:
        """Remove this monitor's hooks, so a process that does not log pays nothing."""
        self.uninstall()
        self._unhooked = True

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
        doctor = self._doctor
        sync = wait or self.on_nonfinite == "raise" or (doctor is not None and doctor.stops_training)
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
        listener = doctor.listener(self.kind, step, plan.names, staged.sizes, plan.extra) if doctor else None
        report = BatchReport(plan, staged, report_scale, listener)
        if not plan.tags:  # nothing logged, only read by the doctor: its verdict of the step computes it
            if doctor is not None:
                doctor.defer(step, report)
            return report
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
            also = self._doctor.needs(self.kind) if self._doctor is not None else ()
            plan = Plan(self.kind, key[0], self.stats, self.histograms, extra, self._logs_global_norm(), also)
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
        for name in argument_names(group[0]):
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
