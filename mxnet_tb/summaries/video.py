"""Videos as animated GIFs (Pillow) for the images plugin.

A video is ``(N, T, C, H, W)`` (a batch of N clips, tiled side by side frame by frame) or ``(T, C, H, W)``,
with 1 or 3 channels (GIF has no alpha) and pixels as for images (uint8, bool, or floats in ``[0, 1]``).

Example::

    >>> gif = encode_gif(np.zeros((4, 8, 8), np.uint8), fps=4)
    >>> gif[:6]
    b'GIF89a'
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from .._values.convert import to_float
from .image import _check_dtype, _check_pixels, _tile, _to_uint8

__all__ = ["encode_gif", "video_frames"]


def check_fps(fps: Any) -> float:
    rate = to_float(fps, name="fps")
    if not (math.isfinite(rate) and 0 < rate <= 100):
        raise ValueError(f"fps must be a number in (0, 100] (GIF delays are whole hundredths of a second); got {fps!r}")
    return rate


def video_frames(video: np.ndarray, *, name: str = "video") -> np.ndarray:
    """uint8 frames ``(T, H, W)`` or ``(T, H, W, 3)``, the clips of a batch tiled side by side."""
    _check_dtype(video, name)
    if video.ndim == 4:
        video = video[np.newaxis]
    if video.ndim != 5 or 0 in video.shape:
        raise ValueError(f"{name} must be NTCHW (or TCHW) and non-empty; got shape {video.shape}")
    count, frames, channels, height, width = video.shape
    if channels not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels (GIF has no alpha); got {channels} in shape {video.shape}")
    per_row = min(8, count)
    grid_h = math.ceil(count / per_row) * (height + 2) + 2 if count > 1 else height
    grid_w = per_row * (width + 2) + 2 if count > 1 else width
    _check_pixels((frames * grid_h, grid_w), name)
    pixels = _to_uint8(video.reshape(count * frames, channels, height, width), False, None, False, name)
    pixels = pixels.reshape(count, frames, channels, height, width)
    out = np.stack([_tile(pixels[:, t], 8, 2, 0, False) if count > 1 else pixels[0, t] for t in range(frames)])
    return out[:, 0] if channels == 1 else np.ascontiguousarray(out.transpose(0, 2, 3, 1))


def encode_gif(frames: np.ndarray, fps: float) -> bytes:
    """An endlessly looping GIF of uint8 ``frames`` at ``fps`` frames per second."""
    from PIL import Image

    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    delay = max(10, round(1000.0 / fps / 10) * 10)  # GIF stores hundredths of a second
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=delay, loop=0)
    return buffer.getvalue()
