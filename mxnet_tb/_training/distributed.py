"""Which process of an MXNet distributed job this is, and whether and where it logs.

MXNet's parameter-server jobs (``kvstore='dist_sync'`` / ``'dist_async'``, ps-lite) run the same script in
every process -- a scheduler, the servers and the workers -- told apart by the environment MXNet's launcher
sets: ``DMLC_ROLE`` (``worker``, ``server`` or ``scheduler``) and ``DMLC_NUM_WORKER``. The scheduler gives each
worker its rank when the worker's kvstore is created, so the rank is read from the module's kvstore
(``mod._kvstore.rank``, ``num_workers``) once one exists (with a single worker it is 0 from the start).

Two modes, chosen by ``tb.init(dist_mode=...)`` or else ``$MXNET_TB_DIST_MODE``:

- ``per_worker`` (default): every worker logs to ``<logdir>/worker-<rank>``, one TensorBoard run per worker.
- ``rank0``: only the worker of rank 0 logs, to ``<logdir>``; the callbacks and monitors of the others do nothing.

Servers and schedulers never log (with ``DMLC_ROLE=server`` or ``scheduler``, ``import mxnet`` itself runs the
server loop and exits). Outside a distributed job nothing changes: the process logs to ``<logdir>``.

Example::

    >>> logdir_for("runs/exp1")   # worker of rank 1, per_worker mode   # doctest: +SKIP
    'runs/exp1/worker-1'
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ..errors import RankUnknownError

__all__ = [
    "MODES",
    "MODE_ENV",
    "check_mode",
    "distributed_kvstore",
    "kvstore_of",
    "logdir_for",
    "logs_here",
    "mode",
    "num_workers",
    "observe",
    "rank",
    "rank_known",
    "role",
    "set_mode",
    "updates_on_servers",
]

MODE_ENV = "MXNET_TB_DIST_MODE"
MODES = ("per_worker", "rank0")
ROLES = ("worker", "server", "scheduler")

_lock = threading.Lock()
_mode: str | None = None  # from tb.init(dist_mode=...); None: $MXNET_TB_DIST_MODE, else per_worker
_known_rank: int | None = None  # this worker's rank and the job's worker count, from a distributed kvstore
_known_count: int | None = None
_logs: bool | None = None  # the settled answer of logs_here(), so callbacks and monitors pay one global read


def check_mode(value: Any, *, name: str = "dist_mode") -> str:
    """``value`` if it is a known mode, else ValueError naming it."""
    if value not in MODES:
        raise ValueError(f"{name} must be one of {MODES}; got {value!r}")
    return value


def set_mode(value: str | None) -> None:
    """Choose the mode (``tb.init(dist_mode=...)``); None goes back to ``$MXNET_TB_DIST_MODE`` or per_worker."""
    global _mode, _logs
    if value is not None:
        check_mode(value)
    else:
        _env_mode()  # a bad environment value fails at tb.init, not at the first logged batch
    with _lock:
        _mode, _logs = value, None


def _env_mode() -> str:
    value = os.environ.get(MODE_ENV)
    return check_mode(value, name=f"${MODE_ENV}") if value else "per_worker"


def mode() -> str:
    """The mode in force: ``'per_worker'`` or ``'rank0'``."""
    return _mode if _mode is not None else _env_mode()


def role() -> str | None:
    """``'worker'``, ``'server'`` or ``'scheduler'`` in a distributed job (``$DMLC_ROLE``), else None."""
    value = os.environ.get("DMLC_ROLE")
    if not value:
        return "worker" if _known_rank is not None else None
    if value not in ROLES:
        raise ValueError(f"$DMLC_ROLE must be one of {ROLES}; got {value!r}")
    return value


def _env_num_workers() -> int | None:
    value = os.environ.get("DMLC_NUM_WORKER")
    if not value:
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"$DMLC_NUM_WORKER must be an int >= 1; got {value!r}")
    return count


def rank() -> int | None:
    """This worker's rank: from its distributed kvstore, 0 when it is the only worker, else None (not known yet)."""
    if _known_rank is not None:
        return _known_rank
    return 0 if _env_num_workers() == 1 else None  # a single worker needs no kvstore to know it is rank 0


def num_workers() -> int:
    """The job's worker count: from a distributed kvstore, else ``$DMLC_NUM_WORKER``, else 1."""
    if _known_count is not None:
        return _known_count
    return _env_num_workers() or 1


def rank_known() -> bool:
    """Whether this process knows where it logs: not a worker, or a worker whose rank is known."""
    return role() != "worker" or rank() is not None


