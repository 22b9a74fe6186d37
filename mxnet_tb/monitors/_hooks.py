"""Per-batch hooks on MXNet executors (and modules), installed once per object whatever monitors use them.

Stock MXNet only drives a ``Monitor`` through ``tic``/``toc`` when it is passed as ``fit(monitor=...)``, and
an executor monitor callback slows every batch whether it is active or not. Wrapping an executor's own
``forward`` and ``backward`` costs one Python call per batch and works for every install style.

Example::

    >>> hooks_of(exe).after_backward.append(lambda exe: ...)   # doctest: +SKIP
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["ExecutorHooks", "ModuleHooks", "executor_group", "hooks_of", "module_hooks_of"]

_ATTRIBUTE = "_mxnet_tb_hooks"
_MODULE_ATTRIBUTE = "_mxnet_tb_module_hooks"

Listener = Callable[[Any], None]


class ExecutorHooks:
    """Listeners called around a training ``forward`` and after ``backward`` of one executor; counts batches."""

    def __init__(self, exe: Any) -> None:
        self.before_train_forward: list[Listener] = []
        self.after_train_forward: list[Listener] = []
        self.after_backward: list[Listener] = []
        self.train_batches = 0
        forward, backward = exe.forward, exe.backward

        def hooked_forward(is_train: bool = False, **kwargs: Any) -> Any:
            if not is_train:
                return forward(is_train=is_train, **kwargs)
            self.train_batches += 1
            for listener in list(self.before_train_forward):
                listener(exe)
            try:
                return forward(is_train=is_train, **kwargs)
            finally:
                for listener in list(self.after_train_forward):
                    listener(exe)

        def hooked_backward(*args: Any, **kwargs: Any) -> Any:
            result = backward(*args, **kwargs)
            for listener in list(self.after_backward):
                listener(exe)
            return result

        exe.forward, exe.backward = hooked_forward, hooked_backward


def hooks_of(exe: Any) -> ExecutorHooks:
    """The hooks of ``exe``, wrapping its methods on first use."""
    hooks = getattr(exe, _ATTRIBUTE, None)
    if hooks is None:
        hooks = ExecutorHooks(exe)
        setattr(exe, _ATTRIBUTE, hooks)
    return hooks


class ModuleHooks:
    """Listeners called after a module's ``update()`` (the kvstore push/pull and the optimizer step)."""

    def __init__(self, module: Any) -> None:
        self.after_update: list[Listener] = []
        update = module.update

        def hooked_update(*args: Any, **kwargs: Any) -> Any:
            result = update(*args, **kwargs)
            for listener in list(self.after_update):
                listener(module)
            return result

        module.update = hooked_update


def module_hooks_of(module: Any) -> ModuleHooks:
    """The hooks of ``module``, wrapping its ``update`` on first use."""
    hooks = getattr(module, _MODULE_ATTRIBUTE, None)
    if hooks is None:
        hooks = ModuleHooks(module)
        setattr(module, _MODULE_ATTRIBUTE, hooks)
    return hooks


def executor_group(exe: Any, max_depth: int = 8) -> list[Any]:
    """The executors that share one batch with ``exe`` (one per device), in the order MXNet runs them.

    ``DataParallelExecutorGroup.install_monitor`` installs a monitor on each of its executors in turn; its
    ``execs`` list is the group. Installed any other way, an executor is a group of its own.
    """
    frame = sys._getframe(1)
    for _ in range(max_depth):
        if frame is None:
            break
        owner = frame.f_locals.get("self")
        execs = getattr(owner, "execs", None)
        if isinstance(execs, list) and any(e is exe for e in execs):
            return execs
        frame = frame.f_back
    return [exe]
