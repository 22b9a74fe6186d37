"""The examples run as a user runs them, and what they log reads back as documented."""

import os
import subprocess
import sys

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from sklearn.datasets import load_digits
from tensorboard.plugins.projector import metadata as projector_metadata
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from mxnet_tb._doctor.rules import RULES

from .readback import MODEL_CARD_TAGS, accumulate, event_files, load_events, plugin_name, scalars, tensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples", "module_api")


def _run(script, *args):
    result = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, script), *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_train_digits_demo_logs_the_whole_module_api(tmp_path):
    logdir = str(tmp_path / "digits")
    out = _run("train_digits.py", "--logdir", logdir, "--epochs", "2", "--no-serve")
    accuracy = float(out.split("validation accuracy ")[1].split(";")[0])
    assert accuracy > 0.5  # chance is 0.1
    tags = set(accumulate(logdir).Tags()["tensors"])
    params = ("conv0_weight", "conv0_bias", "bn0_gamma", "bn0_beta", "conv1_weight", "conv1_bias",
              "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias")  # fmt: skip
    outputs = ("conv0", "bn0", "relu0", "pool0", "conv1", "relu1", "flatten0", "fc1", "relu2", "fc2", "softmax")
    expected = {
        *(f"train/{t}" for t in ("accuracy", "cross-entropy", "lr", "samples_per_sec")),
        "val/accuracy",
        "val/cross-entropy",
        *(f"grads/{s}/{p}" for s in ("norm", "mean", "std", "max_abs", "nonfinite", "hist") for p in params),
        "grads/global_norm",
        *(f"weights/{s}/{p}" for s in ("norm", "hist") for p in params),
        *(f"aux/{s}/bn0_{a}" for s in ("norm", "hist") for a in ("moving_mean", "moving_var")),
        "weights/filters/conv0_weight",
        "__run_graph__",  # how TensorBoard lists a run's graph
        *MODEL_CARD_TAGS,  # tb.params writes the model card once
        # tb.Doctor: update ratios, every operator output, its alerts and its report
        *(f"weights/update_ratio/{p}" for p in params),
        *(f"activations/{s}/{o}_output" for s in ("mean", "std", "max_abs", "nonfinite", "hist") for o in outputs),
        *(f"activations/zero_fraction/relu{i}_output" for i in range(3)),
        *(f"alerts/{rule}" for rule in RULES),
        "doctor",
    }
    assert tags == expected
    batches = 1500 // 64  # per epoch, last batch discarded
    assert [s for s, _ in scalars(logdir, "train/accuracy")] == list(range(2 * batches))
    assert [s for s, _ in scalars(logdir, "val/accuracy")] == [batches - 1, 2 * batches - 1]
    assert [s for s, _ in scalars(logdir, "grads/norm/fc2_weight")] == list(range(0, 2 * batches, 5))
    assert sum(1 for f in event_files(logdir) for e in load_events(f) if e.graph_def) == 1


def test_histogram_demo_logs_the_articles_shrinking_normal_distribution(tmp_path):
    logdir = str(tmp_path / "histogram")
    _run("histogram_demo.py", "--logdir", logdir)
    assert set(accumulate(logdir).Tags()["tensors"]) == {"norml_dist"}
    assert plugin_name(logdir, "norml_dist") == "histograms"
    read = tensors(logdir, "norml_dist")
    assert [step for step, _ in read] == list(range(10))
    for step, buckets in read:
        assert buckets.shape == (200, 3)  # bins=200: (left, right, count) per bucket
        counts, centers = buckets[:, 2], (buckets[:, 0] + buckets[:, 1]) / 2
        assert counts.sum() == 10 * 3 * 8 * 8
        mean = np.average(centers, weights=counts)
        std = np.sqrt(np.average((centers - mean) ** 2, weights=counts))
        expected = 10.0 / (step + 1)
        assert abs(mean) < 0.15 * expected, (step, mean)
        assert abs(std / expected - 1) < 0.1, (step, std, expected)


