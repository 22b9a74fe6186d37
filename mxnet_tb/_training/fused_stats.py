"""Statistics and histograms of many tensors at once, by vectorised NumPy over their concatenation.

A monitor logs a few statistics of dozens of small tensors per batch; done tensor by tensor that is ~100 us of
Python each. Here every tensor is a segment of one flat array (``sizes`` gives their lengths, in order) and
each statistic is one segmented reduction (``ufunc.reduceat``) over the whole batch; the default TensorBoard
histograms of all tensors are one bucket lookup and one ``bincount`` with per-tensor offsets.

The numbers are those of ``stats.host_stats`` and ``summaries.histogram`` on each tensor alone (the tests hold
them to it): every statistic but ``nonfinite`` ignores NaN and Inf entries and is NaN for a tensor without
finite entries; sums are taken in float64.

Example::

    >>> flat = np.array([3.0, -4.0, 1.0], dtype=np.float32)
    >>> fused_stats(flat, [2, 1], ("norm", "max_abs"))["norm"].tolist()
    [5.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..summaries.histogram import DEFAULT_BUCKET_LIMITS, default_bucket_indices
from .stats import SATURATION_MARGIN

__all__ = ["GROUP_VALUES", "FusedHistograms", "Segments", "fused_histograms", "fused_stats", "segments"]


GROUP_VALUES = 1 << 20  # tensors are reduced in groups of about this many values: temporaries stay bounded


@dataclass(frozen=True)
class Segments:
    """Where each tensor lies in the flat array: ``sizes``, ``starts``, and which are non-empty."""

    sizes: np.ndarray
    starts: np.ndarray
    nonempty: np.ndarray

    @property
    def count(self) -> int:
        return len(self.sizes)

    @property
    def total(self) -> int:
        return int(self.sizes.sum())

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Per-segment sums of ``values`` (0 for an empty segment)."""
        if values.dtype == np.bool_:
            values = values.astype(np.intp)
        out = np.zeros(self.count, dtype=np.float64 if values.dtype.kind == "f" else np.int64)
        if values.size:
            out[self.nonempty] = np.add.reduceat(values, self.starts[self.nonempty])
        return out

    def reduce(self, ufunc: np.ufunc, values: np.ndarray, empty: float) -> np.ndarray:
        """Per-segment ``ufunc`` reduction (``np.minimum``, ``np.maximum``) as float64; ``empty`` where empty."""
        out = np.full(self.count, empty, dtype=np.float64)
        if values.size:
            out[self.nonempty] = ufunc.reduceat(values, self.starts[self.nonempty])
        return out

    def ids(self) -> np.ndarray:
        """The segment of every element of the flat array."""
        return np.repeat(np.arange(self.count, dtype=np.intp), self.sizes)

    def groups(self, limit: int = GROUP_VALUES) -> list[tuple[int, int, Segments]]:
        """Runs of whole segments of about ``limit`` values: ``(first value, end value, their Segments)``."""
        ends = self.starts + self.sizes
        result = []
        first = 0
        while first < self.count:
            last = first + 1
            while last < self.count and ends[last] - self.starts[first] <= limit:
                last += 1
            lo, hi = int(self.starts[first]), int(ends[last - 1])
            result.append((lo, hi, segments(self.sizes[first:last])))
            first = last
        return result


def segments(sizes: Sequence[int] | np.ndarray) -> Segments:
    """``Segments`` of tensors with ``sizes`` elements, laid end to end."""
    array = np.asarray(sizes, dtype=np.intp).reshape(-1)
    if np.any(array < 0):
        raise ValueError(f"segment sizes must be >= 0; got {list(array)}")
    starts = np.cumsum(array) - array
    return Segments(array, starts, array > 0)


def _checked(flat: np.ndarray, sizes: Sequence[int] | Segments) -> Segments:
    seg = sizes if isinstance(sizes, Segments) else segments(sizes)
    if not isinstance(flat, np.ndarray) or flat.ndim != 1 or flat.size != seg.total:
        shape = getattr(flat, "shape", type(flat).__name__)
        raise ValueError(f"flat must be a 1-D NumPy array of {seg.total} values; got {shape}")
    return seg


def _by_group(flat: np.ndarray, seg: Segments, one: Callable[[np.ndarray, Segments], dict[str, np.ndarray]]) -> dict:
    parts = [one(flat[lo:hi], group) for lo, hi, group in seg.groups()]
    if len(parts) == 1:
        return parts[0]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]} if parts else {}


def fused_stats(flat: np.ndarray, sizes: Sequence[int] | Segments, stats: Sequence[str]) -> dict[str, np.ndarray]:
    """Each named statistic of every segment of ``flat``, as an array with one float64 per segment."""
    seg = _checked(flat, sizes)
    if seg.count == 0:
        return {stat: np.zeros(0) for stat in stats}
    return _by_group(flat, seg, lambda part, group: _group_stats(part, group, tuple(dict.fromkeys(stats))))


