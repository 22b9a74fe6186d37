"""What a logged batch becomes, off the training thread: its staged results read back, reduced, encoded.

A ``Plan`` is fixed per set of tensor names (the tags, computed and cleaned once); a ``BatchReport`` holds one
batch's ``Staged`` results and, when the writer's encoder thread calls ``values()``, reads them (one
``asnumpy`` per dtype group), computes every statistic and histogram of every tensor together
(``_training.fused_stats``) and returns the batch's single event's values, encoded (``_io.encode``).

Example::

    >>> report = BatchReport(plan, staged, scale=1.0)              # doctest: +SKIP
    >>> writer.add_summary_later(plan.tags, report.values, step)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .._io.encode import ScalarBlock, histogram_summary
from .._training.fused_stats import fused_histograms, fused_stats, segments
from .._training.stats import read_device_stats
from .._values.names import clean_tag
from ._staging import Staged

__all__ = ["HISTOGRAM_STATS", "BatchReport", "Plan", "StatsListener", "UpdateRatios", "device_stats_of"]

HISTOGRAM_STATS = ("min", "max", "mean", "norm")  # what a histogram from device counts needs, in this order
StatsListener = Callable[[dict[str, np.ndarray]], None]  # told {stat: one value per tensor of the batch}


def device_stats_of(plan: Plan) -> tuple[str, ...]:
    """The statistics a device-reduced batch computes per tensor (histograms need min and max first)."""
    first = HISTOGRAM_STATS if plan.histograms else ()
    return tuple(dict.fromkeys((*first, *plan.stats, "nonfinite", *plan.extra_stats, *plan.also)))


@dataclass(frozen=True)
class Plan:
    """The tags of one monitor's batches over ``names``: ``<kind>/<stat>/<name>``, ``<kind>/hist/<name>``.

    ``extra[i]`` lists statistics logged for tensor ``i`` only (an activation monitor's ``zero_fraction`` of
    ReLU outputs); ``global_norm`` adds ``<kind>/global_norm``, the norm of all the tensors together; ``also``
    names statistics computed for a listener but not logged.
    """

    kind: str
    names: tuple[str, ...]
    stats: tuple[str, ...]
    histograms: bool
    extra: tuple[tuple[str, ...], ...] = ()
    global_norm: bool = False
    also: tuple[str, ...] = ()  # computed, not logged: what a listener (the doctor) reads besides
    scalar_tags: dict[str, list[str]] = field(init=False, repr=False)
    block: ScalarBlock = field(init=False, repr=False)  # every scalar: stats by stat, extras, the global norm
    extra_tags: list[list[str]] = field(init=False, repr=False)
    hist_tags: list[str] = field(init=False, repr=False)
    tags: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        extra = self.extra or tuple(() for _ in self.names)
        object.__setattr__(self, "extra", extra)
        scalar = {stat: [clean_tag(f"{self.kind}/{stat}/{name}") for name in self.names] for stat in self.stats}
        extra_tags = [[clean_tag(f"{self.kind}/{s}/{name}") for s in more] for name, more in zip(self.names, extra)]
        hist = [clean_tag(f"{self.kind}/hist/{name}") for name in self.names] if self.histograms else []
        tags = [tag for stat in self.stats for tag in scalar[stat]] + [t for more in extra_tags for t in more] + hist
        if self.global_norm:
            tags.append(clean_tag(f"{self.kind}/global_norm"))
        object.__setattr__(self, "scalar_tags", scalar)
        object.__setattr__(self, "extra_tags", extra_tags)
        object.__setattr__(self, "hist_tags", hist)
        object.__setattr__(self, "tags", tuple(dict.fromkeys(tags)))
        scalars = [tag for stat in self.stats for tag in scalar[stat]] + [t for more in extra_tags for t in more]
        object.__setattr__(self, "block", ScalarBlock(scalars + tags[-1:] if self.global_norm else scalars))

    @property
    def extra_stats(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(stat for more in self.extra for stat in more))

    def needed(self) -> tuple[str, ...]:
        """Statistics computed per tensor: the logged ones, ``nonfinite`` (always), ``norm`` for the global norm."""
        norm = ("norm",) if self.global_norm else ()
        return tuple(dict.fromkeys((*self.stats, "nonfinite", *self.extra_stats, *norm, *self.also)))


def _f8(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype="<f8").tobytes()


class BatchReport:
    """One logged batch: ``values()`` reads its staged results and returns them encoded; then ``nonfinite`` is set.

    ``scale`` multiplies every tensor first (``GradMonitor(effective=True)``), as the host would.
    """

    def __init__(self, plan: Plan, staged: Staged, scale: float = 1.0, on_stats: StatsListener | None = None) -> None:
        self.plan = plan
        self.staged = staged
        self.scale = scale
        self.nonfinite: dict[str, float] = {}
        self.on_stats = on_stats  # told every statistic computed, by name (the doctor's rules read them)

    def values(self) -> list[bytes]:
        staged, self.staged = self.staged, None  # type: ignore[assignment]  # release the device copies soon
        if staged.what == "values":
            return self._from_values(staged)
        if staged.what == "sum_squares":
            return self._from_sum_squares(staged)
        return self._from_device_stats(staged)

    # -- the three kinds of staged results ------------------------------------------------------------------

    def _from_values(self, staged: Staged) -> list[bytes]:
        plan, count = self.plan, len(self.plan.names)
        needed = plan.needed()
        stats = {stat: np.zeros(count) for stat in needed}
        hist = None
        everything_squared = 0.0
        for group, values in staged.read():
            if self.scale != 1.0:
                values = values * self.scale
            seg = segments(staged.sizes[group])
            part = fused_stats(values, seg, needed)
            for stat in needed:
                stats[stat][group] = part[stat]
            if plan.global_norm and part["nonfinite"].any():
                wide = values.astype(np.float64)
                with np.errstate(all="ignore"):
                    everything_squared += float(np.dot(wide, wide))  # NaN or Inf, as clipping would see
            elif plan.global_norm:
                everything_squared += float(np.dot(part["norm"], part["norm"]))
            if plan.histograms:
                counted = fused_histograms(values, seg)
                if hist is None:
                    hist = {key: [None] * count for key in ("counted", "index")}
                for position, index in enumerate(group):
                    hist["counted"][index], hist["index"][index] = counted, position
        result = [self._scalars(stats, np.sqrt(everything_squared))]
        if hist is not None:
            collapsed = {}
            for i, tag in enumerate(plan.hist_tags):
                counted, position = hist["counted"][i], hist["index"][i]
                if counted.num[position] == 0:
                    continue
                if id(counted) not in collapsed:
                    limits, counts, ends = counted.collapsed()
                    collapsed[id(counted)] = (_f8(limits), _f8(counts), ends)
                limits, counts, ends = collapsed[id(counted)]
                start, end = 8 * (int(ends[position - 1]) if position else 0), 8 * int(ends[position])
                figures = (
                    float(counted.min[position]),
                    float(counted.max[position]),
                    float(counted.num[position]),
                    float(counted.sum[position]),
                    float(counted.sum_squares[position]),
                )
                result.append(histogram_summary(tag, figures, limits[start:end], counts[start:end]))
        return result

    def _from_sum_squares(self, staged: Staged) -> list[bytes]:
        plan = self.plan
        squares = np.zeros(len(plan.names))
        for group, array in staged.read():
            squares[group] = array.astype(np.float64)
        squares *= self.scale * self.scale
        return [self._scalars({"norm": np.sqrt(squares)}, np.sqrt(squares.sum()))]

    def _from_device_stats(self, staged: Staged) -> list[bytes]:
        from .._training.stats import DEVICE_HISTOGRAM_BINS

        plan = self.plan
        names = device_stats_of(plan)
        width = len(names) + 2 + (DEVICE_HISTOGRAM_BINS if plan.histograms else 0)
        ((_, array),) = staged.read()
        table = array.reshape(len(plan.names), width)
        stats = {stat: np.zeros(len(plan.names)) for stat in names}
        squares = 0.0
        for i, row in enumerate(table):
            for stat, value in read_device_stats(row, names).items():
                stats[stat][i] = value
            squares += float(row[len(names) + 1])
        result = [self._scalars(stats, np.sqrt(squares))]
        for i, tag in enumerate(plan.hist_tags):
            row = table[i]
            finite = int(row[len(names)])
            if not finite:
                continue
            low, high = stats["min"][i], stats["max"][i]
            if low == high:
                low, high = low - 0.5, high + 0.5
            edges = np.linspace(low, high, DEVICE_HISTOGRAM_BINS + 1)
            low, high = edges[0], edges[-1]
            counts = row[len(names) + 2 :]
            figures = (float(low), float(high), float(finite), stats["mean"][i] * finite, stats["norm"][i] ** 2)
            result.append(histogram_summary(tag, figures, _f8(edges[1:]), _f8(counts)))
        return result

    def _scalars(self, stats: dict[str, np.ndarray], global_norm: float) -> bytes:
        """Every scalar of the batch, encoded at once; sets ``nonfinite``."""
        plan = self.plan
        if "nonfinite" in stats:
            self.nonfinite = dict(zip(plan.names, stats["nonfinite"].tolist()))
        if self.on_stats is not None:
            self.on_stats(stats)
        numbers = [stats[stat] for stat in plan.stats]
        numbers += [np.array([stats[stat][i] for stat in more]) for i, more in enumerate(plan.extra) if more]
        if plan.global_norm:
            numbers.append(np.array([global_norm]))
        return plan.block.fill(np.concatenate(numbers)) if numbers else b""


class UpdateRatios:
    """``||w_after - w_before|| / ||w_after||`` per tensor, from two staged copies (``values()`` as BatchReport)."""

    def __init__(
        self, tags: Sequence[str], before: Staged, after: Staged, on_stats: StatsListener | None = None
    ) -> None:
        self.tags, self.before, self.after = tags, before, after
        self.on_stats = on_stats

    def values(self) -> list[bytes]:
        ratios = np.zeros(len(self.tags))
        for (group, old), (_, after) in zip(self.before.read(), self.after.read()):
            new = after.astype(np.float64)
            seg = segments(self.after.sizes[group])
            with np.errstate(all="ignore"):
                change = np.sqrt(seg.sum(np.square(new - old)))
                norm = np.sqrt(seg.sum(new * new))
                ratios[group] = np.where(norm != 0, change / norm, np.nan)
        if self.on_stats is not None:
            self.on_stats({"update_ratio": ratios})
        return [ScalarBlock(self.tags).fill(ratios)]
