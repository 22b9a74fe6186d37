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


# Operators that compute features: a convolution after one of them is not on the network's first layer.
_FEATURE_LAYERS = {
    "Convolution",
    "Deconvolution",
    "FullyConnected",
    "RNN",
    "Embedding",
    "_contrib_DeformableConvolution",
}
_CONSTANT, _FROM_DATA, _AFTER_LAYER = 0, 1, 2


def first_layer_convolutions(symbol: Any, shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """Weight names of the first convolutions on the data path whose filters read as 1 or 3 channel images.

    Whatever precedes such a convolution without learning features counts as the data path: ``identity``,
    ``BatchNorm`` on the data (ResNet), mean subtraction, casts, pooling. A convolution whose input also
    depends on another layer's output (after a residual sum, say) is not a first layer. ``shapes`` holds the
    parameters; the symbol's other arguments (data, labels) are its inputs.
    """
    nodes = json.loads(symbol.tojson())["nodes"]
    inputs = set(symbol.list_arguments()) - set(shapes)
    origin = []  # per node: computed from constants only, from the data, or after a feature layer
    names = []
    for node in nodes:
        if node["op"] == "null":
            origin.append(_FROM_DATA if node["name"] in inputs else _CONSTANT)
            continue
        sources = [origin[i[0]] for i in node["inputs"]]
        if node["op"] == "Convolution" and sources and sources[0] == _FROM_DATA:
            weight = next(
                (nodes[i[0]]["name"] for i in node["inputs"][1:] if nodes[i[0]]["name"].endswith("weight")), None
            )
            if weight in shapes and len(shapes[weight]) == 4 and shapes[weight][1] in (1, 3):
                names.append(weight)
        origin.append(_AFTER_LAYER if node["op"] in _FEATURE_LAYERS else max(sources, default=_CONSTANT))
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
