"""``mxnet-tb checkpoint``: a series of ``PREFIX-NNNN.params`` checkpoints into TensorBoard.

For each selected epoch N (the number in the file name, as ``mx.callback.do_checkpoint`` writes it) at the
step where ``tb.params`` logs the same weights during training, the last batch of epoch N: ``N * B - 1`` with
B batches per epoch (``--batches-per-epoch``, else from ``--log TRAIN.LOG``, else the
``autolog/batches_per_epoch`` a live run in the log directory recorded; without any, step = N):
``weights/hist/<p>`` and ``weights/{norm,mean,std}/<p>`` for every parameter (``aux/...`` for auxiliary
states such as BatchNorm's moving statistics), the first convolution layer's filters as an image grid
``weights/filters/<p>`` (the tags ``tb.params()`` uses during training), and from the second selected epoch on
the change since the previous one, ``change/norm/<p>`` = ||w_e - w_prev|| and ``change/relative/<p>`` =
||w_e - w_prev|| / ||w_prev||. The graph of ``PREFIX-symbol.json`` is logged once.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import stat
import textwrap
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from ..errors import mxnet_reason
from ._common import (
    CommandError,
    UsageError,
    add_logdir_options,
    default_logdir,
    derived_run_name,
    note,
    note_existing_run,
    parse_shapes,
    progress,
    resolve_run_dir,
)
from .graph import SHAPE_HELP, checked_graph, load_symbol

__all__ = ["add_parser", "checkpoint_epochs", "live_step", "parse_epochs", "run"]

STATS = ("norm", "mean", "std")
_PARAMS_FILE = re.compile(r"-(\d{4,})\.params\Z")

EXAMPLES = """\
examples:
  mxnet-tb checkpoint models/resnet                    # every models/resnet-NNNN.params, run 'resnet'
  mxnet-tb checkpoint models/resnet --epochs 1,5,10 --shape data=1,3,224,224
  mxnet-tb checkpoint models/resnet --epochs 10-20 --logdir runs --run resnet-ckpt
  mxnet-tb checkpoint models/resnet --all --log train.log      # on the training run's step axis
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "checkpoint",
        help="log the parameters of PREFIX-NNNN.params checkpoints, epoch by epoch",
        description=textwrap.dedent(
            """\
            Read PREFIX-symbol.json and PREFIX-NNNN.params (Module.save_checkpoint, mx.callback.do_checkpoint)
            and log histograms and norm/mean/std of every parameter (weights/..., aux/...), the first
            convolution layer's filters as images (weights/filters/<p>), the change since the previous
            selected checkpoint (change/norm/<p>, change/relative/<p>), and the graph once. Checkpoint N goes
            to step N*B-1, where tb.params logs the same weights during training, with B batches per epoch
            from --batches-per-epoch, --log, or a run mxnet-tb run recorded in the log directory; else to
            step N. Every selected file is read and checked before anything is written: a bad or truncated
            one stops the command with nothing written. NaN or Inf values are counted
            (<group>/nonfinite/<p>), reported, and never stop it."""
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("prefix", metavar="PREFIX", help="checkpoint prefix, as given to save_checkpoint")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--epochs", metavar="LIST", help="epochs to log, e.g. 1,5,10 or 10-20 (default: all, as --all)")
    which.add_argument("--all", action="store_true", help="log every checkpoint epoch found (the default)")
    parser.add_argument("--shape", action="append", metavar="NAME=DIMS", help=SHAPE_HELP)
    parser.add_argument(
        "--batches-per-epoch",
        type=int,
        default=None,
        metavar="B",
        help="batches per epoch: checkpoint N goes to step N*B-1, where training logged its weights "
        "(default: from --log, else from a run in the log directory, else step = N)",
    )
    parser.add_argument("--log", default=None, metavar="TRAIN.LOG", help="the training log, to read B from")
    add_logdir_options(parser, "run name (default: the prefix's last part)")
    parser.set_defaults(handler=run)
    return parser


def checkpoint_epochs(prefix: str) -> list[int]:
    """The epochs that have a ``PREFIX-NNNN.params`` file, sorted.

    Example::

        >>> checkpoint_epochs("models/resnet")   # doctest: +SKIP
        [1, 2, 3]
    """
    found = set()
    for path in glob.glob(glob.escape(prefix) + "-*.params"):
        match = _PARAMS_FILE.search(path[len(prefix) :])
        if match and path[len(prefix) :] == match.group(0):
            found.add(int(match.group(1)))
    return sorted(found)


def parse_epochs(text: str) -> list[int]:
    """``'1,5,10'`` or ``'10-20'`` (mixed too) as sorted epoch numbers; UsageError naming the bad part.

    Example::

        >>> parse_epochs("1,5,8-10")
        [1, 5, 8, 9, 10]
    """
    epochs: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        low, sep, high = part.partition("-")
        if not sep and low.isdigit():
            epochs.add(int(low))
        elif sep and low.strip().isdigit() and high.strip().isdigit() and int(low) <= int(high):
            epochs.update(range(int(low), int(high) + 1))
        else:
            raise UsageError(
                f"bad --epochs {text!r}: {part!r} is not an epoch number or range (e.g. --epochs 1,5,10 or 10-20)"
            )
    return sorted(epochs)


def _params_path(prefix: str, epoch: int) -> str:
    return f"{prefix}-{epoch:04d}.params"


def _load_params(prefix: str, epoch: int) -> dict[str, dict[str, np.ndarray]]:
    """``{'weights': {name: array}, 'aux': {name: array}}`` from ``PREFIX-NNNN.params``."""
    import mxnet as mx

    path = _params_path(prefix, epoch)
    try:
        loaded = mx.nd.load(path)
    except mx.base.MXNetError as exc:
        first = mxnet_reason(exc)
        raise CommandError(f"cannot read {path!r}: {first}") from None
    if not isinstance(loaded, dict):
        raise CommandError(f"{path!r} holds unnamed arrays, not a checkpoint's 'arg:<name>' parameters")
    groups: dict[str, dict[str, np.ndarray]] = {"weights": {}, "aux": {}}
    for key, array in loaded.items():
        kind, sep, name = key.partition(":")
        group = "aux" if sep and kind == "aux" else "weights"
        groups[group][name if sep else key] = array.asnumpy()
    return groups


def live_step(epoch: int, batches_per_epoch: int | None) -> int:
    """The global step of checkpoint ``epoch`` (saved after that many epochs): its last batch, or the epoch.

    Example::

        >>> live_step(2, 7), live_step(2, None)
        (13, 2)
    """
    if batches_per_epoch is None:
        return epoch
    return max(epoch * batches_per_epoch - 1, 0)


def _batches_in_runs(logdir: str) -> dict[int, str]:
    """``{B: run directory}`` for every ``autolog/batches_per_epoch`` recorded by a run under ``logdir``."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    from ..autolog import BATCHES_PER_EPOCH_TAG

    found: dict[int, str] = {}
    pattern = os.path.join(glob.escape(logdir), "**", "events.out.tfevents.*")
    for path in sorted(glob.glob(pattern, recursive=True)):
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue  # a FIFO would block the read, a link could lead anywhere: not a run's event file
            number = _first_value(LegacyEventFileLoader(path).Load(), BATCHES_PER_EPOCH_TAG)
        except (OSError, DecodeError):  # unreadable or corrupt: not a run that recorded its epoch length
            continue
        if number is not None:
            found.setdefault(int(number), os.path.relpath(os.path.dirname(path), logdir))
    return found


def _first_value(events: Any, tag: str) -> float | None:
    """The first scalar logged under ``tag`` (a run records one epoch length, early), or None."""
    for event in events:
        for value in event.summary.value:
            if value.tag == tag:
                return value.simple_value if value.HasField("simple_value") else value.tensor.float_val[0]
    return None


def _batches_per_epoch(args: argparse.Namespace, logdir: str) -> tuple[int | None, str]:
    """B and where it came from: ``--batches-per-epoch``, ``--log``, a live run in ``logdir``, or nothing."""
    if args.batches_per_epoch is not None:
        if args.batches_per_epoch < 1:
            raise UsageError(f"--batches-per-epoch must be an integer >= 1; got {args.batches_per_epoch}")
        return args.batches_per_epoch, "given"
    if args.log is not None:
        from .import_log import parse_log_file
        from .logparse import assign_steps

        if not os.path.isfile(args.log):
            raise UsageError(f"no such log file: {args.log!r}")
        steps = assign_steps(parse_log_file(args.log))
        if steps.batches_per_epoch is None:
            raise UsageError(f"--log {args.log!r} has no batch lines to learn batches per epoch from")
        if steps.source == "guessed":
            note(f"{args.log}: " + next(n for n in steps.notes if "is a guess" in n))
        return steps.batches_per_epoch, f"{steps.source} from {args.log}"
    found = _batches_in_runs(logdir) if os.path.isdir(logdir) else {}
    if len(found) > 1:
        shown = ", ".join(f"{b} in run {run!r}" for b, run in sorted(found.items()))
        raise UsageError(f"the runs in {logdir} disagree on batches per epoch ({shown}): pass --batches-per-epoch")
    if found:
        ((size, run),) = found.items()
        return size, f"from run {run!r}"
    return None, ""


class _Logger:
    """Writes one checkpoint after another into a run; remembers the tags and points written."""

    def __init__(self, writer: Any, symbol: Any, batches_per_epoch: int | None = None) -> None:
        self.writer, self.symbol = writer, symbol
        self.batches_per_epoch = batches_per_epoch
        self.tags: set[str] = set()
        self.points = 0
        self.previous: dict[str, np.ndarray] | None = None
        self.nonfinite = 0
        self.nonfinite_tags: set[str] = set()

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, global_step=step)
        self.tags.add(tag)
        self.points += 1

    def epoch(self, epoch: int, groups: dict[str, dict[str, np.ndarray]]) -> None:
        from .._training.parameters import log_parameters

        step = live_step(epoch, self.batches_per_epoch)
        tags = log_parameters(self.writer, groups, step, stats=STATS, filters_of=self.symbol)
        self.tags.update(tags)
        self.points += len(tags)
        for group, arrays in groups.items():
            for name, values in arrays.items():
                bad = int(values.size - np.count_nonzero(np.isfinite(values)))
                if bad:
                    self.nonfinite += bad
                    self.nonfinite_tags.add(f"{group}/{name}")
        weights = groups["weights"]
        if self.previous is not None:
            self._changes(step, weights)
        self.previous = weights

    def _changes(self, step: int, weights: dict[str, np.ndarray]) -> None:
        for name, values in weights.items():
            before = self.previous.get(name) if self.previous else None
            if before is None or before.shape != values.shape:
                continue  # a parameter that appeared or changed shape has no change to measure
            delta = float(np.linalg.norm((values.astype(np.float64) - before.astype(np.float64)).ravel()))
            self.scalar(f"change/norm/{name}", delta, step)
            base = float(np.linalg.norm(before.astype(np.float64).ravel()))
            if base > 0:
                self.scalar(f"change/relative/{name}", delta / base, step)


def _select(prefix: str, available: list[int], epochs_text: str | None) -> list[int]:
    if epochs_text is None:
        return available
    wanted = parse_epochs(epochs_text)
    missing = [e for e in wanted if e not in available]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        have = ", ".join(map(str, available[:20])) + (" ..." if len(available) > 20 else "")
        raise UsageError(f"--epochs {epochs_text}: no checkpoint {prefix!r} for epoch {shown}; available: {have}")
    return wanted


def run(args: argparse.Namespace) -> int:
    from ..writer import SummaryWriter

    logdir = args.logdir or default_logdir()
    prefix = args.prefix
    shapes = parse_shapes(args.shape)
    symbol_path = f"{prefix}-symbol.json"
    available = checkpoint_epochs(prefix)
    has_symbol = os.path.isfile(symbol_path)
    if not available:
        what = f"{prefix}-NNNN.params files" + ("" if has_symbol else f" nor {symbol_path!r}")
        raise UsageError(f"no checkpoint at prefix {prefix!r}: no {what}")
    epochs = _select(prefix, available, args.epochs)
    run_name = args.run if args.run is not None else derived_run_name(os.path.basename(prefix.rstrip("/\\")))
    directory = resolve_run_dir(logdir, run_name)
    batches_per_epoch, source = _batches_per_epoch(args, logdir)
    symbol = graph = None
    if has_symbol:
        symbol = load_symbol(symbol_path)
        graph = checked_graph(symbol, shapes)
    elif shapes:
        raise UsageError(f"--shape needs the network, but {symbol_path!r} does not exist")
    else:
        note(f"no {symbol_path!r}: logging parameters without the graph and filter images")
    for epoch in progress(epochs, total=len(epochs), desc="checking", unit="epoch"):
        _load_params(prefix, epoch)  # every file read once before anything is written: a bad one writes nothing
    note_existing_run(directory, run_name)
    with SummaryWriter(directory, verbose=False) as writer:
        if symbol is not None:
            writer.add_graph(symbol, shapes=shapes)
        logger = _Logger(writer, symbol, batches_per_epoch)
        for epoch in progress(epochs, total=len(epochs), desc="checkpoints", unit="epoch"):
            logger.epoch(epoch, _load_params(prefix, epoch))
    if logger.nonfinite:
        note(
            f"{logger.nonfinite} NaN or Inf values in {len(logger.nonfinite_tags)} parameters (diverged training?): "
            "counted in <group>/nonfinite/<p>, left out of histograms, drawn as 0 in filter images"
        )
    graph_text = f"graph of {len(graph.node)} nodes, " if graph is not None else ""
    at = ""
    if batches_per_epoch is not None:
        first, last = live_step(epochs[0], batches_per_epoch), live_step(epochs[-1], batches_per_epoch)
        at = f" at steps {first}-{last} ({batches_per_epoch} batches per epoch, {source})"
    print(
        f"{prefix} -> run {run_name!r} in {logdir}: {len(epochs)} epochs ({_ranges(epochs)}){at}, "
        f"{graph_text}{len(logger.tags)} tags, {logger.points} points"
    )
    if batches_per_epoch is None:
        note(
            "weights are at step = epoch number; pass --batches-per-epoch B or --log TRAIN.LOG to put them at "
            "the steps training logs them (N*B-1 for checkpoint N)"
        )
    return 0


def _ranges(epochs: list[int]) -> str:
    """``[1, 2, 3, 5]`` as ``'1-3,5'``."""
    parts, start = [], None
    for i, e in enumerate(epochs):
        if start is None:
            start = e
        if i + 1 == len(epochs) or epochs[i + 1] != e + 1:
            parts.append(str(start) if start == e else f"{start}-{e}")
            start = None
    return ",".join(parts)
