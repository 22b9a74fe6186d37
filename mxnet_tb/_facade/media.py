"""``SummaryWriter``'s media methods: images, audio, video, matplotlib figures and meshes.

Each validates its input, builds the summary with ``summaries`` and hands it to the writer (PNG encoding of
images runs on the encoder threads). ``SummaryWriter`` lists them in its class body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._values.convert import to_numpy
from .._values.names import clean_tag
from ..summaries.audio import audio_value
from ..summaries.figure import figure_to_rgba
from ..summaries.image import image_tensor_value, image_to_hwc, image_value
from ..summaries.mesh import mesh_values
from ..summaries.video import check_fps, encode_gif, video_frames

__all__ = ["add_audio", "add_figure", "add_image", "add_images", "add_mesh", "add_video"]


def add_image(
    self,
    tag: str,
    image: Any,
    global_step: int | None = None,
    dataformats: str = "CHW",
    walltime: float | None = None,
    *,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    norm_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0,
    square_image: bool = False,
) -> None:
    """Log an image (PNG, IMAGES tab) under ``tag``; a batch is tiled into one grid image.

    ``dataformats``: ``'CHW'`` (default), ``'HWC'``, ``'HW'``, or a batch ``'NCHW'``, ``'NHWC'``, ``'NHW'``.
    As in MXBoard, a 2-D array is taken as ``HW`` and a 4-D one as a batch (``NCHW`` for ``'CHW'``). A single
    ``(C, H, W)`` array with C not 1, 3 or 4 (a stack of feature maps) is shown as C grayscale tiles.

    Pixels: uint8 as is; bool black/white; floats with 0.0 black and 1.0 white, values outside ``[0, 1]``
    clipped. ``normalize=True`` first maps ``norm_range=(low, high)`` (default: the data's minimum and
    maximum, per image with ``scale_each=True``) onto ``[0, 1]``. ``nrow``, ``padding``, ``pad_value`` and
    ``square_image`` lay out a batch as ``make_image_grid`` does. Nothing is logged on an error.

    Example::

        >>> filters = net.conv0.weight.data()              # (64, 3, 7, 7)   # doctest: +SKIP
        >>> sw.add_image("conv0_filters", filters, normalize=True, global_step=epoch)   # doctest: +SKIP
        >>> maps = features[0]                             # (C, H, W)       # doctest: +SKIP
        >>> sw.add_image("feature_maps", maps, normalize=True, scale_each=True)   # doctest: +SKIP
    """
    clean = clean_tag(tag)
    name = f"image for tag {clean!r}"
    source = to_numpy(image, name=name)
    hwc = image_to_hwc(
        source,
        dataformats,
        name=name,
        nrow=nrow,
        padding=padding,
        normalize=normalize,
        norm_range=norm_range,
        scale_each=scale_each,
        pad_value=pad_value,
        square_image=square_image,
    )
    if np.may_share_memory(hwc, source):  # encoded later: the caller may reuse its buffer at once
        hwc = hwc.copy()
    self._write_value_later("", clean, lambda: image_value(clean, hwc), hwc.nbytes, global_step, walltime)


def add_images(
    self,
    tag: str,
    img_tensor: Any,
    global_step: int | None = None,
    walltime: float | None = None,
    dataformats: str = "NCHW",
    **grid_options: Any,
) -> None:
    """Log a batch of images (``'NCHW'``, ``'NHWC'`` or ``'NHW'``) as one grid image under ``tag``.

    ``grid_options`` are ``add_image``'s keyword options (``nrow``, ``normalize``, ...).

    Example::

        >>> sw.add_images("inputs", batch.data[0][:16], global_step=step)   # (16, 1, 28, 28)  # doctest: +SKIP
    """
    if not isinstance(dataformats, str) or not dataformats.startswith("N"):
        raise ValueError(f"dataformats for add_images must be 'NCHW', 'NHWC' or 'NHW'; got {dataformats!r}")
    self.add_image(tag, img_tensor, global_step, dataformats, walltime, **grid_options)


def add_audio(
    self,
    tag: str,
    audio: Any,
    sample_rate: int = 44100,
    global_step: int | None = None,
    walltime: float | None = None,
) -> None:
    """Log a sound clip (16-bit WAV, AUDIO tab) under ``tag``.

    ``audio``: ``(frames,)`` mono or ``(frames, channels)``; floats are clipped to ``[-1, 1]``, int16 is PCM.

    Example::

        >>> t = np.arange(44100) / 44100.0                                  # doctest: +SKIP
        >>> sw.add_audio("tone", np.sin(2 * np.pi * 440 * t), sample_rate=44100)   # doctest: +SKIP
    """
    clean = clean_tag(tag)
    value = audio_value(clean, to_numpy(audio, name=f"audio for tag {clean!r}"), sample_rate)
    self._write_value("", value, global_step, walltime)


def add_figure(
    self,
    tag: str,
    figure: Any,
    global_step: int | None = None,
    close: bool = True,
    walltime: float | None = None,
) -> None:
    """Log a matplotlib figure, rendered with Agg, as an image; ``close`` closes it in pyplot afterwards.

    Needs matplotlib (``pip install 'mxnet-tb[figures]'``); without it, ImportError says so.

    Example::

        >>> fig, ax = plt.subplots(); ax.plot(losses)                 # doctest: +SKIP
        >>> sw.add_figure("loss_curve", fig, global_step=epoch)       # doctest: +SKIP
    """
    clean = clean_tag(tag)
    rgba = figure_to_rgba(figure, close=bool(close))
    hwc = image_to_hwc(rgba, "HWC", name=f"figure for tag {clean!r}")
    self._write_value("", image_value(clean, hwc), global_step, walltime)


def add_video(
    self,
    tag: str,
    video: Any,
    global_step: int | None = None,
    fps: float = 4,
    walltime: float | None = None,
) -> None:
    """Log a video ``(N, T, C, H, W)`` or ``(T, C, H, W)`` as an animated GIF (IMAGES tab).

    N clips are tiled side by side; C is 1 or 3; pixels as in ``add_image`` (floats in [0, 1]).

    Example::

        >>> sw.add_video("rollout", frames, fps=10)   # (1, 50, 3, 64, 64) float32   # doctest: +SKIP
    """
    clean = clean_tag(tag)
    rate = check_fps(fps)
    frames = video_frames(to_numpy(video, name=f"video for tag {clean!r}"), name=f"video for tag {clean!r}")
    gif = encode_gif(frames, rate)
    value = image_tensor_value(clean, [gif], width=frames.shape[2], height=frames.shape[1])
    self._write_value("", value, global_step, walltime)


def add_mesh(
    self,
    tag: str,
    vertices: Any,
    colors: Any = None,
    faces: Any = None,
    config_dict: Mapping[str, Any] | None = None,
    global_step: int | None = None,
    walltime: float | None = None,
) -> None:
    """Log a 3-D mesh or point cloud (MESH tab): vertices ``(B, N, 3)``, faces ``(B, F, 3)``, colors RGB.

    ``config_dict`` holds three.js settings (camera, lights, material), as in TensorBoard's mesh summary.

    Example::

        >>> sw.add_mesh("point_cloud", points, colors=rgb)   # (1, 1000, 3) each   # doctest: +SKIP
    """
    clean = clean_tag(tag)
    where = f"for tag {clean!r}"
    values = mesh_values(
        clean,
        to_numpy(vertices, name=f"vertices {where}"),
        None if colors is None else to_numpy(colors, name=f"colors {where}"),
        None if faces is None else to_numpy(faces, name=f"faces {where}"),
        config_dict,
    )
    self._write_values("", values, global_step, walltime)
