"""``mxnet-tb run``: an unchanged training script, run as ``python SCRIPT ARGS`` would, with ``tb.autolog()`` on.

The script sees the ``sys.argv``, ``__name__ == '__main__'``, ``sys.path[0]`` (its own directory) and working
directory that ``python SCRIPT ARGS`` gives it, writes to the same stdout/stderr, and ends with the same exit
status: its ``sys.exit`` code, 1 and a traceback for an uncaught exception, death by SIGINT after Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import runpy
import signal
import sys
import textwrap
from types import TracebackType

from ._common import UsageError, default_logdir, note

__all__ = ["add_parser", "protect_script_args", "run"]

_WITH_VALUE = ("--logdir", "--every")
_FLAGS = ("--grads", "--no-grads", "--weights", "--doctor", "-h", "--help")

EXAMPLES = """\
examples:
  mxnet-tb run -- train_mnist.py --lr 0.05 --num-epochs 10     # run in runs/<date>_<time>_train_mnist
  mxnet-tb run --logdir sweeps --weights -- fit.py --network resnet
  mxnet-tb run --no-grads --every 20 -- train.py
  mxnet-tb run --doctor -- train_mnist.py --lr 100

Speedometer lines of the script's log match the training curves step for step when its Speedometer has
auto_reset=False (both then average since the epoch's start); validation always matches.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "run",
        help="run an unchanged Module-API training script with TensorBoard logging",
        description=textwrap.dedent(
            """\
            Run SCRIPT as 'python SCRIPT ARGS' would, with every Module.fit instrumented (tb.autolog):
            tb.scalars, tb.validation and tb.params added to the script's own callbacks, a GradMonitor
            unless the script passes a monitor, and the command line and argparse options as hparams."""
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--logdir",
        default=None,
        metavar="DIR",
        help="where the run directory goes (default: $MXNET_TB_LOGDIR or 'runs')",
    )
    parser.add_argument(
        "--grads",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log gradients with a GradMonitor when the script passes no monitor (default: on)",
    )
    parser.add_argument("--weights", action="store_true", help="also log weights every 100 batches (WeightMonitor)")
    parser.add_argument(
        "--doctor",
        action="store_true",
        help="judge training live with a tb.Doctor (vanishing/exploding gradients, dead ReLUs, NaN, stalled loss) "
        "instead of the GradMonitor/WeightMonitor",
    )
    parser.add_argument("--every", type=int, default=1, metavar="N", help="log training scalars every N batches")
    parser.add_argument("script", metavar="SCRIPT", help="the training script, e.g. train_mnist.py")
    parser.add_argument("script_args", nargs=argparse.REMAINDER, metavar="ARGS", help="the script's own arguments")
    parser.set_defaults(handler=run)
    return parser


def protect_script_args(argv: list[str]) -> list[str]:
    """``argv`` with ``--`` before the script of a ``run`` command, so argparse passes the script's arguments on
    verbatim (its own ``--``, options named like ``run``'s) whether or not the user wrote one.

    Example::

        >>> protect_script_args(["run", "--every", "5", "train.py", "--", "--every", "1"])
        ['run', '--every', '5', '--', 'train.py', '--', '--every', '1']
    """
    if not argv or argv[0] != "run":
        return argv
    i = 1
    while i < len(argv):
        token = argv[i]
        if token == "--":
            return argv
        if token in _WITH_VALUE:
            i += 2
        elif token in _FLAGS or token.startswith(tuple(f"{o}=" for o in _WITH_VALUE)):
            i += 1
        elif token.startswith("-"):
            return argv  # not an option of run: argparse reports it
        else:
            return [*argv[:i], "--", *argv[i:]]
    return argv


def _script_traceback(tb: TracebackType | None, script: str) -> TracebackType | None:
    """The traceback from the script's first frame on, as ``python SCRIPT`` shows it (no runpy/mxnet-tb frames)."""
    here = tb
    while here is not None:
        if os.path.realpath(here.tb_frame.f_code.co_filename) == script:
            return here
        here = here.tb_next
    return tb


def run(args: argparse.Namespace) -> int:
    from ..autolog import autolog

    script = args.script
    if not os.path.isfile(script):
        raise UsageError(f"no such script: {script!r}")
    if args.every < 1:
        raise UsageError(f"--every must be an integer >= 1; got {args.every}")
    real_script = os.path.realpath(script)
    sys.argv = [script, *args.script_args]  # first: the run is named after the script
    sys.path[0] = os.path.dirname(real_script)
    directory = autolog(
        logdir=args.logdir or default_logdir(),
        grads=args.grads,
        weights=args.weights,
        every=args.every,
        doctor=args.doctor,
    )
    if sys.stderr.isatty():
        note(f"logging to {directory}")
    interrupted = False
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit:
        raise  # the script's exit code, printed and returned by the interpreter as for 'python SCRIPT'
    except BaseException as exc:
        trimmed = _script_traceback(exc.__traceback__, real_script)
        sys.excepthook(type(exc), exc.with_traceback(trimmed), trimmed)
        interrupted = isinstance(exc, KeyboardInterrupt)
        return 1
    finally:
        autolog(disable=True)  # the run's record is written and its files closed before the process ends
        if interrupted:  # Ctrl-C: end as Python does, killed by SIGINT (status 130 in a shell)
            sys.stdout.flush()
            sys.stderr.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
    return 0
