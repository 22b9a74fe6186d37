"""``SummaryWriter.add_summary_later``: an event whose values are built later, off the caller's thread.

The facade validates the call and takes the step now (for every tag), then hands the build to the sink, which
queues it in its place: a small build runs when the event file writer writes its batch (with the others
queued, one burst), a large one at once on an encoder thread. ``SummaryWriter`` lists it in its class body.

Example::

    >>> sw.add_summary_later(("loss",), lambda: [loss_value], global_step=3)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tensorboard.compat.proto import summary_pb2

from .._io.encode import encoded_summary_event, values_summary
from .._values.names import clean_tag
from ..errors import EncodeError
from . import walltime_or_now

__all__ = ["add_summary_later"]

_MAX_CACHED_TAG_SETS = 10_000

# A writer view's checked tag tuples -> (their set, their step-policy keys per run)
TagSets = dict[tuple[str, ...], tuple[frozenset[str], dict[str, tuple[tuple[str, str], ...]]]]


def _checked_tags(cache: TagSets, tags: Any) -> tuple[frozenset[str], dict[str, tuple[tuple[str, str], ...]]]:
    """``tags`` as a set, checked once per tuple (the usual case: a monitor's every batch)."""
    try:
        known = cache.get(tags) if type(tags) is tuple else None
    except TypeError:  # unhashable entries
        known = None
    if known is None:
        names = list(tags) if isinstance(tags, Sequence) and not isinstance(tags, str) else None
        if not names or not all(isinstance(tag, str) and clean_tag(tag) == tag for tag in names):
            raise ValueError(f"tags must be a non-empty sequence of clean tags; got {tags!r:.120}")
        known = (frozenset(names), {})
        if type(tags) is tuple:
            if len(cache) >= _MAX_CACHED_TAG_SETS:
                cache.clear()
            cache[tags] = known
    return known


def add_summary_later(
    self,
    tags: Sequence[str],
    build: Callable[[], Sequence[summary_pb2.Summary.Value | bytes]],
    global_step: int,
    walltime: float | None = None,
    size: int = 0,
) -> None:
    """Log the ``Summary.Value`` protos ``build()`` returns (for some or all of ``tags``) as one event at
    ``global_step``, built later, off the calling thread. An item of ``build()``'s list may also be ``bytes``: a
    serialized ``Summary`` of one or more values (``mxnet_tb._io.encode.ScalarBlock``, much cheaper for many
    values), whose tags must be among ``tags`` and are not parsed back to check.

    For values that are costly to compute, such as a monitor's statistics of a whole batch: the call returns at
    once. The step is checked and taken now for every tag, and the event keeps its place in the queue, so
    ``flush()`` and ``close()`` wait for it. ``tags`` must be clean (as ``add_scalar`` would write them).
    ``size`` is the memory (bytes) the pending build holds; it counts against the queue's bound, and once that
    is full this call waits for queued events. A build holding up to 64 KiB runs when its event is written, on
    the writer's thread together with the others queued (one burst, not a thread hand-off per event); a larger
    one starts at once on an encoder thread, so that its memory is soon released. A build that raises, or
    returns a value whose tag is not in ``tags``, loses this event only: it is an encoding failure
    (``EncodeWarning``, or ``EncodeError`` with ``strict=True``, naming the first tag and the step), like an
    image that cannot be encoded, and not counted in ``dropped_events``.

    Example::

        >>> loss = lambda: [summary_pb2.Summary.Value(tag="loss", simple_value=0.5)]   # doctest: +SKIP
        >>> sw.add_summary_later(("loss",), loss, global_step=3)   # doctest: +SKIP
    """
    allowed, step_keys = _checked_tags(self._later_tags, tags)
    if not callable(build):
        raise TypeError(f"build must be callable; got {build!r:.80}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"size must be an int >= 0; got {size!r}")
    wall = walltime_or_now(walltime)
    first = tags[0]
    shared, key = self._shared, self._key("")

    def encode() -> bytes:
        items = list(build())
        stray = [item.tag for item in items if type(item) is not bytes and item.tag not in allowed]
        if stray:
            raise EncodeError(f"build() returned values for tags it was not given: {stray[:3]}")
        parts = [item if type(item) is bytes else values_summary([item]) for item in items]
        return encoded_summary_event(parts, step, wall) if parts else b""

    with shared.lock:
        self._check_open()
        step = shared.steps.take(key, first, global_step)
        what = f"summary of {len(allowed)} tag(s) from {first!r} at step {step}"
        shared.sink.write_when_written(key, encode, size, what)
        keys = step_keys.get(key)
        if keys is None:
            keys = step_keys[key] = tuple((key, tag) for tag in allowed)
        shared.steps.record_keys(keys, step)
