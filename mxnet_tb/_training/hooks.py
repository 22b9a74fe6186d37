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


def _notify(listeners: list[Listener], subject: Any) -> None:
    for listener in list(listeners):  # a listener may remove itself
        listener(subject)


def _followed_by(method: Callable[..., Any], listeners: list[Listener], subject: Any) -> Callable[..., Any]:
    """``method`` wrapped so that ``listeners`` hear about ``subject`` after each call."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        _notify(listeners, subject)
        return result

    return wrapped


class ExecutorHooks:
    """Listeners called around a training ``forward`` and after ``backward`` of one executor; counts batches."""

    def __init__(self, exe: Any) -> None:
        self.before_train_forward: list[Listener] = []
        self.after_train_forward: list[Listener] = []
        self.after_backward: list[Listener] = []
        self.train_batches = 0
        forward = exe.forward

        def hooked_forward(is_train: bool = False, **kwargs: Any) -> Any:
            if not is_train:
                return forward(is_train=is_train, **kwargs)
            self.train_batches += 1
            _notify(self.before_train_forward, exe)
            try:
                return forward(is_train=is_train, **kwargs)
            finally:
                _notify(self.after_train_forward, exe)

        exe.forward = hooked_forward
        exe.backward = _followed_by(exe.backward, self.after_backward, exe)


class ModuleHooks:
    """Listeners called after a module's ``update()`` (the kvstore push/pull and the optimizer step)."""

    def __init__(self, module: Any) -> None:
        self.after_update: list[Listener] = []
        module.update = _followed_by(module.update, self.after_update, module)


def _attached(owner: Any, attribute: str, make: Callable[[Any], Any]) -> Any:
    hooks = getattr(owner, attribute, None)
    if hooks is None:
        hooks = make(owner)
        setattr(owner, attribute, hooks)
    return hooks


def hooks_of(exe: Any) -> ExecutorHooks:
    """The hooks of ``exe``, wrapping its methods on first use."""
    return _attached(exe, _ATTRIBUTE, ExecutorHooks)


def module_hooks_of(module: Any) -> ModuleHooks:
    """The hooks of ``module``, wrapping its ``update`` on first use."""
    return _attached(module, _MODULE_ATTRIBUTE, ModuleHooks)


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
