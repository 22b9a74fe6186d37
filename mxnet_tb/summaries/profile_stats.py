"""MXNet profiler output into TensorBoard: per-node ``RunMetadata`` step stats and a top-operators table.

MXNet's Chrome-trace JSON names each operator event by op type (``Convolution``, ``_backward_Convolution``),
not by node. ``node_times(graph, events, batches)`` maps events to the GraphDef's nodes by order:

- forward: the k-th ``T`` event of a batch is the k-th node of op ``T`` in the graph's topological order
  (the order the executor pushes them);
- backward: ``_backward_T`` events go to the ``T`` nodes in reverse order (the order the gradient pass makes
  them); a few backward names that differ from their op (``_backward_copy`` for ``Flatten``/``Reshape``) are
  mapped when exactly one such op type is in the graph; ``add_n``, which sums the gradients of an output read
  by several operators (a residual connection), goes to the node of that output, in reverse order.

A name is mapped only when its event count is exactly ``batches`` × its number of nodes; anything else
(imperative operators, an op type the graph lacks, a count that does not fit) is kept apart in ``unmapped``
with the reason, never spread over nodes by guess. Forward times are exact when the engine runs one operator
at a time in push order (MXNet's CPU default). Backward times are exact along a chain; between parallel
branches (a ResNet block's shortcut and main path) two backward nodes of one type may swap, and with several
workers (GPU streams, ``MXNET_CPU_WORKER_NTHREADS``) forward ones too.

With the executor at hand (``tb.profile``), ``schedule_from_executor`` replaces these rules by the executor's
own order of calls (``Executor.debug_str()``: every call with its node's name, backward ones included), so
each event's node is known exactly in MXNet's push order, which the engine follows on one worker as long as
same-type operators on parallel branches become ready in that order; gradient sums (``sum_grad``) are then
listed apart, as they name no node.

``run_metadata(graph, times)`` holds one ``NodeExecStats`` per node: the mean time per batch of its forward
plus backward events (TensorBoard spans each node's entries from first start to last end, so one entry per
node is the only way its "compute time" is that sum), ``memory`` and ``output`` the bytes and shapes of the
node's outputs for the profiled batch (from shape inference: MXNet's profiler does not attribute allocations
to nodes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from tensorboard.compat.proto import config_pb2, event_pb2, graph_pb2, step_stats_pb2, types_pb2

from .graph import AUX_STATE_OP, INPUT_OP, OUTPUT_SHAPES_ATTR, PARAMETER_OP

__all__ = [
    "NodeTimes",
    "OpEvent",
    "load_trace",
    "node_times",
    "op_events",
    "op_totals",
    "run_metadata",
    "schedule_from_executor",
    "tagged_run_metadata_event",
    "top_operators_markdown",
]

_VARIABLE_OPS = (INPUT_OP, PARAMETER_OP, AUX_STATE_OP)
_BULKED = (
    "operators MXNet bulked into one engine call: bind the module after creating tb.profile, or set "
    "MXNET_EXEC_BULK_EXEC_TRAIN=0"
)
_BACKWARD = "_backward_"
# Backward operators not named after their forward op: {backward name: forward ops it may belong to}.
_BACKWARD_ALIASES = {
    "_backward_copy": ("Flatten", "flatten", "Reshape", "reshape", "_copy", "identity", "expand_dims"),
    "_backward_add": ("elemwise_add", "_plus", "_Plus"),
    "_backward_sub": ("elemwise_sub", "_minus", "_Minus"),
    "_backward_mul": ("elemwise_mul", "_mul", "_Mul"),
    "_backward_div": ("elemwise_div", "_div", "_Div"),
    "_backward_Concat": ("Concat", "concat"),
    "_backward_Pooling": ("Pooling",),
}


_GRADIENT_SUMS = ("add_n", "ElementWiseSum")


@dataclass(frozen=True)
class OpEvent:
    name: str
    start: int  # microseconds, as in the trace
    duration: int
    device: str  # TensorFlow style, '/device:CPU:0'


@dataclass
class NodeTimes:
    """Per node index of the GraphDef: total forward and backward microseconds over ``batches`` batches."""

    batches: int
    forward: dict[int, int] = field(default_factory=dict)
    backward: dict[int, int] = field(default_factory=dict)
    first_start: dict[int, int] = field(default_factory=dict)
    device: dict[int, str] = field(default_factory=dict)
    unmapped: dict[str, str] = field(default_factory=dict)  # event name -> why it is on no node

    @property
    def mapped_micros(self) -> int:
        return sum(self.forward.values()) + sum(self.backward.values())


# -- the trace file -----------------------------------------------------------------------------------------


def load_trace(text: str) -> dict[str, Any]:
    """MXNet's trace JSON, also as ``profiler.dump(finished=False)`` leaves it (the closing ``]}`` missing).

    Raises:
        ValueError: the text is not a Chrome trace (no ``traceEvents`` list).
    """
    try:
        trace = json.loads(text)
    except json.JSONDecodeError:
        try:
            trace = json.loads(text.rstrip().rstrip(",") + "\n]}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a Chrome trace JSON file: {exc}") from None
    if isinstance(trace, list):
        trace = {"traceEvents": trace}
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        raise ValueError("not a Chrome trace: expected an object with a 'traceEvents' list (or a list of events)")
    return trace


def _device_names(events: list[Any]) -> dict[Any, str]:
    devices = {}
    for event in events:
        if isinstance(event, dict) and event.get("ph") == "M" and event.get("name") == "process_name":
            label = str((event.get("args") or {}).get("name", ""))  # 'cpu/0', 'gpu/1', 'cpu pinned/'
            kind, _, index = label.partition("/")
            if kind in ("cpu", "gpu") and index.isdigit():
                devices[event.get("pid")] = f"/device:{kind.upper()}:{index}"
    return devices


def op_events(trace: Mapping[str, Any], skip: int = 0) -> list[OpEvent]:
    """The operator executions of the trace (``B``/``E`` pairs and ``X`` events on a device), by start time.

    ``skip`` leaves out the first raw events (those of an earlier profiling session in the same file).
    """
    raw = trace["traceEvents"]
    devices = _device_names(raw)
    open_events: dict[tuple[Any, Any, str], list[int]] = {}
    found = []
    for event in raw[skip:]:
        if not isinstance(event, dict) or event.get("pid") not in devices or "ts" not in event:
            continue
        phase, name, key = event.get("ph"), str(event.get("name", "")), (event.get("pid"), event.get("tid"))
        try:
            stamp = int(event["ts"])
        except (TypeError, ValueError):
            continue
        if phase == "X":
            found.append(OpEvent(name, stamp, int(event.get("dur", 0)), devices[key[0]]))
        elif phase == "B":
            open_events.setdefault((*key, name), []).append(stamp)
        elif phase == "E":
            starts = open_events.get((*key, name))
            if starts:
                start = starts.pop()
                found.append(OpEvent(name, start, stamp - start, devices[key[0]]))
    found.sort(key=lambda e: e.start)
    return found


def op_totals(events: Iterable[OpEvent]) -> dict[str, tuple[int, float]]:
    """``{operator: (count, total milliseconds)}``, the shape of the profiler's aggregate statistics."""
    totals: dict[str, tuple[int, float]] = {}
    for event in events:
        count, total = totals.get(event.name, (0, 0.0))
        totals[event.name] = (count + 1, total + event.duration / 1000)
    return totals


