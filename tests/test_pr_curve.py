"""add_pr_curve / add_pr_curve_raw: the pr_curves plugin's [6, num_thresholds] tensor, exact values."""

import numpy as np
import pytest
from tensorboard.plugins.pr_curve import metadata

from mxnet_tb import SummaryWriter

from .readback import accumulate, summary_events, tensors


def curve(logdir, tag):
    ((step, data),) = tensors(logdir, tag)
    content = accumulate(logdir).SummaryMetadata(tag).plugin_data
    assert content.plugin_name == "pr_curves"
    assert metadata.parse_plugin_metadata(content.content).num_thresholds == data.shape[1]
    assert data.dtype == np.float32
    return step, data


def test_counts_precision_and_recall_per_threshold(logdir):
    labels = np.array([1, 0, 1, 1, 0])
    predictions = np.array([0.9, 0.8, 0.55, 0.1, 0.3])
    with SummaryWriter(logdir) as sw:
        sw.add_pr_curve("pr", labels, predictions, num_thresholds=3, global_step=2)
    step, data = curve(logdir, "pr")
    # thresholds 0, 0.5, 1: positive at i when floor(p * 2) >= i
    assert step == 2 and data.shape == (6, 3)
    tp, fp, tn, fn, precision, recall = data
    assert tp.tolist() == [3, 2, 0] and fp.tolist() == [2, 1, 0]
    assert tn.tolist() == [0, 1, 2] and fn.tolist() == [0, 1, 3]
    np.testing.assert_allclose(precision, [3 / 5, 2 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(recall, [1.0, 2 / 3, 0.0], rtol=1e-6)


def test_weights_bool_labels_and_more_than_127_thresholds(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_pr_curve(
            "w", np.array([True, False]), np.array([1.0, 0.0]), num_thresholds=1000, weights=np.array([2.0, 3.0])
        )
    _, data = curve(logdir, "w")
    assert data.shape == (6, 1000)
    assert data[0, 0] == 2.0 and data[1, 0] == 3.0 and data[0, 999] == 2.0 and data[1, 999] == 0.0


def test_raw_curve_is_stored_as_given(logdir):
    rows = [np.array([3.0, 1.0]), np.array([2.0, 0.0]), np.array([0.0, 2.0]), np.array([0.0, 2.0])]
    with SummaryWriter(logdir) as sw:
        sw.add_pr_curve_raw("raw", *rows, np.array([0.6, 1.0]), np.array([1.0, 1 / 3]), global_step=4)
    step, data = curve(logdir, "raw")
    assert step == 4
    np.testing.assert_allclose(data, [[3, 1], [2, 0], [0, 2], [0, 2], [0.6, 1.0], [1.0, 1 / 3]], rtol=1e-6)


@pytest.mark.parametrize(
    "labels, predictions, kwargs, match",
    [
        ([1, 2], [0.1, 0.2], {}, r"bool or 0/1"),
        ([1, 0], [0.1, 1.2], {}, r"\[0, 1\]; got min 0.1, max 1.2"),
        ([1, 0, 1], [0.1, 0.2], {}, r"one size; got shapes \(3,\) and \(2,\)"),
        ([1, 0], [0.1, np.nan], {}, "NaN"),
        ([1, 0], [0.1, 0.2], {"num_thresholds": 1}, "num_thresholds .* >= 2; got 1"),
        ([1, 0], [0.1, 0.2], {"weights": [1.0, 2.0, 3.0]}, r"weights .*got shape \(3,\)"),
        ([1, 0], [0.1, 0.2], {"weights": [1.0, -1.0]}, r"finite and >= 0"),
    ],
)
def test_bad_inputs_raise_and_log_nothing(logdir, labels, predictions, kwargs, match):
    with SummaryWriter(logdir) as sw, pytest.raises(ValueError, match=match):
        sw.add_pr_curve("bad", np.array(labels), np.array(predictions), **kwargs)
    assert summary_events(logdir) == []


def test_raw_arrays_of_different_lengths_are_refused(logdir):
    with SummaryWriter(logdir) as sw, pytest.raises(ValueError, match="one length"):
        sw.add_pr_curve_raw("bad", [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2, 3])
    with SummaryWriter(logdir) as sw, pytest.raises(ValueError, match=r"num_thresholds .* is 5 but"):
        sw.add_pr_curve_raw("bad", *[[1.0, 2.0]] * 6, num_thresholds=5)
    assert summary_events(logdir) == []
