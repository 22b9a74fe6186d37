"""mxnet_tb's warnings, pointed at the user's line rather than at the library's internals.

Example::

    >>> warn_user("tag 'loss' went back to step 3", StepOrderWarning)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["EventWriteWarning", "StepOrderWarning", "warn_user"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class StepOrderWarning(UserWarning):
    """A tag was logged at a step not above one it already has; TensorBoard may hide the earlier points."""


class EventWriteWarning(UserWarning):
    """Events could not be written (disk full, directory gone, no permission) and were dropped.

    Raised as ``EventWriteError`` instead when the writer was created with ``strict=True``.
    """


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` with the stack level of the first frame outside this package."""
    frame, level = sys._getframe(1), 2  # level 1 would be this function
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
