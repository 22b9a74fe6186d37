"""add_image / add_images / make_image_grid, read back with TensorBoard's loader and decoded with Pillow."""

import io

import numpy as np
import pytest
from PIL import Image

from mxnet_tb import SummaryWriter, make_image_grid
from mxnet_tb.summaries.image import MAX_PIXELS

from .readback import accumulate, plugin_name, summary_events, tensors


def decoded(logdir, tag):
    """[(step, PIL image, (width, height) as stored)] for ``tag``."""
    out = []
    for step, array in tensors(logdir, tag):
        assert array.shape == (3,)
        width, height, png = array.tolist()
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG"
        out.append((step, image, (int(width), int(height))))
    return out


def single(logdir, tag):
    ((step, image, size),) = decoded(logdir, tag)
    assert size == image.size
    return step, image


def test_chw_float32_pixels_are_exact_and_stored_for_the_images_plugin(logdir):
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 256, size=(3, 5, 7))
    image = (levels / 255.0).astype(np.float32)
    with SummaryWriter(logdir) as sw:
        sw.add_image("photo", image, global_step=4, walltime=123.5)
    assert plugin_name(logdir, "photo") == "images"
    step, png = single(logdir, "photo")
    assert step == 4 and png.mode == "RGB" and png.size == (7, 5)
    np.testing.assert_array_equal(np.asarray(png), levels.transpose(1, 2, 0).astype(np.uint8))
    assert [e.wall_time for e in summary_events(logdir)] == [123.5]


@pytest.mark.parametrize(
    "array, dataformats, mode, expected",
    [
        (np.array([[0, 128], [255, 7]], np.uint8), "CHW", "L", [[0, 128], [255, 7]]),  # 2-D taken as HW
        (np.array([[True, False]]), "HW", "L", [[255, 0]]),
        (np.array([[0.0, 0.5], [1.0, 0.25]], np.float16), "HW", "L", [[0, 128], [255, 64]]),
        (np.array([[-3.0, 2.0]], np.float64), "HW", "L", [[0, 255]]),  # clipped, not an error
        (np.arange(8, dtype=np.uint8).reshape(1, 2, 4), "HWC", "RGBA", [[[0, 1, 2, 3], [4, 5, 6, 7]]]),
        (np.arange(6, dtype=np.uint8).reshape(1, 2, 3), "HWC", "RGB", [[[0, 1, 2], [3, 4, 5]]]),
        (np.arange(2, dtype=np.uint8).reshape(1, 1, 2), "CHW", "L", [[0, 1]]),
        (np.arange(8, dtype=np.uint8).reshape(4, 1, 2), "CHW", "RGBA", [[[0, 2, 4, 6], [1, 3, 5, 7]]]),
    ],
)
def test_layouts_dtypes_and_channels(logdir, array, dataformats, mode, expected):
    with SummaryWriter(logdir) as sw:
        sw.add_image("x", array, dataformats=dataformats)
    _, png = single(logdir, "x")
    assert png.mode == mode
    np.testing.assert_array_equal(np.asarray(png), np.array(expected, np.uint8))