def test_filters_example_logs_filters_feature_maps_and_the_digits_embedding(tmp_path):
    logdir = str(tmp_path / "filters")
    _run("filters_and_embeddings.py", "--logdir", logdir, "--epochs", "3")
    acc = accumulate(logdir)
    assert set(acc.Tags()["tensors"]) == {"filters/conv0", "feature_maps/conv0", "input/digit"}
    sizes = {
        tag: tuple(int(x) for x in acc.Tensors(tag)[0].tensor_proto.string_val[:2]) for tag in acc.Tags()["tensors"]
    }
    assert sizes == {"filters/conv0": (33, 9), "feature_maps/conv0": (73, 19), "input/digit": (8, 8)}

    # The embedding: the penultimate layer (relu2, 64 numbers) of every digit, a sprite and two label columns.
    config = ProjectorConfig()
    text_format.Parse((tmp_path / "filters" / projector_metadata.PROJECTOR_FILENAME).read_text(), config)
    assert len(config.embeddings) == 1
    info = config.embeddings[0]
    assert info.tensor_name == "digits_relu2:00000"
    assert list(info.tensor_shape) == [1797, 64]
    run = tmp_path / "filters"
    points = np.fromfile(run / info.tensor_path, dtype="<f4").reshape(1797, 64)
    assert points.min() >= 0 and points.max() > 0  # ReLU outputs, not all dead
    assert list(info.sprite.single_image_dim) == [24, 24]
    with Image.open(run / info.sprite.image_path) as sprite:
        assert sprite.size == (43 * 24, 43 * 24)  # ceil(sqrt(1797)) = 43 cells a side
        first = np.asarray(sprite)[:24, :24]
    digits = load_digits()
    assert np.array_equal(first[::3, ::3], np.round(digits.images[0] / 16 * 255))
    rows = (run / info.metadata_path).read_text().splitlines()
    assert rows[0] == "label\tpredicted"
    labels, predicted = np.array([[int(x) for x in row.split("\t")] for row in rows[1:]]).T
    assert labels.tolist() == digits.target.tolist()
    assert np.mean(labels == predicted) > 0.8  # 0.94-0.98 after three epochs; chance is 0.1
    # Points cluster by class: each digit is nearer its own class's centroid than any other, for most digits.
    centroids = np.stack([points[labels == c].mean(axis=0) for c in range(10)])
    nearest = np.linalg.norm(points[:, None, :] - centroids[None], axis=2).argmin(axis=1)
    assert np.mean(nearest == labels) > 0.8  # 0.95-0.97 here; 0.22 for random points


def _doctor_reports(logdir):
    return [(step, text.item().decode()) for step, text in tensors(logdir, "doctor")]


def _alerts(logdir):
    tags = [tag for tag in accumulate(logdir).Tags()["tensors"] if tag.startswith("alerts/")]
    return {tag: [value for _, value in scalars(logdir, tag)] for tag in tags}


@pytest.mark.slow
def test_doctor_demo_raises_one_alert_for_vanishing_gradients_and_none_for_the_healthy_cnn(tmp_path):
    logdir = tmp_path / "doctor"
    result = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "doctor_demo.py"), "--logdir", str(logdir)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("mxnet_tb doctor:")]
    assert len(warnings) == 1 and warnings[0].startswith("mxnet_tb doctor: vanishing_gradients at step 0: grads/fc0")

    bad, healthy = str(logdir / "bad"), str(logdir / "healthy")
    alerts = _alerts(bad)
    assert set(alerts) == {f"alerts/{rule}" for rule in RULES}
    assert min(alerts.pop("alerts/vanishing_gradients")) > 0  # at every judged step
    assert all(value == 0 for values in alerts.values() for value in values), alerts  # explained alarms count 0
    report = max(_doctor_reports(bad))[1]  # the latest step
    assert "| vanishing_gradients | **alarm** | 0 |" in report
    assert "| update_ratio | explained by vanishing_gradients |" in report
    assert "| loss_not_decreasing | explained by vanishing_gradients |" in report

    assert all(value == 0 for values in _alerts(healthy).values() for value in values)
    assert all(text.startswith("No rule has fired") for _, text in _doctor_reports(healthy))
    accuracy = scalars(healthy, "train/accuracy")[-1][1]
    assert accuracy > 0.8  # it learns (chance is 0.1)


@pytest.mark.slow
def test_doctor_demo_never_reports_healthy_after_a_rule_fired(tmp_path):
    logdir = str(tmp_path / "doctor")
    _run("doctor_demo.py", "--logdir", logdir, "--epochs", "1")
    reports = _doctor_reports(os.path.join(logdir, "bad"))
    first_alarm = min(step for step, text in reports if "**alarm**" in text)
    assert [step for step, text in reports if step > first_alarm and text.startswith("No rule has fired")] == []
