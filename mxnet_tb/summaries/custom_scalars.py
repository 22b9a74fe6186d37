"""Custom-scalars layouts: a dashboard of charts that combine scalar tags (CUSTOM SCALARS tab).

A layout is ``{category: {chart title: ['Multiline', [tag regex, ...]] or ['Margin', [value, lower, upper]]}}``
as in tensorboardX. Layouts merge: a later chart with the same category and title replaces the earlier one.

Example::

    >>> layout = check_layout({"loss": {"train vs valid": ["Multiline", ["loss/train", "loss/valid"]]}})
    >>> layout_value(layout).tag
    'custom_scalars__config__'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.custom_scalar import layout_pb2, metadata

from .._values.names import check_text

__all__ = ["Layout", "check_layout", "layout_value", "merge_layouts"]

Layout = dict[str, dict[str, tuple[str, tuple[str, ...]]]]
KINDS = ("Multiline", "Margin")


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{what} must be a non-empty str; got {value!r:.80}")
    return check_text(value, what)


def check_layout(layout: Any) -> Layout:
    """``layout`` validated and normalised to ``{category: {title: (kind, tags)}}``."""
    if not isinstance(layout, Mapping) or not layout:
        raise TypeError(f"layout must be a non-empty dict of category -> {{title: [kind, tags]}}; got {layout!r:.80}")
    out: Layout = {}
    for category, charts in layout.items():
        _text(category, "layout category")
        if not isinstance(charts, Mapping) or not charts:
            raise TypeError(f"charts of layout category {category!r} must be a non-empty dict; got {charts!r:.80}")
        out[category] = {}
        for title, spec in charts.items():
            where = f"chart {title!r} in category {category!r}"
            _text(title, "chart title")
            if not isinstance(spec, Sequence) or isinstance(spec, str) or len(spec) != 2 or spec[0] not in KINDS:
                raise ValueError(f"{where} must be ['Multiline', [tags]] or ['Margin', [value, lower, upper]]")
            kind, tags = spec
            if isinstance(tags, str) or not isinstance(tags, Sequence) or not tags:
                raise TypeError(f"tags of {where} must be a non-empty list of str; got {tags!r:.80}")
            tags = tuple(_text(t, f"tag of {where}") for t in tags)
            if kind == "Margin" and len(tags) != 3:
                raise ValueError(f"{where} is a Margin chart: it needs [value, lower, upper] tags; got {list(tags)}")
            out[category][title] = (kind, tags)
    return out


def merge_layouts(old: Layout, new: Layout) -> Layout:
    """``new`` over ``old``: categories and charts keep their first position, charts of ``new`` win."""
    merged = {category: dict(charts) for category, charts in old.items()}
    for category, charts in new.items():
        merged.setdefault(category, {}).update(charts)
    return merged


def layout_value(layout: Layout) -> summary_pb2.Summary.Value:
    """The plugin's config value: a serialized ``Layout`` proto in a string tensor."""
    proto = layout_pb2.Layout()
    for category, charts in layout.items():
        cat = proto.category.add(title=category)
        for title, (kind, tags) in charts.items():
            chart = cat.chart.add(title=title)
            if kind == "Multiline":
                chart.multiline.tag.extend(tags)
            else:
                chart.margin.series.add(value=tags[0], lower=tags[1], upper=tags[2])
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        string_val=[proto.SerializeToString()],
        tensor_shape=tensor_shape_pb2.TensorShapeProto(),
    )
    return summary_pb2.Summary.Value(
        tag=metadata.CONFIG_SUMMARY_TAG, metadata=metadata.create_summary_metadata(), tensor=tensor
    )
