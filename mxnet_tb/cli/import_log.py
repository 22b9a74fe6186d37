"""``mxnet-tb import-log``: MXNet training logs (Speedometer, fit, Monitor lines) into TensorBoard scalars."""

from __future__ import annotations

import argparse
import os
import textwrap
from dataclasses import dataclass

from ._common import (
    UsageError,
    add_logdir_options,
    byte_progress,
    default_logdir,
    derived_run_name,
    note,
    note_existing_run,
    resolve_run_dir,
)
from .logparse import ParsedLog, Steps, assign_steps, parse_lines

__all__ = ["add_parser", "import_log", "parse_log_file", "run"]

_SHOWN_MALFORMED = 3
_SOURCES = {"arguments": "from the log's arguments"}  # how a Steps.source reads in the report
_LOG_SUFFIXES = (".log", ".txt", ".out")

EXAMPLES = """\
examples:
  mxnet-tb import-log train.log                       # run 'train' in ./runs
  mxnet-tb import-log resnet.log --run resnet50-sgd --logdir old_runs
  mxnet-tb import-log logs/*.log --logdir runs         # one run per file
  mxnet-tb import-log train.log --batches-per-epoch 390

steps: batch b of epoch e is at step e*B+b (B batches per epoch: given, else from fit.py's
'start with arguments Namespace(...)' line as ceil(num_examples/batch_size), else learned from monitor
counts, else guessed); epoch-level values (Train-*, Time cost, Validation-*) at the epoch's last batch,
(e+1)*B-1, where tb.validation logs them during training.
"""


@dataclass
class Imported:
    """One log file's import: where it went and what was written or skipped."""

    path: str
    run: str
    run_dir: str
    parsed: ParsedLog
    steps: Steps

    @property
    def tags(self) -> int:
        return len(self.steps.points)

    @property
    def points(self) -> int:
        return sum(len(series) for series in self.steps.points.values())


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import-log",
        help="turn MXNet training logs into TensorBoard scalars",
        description=textwrap.dedent(
            """\
            Parse MXNet's own log lines (Speedometer, Module.fit's Train-/Validation-/Time cost lines,
            Monitor.toc_print) into scalars: train/<metric>, train/samples_per_sec, train/epoch_<metric>,
            train/epoch_time, val/<metric>, monitor/<name>. One run per log file. Lines that are not
            MXNet's are counted and reported, never fatal; a point that cannot be logged (a corrupt epoch
            number giving a step out of range) is reported and skipped before anything is written."""
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("logs", nargs="+", metavar="TRAIN.LOG", help="MXNet training log file(s)")
    add_logdir_options(parser, "run name (only with one log file; default: the file name without .log)")
    parser.add_argument(
        "--batches-per-epoch",
        type=int,
        default=None,
        metavar="B",
        help="batches per epoch (default: from the log's 'start with arguments' line, else learned from it)",
    )
    parser.set_defaults(handler=run)
    return parser


def _run_names(paths: list[str], run: str | None) -> list[str]:
    if run is not None:
        if len(paths) > 1:
            raise UsageError(f"--run {run!r} names one run, but {len(paths)} log files were given")
        return [run]
    names: list[str] = []
    for path in paths:
        base = os.path.basename(path)
        for suffix in _LOG_SUFFIXES:
            if base.lower().endswith(suffix) and len(base) > len(suffix):
                base = base[: -len(suffix)]
                break
        name = candidate = derived_run_name(base)
        n = 1
        while candidate in names:  # two files of one name in different folders
            n += 1
            candidate = f"{name}_{n}"
        names.append(candidate)
    return names


def _parse_file(path: str) -> ParsedLog:
    size = os.path.getsize(path)
    bar = byte_progress(size, os.path.basename(path))
    try:
        with open(path, "rb") as handle:

            def lines():  # decoded lazily, so a huge log is never held in memory
                for raw in handle:
                    bar.update(len(raw))
                    yield raw.decode("utf-8", errors="replace")

            return parse_lines(lines())
    finally:
        bar.close()


def parse_log_file(path: str) -> ParsedLog:
    """Parse one log file (``parse_lines`` on its lines, read lazily, with a progress bar on a terminal)."""
    return _parse_file(path)


def import_log(path: str, logdir: str, run: str, batches_per_epoch: int | None = None) -> Imported:
    """Parse one log file and write its scalars to the run ``<logdir>/<run>``.

    Example::

        >>> import_log("train.log", "runs", "train").points   # doctest: +SKIP
        1234
    """
    from ..writer import SummaryWriter

    directory = resolve_run_dir(logdir, run)
    note_existing_run(directory, run)
    parsed = _parse_file(path)
    steps = assign_steps(parsed, batches_per_epoch)
    if steps.points:
        with SummaryWriter(directory, verbose=False, max_queue=4096) as writer:
            for tag, series in steps.points.items():
                for step in sorted(series):
                    writer.add_scalar(tag, series[step], global_step=step)
    return Imported(path, run, directory, parsed, steps)


def run(args: argparse.Namespace) -> int:
    logdir = args.logdir or default_logdir()
    for path in args.logs:
        if not os.path.isfile(path):
            raise UsageError(f"no such log file: {path!r}")
    if args.batches_per_epoch is not None and args.batches_per_epoch < 1:
        raise UsageError(f"--batches-per-epoch must be an integer >= 1; got {args.batches_per_epoch}")
    names = _run_names(args.logs, args.run)
    for name in names:
        resolve_run_dir(logdir, name)  # every name checked before anything is written
    results = []
    for path, name in zip(args.logs, names):
        result = import_log(path, logdir, name, args.batches_per_epoch)
        results.append(result)
        _report(result)
    runs = sum(1 for r in results if r.points)
    tags = sum(r.tags for r in results)
    points = sum(r.points for r in results)
    print(f"imported {runs} run{'s' * (runs != 1)}, {tags} tags, {points} points into {logdir}")
    return 0 if points else 1


def _report(result: Imported) -> None:
    parsed, steps = result.parsed, result.steps
    if steps.batches_per_epoch is None:
        how = "batches per epoch unknown"
    else:
        how = f"{steps.batches_per_epoch} batches per epoch ({_SOURCES.get(steps.source, steps.source)})"
    print(
        f"{result.path} -> run {result.run!r}: {result.tags} tags, {result.points} points, {how}; "
        f"{parsed.lines} lines, {parsed.malformed_count} unparseable, {parsed.ignored} other"
    )
    for number, text in parsed.malformed[:_SHOWN_MALFORMED]:
        note(f"{result.path}:{number}: cannot parse {text.strip()[:160]!r}")
    if parsed.malformed_count > _SHOWN_MALFORMED:
        note(f"{result.path}: {parsed.malformed_count - _SHOWN_MALFORMED} more unparseable lines")
    for number, why in steps.skipped[:_SHOWN_MALFORMED]:
        note(f"{result.path}:{number}: skipped: {why}")
    if len(steps.skipped) > _SHOWN_MALFORMED:
        note(f"{result.path}: {len(steps.skipped) - _SHOWN_MALFORMED} more points skipped")
    for message in steps.notes:
        note(f"{result.path}: {message}")
    if steps.replaced:
        note(f"{result.path}: {steps.replaced} points at an already used step replaced the earlier value")
    if not result.points:
        note(f"{result.path}: no MXNet training lines found; nothing written")
