"""Embeddings for TensorBoard's projector: the bytes of each file and the ``EmbeddingInfo`` that names them.

Pure: arrays in, bytes and protos out; ``mxnet_tb._io.projector`` writes them. Files, relative to the run:

- ``tensors.bytes``: the ``(N, D)`` embedding as raw float32 (``tensor_shape`` in the config). The projector
  tries a file as TSV first and falls back to raw float32 only when it is not valid UTF-8, so an embedding whose
  bytes happen to decode as UTF-8 (all zeros, say) is written as ``tensors.tsv`` instead.
- ``metadata.tsv``: one label per line, or a header and one row per point for several columns. Tabs, newlines
  and carriage returns in labels are written as the two characters ``\\t``, ``\\n``, ``\\r``; blank labels as
  ``<empty>`` (the projector drops blank lines).
- ``sprite.png``: the images in a square grid of ``ceil(sqrt(N))`` columns and rows, each cell scaled down
  (keeping its aspect) so that the sprite fits TensorBoard's 8192 x 8192 pixel limit.

Example::

    >>> name, data = tensor_file(np.ones((2, 3), np.float32))
    >>> name, len(data)
    ('tensors.bytes', 24)
    >>> metadata_tsv(["cat", "dog\\tfish"], 2)
    b'cat\\ndog\\\\tfish\\n'
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo

from .._values.convert import to_labels, to_numpy
from .image import _check_dtype, _to_uint8, encode_png

__all__ = [
    "MAX_SPRITE_SIDE",
    "check_embedding",
    "embedding_info",
    "metadata_tsv",
    "sprite_png",
    "tensor_file",
]

MAX_SPRITE_SIDE = 8192  # the projector's sprite limit, in pixels per side
TSV_READ_CHUNK = 16 * 1024 * 1024  # the projector reads this many characters before it tries float parsing
EMPTY_LABEL = "<empty>"
_ESCAPES = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})


def check_embedding(embedding: Any, *, tag: str) -> np.ndarray:
    """``embedding`` as a C-contiguous float32 ``(N, D)`` array; TypeError/ValueError on anything else."""
    array = to_numpy(embedding, name=f"embedding for tag {tag!r}")
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"embedding for tag {tag!r} must be a non-empty 2-D (N, D) array; got shape {array.shape}")
    data = np.ascontiguousarray(array, dtype=np.float32)
    if not np.all(np.isfinite(data)):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        raise ValueError(
            f"embedding for tag {tag!r} holds {bad} NaN or Inf values (after conversion to float32) of {data.size}"
        )
    return data


def _decodes_as_utf8(data: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(data[:TSV_READ_CHUNK], final=len(data) <= TSV_READ_CHUNK)
    except UnicodeDecodeError:
        return False
    return True


def tensor_file(data: np.ndarray) -> tuple[str, bytes]:
    """(file name, contents) of a float32 ``(N, D)`` embedding: raw float32, or TSV where raw would be misread."""
    raw = data.astype("<f4", copy=False).tobytes()
    if not _decodes_as_utf8(raw):
        return "tensors.bytes", raw
    rows = ("\t".join(f"{x:.9g}" for x in row) for row in data.tolist())
    return "tensors.tsv", ("\n".join(rows) + "\n").encode("ascii")


def _cell(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = text.translate(_ESCAPES)
    return text if text.strip() else EMPTY_LABEL


def metadata_tsv(labels: Any, count: int, header: Sequence[str] | None = None, *, tag: str = "") -> bytes:
    """``metadata.tsv`` for ``count`` points from a list of labels, a 2-D list of rows or a dict of columns."""
    where = f"labels for tag {tag!r}"
    if isinstance(labels, Mapping):
        if header is not None:
            raise ValueError(f"metadata_header for tag {tag!r} must be None when labels is a dict of columns")
        if not labels:
            raise ValueError(f"{where} is an empty dict")
        header = [str(name) for name in labels]
        columns = [to_labels(column, name=f"column {name!r} of {where}") for name, column in labels.items()]
        for name, column in zip(header, columns):
            if len(column) != count:
                raise ValueError(f"column {name!r} of {where} has {len(column)} labels for {count} points")
        rows: list[Sequence[Any]] = list(zip(*columns))
    else:
        values = to_labels(labels, name=where)
        if len(values) != count:
            raise ValueError(f"{where} has {len(values)} labels for {count} points")
        nested = [isinstance(v, (list, tuple)) for v in values]
        if any(nested):
            if not all(nested) or len({len(v) for v in values}) != 1 or not values[0]:
                raise ValueError(f"{where}: rows of a 2-D list must all be lists of one non-zero length")
            rows = values
            width = len(values[0])
            if header is None:
                header = [f"column_{i + 1}" for i in range(width)]
            header = [str(h) for h in header]
            if len(header) != width:
                raise ValueError(f"metadata_header for tag {tag!r} has {len(header)} names for {width} columns")
            if width == 1:
                rows, header = [(row[0],) for row in values], None
        else:
            if header is not None:
                raise ValueError(f"metadata_header for tag {tag!r} needs several label columns")
            rows = [(v,) for v in values]
    lines = []
    if header is not None:
        lines.append("\t".join(_cell(h) for h in header))
    lines.extend("\t".join(_cell(v) for v in row) for row in rows)
    try:
        return ("\n".join(lines) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where} hold text that is not valid Unicode (lone surrogate?)") from None


def sprite_png(images: Any, count: int, *, tag: str = "") -> tuple[bytes, tuple[int, int]]:
    """(PNG bytes, (cell width, cell height)) of the sprite of ``count`` NCHW (or NHW) images."""
    name = f"images for tag {tag!r}"
    array = to_numpy(images, name=name)
    _check_dtype(array, name)
    if array.ndim == 3:
        array = array[:, np.newaxis]
    if array.ndim != 4 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty NCHW (or NHW) batch; got shape {array.shape}")
    n, channels, height, width = array.shape
    if n != count:
        raise ValueError(f"{name} has {n} images for {count} points (shape {array.shape})")
    if channels not in (1, 3, 4):
        raise ValueError(f"{name} must have 1, 3 or 4 channels; got {channels} in shape {array.shape} (NCHW)")
    side = math.ceil(math.sqrt(n))
    scale = min(1.0, MAX_SPRITE_SIDE / (side * width), MAX_SPRITE_SIDE / (side * height))
    cell_w, cell_h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    if side * max(cell_w, cell_h) > MAX_SPRITE_SIDE:
        raise ValueError(f"{name}: {n} images cannot fit a {MAX_SPRITE_SIDE}x{MAX_SPRITE_SIDE} sprite")
    pixels = _to_uint8(array, False, None, False, name)
    sprite = np.zeros((side * cell_h, side * cell_w, channels), np.uint8)
    for row in range(math.ceil(n / side)):
        block = pixels[row * side : (row + 1) * side]  # (k, C, H, W)
        k = block.shape[0]
        strip = block.transpose(2, 0, 3, 1).reshape(height, k * width, channels)
        if (cell_w, cell_h) != (width, height):
            strip = _resize(strip, k * cell_w, cell_h)
        sprite[row * cell_h : (row + 1) * cell_h, : k * cell_w] = strip
    return encode_png(sprite[..., 0] if channels == 1 else sprite), (cell_w, cell_h)


def _resize(strip: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-average ``strip`` (H, W, C) down to ``width`` x ``height``; cells never bleed into each other."""
    from PIL import Image

    image = Image.fromarray(strip[..., 0] if strip.shape[2] == 1 else strip)
    out = np.asarray(image.resize((width, height), Image.Resampling.BOX))
    return out.reshape(height, width, strip.shape[2])


def embedding_info(
    tensor_name: str,
    directory: str,
    tensor_filename: str,
    shape: tuple[int, int],
    has_metadata: bool,
    sprite_dim: tuple[int, int] | None,
) -> EmbeddingInfo:
    """The config entry of one embedding whose files are in ``directory`` (relative to the config, '/'-separated)."""
    info = EmbeddingInfo(tensor_name=tensor_name, tensor_path=f"{directory}/{tensor_filename}")
    info.tensor_shape.extend(shape)
    if has_metadata:
        info.metadata_path = f"{directory}/metadata.tsv"
    if sprite_dim is not None:
        info.sprite.image_path = f"{directory}/sprite.png"
        info.sprite.single_image_dim.extend(sprite_dim)
    return info
