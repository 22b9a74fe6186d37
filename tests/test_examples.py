"""The examples run as a user runs them, and what they log reads back as documented."""

import os
import subprocess
import sys

from .readback import accumulate, event_files, load_events, scalars

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
    expected = {
        *(f"train/{t}" for t in ("accuracy", "cross-entropy", "lr", "samples_per_sec")),
        "val/accuracy",
        "val/cross-entropy",
        *(f"grads/{s}/{p}" for s in ("norm", "mean", "std", "max_abs", "nonfinite", "hist") for p in params),
        *(f"weights/{s}/{p}" for s in ("norm", "hist") for p in params),
        *(f"aux/{s}/bn0_{a}" for s in ("norm", "hist") for a in ("moving_mean", "moving_var")),
        "weights/filters/conv0_weight",
        "__run_graph__",  # how TensorBoard lists a run's graph
    }
    assert tags == expected
    batches = 1500 // 64  # per epoch, last batch discarded
    assert [s for s, _ in scalars(logdir, "train/accuracy")] == list(range(2 * batches))
    assert [s for s, _ in scalars(logdir, "val/accuracy")] == [batches - 1, 2 * batches - 1]
    assert [s for s, _ in scalars(logdir, "grads/norm/fc2_weight")] == list(range(0, 2 * batches, 5))
    assert sum(1 for f in event_files(logdir) for e in load_events(f) if e.graph_def) == 1


def test_filters_example_logs_filters_and_feature_maps(tmp_path):
    logdir = str(tmp_path / "filters")
    _run("filters_and_embeddings.py", "--logdir", logdir, "--epochs", "1")
    acc = accumulate(logdir)
    assert set(acc.Tags()["tensors"]) == {"filters/conv0", "feature_maps/conv0", "input/digit"}
    sizes = {
        tag: tuple(int(x) for x in acc.Tensors(tag)[0].tensor_proto.string_val[:2]) for tag in acc.Tags()["tensors"]
    }
    assert sizes == {"filters/conv0": (33, 9), "feature_maps/conv0": (73, 19), "input/digit": (8, 8)}
