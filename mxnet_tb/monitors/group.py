"""``MonitorGroup``: several monitors where MXNet takes one (``fit(monitor=...)``, ``mod.install_monitor``).

Example::

    >>> monitor = tb.MonitorGroup(tb.GradMonitor(50), tb.WeightMonitor(50))   # doctest: +SKIP
    >>> mod.fit(train_iter, num_epoch=2, monitor=monitor)                       # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import mxnet as mx

from ._base import TensorMonitor
from .activation import ActivationMonitor
from .stock import Monitor

__all__ = ["MonitorGroup"]


def _members(monitors: tuple[Any, ...]) -> list[Any]:
    flat = []
    for monitor in monitors:
        flat.extend(_members(monitor.monitors) if isinstance(monitor, MonitorGroup) else [monitor])
    return flat


def _sets_executor_callback(monitor: Any) -> bool:
    """Whether ``monitor`` installs MXNet's executor monitor callback, of which an executor holds only one."""
    return isinstance(monitor, (Monitor, ActivationMonitor)) or not isinstance(monitor, TensorMonitor)


class MonitorGroup(mx.monitor.Monitor):
    """A Monitor made of ``monitors`` (mxnet_tb's or MXNet's own): each is installed, ticked and read in turn.

    An MXNet executor holds one monitor callback, so at most one member may need it (``tb.Monitor``,
    ``tb.ActivationMonitor``, a stock ``mx.mon.Monitor``); ``GradMonitor`` and ``WeightMonitor`` need none.

    Example::

        >>> group = tb.MonitorGroup(tb.GradMonitor(interval=20), tb.Monitor(100, pattern=".*output"))   # doctest: +SKIP
        >>> mod.fit(train_iter, num_epoch=5, monitor=group)   # doctest: +SKIP
    """

    def __init__(self, *monitors: Any) -> None:
        if not monitors:
            raise ValueError("MonitorGroup needs at least one monitor")
        for monitor in monitors:
            if not isinstance(monitor, mx.monitor.Monitor):
                raise TypeError(
                    f"MonitorGroup takes mx.monitor.Monitor objects (tb.GradMonitor, tb.Monitor, ...); "
                    f"got {type(monitor).__name__}: {monitor!r:.80}"
                )
        members = _members(monitors)
        if len({id(m) for m in members}) != len(members):
            raise ValueError("MonitorGroup: a monitor is given twice")
        callbacks = [type(m).__name__ for m in members if _sets_executor_callback(m)]
        if len(callbacks) > 1:
            raise ValueError(
                f"MonitorGroup: {' and '.join(callbacks)} both need the executor's monitor callback and an MXNet "
                "executor holds one, so one would silently replace the other; keep one of them"
            )
        super().__init__(1)
        self.monitors = tuple(monitors)

    def install(self, exe: Any) -> None:
        """Install every member on ``exe``."""
        for monitor in self.monitors:
            monitor.install(exe)
        self.exes.append(exe)

    def uninstall(self) -> None:
        """Every mxnet_tb member's ``uninstall`` (a stock ``mx.mon.Monitor`` has none: it stays installed)."""
        for monitor in self.monitors:
            if hasattr(monitor, "uninstall"):
                monitor.uninstall()
        self.exes = []

    def tic(self) -> None:
        """Every member's ``tic``."""
        for monitor in self.monitors:
            monitor.tic()

    def toc(self) -> list[Any]:
        """Every member's ``toc`` results, in order."""
        return [result for monitor in self.monitors for result in monitor.toc()]

    def toc_print(self) -> None:
        """Every member's ``toc_print``."""
        for monitor in self.monitors:
            monitor.toc_print()
