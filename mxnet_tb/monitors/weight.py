"""``WeightMonitor``: weight statistics, histograms and update ratios, every ``interval`` batches.

Example::

    >>> mod.install_monitor(tb.WeightMonitor(interval=50))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._training.mxnet_adapter import argument_names
from ..writer import SummaryWriter
from ._base import TensorMonitor
from ._report import UpdateRatios
from ._staging import Layout, stage_copy

__all__ = ["WeightMonitor"]


class WeightMonitor(TensorMonitor):
    """Logs ``weights/<stat>/<param>``, ``weights/hist/<param>`` and ``weights/update_ratio/<param>``.

    Weights are read at the backward pass, i.e. as the batch used them. The update ratio
    ``||w_after - w_before|| / ||w_after||`` measures the optimizer step of a logged batch (healthy training
    is often near 1e-3); it is logged at that batch's step once the next batch shows the updated weights.
    Only parameters with gradients are watched (not data, labels or frozen parameters).

    Example::

        >>> mod.fit(train_iter, num_epoch=5, monitor=tb.WeightMonitor(interval=20))   # doctest: +SKIP
    """

    kind = "weights"

    def __init__(
        self,
        interval: int = 100,
        pattern: str = ".*",
        stats: Sequence[str] = ("norm", "mean", "std", "max_abs"),
        histograms: bool = True,
        writer: SummaryWriter | None = None,
        update_ratio: bool = True,
        reduce: str = "auto",
        on_nonfinite: str = "log",
    ) -> None:
        super().__init__(interval, pattern, stats, histograms, writer, reduce, on_nonfinite)
        if not isinstance(update_ratio, bool):
            raise TypeError(f"update_ratio must be a bool; got {update_ratio!r}")
        self.update_ratio = update_ratio
        # logged batches waiting for their updated weights: (names, staged weights, step), one per executor group
        self._before: list[tuple[list[str], Any, int]] = []

    def uninstall(self) -> None:
        """Stop monitoring (see ``TensorMonitor.uninstall``); a pending update ratio is not logged."""
        super().uninstall()
        self._before = []

    def _after_backward(self, exe: Any) -> None:
        group = self._groups[id(exe)]
        if exe is group[0] and self._before:
            self._log_update_ratios(exe)
        super()._after_backward(exe)

    def _parameters(self, exe: Any) -> list[str]:
        grads = exe.grad_dict
        return [n for n in argument_names(exe) if self._matches(n) and grads.get(n) is not None]

    def _collect(self, group: list[Any], step: int) -> None:
        names, tensors = self._parameter_tensors(group, "arg")
        if not names:
            return
        first = [arrays[:1] for arrays in tensors]  # every device holds the same weights
        self._log_batch(names, first, step)  # (the doctor's logs nothing here: its judge reads the norms)
        if self.update_ratio:  # this batch's weights, copied now (the update overwrites them)
            staged = stage_copy(Layout(first, self._views))
            self._before = [p for p in self._before if p[0] != names] + [(names, staged, step)]

    def _log_update_ratios(self, exe: Any) -> None:
        """Ratios of the weights ``exe`` holds (a SequentialModule's parts each hold their own): every pending
        batch whose parameters are all in ``exe``, in one event each."""
        arrays = exe.arg_dict
        held = [pending for pending in self._before if all(name in arrays for name in pending[0])]
        if not held:
            return
        self._before = [pending for pending in self._before if not any(pending is h for h in held)]
        for names, staged, step in held:
            after = stage_copy(Layout([[arrays[name]] for name in names], self._views))
            plan = self._plan(tuple(names), (("update_ratio",),) * len(names))
            tags = tuple(tag for more in plan.extra_tags for tag in more)
            doctor = self._doctor
            listener = doctor.listener("update_ratio", step, names, after.sizes, ()) if doctor else None
            report = UpdateRatios(tags, staged, after, listener)
            self.writer.add_summary_later(tags, report.values, step, size=2 * after.nbytes)
