"""Statistics and a histogram of one named tensor, summed over its per-device copies, written at one step.

On CPU the tensor is copied to the host once and reduced with NumPy; on GPUs it is reduced where it lives and
only scalars and bucket counts are copied back (see ``_training/stats.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._training.stats import device_histogram, device_stats, host_stats
from .._values.names import clean_tag

__all__ = ["HISTOGRAM_STATS", "TensorSummary", "summarize"]

HISTOGRAM_STATS = ("min", "max", "mean", "norm")  # what a histogram from device counts needs


class TensorSummary:
    """What was measured of one tensor: its statistics and the values or buckets of its histogram."""

    def __init__(self, stats: dict[str, float], values: Any = None, buckets: tuple[Any, Any] | None = None) -> None:
        self.stats, self.values, self.buckets = stats, values, buckets

    def write(self, writer: Any, kind: str, name: str, shown: Sequence[str], step: int) -> None:
        """``<kind>/<stat>/<name>`` for each of ``shown``, and ``<kind>/hist/<name>``."""
        for stat in shown:
            writer.add_scalar(f"{kind}/{stat}/{name}", self.stats[stat], step)
        tag = clean_tag(f"{kind}/hist/{name}")
        if self.values is not None:
            writer.add_histogram(tag, self.values, step)
        elif self.buckets is not None:
            edges, counts = self.buckets
            finite = int(counts.sum())
            writer.add_histogram_raw(
                tag,
                float(edges[0]),
                float(edges[-1]),
                finite,
                self.stats["mean"] * finite,
                self.stats["norm"] ** 2,
                edges[1:],
                counts,
                step,
            )


def _on_device(arrays: Sequence[Any]) -> bool:
    return any(a.context.device_type != "cpu" for a in arrays)


def summarize(arrays: Sequence[Any], stats: Sequence[str], histogram: bool) -> TensorSummary:
    """Measure the sum of ``arrays`` (NDArrays, one per device) now, so it may change before it is written."""
    wanted = tuple(dict.fromkeys((*stats, "nonfinite", *(HISTOGRAM_STATS if histogram else ()))))
    if _on_device(arrays):
        total = arrays[0].copy()
        for array in arrays[1:]:
            total += array.as_in_context(total.context)
        measured = device_stats(total, wanted)
        finite = total.size - measured["nonfinite"]
        buckets = device_histogram(total, measured["min"], measured["max"]) if histogram and finite else None
        return TensorSummary(measured, buckets=buckets)
    values = arrays[0].asnumpy()
    for array in arrays[1:]:
        values = values + array.asnumpy()
    measured = host_stats(values, wanted)
    if not histogram:
        return TensorSummary(measured)
    finite = values if not measured["nonfinite"] else values[np.isfinite(values)]
    return TensorSummary(measured, values=finite if finite.size else None)
