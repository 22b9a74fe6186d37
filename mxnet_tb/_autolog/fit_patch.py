"""``BaseModule.fit`` with mxnet_tb's callbacks and a monitor added to what the caller passes.

``Module``, ``BucketingModule`` and ``SequentialModule`` all inherit ``fit`` from ``BaseModule``; a subclass
that defines its own ``fit`` is patched too. The caller's callbacks run first, unchanged (a Speedometer or a
``do_checkpoint`` keeps working), then mxnet_tb's; a monitor the caller passes is left alone.

Example::

    >>> patch = FitPatch(session); patch.install()   # doctest: +SKIP
    >>> patch.uninstall()                            # BaseModule.fit is the original function again
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

from .after_import import ImportHook, when_imported

__all__ = ["FitPatch", "continue_resumed_clock", "with_callbacks"]

_CALLBACK_ARGUMENTS = ("batch_end_callback", "eval_end_callback", "epoch_end_callback")


def with_callbacks(given: Any, ours: list[Callable[..., Any]]) -> Any:
    """The caller's callback argument (None, one callable, or a list) followed by ``ours``, as ``fit`` takes it.

    Example::

        >>> with_callbacks(None, [print]) == [print]
        True
    """
    if not ours:
        return given
    if given is None:
        return list(ours)
    if isinstance(given, list):  # MXNet's _as_list: only a list is a list; anything else is one callback
        return [*given, *ours]
    return [given, *ours]


def continue_resumed_clock(module: Any, arguments: dict[str, Any]) -> None:
    """Start a resumed ``fit(begin_epoch=N)`` at step ``N * batches per epoch``, before any monitor counts.

    ``tb.scalars`` moves the step of a resumed fit itself, but only while nothing has counted a batch, and a
    monitor counts each batch before the batch-end callbacks run; so the step moves here, before the first batch.
    """
    from .._training.clock import clock_of

    begin = arguments.get("begin_epoch") or 0
    data = arguments.get("train_data")
    num, size = getattr(data, "num_data", None), getattr(data, "batch_size", None)
    clock = clock_of(module)
    if not isinstance(begin, int) or begin <= 0 or not num or not size or clock.ticked:
        return
    per_epoch = -(-num // size) if getattr(data, "last_batch_handle", "pad") == "pad" else num // size
    clock.rebase(begin * per_epoch - 1)


class FitPatch:
    """Replaces ``fit`` on MXNet's module classes while installed; ``uninstall`` puts the originals back.

    ``session`` provides ``callbacks() -> {argument: [callables]}`` and ``monitor_for(module)``, called
    once per ``fit`` call (nested ``fit`` calls, as a module's own ``fit`` calling another's, pass through).
    """

    def __init__(self, session: Any) -> None:
        self._session = session
        self._originals: dict[type, Callable[..., Any]] = {}
        self._depth = threading.local()
        self._hook: ImportHook | None = None

    def install(self) -> None:
        """Patch now if MXNet is imported, else when the script imports it (MXNet is never imported here)."""
        self._hook = when_imported("mxnet", self._patch)

    def _patch(self) -> None:
        import mxnet as mx

        classes = [mx.module.BaseModule, mx.mod.Module, mx.mod.BucketingModule, mx.mod.SequentialModule]
        for cls in classes:
            original = cls.__dict__.get("fit")
            if original is not None and cls not in self._originals:
                self._originals[cls] = original
                cls.fit = self._wrap(original)

    def uninstall(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        for cls, original in self._originals.items():
            cls.fit = original
        self._originals.clear()

    def _wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)
        patch = self

        @functools.wraps(original)
        def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
            depth = getattr(patch._depth, "value", 0)
            if depth:
                return original(self, *args, **kwargs)
            bound = signature.bind(self, *args, **kwargs)  # a wrong call fails here as it would in MXNet
            patch._instrument(self, bound.arguments)
            patch._depth.value = depth + 1
            try:
                return original(*bound.args, **bound.kwargs)
            finally:
                patch._depth.value = depth

        return fit

    def _instrument(self, module: Any, arguments: dict[str, Any]) -> None:
        continue_resumed_clock(module, arguments)
        ours = self._session.callbacks()
        for name in _CALLBACK_ARGUMENTS:
            arguments[name] = with_callbacks(arguments.get(name), ours.get(name, []))
        if arguments.get("monitor") is None:
            monitor = self._session.monitor_for(module)
            if monitor is not None:
                arguments["monitor"] = monitor
