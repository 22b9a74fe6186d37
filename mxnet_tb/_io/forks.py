"""Locks renewed in a forked child: a lock held by another parent thread at ``fork()`` is never released there.

Every object of the I/O layer and the writer that owns a lock registers here; in the child,
``_renew_after_fork()`` gives it fresh locks (and forgets threads, which do not survive ``fork``).

Example::

    >>> class Queue:                                   # doctest: +SKIP
    ...     def __init__(self):
    ...         self._renew_after_fork()
    ...         renew_at_fork(self)
    ...     def _renew_after_fork(self):
    ...         self._lock = threading.Lock()
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["renew_at_fork", "renew_function_at_fork"]

_log = logging.getLogger("mxnet_tb")
_objects: weakref.WeakSet[Any] = weakref.WeakSet()
_functions: list[Callable[[], None]] = []


def renew_at_fork(obj: Any) -> None:
    """Call ``obj._renew_after_fork()`` in every forked child while ``obj`` is alive."""
    _objects.add(obj)


def renew_function_at_fork(function: Callable[[], None]) -> None:
    """Call ``function()`` in every forked child (module-level locks)."""
    _functions.append(function)


def _renew_all() -> None:
    for function in list(_functions):
        function()
    for obj in list(_objects):
        try:
            obj._renew_after_fork()
        except Exception:  # one broken object must not leave the others locked
            _log.exception("mxnet_tb: could not renew %r after fork", obj)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_all)
