"""Serialized ``Event`` messages: the generic protobuf path and a hand-encoded fast path for scalars.

Scalars are the hot path of every training loop. Their events have a fixed shape, so they are encoded
directly in protobuf's wire format from a per-tag prefix cached by the caller, about 5x faster than building
``event_pb2.Event`` objects. The bytes are identical to ``Event.SerializeToString()``; the tests hold the two
paths to that.

Example::

    >>> prefix = scalar_value_prefix("loss")
    >>> event_pb2.Event.FromString(scalar_event(prefix, 0.5, 3, 1.0)).summary.value[0].simple_value
    0.5
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2

__all__ = [
    "ScalarBlock",
    "encoded_summary_event",
    "file_version_event",
    "graph_event",
    "histogram_summary",
    "scalar_event",
    "scalar_value_prefix",
    "summary_event",
    "values_summary",
]

FILE_VERSION = "brain.Event:2"

_pack_double = struct.Struct("<d").pack
_pack_float = struct.Struct("<f").pack
_SMALL_VARINTS = [bytes((n,)) for n in range(128)]
_U64 = (1 << 64) - 1
_FLOAT32_MAX = 3.4028234663852886e38

# Wire-format keys: (field number << 3) | wire type.
_EVENT_WALL_TIME = b"\x09"  # Event.wall_time, 64-bit
_EVENT_STEP = b"\x10"  # Event.step, varint
_EVENT_SUMMARY = b"\x2a"  # Event.summary, length-delimited
_SUMMARY_VALUE = b"\x0a"  # Summary.value, length-delimited
_VALUE_TAG = b"\x0a"  # Summary.Value.tag, length-delimited
_VALUE_SIMPLE_VALUE = b"\x15"  # Summary.Value.simple_value, 32-bit


def _varint(n: int) -> bytes:
    if 0 <= n < 128:
        return _SMALL_VARINTS[n]
    n &= _U64  # negative int64 values take ten bytes, as protobuf encodes them
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def file_version_event(walltime: float) -> bytes:
    """The first event of every file, which tells readers the format version."""
    return event_pb2.Event(wall_time=walltime, file_version=FILE_VERSION).SerializeToString()


def summary_event(values: Iterable[summary_pb2.Summary.Value], step: int, walltime: float) -> bytes:
    """An event carrying ``values`` at ``step``."""
    event = event_pb2.Event(wall_time=walltime, step=step)
    event.summary.value.extend(values)
    return event.SerializeToString()


def graph_event(graph_def_bytes: bytes, walltime: float) -> bytes:
    """An event carrying a serialized ``GraphDef`` (``Event.graph_def``), which the GRAPHS tab shows."""
    return event_pb2.Event(wall_time=walltime, graph_def=graph_def_bytes).SerializeToString()


def scalar_value_prefix(tag: str) -> bytes:
    """The constant head of a scalar ``Summary.Value`` for ``tag``: cache it per tag."""
    tag_bytes = tag.encode("utf-8")
    return _VALUE_TAG + _varint(len(tag_bytes)) + tag_bytes + _VALUE_SIMPLE_VALUE


def scalar_event(value_prefix: bytes, value: float, step: int, walltime: float) -> bytes:
    """A scalar event, byte-identical to the ``event_pb2`` path (float32 ``simple_value``)."""
    try:
        packed = _pack_float(value)
    except OverflowError:  # beyond float32's range: protobuf stores an infinity, so do we
        packed = _pack_float(float("inf") if value > 0 else float("-inf"))
    summary_value = value_prefix + packed
    summary = _SUMMARY_VALUE + _varint(len(summary_value)) + summary_value
    head = _EVENT_WALL_TIME + _pack_double(walltime) if walltime != 0.0 else b""
    if step:
        head += _EVENT_STEP + _varint(step)
    return head + _EVENT_SUMMARY + _varint(len(summary)) + summary


# Hand-encoded summaries, for producers of many values per event (the monitors). A serialized ``Summary`` is its
# values one after another, so pieces encoded apart join by concatenation.
_VALUE_HISTO = b"\x2a"  # Summary.Value.histo, length-delimited
_HISTO_DOUBLES = (b"\x09", b"\x11", b"\x19", b"\x21", b"\x29")  # min, max, num, sum, sum_squares: 64-bit
_HISTO_BUCKET_LIMIT = b"\x32"  # HistogramProto.bucket_limit, packed doubles
_HISTO_BUCKET = b"\x3a"  # HistogramProto.bucket, packed doubles


class ScalarBlock:
    """A serialized ``Summary`` of one scalar per tag, in a fixed order: encoded once, numbers filled in per use.

    ``fill(values)`` writes the float32 of each value into its place (beyond float32's range: an infinity, as
    ``scalar_event``): one NumPy assignment for the whole block instead of one encoding per value.
    """

    def __init__(self, tags: Iterable[str]) -> None:
        pieces, offsets, position = [], [], 0
        for tag in tags:
            value = scalar_value_prefix(tag)
            head = _SUMMARY_VALUE + _varint(len(value) + 4) + value
            pieces.append(head + b"\0\0\0\0")
            offsets.append(position + len(head))
            position += len(head) + 4
        self._template = np.frombuffer(b"".join(pieces), dtype=np.uint8)
        self._places = (np.array(offsets, dtype=np.intp)[:, None] + np.arange(4)).reshape(-1)
        self.size = len(offsets)

    def fill(self, values: np.ndarray) -> bytes:
        """The block with ``values`` (one per tag, in order)."""
        block = self._template.copy()
        with np.errstate(over="ignore"):
            block[self._places] = np.asarray(values, dtype=np.float64).astype("<f4").view(np.uint8)
        return block.tobytes()


def histogram_summary(
    tag: str, figures: tuple[float, float, float, float, float], limits: bytes, counts: bytes
) -> bytes:
    """A serialized ``Summary`` of one histogram: ``figures`` are min, max, num, sum, sum_squares; ``limits`` and
    ``counts`` the bucket limits and counts as little-endian float64 bytes (``array.astype('<f8').tobytes()``).

    It parses to the same ``HistogramProto`` as the protobuf path (fields equal to 0 are left out, as there).
    """
    parts = [_HISTO_DOUBLES[i] + _pack_double(figure) for i, figure in enumerate(figures) if figure != 0.0]
    if limits:
        parts.append(_HISTO_BUCKET_LIMIT + _varint(len(limits)) + limits)
    if counts:
        parts.append(_HISTO_BUCKET + _varint(len(counts)) + counts)
    histo = b"".join(parts)
    tag_bytes = tag.encode("utf-8")
    value = _VALUE_TAG + _varint(len(tag_bytes)) + tag_bytes + _VALUE_HISTO + _varint(len(histo)) + histo
    return _SUMMARY_VALUE + _varint(len(value)) + value


def values_summary(values: Iterable[summary_pb2.Summary.Value]) -> bytes:
    """A serialized ``Summary`` of ``values`` (protos), to join with hand-encoded ones."""
    return b"".join(_SUMMARY_VALUE + _varint(len(v)) + v for v in (value.SerializeToString() for value in values))


def encoded_summary_event(summaries: Iterable[bytes], step: int, walltime: float) -> bytes:
    """An event at ``step`` whose summary is ``summaries`` (serialized ``Summary`` messages) joined."""
    summary = b"".join(summaries)
    head = _EVENT_WALL_TIME + _pack_double(walltime) if walltime != 0.0 else b""
    if step:
        head += _EVENT_STEP + _varint(step)
    return head + _EVENT_SUMMARY + _varint(len(summary)) + summary
