"""``tb.autolog()``: TensorBoard for an unchanged Module-API script (what ``mxnet-tb run`` turns on).

While on, every ``Module.fit`` / ``BucketingModule.fit`` / ``SequentialModule.fit`` gets ``tb.scalars``,
``tb.validation`` and ``tb.params`` appended to the callbacks the script passes, and a ``tb.GradMonitor`` (and
a ``tb.WeightMonitor`` with ``weights=True``) unless the script passes a monitor of its own. The run's
command line, the options its argparse parser read from ``sys.argv`` and the MXNet / mxnet_tb versions are
logged as hparams and as the TEXT table ``autolog/run``; ``autolog/batches_per_epoch`` records the epoch
length, which ``mxnet-tb checkpoint`` uses to put old checkpoints on the same step axis. ``import mxboard``
gives mxnet_tb's ``SummaryWriter`` unless a working MXBoard is installed, so MXBoard scripts and
``mx.contrib.tensorboard.LogMetricsCallback`` run unchanged.

Example::

    >>> import mxnet_tb as tb
    >>> tb.autolog(logdir="runs")       # doctest: +SKIP
    'runs/20261201_101500_train_mnist'
    >>> mod.fit(train, eval_data=val, num_epoch=5, batch_end_callback=mx.callback.Speedometer(64))  # doctest: +SKIP
    >>> tb.autolog(disable=True)        # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import datetime
import os
import re
import socket
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ._autolog import mxboard_alias
from ._autolog.fit_patch import FitPatch
from ._autolog.record import ArgvCapture, hparams_of, markdown_table, run_facts
from ._training.default import LOGDIR_ENV
from ._values.convert import to_count
from ._values.names import run_dir
from .errors import warn_user
from .writer import SummaryWriter

__all__ = ["BATCHES_PER_EPOCH_TAG", "RUN_TEXT_TAG", "autolog"]

RUN_TEXT_TAG = "autolog/run"
BATCHES_PER_EPOCH_TAG = "autolog/batches_per_epoch"

_lock = threading.Lock()
_session: _Session | None = None
_taken: set[str] = set()  # run directories handed out by this process (each is created at its first fit)


def _script_name() -> str:
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else "python"
    base = os.path.splitext(os.path.basename(argv0))[0]
    return re.sub(r"[^\w.-]", "_", base, flags=re.ASCII).lstrip(".") or "python"


def _new_run_dir(logdir: str) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S")
    name = candidate = f"{stamp}_{_script_name()}"
    if os.environ.get("DMLC_ROLE") == "worker":  # workers of one job start together: never one shared run
        host = re.sub(r"[^\w-]", "_", socket.gethostname(), flags=re.ASCII)
        name = candidate = f"{name}_{host}_{os.getpid()}"
    n = 1
    # Two runs started in the same second: one on disk already, or one of this process not yet created.
    while os.path.exists(os.path.join(logdir, candidate)) or os.path.abspath(os.path.join(logdir, candidate)) in _taken:
        n += 1
        candidate = f"{name}_{n}"
    _taken.add(os.path.abspath(os.path.join(logdir, candidate)))
    return run_dir(logdir, candidate)


class _Monitors:
    """Several mxnet_tb monitors where ``fit`` takes one (they hook executors; tic/toc are no-ops)."""

    def __init__(self, monitors: list[Any]) -> None:
        self.monitors = monitors

    def install(self, exe: Any) -> None:
        for monitor in self.monitors:
            monitor.install(exe)

    def tic(self) -> None:
        for monitor in self.monitors:
            monitor.tic()

    def toc(self) -> list[Any]:
        return [row for monitor in self.monitors for row in monitor.toc()]

    def toc_print(self) -> None:
        for monitor in self.monitors:
            monitor.toc_print()


class _EpochLength:
    """Counts the batches of each epoch; at its end logs ``autolog/batches_per_epoch`` at the epoch's last step."""

    def __init__(self, writer: SummaryWriter) -> None:
        self._writer = writer
        self._batches: int | None = None
        self._logged: int | None = None

    def batch_end(self, param: Any) -> None:
        self._batches = param.nbatch + 1

    def epoch_end(self, epoch: int, *_: Any) -> None:
        batches, self._batches = self._batches, None
        if batches is None or batches == self._logged:
            return
        self._logged = batches
        self._writer.add_scalar(BATCHES_PER_EPOCH_TAG, batches, global_step=(epoch + 1) * batches - 1)


