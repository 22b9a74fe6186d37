"""``tb.profile``: MXNet's profiler over a few training batches, in TensorBoard's GRAPHS and TEXT tabs.

    mod.fit(train_iter, num_epoch=10, batch_end_callback=[tb.scalars(), tb.profile(batches=3, start=5)])

After ``start`` warm-up batches the profiler runs for ``batches`` batches, then stops for good, and writes:

- GRAPHS: in the sub-run ``<logdir>/profile``, the network's graph and one session (run-metadata tag
  ``profile/steps_<first>-<last>``) with every node's mean forward + backward time per batch and the bytes
  of its outputs; pick the session in the GRAPHS tab's *Tag* menu and colour by *Compute time* or *Memory*;
- ``<logdir>/profile/trace-profile_steps_<first>-<last>.json``: the session's raw trace, for Perfetto;
- TEXT ``profile/top_operators`` (in the training run): the operators taking the most time, forward and
  backward apart, from the profiler's aggregate statistics, and what could not be mapped to nodes;
- SCALARS ``profile/ms_per_batch``: the wall time of a profiled batch.

How node times are found and how exact they are: see ``summaries/profile_stats.py``; here the executor's own
order of calls (``Executor.debug_str()``) names the node of every event. The steps are the
batches this callback has seen, from 0. Batches before and after the session run with the profiler off:
they cost what an unprofiled batch costs (``bench/bench_profile.py``). Keep the session inside one epoch:
an evaluation between epochs adds forward passes that then do not map to nodes (they are listed as such).

Until ``SummaryWriter`` gains a public ``add_run_metadata``, the session's event file is written beside the
writer's files, in a run directory of its own (``_io/profile_run.py``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from ._io.object_store import is_url
from ._training.default import default_writer, resolve_writer
from ._training.distributed import logs_here
from ._training.mxnet_adapter import module_of
from ._values.convert import to_count
from ._values.names import run_dir
from .errors import EventWriteWarning, warn_user
from .summaries.profile_stats import (
    node_times,
    op_events,
    run_metadata,
    schedule_from_executor,
    top_operators_markdown,
)
from .writer import SummaryWriter

__all__ = ["TEXT_TAG", "TIME_TAG", "ProfileSession", "profile", "write_session"]

_log = logging.getLogger("mxnet_tb")

TEXT_TAG = "profile/top_operators"
TIME_TAG = "profile/ms_per_batch"


@dataclass(frozen=True)
class ProfileSession:
    """What one session wrote: its run-metadata tag, files and how much time landed on graph nodes."""

    tag: str
    run_dir: str
    trace_path: str
    event_path: str | None
    nodes: int  # nodes with a time
    mapped_ms: float
    total_ms: float
    unmapped: dict[str, str]


def write_session(
    writer: SummaryWriter,
    directory: str,
    graph: Any,
    trace: dict[str, Any],
    totals: dict[str, tuple[int, float]],
    batches: int | None,
    first: int,
    last: int,
    schedule: Any = None,
) -> ProfileSession:
    """Map a trace onto ``graph``, write the session files into ``directory`` and the table through ``writer``.

    ``schedule``: the executor's order of calls (``schedule_from_executor``), when known.
    """
    from ._io.profile_run import write_profile_run

    events = op_events(trace)
    times = node_times(graph, events, batches, schedule)
    metadata = run_metadata(graph, times)
    tag = f"profile/steps_{first}-{last}"
    trace_path, event_path = write_profile_run(directory, graph, tag, metadata, last, trace)
    total_ms = sum(total for _, total in totals.values())
    mapped_ms = times.mapped_micros / 1000
    graph_ops = {node.op for node in graph.node}
    lines = [
        top_operators_markdown(totals, times.batches, graph_ops=graph_ops),
        "",
        f"**On graph nodes** {mapped_ms:.3f} ms of the {sum(e.duration for e in events) / 1000:.3f} ms in the "
        f"trace, {len(set(times.forward) | set(times.backward))} nodes; GRAPHS: run "
        f"`{os.path.basename(directory)}`, tag `{tag}`; trace file `{os.path.basename(trace_path)}`.",
    ]
    if times.unmapped:
        lines += ["", "**Not mapped to nodes:**", ""]
        lines += [f"- `{name}`: {why}" for name, why in sorted(times.unmapped.items())]
    writer.add_text(TEXT_TAG, "\n".join(lines), global_step=last)
    return ProfileSession(
        tag=tag,
        run_dir=directory,
        trace_path=trace_path,
        event_path=event_path,
        nodes=len(set(times.forward) | set(times.backward)),
        mapped_ms=mapped_ms,
        total_ms=total_ms,
        unmapped=dict(times.unmapped),
    )


class _ProfileCallback:
    """The ``batch_end_callback`` ``tb.profile`` returns; ``session`` is what it wrote, once it has."""

    def __init__(self, batches: int, start: int, writer: SummaryWriter | None, run: str) -> None:
        self.batches, self.start, self.run = batches, start, run
        self._writer = writer
        self.calls = 0
        self.session: ProfileSession | None = None
        self._profiler: Any = None
        self._began = 0.0

    def __call__(self, param: Any) -> None:
        if self.session is not None or self.calls >= self.start + self.batches:
            return  # done: training goes on unprofiled
        module = module_of(param) if param is not None else None
        if not logs_here(module):
            return
        self.calls += 1
        if self.calls == self.start:
            self._begin()
        elif self.calls == self.start + self.batches and self._profiler is not None:
            self._finish(module)

    def _begin(self) -> None:
        from ._training.profiler import start_session

        self._profiler = start_session()
        self._began = time.perf_counter()

    def _finish(self, module: Any) -> None:
        from ._training.profiler import executor_calls, stop_session
        from .callbacks import _input_shapes
        from .summaries.graph import graph_def

        elapsed = time.perf_counter() - self._began
        trace, totals = stop_session(self._profiler)
        self._profiler = None
        symbol = getattr(module, "symbol", None)
        if symbol is None:
            raise TypeError("tb.profile needs the Module training the network (fit's batch_end_callback)")
        writer = self._writer or default_writer()
        graph = graph_def(symbol, _input_shapes(module))
        calls = executor_calls(module)
        names = [node["name"] for node in json.loads(symbol.get_internals().tojson())["nodes"]]
        schedule = None if calls is None else schedule_from_executor(calls, names)
        first, last = self.start, self.start + self.batches - 1
        logdir = writer.get_logdir()  # a URL names object storage: the run's name is checked by run() there
        directory = writer.run(self.run).get_logdir() if is_url(logdir) else run_dir(logdir, self.run)
        try:
            self.session = write_session(writer, directory, graph, trace, totals, self.batches, first, last, schedule)
        except OSError as exc:  # like any failed write: reported, training goes on
            warn_user(f"tb.profile could not write the session of batches {first}-{last}: {exc}", EventWriteWarning)
            return
        writer.add_scalar(TIME_TAG, 1000 * elapsed / self.batches, global_step=last)
        _log.info("mxnet_tb: profiled batches %d-%d: %s", first, last, self.session.trace_path)


def profile(
    batches: int = 3,
    start: int = 5,
    writer: SummaryWriter | None = None,
    run: str = "profile",
    per_node: bool = True,
) -> _ProfileCallback:
    """A ``batch_end_callback`` profiling batches ``start`` to ``start + batches - 1`` (counted from 0).

    The first ``start`` batches warm up (memory pools, MKLDNN primitives); ``start`` must be at least 1, since
    a batch callback can only switch the profiler on after a batch. ``run`` names the sub-run holding the
    session's graph, run metadata and trace file.

    ``per_node=True`` (the default) configures MXNet's profiler at once, before ``fit`` binds the module (as
    an argument of ``fit`` it is): MXNet does not bulk the operators of an executor bound while the profiler
    collects aggregate statistics, so every operator gets its own timing and its node in GRAPHS. The whole
    run then executes unbulked (``MXNET_EXEC_BULK_EXEC_TRAIN=0``'s effect; on CPU no measurable cost,
    ``bench/bench_profile.py``; on GPU bulking saves launch overhead). ``per_node=False`` leaves MXNet's
    bulking alone until the session: the table then lists bulked segments (``[Convolution,BatchNorm,...]``)
    and GRAPHS gets only the operators MXNet ran on their own. MXNet's profiler is one per process:
    ``tb.profile`` takes it over.

    Example::

        >>> mod.fit(train_iter, num_epoch=2,
        ...         batch_end_callback=[tb.scalars(), tb.profile(batches=3, start=10)])   # doctest: +SKIP
    """
    batches = to_count(batches, name="batches")
    start = to_count(start, name="start")
    if not isinstance(run, str):
        raise TypeError(f"run must be a str naming a sub-run; got {type(run).__name__}: {run!r:.80}")
    run_dir("logdir", run)  # a bad run name fails now, not after the session
    if not isinstance(per_node, bool):
        raise TypeError(f"per_node must be a bool; got {per_node!r:.80}")
    writer = resolve_writer(writer)
    if per_node:
        from ._training.profiler import configure

        configure()  # now, before fit binds the module: MXNet then runs every operator on its own (no bulking)
    return _ProfileCallback(batches, start, writer, run)
