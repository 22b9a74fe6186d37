"""Histogram summaries: any numeric array in, a ``HistogramProto`` out, memory bounded on any input size.

``bins`` chooses the buckets:

- ``'default'``: TensorBoard's own exponential buckets (edges at +-1e-12 * 1.1**k up to 1e20, and 0). The
  bucket of a value is computed from its logarithm and checked against the exact edges, not searched for,
  so 1M values take a few milliseconds.
- an int ``n``: ``n`` equal-width buckets from the minimum to the maximum (``numpy.histogram``'s rule).
- a NumPy rule name (``'auto'``, ``'fd'``, ``'sturges'``, ...): the bucket count NumPy's rule picks. Inputs
  above 4M values pick it from an evenly strided sample of 4M, scaled to the full size; at most
  ``MAX_RULE_BINS`` buckets.
- a 1-D increasing sequence of edges. Values outside them land in extra buckets below/above, never lost.

Values are read in chunks of 1M, so only one chunk is ever converted to float64. Non-finite values are a
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

__all__ = ["DEFAULT_BUCKET_LIMITS", "MAX_RULE_BINS", "Bins", "histogram_proto", "histogram_value"]

Bins = Union[str, int, Sequence[float], np.ndarray]

CHUNK = 1 << 20
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
# _BOUNDS[j] is the j-th positive edge counted from 1 (_BOUNDS[0] = 0, _BOUNDS[K + 1] = inf), for corrections.
_BOUNDS = np.concatenate([[0.0], _POSITIVE, [np.inf]])
_LOG_FIRST = np.float32(math.log(1.0e-12))
_INV_LOG_STEP = np.float32(1.0 / math.log(1.1))


class _Stats:
    """Running min, max, count, sum and sum of squares over chunks, in float64."""

    def __init__(self) -> None:
        self.min, self.max, self.num, self.sum, self.sum_squares = math.inf, -math.inf, 0, 0.0, 0.0

    def add(self, chunk: np.ndarray) -> None:
        self.min = min(self.min, float(chunk.min()))
        self.max = max(self.max, float(chunk.max()))
        self.num += chunk.size
        self.sum += float(chunk.sum())
        self.sum_squares += float(np.dot(chunk, chunk))


def _chunks(flat: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, flat.size, CHUNK):
        yield flat[start : start + CHUNK].astype(np.float64, copy=False)


def _count_edges_at_or_below(magnitude: np.ndarray) -> np.ndarray:
    """For each magnitude m >= 0, how many positive default edges are <= m (exactly, like a search)."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        estimate = np.log(magnitude.astype(np.float32))
    estimate -= _LOG_FIRST
    estimate *= _INV_LOG_STEP
    np.clip(estimate, -1.0, _K - 1, out=estimate)
    count = estimate.astype(np.int64)
    count += 1
    # The float32 estimate is within one edge of the truth; settle it against the exact float64 edges.
    count -= _BOUNDS[count] > magnitude
    count += _BOUNDS[count + 1] <= magnitude
    return count


def _default_bucket_indices(chunk: np.ndarray) -> np.ndarray:
    """Index into DEFAULT_BUCKET_LIMITS of the bucket [limit[i-1], limit[i]) holding each value."""
    magnitude = np.abs(chunk)
    at_or_below = _count_edges_at_or_below(magnitude)
    negative = chunk < 0
    index = at_or_below + (_K + 2)  # values >= 0
    if negative.any():
        # For v < 0: 1 + #{edges >= |v|} = 1 + K - #{edges < |v|}.
        below = at_or_below[negative]
        below -= _BOUNDS[below] == magnitude[negative]
        index[negative] = (_K + 1) - below
    return index


def _tf_buckets(limits: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Collapse each run of empty buckets into one, as TensorBoard's own histograms do."""
    nonempty = counts > 0
    # Keep a bucket if it is non-empty, or if it is the last of a run of empty ones.
    keep = nonempty | np.append(nonempty[1:], True)
    return limits[keep], counts[keep]


def _flat_values(values: np.ndarray, tag: str) -> np.ndarray:
    if values.size == 0:
        raise ValueError(f"histogram values for tag {tag!r} are empty (shape {values.shape})")
    flat = values.reshape(-1)
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


def _rule_bin_count(flat: np.ndarray, rule: str, lo: float, hi: float) -> int:
    if flat.size <= RULE_SAMPLE:
        sample, scale = flat, 1.0
    else:
        sample = flat[:: -(-flat.size // RULE_SAMPLE)]
        scale = flat.size / sample.size
    edges = np.histogram_bin_edges(sample.astype(np.float64, copy=False), bins=rule, range=(lo, hi))
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
    edges = np.histogram_bin_edges(np.array([lo, hi]), bins=count)
    counts = np.zeros(count, dtype=np.int64)
    for chunk in _chunks(flat):
        counts += np.histogram(chunk, bins=count, range=(edges[0], edges[-1]))[0]
    return edges[1:], counts


def _explicit_histogram(flat: np.ndarray, edges: np.ndarray, stats: _Stats) -> tuple[np.ndarray, np.ndarray]:
    counts = np.zeros(len(edges) - 1, dtype=np.int64)
    below = above = 0
    for chunk in _chunks(flat):
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
        edges = np.asarray(bins, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"bins for tag {tag!r} must be 'default', an int, a NumPy rule or edges; got {bins!r:.80}"
        ) from None
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"bin edges for tag {tag!r} must be 1-D with at least 2 values; got shape {edges.shape}")
    if not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
        raise ValueError(f"bin edges for tag {tag!r} must be finite and strictly increasing; got {bins!r:.80}")
    return edges


def histogram_proto(values: np.ndarray, bins: Bins = "default", *, tag: str = "") -> summary_pb2.HistogramProto:
    """Bucket ``values`` (a NumPy array of real numbers or bools) into a ``HistogramProto``."""
    flat = _flat_values(values, tag)
    stats = _Stats()
    for chunk in _chunks(flat):
        stats.add(chunk)
    _check_finite(stats, flat, tag)

    if isinstance(bins, str):
        if bins == "default":
            counts = np.zeros(len(DEFAULT_BUCKET_LIMITS), dtype=np.int64)
            for chunk in _chunks(flat):
                counts += np.bincount(_default_bucket_indices(chunk), minlength=len(counts))
            limits, counts = _tf_buckets(DEFAULT_BUCKET_LIMITS, counts)
        elif bins in NUMPY_RULES:
            count = _rule_bin_count(flat, bins, stats.min, stats.max)
            limits, counts = _uniform_histogram(flat, count, stats.min, stats.max)
        else:
            raise ValueError(
                f"bins for tag {tag!r} must be 'default', an int, edges or one of {NUMPY_RULES}; got {bins!r}"
            )
    elif isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if not 1 <= bins <= 10_000_000:
            raise ValueError(f"bins for tag {tag!r} must be between 1 and 10,000,000; got {bins}")
        limits, counts = _uniform_histogram(flat, int(bins), stats.min, stats.max)
    else:
        limits, counts = _explicit_histogram(flat, _explicit_edges(bins, tag), stats)

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
