"""One global step per training module, shared by every callback and monitor that logs about it.

TensorBoard draws every series against its step, so losses, learning rate, gradients and validation must agree
on it. The step counts training batches since the module's first logged batch and goes on across epochs
and repeated ``fit`` calls. Monitors see a batch first (at its backward pass), batch-end callbacks last (all
with the same ``BatchEndParam`` object), so a batch is counted once whoever sees it.

Example::

    >>> clock = StepClock()
    >>> clock.batch_started(token), clock.batch_ended(param)   # a monitor, then a callback: one batch  # doctest: +SKIP
    (0, 0)
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["StepClock", "clock_of"]

_ATTRIBUTE = "_mxnet_tb_clock"
_lock = threading.Lock()


class StepClock:
    """Counts training batches; ``step`` is the index of the batch in progress or last finished."""

    def __init__(self) -> None:
        self.step = -1
        self._open = False  # a monitor started the current batch and no callback has ended it yet
        self._last_param: Any = None
        self._last_token: Any = None
        self.resume_checked = False  # resume.py chose the first step (a resumed fit continues the earlier run's)

    @property
    def ticked(self) -> bool:
        """Whether any batch has been counted."""
        return self.step >= 0

    def batch_started(self, token: Any) -> int:
        """A training batch seen by a monitor; monitors seeing the same batch pass equal tokens. Returns its step."""
        if token == self._last_token:
            return self.step
        self._last_token = token
        self.step += 1
        self._open = True
        return self.step

    def batch_ended(self, param: Any) -> int:
        """A batch-end callback with ``param``; callbacks of one batch share the object. Returns its step."""
        if param is self._last_param:
            return self.step
        self._last_param = param
        if self._open:
            self._open = False
        else:
            self.step += 1
        return self.step

    def rebase(self, step: int) -> None:
        """Continue counting from ``step`` (a resumed run); only before anything was logged."""
        self.step = step


def clock_of(module: Any) -> StepClock:
    """The clock of ``module`` (attached to it on first use), or a private one when there is no module."""
    if module is None:
        return StepClock()
    with _lock:
        clock = getattr(module, _ATTRIBUTE, None)
        if clock is None:
            clock = StepClock()
            setattr(module, _ATTRIBUTE, clock)
        return clock
