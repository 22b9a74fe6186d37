"""Removable per-call hooks on MXNet objects' methods (executors, modules, executor groups).

Stock MXNet only drives a ``Monitor`` through ``tic``/``toc`` when it is passed as ``fit(monitor=...)``, and
an executor monitor callback slows every batch whether it is active or not. Wrapping an object's own
methods (``exe.forward``, ``exe.backward``, ``module.update``) costs one Python call per batch and works for
every install style. Each object is wrapped once, whatever listens; ``listen`` returns a handle whose
``remove()`` takes the listener away, and when an object's last listener goes its methods are put back
exactly as they were (the instance attribute removed, or the user's own wrapper restored).

Example::

    >>> handle = hooks_of(exe).listen("after_backward", lambda exe: ...)   # doctest: +SKIP
    >>> handle.remove()                                                     # exe.backward is MXNet's again
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any, ClassVar

__all__ = ["ExecutorHooks", "Hooks", "ModuleHooks", "RemovableHandle", "hooks_of", "module_hooks_of"]

Listener = Callable[..., None]
_ABSENT = object()  # the object had no instance attribute of that name (its class's method was used)
_lock = threading.RLock()
_batch_ids = itertools.count()  # one number per training batch started anywhere in the process, never reused


class RemovableHandle:
    """Returned by ``Hooks.listen``; ``remove()`` takes the listener away (twice is harmless)."""

    def __init__(self, hooks: Hooks, event: str, listener: Listener) -> None:
        self._hooks: Hooks | None = hooks
        self._event, self.listener = event, listener

    def remove(self) -> None:
        """Stop calling the listener; the last one gone restores the object's methods."""
        hooks, self._hooks = self._hooks, None
        if hooks is not None:
            hooks._remove(self._event, self.listener)


def _notify(listeners: list[Listener], *subject: Any) -> None:
    for listener in list(listeners):  # a listener may remove itself
        listener(*subject)


class Hooks:
    """The wrapped methods of one object and their listeners, by event; subclasses say what to wrap."""

    ATTRIBUTE: ClassVar[str] = "_mxnet_tb_hooks"
    EVENTS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self.listeners: dict[str, list[Listener]] = {event: [] for event in self.EVENTS}
        self._saved: dict[str, Any] = {}  # method name -> the owner's own attribute before wrapping, or _ABSENT
        self._wrappers: dict[str, Any] = {}

    def listen(self, event: str, listener: Listener) -> RemovableHandle:
        """Call ``listener`` at ``event`` (one of ``EVENTS``) until the returned handle is removed."""
        with _lock:
            self.listeners[event].append(listener)
        return RemovableHandle(self, event, listener)

    def _wrap(self, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        self._saved[name] = vars(self.owner).get(name, _ABSENT)
        wrapper = make(getattr(self.owner, name))
        self._wrappers[name] = wrapper
        setattr(self.owner, name, wrapper)

    def _remove(self, event: str, listener: Listener) -> None:
        with _lock:
            listeners = self.listeners[event]
            for index, known in enumerate(listeners):
                if known is listener or known == listener:  # bound methods are new objects at each access
                    del listeners[index]
                    break
            if not any(self.listeners.values()):
                self._restore()

    def _restore(self) -> None:
        """Put the owner's methods back; one wrapped again by someone else since stays (it passes through)."""
        owner = self.owner
        for name, wrapper in self._wrappers.items():
            if vars(owner).get(name) is not wrapper:
                continue
            saved = self._saved[name]
            if saved is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, saved)
        if vars(owner).get(self.ATTRIBUTE) is self:
            delattr(owner, self.ATTRIBUTE)


def _followed_by(method: Callable[..., Any], listeners: list[Listener], subject: Any) -> Callable[..., Any]:
    """``method`` wrapped so that ``listeners`` hear about ``subject`` after each call."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        _notify(listeners, subject)
        return result

    return wrapped


class ExecutorHooks(Hooks):
    """Listeners called around a training ``forward`` and after ``backward`` of one executor; counts batches."""

    EVENTS = ("before_train_forward", "after_train_forward", "after_backward")

    def __init__(self, exe: Any) -> None:
        super().__init__(exe)
        self.train_batches = 0
        self.batch_id = -1  # the process-wide id of the training batch in progress or last run
        self._wrap("forward", self._hooked_forward)
        self._wrap("backward", lambda method: _followed_by(method, self.listeners["after_backward"], exe))

    def _hooked_forward(self, forward: Callable[..., Any]) -> Callable[..., Any]:
        exe = self.owner

        def hooked_forward(is_train: bool = False, **kwargs: Any) -> Any:
            if not is_train:
                return forward(is_train=is_train, **kwargs)
            self.train_batches += 1
            self.batch_id = next(_batch_ids)
            _notify(self.listeners["before_train_forward"], exe)
            try:
                return forward(is_train=is_train, **kwargs)
            finally:
                _notify(self.listeners["after_train_forward"], exe)

        return hooked_forward


class ModuleHooks(Hooks):
    """Listeners of a module: before each training ``forward`` (counted), after ``update()`` and ``bind()``.

    A training forward is ``forward(batch, is_train=True)``, or ``is_train=None`` on a module bound for
    training (MXNet's default). ``after_bind`` hears every ``bind`` call, also ``force_rebind=True`` ones
    that replace the module's executors.
    """

    ATTRIBUTE = "_mxnet_tb_module_hooks"
    EVENTS = ("before_train_forward", "after_update", "after_bind")

    def __init__(self, module: Any) -> None:
        super().__init__(module)
        self.train_batches = 0
        self.batch_id = -1  # the process-wide id of the training batch in progress or last run
        self._wrap("forward", self._hooked_forward)
        self._wrap("update", lambda method: _followed_by(method, self.listeners["after_update"], module))
        self._wrap("bind", lambda method: _followed_by(method, self.listeners["after_bind"], module))

    def _hooked_forward(self, forward: Callable[..., Any]) -> Callable[..., Any]:
        module = self.owner

        def hooked_forward(*args: Any, **kwargs: Any) -> Any:
            is_train = kwargs["is_train"] if "is_train" in kwargs else (args[1] if len(args) > 1 else None)
            if is_train is None:
                is_train = getattr(module, "for_training", False)
            if is_train:
                self.train_batches += 1
                self.batch_id = next(_batch_ids)
                _notify(self.listeners["before_train_forward"], module)
            return forward(*args, **kwargs)

        return hooked_forward


def attached(owner: Any, kind: type[Hooks]) -> Hooks:
    """The ``kind`` hooks of ``owner``, wrapping its methods on first use."""
    with _lock:
        hooks = vars(owner).get(kind.ATTRIBUTE)
        if hooks is None:
            hooks = kind(owner)
            setattr(owner, kind.ATTRIBUTE, hooks)
        return hooks


def hooks_of(exe: Any) -> ExecutorHooks:
    """The hooks of executor ``exe``, wrapping its methods on first use."""
    return attached(exe, ExecutorHooks)  # type: ignore[return-value]


def module_hooks_of(module: Any) -> ModuleHooks:
    """The hooks of ``module``, wrapping its ``forward``, ``update`` and ``bind`` on first use."""
    return attached(module, ModuleHooks)  # type: ignore[return-value]
