"""Opening files the library reads back (event files to purge, the projector config) only if they are regular.

A FIFO planted under such a name would block ``open()`` forever, a link could point anywhere (``/dev/zero``),
a directory raises ``IsADirectoryError`` later. ``open_regular`` refuses all three up front, without blocking.

Example::

    >>> fd, info = open_regular("runs/exp1/projector_config.pbtxt")   # doctest: +SKIP
"""

from __future__ import annotations

import os
import stat

__all__ = ["open_regular"]


def open_regular(path: str) -> tuple[int, os.stat_result]:
    """An fd (read-only, blocking) of ``path`` and its stat, if it is a regular file and not a symlink.

    Opens with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO does not block) and checks the opened file with ``fstat``;
    OSError otherwise (``FileNotFoundError`` if there is nothing at ``path``).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"not a regular file: {path}")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, info
