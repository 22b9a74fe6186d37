"""Histogram summaries: any numeric array in, a ``HistogramProto`` out, memory bounded on any input size.

``bins`` chooses the buckets:

- ``'default'``: TensorBoard's own exponential buckets (edges at +-1e-12 * 1.1**k up to 1e20, and 0). The
  bucket of a value is looked up in a table indexed by its exponent and top mantissa bits, not searched
  for, and exactly matches TensorBoard's own search.
- an int ``n``: ``n`` equal-width buckets from the minimum to the maximum (``numpy.histogram``'s rule).
- a NumPy rule name (``'auto'``, ``'fd'``, ``'sturges'``, ...): the bucket count NumPy's rule picks. Inputs
  above 4M values pick it from an evenly strided sample of 4M, scaled to the full size; at most
  ``MAX_RULE_BINS`` buckets.
- a 1-D increasing sequence of edges. Values outside them land in extra buckets below/above, never lost.

Values are read in chunks of 64K, so no copy of the whole input is ever made. Non-finite values are a
``ValueError`` that counts them.

Example::

    >>> proto = histogram_proto(np.arange(10.0), bins=5, tag="x")
    >>> list(proto.bucket)
    [2.0, 2.0, 2.0, 2.0, 2.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Union

import numpy as np
from tensorboard.compat.proto import summary_pb2

from .._values.convert import to_float

__all__ = [
    "DEFAULT_BUCKET_LIMITS",
    "MAX_RULE_BINS",
    "Bins",
    "default_bucket_indices",
    "histogram_proto",
    "histogram_value",
    "raw_histogram_value",
]

Bins = Union[str, int, Sequence[float], np.ndarray]

CHUNK = 1 << 16  # 64K values: temporaries stay in the CPU cache
RULE_SAMPLE = 1 << 22
MAX_RULE_BINS = 10_000
NUMPY_RULES = ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt")


def _positive_edges() -> np.ndarray:
    # TensorBoard's C++ histogram: edges grow by 10% from 1e-12 to 1e20, computed by repeated multiplication.
    edges = []
    edge = 1.0e-12
    while edge < 1.0e20:
        edges.append(edge)
        edge *= 1.1
    return np.array(edges)


_POSITIVE = _positive_edges()
_K = len(_POSITIVE)
_DBL_MAX = float(np.finfo(np.float64).max)
DEFAULT_BUCKET_LIMITS = np.concatenate([[-_DBL_MAX], -_POSITIVE[::-1], [0.0], _POSITIVE, [_DBL_MAX]])


class _CellTable:
    """TensorBoard's bucket of each value by table lookup, for one float width.

    A "cell" is a value's sign, exponent and top 4 mantissa bits: it spans at most 6.25% in value while edges
    are 10% apart, so a cell holds at most one edge. Per cell the table keeps the bucket index of its values
    below that edge and the edge itself as a threshold, so that ``bucket = base[cell] + (value >= edge[cell])``.
    Thresholds are rounded to the table's float width in the direction that keeps that test exact against
    the float64 edges.
    """

    MANTISSA_BITS = 4

    def __init__(self, float_type: type[np.floating], int_type: type[np.signedinteger]) -> None:
        self.int_type = int_type
        info = np.finfo(float_type)
        width = info.bits
        self.shift = info.nmant - self.MANTISSA_BITS
        cell_bits = width - self.shift
        cells = np.arange(1 << cell_bits, dtype=np.uint64)
        negative = (cells >> np.uint64(cell_bits - 1)).astype(bool)
        magnitude_cell = cells & np.uint64((1 << (cell_bits - 1)) - 1)
        unsigned = np.dtype(f"u{width // 8}")

        def as_float(cell_ids: np.ndarray) -> np.ndarray:
            return (cell_ids << np.uint64(self.shift)).astype(unsigned).view(float_type).astype(np.float64)

        starts, ends = as_float(magnitude_cell), as_float(magnitude_cell + np.uint64(1))
        below = np.searchsorted(_POSITIVE, starts, side="left")  # edges under the cell
        inside = np.append(_POSITIVE, np.inf)[below]
        edge = np.where(inside < ends, inside, np.inf)  # the cell's edge, if any
        with np.errstate(over="ignore", invalid="ignore"):
            nearest = edge.astype(float_type)
            up = np.where(nearest < edge, np.nextafter(nearest, float_type(np.inf)), nearest)
            down = np.where(nearest > edge, np.nextafter(nearest, float_type(-np.inf)), nearest)
        # v >= 0: bucket (K + 2) + #{edges <= v}.  v < 0: bucket 1 + #{edges >= |v|} = (K + 1) - #{edges < |v|},
        # written as K - below + (v >= -edge).
        base = np.where(negative, _K - below, (_K + 2) + below)
        threshold = np.where(negative, -down, up)
        # -0.0 is not below 0: TensorBoard puts it with +0.0, tiny negatives go below 0.
        base[1 << (cell_bits - 1)], threshold[1 << (cell_bits - 1)] = _K + 1, 0.0
        self.base = base.astype(np.int32)
        self.threshold = threshold.astype(float_type)

    def indices(self, chunk: np.ndarray) -> np.ndarray:
        """Index into DEFAULT_BUCKET_LIMITS of each value's bucket [limit[i-1], limit[i]) (an upper_bound)."""
        cell = chunk.view(self.int_type) >> self.shift  # negative cells index from the end, as laid out
        index = self.base[cell]
        index += chunk >= self.threshold[cell]
        return index


