"""MXNet's profiler, switched on for a few batches and read back: the only code here that drives it.

MXNet accepts ``profiler.set_config`` once per process in practice (a second call after the profiler ran fails
inside MXNet), so ``configure()`` sets it once: symbolic (executor) operators only, aggregate statistics
on, and the trace written to a file of this process in the temporary directory. It matters *when*: an
executor bound while aggregate statistics are on does not bulk its operators (MXNet's
``GraphExecutor::InitOpSegs``), so each operator gets its own trace event and can be mapped to its node; one
bound before shows up as bulked segments (``[Convolution,BatchNorm,...]``), which map to no node.
Every session then appends
its events to that file (``dump(finished=False)``); ``stop_session`` reads back the events after those of
the earlier sessions, and the aggregate statistics, which it resets.

Example::

    >>> session = start_session()                 # doctest: +SKIP
    >>> ...  # train some batches
    >>> trace, totals = stop_session(session)     # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

from ..errors import ProfilerUnavailableError
from ..summaries.profile_stats import load_trace
from .mxnet_adapter import module_executor_group

__all__ = ["ProfilerSession", "configure", "executor_calls", "start_session", "stop_session"]

_lock = threading.Lock()
_state: dict[str, Any] = {"path": None, "events_seen": 0}


@dataclass
class ProfilerSession:
    skip: int  # trace events of earlier sessions, left out


def _configure(mx: Any) -> str:
    path = _state["path"]
    if path is not None:
        return path
    path = os.path.join(tempfile.gettempdir(), f"mxnet_tb_profile_{os.getpid()}.json")
    try:
        mx.profiler.set_config(
            profile_symbolic=True,
            profile_imperative=False,  # metric updates, optimizer steps and copies are not graph nodes
            profile_memory=False,
            profile_api=False,
            aggregate_stats=True,
            filename=path,
        )
    except mx.base.MXNetError as exc:
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ProfilerUnavailableError(
            f"MXNet's profiler cannot be configured for tb.profile ({first}); it was probably configured and run "
            "by other code in this process, which MXNet allows only once"
        ) from None
    _state["path"] = path
    return path


def configure() -> None:
    """Configure MXNet's profiler (stopped) for ``tb.profile``; before binding, so operators are not bulked."""
    import mxnet as mx

    with _lock:
        _configure(mx)


def start_session() -> ProfilerSession:
    """Wait for pending work, then switch MXNet's profiler on."""
    import mxnet as mx

    with _lock:
        _configure(mx)
        mx.nd.waitall()  # work queued before the session is not timed in it
        mx.profiler.dumps(reset=True)  # aggregate statistics from this session on only
        mx.profiler.set_state("run")
        return ProfilerSession(skip=_state["events_seen"])


def stop_session(session: ProfilerSession) -> tuple[dict[str, Any], dict[str, tuple[int, float]]]:
    """Wait for the session's work, switch the profiler off; the session's trace and ``{op: (count, ms)}``.

    The trace holds the file's device metadata and only this session's events.
    """
    import mxnet as mx

    with _lock:
        try:
            mx.nd.waitall()
        finally:
            mx.profiler.set_state("stop")
        mx.profiler.dump(finished=False)
        aggregate = json.loads(mx.profiler.dumps(reset=True, format="json"))
        with open(_state["path"], encoding="utf-8") as handle:
            trace = load_trace(handle.read())
        events = trace["traceEvents"]
        _state["events_seen"] = len(events)
    metadata = [e for e in events[: session.skip] if isinstance(e, dict) and e.get("ph") == "M"]
    session_trace = {**trace, "traceEvents": metadata + events[session.skip :]}
    operators = (aggregate.get("Time") or {}).get("operator") or {}
    totals = {name: (int(s.get("Count", 0)), float(s.get("Total", 0.0))) for name, s in operators.items()}
    return session_trace, totals


_CALL = re.compile(r"^Op:([^,\n]+), Name=(.+)$", re.MULTILINE)


def executor_calls(module: Any) -> list[tuple[str, str]] | None:
    """``(op, node name)`` of every call of the module's executor, in the order it pushes them; None if unknown.

    From ``Executor.debug_str()`` (forward nodes, then backward ones named ``<forward>_backward``); MXNet-private
    access (through the adapter): the module's executor group, and only for a module on one device.
    """
    group = module_executor_group(module)
    executors = None if group is None else group.execs
    if not executors or len(executors) != 1:
        return None
    try:
        text = executors[0].debug_str()
    except Exception:  # an executor without debug output: fall back to the topological-order rules
        return None
    return [(op.strip(), name.strip()) for op, name in _CALL.findall(text)] or None
