"""The seam between the writer facade and where its bytes go: the facade never knows.

A ``Sink`` takes serialized events for a run (a path relative to the log directory, ``''`` for the writer's
own), frames them (the one place records are framed), and owns whatever writes them. ``RunSet``
(``run_set.py``) writes event files under a local directory; ``NullSink`` writes nothing (the processes of a
distributed job that do not log: every ``add_*`` call still validates its arguments). An object store plugs in
as a ``RunSet`` over another ``Storage``.

Example::

    >>> sink = NullSink()
    >>> sink.write("", b"...event bytes..."); sink.dropped_events
    0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["NullSink", "Sink"]


class Sink:
    """Where a writer's events go."""

    def write(self, run: str, event: bytes) -> None:
        """Queue one serialized ``Event`` for ``run``."""
        raise NotImplementedError

    def write_later(self, run: str, build: Callable[[], bytes], size: int, what: str) -> None:
        """Queue the event ``build()`` returns (encoded on a background thread) in its place for ``run``."""
        raise NotImplementedError

    def write_when_written(self, run: str, build: Callable[[], bytes], size: int, what: str) -> None:
        """Queue the event ``build()`` returns (``b''``: none) in its place for ``run``, built when it is written
        (``size`` bytes held until then: small builds on the writer's thread, large ones at once, off it)."""
        raise NotImplementedError

    def write_embedding(self, run: str, tag: str, step: int, files: dict[str, bytes], info: Any) -> None:
        """The projector files of (``tag``, ``step``) in ``run``."""
        raise NotImplementedError

    def purge_from(self, step: int) -> int:
        """Hide every event at steps >= ``step`` in the runs written so far, and in runs made from now on."""
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def failing(self, run: str) -> bool:
        """Whether the last write to ``run`` failed (reported, raised or warned) and none succeeded since."""
        return False

    @property
    def dropped_events(self) -> int:
        raise NotImplementedError


class NullSink(Sink):
    """Writes nothing and creates no directory."""

    def write(self, run: str, event: bytes) -> None:
        pass

    def write_later(self, run: str, build: Callable[[], bytes], size: int, what: str) -> None:
        pass

    def write_when_written(self, run: str, build: Callable[[], bytes], size: int, what: str) -> None:
        pass

    def write_embedding(self, run: str, tag: str, step: int, files: dict[str, bytes], info: Any) -> None:
        pass

    def purge_from(self, step: int) -> int:
        return 0

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def dropped_events(self) -> int:
        return 0