class _Session:
    """One autologged run: its directory, writer (created at first use), patches and callbacks."""

    def __init__(self, directory: str, grads: bool, weights: bool, every: int, doctor: bool = False) -> None:
        self.directory, self.grads, self.weights, self.every = directory, grads, weights, every
        self.doctor = doctor
        self._writer: SummaryWriter | None = None
        self._callbacks: dict[str, list[Callable[..., Any]]] | None = None
        self._monitors: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._recorded = False
        self.argv = ArgvCapture()
        self.fit = FitPatch(self)
        self.finder: Any = None

    def enable(self) -> None:
        self.fit.install()
        self.argv.install()
        self.finder = mxboard_alias.install()

    def disable(self) -> None:
        self.fit.uninstall()
        self.argv.uninstall()
        mxboard_alias.uninstall(self.finder)
        if self._writer is not None:
            self.record()
            self._writer.close()

    @property
    def writer(self) -> SummaryWriter:
        if self._writer is None:
            self._writer = SummaryWriter(self.directory)
        return self._writer

    def record(self) -> None:
        """The run's hparams and TEXT table, once (at the first ``fit``, or when autolog ends)."""
        if self._recorded:
            return
        self._recorded = True
        options, facts = self.argv.options(), run_facts()
        self.writer.add_hparams(hparams_of(options, facts), {})
        self.writer.add_text(RUN_TEXT_TAG, markdown_table(options, facts), global_step=0)

    def callbacks(self) -> dict[str, list[Callable[..., Any]]]:
        from .callbacks import params, scalars, validation

        self.record()
        if self._callbacks is None:
            writer = self.writer
            length = _EpochLength(writer)
            self._callbacks = {
                "batch_end_callback": [scalars(frequent=self.every, writer=writer), length.batch_end],
                "eval_end_callback": [validation(writer=writer)],
                "epoch_end_callback": [params(writer=writer), length.epoch_end],
            }
        return self._callbacks

    def monitor_for(self, module: Any) -> Any:
        if not (self.grads or self.weights or self.doctor):
            return None
        import mxnet as mx

        if isinstance(module, mx.mod.SequentialModule):
            # Each chained module's executors would count every batch once more: the steps would double.
            warn_user(
                "tb.autolog adds no gradient/weight monitor to a SequentialModule's fit (its modules would count "
                "each batch once each); scalars, validation and parameters are logged",
                UserWarning,
            )
            return None
        if module not in self._monitors and self.doctor:
            from .doctor import Doctor

            self._monitors[module] = Doctor(writer=self.writer)  # gradients, update ratios, outputs, judged
        if module not in self._monitors:
            from .monitors import GradMonitor, WeightMonitor

            chosen = [GradMonitor(writer=self.writer)] if self.grads else []
            chosen += [WeightMonitor(writer=self.writer)] if self.weights else []
            self._monitors[module] = chosen[0] if len(chosen) == 1 else _Monitors(chosen)
        return self._monitors[module]


def autolog(
    logdir: str | os.PathLike[str] | None = None,
    grads: bool = True,
    weights: bool = False,
    every: int = 1,
    disable: bool = False,
    doctor: bool = False,
) -> str | None:
    """Instrument every Module-API ``fit`` from now on; returns the run directory (None with ``disable=True``).

    Each call starts a new run ``<logdir>/<date>_<time>_<script>`` (``logdir`` defaults to
    ``$MXNET_TB_LOGDIR`` or ``runs``), created at the first ``fit``. ``every``: log training scalars every
    ``every`` batches. ``grads`` / ``weights``: add a ``GradMonitor`` / ``WeightMonitor`` (default interval)
    to fits that pass no monitor; ``doctor``: a ``tb.Doctor`` instead (gradients, update ratios and operator
    outputs, judged live: ``alerts/<rule>``, TEXT ``doctor``). ``autolog(disable=True)`` writes and closes the
    run and puts back ``fit``, ``argparse`` and ``import mxboard`` exactly as they were.

    Example::

        >>> tb.autolog(logdir="runs", weights=True)   # doctest: +SKIP
        'runs/20261201_101500_train'
        >>> tb.autolog(disable=True)                  # doctest: +SKIP
    """
    global _session
    for name, flag in (("grads", grads), ("weights", weights), ("disable", disable), ("doctor", doctor)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool; got {flag!r}")
    if not disable:  # checked before anything changes: a bad call leaves the current run on
        every = to_count(every, name="every")
        if logdir is not None and not isinstance(logdir, (str, os.PathLike)):
            raise TypeError(f"logdir must be a str or os.PathLike; got {type(logdir).__name__}: {logdir!r:.80}")
    with _lock:
        previous, _session = _session, None
    if previous is not None:
        previous.disable()
    if disable:
        return None
    root = os.fspath(logdir) if logdir is not None else os.environ.get(LOGDIR_ENV) or "runs"
    session = _Session(_new_run_dir(root), grads, weights, every, doctor)
    session.enable()
    with _lock:
        _session = session
    return session.directory


def _disable_at_exit() -> None:
    global _session
    with _lock:
        session, _session = _session, None
    if session is not None:
        session.disable()


atexit.register(_disable_at_exit)
