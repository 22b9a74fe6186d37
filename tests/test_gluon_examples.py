"""The Gluon examples run as a user runs them, and what they log reads back as documented."""

import os
import subprocess
import sys

import pytest

from .readback import MODEL_CARD_TAGS, accumulate, event_files, load_events, scalars

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples", "gluon")
PARAMS = [
    *(f"cnn_conv{i}_{p}" for i in (0, 1) for p in ("weight", "bias")),
    "cnn_batchnorm0_gamma",
    "cnn_batchnorm0_beta",
    *(f"cnn_dense{i}_{p}" for i in (0, 1) for p in ("weight", "bias")),
]
BATCHES = 1500 // 64  # per epoch, last batch discarded


def _run(script, *args):
    result = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, script), *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _accuracy(out, label):
    return float(out.split(f"{label} ")[1].split(";")[0])


def test_estimator_example_logs_metrics_validation_gradients_weights_and_graph(tmp_path):
    logdir = str(tmp_path / "estimator")
    out = _run("mnist_estimator.py", "--logdir", logdir, "--epochs", "2")
    assert _accuracy(out, "validation accuracy") > 0.5  # chance is 0.1
    tags = set(accumulate(logdir).Tags()["tensors"])
    expected = {
        *(f"train/{t}" for t in ("accuracy", "loss", "lr", "samples_per_sec")),
        "val/accuracy",
        *(f"grads/{s}/{p}" for s in ("norm", "mean", "std", "max_abs", "nonfinite", "hist") for p in PARAMS),
        *(f"weights/{s}/{p}" for s in ("norm", "mean", "std", "max_abs", "hist") for p in PARAMS),
        *(f"updates/ratio/{p}" for p in PARAMS),
        "__run_graph__",
        *MODEL_CARD_TAGS,  # the handler writes the model card with the graph
    }
    assert tags == expected
    assert [s for s, _ in scalars(logdir, "train/accuracy")] == list(range(2 * BATCHES))
    assert [s for s, _ in scalars(logdir, "val/accuracy")] == [BATCHES - 1, 2 * BATCHES - 1]
    assert [s for s, _ in scalars(logdir, "grads/norm/cnn_dense1_weight")] == list(range(0, 2 * BATCHES, 20))
    rates = [v for _, v in scalars(logdir, "train/lr")]
    assert rates[0] == pytest.approx(0.1) and rates[-1] == pytest.approx(0.1 * 0.5 ** ((2 * BATCHES - 1) // 100))
    assert sum(1 for f in event_files(logdir) for e in load_events(f) if e.graph_def) == 1


@pytest.mark.parametrize("options", [["--devices", "2"], ["--no-hybridize"]], ids=["hybridized-2-devices", "plain"])
def test_loop_example_logs_metrics_validation_and_activations(tmp_path, options):
    logdir = str(tmp_path / "loop")
    out = _run("mnist_loop.py", "--logdir", logdir, "--epochs", "2", *options)
    assert _accuracy(out, "validation accuracy") > 0.5
    tags = set(accumulate(logdir).Tags()["tensors"])
    relu = {"cnn_relu0", "cnn_conv1_relu", "cnn_dense0_relu"}
    assert {t for t in tags if t.startswith("activations/zero_fraction/")} == {
        f"activations/zero_fraction/{n}" for n in relu
    }
    layers = {"cnn_conv0", "cnn_batchnorm0", "cnn_pool0", "cnn_dense1", *relu}
    assert {f"activations/mean/{n}" for n in layers} <= tags
    assert {f"train/{t}" for t in ("accuracy", "loss", "lr", "samples_per_sec")} | {"val/accuracy"} <= tags
    assert [s for s, _ in scalars(logdir, "train/loss")] == list(range(2 * BATCHES))
    assert [s for s, _ in scalars(logdir, "val/accuracy")] == [BATCHES - 1, 2 * BATCHES - 1]
    for tag in (
        "grads/norm/cnn_conv0_weight",
        "activations/zero_fraction/cnn_relu0",
        "updates/ratio/cnn_dense0_weight",
    ):
        assert [s for s, _ in scalars(logdir, tag)] == list(range(0, 2 * BATCHES, 20)), tag
    zero = [v for _, v in scalars(logdir, "activations/zero_fraction/cnn_relu0")]
    assert all(0 < v < 1 for v in zero)
