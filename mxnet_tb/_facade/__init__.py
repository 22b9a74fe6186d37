"""The ``SummaryWriter`` facade split by family of summary kinds (``writer.py`` holds the class and its core).

Example::

    >>> walltime_or_now(None) > 0
    True
"""

from __future__ import annotations

import time
from typing import Any

from .._values.convert import to_walltime

__all__ = ["walltime_or_now"]


def walltime_or_now(walltime: Any) -> float:
    """``walltime`` checked, or now when it is None: the one place every ``add_*`` takes its wall time."""
    return time.time() if walltime is None else to_walltime(walltime)
