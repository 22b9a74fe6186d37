"""``SummaryWriter``'s methods for histograms, PR curves, custom-scalar charts, text and graphs.

Each validates its input, builds the summary with ``summaries`` and hands it to the writer.
``SummaryWriter`` lists them in its class body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._io.encode import graph_event
from .._values.convert import to_numpy
from .._values.names import clean_tag
from ..summaries.custom_scalars import check_layout, layout_value, merge_layouts
from ..summaries.graph import Shapes, graph_def
from ..summaries.histogram import Bins, histogram_value, raw_histogram_value
from ..summaries.pr_curve import pr_curve_raw_value, pr_curve_value
from ..summaries.text import text_value
from . import walltime_or_now

__all__ = [
    "add_custom_scalars",
    "add_custom_scalars_marginchart",
    "add_custom_scalars_multilinechart",
    "add_graph",
    "add_histogram",
    "add_histogram_raw",
    "add_pr_curve",
    "add_pr_curve_raw",
    "add_text",
]


def add_histogram(
    self,
    tag: str,
    values: Any,
    global_step: int | None = None,
    bins: Bins = "default",
    walltime: float | None = None,
) -> None:
    """Log the distribution of ``values`` (NDArray, NumPy array or list) under ``tag``.

    ``bins``: ``'default'`` (TensorBoard's exponential buckets), an int number of equal buckets, a
    NumPy rule name such as ``'auto'``, or increasing bucket edges. NaN or Inf values raise ValueError
    with their count; nothing is logged then.

    Example::

        >>> data = mx.nd.random.normal(loc=0, scale=1.0, shape=(10, 3, 8, 8))   # doctest: +SKIP
        >>> sw.add_histogram(tag="norml_dist", values=data, bins=200, global_step=0)   # doctest: +SKIP
    """
    clean = clean_tag(tag)
    value = histogram_value(clean, to_numpy(values, name=f"values for tag {clean!r}"), bins)
    self._write_value("", value, global_step, walltime)


def add_histogram_raw(
    self,
    tag: str,
    min: float,
    max: float,
    num: int,
    sum: float,
    sum_squares: float,
    bucket_limits: Any,
    bucket_counts: Any,
    global_step: int | None = None,
    walltime: float | None = None,
) -> None:
    """Log a histogram already counted elsewhere (on a GPU, in another process) under ``tag``.

    ``bucket_counts[i]`` values fell in ``(bucket_limits[i-1], bucket_limits[i]]`` (the first bucket starts
    at ``min``); ``bucket_limits`` must increase, counts be finite and >= 0, ``num`` the number of values.

    Example::

        >>> sw.add_histogram_raw("w", min=-1.0, max=1.0, num=4, sum=0.0, sum_squares=2.0,
        ...                      bucket_limits=[0.0, 1.0], bucket_counts=[2, 2], global_step=3)  # doctest: +SKIP
    """
    clean = clean_tag(tag)
    value = raw_histogram_value(
        clean,
        min,
        max,
        num,
        sum,
        sum_squares,
        to_numpy(bucket_limits, name=f"bucket_limits for tag {clean!r}"),
        to_numpy(bucket_counts, name=f"bucket_counts for tag {clean!r}"),
    )
    self._write_value("", value, global_step, walltime)


def add_pr_curve(
    self,
    tag: str,
    labels: Any,
    predictions: Any,
    num_thresholds: int = 127,
    global_step: int | None = None,
    weights: Any = None,
    walltime: float | None = None,
) -> None:
    """Log a precision-recall curve (PR CURVES tab) of binary ``labels`` against ``predictions`` in [0, 1].

    Example::

        >>> sw.add_pr_curve("pr/cat", labels == 3, probs[:, 3], global_step=epoch)   # doctest: +SKIP
    """
    clean = clean_tag(tag)
    where = f"for tag {clean!r}"
    value = pr_curve_value(
        clean,
        to_numpy(labels, name=f"labels {where}"),
        to_numpy(predictions, name=f"predictions {where}"),
        num_thresholds,
        None if weights is None else to_numpy(weights, name=f"weights {where}"),
    )
    self._write_value("", value, global_step, walltime)


def add_pr_curve_raw(
    self,
    tag: str,
    true_positive_counts: Any,
    false_positive_counts: Any,
    true_negative_counts: Any,
    false_negative_counts: Any,
    precision: Any,
    recall: Any,
    global_step: int | None = None,
    num_thresholds: int | None = None,
    walltime: float | None = None,
) -> None:
    """Log a PR curve from precomputed per-threshold arrays (all of one length, the number of thresholds).

    Example::

        >>> sw.add_pr_curve_raw("pr", tp, fp, tn, fn, precision, recall, global_step=0)   # doctest: +SKIP
    """
    clean = clean_tag(tag)
    arrays = (true_positive_counts, false_positive_counts, true_negative_counts, false_negative_counts)
    names = ("true_positive_counts", "false_positive_counts", "true_negative_counts", "false_negative_counts")
    rows = [
        to_numpy(a, name=f"{n} for tag {clean!r}")
        for a, n in zip((*arrays, precision, recall), (*names, "precision", "recall"))
    ]
    self._write_value("", pr_curve_raw_value(clean, rows, num_thresholds), global_step, walltime)


def add_custom_scalars(self, layout: Mapping[str, Mapping[str, Any]]) -> None:
    """Define charts of the CUSTOM SCALARS tab: ``{category: {title: ['Multiline', [tag regexes]]}}``.

    A chart is ``['Multiline', [tag, ...]]`` (tags are regular expressions) or
    ``['Margin', [value_tag, lower_tag, upper_tag]]``. Calls merge: a chart with the same category and title
    replaces the earlier one.

    Example::

        >>> chart = ["Multiline", ["loss/train", "loss/valid"]]            # doctest: +SKIP
        >>> sw.add_custom_scalars({"loss": {"train vs valid": chart}})     # doctest: +SKIP
    """
    new = check_layout(layout)
    with self._layout_lock:
        merged = merge_layouts(self._custom_layout, new)
        self._write_value("", layout_value(merged), None, None)
        self._custom_layout = merged


def add_custom_scalars_multilinechart(
    self, tags: list[str], category: str = "default", title: str = "untitled"
) -> None:
    """Add one chart of several scalar tags (regular expressions) to the CUSTOM SCALARS tab.

    Example::

        >>> sw.add_custom_scalars_multilinechart(["loss/.*"], category="loss", title="all")   # doctest: +SKIP
    """
    _add_chart(self, "Multiline", tags, category, title)


def add_custom_scalars_marginchart(self, tags: list[str], category: str = "default", title: str = "untitled") -> None:
    """Add a chart of a value with a lower and upper margin, ``tags = [value, lower, upper]``.

    Example::

        >>> sw.add_custom_scalars_marginchart(["acc", "acc_low", "acc_high"], title="acc")   # doctest: +SKIP
    """
    _add_chart(self, "Margin", tags, category, title)


def _add_chart(self, kind: str, tags: Any, category: Any, title: Any) -> None:
    for what, text in (("category", category), ("title", title)):
        if not isinstance(text, str):
            raise TypeError(f"chart {what} must be a str; got {type(text).__name__}: {text!r:.80}")
    self.add_custom_scalars({category: {title: [kind, tags]}})


def add_text(self, tag: str, text: str, global_step: int | None = None, walltime: float | None = None) -> None:
    """Log ``text`` (Markdown) under ``tag``; the TEXT tab shows it.

    Example::

        >>> sw.add_text("config", "lr = 0.1, batch = 64")   # doctest: +SKIP
    """
    clean = clean_tag(tag)
    self._write_value("", text_value(clean, text), global_step, walltime)


def add_graph(self, net: Any, shapes: Shapes | None = None, walltime: float | None = None) -> None:
    """Log the network ``net`` for TensorBoard's GRAPHS tab.

    ``net`` is an ``mx.sym.Symbol`` (grouped outputs too), the path of a ``-symbol.json`` file, or a Gluon
    ``HybridBlock``, which is called on ``mx.sym.var('data')`` (no forward pass or initialization needed).
    With ``shapes`` (``{input name: shape}``), every edge shows its tensor's shape. Operators keep their
    attributes; parameters and auxiliary states sit in their operator's scope (``conv0/weight``). The
    network is checked and converted before anything is written (TypeError or ValueError otherwise, and
    FileNotFoundError for a missing file).
    Log one graph per run: given several, TensorBoard's Python loader shows the first, its Rust data server
    (``--load_fast``) the last.

    Example::

        >>> net = mx.gluon.model_zoo.vision.resnet50_v1()   # doctest: +SKIP
        >>> sw.add_graph(net, shapes={"data": (1, 3, 224, 224)})   # doctest: +SKIP
        >>> sw.add_graph("model-symbol.json")   # doctest: +SKIP
    """
    wall = walltime_or_now(walltime)
    graph = graph_def(net, shapes).SerializeToString(deterministic=True)
    self._write_event("", graph_event(graph, wall))


# -- internals ----------------------------------------------------------------------------------------
