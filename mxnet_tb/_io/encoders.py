"""The process's encoder threads: PNG and GIF encoding (which releases the GIL) off the caller's thread.

``encode_later(build, what)`` returns a ``Future`` of ``build()``'s bytes that the event file writer waits for,
in queue order, when it writes the batch. ``encode_when_written(build, what)`` is for small builds: a plain
record the event file writer builds itself when it writes the batch (no thread hand-off, no ``Future``). A
failure of ``build`` becomes an ``EncodeError`` naming ``what`` (never a disk error). The threads are created
on first use and anew in a forked child; once the interpreter shuts its thread pools down (an ``atexit``
handler logging an image), encoding runs inline on the caller.

Example::

    >>> future = encode_later(lambda: png_event_bytes(), "image for tag 'x'")   # doctest: +SKIP
    >>> future.result()                                                         # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from ..errors import EncodeError
from .forks import renew_function_at_fork

__all__ = ["ENCODER_THREADS", "BuiltWhenWritten", "encode_later", "encode_when_written"]

ENCODER_THREADS = 2
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _encoded(build: Callable[[], bytes], what: str) -> bytes:
    try:
        return build()
    except Exception as exc:
        raise EncodeError(f"could not encode the {what}: {exc!r}") from exc


def encode_later(build: Callable[[], bytes], what: str) -> Future[bytes]:
    """``build()`` on an encoder thread (inline once the interpreter is shutting down)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(ENCODER_THREADS, thread_name_prefix="mxnet_tb-encode")
        pool = _pool
    try:
        return pool.submit(_encoded, build, what)
    except RuntimeError:  # "cannot schedule new futures after (interpreter) shutdown"
        future: Future[bytes] = Future()
        try:
            future.set_result(_encoded(build, what))
        except EncodeError as exc:
            future.set_exception(exc)
        return future


class BuiltWhenWritten:
    """A record built by whoever resolves it (the event file writer, once, on one thread): ``result()`` answers
    as a ``Future``'s does. Far cheaper to make than a ``Future`` (no condition, no locks)."""

    __slots__ = ("_build", "_outcome", "_what")

    def __init__(self, build: Callable[[], bytes], what: str) -> None:
        self._build: Callable[[], bytes] | None = build
        self._what = what
        self._outcome: bytes | EncodeError | None = None

    def result(self, timeout: float | None = None) -> bytes:
        build, self._build = self._build, None
        if build is not None:
            try:
                self._outcome = _encoded(build, self._what)
            except EncodeError as exc:
                self._outcome = exc
        if isinstance(self._outcome, EncodeError):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome


def encode_when_written(build: Callable[[], bytes], what: str) -> BuiltWhenWritten:
    """``build()`` run when its record is written (see ``BuiltWhenWritten``)."""
    return BuiltWhenWritten(build, what)


def _forget_parent_threads() -> None:
    global _pool, _lock
    _pool, _lock = None, threading.Lock()  # the parent's threads do not exist here; its lock may be held


renew_function_at_fork(_forget_parent_threads)