def test_conv_filters_nchw_are_tiled_eight_per_row_with_padding(logdir):
    filters = np.zeros((64, 3, 7, 7), np.uint8)
    for i in range(64):
        filters[i] = i + 1
    with SummaryWriter(logdir) as sw:
        sw.add_image("conv0_weight", filters, global_step=1)
    _, png = single(logdir, "conv0_weight")
    assert png.size == (8 * 9 + 2, 8 * 9 + 2)
    pixels = np.asarray(png)
    for i in range(64):
        top, left = 2 + (i // 8) * 9, 2 + (i % 8) * 9
        assert (pixels[top : top + 7, left : left + 7] == i + 1).all()
    assert (pixels[:2] == 0).all() and (pixels[:, 9:11] == 0).all()  # padding


def test_feature_map_stack_chw_is_a_grid_of_normalised_grayscale_maps(logdir):
    maps = np.stack([np.full((4, 4), -float(c)) for c in range(10)]).astype(np.float32)
    maps[:, 0, 0] = 100.0  # each map: one bright pixel, the rest at its own level
    with SummaryWriter(logdir) as sw:
        sw.add_image("features", maps, normalize=True, scale_each=True, padding=1, nrow=5)
    _, png = single(logdir, "features")
    assert png.mode == "L" and png.size == (5 * 5 + 1, 2 * 5 + 1)
    pixels = np.asarray(png)
    for c in range(10):
        top, left = 1 + (c // 5) * 5, 1 + (c % 5) * 5
        tile = pixels[top : top + 4, left : left + 4]
        assert tile[0, 0] == 255 and (tile.ravel()[1:] == 0).all()


def test_normalize_with_a_range_and_the_whole_input(logdir):
    data = np.array([[[-1.0, 0.0, 1.0, 3.0]]], np.float32)  # (1, 1, 4)
    with SummaryWriter(logdir) as sw:
        sw.add_image("range", data, normalize=True, norm_range=(-1.0, 1.0))
        sw.add_image("minmax", data, normalize=True)
    np.testing.assert_array_equal(np.asarray(single(logdir, "range")[1]), [[0, 128, 255, 255]])
    np.testing.assert_array_equal(np.asarray(single(logdir, "minmax")[1]), [[0, 64, 128, 255]])


def test_add_images_nhwc_batch_and_square_layout(logdir):
    batch = np.zeros((5, 2, 3, 3), np.uint8)
    batch[..., 0] = np.arange(5).reshape(5, 1, 1) * 10
    with SummaryWriter(logdir) as sw:
        sw.add_images("batch", batch, dataformats="NHWC", padding=0, square_image=True, global_step=2)
    step, png = single(logdir, "batch")
    assert step == 2 and png.size == (3 * 3, 3 * 2)  # ceil(sqrt(5)) = 3 per row, 3 rows
    pixels = np.asarray(png)
    assert [int(pixels[2 * (i // 3), 3 * (i % 3), 0]) for i in range(5)] == [0, 10, 20, 30, 40]
    assert (pixels[4:, 6:] == 0).all()


def test_ndarray_input(logdir):
    mx = pytest.importorskip("mxnet")
    with SummaryWriter(logdir) as sw:
        sw.add_image("nd", mx.nd.ones((3, 2, 2), dtype="float16"))
    np.testing.assert_array_equal(np.asarray(single(logdir, "nd")[1]), np.full((2, 2, 3), 255, np.uint8))


@pytest.mark.parametrize(
    "image, kwargs, error, match",
    [
        (np.zeros((3, 4, 4), np.int32), {}, TypeError, r"dtype .*got dtype int32 \(shape \(3, 4, 4\)\)"),
        (np.array([["a"]]), {}, TypeError, "real numbers"),
        ("not an image", {}, TypeError, "image for tag 'bad'"),
        (np.zeros((3, 4, 4)), {"dataformats": "WHC"}, ValueError, "dataformats .* one of"),
        (np.zeros((3, 4, 4)), {"dataformats": "NCHW"}, ValueError, r"4 dimensions .*got shape \(3, 4, 4\)"),
        (np.zeros((2, 2, 4, 4)), {}, ValueError, r"1, 3 or 4 channels; got 2"),
        (np.zeros((4,)), {}, ValueError, r"2, 3 or 4 dimensions \(HW, CHW or NCHW\).*got shape \(4,\)"),
        (np.zeros((3, 0, 4)), {}, ValueError, "empty"),
        (np.array([[0.5, np.nan]]), {}, ValueError, "1 NaN or Inf"),
        (np.array([[0.5, np.inf]]), {"normalize": True}, ValueError, "NaN or Inf"),
        (np.zeros((2, 2)), {"norm_range": (0, 1)}, ValueError, "need normalize=True"),
        (np.zeros((2, 2)), {"normalize": True, "norm_range": (1, 1)}, ValueError, "low < high"),
        (np.zeros((2, 2)), {"nrow": 0}, ValueError, "nrow"),
        (np.zeros((1, 9500, 9500), np.uint8), {}, ValueError, f"at most {MAX_PIXELS:,} pixels"),
    ],
)
def test_bad_images_raise_naming_what_was_received_and_log_nothing(logdir, image, kwargs, error, match):
    with SummaryWriter(logdir) as sw, pytest.raises(error, match=match):
        sw.add_image("bad", image, **kwargs)
    assert summary_events(logdir) == []


def test_add_images_refuses_a_single_image_layout(logdir):
    with SummaryWriter(logdir) as sw, pytest.raises(ValueError, match="'NCHW', 'NHWC' or 'NHW'"):
        sw.add_images("x", np.zeros((3, 4, 4)), dataformats="CHW")


@pytest.mark.parametrize("tag", ["../../x", "/abs/x", "a/../../b", "a\\b"])
def test_path_like_tags_stay_tags_in_the_run(tmp_path, tag):
    logdir = tmp_path / "logs"
    with SummaryWriter(str(logdir)) as sw:
        sw.add_image(tag, np.zeros((2, 2), np.uint8))
    assert [p.parent for p in tmp_path.rglob("*") if p.is_file()] == [logdir]
    assert accumulate(logdir).Tags()["tensors"] == ["/".join(p for p in tag.split("/") if p)]


def test_a_tag_with_a_nul_byte_is_refused(logdir):
    with SummaryWriter(logdir) as sw, pytest.raises(ValueError, match="control characters"):
        sw.add_image("a\x00b", np.zeros((2, 2), np.uint8))
    assert summary_events(logdir) == []


def test_tags_are_cleaned(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_image("/a//b/", np.zeros((2, 2), np.uint8))
    assert accumulate(logdir).Tags()["tensors"] == ["a/b"]


# -- make_image_grid ---------------------------------------------------------------------------------------


def test_make_image_grid_matches_mxboards_layout_and_keeps_dtype():
    batch = np.arange(1, 11, dtype=np.uint8).reshape(10, 1, 1, 1) * np.ones((1, 3, 2, 2), np.uint8)
    grid = make_image_grid(batch, nrow=4, padding=1, pad_value=9)
    assert grid.dtype == np.uint8 and grid.shape == (3, 3 * 3 + 1, 4 * 3 + 1)
    assert grid[0, 1, 1] == 1 and grid[0, 4, 1] == 5 and grid[0, 7, 4] == 10
    assert grid[0, 0, 0] == 9 and grid[0, 7, 7] == 9  # padding, and the empty cells after the last image
    assert make_image_grid(np.zeros((5, 7))).shape == (1, 9, 11)  # HW: one image with a border
    assert make_image_grid(np.zeros((3, 5, 7))).shape == (3, 9, 11)
    assert make_image_grid(np.zeros((5, 1, 2, 2)), square_image=True).shape == (1, 14, 14)


def test_make_image_grid_normalises_to_unit_floats_and_takes_lists():
    images = [np.full((1, 2, 2), 10.0), np.full((1, 2, 2), 20.0)]
    grid = make_image_grid(images, padding=0, normalize=True)
    assert grid.dtype == np.float64  # float64 stays float64; other inputs become float32
    assert make_image_grid(np.ones((2, 2), np.uint8), normalize=True).dtype == np.float32
    np.testing.assert_array_equal(grid, [[[0, 0, 1, 1], [0, 0, 1, 1]]])
    each = make_image_grid(images, padding=0, normalize=True, scale_each=True)
    np.testing.assert_array_equal(each, np.zeros((1, 2, 4)))  # a constant image normalises to 0
    with pytest.raises(ValueError, match="one shape"):
        make_image_grid([np.zeros((1, 2, 2)), np.zeros((1, 3, 3))])
    with pytest.raises(ValueError, match=r"within 0\.\.255"):
        make_image_grid(np.zeros((2, 2), np.uint8), pad_value=300)


def test_the_articles_conv_filters_and_feature_maps_from_a_gluon_layer(logdir):
    mx = pytest.importorskip("mxnet")
    conv = mx.gluon.nn.Conv2D(64, kernel_size=7, in_channels=3)
    conv.initialize(mx.init.Uniform(0.5))
    image = mx.nd.array(np.random.default_rng(0).random((1, 3, 20, 20), dtype=np.float32))
    feature_maps = conv(image)[0]  # (64, 14, 14)
    with SummaryWriter(logdir) as sw:
        sw.add_image("conv0_weight", conv.weight.data(), normalize=True)
        sw.add_image("conv0_output", feature_maps, normalize=True, scale_each=True)
    _, filters = single(logdir, "conv0_weight")
    assert filters.mode == "RGB" and filters.size == (74, 74)
    weights = conv.weight.data().asnumpy()
    first = np.asarray(filters)[2:9, 2:9].transpose(2, 0, 1)
    expected = np.floor((weights[0] - weights.min()) / (weights.max() - weights.min()) * 255 + 0.5)
    np.testing.assert_allclose(first, expected, atol=1)
    _, maps = single(logdir, "conv0_output")
    assert maps.mode == "L" and maps.size == (8 * 16 + 2, 8 * 16 + 2)
    tile = np.asarray(maps)[2:16, 2:16]
    assert tile.min() == 0 and tile.max() == 255  # each map scaled to its own range
