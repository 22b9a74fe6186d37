"""Every exception and warning mxnet_tb raises, in one place; warnings point at the user's line.

Example::

    >>> try:                                             # doctest: +SKIP
    ...     sw.add_scalar("loss", 0.5)
    ... except tb.WriterClosedError:
    ...     pass
    >>> warn_user("tag 'loss' went back to step 3", StepOrderWarning)   # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import os
import warnings

__all__ = [
    "DoctorAlert",
    "EncodeError",
    "EncodeWarning",
    "EventWriteError",
    "EventWriteWarning",
    "ForeignFileWarning",
    "NonFiniteError",
    "ProfilerUnavailableError",
    "RankUnknownError",
    "StepOrderWarning",
    "WriterClosedError",
    "mxnet_reason",
    "warn_user",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class EventWriteError(OSError):
    """Events could not be written to an event file; ``filename`` and ``errno`` say where and why.

    Raised only by writers created with ``strict=True``; others warn with ``EventWriteWarning``.
    """


class EncodeError(ValueError):
    """A value accepted by an ``add_*`` call could not be encoded on the background encoder (a PNG or GIF).

    Not a disk failure: it is not counted in ``dropped_events`` and is raised (or warned) with its cause.
    """


class EncodeWarning(UserWarning):
    """A value could not be encoded on the background encoder and was not logged (``EncodeError`` with ``strict``)."""


class WriterClosedError(RuntimeError):
    """An event was logged after the writer was closed."""


class RankUnknownError(RuntimeError):
    """Where this worker logs depends on its rank, and no distributed kvstore has told it yet."""


class NonFiniteError(FloatingPointError):
    """A monitored tensor held NaN or Inf and the monitor was asked to stop training (``on_nonfinite='raise'``)."""


class DoctorAlert(RuntimeError):
    """A ``tb.Doctor(on_alert='raise')`` rule fired: the message names the rule, step, tensors and likely fix.

    ``rule`` and ``step`` say which rule fired and at which step.
    """

    def __init__(self, message: str, rule: str = "", step: int = -1) -> None:
        super().__init__(message)
        self.rule, self.step = rule, step


class ProfilerUnavailableError(RuntimeError):
    """MXNet's profiler could not be configured for ``tb.profile`` (other code in the process configured it)."""


class StepOrderWarning(UserWarning):
    """A tag was logged at a step not above one it already has; TensorBoard may hide the earlier points."""


class EventWriteWarning(UserWarning):
    """Events could not be written (disk full, directory gone, no permission) and were dropped.

    Raised as ``EventWriteError`` instead when the writer was created with ``strict=True``.
    """


class ForeignFileWarning(UserWarning):
    """A file in the log directory that mxnet_tb did not write as such (a symlink, FIFO, directory, or a file
    that does not parse) was left as it is; logging goes on without it."""


def mxnet_reason(exc: BaseException) -> str:
    """The reason an ``MXNetError`` gives: its last line that is not part of the C++ traceback, without the
    ``MXNetError:`` label (MXNet 1.9 starts its messages with "Traceback (most recent call last):").

    Example::

        >>> mxnet_reason(RuntimeError('Traceback (most recent call last):\\n  File "x.cc", line 3\\nMXNetError: bad'))
        'bad'
    """
    reason = ""
    for line in str(exc).splitlines():
        text = line.strip()
        if not text or text.startswith(("Traceback (most recent call last)", "File ", "[bt]", "Stack trace")):
            continue
        reason = text
    for label in ("MXNetError:", "mxnet.base.MXNetError:"):
        if reason.startswith(label):
            reason = reason[len(label) :].strip()
    return reason or type(exc).__name__


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` with the stack level of the first frame outside this package."""
    frame, level = inspect.currentframe().f_back, 2  # level 1 would be this function
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
