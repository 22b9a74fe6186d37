"""``GradMonitor``: gradient statistics and histograms of every parameter, every ``interval`` batches.

Example::

    >>> mod.install_monitor(tb.GradMonitor(interval=50))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._training.distributed import kvstore_if_distributed, updates_on_servers
from .._training.hooks import module_hooks_of
from .._training.mxnet_adapter import optimizer_of
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
    reductions where the gradient lives, only scalars and bucket counts copied back; for GPUs), ``'auto'``
    (device for GPUs). ``global_norm`` also logs ``grads/global_norm``: the norm of all watched gradients
    together, as gradient clipping computes it (NaN/Inf if any entry is).

    A logged batch costs the training thread one fused copy (or, for ``stats=('norm',), histograms=False``,
    one fused ``multi_sum_sq``); the statistics, histograms and encoding run on the writer's encoder threads.

    With a distributed kvstore (``dist_sync``) each worker logs its own gradients, read at the backward pass
    (by default the servers run the optimizer, and the kvstore pull later overwrites the gradient arrays with
    the new weights); with ``MXNET_UPDATE_ON_KVSTORE=0`` it logs the sums over all workers that its optimizer
    applies, read after ``update()``.

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
        global_norm: bool = True,
    ) -> None:
        super().__init__(interval, pattern, stats, histograms, writer, reduce, on_nonfinite)
        if not isinstance(effective, bool):
            raise TypeError(f"effective must be a bool; got {effective!r}")
        if not isinstance(global_norm, bool):
            raise TypeError(f"global_norm must be a bool; got {global_norm!r}")
        self.effective = effective
        self.global_norm = global_norm
        self._pending: tuple[list[Any], int] | None = None  # a batch to log once update() summed its gradients
        self._listens_to_update = False

    def uninstall(self) -> None:
        """Stop monitoring (see ``TensorMonitor.uninstall``); a batch waiting for ``update()`` is not logged."""
        super().uninstall()
        self._pending, self._listens_to_update = None, False

    def _scale(self, exe: Any) -> float:
        """``rescale_grad`` of the optimizer applying ``exe``'s gradients (a bucket's or part's module's own)."""
        if not self.effective:
            return 1.0
        optimizer = optimizer_of(self._module_of(exe))
        return float(getattr(optimizer, "rescale_grad", 1.0))

    def _collect(self, group: list[Any], step: int) -> None:
        if _sums_after_update(self._module):
            if not self._listens_to_update:
                self._module_handles.append(module_hooks_of(self._module).listen("after_update", self._after_update))
                self._listens_to_update = True
            self._pending = (group, step)
            return
        self._log_gradients(group, step, summed=False)

    def _after_update(self, module: Any) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not self._unhooked:
            self._log_gradients(*pending, summed=True)

    def _log_gradients(self, group: list[Any], step: int, summed: bool) -> None:
        """Log every matching gradient of ``group``; ``summed``: each device already holds the job's sum."""
        names, tensors = self._parameter_tensors(group, "grad")
        if names:
            self._log_batch(names, [grads[:1] for grads in tensors] if summed else tensors, step, self._scale(group[0]))

    def _logs_global_norm(self) -> bool:
        return self.global_norm


def _sums_after_update(module: Any) -> bool:
    """Whether ``module.update()`` puts the sum over all workers into the gradient arrays, to be logged then.

    That is a distributed kvstore whose workers run the optimizer (``MXNET_UPDATE_ON_KVSTORE=0``): the
    gradients are pushed and the sums pulled back before the worker's own optimizer step. With the default
    servers-run optimizer the servers update the weights and the pull overwrites the gradient arrays with
    them, so gradients are read at the backward pass, where they are this worker's own.
    """
    return kvstore_if_distributed(module) is not None and not updates_on_servers(module)
