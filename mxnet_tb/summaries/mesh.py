"""3-D meshes and point clouds for the mesh plugin: one tensor value per component (vertices, faces, colors).

Shapes follow the plugin: ``(B, N, 3)`` float32 vertices, ``(B, F, 3)`` int32 vertex indices of triangles and
``(B, N, 3)`` uint8 RGB colors; ``(N, 3)`` inputs get the batch dimension ``B = 1``. Colors may be uint8 or
other integers in 0..255, or floats in ``[0, 1]`` (scaled by 255, as image pixels are).

Example::

    >>> values = mesh_values("cube", np.zeros((8, 3)), faces=np.array([[0, 1, 2]]))
    >>> [v.tag for v in values]
    ['cube_VERTEX', 'cube_FACE']
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.mesh import metadata, plugin_data_pb2
from tensorboard.util import tensor_util

__all__ = ["mesh_values"]

_ContentType = plugin_data_pb2.MeshPluginData.ContentType


def _batched(array: np.ndarray, what: str, tag: str) -> np.ndarray:
    batched = array[np.newaxis] if array.ndim == 2 else array
    if batched.ndim != 3 or batched.shape[2] != 3 or 0 in batched.shape:
        raise ValueError(f"{what} for tag {tag!r} must have shape (N, 3) or (B, N, 3); got {array.shape}")
    return batched


def _colors(colors: np.ndarray, tag: str) -> np.ndarray:
    if colors.dtype.kind == "f":
        if not np.all(np.isfinite(colors)) or colors.min() < 0 or colors.max() > 1:
            raise ValueError(f"float colors for tag {tag!r} must lie in [0, 1]")
        return np.rint(colors * 255.0).astype(np.uint8)
    if colors.dtype.kind in "iu":
        if colors.min() < 0 or colors.max() > 255:
            raise ValueError(f"integer colors for tag {tag!r} must lie in 0..255; got {colors.min()}..{colors.max()}")
        return colors.astype(np.uint8)
    raise TypeError(f"colors for tag {tag!r} must be uint8 (or floats in [0, 1]); got dtype {colors.dtype}")


def mesh_values(
    tag: str,
    vertices: np.ndarray,
    colors: np.ndarray | None = None,
    faces: np.ndarray | None = None,
    config_dict: Any = None,
) -> list[summary_pb2.Summary.Value]:
    """The plugin's values for one mesh: vertices, then faces and colors when given."""
    verts = _batched(vertices, "vertices", tag)
    if verts.dtype.kind not in "iuf" or not np.all(np.isfinite(verts)):
        raise ValueError(f"vertices for tag {tag!r} must be finite numbers; got dtype {verts.dtype}")
    parts = [(_ContentType.VERTEX, verts.astype(np.float32))]
    if faces is not None:
        tri = _batched(faces, "faces", tag)
        if tri.dtype.kind not in "iu":
            raise TypeError(f"faces for tag {tag!r} must hold integer vertex indices; got dtype {tri.dtype}")
        if tri.shape[0] != verts.shape[0] or tri.min() < 0 or tri.max() >= verts.shape[1]:
            raise ValueError(
                f"faces for tag {tag!r} must index the {verts.shape[1]} vertices of each of {verts.shape[0]} "
                f"meshes; got shape {tri.shape} with indices {tri.min()}..{tri.max()}"
            )
        parts.append((_ContentType.FACE, tri.astype(np.int32)))
    if colors is not None:
        rgb = _batched(colors, "colors", tag)
        if rgb.shape != verts.shape:
            raise ValueError(f"colors for tag {tag!r} must have the vertices' shape {verts.shape}; got {rgb.shape}")
        parts.append((_ContentType.COLOR, _colors(rgb, tag)))
    json_config = None
    if config_dict is not None:
        try:
            json_config = json.dumps(config_dict, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"config_dict for tag {tag!r} must be JSON-serializable: {exc}") from None
    components = metadata.get_components_bitmask([kind for kind, _ in parts])
    values = []
    for kind, data in parts:
        summary_metadata = metadata.create_summary_metadata(
            tag, None, kind, components, list(data.shape), json_config=json_config
        )
        values.append(
            summary_pb2.Summary.Value(
                tag=metadata.get_instance_name(tag, kind),
                metadata=summary_metadata,
                tensor=tensor_util.make_tensor_proto(data),
            )
        )
    return values