# -- events to nodes ----------------------------------------------------------------------------------------


def _operators(graph: graph_pb2.GraphDef) -> dict[str, list[int]]:
    by_op: dict[str, list[int]] = {}
    for index, node in enumerate(graph.node):
        if node.op not in _VARIABLE_OPS:
            by_op.setdefault(node.op, []).append(index)
    return by_op


def _fanned_out(graph: graph_pb2.GraphDef) -> list[int]:
    """One entry per output read by two or more operators, by node, in topological order.

    MXNet sums the gradients arriving at such an output with one ``add_n``/``ElementWiseSum`` in the backward
    pass (nnvm's gradient pass, in reverse topological order); inputs (``Input``) get no gradient.
    """
    index = {node.name: i for i, node in enumerate(graph.node)}
    readers: dict[str, int] = {}
    for node in graph.node:
        for source in node.input:
            readers[source] = readers.get(source, 0) + 1
    fanned = [index[s.split(":")[0]] for s, count in readers.items() if count > 1 and s.split(":")[0] in index]
    return sorted(i for i in fanned if graph.node[i].op != INPUT_OP)


def _candidates(
    name: str, by_op: Mapping[str, list[int]], graph: graph_pb2.GraphDef
) -> tuple[list[int] | None, bool, str]:
    """The nodes events named ``name`` run for, in execution order; whether backward; why none."""
    if name in by_op:
        return by_op[name], False, ""
    if name in _GRADIENT_SUMS:
        fanned = _fanned_out(graph)
        if fanned:
            return fanned[::-1], True, ""
    if name.startswith(_BACKWARD):
        forward = name[len(_BACKWARD) :]
        if forward in by_op:
            return by_op[forward][::-1], True, ""
        ops = [op for op in _BACKWARD_ALIASES.get(name, ()) if op in by_op]
        if len(ops) == 1:
            return by_op[ops[0]][::-1], True, ""
        if len(ops) > 1:
            return None, True, f"backward of one of {', '.join(ops)}: ambiguous"
    if name.startswith("[") and name.endswith("]"):
        return None, False, _BULKED
    return None, False, "no operator of this type in the graph"


