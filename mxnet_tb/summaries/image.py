"""Image summaries: arrays in, PNG (or GIF) bytes in an images-plugin tensor out.

Layouts (``dataformats``): ``'HW'``, ``'CHW'``, ``'HWC'`` for one image; ``'NCHW'``, ``'NHWC'``, ``'NHW'`` for a
batch, which is tiled into one grid image by ``make_image_grid``. As in MXBoard, ``'CHW'`` and ``'HWC'`` also
take a 2-D array (as ``'HW'``) and a 4-D array (as the batch ``'NCHW'`` / ``'NHWC'``). A single 3-D image whose
channel count is not 1, 3 or 4 (a stack of feature maps) is shown as a grid of grayscale maps.

Pixel values:

- ``uint8``: used as they are (0..255).
- ``bool``: ``False`` is black, ``True`` white.
- ``float16/32/64``: ``0.0`` is black and ``1.0`` white; values outside ``[0, 1]`` are clipped, not an error.
  With ``normalize=True`` the range ``norm_range=(low, high)`` (default: the minimum and maximum of the input,
  or of each image with ``scale_each=True``) is first mapped linearly onto ``[0, 1]``. NaN and Inf are a
  ``ValueError``.

Channels: 1 (grayscale), 3 (RGB) or 4 (RGBA). Encoded by Pillow.

Example::

    >>> grid = make_image_grid(np.zeros((64, 3, 7, 7), np.float32))   # 64 conv filters, 8 per row
    >>> grid.shape
    (3, 74, 74)
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.image import metadata

from .._values.convert import to_float, to_numpy

__all__ = [
    "IMAGE_DTYPES",
    "MAX_PIXELS",
    "encode_png",
    "image_tensor_value",
    "image_to_hwc",
    "image_value",
    "make_image_grid",
    "to_nchw",
]

IMAGE_DTYPES = ("uint8", "bool", "float16", "float32", "float64")
CHANNELS = (1, 3, 4)
# Pillow's decompression-bomb threshold: TensorBoard opens every image with Pillow when it serves it.
MAX_PIXELS = 89_478_485
# zlib level 1 with the run-length strategy (zlib's Z_RLE = 3, made for filtered PNG rows): about as small as
# the default level 6 on smooth images and 1.5x faster on noisy ones, where zlib finds nothing to compress.
PNG_COMPRESS_LEVEL = 1
PNG_COMPRESS_TYPE = 3
_SINGLE = {"HW": "HW", "CHW": "CHW", "HWC": "HWC"}
_BATCH = {"NHW": "NHW", "NCHW": "NCHW", "NHWC": "NHWC"}
LAYOUTS = (*_SINGLE, *_BATCH)


def _check_dtype(array: np.ndarray, name: str) -> None:
    if array.dtype.name not in IMAGE_DTYPES:
        hint = " (convert 0..255 data with .astype('uint8'))" if array.dtype.kind in "iu" else ""
        raise TypeError(
            f"{name} must have dtype {', '.join(IMAGE_DTYPES)}; got dtype {array.dtype} (shape {array.shape}){hint}"
        )


def to_nchw(array: np.ndarray, dataformats: Any = "CHW", *, name: str = "image") -> tuple[np.ndarray, bool]:
    """``array`` as an ``(N, C, H, W)`` view and whether it was a batch; ValueError on a bad layout or shape."""
    if not isinstance(dataformats, str) or dataformats not in LAYOUTS:
        raise ValueError(f"dataformats for {name} must be one of {', '.join(LAYOUTS)}; got {dataformats!r}")
    layout = dataformats
    if layout in ("CHW", "HWC"):  # MXBoard's rule: the dimension count tells a single image from a batch
        if array.ndim not in (2, 3, 4):
            raise ValueError(
                f"{name} must have 2, 3 or 4 dimensions (HW, {layout} or N{layout}) for dataformats {layout!r}; "
                f"got shape {array.shape}"
            )
        layout = {2: "HW", 3: layout, 4: "N" + layout}[array.ndim]
    if array.ndim != len(layout):
        raise ValueError(
            f"{name} must have {len(layout)} dimensions for dataformats {dataformats!r} ({layout}); "
            f"got shape {array.shape}"
        )
    if 0 in array.shape:
        raise ValueError(f"{name} is empty: shape {array.shape} ({layout})")
    batch = layout.startswith("N")
    if "C" not in layout:
        layout = layout.replace("H", "CH")
        array = array[:, np.newaxis] if batch else array[np.newaxis]
    if not batch:
        layout = "N" + layout
        array = array[np.newaxis]
    if layout == "NHWC":
        array = array.transpose(0, 3, 1, 2)
    channels = array.shape[1]
    if channels not in CHANNELS:
        if not batch:  # a stack of feature maps (C, H, W): one grayscale image per channel
            return array.reshape(channels, 1, *array.shape[2:]), True
        raise ValueError(
            f"{name} must have 1, 3 or 4 channels; got {channels} in shape {array.shape} (as NCHW); "
            "show each channel as a grayscale image with .reshape((-1, 1, H, W))"
        )
    return array, batch


def _value_range(array: np.ndarray, name: str, per_image: bool) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum (per image with ``per_image``) as float64 arrays; ValueError on NaN or Inf."""
    axes = tuple(range(1, array.ndim)) if per_image else None
    low = np.asarray(array.min(axis=axes), dtype=np.float64)
    high = np.asarray(array.max(axis=axes), dtype=np.float64)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{name} holds {bad} NaN or Inf values of {array.size}; image pixels must be finite")
    return low, high


