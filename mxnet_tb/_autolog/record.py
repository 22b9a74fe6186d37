"""What an autologged run was: its command line, the script's argparse options and the versions used.

Written once per run as hparams (so runs of different ``--lr`` line up in the HPARAMS tab) and as a TEXT
table (``autolog/run``). The options are the namespaces the script's parsers return from ``sys.argv``
(``parse_args()`` / ``parse_known_args()`` with no explicit argument list): parsers given explicit lists
belong to libraries or sub-commands and are not the run's options.

Example::

    >>> capture = ArgvCapture(); capture.install()        # doctest: +SKIP
    >>> args = parser.parse_args()                        # doctest: +SKIP
    >>> capture.uninstall(); capture.options()            # doctest: +SKIP
    {'lr': 0.1, 'batch_size': 64}
"""

from __future__ import annotations

import argparse
import functools
import math
import shlex
import sys
from typing import Any

from .._version import __version__

__all__ = ["ArgvCapture", "hparams_of", "markdown_table", "run_facts"]

_EXTRA = "autolog/"  # prefix of the hparams autolog adds, apart from the script's own option names


class ArgvCapture:
    """Patches ``argparse.ArgumentParser.parse_known_args`` (which ``parse_args`` calls) to keep the namespaces."""

    def __init__(self) -> None:
        self.namespaces: list[argparse.Namespace] = []
        self._original: Any = None

    def install(self) -> None:
        original = argparse.ArgumentParser.__dict__["parse_known_args"]
        capture = self

        @functools.wraps(original)
        def parse_known_args(self: argparse.ArgumentParser, args: Any = None, namespace: Any = None) -> Any:
            result = original(self, args, namespace)
            if args is None and isinstance(result, tuple) and isinstance(result[0], argparse.Namespace):
                capture.namespaces.append(result[0])
            return result

        self._original = original
        argparse.ArgumentParser.parse_known_args = parse_known_args

    def uninstall(self) -> None:
        if self._original is not None:
            argparse.ArgumentParser.parse_known_args = self._original
            self._original = None

    def options(self) -> dict[str, Any]:
        """Every option parsed from ``sys.argv``, later parsers overriding earlier ones (in parse order)."""
        merged: dict[str, Any] = {}
        for namespace in self.namespaces:
            merged.update(vars(namespace))
        return merged


def run_facts() -> dict[str, str]:
    """The command line and versions, as strings: ``command``, ``python``, ``mxnet``, ``mxnet_tb``."""
    mxnet = sys.modules.get("mxnet")
    return {
        "command": shlex.join([sys.argv[0] if sys.argv else "", *sys.argv[1:]]),
        "python": sys.version.split()[0],
        "mxnet": str(getattr(mxnet, "__version__", "not imported")),
        "mxnet_tb": __version__,
    }


def _hparam_value(value: Any) -> bool | float | str | None:
    if value is None:
        return None  # no value: TensorBoard leaves the cell empty
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int beyond float range
            return str(value)
        return number if math.isfinite(number) else str(value)
    text = value if isinstance(value, str) else repr(value)
    return text.encode("utf-8", errors="replace").decode("utf-8")


def hparams_of(options: dict[str, Any], facts: dict[str, str]) -> dict[str, bool | float | str]:
    """The hparams of a run: its options (None values left out) and the facts under ``autolog/``."""
    hparams: dict[str, bool | float | str] = {}
    for name, value in options.items():
        converted = _hparam_value(value)
        if converted is not None and isinstance(name, str) and name:
            hparams[name] = converted
    for name, value in facts.items():
        hparams[_EXTRA + name] = value
    return hparams


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(options: dict[str, Any], facts: dict[str, str]) -> str:
    """The run's facts, then its options, as a two-column Markdown table for the TEXT tab."""
    rows = ["| name | value |", "|---|---|"]
    rows += [f"| {_cell(name)} | `{_cell(value)}` |" for name, value in facts.items()]
    rows += [f"| {_cell(name)} | `{_cell(value)}` |" for name, value in options.items()]
    return "\n".join(rows)
