"""End to end: every summary kind of issue 4, served by a real TensorBoard (Python loader and Rust data server)."""

import io
import urllib.parse
import urllib.request
import wave

import numpy as np
import pytest
from PIL import Image
from tensorboard.plugins.mesh import plugin_data_pb2

from mxnet_tb import SummaryWriter

from .tb_server import tensorboard_server

EMBEDDING = np.arange(40, dtype=np.float32).reshape(10, 4) / 7.0 + 0.5


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.figure

    logdir = tmp_path_factory.mktemp("kinds") / "logs"
    with SummaryWriter(str(logdir)) as sw:
        sw.add_image("conv0", np.full((64, 3, 7, 7), 0.5, np.float32), global_step=1)
        sw.add_audio("tone", np.sin(np.arange(800) / 10.0), sample_rate=8000, global_step=2)
        sw.add_pr_curve("pr", np.array([1, 0, 1, 1]), np.array([0.9, 0.2, 0.6, 0.1]), num_thresholds=5, global_step=3)
        sw.add_embedding("features", EMBEDDING, labels=[f"p{i}" for i in range(10)], images=np.ones((10, 1, 6, 6)))
        sw.add_scalar("loss", 0.25, global_step=0)
        sw.add_hparams({"lr": 0.1, "optimizer": "sgd"}, {"hparam/accuracy": 0.75})
        sw.add_custom_scalars({"losses": {"all": ["Multiline", ["loss"]]}})
        figure = matplotlib.figure.Figure(figsize=(2, 1), dpi=40)
        figure.add_subplot().plot([0, 1])
        sw.add_figure("curve", figure)
        sw.add_video(
            "clip", np.arange(3, dtype=np.uint8).reshape(1, 3, 1, 1, 1) * np.full((1, 3, 3, 8, 10), 80, np.uint8)
        )
        sw.add_mesh("tri", np.eye(3)[np.newaxis], faces=np.array([[[0, 1, 2]]]))
    with SummaryWriter(str(logdir / "sub")) as sub:  # a sub-run: listed only through its event file
        sub.add_embedding("sub_features", EMBEDDING[:3], global_step=7)
        sub.add_hparams({"lr": 0.01, "optimizer": "adam"}, {"hparam/accuracy": 0.5})
    return logdir


def fetch(server, path_and_query):
    with urllib.request.urlopen(f"{server.base_url}{path_and_query}", timeout=30) as response:
        return response.headers.get_content_type(), response.read()


@pytest.mark.parametrize("load_fast", [False, True], ids=["python-loader", "rust-data-server"])
def test_tensorboard_serves_every_kind(written, load_fast):
    with tensorboard_server(written, load_fast=load_fast) as server:
        runs = server.wait_for("/data/runs", lambda r: {".", "sub"} <= set(r))
        assert set(runs) == {".", "sub"}

        images = server.wait_for("/data/plugin/images/tags", lambda t: "." in t)
        assert set(images["."]) == {"conv0", "curve", "clip"}
        ((entry,),) = [server.get_json("/data/plugin/images/images", run=".", tag="conv0")]
        assert entry["step"] == 1
        kind, png = fetch(server, "/data/plugin/images/individualImage?" + entry["query"])
        assert kind == "image/png" and Image.open(io.BytesIO(png)).size == (74, 74)
        (clip,) = server.get_json("/data/plugin/images/images", run=".", tag="clip")
        kind, gif = fetch(server, "/data/plugin/images/individualImage?" + clip["query"])
        assert kind == "image/gif" and Image.open(io.BytesIO(gif)).n_frames == 3
        (curve,) = server.get_json("/data/plugin/images/images", run=".", tag="curve")
        assert Image.open(
            io.BytesIO(fetch(server, "/data/plugin/images/individualImage?" + curve["query"])[1])
        ).size == (
            80,
            40,
        )

        audio = server.wait_for("/data/plugin/audio/tags", lambda t: "." in t)
        assert set(audio["."]) == {"tone"}
        (clip,) = server.get_json("/data/plugin/audio/audio", run=".", tag="tone")
        assert clip["step"] == 2 and clip["contentType"] == "audio/wav"
        kind, data = fetch(server, "/data/plugin/audio/individualAudio?" + clip["query"])
        with wave.open(io.BytesIO(data)) as wav:
            assert kind == "audio/wav" and (wav.getframerate(), wav.getnframes(), wav.getnchannels()) == (8000, 800, 1)

        assert set(server.wait_for("/data/plugin/pr_curves/tags", lambda t: "." in t)["."]) == {"pr"}
        curves = server.get_json("/data/plugin/pr_curves/pr_curves", run=".", tag="pr")
        (point,) = curves["."]
        assert point["step"] == 3 and point["thresholds"] == pytest.approx([0.0, 0.25, 0.5, 0.75])
        assert point["precision"][0] == pytest.approx(0.75) and point["recall"][0] == pytest.approx(1.0)

        projector_runs = server.wait_for("/data/plugin/projector/runs", lambda r: {".", "sub"} <= set(r))
        assert set(projector_runs) == {".", "sub"}
        info = server.get_json("/data/plugin/projector/info", run=".")
        (embedding,) = info["embeddings"]
        assert embedding["tensorName"] == "features:00000" and embedding["tensorShape"] == [10, 4]
        assert embedding["sprite"]["singleImageDim"] == [6, 6]
        query = urllib.parse.urlencode({"run": ".", "name": "features:00000"})
        tensor = np.frombuffer(fetch(server, "/data/plugin/projector/tensor?" + query)[1], np.float32)
        np.testing.assert_array_equal(tensor.reshape(10, 4), EMBEDDING)
        labels = fetch(server, "/data/plugin/projector/metadata?" + query)[1].decode()
        assert labels.splitlines() == [f"p{i}" for i in range(10)]
        kind, sprite = fetch(server, "/data/plugin/projector/sprite_image?" + query)
        assert Image.open(io.BytesIO(sprite)).size == (24, 24)  # 4 x 4 cells of 6 x 6
        (sub,) = server.get_json("/data/plugin/projector/info", run="sub")["embeddings"]
        assert sub["tensorName"] == "sub_features:00007" and sub["tensorShape"] == [3, 4]

        experiment = server.post_json("/data/plugin/hparams/experiment", {"experimentName": ""})
        hparams = {h["name"]: h for h in experiment["hparamInfos"]}
        assert set(hparams) == {"lr", "optimizer"}
        assert sorted(hparams["optimizer"]["domainDiscrete"]) == ["adam", "sgd"]
        metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
        assert {"hparam/accuracy", "loss"} <= metrics

        layout = server.wait_for("/data/plugin/custom_scalars/layout", lambda body: bool(body))
        (category,) = layout["category"]
        assert category["title"] == "losses" and category["chart"] == [{"title": "all", "multiline": {"tag": ["loss"]}}]

        mesh_tags = server.wait_for("/data/plugin/mesh/tags", lambda t: "." in t)
        assert set(mesh_tags["."]) == {"tri"}
        meshes = server.get_json("/data/plugin/mesh/meshes", run=".", tag="tri", sample="0")
        content = plugin_data_pb2.MeshPluginData.ContentType
        assert sorted(m["content_type"] for m in meshes) == [content.Value("VERTEX"), content.Value("FACE")]
        assert {m["step"] for m in meshes} == {0}
