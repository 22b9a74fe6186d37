"""``ActivationMonitor``: statistics and histograms of operator outputs, every ``interval`` batches.

Cost: it needs MXNet's executor monitor callback, which MXNet calls from Python for every operator output of
every batch, active or not, and which turns off bulk execution, from the first training batch for as long as the
monitor is installed; ``uninstall()`` stops the logging but cannot take the callback away again (MXNet has no call
for that; a distributed worker that does not log never sets it). On ResNet-20 on a CPU that is +1% to +7% CPU
time per batch, like the stock ``mx.mon.Monitor`` (``bench/bench_monitor_resnet.py``, README "Cost"); more on
GPUs and nets of many small operators. Beyond that callback it adds nothing to an inactive batch, and a logged
batch's outputs are reduced together off the training thread (``bench/bench_monitor_mlp.py``). Use it to
investigate, not in every run. ``GradMonitor`` and ``WeightMonitor`` have no such cost.

Example::

    >>> mod.install_monitor(tb.ActivationMonitor(interval=100, pattern=".*relu.*"))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mxnet as mx

from .._training.activation_roles import activation_roles, role_stats
from .._training.hooks import ExecutorHooks, RemovableHandle
from .._training.mxnet_adapter import ExecutorGroup, ndarray_from_handle, symbol_of
from ..writer import SummaryWriter
from ._base import TensorMonitor

__all__ = ["ActivationMonitor"]


class ActivationMonitor(TensorMonitor):
    """Logs ``activations/<stat>/<output>``, ``activations/hist/<output>``; for ReLU outputs
    ``activations/zero_fraction/<output>`` (dead units show as a fraction near 1), for sigmoid and tanh outputs
    ``activations/sigmoid_saturation/<output>`` (``tanh_saturation``): the fraction within 0.03 of the bounds.

    Outputs of several devices (slices of one batch) are joined into one set of statistics per output. Only
    the forward pass's outputs are watched, not the gradients MXNet also reports during backward.

    Example::

        >>> mod.fit(train_iter, num_epoch=2, monitor=tb.ActivationMonitor(interval=50))   # doctest: +SKIP
    """

    kind = "activations"

    def __init__(
        self,
        interval: int = 100,
        pattern: str = ".*",
        stats: Sequence[str] = ("mean", "std", "max_abs", "nonfinite"),
        histograms: bool = True,
        writer: SummaryWriter | None = None,
        reduce: str = "auto",
        on_nonfinite: str = "log",
    ) -> None:
        super().__init__(interval, pattern, stats, histograms, writer, reduce, on_nonfinite)
        self._outputs: dict[str, list[Any]] = {}
        self._roles: dict[int, dict[str, str]] = {}
        self._in_forward = False  # MXNet also reports the backward pass's outputs: those are not activations
        self._callbacks: dict[int, Any] = {}  # executor id -> monitor callback not set yet

    def _hook(self, exe: Any, group: ExecutorGroup) -> None:
        """Hook ``exe``; its monitor callback is set at its first training forward (see the module's note on cost)."""
        super()._hook(exe, group)
        self._roles[id(exe)] = activation_roles(symbol_of(exe))

        def on_output(name: bytes, handle: Any) -> None:
            if not (self._active and self._in_forward):
                return
            text = mx.base.py_str(name)
            if self._matches(text):
                array = ndarray_from_handle(handle)
                self._outputs.setdefault(text, []).append(array.copy())  # its memory is reused by later ops

        self._callbacks[id(exe)] = on_output  # set at the first training forward, if this process logs

    def _forget(self, exe: Any) -> None:
        super()._forget(exe)
        self._roles.pop(id(exe), None)
        self._callbacks.pop(id(exe), None)

    def _listen(self, hooks: ExecutorHooks) -> list[RemovableHandle]:
        return [
            hooks.listen("before_train_forward", self._forward_begins),
            hooks.listen("after_train_forward", self._forward_ends),
            hooks.listen("after_backward", self._after_backward),
        ]

    def pending_outputs(self) -> dict[str, list[Any]]:
        """The outputs captured in the batch in progress (copies), not yet logged."""
        return self._outputs

    def _forward_begins(self, exe: Any) -> None:
        self._batch_begins(exe)
        callback = self._callbacks.pop(id(exe), None)
        if callback is not None and not self._unhooked:  # a distributed worker that does not log never pays
            exe.set_monitor_callback(callback, False)
        self._in_forward = True

    def _forward_ends(self, exe: Any) -> None:
        self._in_forward = False

    def _after_backward(self, exe: Any) -> None:
        group = self._groups[id(exe)]
        if exe is group[-1] and self._active:
            self._collect(group, self._step)

    def _collect(self, group: list[Any], step: int) -> None:
        outputs, self._outputs = self._outputs, {}
        if not outputs:
            return
        roles: dict[str, str] = {}
        for known in self._roles.values():  # outputs gathered since the last log may be of several modules
            roles.update(known)
        names = tuple(outputs)
        extra = tuple(role_stats(roles.get(name), self.stats) for name in names)
        self._log_batch(names, [outputs[name] for name in names], step, join=True, extra=extra)
