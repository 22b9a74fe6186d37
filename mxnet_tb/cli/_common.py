"""What the subcommands share: usage errors, ``--shape`` and ``--logdir`` parsing, run names, progress bars."""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from .._training.default import LOGDIR_ENV
from .._values.names import run_dir

__all__ = [
    "CommandError",
    "UsageError",
    "add_logdir_options",
    "byte_progress",
    "default_logdir",
    "derived_run_name",
    "note",
    "note_existing_run",
    "parse_shape",
    "parse_shapes",
    "progress",
    "resolve_run_dir",
]

T = TypeVar("T")


class UsageError(Exception):
    """A bad argument or a missing input: reported as ``mxnet-tb <command>: error: ...`` with exit code 2."""


class CommandError(Exception):
    """The command could not do its work (an unreadable input, a failed write): exit code 1."""


def default_logdir() -> str:
    """``$MXNET_TB_LOGDIR`` if set, else ``runs`` (what ``mxnet-tb serve`` serves by default)."""
    return os.environ.get(LOGDIR_ENV) or "runs"


def add_logdir_options(parser: argparse.ArgumentParser, run_help: str) -> None:
    parser.add_argument(
        "--logdir",
        default=None,
        metavar="DIR",
        help=f"log directory holding the runs (default: ${LOGDIR_ENV} or 'runs')",
    )
    parser.add_argument("--run", default=None, metavar="NAME", help=run_help)


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``'data=1,3,224,224'`` as ``('data', (1, 3, 224, 224))``; UsageError naming the bad part otherwise.

    Example::

        >>> parse_shape("data=1,3,32,32")
        ('data', (1, 3, 32, 32))
    """
    example = "expected NAME=D1,D2,..., e.g. data=1,3,224,224"
    name, sep, dims = text.partition("=")
    name = name.strip()
    if not sep or not name or not dims.strip():
        raise UsageError(f"bad --shape {text!r}: {example}")
    parts = [p.strip() for p in dims.strip().strip("()[]").split(",")]
    if parts and parts[-1] == "":  # '1,3,' as Python writes a 1-tuple
        parts.pop()
    shape = []
    for part in parts:
        if not part.isdigit() or int(part) < 1:
            raise UsageError(f"bad --shape {text!r}: dimension {part!r} is not a positive integer ({example})")
        shape.append(int(part))
    if not shape:
        raise UsageError(f"bad --shape {text!r}: {example}")
    return name, tuple(shape)


def parse_shapes(texts: Iterable[str] | None) -> dict[str, tuple[int, ...]] | None:
    """Every ``--shape`` as ``{name: shape}``, or None when none was given; a name given twice is an error."""
    shapes: dict[str, tuple[int, ...]] = {}
    for text in texts or ():
        name, shape = parse_shape(text)
        if name in shapes:
            raise UsageError(f"--shape gives {name!r} twice: {shapes[name]} and {shape}")
        shapes[name] = shape
    return shapes or None


def derived_run_name(text: str) -> str:
    """A safe run name from a file name or prefix: letters, digits, '.', '-', '_' kept, the rest '_'.

    Example::

        >>> derived_run_name("train (2)")
        'train__2_'
    """
    name = re.sub(r"[^\w.-]", "_", text, flags=re.ASCII).lstrip(".")
    return name or "run"


def resolve_run_dir(logdir: str, run: str) -> str:
    """``<logdir>/<run>``; UsageError when the run name would leave the log directory or is not a name."""
    try:
        return run_dir(logdir, run)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad run name {run!r}: {exc}") from None


def note_existing_run(directory: str, run: str) -> None:
    """Tell the user when a run already holds event files: the new events are added beside them."""
    if glob.glob(os.path.join(glob.escape(directory), "events.out.tfevents.*")):
        note(f"run {run!r} already has event files in {directory}; the new ones are added beside them")


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it") -> Iterator[T]:
    """``items`` with a tqdm progress bar on stderr when stderr is a terminal; plain ``items`` otherwise."""
    if not _stderr_is_tty():
        yield from items
        return
    from tqdm import tqdm

    with tqdm(items, total=total, desc=desc, unit=unit, file=sys.stderr, leave=False) as bar:
        yield from bar


def byte_progress(total: int, desc: str) -> Any:
    """A tqdm bar counting bytes (``update(n)``, ``close()``) on a terminal; a do-nothing stand-in otherwise."""
    if not _stderr_is_tty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, file=sys.stderr, leave=False)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def note(message: str) -> None:
    """A message for the user on stderr (the command line's own output, not library logging)."""
    print(f"mxnet-tb: {message}", file=sys.stderr)