_FLOAT32_CELLS = _CellTable(np.float32, np.int32)
_FLOAT64_CELLS = _CellTable(np.float64, np.int64)


def _work_dtype(dtype: np.dtype) -> type[np.floating]:
    """float32 for inputs it holds exactly (float16/32, small ints, bool), float64 for the rest."""
    return np.float32 if dtype == np.float32 or dtype.itemsize <= 2 else np.float64


def default_bucket_indices(values: np.ndarray) -> np.ndarray:
    """Index into ``DEFAULT_BUCKET_LIMITS`` of each value's bucket, as ``histogram_proto`` counts them.

    For callers that count many tensors at once (one ``bincount`` with per-tensor offsets). NaN and Inf get
    an index past the end or one of no meaning: leave them out first.
    """
    work = _work_dtype(values.dtype)
    table = _FLOAT32_CELLS if work is np.float32 else _FLOAT64_CELLS
    return table.indices(values.astype(work, copy=False))


def _chunks(flat: np.ndarray, work: type[np.floating] | None = None) -> Iterator[np.ndarray]:
    """The values in cache-sized pieces, as ``work`` (by default float32 or float64, see ``_work_dtype``)."""
    work = work or _work_dtype(flat.dtype)
    for start in range(0, flat.size, CHUNK):
        yield flat[start : start + CHUNK].astype(work, copy=False)


class _Stats:
    """Running min, max, count, sum and sum of squares over chunks, summed in float64."""

    def __init__(self) -> None:
        self.min, self.max, self.num, self.sum, self.sum_squares = math.inf, -math.inf, 0, 0.0, 0.0

    def add(self, chunk: np.ndarray) -> None:
        wide = chunk.astype(np.float64, copy=False)
        self.min = min(self.min, float(chunk.min()))
        self.max = max(self.max, float(chunk.max()))
        self.num += chunk.size
        self.sum += float(wide.sum())
        self.sum_squares += float(np.dot(wide, wide))


def _default_counts(flat: np.ndarray, stats: _Stats) -> np.ndarray:
    """Counts over DEFAULT_BUCKET_LIMITS, gathering ``stats`` in the same pass."""
    table = _FLOAT32_CELLS if _work_dtype(flat.dtype) is np.float32 else _FLOAT64_CELLS
    counts = np.zeros(len(DEFAULT_BUCKET_LIMITS), dtype=np.int64)
    for chunk in _chunks(flat):
        stats.add(chunk)
        # Only Inf and NaN index past the end; they are counted and refused by _check_finite.
        counts += np.bincount(table.indices(chunk), minlength=len(counts))[: len(counts)]
    return counts


