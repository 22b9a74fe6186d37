"""Shared harness for the side-by-side benchmarks in this directory (bench_writer.py, bench_kinds.py).

A benchmark script lists its writers as ``Contender`` objects, runs each timed workload through
``in_tempdir`` (fresh log directory, ``gc.collect()`` first) wrapped in ``attempt`` (a failure is printed and
remembered on the contender instead of aborting the run), keeps the best time per writer with ``keep_min``,
and reports with ``print_environment``, ``fmt``, ``ratio_line`` and ``print_error_notes``.

The scripts are run as ``python bench/bench_NAME.py``, which puts this directory on ``sys.path``, so they import
it as ``from _harness import ...``. The name must not match ``bench_*.py``: ``python3 dev.py bench`` runs every
such file as a benchmark.
"""

from __future__ import annotations

import gc
import importlib
import math
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
W = TypeVar("W")

# Width of the label column in the environment block ("python        3.11.7 ...").
LABEL_WIDTH = 13


@dataclass
class Contender(Generic[W]):
    """One writer under test: its display name and how to open it on a log directory (returning a ``W``).

    ``error`` is not a constructor argument: ``attempt`` sets it when a measurement fails, so scripts can subclass
    this dataclass and add required fields of their own (e.g. how to log an image with the opened writer).
    """

    name: str
    open: Callable[[str], W]
    error: str | None = field(default=None, init=False)


def in_tempdir(run: Callable[[str], T], prefix: str = "mxnet_tb_bench_") -> T:
    """Run ``run(logdir)`` in a fresh temporary directory after a gc.collect(); remove the directory afterwards."""
    logdir = tempfile.mkdtemp(prefix=prefix)
    try:
        gc.collect()
        return run(logdir)
    finally:
        shutil.rmtree(logdir, ignore_errors=True)


def attempt(contender: Contender[Any], what: str, run: Callable[[], T]) -> T | None:
    """Run one measurement; on error remember it for the writer, print it and return None."""
    try:
        return run()
    except Exception as exc:
        contender.error = f"{what}: {type(exc).__name__}: {exc}"
        print(f"  {contender.name}: {what} FAILED: {type(exc).__name__}: {exc}", flush=True)
        traceback.print_exc(limit=3, file=sys.stdout)
        return None


def keep_min(table: dict[str, float], name: str, value: float) -> None:
    """Store ``value`` as ``table[name]`` unless the table already holds a smaller (or equal) one."""
    if value < table.get(name, math.inf):
        table[name] = value


def version_of(module: str) -> str:
    """The module's ``__version__`` ("unknown" if it has none), or why it could not be imported."""
    try:
        return str(getattr(importlib.import_module(module), "__version__", "unknown"))
    except Exception as exc:
        return f"not importable ({type(exc).__name__}: {exc})"


def python_version() -> str:
    """The running interpreter's version, e.g. "3.11.7"."""
    return sys.version.split()[0]


def print_environment(rows: Iterable[tuple[str, str]]) -> None:
    """Print the environment block: one ``label value`` line per row, labels padded to ``LABEL_WIDTH``."""
    for label, value in rows:
        print(f"{label:<{LABEL_WIDTH}} {value}")


def fmt(value: float | None, spec: str) -> str:
    """``value`` formatted with the format ``spec``, or "n/a" when there is no value."""
    return "n/a" if value is None else format(value, spec)


def ratio_line(label: str, numerator: float | None, denominator: float | None, target: float) -> str:
    """``"<label> = <numerator/denominator>x (target >= <target>x) [met|NOT met]"``, or "n/a" without a ratio."""
    if numerator is None or denominator is None or denominator <= 0:
        return f"{label} = n/a (target >= {target:g}x)"
    ratio = numerator / denominator
    verdict = "met" if ratio >= target else "NOT met"
    return f"{label} = {ratio:.1f}x (target >= {target:g}x) [{verdict}]"


def print_error_notes(contenders: Iterable[Contender[Any]]) -> None:
    """Close a summary with a "note: <name> had an error (<its last failure>)" line per contender that failed."""
    for contender in contenders:
        if contender.error:
            print(f"note: {contender.name} had an error ({contender.error})")
