"""add_embedding: projector files read back the way TensorBoard's projector plugin reads them."""

import io
import os

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector import metadata
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from mxnet_tb import SummaryWriter
from mxnet_tb.summaries.embedding import metadata_tsv, tensor_file

from .readback import event_files, load_events


def config(logdir):
    parsed = ProjectorConfig()
    with open(os.path.join(logdir, metadata.PROJECTOR_FILENAME), encoding="utf-8") as handle:
        text_format.Parse(handle.read(), parsed)
    return parsed


def entry(logdir, name):
    (found,) = [e for e in config(logdir).embeddings if e.tensor_name == name]
    return found


def read(logdir, relative, mode="rb"):
    with open(os.path.join(logdir, relative), mode) as handle:
        return handle.read()


def all_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_tensor_labels_and_sprite_round_trip(logdir):
    data = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    images = np.arange(5 * 3 * 4 * 2, dtype=np.uint8).reshape(5, 3, 4, 2)
    with SummaryWriter(logdir) as sw:
        sw.add_embedding("feat", data, labels=["a", "b\tc", "d\ne", "", 7], images=images, global_step=3)
    info = entry(logdir, "feat:00003")
    assert list(info.tensor_shape) == [5, 3] and info.tensor_path == "embeddings/feat/00003/tensors.bytes"
    tensor = np.frombuffer(read(logdir, info.tensor_path), np.float32).reshape(list(info.tensor_shape))
    np.testing.assert_array_equal(tensor, data)
    assert read(logdir, info.metadata_path).decode() == "a\nb\\tc\nd\\ne\n<empty>\n7\n"
    assert list(info.sprite.single_image_dim) == [2, 4]  # width, height
    sprite = np.asarray(Image.open(io.BytesIO(read(logdir, info.sprite.image_path))))
    assert sprite.shape == (3 * 4, 3 * 2, 3)  # a square of ceil(sqrt(5)) = 3 cells per side
    for i in range(5):
        top, left = (i // 3) * 4, (i % 3) * 2
        np.testing.assert_array_equal(sprite[top : top + 4, left : left + 2], images[i].transpose(1, 2, 0))
    assert (sprite[8:, 4:] == 0).all()


def test_multi_column_labels_from_rows_and_from_a_dict(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_embedding("rows", np.ones((2, 2)), labels=[["cat", 1], ["dog", 2]], metadata_header=["name", "id"])
        sw.add_embedding("dict", np.ones((2, 2)), labels={"name": ["x", "y"], "id": np.array([3, 4])})
        sw.add_embedding("nd", np.ones((2, 2)), labels=np.array([5, 6]))
    assert read(logdir, entry(logdir, "rows:00000").metadata_path) == b"name\tid\ncat\t1\ndog\t2\n"
    assert read(logdir, entry(logdir, "dict:00000").metadata_path) == b"name\tid\nx\t3\ny\t4\n"
    assert read(logdir, entry(logdir, "nd:00000").metadata_path) == b"5\n6\n"


def test_steps_and_tags_give_one_entry_each_and_relogging_replaces(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_embedding("a", np.full((2, 2), 1.0))
        sw.add_embedding("a", np.full((2, 2), 2.0))  # next step of the tag (written as TSV: 2.0 decodes as UTF-8)
        sw.add_embedding("b/c", np.full((3, 2), -3.0), global_step=0)
        sw.add_embedding("a", np.full((4, 2), 5.0), global_step=1)  # replaces a:00001
    assert [e.tensor_name for e in config(logdir).embeddings] == ["a:00000", "a:00001", "b/c:00000"]
    replaced = entry(logdir, "a:00001")
    assert list(replaced.tensor_shape) == [4, 2]
    assert np.frombuffer(read(logdir, replaced.tensor_path), np.float32).tolist() == [5.0] * 8
    # the replacement went to a new directory (switched to by one config rename); the replaced one is gone
    assert replaced.tensor_path.startswith("embeddings/a/00001-")
    assert all_files(os.path.join(logdir, "embeddings")) == [
        "a/00000/tensors.bytes",
        replaced.tensor_path[len("embeddings/") :],
        "b%2Fc/00000/tensors.bytes",
    ]


def test_a_second_writer_on_the_same_logdir_keeps_the_first_writers_entries(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_embedding("first", np.ones((2, 2)))
    with SummaryWriter(logdir) as sw:
        sw.add_embedding("second", np.ones((2, 2)))
    assert [e.tensor_name for e in config(logdir).embeddings] == ["first:00000", "second:00000"]


def test_embedding_that_decodes_as_utf8_is_written_as_tsv():
    name, data = tensor_file(np.zeros((2, 2), np.float32))
    assert name == "tensors.tsv" and data == b"0\t0\n0\t0\n"
    name, _ = tensor_file(np.array([[0.1, -2.5]], np.float32))
    assert name == "tensors.bytes"


def test_zero_embedding_round_trips_through_tsv(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_embedding("zeros", np.zeros((3, 2)))
    info = entry(logdir, "zeros:00000")
    assert info.tensor_path.endswith("tensors.tsv") and read(logdir, info.tensor_path) == b"0\t0\n0\t0\n0\t0\n"


def test_large_sprites_are_scaled_to_the_8192_pixel_limit():
    from mxnet_tb.summaries.embedding import sprite_png

    png, (width, height) = sprite_png(np.ones((100, 1, 1000, 500), np.uint8), 100)
    assert (width, height) == (409, 819)  # 10 cells per side: 8192 // 10 = 819 rows, aspect kept
    assert Image.open(io.BytesIO(png)).size == (4090, 8190)


def test_ten_thousand_by_128_with_ten_thousand_images(logdir):
    rng = np.random.default_rng(1)
    data = rng.standard_normal((10_000, 128)).astype(np.float32)
    images = rng.random((10_000, 1, 28, 28), dtype=np.float32)
    with SummaryWriter(logdir) as sw:
        sw.add_embedding("mnist", data, labels=[str(i % 10) for i in range(10_000)], images=images)
    info = entry(logdir, "mnist:00000")
    tensor = np.frombuffer(read(logdir, info.tensor_path), np.float32).reshape(10_000, 128)
    np.testing.assert_array_equal(tensor, data)
    assert Image.open(io.BytesIO(read(logdir, info.sprite.image_path))).size == (2800, 2800)
    assert len(read(logdir, info.metadata_path).splitlines()) == 10_000


def test_the_run_gets_an_event_file_so_tensorboard_lists_it(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_embedding("e", np.ones((2, 2)), global_step=4)
    events = [e for f in event_files(logdir) for e in load_events(f)]
    assert [e.step for e in events if not e.file_version] == [4]


@pytest.mark.parametrize("tag", ["../../x", "a/../../b", "..", "a\\b", "a\x00b", "/", " / . /"])
def test_tags_cannot_leave_the_logdir(tmp_path, tag):
    logdir = tmp_path / "logs"
    with SummaryWriter(str(logdir)) as sw, pytest.raises(ValueError):
        sw.add_embedding(tag, np.ones((2, 2)))
    assert all_files(tmp_path) == []


@pytest.mark.parametrize("tag, directory", [("/abs/x", "abs/x"), ("a/./b", "a/b"), (" x / y ", "x/y")])
def test_odd_tags_are_normalised_inside_the_logdir(logdir, tag, directory):
    with SummaryWriter(logdir) as sw:
        sw.add_embedding(tag, np.ones((2, 2)))
    quoted = directory.replace("/", "%2F")  # one directory per tag: no tag's files lie inside another's
    assert entry(logdir, f"{directory}:00000").tensor_path == f"embeddings/{quoted}/00000/tensors.bytes"


def test_a_symlink_out_of_the_logdir_is_refused(tmp_path):
    logdir, outside = tmp_path / "logs", tmp_path / "outside"
    (logdir / "embeddings").mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside, logdir / "embeddings" / "evil")
    with SummaryWriter(str(logdir)) as sw, pytest.raises(ValueError, match="outside the log directory"):
        sw.add_embedding("evil", np.ones((2, 2)))
    assert all_files(outside) == []


@pytest.mark.parametrize(
    "embedding, kwargs, error, match",
    [
        (np.ones(3), {}, ValueError, r"2-D \(N, D\) array; got shape \(3,\)"),
        (np.array([[1.0, np.nan]]), {}, ValueError, "1 NaN or Inf"),
        (np.array([[1e39]]), {}, ValueError, "after conversion to float32"),
        (np.ones((2, 2)), {"labels": ["a"]}, ValueError, "1 labels for 2 points"),
        (np.ones((2, 2)), {"labels": "ab"}, TypeError, "labels for tag 'e' must be a list"),
        (np.ones((2, 2)), {"labels": [["a", 1], ["b"]]}, ValueError, "one non-zero length"),
        (np.ones((2, 2)), {"labels": [["a", 1], ["b", 2]], "metadata_header": ["x"]}, ValueError, "1 names for 2"),
        (np.ones((2, 2)), {"labels": {"c": [1]}}, ValueError, "column 'c' .* 1 labels for 2 points"),
        (np.ones((2, 2)), {"images": np.ones((3, 1, 2, 2))}, ValueError, r"3 images for 2 points"),
        (np.ones((2, 2)), {"images": np.ones((2, 2, 2, 2))}, ValueError, "1, 3 or 4 channels; got 2"),
        (np.ones((2, 2)), {"images": np.ones((2, 1, 2, 2), np.int64)}, TypeError, "got dtype int64"),
        (np.ones((2, 2)), {"metadata_header": ["x"]}, ValueError, "needs labels"),
    ],
)
def test_bad_inputs_raise_before_any_file_is_written(tmp_path, embedding, kwargs, error, match):
    logdir = tmp_path / "logs"
    with SummaryWriter(str(logdir)) as sw, pytest.raises(error, match=match):
        sw.add_embedding("e", embedding, **kwargs)
    assert all_files(tmp_path) == []


def test_a_corrupt_config_is_reported_and_left_alone(logdir):
    os.makedirs(logdir)
    with open(os.path.join(logdir, metadata.PROJECTOR_FILENAME), "w") as handle:
        handle.write("embeddings { not valid")
    with SummaryWriter(logdir) as sw, pytest.raises(ValueError, match="not a valid projector config"):
        sw.add_embedding("e", np.ones((2, 2)))
    assert all_files(logdir) == [metadata.PROJECTOR_FILENAME]


def test_metadata_tsv_escapes_what_would_break_lines():
    assert metadata_tsv(["a\r\nb", " "], 2) == b"a\\r\\nb\n<empty>\n"


def test_a_failed_write_leaves_no_files_and_no_config_entry(logdir, monkeypatch):
    from mxnet_tb._io import projector as _projector

    with SummaryWriter(logdir, strict=True) as sw:  # by default it warns and counts (test_failures.py)
        sw.add_embedding("kept", np.ones((2, 2)))
        sw.flush()
        before = all_files(logdir)
        calls = []

        def failing_write(path, data):
            calls.append(path)
            if len(calls) == 2:
                raise OSError(28, "No space left on device", path)
            with open(path, "xb") as handle:
                handle.write(data)

        monkeypatch.setattr(_projector, "_write_file", failing_write)
        with pytest.raises(OSError, match="No space left"):
            sw.add_embedding("lost", np.ones((2, 2)), labels=["a", "b"])
    assert [e.tensor_name for e in config(logdir).embeddings] == ["kept:00000"]
    assert all_files(logdir) == before
    assert sorted(os.listdir(os.path.join(logdir, "embeddings"))) == ["kept"]
