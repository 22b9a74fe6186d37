"""Event file names: ``events.out.tfevents.<seconds>.<host>.<pid>.<counter><suffix>``.

TensorBoard's loaders read a run's files in name order and never go back, so a process's later file must sort
after its earlier ones: the counter is zero-padded, and the seconds never go down within a process, even when
the wall clock steps back (NTP, a suspended VM). The pid and the exclusive creation keep processes apart.

Example::

    >>> event_file_name(".v1")   # doctest: +SKIP
    'events.out.tfevents.1764620000.myhost.4242.00000000.v1'
"""

from __future__ import annotations

import itertools
import os
import socket
import time

__all__ = ["event_file_name", "host_name"]

_file_counter = itertools.count()  # per process: two writers in one second never pick the same name
_name_seconds = 0  # the seconds of the last file name


def host_name() -> str:
    """This machine's name as it goes into file and run names (letters, digits, ``-`` and ``_``)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname()) or "localhost"


def event_file_name(suffix: str) -> str:
    """``events.out.tfevents.<seconds>.<host>.<pid>.<counter><suffix>``; later names sort after earlier ones."""
    global _name_seconds
    _name_seconds = max(_name_seconds, int(time.time()))
    # zero-padded: TensorBoard reads a run's files in name order and never goes back
    return f"events.out.tfevents.{_name_seconds:010d}.{host_name()}.{os.getpid()}.{next(_file_counter):08d}{suffix}"