def _tf_buckets(limits: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Collapse each run of empty buckets into one, as TensorBoard's own histograms do."""
    nonempty = counts > 0
    # Keep a bucket if it is non-empty, or if it is the last of a run of empty ones.
    keep = nonempty | np.append(nonempty[1:], True)
    return limits[keep], counts[keep]


def _flat_values(values: np.ndarray, tag: str) -> np.ndarray:
    if values.size == 0:
        raise ValueError(f"histogram values for tag {tag!r} are empty (shape {values.shape})")
    flat = values.ravel(order="K")  # memory order: a view of a transposed array too, never a whole copy of it
    if flat.dtype == np.bool_:
        flat = flat.view(np.uint8)
    return flat


def _check_finite(stats: _Stats, flat: np.ndarray, tag: str) -> None:
    if math.isfinite(stats.min) and math.isfinite(stats.max) and math.isfinite(stats.sum_squares):
        return
    if flat.dtype.kind != "f":
        return  # large integers can overflow sum_squares only; they are finite values
    nan = sum(int(np.count_nonzero(np.isnan(c))) for c in _chunks(flat))
    inf = sum(int(np.count_nonzero(np.isinf(c))) for c in _chunks(flat))
    if nan or inf:
        raise ValueError(
            f"histogram values for tag {tag!r} hold {nan} NaN and {inf} Inf of {flat.size} values; "
            "a histogram needs finite values (log their count as a scalar instead)"
        )


def _padded_range(lo: float, hi: float) -> tuple[float, float]:
    """A non-empty, finite range around a constant input (NumPy pads by 0.5, which vanishes near 1e16)."""
    if hi > lo:
        return lo, hi
    pad = max(0.5, abs(lo) * 1e-6)
    return max(lo - pad, -_DBL_MAX), min(hi + pad, _DBL_MAX)


def _rule_bin_count(flat: np.ndarray, rule: str, lo: float, hi: float) -> int:
    lo, hi = _padded_range(lo, hi)
    if flat.size <= RULE_SAMPLE:
        sample, scale = flat, 1.0
    else:
        sample = flat[:: -(-flat.size // RULE_SAMPLE)]
        scale = flat.size / sample.size
    half = 1.0 if math.isfinite(hi - lo) else 0.5  # the count does not change with scale; the span must be finite
    with np.errstate(all="ignore"):  # degenerate spreads make some rules divide by zero; they fall back to 1 bin
        edges = np.histogram_bin_edges(sample.astype(np.float64) * half, bins=rule, range=(lo * half, hi * half))
    count = len(edges) - 1
    if scale != 1.0:
        # Width rules shrink bins as n**(-1/3) (fd, scott, rice) or n**(-1/2) (sqrt); sturges grows as log2 n.
        if rule == "sqrt":
            count = math.ceil(count * math.sqrt(scale))
        elif rule == "sturges":
            count = math.ceil(math.log2(flat.size)) + 1
        elif rule in ("fd", "scott", "rice", "auto"):
            count = math.ceil(count * scale ** (1.0 / 3.0))
    return max(1, min(count, MAX_RULE_BINS))


def _uniform_histogram(flat: np.ndarray, count: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = _padded_range(lo, hi)
    # A span beyond the largest float (e.g. -1e308 to 1e308) is bucketed at half scale, then scaled back.
    scale = 1.0 if math.isfinite(hi - lo) else 0.5
    edges = np.histogram_bin_edges(np.array([lo, hi]) * scale, bins=count)
    counts = np.zeros(count, dtype=np.int64)
    for chunk in _chunks(flat, np.float64):
        counts += np.histogram(chunk * scale if scale != 1.0 else chunk, bins=count, range=(edges[0], edges[-1]))[0]
    return edges[1:] / scale, counts


def _explicit_histogram(flat: np.ndarray, edges: np.ndarray, stats: _Stats) -> tuple[np.ndarray, np.ndarray]:
    counts = np.zeros(len(edges) - 1, dtype=np.int64)
    below = above = 0
    for chunk in _chunks(flat, np.float64):
        counts += np.histogram(chunk, bins=edges)[0]
        below += int(np.count_nonzero(chunk < edges[0]))
        above += int(np.count_nonzero(chunk > edges[-1]))
    limits = edges[1:]
    if below:  # an extra bucket [min, edges[0]) keeps every value counted
        limits, counts = np.append(edges[0], limits), np.append(below, counts)
    if above:
        limits, counts = np.append(limits, stats.max), np.append(counts, above)
    return limits, counts


def _explicit_edges(bins: Any, tag: str) -> np.ndarray:
    try:
        edges = np.asarray(bins)
        if edges.dtype.kind not in "iuf":
            raise TypeError(edges.dtype)
        edges = edges.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"bins for tag {tag!r} must be 'default', an int, a NumPy rule or edges; got {bins!r:.80}"
        ) from None
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"bin edges for tag {tag!r} must be 1-D with at least 2 values; got shape {edges.shape}")
    if not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
        raise ValueError(f"bin edges for tag {tag!r} must be finite and strictly increasing; got {bins!r:.80}")
    return edges


def _bucketing(bins: Any, tag: str) -> tuple[str, Any]:
    """Check ``bins`` before any work: ('default' | 'rule' | 'count' | 'edges', normalised value)."""
    if isinstance(bins, str):
        if bins == "default":
            return "default", bins
        if bins in NUMPY_RULES:
            return "rule", bins
        raise ValueError(f"bins for tag {tag!r} must be 'default', an int, edges or one of {NUMPY_RULES}; got {bins!r}")
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if not 1 <= bins <= 10_000_000:
            raise ValueError(f"bins for tag {tag!r} must be between 1 and 10,000,000; got {bins}")
        return "count", int(bins)
    return "edges", _explicit_edges(bins, tag)


def histogram_proto(values: np.ndarray, bins: Bins = "default", *, tag: str = "") -> summary_pb2.HistogramProto:
    """Bucket ``values`` (a NumPy array of real numbers or bools) into a ``HistogramProto``."""
    kind, spec = _bucketing(bins, tag)
    flat = _flat_values(values, tag)
    stats = _Stats()
    if kind == "default":  # one pass: buckets and stats together
        counts = _default_counts(flat, stats)
        _check_finite(stats, flat, tag)
        limits, counts = _tf_buckets(DEFAULT_BUCKET_LIMITS, counts)
        return _proto(stats, limits, counts)
    for chunk in _chunks(flat):
        stats.add(chunk)
    _check_finite(stats, flat, tag)
    if kind == "rule":
        count = _rule_bin_count(flat, spec, stats.min, stats.max)
        limits, counts = _uniform_histogram(flat, count, stats.min, stats.max)
    elif kind == "count":
        limits, counts = _uniform_histogram(flat, spec, stats.min, stats.max)
    else:
        limits, counts = _explicit_histogram(flat, spec, stats)
    return _proto(stats, limits, counts)


def _proto(stats: _Stats, limits: np.ndarray, counts: np.ndarray) -> summary_pb2.HistogramProto:
    return summary_pb2.HistogramProto(
        min=stats.min,
        max=stats.max,
        num=stats.num,
        sum=stats.sum,
        sum_squares=stats.sum_squares,
        bucket_limit=limits.tolist(),
        bucket=counts.astype(np.float64).tolist(),
    )


def histogram_value(tag: str, values: np.ndarray, bins: Bins = "default") -> summary_pb2.Summary.Value:
    """A ``Summary.Value`` holding the histogram of ``values`` under ``tag`` (histograms plugin)."""
    # The legacy ``histo`` field: TensorBoard migrates it to the histograms plugin on load, and older readers
    # (EventAccumulator.Histograms, tensorboardX tooling) read it directly.
    return summary_pb2.Summary.Value(tag=tag, histo=histogram_proto(values, bins, tag=tag))


def raw_histogram_value(
    tag: str,
    low: Any,
    high: Any,
    num: Any,
    total: Any,
    sum_squares: Any,
    limits: np.ndarray,
    counts: np.ndarray,
) -> summary_pb2.Summary.Value:
    """A ``Summary.Value`` from bucket counts made elsewhere; every figure is checked, naming the tag."""
    numbers = {}
    for name, number in (("min", low), ("max", high), ("sum", total), ("sum_squares", sum_squares)):
        numbers[name] = to_float(number, name=f"{name} of histogram {tag!r}")
        if not np.isfinite(numbers[name]):
            raise ValueError(f"{name} of histogram {tag!r} must be finite; got {number!r}")
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 0:
        raise ValueError(f"num of histogram {tag!r} must be an int >= 0; got {num!r:.80}")
    if limits.ndim != 1 or counts.shape != limits.shape or limits.size == 0:
        raise ValueError(
            f"bucket_limits and bucket_counts of histogram {tag!r} must be 1-D of one equal, non-zero length; "
            f"got shapes {limits.shape} and {counts.shape}"
        )
    limits, counts = limits.astype(np.float64), counts.astype(np.float64)
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"bucket_counts of histogram {tag!r} must be finite and >= 0")
    if np.any(np.isnan(limits)) or not np.all(np.diff(limits) > 0):
        raise ValueError(f"bucket_limits of histogram {tag!r} must increase strictly")
    if numbers["min"] > numbers["max"]:
        raise ValueError(f"min of histogram {tag!r} ({numbers['min']}) is above its max ({numbers['max']})")
    proto = summary_pb2.HistogramProto(
        min=numbers["min"],
        max=numbers["max"],
        num=int(num),
        sum=numbers["sum"],
        sum_squares=numbers["sum_squares"],
        bucket_limit=limits.tolist(),
        bucket=counts.tolist(),
    )
    return summary_pb2.Summary.Value(tag=tag, histo=proto)