def _check_norm_options(normalize: Any, norm_range: Any, scale_each: Any, name: str) -> tuple[float, float] | None:
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize for {name} must be a bool; got {normalize!r:.80}")
    if not normalize:
        if norm_range is not None or scale_each:
            raise ValueError(f"norm_range and scale_each for {name} need normalize=True; got normalize=False")
        return None
    if norm_range is None:
        return None
    if not isinstance(norm_range, (tuple, list)) or len(norm_range) != 2:
        raise ValueError(f"norm_range for {name} must be a (low, high) pair; got {norm_range!r:.80}")
    low, high = (to_float(v, name=f"norm_range for {name}") for v in norm_range)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"norm_range for {name} must be finite with low < high; got {norm_range!r}")
    return low, high


def _to_unit_float(
    array: np.ndarray, norm_range: tuple[float, float] | None, scale_each: bool, name: str
) -> np.ndarray:
    """NCHW values with ``norm_range`` (or the data's range) mapped onto [0, 1], as float32 (float64 kept)."""
    work = np.float64 if array.dtype == np.float64 else np.float32
    data = array.view(np.uint8) if array.dtype == np.bool_ else array
    if norm_range is not None:
        _value_range(data, name, per_image=False)
        low, high = np.float64(norm_range[0]), np.float64(norm_range[1])
    else:
        low, high = _value_range(data, name, per_image=scale_each)
        if scale_each:
            low, high = low.reshape(-1, 1, 1, 1), high.reshape(-1, 1, 1, 1)
    span = np.where(high > low, high - low, 1.0)
    out = (data.astype(work) - low.astype(work)) / span.astype(work)
    return np.clip(out, 0.0, 1.0, out=out)


def _to_levels(
    array: np.ndarray, normalize: bool, norm_range: tuple[float, float] | None, scale_each: bool, name: str
) -> np.ndarray:
    """NCHW pixel levels by the module's rules: uint8, or floats offset by 0.5 so that casting to uint8 rounds."""
    if not normalize:
        if array.dtype == np.uint8:
            return array
        if array.dtype == np.bool_:
            return array.view(np.uint8) * np.uint8(255)
        _value_range(array, name, per_image=False)
        work = np.float64 if array.dtype == np.float64 else np.float32
        scaled = np.multiply(array, work(255.0), dtype=work)
        scaled += work(0.5)  # round to nearest: the cast to uint8 truncates
        return np.clip(scaled, 0.0, 255.0, out=scaled)
    unit = _to_unit_float(array, norm_range, scale_each, name)
    unit *= 255.0
    unit += 0.5
    return unit


def _to_uint8(
    array: np.ndarray, normalize: bool, norm_range: tuple[float, float] | None, scale_each: bool, name: str
) -> np.ndarray:
    """NCHW pixels as uint8 by the module's rules."""
    return _to_levels(array, normalize, norm_range, scale_each, name).astype(np.uint8, copy=False)


