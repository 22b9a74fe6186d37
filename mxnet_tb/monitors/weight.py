"""``WeightMonitor``: weight statistics, histograms and update ratios, every ``interval`` batches.

Example::

    >>> mod.install_monitor(tb.WeightMonitor(interval=50))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._training.mxnet_adapter import argument_names
from ..writer import SummaryWriter
from ._base import TensorMonitor

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
        self._before: dict[str, np.ndarray] = {}
        self._before_step = -1

    def uninstall(self) -> None:
        """Stop monitoring (see ``TensorMonitor.uninstall``); a pending update ratio is not logged."""
        super().uninstall()
        self._before = {}

    def _after_backward(self, exe: Any) -> None:
        group = self._groups[id(exe)]
        if exe is group[0] and self._before:
            self._log_update_ratios(exe)
        super()._after_backward(exe)

    def _parameters(self, exe: Any) -> list[str]:
        grads = exe.grad_dict
        return [n for n in argument_names(exe) if self._matches(n) and grads.get(n) is not None]

    def _collect(self, group: list[Any], step: int) -> None:
        first = group[0]  # every device holds the same weights
        nonfinite = {}
        for name in self._parameters(first):
            array = first.arg_dict[name]
            nonfinite[name] = self._log(name, [array], step)
            if self.update_ratio:
                self._before[name] = array.asnumpy()
        self._before_step = step
        self._check_nonfinite(nonfinite, step)

    def _log_update_ratios(self, exe: Any) -> None:
        """Ratios of the weights ``exe`` holds (a SequentialModule's parts each hold their own)."""
        arrays = exe.arg_dict
        for name in [name for name in self._before if name in arrays]:
            before = self._before.pop(name)
            after = arrays[name].asnumpy().astype(np.float64)
            norm = float(np.linalg.norm(after))
            ratio = float(np.linalg.norm(after - before)) / norm if norm else float("nan")
            self.writer.add_scalar(f"{self.kind}/update_ratio/{name}", ratio, self._before_step)
