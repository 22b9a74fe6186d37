"""The doctor's rules: the decisions ``Thresholds`` (``thresholds.py``) make from the monitors' statistics.

Pure and single-threaded: ``Diagnosis.record`` stores a step's per-tensor statistics (from any thread, locked),
``Diagnosis.conclude(step)`` decides every tensor rule for that step, in step order, and ``Diagnosis.loss``
decides the loss rules for one logged loss. Nothing here writes or warns (``mxnet_tb/doctor.py`` does).

A rule in alarm for a tensor counts it; an alarm that another rule already in alarm explains (a dead ReLU
after the weights exploded, a stalled loss while gradients vanish) is reported as explained and not counted,
so one cause raises one alert.

Example::

    >>> d = Diagnosis(Thresholds())
    >>> d.record(0, "grads", ["fc0_weight"], {"norm": np.array([1e-9]), "nonfinite": np.array([0.0])}, [4096])
    >>> d.conclude(0).counts["vanishing_gradients"]
    1
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .thresholds import Thresholds

__all__ = ["LOSS_RULES", "RULES", "TENSOR_RULES", "Alarm", "Diagnosis", "PerList", "Thresholds", "Verdict"]


TENSOR_RULES = (
    "vanishing_gradients",
    "exploding_tensors",
    "update_ratio",
    "dead_relu",
    "saturated_activation",
    "nonfinite_tensors",
)
LOSS_RULES = ("loss_not_decreasing", "nonfinite_loss")
RULES = TENSOR_RULES + LOSS_RULES

# Which alarms another rule explains: rule -> rules whose alarm (this step or earlier) explains it.
_EXPLAINED_BY: dict[str, tuple[str, ...]] = {
    "vanishing_gradients": ("exploding_tensors", "nonfinite_tensors", "saturated_activation"),
    "update_ratio": (
        "vanishing_gradients",
        "exploding_tensors",
        "nonfinite_tensors",
        "saturated_activation",
        "dead_relu",
    ),
    "dead_relu": ("exploding_tensors", "nonfinite_tensors"),
    "saturated_activation": ("exploding_tensors", "nonfinite_tensors"),
    "loss_not_decreasing": (*TENSOR_RULES, "nonfinite_loss"),
}

_READ = {"norm", "nonfinite", "zero_fraction", "sigmoid_saturation", "tanh_saturation", "update_ratio"}  # by rules


@dataclass
class Alarm:
    """One rule in alarm at ``step``: its tensors with the value judged, and what explains it, if anything."""

    rule: str
    step: int
    tensors: list[tuple[str, float]]
    detail: str = ""  # e.g. "too small" for update ratios
    explained_by: str | None = None


@dataclass
class Verdict:
    """A step's decisions: ``counts[rule]`` (tensors in alarm, 0 when explained), the alarms, and ``first``:
    the rules whose first counted alarm this is (one warning each)."""

    step: int
    counts: dict[str, int]
    alarms: list[Alarm] = field(default_factory=list)
    first: list[Alarm] = field(default_factory=list)
    changed: bool = False  # a rule fired or was explained for the first time: the report changes


class PerList:
    """Values worked out once per list of names (a monitor's plan keeps the same list object every batch)."""

    def __init__(self, limit: int = 1000) -> None:
        self._known: dict[tuple[Any, int], tuple[Sequence[str], Any]] = {}
        self._limit = limit

    def get(self, names: Sequence[str], make: Callable[[], Any], kind: Any = None) -> Any:
        """``make()`` the first time ``names`` (this very object) comes with ``kind``; then what it made."""
        key = (kind, id(names))
        known = self._known.get(key)
        if known is None or known[0] is not names:
            if len(self._known) > self._limit:
                self._known.clear()
            known = self._known[key] = (names, make())
        return known[1]


@dataclass
class _Table:
    """Statistics of one kind of tensor at one step: ``columns[stat][i]`` of tensor ``names[i]``."""

    names: list[str]
    columns: dict[str, np.ndarray]
    sizes: np.ndarray

    def column(self, stat: str, default: float) -> np.ndarray:
        found = self.columns.get(stat)
        return found if found is not None else np.full(len(self.names), default)


_EMPTY = _Table([], {}, np.zeros(0))


def _merged(chunks: list[_Table]) -> _Table:
    """One table of ``chunks`` (recorded in order); a tensor recorded twice keeps its last statistics."""
    if len(chunks) == 1:
        return chunks[0]
    last = {name: (c, i) for c, chunk in enumerate(chunks) for i, name in enumerate(chunk.names)}
    names = list(last)
    stats = {stat for chunk in chunks for stat in chunk.columns}
    columns = {
        stat: np.array([chunks[c].column(stat, math.nan)[i] for c, i in last.values()], dtype=np.float64)
        for stat in stats
    }
    sizes = np.array([chunks[c].sizes[i] for c, i in last.values()], dtype=np.float64)
    return _Table(names, columns, sizes)


@dataclass
class _Observed:
    """One step's statistics: chunks of ``_Table`` by kind, and the roles of activation outputs."""

    chunks: dict[str, list[_Table]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # activation output -> 'relu' | 'sigmoid' | 'tanh'

    def add(self, other: _Observed) -> None:
        for kind, chunks in other.chunks.items():
            self.chunks.setdefault(kind, []).extend(chunks)
        self.roles.update(other.roles)

    def table(self, kind: str) -> _Table:
        chunks = self.chunks.get(kind)
        return _merged(chunks) if chunks else _EMPTY


class Diagnosis:
    """The rules' state over a run: baselines, patience counters, the loss history, what has fired."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        self._weights = re.compile(thresholds.weight_pattern)
        self._loss = re.compile(thresholds.loss_pattern)
        self._lock = threading.Lock()
        self._steps: dict[int, _Observed] = {}
        self._ratios: dict[int, _Observed] = {}  # a step's update ratios come with a later batch: judged later
        self._baseline: dict[tuple[str, str], float] = {}  # (kind, tensor) -> first non-zero finite norm
        self._out_of_band: dict[str, int] = {}  # tensor -> update ratios out of band in a row
        self._saturated: dict[str, int] = {}  # activation output -> judged steps saturated in a row
        self._losses: list[tuple[int, float]] = []
        self._first_loss: float | None = None
        self._first_loss_step: int | None = None
        self._bad_loss: tuple[int, float] | None = None  # the first NaN/Inf loss since the last judgement
        self._weight_masks = PerList()  # which names weight_pattern takes
        self._baseline_arrays = PerList()  # (kind) the baselines of the names, NaN until set
        self.fired: dict[str, Alarm] = {}  # rule -> its first counted alarm
        self.explained: dict[str, Alarm] = {}  # rule -> its first alarm another rule explained

    # -- observations (any thread) ---------------------------------------------------------------------------

    def record(
        self,
        step: int,
        kind: str,
        names: Sequence[str],
        stats: Mapping[str, np.ndarray],
        sizes: Sequence[int] | None = None,
        roles: Mapping[str, str] | None = None,
    ) -> None:
        """Keep ``stats[stat][i]`` of tensor ``names[i]`` (kind ``'grads'``, ``'weights'``, ``'update_ratio'`` or
        ``'activations'``) for ``conclude(step)``; update ratios of ``step`` by the next ``conclude``."""
        count = len(names)
        columns = {s: np.asarray(v, dtype=np.float64).reshape(count) for s, v in stats.items() if s in _READ}
        names = names if isinstance(names, list) else list(names)  # kept as given: the weight mask is cached by it
        table = _Table(names, columns, np.zeros(count) if sizes is None else np.asarray(sizes, np.float64))
        with self._lock:
            observed = (self._ratios if kind == "update_ratio" else self._steps).setdefault(step, _Observed())
            observed.chunks.setdefault(kind, []).append(table)
            if roles:
                observed.roles.update(roles)

    # -- decisions (one thread, in step order) ------------------------------------------------------------

    def conclude(self, step: int) -> Verdict:
        """Decide every tensor rule on what was recorded for ``step`` and the update ratios of earlier steps
        (then forgotten). Statistics of later steps, recorded already, wait for their own ``conclude``."""
        with self._lock:  # late statistics of earlier steps too; update ratios only of earlier steps
            parts = [self._steps.pop(key) for key in sorted(key for key in self._steps if key <= step)]
            parts += [self._ratios.pop(key) for key in sorted(key for key in self._ratios if key < step)]
        observed = _Observed()
        for part in parts:
            observed.add(part)
        found: dict[str, Alarm] = {}
        self._judge_nonfinite(step, observed, found)
        self._judge_exploding(step, observed, found)
        self._judge_vanishing(step, observed, found)
        self._judge_update_ratio(step, observed, found)
        self._judge_activations(step, observed, found)
        return self._verdict(step, found, TENSOR_RULES)

    def is_loss(self, tag: str) -> bool:
        return self._loss.fullmatch(tag) is not None

    def add_loss(self, step: int, value: float) -> None:
        """Keep one logged training loss for the next ``judge_loss`` (any thread)."""
        with self._lock:
            if not math.isfinite(value):
                if self._bad_loss is None:
                    self._bad_loss = (step, value)
                return
            if self._first_loss is None:
                self._first_loss, self._first_loss_step = value, step
            self._losses.append((step, value))

    def judge_loss(self, step: int) -> Verdict:
        """Decide the loss rules on the losses kept up to ``step`` (a NaN/Inf one since the last call fires)."""
        found: dict[str, Alarm] = {}
        with self._lock:
            bad, self._bad_loss = self._bad_loss, None
            losses = [(s, v) for s, v in self._losses if s <= step]
        if bad is not None:
            found["nonfinite_loss"] = Alarm("nonfinite_loss", bad[0], [("loss", bad[1])])
        if losses:
            self._judge_loss(step, losses, found)
        return self._verdict(step, found, LOSS_RULES)

    def loss(self, step: int, value: float) -> Verdict:
        """``add_loss`` then ``judge_loss`` at its step."""
        self.add_loss(step, value)
        return self.judge_loss(step)

    # -- the rules ------------------------------------------------------------------------------------------

    def _is_weight(self, names: list[str]) -> np.ndarray:
        """Which ``names`` ``weight_pattern`` takes."""
        return self._weight_masks.get(names, lambda: np.array([self._weights.match(n) is not None for n in names]))

    def _judge_nonfinite(self, step: int, observed: _Observed, found: dict[str, Alarm]) -> None:
        bad = []
        for kind in ("grads", "weights", "activations"):
            table = observed.table(kind)
            if not table.names:
                continue
            count, norm = table.column("nonfinite", 0.0), table.column("norm", 0.0)
            if not count.any() and np.isfinite(norm).all():  # the usual case, at once
                continue
            for i in np.flatnonzero((count > 0) | ~np.isfinite(norm)):
                bad.append((f"{kind}/{table.names[i]}", float(count[i]) if count[i] else math.nan))
        if bad:
            found["nonfinite_tensors"] = Alarm("nonfinite_tensors", step, bad)

    def _baselines(self, kind: str, names: list[str]) -> np.ndarray:
        """The baseline norm of each of ``names`` (NaN until set), kept as one array per list of names."""
        return self._baseline_arrays.get(
            names, lambda: np.array([self._baseline.get((kind, name), math.nan) for name in names]), kind
        )

    def _judge_exploding(self, step: int, observed: _Observed, found: dict[str, Alarm]) -> None:
        growth, floor, bad = self.thresholds.exploding_growth, self.thresholds.vanishing_rms, []
        for kind in ("grads", "weights"):
            table = observed.table(kind)
            if not table.names:
                continue
            norm = table.column("norm", math.nan)
            judged = self._is_weight(table.names) & np.isfinite(norm) & (norm != 0)
            base = self._baselines(kind, table.names)
            new = judged & np.isnan(base)  # the first norm not vanishing (growing out of a vanishing start is not)
            if kind == "grads":
                new &= norm / np.sqrt(np.maximum(table.sizes, 1)) >= floor
            for i in np.flatnonzero(new):
                base[i] = self._baseline.setdefault((kind, table.names[i]), float(norm[i]))
            grown = judged & ~np.isnan(base)
            grown[grown] = norm[grown] >= growth * base[grown]
            bad += [(f"{kind}/{table.names[i]}", float(norm[i] / base[i])) for i in np.flatnonzero(grown)]
        if bad:
            found["exploding_tensors"] = Alarm("exploding_tensors", step, bad, f"norm grew >= {growth:g}x")

    def _judge_vanishing(self, step: int, observed: _Observed, found: dict[str, Alarm]) -> None:
        limit, ratio, table = self.thresholds.vanishing_rms, self.thresholds.vanishing_ratio, observed.table("grads")
        if not table.names:
            return
        norm = table.column("norm", math.nan)
        rms = norm / np.sqrt(np.maximum(table.sizes, 1))  # NaN stays NaN: no comparison below is true for it
        judged = self._is_weight(table.names) & (table.sizes > 0) & np.isfinite(norm) & (norm != 0)
        top = float(rms[judged].max()) if judged.any() else 0.0
        bad = judged & ((rms < limit) | (rms < ratio * top))
        alarms = [(f"grads/{table.names[i]}", float(rms[i])) for i in np.flatnonzero(bad)]
        if alarms:
            detail = f"rms < {limit:g}, or < {ratio:g} x the largest weight gradient's ({top:.3g})"
            found["vanishing_gradients"] = Alarm("vanishing_gradients", step, alarms, detail)

    def _judge_update_ratio(self, step: int, observed: _Observed, found: dict[str, Alarm]) -> None:
        (low, high), patience = self.thresholds.update_ratio_band, self.thresholds.update_ratio_patience
        table = observed.table("update_ratio")
        small, big = [], []
        ratios = table.column("update_ratio", math.nan)
        for name, ratio, weight in zip(table.names, ratios.tolist(), self._is_weight(table.names).tolist()):
            if not weight or not math.isfinite(ratio) or ratio == 0 or low < ratio < high:
                self._out_of_band.pop(name, None)
                continue
            self._out_of_band[name] = self._out_of_band.get(name, 0) + 1
            if self._out_of_band[name] >= patience:
                (small if ratio <= low else big).append((f"weights/{name}", ratio))
        if small or big:
            detail = "out of band" if small and big else f"below {low:g}" if small else f"above {high:g}"
            found["update_ratio"] = Alarm("update_ratio", step, small + big, detail)

    def _judge_activations(self, step: int, observed: _Observed, found: dict[str, Alarm]) -> None:
        limits, table = self.thresholds, observed.table("activations")
        if not table.names:
            return
        roles = [observed.roles.get(name) for name in table.names]
        zero = table.column("zero_fraction", math.nan)
        sigmoid, tanh = table.column("sigmoid_saturation", math.nan), table.column("tanh_saturation", math.nan)
        dead, saturated = [], []
        for i, role in enumerate(roles):
            if role == "relu" and zero[i] >= limits.dead_fraction:
                dead.append((f"activations/{table.names[i]}", float(zero[i])))
            elif role in ("sigmoid", "tanh"):
                name = table.names[i]
                fraction = sigmoid[i] if role == "sigmoid" else tanh[i]
                if not fraction >= limits.saturated_fraction:
                    self._saturated.pop(name, None)
                    continue
                self._saturated[name] = self._saturated.get(name, 0) + 1
                if self._saturated[name] >= limits.saturation_patience:
                    saturated.append((f"activations/{name}", float(fraction)))
        if dead:
            found["dead_relu"] = Alarm("dead_relu", step, dead, f"zero fraction >= {limits.dead_fraction:g}")
        if saturated:
            found["saturated_activation"] = Alarm(
                "saturated_activation", step, saturated, f"saturated fraction >= {limits.saturated_fraction:g}"
            )

    def _judge_loss(self, step: int, losses: list[tuple[int, float]], found: dict[str, Alarm]) -> None:
        limits = self.thresholds
        window = limits.loss_window
        assert self._first_loss is not None and self._first_loss_step is not None
        if step - self._first_loss_step < 2 * window - 1:
            return
        recent = [v for s, v in losses if s > step - window]
        earlier = [v for s, v in losses if step - 2 * window < s <= step - window]
        with self._lock:  # only the last two windows are ever needed again
            self._losses = [(s, v) for s, v in self._losses if s > step - 2 * window]
        if not recent or not earlier:
            return
        now, before = math.fsum(recent) / len(recent), math.fsum(earlier) / len(earlier)
        converged = abs(now) <= limits.loss_converged * abs(self._first_loss)
        if now >= (1 - limits.loss_min_decrease) * before and not converged:
            detail = f"mean {now:.4g} over the last {window} steps, {before:.4g} over the {window} before"
            found["loss_not_decreasing"] = Alarm("loss_not_decreasing", step, [("loss", now)], detail)

    # -- verdict --------------------------------------------------------------------------------------------

    def _verdict(self, step: int, found: dict[str, Alarm], rules: Sequence[str]) -> Verdict:
        verdict = Verdict(step, {rule: 0 for rule in rules})
        for rule in rules:
            alarm = found.get(rule)
            if alarm is None:
                continue
            alarm.explained_by = self._explanation(rule, alarm, found)
            if alarm.explained_by is not None and rule not in self.explained and rule not in self.fired:
                self.explained[rule] = alarm
                verdict.changed = True
            verdict.alarms.append(alarm)
            if alarm.explained_by is None:
                verdict.counts[rule] = len(alarm.tensors)
                if rule not in self.fired:
                    self.fired[rule] = alarm
                    verdict.first.append(alarm)
                    verdict.changed = True
        return verdict

    def _explanation(self, rule: str, alarm: Alarm, found: dict[str, Alarm]) -> str | None:
        causes = _EXPLAINED_BY.get(rule, ())
        if rule == "update_ratio" and not alarm.detail.startswith("below"):  # too big: not from vanishing
            causes = causes[1:]
        for cause in causes:  # in alarm at this step (counted or itself explained), or fired earlier
            if cause in found or cause in self.fired or cause in self.explained:
                return cause
        return None
