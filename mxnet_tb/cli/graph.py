"""``mxnet-tb graph``: an MXNet ``-symbol.json`` file into TensorBoard's GRAPHS tab."""

from __future__ import annotations

import argparse
import os
import textwrap
from typing import Any

from ..errors import mxnet_reason
from ._common import (
    CommandError,
    UsageError,
    add_logdir_options,
    default_logdir,
    derived_run_name,
    note_existing_run,
    parse_shapes,
    resolve_run_dir,
)

__all__ = ["add_parser", "checked_graph", "load_symbol", "run"]

EXAMPLES = """\
examples:
  mxnet-tb graph resnet-50-symbol.json                            # run 'resnet-50' in ./runs
  mxnet-tb graph resnet-50-symbol.json --shape data=1,3,224,224   # tensor shapes on edges, and a model card
  mxnet-tb graph model-symbol.json --shape data=1,1,28,28 --shape softmax_label=1 --logdir runs --run net
"""

SHAPE_HELP = "input shape NAME=D1,D2,... (repeatable), e.g. data=1,3,224,224: edges then show tensor shapes"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "graph",
        help="show a symbol JSON file in TensorBoard's GRAPHS tab",
        description=textwrap.dedent(
            """\
            Log the network of an MXNet -symbol.json file (Module.save_checkpoint, HybridBlock.export) for
            TensorBoard's GRAPHS tab. When --shape gives the input shapes, edges show tensor shapes and the run
            gets a model card: TEXT 'model_card' (per layer parameters, MACs, FLOPs, output bytes) and scalars
            'model/parameters', 'model/macs_per_sample'."""
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("symbol", metavar="SYMBOL.json", help="MXNet symbol file")
    parser.add_argument("--shape", action="append", metavar="NAME=DIMS", help=SHAPE_HELP)
    add_logdir_options(parser, "run name (default: the file name without -symbol.json)")
    parser.set_defaults(handler=run)
    return parser


def load_symbol(path: str) -> Any:
    """The MXNet Symbol saved in ``path``; UsageError if it is missing, CommandError if it is not a symbol."""
    if not os.path.isfile(path):
        raise UsageError(f"no such symbol file: {path!r}")
    import mxnet as mx

    try:
        return mx.sym.load(path)
    except mx.base.MXNetError as exc:
        first = mxnet_reason(exc)
        raise CommandError(f"{path!r} is not an MXNet symbol JSON file: {first}") from None


def checked_graph(symbol: Any, shapes: dict[str, tuple[int, ...]] | None) -> Any:
    """The GraphDef of ``symbol``, built once before anything is written; UsageError when ``shapes`` do not fit.

    Example::

        >>> len(checked_graph(mx.sym.load("model-symbol.json"), {"data": (1, 3, 32, 32)}).node)  # doctest: +SKIP
        12
    """
    from ..summaries.graph import graph_def

    try:
        return graph_def(symbol, shapes)
    except (TypeError, ValueError) as exc:
        if shapes is None:
            raise CommandError(f"cannot convert the graph: {exc}") from None
        given = " ".join(f"--shape {name}={','.join(map(str, dims))}" for name, dims in shapes.items())
        raise UsageError(f"{given}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from ..model_cards import write_card
    from ..summaries.model_card import human, model_card
    from ..writer import SummaryWriter

    logdir = args.logdir or default_logdir()
    shapes = parse_shapes(args.shape)
    base = os.path.basename(args.symbol)
    for suffix in ("-symbol.json", ".json"):
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
            break
    run_name = args.run if args.run is not None else derived_run_name(base)
    directory = resolve_run_dir(logdir, run_name)
    symbol = load_symbol(args.symbol)
    graph = checked_graph(symbol, shapes)
    card = None if shapes is None else model_card(symbol, shapes)  # the shapes fit: checked_graph said so
    note_existing_run(directory, run_name)
    with SummaryWriter(directory, verbose=False) as writer:
        writer.add_graph(symbol, shapes=shapes)
        if card is not None:
            write_card(writer, card, step=0)
    with_shapes = " with shapes" if shapes else ""
    print(f"{args.symbol} -> run {run_name!r} in {logdir}: graph of {len(graph.node)} nodes{with_shapes}")
    if card is not None:
        print(f"model card: {card.all_parameters:,} parameters, {human(card.macs_per_sample)} MACs per sample")
    return 0
