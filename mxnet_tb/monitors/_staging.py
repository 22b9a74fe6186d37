"""What the training thread does for a logged batch: a few fused device operations, no host reads.

The tensors a monitor reads (gradients above all) are overwritten by the next batch, so their values must be
taken now, at the step they belong to. Issuing an operation is enough: MXNet's engine runs it before any
later write to its inputs, so a copy (``concat`` of flat views of all the batch's tensors, summed over
devices) or a fused reduction (``multi_sum_sq``) issued here holds this batch's values whenever it is read.
Reading it (``asnumpy``, which waits for the engine) and everything in Python happen later, on the writer's
encoder threads (``_report.py``).

Example::

    >>> staged = stage_copy([[grad_dev0, grad_dev1]], FlatViews())   # doctest: +SKIP
    >>> staged.parts[0][1].asnumpy()   # later, on another thread   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mxnet as mx
import numpy as np

from .._training.stats import DEVICE_HISTOGRAM_BINS, device_histogram_counts, device_stats_vector

__all__ = ["FlatViews", "Staged", "stage_copy", "stage_device_stats", "stage_sum_squares"]


class FlatViews:
    """1-D views (and sizes, dtypes) of arrays that outlive a batch, such as gradients: made once per array.

    A view shares its array's memory and engine variable, so an operation on it is ordered with the array's
    writes. Arrays made afresh each batch (copies of activations) go through ``fresh`` and are not kept.
    """

    _LIMIT = 1 << 14

    def __init__(self) -> None:
        self._known: dict[int, tuple[Any, Any, int, np.dtype]] = {}

    def __call__(self, array: Any) -> tuple[Any, int, np.dtype]:
        entry = self._known.get(id(array))
        if entry is None or entry[0] is not array:
            if len(self._known) >= self._LIMIT:  # executors rebound many times: start over
                self._known.clear()
            view, size, dtype = self.fresh(array)
            entry = (array, view, size, dtype)
            self._known[id(array)] = entry
        return entry[1], entry[2], entry[3]

    @staticmethod
    def fresh(array: Any) -> tuple[Any, int, np.dtype]:
        shape = array.shape
        size = int(np.prod(shape, dtype=np.int64)) if shape else 1
        return array.reshape((size,)), size, np.dtype(array.dtype)


@dataclass
class Staged:
    """A logged batch's device-side results: ``parts`` of ``(tensor indices, NDArray)``, one per dtype group.

    ``what`` says what each NDArray holds: ``'values'`` (the tensors' values end to end), ``'sum_squares'``
    (one float32 per tensor) or ``'device_stats'`` (``device_stats_vector`` entries, then histogram counts, per
    tensor). ``sizes[i]`` is tensor ``i``'s number of values.
    """

    what: str
    parts: list[tuple[list[int], Any]]
    sizes: np.ndarray
    nbytes: int


def _dtype_groups(dtypes: list[np.dtype]) -> list[list[int]]:
    groups: dict[np.dtype, list[int]] = {}
    for index, dtype in enumerate(dtypes):
        groups.setdefault(dtype, []).append(index)
    return list(groups.values())


def _on(array: Any, context: Any) -> Any:
    return array if array.context == context else array.as_in_context(context)


def stage_copy(tensors: list[list[Any]], views: FlatViews, join: bool = False) -> Staged:
    """Copy every tensor's values into one flat NDArray per dtype, on the first device.

    ``tensors[i]`` holds tensor ``i`` on each device: summed (gradients, as the kvstore sums them), or with
    ``join`` laid end to end (activations: slices of one batch).
    """
    flat = [[views(piece) for piece in pieces] for pieces in tensors]
    if join:
        sizes = np.array([sum(size for _, size, _ in pieces) for pieces in flat], dtype=np.int64)
    else:
        sizes = np.array([pieces[0][1] for pieces in flat], dtype=np.int64)
    context = tensors[0][0].context
    parts = []
    nbytes = 0
    for group in _dtype_groups([pieces[0][2] for pieces in flat]):
        if join:
            total = mx.nd.concat(*[_on(view, context) for i in group for view, _, _ in flat[i]], dim=0)
        else:
            devices = len(flat[group[0]])
            per_device = [mx.nd.concat(*[flat[i][d][0] for i in group], dim=0) for d in range(devices)]
            total = per_device[0] if devices == 1 else mx.nd.add_n(*[_on(a, context) for a in per_device])
        parts.append((group, total))
        nbytes += int(sizes[group].sum()) * flat[group[0]][0][2].itemsize
    return Staged("values", parts, sizes, nbytes)


def stage_sum_squares(tensors: list[list[Any]], views: FlatViews) -> Staged:
    """Each tensor's sum of squares (summed over devices first), by MXNet's fused ``multi_sum_sq``.

    It accumulates in float32, like gradient clipping's; NaN or Inf entries make the sum NaN or Inf.
    """
    if len(tensors[0]) == 1:
        described = [views(pieces[0]) for pieces in tensors]
        sizes = np.array([size for _, size, _ in described], dtype=np.int64)
        parts = []
        for group in _dtype_groups([dtype for _, _, dtype in described]):
            arrays = [tensors[i][0] for i in group]
            parts.append((group, mx.nd.multi_sum_sq(*arrays, num_arrays=len(arrays))))
        return Staged("sum_squares", parts, sizes, 4 * len(tensors))
    summed = stage_copy(tensors, views)
    parts = []
    for group, total in summed.parts:
        ends = np.cumsum(summed.sizes[group])
        pieces = [total[int(end - size) : int(end)] for end, size in zip(ends, summed.sizes[group])]
        parts.append((group, mx.nd.multi_sum_sq(*pieces, num_arrays=len(pieces))))
    return Staged("sum_squares", parts, summed.sizes, 4 * len(tensors))


def stage_device_stats(totals: list[Any], stats: tuple[str, ...], histograms: bool) -> Staged:
    """Statistics (and 100-bucket histogram counts) of each tensor, reduced where it lives, in one NDArray.

    ``totals[i]`` is tensor ``i`` already combined over devices. Per tensor the result holds
    ``device_stats_vector(total, stats)`` then, with ``histograms``, ``DEVICE_HISTOGRAM_BINS`` counts over its
    finite range (``stats`` must then start with ``min`` and ``max``).
    """
    pieces = []
    sizes = []
    for total in totals:
        vector = device_stats_vector(total, stats)
        pieces.append(vector)
        if histograms:
            pieces.append(device_histogram_counts(total, vector[0:1], vector[1:2], DEVICE_HISTOGRAM_BINS))
        shape = total.shape
        sizes.append(int(np.prod(shape, dtype=np.int64)) if shape else 1)
    context = totals[0].context
    joined = mx.nd.concat(*[_on(p, context) for p in pieces], dim=0)
    everything = list(range(len(totals)))
    return Staged("device_stats", [(everything, joined)], np.array(sizes, dtype=np.int64), 8 * joined.size)
