"""add_figure (matplotlib, optional), add_video (GIF) and add_mesh, read back with TensorBoard's loader."""

import io
import sys

import numpy as np
import pytest
from PIL import Image
from tensorboard.plugins.mesh import metadata as mesh_metadata
from tensorboard.plugins.mesh import plugin_data_pb2

from mxnet_tb import SummaryWriter

from .readback import accumulate, plugin_name, summary_events, tensors


def stored_image(logdir, tag):
    ((step, array),) = tensors(logdir, tag)
    width, height, data = array.tolist()
    image = Image.open(io.BytesIO(data))
    assert image.size == (int(width), int(height))
    return step, image


# -- figures ------------------------------------------------------------------------------------------------


def test_figure_is_rendered_to_an_rgba_png_and_closed(logdir):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(3, 2), dpi=50, facecolor=(1.0, 0.0, 0.0))
    with SummaryWriter(logdir) as sw:
        sw.add_figure("fig", figure, global_step=6)
    assert not plt.fignum_exists(figure.number)
    step, image = stored_image(logdir, "fig")
    assert step == 6 and image.mode == "RGBA" and image.size == (150, 100)
    assert image.getpixel((0, 0)) == (255, 0, 0, 255)
    assert plugin_name(logdir, "fig") == "images"


def test_figure_kept_open_when_asked(logdir):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(1, 1), dpi=10)
    with SummaryWriter(logdir) as sw:
        sw.add_figure("fig", figure, close=False)
    assert plt.fignum_exists(figure.number)
    plt.close(figure)


def test_figure_needs_a_figure(logdir):
    pytest.importorskip("matplotlib")
    with SummaryWriter(logdir) as sw, pytest.raises(TypeError, match="must be a matplotlib Figure; got str"):
        sw.add_figure("fig", "not a figure")
    assert summary_events(logdir) == []


def test_missing_matplotlib_is_a_clear_import_error(logdir, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with SummaryWriter(logdir) as sw, pytest.raises(ImportError, match=r"pip install 'mxnet-tb\[figures\]'"):
        sw.add_figure("fig", object())
    assert summary_events(logdir) == []


# -- videos -------------------------------------------------------------------------------------------------


def test_video_is_an_animated_gif_with_its_frame_rate(logdir):
    video = np.zeros((1, 3, 3, 4, 5), np.float32)
    video[0, 1] = 1.0
    video[0, 2, 0] = 1.0  # red
    with SummaryWriter(logdir) as sw:
        sw.add_video("clip", video, fps=5, global_step=2)
    step, gif = stored_image(logdir, "clip")
    assert step == 2 and gif.format == "GIF" and gif.size == (5, 4) and gif.n_frames == 3
    colors = []
    for index in range(3):
        gif.seek(index)
        assert gif.info["duration"] == 200
        colors.append(gif.convert("RGB").getpixel((0, 0)))
    assert colors == [(0, 0, 0), (255, 255, 255), (255, 0, 0)]


def test_a_batch_of_clips_is_tiled(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_video("clips", np.zeros((3, 2, 1, 4, 4), np.uint8) + np.arange(2, dtype=np.uint8).reshape(1, 2, 1, 1, 1))
    _, gif = stored_image(logdir, "clips")
    assert gif.size == (3 * 6 + 2, 6 + 2)


@pytest.mark.parametrize(
    "video, fps, error, match",
    [
        (np.zeros((1, 2, 4, 4, 4)), 4, ValueError, "1 or 3 channels \\(GIF has no alpha\\); got 4"),
        (np.zeros((2, 4, 4)), 4, ValueError, r"NTCHW \(or TCHW\) .*got shape \(2, 4, 4\)"),
        (np.zeros((1, 2, 3, 4, 4), np.int32), 4, TypeError, "got dtype int32"),
        (np.zeros((1, 2, 3, 4, 4)), 0, ValueError, "fps must be a number in \\(0, 100\\]"),
    ],
)
def test_bad_videos_raise_and_log_nothing(logdir, video, fps, error, match):
    with SummaryWriter(logdir) as sw, pytest.raises(error, match=match):
        sw.add_video("bad", video, fps=fps)
    assert summary_events(logdir) == []


# -- meshes -------------------------------------------------------------------------------------------------


def test_mesh_components_in_the_plugins_layout(logdir):
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float64)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    colors = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [1, 2, 3]])
    with SummaryWriter(logdir) as sw:
        sw.add_mesh("tet", vertices, colors=colors, faces=faces, config_dict={"camera": {"fov": 75}}, global_step=3)
    acc = accumulate(logdir)
    content = plugin_data_pb2.MeshPluginData.ContentType
    expected = {"tet_VERTEX": (vertices, np.float32), "tet_FACE": (faces, np.int32), "tet_COLOR": (colors, np.uint8)}
    for tag, (array, dtype) in expected.items():
        ((step, data),) = tensors(logdir, tag)
        assert step == 3 and data.dtype == dtype
        np.testing.assert_array_equal(data, array[np.newaxis])
        meta = mesh_metadata.parse_plugin_metadata(acc.SummaryMetadata(tag).plugin_data.content)
        assert acc.SummaryMetadata(tag).plugin_data.plugin_name == "mesh"
        assert meta.name == "tet" and list(meta.shape) == list(data.shape)
        assert meta.json_config == '{"camera": {"fov": 75}}'
        assert meta.components == (1 << content.VERTEX) | (1 << content.FACE) | (1 << content.COLOR)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"vertices": np.zeros((4, 2))}, ValueError, r"\(N, 3\) or \(B, N, 3\); got \(4, 2\)"),
        ({"faces": np.array([[0, 1, 9]])}, ValueError, "index the 4 vertices"),
        ({"faces": np.array([[0.0, 1.0, 2.0]])}, TypeError, "integer vertex indices"),
        ({"colors": np.full((4, 3), 256)}, ValueError, "0..255"),
        ({"colors": np.zeros((3, 3), np.uint8)}, ValueError, "the vertices' shape"),
        ({"config_dict": {"f": object()}}, TypeError, "JSON-serializable"),
    ],
)
def test_bad_meshes_raise_and_log_nothing(logdir, kwargs, error, match):
    args = {"vertices": np.zeros((4, 3)), **kwargs}
    with SummaryWriter(logdir) as sw, pytest.raises(error, match=match):
        sw.add_mesh("bad", **args)
    assert summary_events(logdir) == []
