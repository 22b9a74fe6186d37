"""``Monitor``: MXNet's stock ``mx.mon.Monitor``, same signature and same tensors, written to TensorBoard.

Porting a script is a rename: ``mx.mon.Monitor(N, pattern=".*")`` becomes ``tb.Monitor(N, pattern=".*")``. Every
``interval`` training batches it reports what the stock one reports: ``stat_func`` (default ``norm(x) /
sqrt(x.size)``) of every operator output MXNet's executor callback shows during the forward and backward pass
(with ``monitor_all=True`` their inputs too), then of every argument (weights, data, labels) and auxiliary state
as they are after the batch's update. Each value is logged as the scalar ``monitor/<name>`` at the global step
(stock "Batch: n" of a fresh run is step n-1); a ``stat_func`` returning several numbers logs a histogram, a list
one series per item (``monitor/<name>/<i>``). A name the executor reports twice in one batch (``monitor_all``
shows a weight as the input of its forward and backward operator) logs its later reports as ``<name>#2``, ...;
with several devices each executor's tensors carry ``/dev<i>``. ``toc``/``toc_print`` still return and log the
stock text lines, so ``fit(monitor=...)``'s log reads as before.

Cost: like the stock one (and ``ActivationMonitor``) it needs the executor monitor callback, which MXNet calls
for every operator of every batch, logged or not.

Example::

    >>> mod.fit(train_iter, num_epoch=2, monitor=tb.Monitor(100, pattern=".*weight|.*output"))   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import mxnet as mx
import numpy as np

from .._training.hooks import module_hooks_of
from .._training.mxnet_adapter import argument_names, auxiliary_names, ndarray_from_handle
from .._values.names import clean_tag
from ._base import TensorMonitor

__all__ = ["Monitor"]

_log = logging.getLogger("mxnet_tb")


class Monitor(TensorMonitor):
    """``mx.mon.Monitor(interval, stat_func=None, pattern='.*', sort=False, monitor_all=False)`` for TensorBoard.

    Works with ``fit(monitor=...)``, ``mod.install_monitor(...)`` (no ``tic``/``toc`` needed) and
    ``tb.MonitorGroup``. Logs go to the default writer (``tb.init``).

    Example::

        >>> mod.install_monitor(tb.Monitor(50, pattern=".*output"))   # doctest: +SKIP
    """

    kind = "monitor"

    def __init__(
        self,
        interval: int,
        stat_func: Callable[[Any], Any] | None = None,
        pattern: str = ".*",
        sort: bool = False,
        monitor_all: bool = False,
    ) -> None:
        if stat_func is not None and not callable(stat_func):
            raise TypeError(f"stat_func must be a function of one NDArray, or None; got {stat_func!r:.80}")
        for name, value in (("sort", sort), ("monitor_all", monitor_all)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool; got {value!r}")
        super().__init__(interval, pattern, stats=("norm",), histograms=False)
        if stat_func is not None:
            self.stat_func = stat_func  # else the stock default that mx.monitor.Monitor set: norm(x)/sqrt(size)
        self.sort = sort
        self.monitor_all = monitor_all
        self._queue: list[tuple[str, str, Any]] = []  # (name, tag name, stat_func's value) of the current batch
        self._seen: dict[str, int] = {}  # name -> reports so far in this batch
        self._collecting = False
        self._results: list[tuple[int, str, str]] = []  # the stock toc() lines of the last finished batch
        self._callbacks: dict[int, Any] = {}  # executor id -> its monitor callback, set at its first forward
        self._group: list[Any] = []  # the executors of the batch being collected
        self._listens_to_updates = False

    def install(self, exe: Any) -> None:
        """Hook ``exe`` like the stock ``install``; the executor callback is set at its first training forward."""
        known = any(e is exe for e in self.exes)
        super().install(exe)
        if known:
            return
        if self._module is not None and not self._listens_to_updates:
            handle = module_hooks_of(self._module).listen("after_update", self._finish_after_update)
            self._module_handles.append(handle)  # removed with the others by uninstall()
            self._listens_to_updates = True

        def on_tensor(name: bytes, handle: Any) -> None:
            if self._collecting:
                array = ndarray_from_handle(handle)
                text = mx.base.py_str(name)
                if self._matches(text):
                    self._queue.append((text, self._device_name(exe, text), self.stat_func(array)))

        self._callbacks[id(exe)] = on_tensor

    def uninstall(self) -> None:
        """Stop logging, as every monitor does; MXNet cannot take the executors' monitor callbacks away again."""
        super().uninstall()
        self._listens_to_updates = False

    def toc(self) -> list[tuple[int, str, str]]:
        """The stock ``toc`` lines ``(batch, name, value)`` of the last logged batch, once (then ``[]``)."""
        self._finish()
        results, self._results = self._results, []
        return results

    def toc_print(self) -> None:
        """Log the stock lines, as ``mx.mon.Monitor.toc_print`` does (logging.INFO)."""
        for batch, name, value in self.toc():
            _log.info("Batch: %7d %-30s %s", batch, name, value)

    # -- hooks ----------------------------------------------------------------------------------------------

    def _listen(self, hooks: Any) -> list[Any]:
        return [hooks.listen("before_train_forward", self._forward_begins)]

    def _forward_begins(self, exe: Any) -> None:
        group = self._groups[id(exe)]
        if exe is group[0]:
            self._finish()  # a batch nobody updated (a loop without update()) ends where the next begins
        active = self._batch_begins(exe)
        if exe is group[0] and active:
            self._collecting, self._queue, self._seen, self._group = True, [], {}, group
        callback = self._callbacks.pop(id(exe), None)
        if callback is not None and not self._unhooked:
            exe.set_monitor_callback(callback, self.monitor_all)

    def _finish_after_update(self, module: Any) -> None:
        self._finish()

    def _device_name(self, exe: Any, name: str) -> str:
        group = self._groups[id(exe)]
        if len(group) > 1:
            name = f"{name}/dev{next(i for i, e in enumerate(group) if e is exe)}"
        count = self._seen.get(name, 0) + 1
        self._seen[name] = count
        return name if count == 1 else f"{name}#{count}"

    def _finish(self) -> None:
        """After the batch's update: the arguments and auxiliary states, then everything to TensorBoard."""
        if not self._collecting:
            return
        self._collecting = False
        for exe in self._group:
            named = [*zip(argument_names(exe), exe.arg_arrays)]
            named += zip(auxiliary_names(exe), exe.aux_arrays)
            for name, array in named:
                if self._matches(name):
                    self._queue.append((name, self._device_name(exe, name), self.stat_func(array)))
        queue, self._queue = self._queue, []
        if self.sort:
            queue.sort(key=lambda entry: entry[0])
        writer, step, batch = self.writer, self._step, self._batches
        self._results = []
        for name, tag_name, value in queue:
            arrays = _arrays(value)
            self._results.append((batch, name, "".join(_stock_text(a) + "\t" for a in arrays)))
            if len(arrays) == 1:
                self._write(writer, f"{self.kind}/{tag_name}", arrays[0], step)
            else:
                for index, array in enumerate(arrays):
                    self._write(writer, f"{self.kind}/{tag_name}/{index}", array, step)

    @staticmethod
    def _write(writer: Any, tag: str, values: np.ndarray, step: int) -> None:
        tag = clean_tag(tag)
        if values.size == 1:
            writer.add_scalar(tag, float(values.reshape(-1)[0]), step)
        elif values.size:
            writer.add_histogram(tag, values[np.isfinite(values)] if not np.isfinite(values).all() else values, step)


def _arrays(value: Any) -> list[np.ndarray]:
    """``stat_func``'s value (an NDArray, a number, or a list of them) as NumPy arrays."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return [item.asnumpy() if isinstance(item, mx.nd.NDArray) else np.asarray(item, dtype=np.float64) for item in items]


def _stock_text(values: np.ndarray) -> str:
    return str(values.reshape(-1)[0]) if values.shape == (1,) else str(values)
