"""Where a resumed ``fit(begin_epoch=N)`` continues the global step, whatever its train iterator.

The log directory remembers it. At the end of every epoch the callbacks append the epoch's last step to
``<logdir>/mxnet_tb-epochs.jsonl`` (one JSON line, fsynced, after the epoch's events are flushed: a killed
process leaves every finished epoch recorded, and at worst one torn last line, which readers skip). A resumed
run starts epoch N one step after the recorded end of epoch N-1, appends a ``resume`` line that retires what
the earlier run recorded for epochs >= N, and purges the events the earlier run logged from that step on
(``SummaryWriter.purge_from``), so both TensorBoard loaders show one point per step, with no ``purge_step``.

The first step of a resumed run, from the first source that answers:

1. ``tb.init(initial_step=S)``: S;
2. ``tb.init(batches_per_epoch=B)``: N * B;
3. the log directory: one step after the recorded end of epoch N-1;
4. the train iterator's size (``NDArrayIter``'s ``num_data``, ``ResizeIter``'s ``size``): N * batches;
5. nothing: steps start at 0, and the log says so once, naming ``batches_per_epoch``.

Example::

    >>> start_clock(clock, writer, epoch=2, nbatch=0, train_data=train_iter)   # doctest: +SKIP
    >>> epoch_ended(clock, writer, epoch=2)                                    # doctest: +SKIP
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import sys
import threading
import weakref
from typing import Any

from .._io.object_store import ObjectStorage, as_os_error, is_url, join_url
from .._io.regular import open_regular
from .clock import StepClock
from .default import resume_option
from .mxnet_adapter import fit_locals

__all__ = ["LEDGER_NAME", "EpochLedger", "epoch_ended", "iterator_batches", "start_clock"]

LEDGER_NAME = "mxnet_tb-epochs.jsonl"
MAX_LEDGER_BYTES = 16 << 20  # ~200k epoch ends; more is not a ledger this library wrote
_APPEND_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)

_log = logging.getLogger("mxnet_tb")
_lock = threading.Lock()
# clock -> (ledger path, epoch, step) it recorded last: tb.scalars and tb.params both see an epoch end
_recorded: weakref.WeakKeyDictionary[StepClock, tuple[str, int, int]] = weakref.WeakKeyDictionary()
_warned = {"unknown": False, "unwritable": False}


class EpochLedger:
    """The ``mxnet_tb-epochs.jsonl`` file of a log directory: where each epoch of its runs ended.

    Read only if it is a regular file (a FIFO or link planted there is ignored, never followed or waited on) and at
    most ``MAX_LEDGER_BYTES``; in object storage (``s3://...``) it is an object, stored again whole per line.
    """

    def __init__(self, logdir: str) -> None:
        logdir = os.fspath(logdir)
        self._url = is_url(logdir)
        self.path = join_url(logdir, LEDGER_NAME) if self._url else os.path.join(logdir, LEDGER_NAME)
        self._logdir = logdir
        self._objects: ObjectStorage | None = None  # made on first use: one client per ledger

    def _storage(self) -> ObjectStorage:
        if self._objects is None:
            self._objects = ObjectStorage(self._logdir)
        return self._objects

    def _read(self) -> bytes:
        if self._url:
            storage = self._storage()
            key = storage.key_of(self.path)
            with as_os_error(self.path):  # any client error: as if there were no record
                return storage.store.get(key, MAX_LEDGER_BYTES) if storage.store.exists(key) else b""
        try:
            fd, _ = open_regular(self.path)
        except FileNotFoundError:
            return b""
        with os.fdopen(fd, "rb") as handle:
            return handle.read(MAX_LEDGER_BYTES)

    def ends(self) -> dict[int, int]:
        """Epoch -> its last step, as the latest run that trained the epoch recorded it."""
        ends: dict[int, int] = {}
        try:
            lines = self._read().decode("utf-8", errors="replace").splitlines()
        except OSError:
            return ends
        for line in lines:
            try:
                record = json.loads(line)
                if "resume" in record:  # a later run resumed at this epoch: what came after it is history
                    resumed = int(record["resume"])
                    ends = {epoch: step for epoch, step in ends.items() if epoch < resumed}
                else:
                    ends[int(record["epoch"])] = int(record["end_step"])
            except (ValueError, KeyError, TypeError, AttributeError):  # a line torn by a killed process, or not ours
                continue
        return ends

    def append(self, record: dict[str, int]) -> None:
        """Add one line and fsync it; a failure is logged once and never stops training."""
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        try:
            if self._url:
                old = self._read()
                torn = bool(old) and not old.endswith(b"\n")
                storage = self._storage()
                with as_os_error(self.path):
                    storage.store.put(storage.key_of(self.path), old + (b"\n" if torn else b"") + line)
                return
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            fd = os.open(self.path, _APPEND_FLAGS, 0o644)  # never follows a link, never waits on a FIFO
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    raise OSError(errno.EINVAL, "not a regular file", self.path)
                torn = info.st_size > 0 and os.pread(fd, 1, info.st_size - 1) != b"\n"
                os.write(fd, (b"\n" if torn else b"") + line)  # a torn line stays on its own
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            if not _warned["unwritable"]:
                _warned["unwritable"] = True
                _log.warning("mxnet_tb: cannot record epoch ends in %s (%s)", self.path, exc)


def iterator_batches(data: Any) -> int | None:
    """Batches per epoch when the iterator tells (``NDArrayIter``, ``ResizeIter``), else None."""
    mx = sys.modules.get("mxnet")
    if mx is not None and isinstance(data, mx.io.ResizeIter):
        return int(data.size)
    num, size = getattr(data, "num_data", None), getattr(data, "batch_size", None)
    if not num or not size:
        return None
    return -(-num // size) if getattr(data, "last_batch_handle", "pad") == "pad" else num // size


def _first_step(logdir: str, epoch: int, train_data: Any) -> tuple[int, str] | None:
    """The step of epoch ``epoch``'s first batch and where it comes from, or None for a fresh run."""
    initial = resume_option("initial_step")
    if initial is not None:
        return initial, f"tb.init(initial_step={initial})"
    if epoch <= 0:
        return None
    per_epoch = resume_option("batches_per_epoch")
    if per_epoch is not None:
        return epoch * per_epoch, f"tb.init(batches_per_epoch={per_epoch})"
    ledger = EpochLedger(logdir)
    ends = ledger.ends()
    if epoch - 1 in ends:
        return ends[epoch - 1] + 1, f"epoch {epoch - 1} ended at step {ends[epoch - 1]}, as {ledger.path} records"
    batches = iterator_batches(train_data)
    if batches:
        return epoch * batches, f"the train iterator ({type(train_data).__name__}) has {batches} batches per epoch"
    with _lock:
        warn, _warned["unknown"] = not _warned["unknown"], True
    if warn:
        _log.warning(
            "mxnet_tb: fit(begin_epoch=%d) resumes an earlier run, but where epoch %d began is unknown: the train "
            "iterator (%s) tells no size and %s records no end of epoch %d. Steps start at 0 and will not line up "
            "with the earlier run's; pass tb.init(..., batches_per_epoch=N) (or initial_step=S) to fix it.",
            epoch,
            epoch,
            type(train_data).__name__,
            ledger.path,
            epoch - 1,
        )
    return None


def start_clock(clock: StepClock, writer: Any, epoch: int, nbatch: int, train_data: Any) -> None:
    """Before ``clock`` counts its first batch: continue a resumed run's steps, purging what they replace.

    ``epoch`` and ``nbatch`` are those of the batch about to be counted. Runs once per clock.
    """
    if clock.ticked or clock.resume_checked:
        return
    clock.resume_checked = True
    logdir = writer.get_logdir()
    first = _first_step(logdir, int(epoch or 0), train_data)
    if first is None:
        return
    step, source = first
    clock.rebase(step + int(nbatch or 0) - 1)
    if step == 0:
        return
    EpochLedger(logdir).append({"resume": int(epoch or 0), "step": step})
    removed = writer.purge_from(step) or 0
    if removed:
        _log.warning(
            "mxnet_tb: fit resumed at epoch %d continues at step %d (%s); purged %d events an earlier run logged at "
            "steps >= %d in %s, so TensorBoard shows one point per step",
            epoch, step, source, removed, step, logdir,
        )  # fmt: skip
    else:
        _log.info("mxnet_tb: fit resumed at epoch %d continues at step %d (%s)", epoch, step, source)


def epoch_ended(clock: StepClock, writer: Any, epoch: int) -> None:
    """Record in the log directory that ``epoch`` ended at the clock's step, after flushing the writer."""
    if not clock.ticked:
        return
    ledger = EpochLedger(writer.get_logdir())
    record = (ledger.path, int(epoch), clock.step)
    with _lock:
        if _recorded.get(clock) == record:
            return
        _recorded[clock] = record
    writer.flush()  # the epoch's events reach the disk before the checkpoint that follows
    ledger.append({"epoch": int(epoch), "end_step": clock.step})


def start_clock_in_fit(clock: StepClock, writer: Any) -> None:
    """``start_clock`` for a monitor: the epoch and iterator come from the ``fit`` on the call stack, if any."""
    if clock.ticked or clock.resume_checked:
        return
    found = fit_locals() or {}
    start_clock(clock, writer, found.get("epoch", 0), found.get("nbatch", 0), found.get("train_data"))
