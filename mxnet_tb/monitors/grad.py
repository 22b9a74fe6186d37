"""``GradMonitor``: gradient statistics and histograms of every parameter, every ``interval`` batches.

Example::

    >>> mod.install_monitor(tb.GradMonitor(interval=50))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..writer import SummaryWriter
from ._base import TensorMonitor

__all__ = ["GradMonitor"]


class GradMonitor(TensorMonitor):
    """Logs ``grads/<stat>/<param>`` and ``grads/hist/<param>`` right after the backward pass.

    Gradients of several devices (``context=[...]``) are summed, as the kvstore does, and logged once.
    MXNet's gradients are sums over the batch; ``effective=True`` multiplies them by the optimizer's
    ``rescale_grad`` (by default 1/batch size), giving the gradient the optimizer applies. ``nonfinite``
    counts NaN/Inf entries; ``on_nonfinite='raise'`` stops training with ``NonFiniteError`` naming the first
    bad gradient and the step. ``reduce``: ``'host'`` (NumPy, fastest on CPU), ``'device'`` (NDArray
    reductions where the gradient lives, only scalars copied back; for GPUs), ``'auto'`` (device for GPUs).

    Example::

        >>> mod.fit(train_iter, num_epoch=5, monitor=tb.GradMonitor(interval=10, pattern=".*weight"))  # doctest: +SKIP
    """

    kind = "grads"

    def __init__(
        self,
        interval: int = 100,
        pattern: str = ".*",
        stats: Sequence[str] = ("norm", "mean", "std", "max_abs", "nonfinite"),
        histograms: bool = True,
        writer: SummaryWriter | None = None,
        effective: bool = False,
        reduce: str = "auto",
        on_nonfinite: str = "log",
    ) -> None:
        super().__init__(interval, pattern, stats, histograms, writer, reduce, on_nonfinite)
        if not isinstance(effective, bool):
            raise TypeError(f"effective must be a bool; got {effective!r}")
        self.effective = effective

    def _scale(self) -> float:
        optimizer = getattr(self._module, "_optimizer", None)
        return float(getattr(optimizer, "rescale_grad", 1.0)) if self.effective else 1.0

    def _collect(self, group: list[Any], step: int) -> None:
        scale = self._scale()
        nonfinite = {}
        for name in group[0]._symbol.list_arguments():
            if not self._matches(name):
                continue
            grads = [exe.grad_dict.get(name) for exe in group]
            if any(grad is None for grad in grads):
                continue  # data, labels, frozen parameters
            nonfinite[name] = self._log(name, grads, step, scale)
        self._check_nonfinite(nonfinite, step)
