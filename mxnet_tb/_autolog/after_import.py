"""Run a function once a module has been imported, without importing it now.

``mxnet-tb run`` must not import MXNet before the script does: scripts set ``MXNET_ENGINE_TYPE``,
``OMP_NUM_THREADS`` or ``MXNET_CPU_WORKER_NTHREADS`` before their ``import mxnet``, and MXNet reads them
once, at import. The hook wraps the loader the import system finds for the module and calls the function
right after the module's code has run.

Example::

    >>> hook = when_imported("mxnet", patch_fit)   # patch_fit() runs at the script's 'import mxnet'
    >>> hook.remove()                               # doctest: +SKIP
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["ImportHook", "when_imported"]


class _CallingLoader(importlib.abc.Loader):
    """The module's own loader, then ``then()``; every other attribute (resource readers...) is the loader's."""

    def __init__(self, loader: Any, then: Callable[[], None]) -> None:
        self._loader, self._then = loader, then

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        self._then()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class ImportHook(importlib.abc.MetaPathFinder):
    """A finder that answers only for ``name``, with the spec the other finders give and a calling loader."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name, self._then = name, then
        self._searching = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name or self._searching:
            return None
        self._searching = True
        try:
            spec = next(
                (s for f in sys.meta_path if f is not self and (s := _find(f, fullname, path, target)) is not None),
                None,
            )
        finally:
            self._searching = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        self.remove()  # once: the function runs for the first import only
        spec.loader = _CallingLoader(spec.loader, self._then)
        return spec

    def remove(self) -> None:
        while self in sys.meta_path:
            sys.meta_path.remove(self)


def _find(finder: Any, name: str, path: Sequence[str] | None, target: Any) -> Any:
    find_spec = getattr(finder, "find_spec", None)
    return find_spec(name, path, target) if find_spec is not None else None


def when_imported(name: str, then: Callable[[], None]) -> ImportHook | None:
    """Call ``then()`` now if ``name`` is imported, else right after it is; returns the hook to remove, if any."""
    if name in sys.modules:
        then()
        return None
    hook = ImportHook(name, then)
    sys.meta_path.insert(0, hook)
    return hook
