"""Listeners of a writer's scalars: told ``(run, tag, value, step)`` of every ``add_scalar`` once it is queued.

The doctor's loss rules read the training loss this way, whoever logs it (``tb.scalars()``, a Gluon loop's
``add_scalar('loss', ...)``). A listener runs on the caller's thread; what it raises reaches the caller.

Example::

    >>> remove = listen_to_scalars(sw, lambda run, tag, value, step: print(tag, value))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["listen_to_scalars"]

ScalarListener = Callable[[str, str, float, int], None]


def listen_to_scalars(writer: Any, listener: ScalarListener) -> Callable[[], None]:
    """Add ``listener`` to ``writer`` (and its run views); returns the function that removes it."""
    listeners = writer._shared.scalar_listeners
    listeners.append(listener)

    def remove() -> None:
        if listener in listeners:
            listeners.remove(listener)

    return remove
