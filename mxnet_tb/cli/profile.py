"""``mxnet-tb profile-import``: a trace MXNet's profiler wrote, onto its network in TensorBoard's GRAPHS tab."""

from __future__ import annotations

import argparse
import os
import textwrap

from ._common import (
    CommandError,
    UsageError,
    add_logdir_options,
    default_logdir,
    derived_run_name,
    note,
    note_existing_run,
    parse_shapes,
    resolve_run_dir,
)
from .graph import SHAPE_HELP, checked_graph, load_symbol

__all__ = ["add_parser", "run"]

EXAMPLES = """\
examples:
  mxnet-tb profile-import profile.json --symbol resnet-50-symbol.json --logdir runs
  mxnet-tb profile-import profile.json --symbol model-symbol.json --shape data=32,3,224,224 --batches 5
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "profile-import",
        help="put an MXNet profiler trace onto its network in the GRAPHS tab",
        description=textwrap.dedent(
            """\
            Map the operator events of an MXNet profiler trace (mx.profiler.set_config(filename=...)) onto the
            nodes of the network's -symbol.json, for TensorBoard's GRAPHS tab (compute time per node; memory
            too when --shape gives the input shapes), and log a TEXT table of the operators taking the most
            time. Profile with MXNET_EXEC_BULK_EXEC_TRAIN=0 (or configure the profiler before binding) so that
            every operator has its own event; imperative operators map to no node and are listed."""
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("trace", metavar="TRACE.json", help="the profiler's Chrome-trace JSON file")
    parser.add_argument("--symbol", required=True, metavar="SYMBOL.json", help="the network's symbol file")
    parser.add_argument("--shape", action="append", metavar="NAME=DIMS", help=SHAPE_HELP)
    parser.add_argument(
        "--batches", type=int, default=None, metavar="N", help="batches the trace covers (default: inferred)"
    )
    add_logdir_options(parser, "run name (default: the trace file name without .json)")
    parser.set_defaults(handler=run)
    return parser


def _load_trace(path: str) -> dict:
    from ..summaries.profile_stats import load_trace

    if not os.path.isfile(path):
        raise UsageError(f"no such trace file: {path!r}")
    try:
        with open(path, encoding="utf-8") as handle:
            return load_trace(handle.read())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CommandError(f"cannot read the trace {path!r}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from ..profiling import write_session
    from ..summaries.profile_stats import node_times, op_events, op_totals
    from ..writer import SummaryWriter

    if args.batches is not None and args.batches < 1:
        raise UsageError(f"--batches must be a positive integer; got {args.batches}")
    logdir = args.logdir or default_logdir()
    shapes = parse_shapes(args.shape)
    base = os.path.basename(args.trace)
    base = base[: -len(".json")] if base.endswith(".json") and len(base) > len(".json") else base
    run_name = args.run if args.run is not None else derived_run_name(base)
    directory = resolve_run_dir(logdir, run_name)
    trace = _load_trace(args.trace)
    graph = checked_graph(load_symbol(args.symbol), shapes)
    events = op_events(trace)
    if not events:
        raise CommandError(f"{args.trace!r} holds no operator events on a cpu/N or gpu/N device")
    times = node_times(graph, events, args.batches)
    if not times.forward and not times.backward:
        reasons = "; ".join(f"{name}: {why}" for name, why in sorted(times.unmapped.items())[:5])
        raise CommandError(f"no event of {args.trace!r} maps to a node of {args.symbol!r} ({reasons})")
    last = max(times.batches - 1, 0)
    note_existing_run(directory, run_name)
    with SummaryWriter(directory, verbose=False) as writer:
        session = write_session(writer, directory, graph, trace, op_totals(events), times.batches, 0, last)
    print(
        f"{args.trace} -> run {run_name!r} in {logdir}: {session.nodes} nodes timed over {times.batches} batches, "
        f"{session.mapped_ms:.3f} of {session.total_ms:.3f} ms on graph nodes; GRAPHS tag {session.tag!r}"
    )
    for name, why in sorted(session.unmapped.items()):
        note(f"not mapped: {name}: {why}")
    return 0