# The executor's schedule: {op: [(GraphDef node index or None, backward?) for each call, in push order]}.
Schedule = Mapping[str, Sequence[tuple[Optional[int], bool]]]


def schedule_from_executor(ops: Iterable[tuple[str, str]], mxnet_names: Sequence[str]) -> dict[str, list[Any]]:
    """The schedule of an executor from its ``(op, node name)`` pairs in push order (``Executor.debug_str()``).

    ``mxnet_names`` are MXNet's node names, index-aligned with the GraphDef. A backward node is named
    ``<forward name>_backward``; a call that belongs to no node of the graph (``sum_grad``, the gradient sums)
    is None.
    """
    index = {name: i for i, name in enumerate(mxnet_names)}
    schedule: dict[str, list[Any]] = {}
    for op, name in ops:
        backward = name.endswith("_backward") or op.startswith(_BACKWARD)
        forward = name[: -len("_backward")] if name.endswith("_backward") else name
        schedule.setdefault(op, []).append((index.get(forward), backward))
    return schedule


def node_times(
    graph: graph_pb2.GraphDef,
    events: Iterable[OpEvent],
    batches: int | None = None,
    schedule: Schedule | None = None,
) -> NodeTimes:
    """Map operator events to the nodes of ``graph`` (see the module docstring for how, and how exactly).

    ``batches`` is how many batches the events cover; None infers it from the forward operators (their event
    counts must agree) and is 0 when nothing maps. ``schedule`` (``schedule_from_executor``): the executor's
    own order of calls, which replaces the topological-order rules and is exact on one worker.
    """
    by_op = _operators(graph)
    grouped: dict[str, list[OpEvent]] = {}
    for event in events:
        grouped.setdefault(event.name, []).append(event)
    if batches is None:
        per_batch = {len(evs) // len(by_op[n]) for n, evs in grouped.items() if n in by_op}
        batches = per_batch.pop() if len(per_batch) == 1 else 0
    times = NodeTimes(batches=batches)
    for name, group in grouped.items():
        calls, why = _calls(name, by_op, graph, schedule)
        total_ms = sum(e.duration for e in group) / 1000
        if calls is None or not batches or len(group) != batches * len(calls):
            reason = why or f"{len(group)} events for {len(calls or ())} nodes × {batches} batches"
            times.unmapped[name] = f"{reason} ({len(group)} events, {total_ms:.3f} ms)"
            continue
        for k, event in enumerate(group):
            node, backward = calls[k % len(calls)]
            target = times.backward if backward else times.forward
            target[node] = target.get(node, 0) + event.duration
            times.device.setdefault(node, event.device)
            if not backward:
                times.first_start.setdefault(node, event.start)
    return times


def _calls(
    name: str, by_op: Mapping[str, list[int]], graph: graph_pb2.GraphDef, schedule: Schedule | None
) -> tuple[list[tuple[int, bool]] | None, str]:
    """``[(node, backward?)]`` for the calls of op ``name`` in one batch, in order; or None and why."""
    if schedule is None:
        nodes, backward, why = _candidates(name, by_op, graph)
        return (None, why) if nodes is None else ([(n, backward) for n in nodes], "")
    entries = schedule.get(name)
    if not entries:
        return None, "not an operator of the executor (imperative, or another executor's)"
    if any(node is None for node, _ in entries):
        return None, "its calls belong to no node of the graph (e.g. gradient sums, sum_grad)"
    return [(node, backward) for node, backward in entries], ""


# -- protos -------------------------------------------------------------------------------------------------


def run_metadata(graph: graph_pb2.GraphDef, times: NodeTimes) -> config_pb2.RunMetadata:
    """One ``NodeExecStats`` per mapped node: mean forward + backward microseconds per batch, output bytes."""
    metadata = config_pb2.RunMetadata()
    by_device: dict[str, step_stats_pb2.DeviceStepStats] = {}
    nodes = sorted(set(times.forward) | set(times.backward), key=lambda i: times.first_start.get(i, 0))
    origin = min(times.first_start.values(), default=0)
    for index in nodes:
        node = graph.node[index]
        device = times.device.get(index, "/device:CPU:0")
        stats = by_device.get(device)
        if stats is None:
            stats = by_device[device] = metadata.step_stats.dev_stats.add(device=device)
        forward = times.forward.get(index, 0) / times.batches
        backward = times.backward.get(index, 0) / times.batches
        micros = round(forward + backward)
        entry = stats.node_stats.add(
            node_name=node.name,
            all_start_micros=times.first_start.get(index, origin),
            op_start_rel_micros=0,
            op_end_rel_micros=micros,
            all_end_rel_micros=micros,
            timeline_label=f"{node.name} = {node.op}: forward {forward:.1f} µs + backward {backward:.1f} µs "
            f"per batch (mean of {times.batches})",
        )
        if "output_bytes" in node.attr:
            entry.memory.add(allocator_name=device, total_bytes=node.attr["output_bytes"].i)
        shapes = node.attr[OUTPUT_SHAPES_ATTR].list.shape if OUTPUT_SHAPES_ATTR in node.attr else ()
        for slot, shape in enumerate(shapes):
            output = entry.output.add(slot=slot)
            output.tensor_description.dtype = types_pb2.DT_FLOAT
            output.tensor_description.shape.CopyFrom(shape)
    return metadata


def tagged_run_metadata_event(tag: str, metadata: config_pb2.RunMetadata, step: int, walltime: float) -> bytes:
    """A serialized ``Event`` with ``tagged_run_metadata``: a session in the GRAPHS tab's run-metadata menu."""
    event = event_pb2.Event(wall_time=walltime, step=step)
    event.tagged_run_metadata.tag = tag
    event.tagged_run_metadata.run_metadata = metadata.SerializeToString(deterministic=True)
    return event.SerializeToString()


# -- the top-operators table --------------------------------------------------------------------------------


def top_operators_markdown(
    totals: Mapping[str, tuple[int, float]], batches: int, top: int = 20, graph_ops: set[str] | None = None
) -> str:
    """The operators taking the most time as a Markdown table (forward and backward apart), with shares.

    ``graph_ops``: the network's op types; other names (imperative operators) are marked ``other``.
    """
    ranked = sorted(totals.items(), key=lambda item: (-item[1][1], item[0]))
    grand = sum(total for _, total in totals.values()) or 1.0
    per = f" per batch (over {batches} batches)" if batches else ""
    lines = [
        f"**{len(totals)} operators, {grand:.3f} ms in all**; the top {min(top, len(ranked))} by total time{per}:",
        "",
        "| # | operator | pass | calls | total ms | mean ms | ms per batch | share |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for rank, (name, (count, total)) in enumerate(ranked[:top], start=1):
        if name.startswith(_BACKWARD):
            passes = "backward"
        else:
            passes = "forward" if graph_ops is None or name in graph_ops else "other"
        batch = f"{total / batches:.3f}" if batches else "-"
        lines.append(
            f"| {rank} | {name} | {passes} | {count} | {total:.3f} | {total / max(count, 1):.4f} | {batch} | "
            f"{100 * total / grand:.1f}% |"
        )
    return "\n".join(lines)