def _chw_to_pillow(image: np.ndarray) -> np.ndarray:
    """A ``(C, H, W)`` image of levels as the uint8 ``(H, W)`` or C-contiguous ``(H, W, C)`` Pillow takes.

    Casting and interleaving the channels happen in one pass.
    """
    if image.shape[0] == 1:
        return image[0].astype(np.uint8, copy=False)
    out = np.empty(image.shape[1:] + image.shape[:1], np.uint8)
    np.copyto(out, image.transpose(1, 2, 0), casting="unsafe")
    return out


def _tile(batch: np.ndarray, nrow: int, padding: int, pad_value: Any, square_image: bool) -> np.ndarray:
    """Tile an ``(N, C, H, W)`` batch into one ``(C, H', W')`` image, ``nrow`` images per row."""
    count, channels, height, width = batch.shape
    per_row, rows = _layout(count, nrow, square_image)
    cell_h, cell_w = height + padding, width + padding
    grid = np.full((channels, rows * cell_h + padding, per_row * cell_w + padding), pad_value, dtype=batch.dtype)
    for index in range(count):
        top, left = (index // per_row) * cell_h + padding, (index % per_row) * cell_w + padding
        grid[:, top : top + height, left : left + width] = batch[index]
    return grid


def _check_options(
    nrow: Any,
    padding: Any,
    square_image: Any,
    normalize: Any,
    norm_range: Any,
    scale_each: Any,
    pad_value: Any,
    name: str,
) -> tuple[tuple[float, float] | None, float]:
    """Every grid and normalisation option checked; returns the norm range and the pad value as a float."""
    _check_grid_options(nrow, padding, square_image, name)
    fill = to_float(pad_value, name=f"pad_value for {name}")
    if not math.isfinite(fill):
        raise ValueError(f"pad_value for {name} must be a finite number; got {pad_value!r}")
    return _check_norm_options(normalize, norm_range, scale_each, name), fill


def _check_grid_options(nrow: Any, padding: Any, square_image: Any, name: str) -> None:
    if isinstance(nrow, bool) or not isinstance(nrow, (int, np.integer)) or nrow < 1:
        raise ValueError(f"nrow for {name} must be an int >= 1; got {nrow!r:.80}")
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or not 0 <= padding <= 1024:
        raise ValueError(f"padding for {name} must be an int from 0 to 1024; got {padding!r:.80}")
    if not isinstance(square_image, (bool, np.bool_)):
        raise TypeError(f"square_image for {name} must be a bool; got {square_image!r:.80}")


def _check_pixels(shape: tuple[int, ...], name: str) -> None:
    pixels = int(shape[-1]) * int(shape[-2])
    if pixels > MAX_PIXELS:
        raise ValueError(
            f"{name} would be a {shape[-1]}x{shape[-2]} image ({pixels:,} pixels); TensorBoard serves images of "
            f"at most {MAX_PIXELS:,} pixels (log fewer or smaller images)"
        )


def _layout(count: int, nrow: int, square: bool) -> tuple[int, int]:
    """Images per row and rows of a grid of ``count`` images."""
    per_row = math.ceil(math.sqrt(count)) if square else min(nrow, count)
    return per_row, per_row if square else math.ceil(count / per_row)


def _grid_shape(count: int, height: int, width: int, nrow: int, padding: int, square: bool) -> tuple[int, int]:
    per_row, rows = _layout(count, nrow, square)
    return rows * (height + padding) + padding, per_row * (width + padding) + padding


def make_image_grid(
    tensor: Any,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    norm_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0,
    square_image: bool = False,
) -> np.ndarray:
    """Tile images into one ``(C, H, W)`` NumPy image, ``nrow`` per row with ``padding`` pixels between.

    ``tensor``: an NDArray or NumPy array ``(N, C, H, W)``, ``(C, H, W)`` or ``(H, W)``, or a list of
    ``(C, H, W)`` images of one shape. ``normalize`` maps ``norm_range`` (default: the input's minimum and
    maximum, or each image's with ``scale_each``) onto ``[0, 1]``; the result is then float32 (float64 for
    float64 input). Without it the values and dtype are kept. ``square_image`` uses
    ``ceil(sqrt(N))`` images per row and as many rows. Unlike MXBoard, one-channel images stay one-channel.

    Example::

        >>> filters = mx.nd.random.uniform(shape=(64, 3, 7, 7))   # doctest: +SKIP
        >>> make_image_grid(filters, normalize=True).shape        # doctest: +SKIP
        (3, 74, 74)
    """
    name = "tensor"
    if isinstance(tensor, (list, tuple)) and tensor and not isinstance(tensor[0], (int, float, list, tuple)):
        parts = [to_numpy(t, name=f"tensor[{i}]") for i, t in enumerate(tensor)]
        if len({p.shape for p in parts}) != 1 or parts[0].ndim != 3:
            shapes = [p.shape for p in parts]
            raise ValueError(f"{name} as a list must hold (C, H, W) images of one shape; got shapes {shapes}")
        array = np.stack(parts)
    else:
        array = to_numpy(tensor, name=name)
    _check_dtype(array, name)
    if array.ndim not in (2, 3, 4):
        raise ValueError(f"{name} must be HW, CHW or NCHW; got shape {array.shape}")
    batch, _ = to_nchw(array, "CHW", name=name)
    range_, fill = _check_options(nrow, padding, square_image, normalize, norm_range, scale_each, pad_value, name)
    if normalize:
        batch = _to_unit_float(batch, range_, bool(scale_each), name)
    elif batch.dtype == np.uint8 and not 0 <= fill <= 255:
        raise ValueError(f"pad_value for a uint8 {name} must be within 0..255; got {pad_value!r}")
    return _tile(batch, int(nrow), int(padding), fill, bool(square_image))


def image_to_hwc(
    array: np.ndarray,
    dataformats: Any = "CHW",
    *,
    name: str = "image",
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    norm_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0,
    square_image: bool = False,
) -> np.ndarray:
    """One uint8 image ``(H, W)`` or ``(H, W, 3|4)`` ready for Pillow; batches are tiled into a grid.

    Everything is validated (dtype, layout, options, finite values, size) before any pixel is converted.
    """
    import PIL.Image  # noqa: F401 - imported here, in the caller's thread, never first on an encoder thread:

    # a fork while an encoder thread held the import lock would leave the child unable to encode its first image
    _check_dtype(array, name)
    batch, is_batch = to_nchw(array, dataformats, name=name)
    range_, fill = _check_options(nrow, padding, square_image, normalize, norm_range, scale_each, pad_value, name)
    count, _, height, width = batch.shape
    if is_batch:
        _check_pixels(_grid_shape(count, height, width, int(nrow), int(padding), bool(square_image)), name)
    else:
        _check_pixels((height, width), name)
    if not is_batch:
        return _chw_to_pillow(_to_levels(batch, bool(normalize), range_, bool(scale_each), name)[0])
    pixels = _to_uint8(batch, bool(normalize), range_, bool(scale_each), name)
    fill_u8 = int(np.clip(round(fill * 255.0 if array.dtype != np.uint8 else fill), 0, 255))
    return _chw_to_pillow(_tile(pixels, int(nrow), int(padding), fill_u8, bool(square_image)))


def encode_png(hwc: np.ndarray) -> bytes:
    """PNG bytes of a uint8 ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` image."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(hwc).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_COMPRESS_TYPE)
    return buffer.getvalue()


def image_tensor_value(tag: str, encoded: Sequence[bytes], width: int, height: int) -> summary_pb2.Summary.Value:
    """A ``Summary.Value`` in the images plugin's layout: a string tensor ``[width, height, image...]``."""
    strings = [str(width).encode(), str(height).encode(), *encoded]
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        string_val=strings,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=len(strings))]),
    )
    return summary_pb2.Summary.Value(
        tag=tag, metadata=metadata.create_summary_metadata(display_name=tag, description=""), tensor=tensor
    )


def image_value(tag: str, hwc: np.ndarray) -> summary_pb2.Summary.Value:
    """A ``Summary.Value`` holding ``hwc`` (from ``image_to_hwc``) as PNG."""
    return image_tensor_value(tag, [encode_png(hwc)], width=hwc.shape[1], height=hwc.shape[0])