def _group_stats(flat: np.ndarray, seg: Segments, stats: tuple[str, ...]) -> dict[str, np.ndarray]:
    finite = np.isfinite(flat) if flat.dtype.kind == "f" else np.ones(flat.shape, dtype=bool)
    all_finite = bool(finite.all())
    count = seg.sizes.astype(np.float64) if all_finite else seg.sum(finite).astype(np.float64)
    wide = flat.astype(np.float64)
    clean = wide if all_finite else np.where(finite, wide, 0.0)
    result: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):  # overflow gives Inf, as host_stats has it
        for stat in stats:
            if stat == "norm":
                result[stat] = np.sqrt(seg.sum(clean * clean))
            elif stat in ("mean", "std"):
                mean = seg.sum(clean) / count
                if stat == "mean":
                    result[stat] = mean
                else:
                    centred = clean - np.repeat(mean, seg.sizes)
                    if not all_finite:
                        centred[~finite] = 0.0
                    result[stat] = np.sqrt(seg.sum(centred * centred) / count)
            elif stat == "min":
                result[stat] = seg.reduce(np.minimum, flat if all_finite else np.where(finite, flat, np.inf), np.inf)
            elif stat == "max":
                result[stat] = seg.reduce(np.maximum, flat if all_finite else np.where(finite, flat, -np.inf), -np.inf)
            elif stat == "max_abs":
                magnitude = np.abs(flat) if all_finite else np.where(finite, np.abs(flat), 0)
                result[stat] = seg.reduce(np.maximum, magnitude, 0.0)
            elif stat == "nonfinite":
                result[stat] = seg.sizes - count
            elif stat == "zero_fraction":
                result[stat] = 1.0 - seg.sum((flat != 0) & finite) / count
            elif stat == "sigmoid_saturation":
                near = (flat < SATURATION_MARGIN) | (flat > 1 - SATURATION_MARGIN)
                result[stat] = seg.sum(near & finite) / count
            elif stat == "tanh_saturation":
                result[stat] = seg.sum((np.abs(flat) > 1 - SATURATION_MARGIN) & finite) / count
            else:
                raise ValueError(f"unknown statistic {stat!r}")
    empty = count == 0
    for stat, values in result.items():
        values = values.astype(np.float64)
        if stat != "nonfinite":
            values[empty] = np.nan
        result[stat] = values
    return result


@dataclass(frozen=True)
class FusedHistograms:
    """TensorBoard's default histograms of every segment's finite values.

    ``counts[i]`` counts segment ``i`` over ``DEFAULT_BUCKET_LIMITS``; ``min``, ``max``, ``num``, ``sum`` and
    ``sum_squares`` (float64) are per segment, over its finite values, as ``summaries.histogram`` has them.
    """

    counts: np.ndarray
    min: np.ndarray
    max: np.ndarray
    num: np.ndarray
    sum: np.ndarray
    sum_squares: np.ndarray

    def buckets(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(limits, counts)`` of segment ``index``, runs of empty buckets collapsed as TensorBoard does."""
        limits, counts, ends = self.collapsed()
        start = ends[index - 1] if index else 0
        return limits[start : ends[index]], counts[start : ends[index]]

    def collapsed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every segment's ``(limits, counts)`` at once, runs of empty buckets collapsed as TensorBoard does:
        segment ``i``'s are ``[ends[i - 1]:ends[i]]`` of the two flat arrays."""
        nonempty = self.counts > 0
        keep = nonempty.copy()  # a non-empty bucket, or the last of an empty run
        keep[:, :-1] |= nonempty[:, 1:]
        keep[:, -1] = True
        rows, columns = np.nonzero(keep)
        return DEFAULT_BUCKET_LIMITS[columns], self.counts[rows, columns], np.cumsum(keep.sum(axis=1))


def fused_histograms(flat: np.ndarray, sizes: Sequence[int] | Segments) -> FusedHistograms:
    """Histograms of every segment of ``flat`` over TensorBoard's default buckets, non-finite values left out."""
    seg = _checked(flat, sizes)
    if flat.dtype == np.bool_:
        flat = flat.view(np.uint8)
    if seg.count == 0:
        empty = np.zeros(0)
        return FusedHistograms(np.zeros((0, len(DEFAULT_BUCKET_LIMITS)), np.int64), empty, empty, empty, empty, empty)
    parts = _by_group(flat, seg, _group_histograms)
    return FusedHistograms(**parts)


def _group_histograms(flat: np.ndarray, seg: Segments) -> dict[str, np.ndarray]:
    limits = len(DEFAULT_BUCKET_LIMITS)
    width = limits + 1  # one more column per segment, for the values left out
    finite = np.isfinite(flat) if flat.dtype.kind == "f" else np.ones(flat.shape, dtype=bool)
    buckets = default_bucket_indices(flat).astype(np.intp)
    if not finite.all():
        buckets[~finite] = limits
    buckets += seg.ids() * width
    counts = np.bincount(buckets, minlength=seg.count * width)[: seg.count * width].reshape(seg.count, width)
    stats = _group_stats(flat, seg, ("min", "max", "nonfinite"))
    clean = flat.astype(np.float64)
    if not finite.all():
        clean[~finite] = 0.0
    with np.errstate(over="ignore"):
        squares = seg.sum(clean * clean)
    return {
        "counts": counts[:, :limits],
        "min": stats["min"],
        "max": stats["max"],
        "num": (seg.sizes - stats["nonfinite"]).astype(np.int64),
        "sum": seg.sum(clean),
        "sum_squares": squares,
    }
