"""MXNet training-log lines in, TensorBoard points out: a pure parser (no I/O) for ``mxnet-tb import-log``.

Lines recognised anywhere in a line (so any logging prefix such as ``INFO:root:`` or a timestamp is fine):

==================================================================  =========================================
line                                                                tags
==================================================================  =========================================
``Epoch[3] Batch [200-300]\\tSpeed: 1234.56 samples/sec\\tacc=0.91``  ``train/samples_per_sec``, ``train/acc``
``Epoch[3] Batch [300]\\tSpeed: ...\\tTrain-acc=0.91`` (older)        the same (a ``Train-`` prefix is dropped)
``Iter[3] Batch [300]\\tSpeed: ...`` (Speedometer without a metric)   ``train/samples_per_sec``
``Epoch[3] Train-acc=0.93``                                          ``train/epoch_acc``
``Epoch[3] Time cost=12.345``                                        ``train/epoch_time``
``Epoch[3] Validation-acc=0.90``                                     ``val/acc``
``Batch:     100 fc1_weight            0.0123`` (``Monitor``)         ``monitor/fc1_weight``
==================================================================  =========================================

Steps follow mxnet_tb's callbacks: the global step of batch ``b`` (0-based, as ``Speedometer`` prints it) of
epoch ``e`` is ``e * B + b``, where ``B`` is the number of batches per epoch; epoch-level values (train and
validation metrics, time cost) go to the step of the epoch's last batch, ``(e + 1) * B - 1``, so they line up
with the per-batch curves. ``Monitor.toc_print`` prints its own batch count ``N`` (1 for the first batch it
saw), i.e. the global step ``N - 1`` counted from the first epoch of the log (or of the restart, when the count
starts again). ``B`` is given, or learned as the smallest number consistent with the log: every Speedometer
index is below ``B``, and a monitor count seen during epoch ``e`` lies inside that epoch. Without any batch
line, epoch-level values use the epoch number as step. Several points for one tag and step (a log holding a
restarted run, or old Speedometers printing one line per metric) keep the last one.

Batches per epoch, in order of preference: given (``--batches-per-epoch``); from the arguments line
``fit.py`` logs first (``start with arguments Namespace(..., batch_size=128, ..., num_examples=60000, ...)``:
``ceil(num_examples / batch_size)``, as MXNet's padding iterators count); learned exactly from monitor counts;
else guessed as the largest Speedometer index + 1, which is too small whenever an epoch's last batches are
not printed (a note says so and names the option). A monitor that prints a tensor once per device (a module
on several devices) prints it several times at one count: the first value is kept, not taken for a restart.

Example::

    >>> log = parse_lines(["INFO:root:Epoch[0] Batch [0-2]\\tSpeed: 100.00 samples/sec\\taccuracy=0.5",
    ...                    "INFO:root:Epoch[0] Batch [2-4]\\tSpeed: 120.00 samples/sec\\taccuracy=0.75",
    ...                    "INFO:root:Epoch[0] Validation-accuracy=0.8"])
    >>> steps = assign_steps(log)
    >>> steps.batches_per_epoch, steps.points["val/accuracy"]
    (5, {4: 0.8})
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from .._values.names import clean_tag

__all__ = ["ParsedLog", "Record", "Steps", "assign_steps", "parse_lines"]

BATCH, EPOCH, MONITOR = "batch", "epoch", "monitor"
_MAX_STEP = 2**63 - 1

_SPEEDOMETER = re.compile(
    r"(?:Epoch|Iter)\[(?P<epoch>\d+)\]\s*Batch\s*\[\s*(?:\d+\s*-\s*)?(?P<batch>\d+)\s*\]\s*"
    r"Speed:\s*(?P<speed>\S+)\s+samples/sec(?P<rest>.*)$"
)
_EPOCH_METRIC_START = re.compile(r"Epoch\[(?P<epoch>\d+)\]\s*(?P<kind>Train|Validation)-")
_TIME_COST = re.compile(r"Epoch\[(?P<epoch>\d+)\]\s*Time cost=(?P<value>\S+)\s*$")
_MONITOR = re.compile(r"Batch:\s+(?P<count>\d+)\s+(?P<name>\S+)\s+(?P<value>.*)$")  # value stripped after
_VALUE = re.compile(r"\S+")
# Every pattern above runs in time linear in the line. A line over MAX_LINE characters is not MXNet's (a Speedometer
# line with 20 metrics is ~1 KB): it is counted, never matched. Only the first MAX_KEPT_MALFORMED broken lines are
# kept (the rest counted), so a huge log of garbage does not end up in memory.
MAX_LINE = 1 << 20
MAX_KEPT_MALFORMED = 100
# Lines MXNet prints that carry no number to import.
_KNOWN_OTHER = re.compile(r"Epoch\[\d+\]\s*(?:Resetting Data Iterator|Saved checkpoint)")
# fit.py's first line, 'start with arguments Namespace(...)': the epoch length is in its options.
_ARGUMENTS = re.compile(r"start with arguments Namespace\((?P<body>.*)\)")
_ARGUMENT_INT = {name: re.compile(rf"(?:^|, ){name}=(\d+)(?:,|$)") for name in ("batch_size", "num_examples")}
_DIST_KVSTORE = re.compile(r"(?:^|, )kv_store='dist")
# Lines that look like MXNet's but did not parse: counted as malformed, and shown.
_LOOKS_LIKE_MXNET = re.compile(r"(?:Epoch|Iter)\[\d*|Batch:\s|Speed:")


@dataclass(frozen=True, slots=True)
class Record:
    """One number from one line.

    ``kind`` is ``'batch'`` (``epoch`` and Speedometer ``batch`` index), ``'epoch'`` (an epoch-level value) or
    ``'monitor'`` (``batch`` is the monitor's count, ``epoch`` the epoch it was seen in, or None at the end of a
    log). ``tag`` is the TensorBoard tag; ``line`` the 1-based line number.
    """

    kind: str
    tag: str
    value: float
    epoch: int | None
    batch: int | None
    line: int


@dataclass
class ParsedLog:
    """What ``parse_lines`` found: records in line order, and counts of the lines it could not use."""

    records: list[Record] = field(default_factory=list)
    lines: int = 0
    ignored: int = 0  # lines that are not MXNet training lines (arguments, warnings, ...)
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line number, text) of the first broken lines
    malformed_count: int = 0  # every broken MXNet line, kept in ``malformed`` or not
    arguments: list[tuple[int, dict[str, int], bool]] = field(default_factory=list)  # fit.py's options lines


@dataclass
class Steps:
    """Points per tag (``{tag: {step: value}}``), the batches per epoch used, and notes for the user.

    ``source`` says where the batches per epoch came from: ``'given'``, ``'arguments'`` (fit.py's options
    line), ``'learned'`` (pinned down exactly by monitor counts), ``'guessed'`` (largest batch index + 1), or
    None when there is no batch line.
    """

    points: dict[str, dict[int, float]]
    batches_per_epoch: int | None
    learned: bool
    replaced: int = 0
    notes: list[str] = field(default_factory=list)
    source: str | None = None
    duplicates: int = 0  # monitor values printed again at one count (one per device); the first is kept
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, why) of points not importable


def _metric_tag(prefix: str, name: str) -> str:
    name = name.strip()
    if name.startswith("Train-"):
        name = name[len("Train-") :]
    return sys.intern(f"{prefix}/{name}")  # one string per tag, however many lines


def parse_lines(lines: Iterable[str]) -> ParsedLog:
    """Records of every recognised line of an MXNet training log, in order (see the module docstring).

    Never raises on content: lines it cannot use are counted in ``ignored`` or, when they look like MXNet's
    own lines but do not parse, listed in ``malformed``.

    Example::

        >>> parse_lines(["Epoch[2] Time cost=1.5"]).records[0].tag
        'train/epoch_time'
    """
    log = ParsedLog()
    pending_monitor: list[int] = []  # indices of monitor records waiting for the epoch of a later line
    for number, raw in enumerate(lines, 1):
        log.lines = number
        line = raw.rstrip("\r\n")
        if "start with arguments" in line:
            _read_arguments(log, line, number)
        try:
            found = _parse_line(line, number)
        except ValueError:
            found = None
        if found is None:
            if _LOOKS_LIKE_MXNET.search(line) and not _KNOWN_OTHER.search(line):
                log.malformed_count += 1
                if len(log.malformed) < MAX_KEPT_MALFORMED:
                    log.malformed.append((number, line[:1000]))
            else:
                log.ignored += 1
            continue
        for record in found:
            if record.kind == MONITOR:
                pending_monitor.append(len(log.records))
            elif pending_monitor:  # a monitor line belongs to the epoch of the next line that names one
                for index in pending_monitor:
                    r = log.records[index]
                    log.records[index] = Record(r.kind, r.tag, r.value, record.epoch, r.batch, r.line)
                pending_monitor.clear()
            log.records.append(record)
    return log


def _read_arguments(log: ParsedLog, line: str, number: int) -> None:
    match = _ARGUMENTS.search(line)
    if match:
        found = {name: int(m[1]) for name, pattern in _ARGUMENT_INT.items() if (m := pattern.search(match["body"]))}
        log.arguments.append((number, found, bool(_DIST_KVSTORE.search(match["body"]))))


def _size_from_arguments(log: ParsedLog) -> tuple[int | None, list[str]]:
    """``ceil(num_examples / batch_size)`` from the first options line that has both; notes on what is odd."""
    for number, found, distributed in log.arguments:
        if "batch_size" not in found or "num_examples" not in found or found["batch_size"] < 1:
            continue
        if distributed:
            return None, [
                f"line {number}: a dist kvstore splits num_examples among the workers, so the batches per "
                "epoch of this worker are not known from its options"
            ]
        size = -(-found["num_examples"] // found["batch_size"])
        too_big = [r for r in log.records if r.kind == BATCH and r.batch >= size]
        if too_big:
            r = too_big[0]
            return None, [
                f"line {r.line}: batch index {r.batch} of epoch {r.epoch} does not fit the {size} batches per epoch "
                f"of line {number}'s num_examples={found['num_examples']}, batch_size={found['batch_size']}"
            ]
        return size, []
    return None, []


def _epoch_metric(line: str) -> tuple[re.Match[str], str, str] | None:
    """The leftmost ``Epoch[e] Train-|Validation-<name>=<value>`` that ends the line, as the regex
    ``...-([^=\\t]+?)=(\\S+)\\s*$`` finds it, in linear time (the regex rescans the line from every start).

    From a start, the name runs to the next '='; the value from there must be the line's last token.
    """
    stripped = line.rstrip()
    token = len(stripped)  # where the last token starts
    while token and not stripped[token - 1].isspace():
        token -= 1
    next_equals = next_tab = -1
    for match in _EPOCH_METRIC_START.finditer(stripped):
        start = match.end()
        if next_equals < start:
            next_equals = stripped.find("=", start)
            if next_equals < 0:
                return None
        if 0 <= next_tab < start:
            next_tab = -1
        if next_tab < 0:
            next_tab = stripped.find("\t", start)
            next_tab = len(stripped) if next_tab < 0 else next_tab
        if start < next_equals < next_tab and next_equals + 1 >= token and next_equals + 1 < len(stripped):
            return match, stripped[start:next_equals], stripped[next_equals + 1 :]
    return None


def _metrics(rest: str) -> list[tuple[str, str]]:
    """``name=value`` pairs of a Speedometer line's tail, as ``re.findall(r"([^\\t=]+?)=(\\S+)")`` finds them,
    in time linear in the line (that pattern backtracks quadratically on a long line without '=')."""
    pairs, pos = [], 0
    while (equals := rest.find("=", pos)) >= 0:
        start = max(rest.rfind("\t", pos, equals) + 1, pos)
        value = _VALUE.match(rest, equals + 1)
        if start < equals and value:
            pairs.append((rest[start:equals], value.group()))
            pos = value.end()
        else:
            pos = equals + 1
    return pairs


def _parse_line(line: str, number: int) -> list[Record] | None:
    if len(line) > MAX_LINE:
        return None
    match = _SPEEDOMETER.search(line)
    if match:
        epoch, batch = int(match["epoch"]), int(match["batch"])
        records = [Record(BATCH, "train/samples_per_sec", float(match["speed"]), epoch, batch, number)]
        for name, value in _metrics(match["rest"]):
            records.append(Record(BATCH, _metric_tag("train", name), float(value), epoch, batch, number))
        return records
    found = _epoch_metric(line)
    if found:
        match, name, value = found
        prefix = "train/epoch_" if match["kind"] == "Train" else "val/"
        return [Record(EPOCH, sys.intern(prefix + name.strip()), float(value), int(match["epoch"]), None, number)]
    match = _TIME_COST.search(line)
    if match:
        return [Record(EPOCH, "train/epoch_time", float(match["value"]), int(match["epoch"]), None, number)]
    match = _MONITOR.search(line)
    if match:
        # Monitor prints a scalar statistic as 'value\t'; a non-scalar one as an array '[...]', not importable.
        value = float(match["value"].strip())
        return [Record(MONITOR, sys.intern(f"monitor/{match['name']}"), value, None, int(match["count"]), number)]
    return None


def _learn_batches_per_epoch(
    records: list[Record], segments: list[tuple[int, int]]
) -> tuple[int | None, bool, list[str]]:
    """The smallest B with every Speedometer index < B and every monitor count inside its epoch, and whether
    the monitor counts allow no other."""
    low, high, notes = 0, math.inf, []
    for r in records:
        if r.kind == BATCH:
            low = max(low, r.batch + 1)
    for r, (_, first_epoch) in zip((r for r in records if r.kind == MONITOR), segments):
        if r.epoch is None or r.epoch < first_epoch:
            continue
        k, g = r.epoch - first_epoch, r.batch - 1  # epoch within the segment, step within the segment
        low = max(low, -(-(g + 1) // (k + 1)))  # g <= (k + 1) * B - 1
        if k > 0:
            high = min(high, g // k)  # k * B <= g
    if low == 0:
        return None, False, notes
    if low > high:
        notes.append(
            f"monitor batch counts do not fit one epoch size (need at least {low} and at most {high} batches per "
            "epoch); using the smallest, pass --batches-per-epoch to set it"
        )
    return low, low == high, notes


def _monitor_segments(records: list[Record]) -> list[tuple[int, int]]:
    """The counting segment (its number, its first epoch) of every monitor record.

    ``toc_print`` prints one line per tensor with the same count, and counts grow; a count that drops, or a
    tensor printed again at one count after other lines, means a new ``Monitor`` (a restarted run) counting
    from 1 again. A tensor printed again within one uninterrupted block of monitor lines is the same batch on
    another device of a multi-device module, not a restart.
    """
    monitors = [r for r in records if r.kind == MONITOR]
    starts, seen = [], set()
    for i, r in enumerate(monitors):
        previous = monitors[i - 1] if i else None
        if previous is not None and r.batch != previous.batch:
            seen = set()
        interrupted = previous is not None and r.line != previous.line + 1
        if previous is None or r.batch < previous.batch or (r.tag in seen and interrupted):
            starts.append(i)
            seen = set()
        seen.add(r.tag)
    result: list[tuple[int, int]] = []
    for number, (start, end) in enumerate(zip(starts, [*starts[1:], len(monitors)])):
        epochs = [r.epoch for r in monitors[start:end] if r.epoch is not None]
        result.extend([(number, min(epochs) if epochs else 0)] * (end - start))
    return result


def _unusable(tag: str, step: int, problems: dict[str, str]) -> str:
    """Why a point cannot be written (a step beyond int64, a tag TensorBoard cannot hold), or ''."""
    if step > _MAX_STEP:
        return f"step {step} is beyond TensorBoard's int64 steps"
    if tag not in problems:
        try:
            clean_tag(tag)
            problems[tag] = ""
        except (TypeError, ValueError) as exc:
            problems[tag] = f"{tag!r} is not a usable tag: {exc}"
    return problems[tag]


def assign_steps(log: ParsedLog, batches_per_epoch: int | None = None) -> Steps:
    """Global steps for every record of ``log`` (see the module docstring); ``batches_per_epoch`` overrides
    the number learned from the log.

    Example::

        >>> log = parse_lines(["Epoch[1] Batch [50]\\tSpeed: 9.0 samples/sec", "Epoch[1] Train-acc=0.5"])
        >>> assign_steps(log, batches_per_epoch=100).points
        {'train/samples_per_sec': {150: 9.0}, 'train/epoch_acc': {199: 0.5}}
    """
    if batches_per_epoch is not None and (isinstance(batches_per_epoch, bool) or batches_per_epoch < 1):
        raise ValueError(f"batches_per_epoch must be an int >= 1; got {batches_per_epoch!r}")
    segments = _monitor_segments(log.records)
    notes: list[str] = []
    learned = batches_per_epoch is None
    source = "given"
    if learned:
        size, notes = _size_from_arguments(log)
        source = "arguments"
        if size is None:
            size, exact, more = _learn_batches_per_epoch(log.records, segments)
            notes += more
            source = "learned" if exact else "guessed"
            if size is not None and not exact:
                notes.append(
                    f"{size} batches per epoch is a guess (the largest batch index printed, plus one; too small if "
                    "the Speedometer skipped an epoch's last batches): pass --batches-per-epoch B to set it"
                )
    else:
        size = batches_per_epoch
        too_big = [r for r in log.records if r.kind == BATCH and r.batch >= size]
        if too_big:
            r = too_big[0]
            notes.append(
                f"line {r.line}: batch index {r.batch} of epoch {r.epoch} is not below --batches-per-epoch {size}"
            )
    if size is None and any(r.kind == EPOCH for r in log.records):
        notes.append("no batch lines: epoch-level values are logged at step = epoch number")
    steps = Steps({}, size, learned and size is not None, notes=notes, source=source if size is not None else None)
    monitor_segments = iter(segments)
    monitor_seen: set[tuple[int, int, str]] = set()  # (segment, count, tag)
    tag_problems: dict[str, str] = {}
    for r in log.records:
        if r.kind == BATCH:
            step = r.epoch * size + r.batch
        elif r.kind == EPOCH:
            step = r.epoch if size is None else (r.epoch + 1) * size - 1
        else:
            segment, first_epoch = next(monitor_segments)
            step = (first_epoch * size if size else 0) + r.batch - 1
            if step < 0:
                continue  # a count of 0 is not something Monitor prints
            if (segment, r.batch, r.tag) in monitor_seen:
                steps.duplicates += 1
                continue
            monitor_seen.add((segment, r.batch, r.tag))
        problem = _unusable(r.tag, step, tag_problems)
        if problem:
            steps.skipped.append((r.line, problem))
            continue
        series = steps.points.setdefault(r.tag, {})
        if step in series:
            steps.replaced += 1
        series[step] = r.value
    if steps.duplicates:
        steps.notes.append(
            f"{steps.duplicates} monitor values were printed again for the same batch (one line per device); "
            "the first of each was kept"
        )
    return steps
