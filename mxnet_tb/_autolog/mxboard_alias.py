"""``import mxboard`` while autolog is on: a working MXBoard if one imports, else mxnet_tb's SummaryWriter.

MXBoard (last release 2019) fails to import on any current protobuf, and MXNet's own
``mx.contrib.tensorboard.LogMetricsCallback`` does ``from mxboard import SummaryWriter``; without MXBoard it
logs an error and crashes at its first call. mxnet_tb's ``SummaryWriter`` has MXBoard's constructor and
``add_*`` signatures, so the stand-in is two modules: ``mxboard`` and ``mxboard.writer``, each exporting it.
Nothing is installed on disk: a meta-path finder answers only while autolog is on.

Example::

    >>> finder = install()          # doctest: +SKIP
    >>> import mxboard               # doctest: +SKIP
    >>> mxboard.SummaryWriter is mxnet_tb.SummaryWriter   # doctest: +SKIP
    True
    >>> uninstall(finder)            # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Sequence
from typing import Any

__all__ = ["ALIAS_MARK", "MxboardFinder", "install", "uninstall"]

ALIAS_MARK = "__mxnet_tb_alias__"
_NAMES = ("mxboard", "mxboard.writer")


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        from ..writer import SummaryWriter

        module.SummaryWriter = SummaryWriter
        module.__all__ = ["SummaryWriter"]
        module.__doc__ = "mxnet_tb's SummaryWriter standing in for MXBoard (installed by mxnet_tb.autolog)."
        setattr(module, ALIAS_MARK, True)
        if module.__name__ == "mxboard":
            module.__path__ = []  # a package, so 'from mxboard.writer import SummaryWriter' finds its part
            module.__version__ = "mxnet_tb"


class _LoadedLoader(importlib.abc.Loader):
    """Hands the import system the real MXBoard that the finder already imported to see whether it works."""

    def __init__(self, module: types.ModuleType) -> None:
        self._module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self._module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class MxboardFinder(importlib.abc.MetaPathFinder):
    """Answers ``import mxboard``: the real package when it imports without error, else the stand-in."""

    def __init__(self) -> None:
        self._probing = False
        self.real_error: str | None = None  # why the real MXBoard did not import, when one is installed

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _NAMES or self._probing:
            return None
        if fullname == "mxboard":
            real = self._real_mxboard()
            if real is not None:
                return importlib.util.spec_from_loader(fullname, _LoadedLoader(real), origin=real.__file__)
        elif not getattr(sys.modules.get("mxboard"), ALIAS_MARK, False):
            return None  # a submodule of the real MXBoard: its own finder answers
        return importlib.util.spec_from_loader(fullname, _AliasLoader(), is_package=fullname == "mxboard")

    def _real_mxboard(self) -> types.ModuleType | None:
        if importlib.machinery.PathFinder.find_spec("mxboard") is None:
            return None
        self._probing = True
        try:
            return importlib.import_module("mxboard")
        except Exception as exc:  # MXBoard's generated protos raise TypeError on protobuf >= 4
            self.real_error = f"{type(exc).__name__}: {exc}"
            for name in [n for n in sys.modules if n == "mxboard" or n.startswith("mxboard.")]:
                del sys.modules[name]
            return None
        finally:
            self._probing = False


def install() -> MxboardFinder:
    """Put the finder first on ``sys.meta_path``; a stand-in imported earlier is dropped, so it is fresh."""
    finder = MxboardFinder()
    sys.meta_path.insert(0, finder)
    return finder


def uninstall(finder: Any) -> None:
    """Remove ``finder`` and every stand-in module it created (a real MXBoard stays imported)."""
    while finder in sys.meta_path:
        sys.meta_path.remove(finder)
    for name in _NAMES:
        if getattr(sys.modules.get(name), ALIAS_MARK, False):
            del sys.modules[name]
