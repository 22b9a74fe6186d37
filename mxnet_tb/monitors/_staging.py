"""What the training thread does for a logged batch: a few fused device operations, no host reads.

The tensors a monitor reads (gradients above all) are overwritten by the next batch, so their values must be
taken now, at the step they belong to. Issuing an operation is enough: MXNet's engine runs it before any
later write to its inputs, so a copy (``concat`` of flat views of all the batch's tensors, summed over
devices) or a fused reduction (``multi_sum_sq``) issued here holds this batch's values whenever it is read.
Reading it (``asnumpy``, which waits for the engine) and everything in Python happen later, in the writer
(``_report.py``; ``SummaryWriter.add_summary_later``).

Example::

    >>> staged = stage_copy(Layout([[grad_dev0, grad_dev1]], FlatViews()))   # doctest: +SKIP
    >>> staged.read()   # later, on another thread   # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import mxnet as mx
import numpy as np

from .._training.mxnet_adapter import multi_sum_sq_call
from .._training.stats import DEVICE_HISTOGRAM_BINS, device_histogram_counts, device_stats_vector

__all__ = ["FlatViews", "Layout", "Staged", "stage_copy", "stage_device_stats", "stage_sum_squares"]


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


@dataclass(eq=False)
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

    def __post_init__(self) -> None:
        self._host: list[tuple[list[int], np.ndarray]] | None = None
        self._lock = threading.Lock()
        _unread.add(self)

    def read(self) -> list[tuple[list[int], np.ndarray]]:
        """``parts`` copied to the host (waiting for the engine), once; the device arrays are let go."""
        with self._lock:
            if self._host is None:
                self._host = [(group, array.asnumpy()) for group, array in self.parts]
                self.parts = []
                _unread.discard(self)
            return self._host


# Results a report has not read yet. Once MXNet shuts down (at exit) it reads zeros or garbage from them, so
# they are read first: this hook is registered after MXNet's own (this module imports mxnet), so runs before it.
_unread: weakref.WeakSet[Staged] = weakref.WeakSet()


@atexit.register
def _read_before_mxnet_shuts_down() -> None:
    for staged in list(_unread):
        staged.read()


def _dtype_groups(dtypes: list[np.dtype]) -> list[list[int]]:
    groups: dict[np.dtype, list[int]] = {}
    for index, dtype in enumerate(dtypes):
        groups.setdefault(dtype, []).append(index)
    return list(groups.values())


def _on(array: Any, context: Any) -> Any:
    return array if array.context == context else array.as_in_context(context)


class Layout:
    """How a list of tensors is staged, worked out once: sizes, dtype groups, arrays and flat views per device.

    ``tensors[i]`` holds tensor ``i`` on each device: summed (gradients, as the kvstore sums them), or with
    ``join`` laid end to end (activations: slices of one batch). A monitor keeps the layout of tensors that
    outlive a batch (gradients, weights), so a logged batch only issues its operations.
    """

    def __init__(self, tensors: list[list[Any]], views: Any, join: bool = False) -> None:
        flat = [[views(piece) for piece in pieces] for pieces in tensors]
        self.join = join
        self.devices = len(tensors[0])
        self.context = tensors[0][0].context
        self.on_gpu = any(piece.context.device_type != "cpu" for piece in tensors[0])
        if join:
            self.sizes = np.array([sum(size for _, size, _ in pieces) for pieces in flat], dtype=np.int64)
        else:
            self.sizes = np.array([pieces[0][1] for pieces in flat], dtype=np.int64)
        self.groups = _dtype_groups([pieces[0][2] for pieces in flat])
        self.itemsize = [flat[group[0]][0][2].itemsize for group in self.groups]
        self.arrays = [[[tensors[i][d] for i in group] for d in range(self.devices)] for group in self.groups]
        self.views = [[[flat[i][d][0] for i in group] for d in range(self.devices)] for group in self.groups]
        self.joined = [[_on(view, self.context) for i in group for view, _, _ in flat[i]] for group in self.groups]
        self.bounds = [_bounds(self.sizes[group]) for group in self.groups]
        self.sum_squares = [FusedSumSquares(arrays[0]) for arrays in self.arrays] if self.devices == 1 else []
        self.nbytes = sum(int(self.sizes[group].sum()) * size for group, size in zip(self.groups, self.itemsize))


class FusedSumSquares:
    """``mx.nd.multi_sum_sq`` of a fixed list of arrays, issued per logged batch with its arguments built once
    (``mxnet_adapter.multi_sum_sq_call``). If that call fails for any reason, the wrapper is used from then on.
    """

    def __init__(self, arrays: list[Any]) -> None:
        self.arrays = arrays
        self._raw = multi_sum_sq_call(arrays)

    def __call__(self) -> Any:
        if self._raw is not None:
            result = self._raw()
            if result is not None:
                return result
            self._raw = None
        return mx.nd.multi_sum_sq(*self.arrays, num_arrays=len(self.arrays))


def _bounds(sizes: np.ndarray) -> list[tuple[int, int]]:
    ends = np.cumsum(sizes)
    return [(int(end - size), int(end)) for end, size in zip(ends, sizes)]


def stage_copy(layout: Layout) -> Staged:
    """Copy every tensor's values into one flat NDArray per dtype, on the first device (see ``Layout``)."""
    parts = []
    for g, group in enumerate(layout.groups):
        if layout.join:
            total = mx.nd.concat(*layout.joined[g], dim=0)
        else:
            per_device = [mx.nd.concat(*views, dim=0) for views in layout.views[g]]
            total = per_device[0] if layout.devices == 1 else mx.nd.add_n(*[_on(a, layout.context) for a in per_device])
        parts.append((group, total))
    return Staged("values", parts, layout.sizes, layout.nbytes)


def stage_sum_squares(layout: Layout) -> Staged:
    """Each tensor's sum of squares (summed over devices first), by MXNet's fused ``multi_sum_sq``.

    It accumulates in float32, like gradient clipping's; NaN or Inf entries make the sum NaN or Inf.
    """
    nbytes = 4 * len(layout.sizes)
    if layout.devices == 1:
        parts = [(group, fused()) for group, fused in zip(layout.groups, layout.sum_squares)]
        return Staged("sum_squares", parts, layout.sizes, nbytes)
    summed = stage_copy(layout)
    parts = []
    for (group, total), bounds in zip(summed.parts, layout.bounds):
        pieces = [total[start:end] for start, end in bounds]
        parts.append((group, mx.nd.multi_sum_sq(*pieces, num_arrays=len(pieces))))
    return Staged("sum_squares", parts, layout.sizes, nbytes)


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
