"""TFRecord framing, the container format of TensorBoard event files.

Each record is laid out as::

    uint64 length           little-endian
    uint32 masked_crc32c(length bytes)
    byte   data[length]
    uint32 masked_crc32c(data)

The CRC is CRC-32C (Castagnoli), computed in hardware by ``google-crc32c``, and "masked" (rotated right by
15 bits plus a constant) so that a CRC of data that itself contains CRCs stays well distributed.

Example::

    >>> frame(b"abc")[:8]
    b'\\x03\\x00\\x00\\x00\\x00\\x00\\x00\\x00'
"""

from __future__ import annotations

import struct

import google_crc32c

__all__ = ["frame", "masked_crc32c"]

_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_pack_u64 = struct.Struct("<Q").pack
_pack_u32 = struct.Struct("<I").pack
_crc32c = google_crc32c.value


def masked_crc32c(data: bytes) -> int:
    """Masked CRC-32C of ``data``, as TensorBoard's record reader checks it."""
    crc = _crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def frame(payload: bytes) -> bytes:
    """One complete record holding ``payload`` (a serialized ``Event``)."""
    header = _pack_u64(len(payload))
    return b"".join((header, _pack_u32(masked_crc32c(header)), payload, _pack_u32(masked_crc32c(payload))))
