"""Precision-recall curves in the pr_curves plugin's layout: a float32 tensor ``[6, num_thresholds]``.

Rows are true positives, false positives, true negatives, false negatives, precision and recall (the
plugin's ``*_INDEX`` constants). Threshold ``i`` is ``i / (num_thresholds - 1)``; a prediction ``p`` counts as
positive at threshold ``i`` when ``floor(p * (num_thresholds - 1)) >= i``, as in TensorBoard's own summary.

Example::

    >>> value = pr_curve_value("pr", np.array([1, 0]), np.array([0.9, 0.2]), num_thresholds=3)
    >>> [d.size for d in value.tensor.tensor_shape.dim]
    [6, 3]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.pr_curve import metadata
from tensorboard.util import tensor_util

__all__ = ["check_num_thresholds", "pr_curve_raw_value", "pr_curve_value"]

MIN_COUNT = 1e-7  # TensorBoard's floor for the denominators of precision and recall


MAX_THRESHOLDS = 100_000  # a [6, N] float32 tensor in every event: 2.4 MB; TensorBoard's default is 127


def check_num_thresholds(num_thresholds: Any, *, tag: str) -> int:
    """``num_thresholds`` as an int from 2 to ``MAX_THRESHOLDS``, checked before anything of that size exists."""
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) or num_thresholds < 2:
        raise ValueError(f"num_thresholds for tag {tag!r} must be an int >= 2; got {num_thresholds!r:.80}")
    if num_thresholds > MAX_THRESHOLDS:
        raise ValueError(
            f"num_thresholds for tag {tag!r} must be at most {MAX_THRESHOLDS:,} (each event holds 6 x "
            f"num_thresholds floats); got {num_thresholds:,}"
        )
    return int(num_thresholds)


def _value(tag: str, data: np.ndarray) -> summary_pb2.Summary.Value:
    summary_metadata = metadata.create_summary_metadata(display_name=tag, description="", num_thresholds=data.shape[1])
    tensor = tensor_util.make_tensor_proto(data.astype(np.float32))
    return summary_pb2.Summary.Value(tag=tag, metadata=summary_metadata, tensor=tensor)


def _flat(values: np.ndarray, what: str, tag: str) -> np.ndarray:
    flat = values.reshape(-1)
    if flat.dtype.kind == "f" and not np.all(np.isfinite(flat)):
        raise ValueError(f"{what} for tag {tag!r} hold NaN or Inf values")
    return flat


def pr_curve_value(
    tag: str, labels: np.ndarray, predictions: np.ndarray, num_thresholds: Any = 127, weights: np.ndarray | None = None
) -> summary_pb2.Summary.Value:
    """The PR curve of binary ``labels`` (bool, or 0/1) against ``predictions`` in ``[0, 1]``, optionally weighted."""
    count = check_num_thresholds(num_thresholds, tag=tag)
    if labels.size != predictions.size or labels.size == 0:
        raise ValueError(
            f"labels and predictions for tag {tag!r} must be non-empty and of one size; "
            f"got shapes {labels.shape} and {predictions.shape}"
        )
    truth = _flat(labels, "labels", tag)
    if truth.dtype != np.bool_:
        if not np.all((truth == 0) | (truth == 1)):
            raise ValueError(f"labels for tag {tag!r} must be bool or 0/1; got values such as {np.unique(truth)[:5]}")
        truth = truth.astype(bool)
    scores = _flat(predictions, "predictions", tag).astype(np.float64)
    if scores.min() < 0.0 or scores.max() > 1.0:
        raise ValueError(
            f"predictions for tag {tag!r} must lie in [0, 1]; got min {scores.min():g}, max {scores.max():g}"
        )
    if weights is None:
        weight = np.ones(scores.size)
    else:
        if weights.size == 1:
            weight = np.full(scores.size, float(weights.reshape(-1)[0]))
        elif weights.size == scores.size:
            weight = _flat(weights, "weights", tag).astype(np.float64)
        else:
            raise ValueError(
                f"weights for tag {tag!r} must be one number or one per prediction ({scores.size}); "
                f"got shape {weights.shape}"
            )
        if not np.all(np.isfinite(weight)) or weight.min() < 0:
            raise ValueError(f"weights for tag {tag!r} must be finite and >= 0")
    bucket = np.floor(scores * (count - 1)).astype(np.int64)
    tp_per_bucket = np.bincount(bucket, weights=np.where(truth, weight, 0.0), minlength=count)
    fp_per_bucket = np.bincount(bucket, weights=np.where(truth, 0.0, weight), minlength=count)
    tp = np.cumsum(tp_per_bucket[::-1])[::-1]  # positives predicted at or above each threshold
    fp = np.cumsum(fp_per_bucket[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(MIN_COUNT, tp + fp)
    recall = tp / np.maximum(MIN_COUNT, tp + fn)
    return _value(tag, np.stack([tp, fp, tn, fn, precision, recall]))


def pr_curve_raw_value(tag: str, rows: list[np.ndarray], num_thresholds: Any = None) -> summary_pb2.Summary.Value:
    """A PR curve from precomputed counts: ``rows`` are tp, fp, tn, fn, precision, recall, each ``[n]``."""
    names = ("true_positive_counts", "false_positive_counts", "true_negative_counts", "false_negative_counts")
    names += ("precision", "recall")
    flat = [_flat(r, n, tag) for r, n in zip(rows, names)]
    sizes = {n: f.size for n, f in zip(names, flat)}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"the six PR curve arrays for tag {tag!r} must have one length; got {sizes}")
    count = flat[0].size
    if count < 2:
        raise ValueError(f"PR curve arrays for tag {tag!r} need at least 2 thresholds; got {count}")
    if num_thresholds is not None and check_num_thresholds(num_thresholds, tag=tag) != count:
        raise ValueError(f"num_thresholds for tag {tag!r} is {num_thresholds} but the arrays have length {count}")
    return _value(tag, np.stack([f.astype(np.float64) for f in flat]))
