"""The process's encoder threads: PNG and GIF encoding (which releases the GIL) off the caller's thread.

``encode_later(build, what)`` returns a ``Future`` of ``build()``'s bytes that the event file writer waits for,
in queue order, when it writes the batch. A failure of ``build`` becomes an ``EncodeError`` naming ``what``
(never a disk error). The threads are created on first use and anew in a forked child; once the interpreter
shuts its thread pools down (an ``atexit`` handler logging an image), encoding runs inline on the caller.

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

__all__ = ["ENCODER_THREADS", "encode_later"]

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


def _forget_parent_threads() -> None:
    global _pool, _lock
    _pool, _lock = None, threading.Lock()  # the parent's threads do not exist here; its lock may be held


renew_function_at_fork(_forget_parent_threads)
