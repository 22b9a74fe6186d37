"""The ``mxnet-tb`` command line: bring old MXNet runs, logs and checkpoints into TensorBoard.

Subcommands (one module each): ``import-log`` (``import_log.py``, parsing in ``logparse.py``), ``checkpoint``,
``graph``, ``serve``, ``run`` (an unchanged script under ``tb.autolog``). Exit codes: 0 done, 1 failed, 2 usage
error (bad argument, missing file).

Example::

    >>> main(["import-log", "train.log", "--logdir", "runs"])   # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__
from . import checkpoint, graph, import_log, profile, run, serve
from ._common import CommandError, UsageError

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

EXAMPLES = """\
examples:
  mxnet-tb import-log train.log --logdir runs                  # Speedometer/fit/Monitor lines -> scalars
  mxnet-tb checkpoint models/resnet --epochs 1,5,10 --shape data=1,3,224,224 --logdir runs
  mxnet-tb graph models/resnet-symbol.json --shape data=1,3,224,224 --logdir runs
  mxnet-tb serve runs                                          # http://127.0.0.1:6006/
  mxnet-tb run -- train_mnist.py --lr 0.05                     # an unchanged script, logged (tb.autolog)

exit codes: 0 done, 1 failed, 2 usage error (bad argument, missing file)
run 'mxnet-tb COMMAND --help' for a command's options
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``mxnet-tb`` argument parser with its subcommands.

    Example::

        >>> build_parser().parse_args(["serve", "runs"]).logdir
        'runs'
    """
    parser = argparse.ArgumentParser(
        prog="mxnet-tb",
        description="Bring MXNet training logs, checkpoints and symbol files into TensorBoard.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mxnet-tb {__version__}")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in (import_log, checkpoint, graph, serve, run, profile):
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mxnet-tb`` with ``argv`` (default: ``sys.argv[1:]``) and return its exit code.

    Example::

        >>> main(["graph", "missing-symbol.json"])   # doctest: +SKIP
        mxnet-tb graph: error: no such symbol file: 'missing-symbol.json'
        2
    """
    parser = build_parser()
    argv = run.protect_script_args(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a usage error, 0 after --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    where = f"mxnet-tb {args.command}"
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"{where}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"{where}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # a failure the command did not foresee: one line, not a traceback
        print(f"{where}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
