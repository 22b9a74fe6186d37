"""A network's parameters in TensorBoard: statistics, histograms and the first layer's filters.

Shared by ``tb.params`` (at the end of an epoch) and ``mxnet-tb checkpoint`` (from saved ``.params`` files), so both
log the same tags: ``<group>/<stat>/<name>``, ``<group>/hist/<name>`` and ``weights/filters/<name>``, where the
group is ``weights`` (arguments) or ``aux`` (auxiliary states such as BatchNorm's moving statistics).

Example::

    >>> log_parameters(sw, {"weights": {"fc1_weight": w}}, step=3, stats=("norm",))   # doctest: +SKIP
    ['weights/norm/fc1_weight', 'weights/hist/fc1_weight']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from .stats import host_stats

__all__ = ["first_layer_convolutions", "log_parameters"]


def first_layer_convolutions(symbol: Any, shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """Weight names of convolutions fed directly by a data input, whose filters read as 1 or 3 channel images."""
    nodes = json.loads(symbol.tojson())["nodes"]
    names = []
    for node in nodes:
        if node["op"] != "Convolution":
            continue
        inputs = [nodes[i[0]] for i in node["inputs"]]
        if not inputs or inputs[0]["op"] != "null" or inputs[0]["name"] in shapes:
            continue  # the first input must be a data variable, not a parameter
        weight = next((n["name"] for n in inputs[1:] if n["name"].endswith("weight")), None)
        if weight in shapes and len(shapes[weight]) == 4 and shapes[weight][1] in (1, 3):
            names.append(weight)
    return names


def _displayable(filters: np.ndarray) -> np.ndarray:
    """``filters`` with NaN as 0 and +-Inf as the finite extremes, so a diverged layer still draws its image."""
    finite = np.isfinite(filters)
    if finite.all():
        return filters
    low, high = (float(filters[finite].min()), float(filters[finite].max())) if finite.any() else (0.0, 0.0)
    return np.nan_to_num(filters, nan=0.0, posinf=high, neginf=low)


def log_parameters(
    writer: Any,
    groups: dict[str, dict[str, np.ndarray]],
    step: int,
    *,
    stats: Sequence[str],
    histograms: bool = True,
    filters_of: Any = None,
) -> list[str]:
    """Log every array of ``groups`` at ``step``; with a symbol as ``filters_of``, its first conv layer's filters
    as an image grid. Non-finite entries are left out of histograms and counted (``<group>/nonfinite/<name>``, logged
    once an array has any, or with the ``nonfinite`` stat); in filter images NaN shows as 0 and +-Inf as the
    largest or smallest finite value. Never raises on non-finite values. Returns the tags."""
    tags = []
    for group, arrays in groups.items():
        for name, values in arrays.items():
            for stat, number in host_stats(values, stats).items():
                writer.add_scalar(f"{group}/{stat}/{name}", number, step)
                tags.append(f"{group}/{stat}/{name}")
            finite = values if np.isfinite(values).all() else values[np.isfinite(values)]
            if finite.size < values.size and "nonfinite" not in stats:  # a diverged parameter: show the count
                writer.add_scalar(f"{group}/nonfinite/{name}", float(values.size - finite.size), step)
                tags.append(f"{group}/nonfinite/{name}")
            if histograms and finite.size:
                writer.add_histogram(f"{group}/hist/{name}", finite, step)
                tags.append(f"{group}/hist/{name}")
    weights = groups.get("weights", {})
    if filters_of is not None:
        for name in first_layer_convolutions(filters_of, {name: value.shape for name, value in weights.items()}):
            # (O, C, kh, kw): one tile per filter, each scaled to its own range
            filters = _displayable(weights[name])
            writer.add_image(f"weights/filters/{name}", filters, step, normalize=True, scale_each=True, padding=1)
            tags.append(f"weights/filters/{name}")
    return tags