def kvstore_of(source: Any) -> Any:
    """The kvstore itself, a module's (a BucketingModule's current module's), or a Gluon Trainer's."""
    if all(hasattr(source, name) for name in ("type", "rank", "num_workers")):
        return source
    kvstore = getattr(source, "_kvstore", None)
    if kvstore is None:
        kvstore = getattr(getattr(source, "_curr_module", None), "_kvstore", None)
    return kvstore


def distributed_kvstore(source: Any) -> Any:
    """``source``'s kvstore (see ``kvstore_of``) if it is distributed (``dist_sync``, ``dist_async``), else None."""
    kvstore = kvstore_of(source)
    return kvstore if kvstore is not None and "dist" in str(getattr(kvstore, "type", "")) else None


def updates_on_servers(module: Any) -> bool:
    """Whether ``module`` trains with a distributed kvstore whose servers run the optimizer (``update_on_kvstore``).

    Then the worker's own optimizer never steps, and after ``update()`` its gradient arrays hold the pulled weights.
    """
    if distributed_kvstore(module) is None:
        return False
    owner = module if hasattr(module, "_update_on_kvstore") else getattr(module, "_curr_module", None)
    return bool(getattr(owner, "_update_on_kvstore", True))


def observe(source: Any) -> None:
    """Learn this worker's rank and the worker count from ``source``'s distributed kvstore, if it has one.

    ``source``: a kvstore, a module, or a Gluon ``Trainer``; local kvstores and None are ignored.

    Example::

        >>> observe(mod)   # after mod.init_optimizer(kvstore='dist_sync')   # doctest: +SKIP
    """
    global _known_rank, _known_count, _logs
    if _known_rank is not None or source is None:
        return
    kvstore = distributed_kvstore(source)
    if kvstore is None:
        return
    index, count = kvstore.rank, kvstore.num_workers
    if isinstance(index, bool) or not isinstance(index, int) or not isinstance(count, int) or not 0 <= index < count:
        raise ValueError(f"kvstore {kvstore.type!r} reports rank {index!r} of num_workers {count!r}")
    with _lock:
        _known_rank, _known_count, _logs = index, count, None


def _unknown_rank_message() -> str:
    return (
        f"the rank of this worker (DMLC_ROLE=worker, one of {num_workers()}) is not "
        f"known yet, and mxnet_tb's {mode()!r} mode needs it. It is read from the distributed kvstore, which "
        "Module.fit creates before the first batch: log after that, or pass the kvstore, "
        "tb.init(kvstore=mx.kv.create('dist_sync')), and give the same one to fit or the Trainer"
    )


def logs_here(module: Any = None) -> bool:
    """Whether the callbacks and monitors of this process log; ``module`` may tell the rank.

    False for servers and schedulers, and in ``rank0`` mode for workers other than rank 0. A worker whose rank
    is not known yet logs in ``per_worker`` mode (its default writer waits for the rank); in ``rank0`` mode
    that raises ``RankUnknownError``.

    Example::

        >>> if not logs_here(param.locals["self"]): return   # doctest: +SKIP
    """
    global _logs
    if _logs is not None:
        return _logs
    observe(module)
    kind = role()
    if kind is None:
        answer = True
    elif kind != "worker":
        answer = False
    elif rank() is None:
        if mode() == "per_worker":
            return True  # not settled: the default writer still needs the rank
        raise RankUnknownError(_unknown_rank_message())
    else:
        answer = mode() == "per_worker" or rank() == 0
    with _lock:
        _logs = answer
    return answer


def logdir_for(logdir: str) -> str | None:
    """Where this process's default writer logs for the log directory ``logdir``; None: it logs nothing.

    Raises ``RankUnknownError`` on a worker whose rank is not known yet (see ``rank_known``).

    Example::

        >>> logdir_for("runs/exp1")   # not in a distributed job   # doctest: +SKIP
        'runs/exp1'
    """
    kind = role()
    if kind is None:
        return logdir
    if kind != "worker":
        return None
    index = rank()
    if index is None:
        raise RankUnknownError(_unknown_rank_message())
    if mode() == "per_worker":
        return os.path.join(logdir, f"worker-{index}")
    return logdir if index == 0 else None


def _reset() -> None:
    """Forget the mode and the rank (tests only: a real process is one worker of one job)."""
    global _mode, _known_rank, _known_count, _logs
    with _lock:
        _mode = _known_rank = _known_count = _logs = None
