"""Which operator made the first NaN/Inf: re-run one forward pass and check every operator's output.

MXNet reports a NaN only where it ends up (the loss, a gradient); ReLU-like ops even turn it into 0 on the
way (``Activation(act_type='relu')`` maps NaN to 0; ``relu`` and ``maximum`` keep it). ``find_nan_origin``
binds a fresh executor whose outputs are every visible operator output of the symbol, runs one forward pass
on the given arrays, and walks the graph in topological order (MXNet's own execution order).

The rule, for the first operator in that order that
  - reads an argument or auxiliary state holding NaN/Inf: ``NonFiniteInput`` naming every argument and aux
    state that holds NaN/Inf (they were so before any operator ran, so no operator is to blame);
  - else writes a NaN/Inf into one of its outputs: ``NanOrigin`` for it. Every input it reads is finite by
    then (an earlier non-finite output would have stopped the walk), even when a later ReLU hides the NaN.
None when no operator output is non-finite (a NaN/Inf argument that no operator reads is ``NonFiniteInput``).
An op that makes an Inf on purpose (a ``-inf`` attention mask) is an origin too: the rule cannot tell intent.

Nothing given is written: arguments are read-only to a forward pass (MXNet writes only the mutable inputs,
which are the aux states), and aux states are copied (BatchNorm on GPU updates its moving mean/var in the
forward pass). Memory: every operator output of one forward pass at once, without memory sharing, plus a
copy of the aux states; time: one forward pass, unfused, plus one device-to-host sync per operator output
checked (0.2 s for a ResNet-18, batch 4, on CPU). ``Dropout`` and other random ops draw new random numbers.

Example::

    >>> origin = find_nan_origin(symbol_of(exe), exe.arg_dict, exe.aux_dict)   # doctest: +SKIP
    >>> origin.describe()                                                       # doctest: +SKIP
    "operator 'log0' (log) made 12 of 64 values of log0_output NaN/Inf from finite inputs: fc1_output in ..."
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from .stats import all_finite

__all__ = ["InputRange", "NanOrigin", "NonFiniteInput", "find_nan_origin", "gluon_symbol", "origin_report"]


@dataclass(frozen=True)
class InputRange:
    """One input of an operator: its name (an argument such as ``fc1_weight`` or an upstream output such as
    ``fc1_output``), the range of its finite values (nan, nan when it has none) and its NaN/Inf count."""

    name: str
    low: float
    high: float
    nonfinite: int

    def describe(self) -> str:
        """``fc1_output in [-0.98, 1.3]``."""
        if math.isnan(self.low):
            return f"{self.name} (no finite values)"
        return f"{self.name} in [{self.low:.4g}, {self.high:.4g}]"


@dataclass(frozen=True)
class NanOrigin:
    """The first operator (in topological order) that wrote NaN/Inf into ``output`` from finite ``inputs``."""

    node: str
    op: str
    output: str
    nonfinite: int
    size: int
    inputs: tuple[InputRange, ...]

    def describe(self) -> str:
        """One line: which operator, how many values, and the ranges of its inputs.

        Example::

            >>> origin.describe()   # doctest: +SKIP
            "operator 'log0' (log) made 12 of 64 values of log0_output NaN/Inf from finite inputs: fc1_output in ..."
        """
        inputs = ", ".join(item.describe() for item in self.inputs) or "none"
        return (
            f"operator {self.node!r} ({self.op}) made {self.nonfinite} of {self.size} values of {self.output} "
            f"NaN/Inf from finite inputs: {inputs}"
        )


_PARAMETER_SUFFIXES = ("_weight", "_bias", "_gamma", "_beta", "_alpha")  # MXNet's initializers' convention
_STATISTIC_SUFFIXES = ("_moving_mean", "_moving_var", "_running_mean", "_running_var")


def _kind_of(name: str) -> str:
    """What an argument or aux state named ``name`` is, by MXNet's naming convention, and who made its NaN."""
    if name.endswith(_STATISTIC_SUFFIXES):
        return "a moving statistic: an earlier batch made it"
    if name.endswith(_PARAMETER_SUFFIXES):
        return "a parameter: an earlier update made it; lower the learning rate or clip the gradients"
    if name == "label" or name.endswith("_label") or name.startswith("data") or name.endswith("_data"):
        return "a batch input: the data pipeline made it; check the data"
    return "an argument: the data batch or an earlier update made it"


@dataclass(frozen=True)
class NonFiniteInput:
    """The forward pass's own inputs (the data batch, a parameter, an aux state) already hold NaN/Inf."""

    names: tuple[str, ...]

    def describe(self) -> str:
        """One line naming each input and, by MXNet's naming convention, what it is.

        Example::

            >>> NonFiniteInput(("fc1_weight",)).describe()   # doctest: +ELLIPSIS
            'the inputs already hold NaN/Inf before any operator runs: fc1_weight (a parameter: an earlier update...)'
        """
        kinds: dict[str, list[str]] = {}  # what it is -> the inputs that are it, in order
        for name in self.names:
            kinds.setdefault(_kind_of(name), []).append(name)
        named = "; ".join(f"{', '.join(names)} ({kind})" for kind, names in kinds.items())
        return f"the inputs already hold NaN/Inf before any operator runs: {named}"


Finding = Union[NanOrigin, NonFiniteInput, None]


# -- arrays ---------------------------------------------------------------------------------------------


def _has_nonfinite(array: Any) -> bool:
    """Whether an NDArray holds a NaN or an Inf (integer arrays never do)."""
    return not all_finite([array])


def _input_range(name: str, array: Any) -> InputRange:
    values = np.asarray(array.asnumpy() if hasattr(array, "asnumpy") else array, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (math.nan, math.nan)
    return InputRange(name, low, high, int(values.size - finite.size))


# -- the graph ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _without_subgraph_fusion() -> Iterator[None]:
    """Bind with MXNet's subgraph backend off (``MXNET_SUBGRAPH_BACKEND=NONE``, read at each bind).

    The MKLDNN backend, on by default in CPU builds, fuses Convolution+BatchNorm(+ReLU) and then fails to bind
    a symbol that outputs the fused ops' inner outputs; unfused, every operator runs and shows its output.
    """
    key, before = "MXNET_SUBGRAPH_BACKEND", os.environ.get("MXNET_SUBGRAPH_BACKEND")
    os.environ[key] = "NONE"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def _all_outputs(symbol: Any) -> tuple[list[dict[str, Any]], Any, dict[tuple[int, int], int], list[str]]:
    """The graph's nodes in topological order, a symbol grouping every visible operator output, where each
    ``(node id, output index)`` is in that group, and the outputs' names (``fc1_output``, ``bn_mean``)."""
    import mxnet as mx

    internals = symbol.get_internals()
    graph = json.loads(internals.tojson())
    nodes, names = graph["nodes"], internals.list_outputs()
    chosen = [i for i, (node, _, _) in enumerate(graph["heads"]) if nodes[node]["op"] != "null"]
    where = {tuple(graph["heads"][i][:2]): k for k, i in enumerate(chosen)}
    return nodes, mx.sym.Group([internals[i] for i in chosen]), where, [names[i] for i in chosen]


# Outputs 1, 2 (batch mean, variance) of these are left unwritten outside training (cuDNN: memory garbage).
_BATCH_STATISTICS_OPS = frozenset({"BatchNorm", "BatchNorm_v1", "_contrib_SyncBatchNorm", "_contrib_BatchNormWithReLU"})


def _forward(group: Any, args: Mapping[str, Any], aux: Mapping[str, Any], is_train: bool) -> list[Any]:
    """Every output of ``group`` after one forward pass on ``args`` (read-only) and copies of ``aux``."""
    import mxnet as mx

    names, aux_names = group.list_arguments(), group.list_auxiliary_states()
    ctx = args[names[0]].context if names else mx.cpu()
    bound_args = {name: args[name] if args[name].context == ctx else args[name].copyto(ctx) for name in names}
    bound_aux = {name: aux[name].copyto(ctx) for name in aux_names}
    with _without_subgraph_fusion():
        exe = group.bind(ctx, args=bound_args, aux_states=bound_aux, grad_req="null")
    return exe.forward(is_train=is_train)


def find_nan_origin(
    symbol: Any, args: Mapping[str, Any], aux: Mapping[str, Any] | None = None, *, is_train: bool = True
) -> Finding:
    """Re-run the forward pass of ``symbol`` on ``args`` (data, labels, parameters) and ``aux``, and name the
    operator that made the first NaN/Inf (see the module's docstring for the rule).

    ``is_train`` as in the training forward pass (BatchNorm then uses batch statistics). Raises ValueError
    naming the arguments or aux states the symbol needs and ``args``/``aux`` lack. Extra keys are ignored.

    Example::

        >>> find_nan_origin(symbol_of(exe), exe.arg_dict, exe.aux_dict)   # doctest: +SKIP
        NanOrigin(node='log0', op='log', output='log0_output', nonfinite=12, size=64, inputs=(...))
    """
    aux = {} if aux is None else aux
    arg_names, aux_names = symbol.list_arguments(), symbol.list_auxiliary_states()
    missing = [name for name in arg_names if name not in args] + [name for name in aux_names if name not in aux]
    if missing:
        raise ValueError(f"find_nan_origin: no array given for {missing} (the symbol reads {arg_names + aux_names})")
    given = {**{name: args[name] for name in arg_names}, **{name: aux[name] for name in aux_names}}
    nonfinite = [name for name, array in given.items() if _has_nonfinite(array)]  # before the forward pass
    nodes, group, where, output_names = _all_outputs(symbol)
    outputs = _forward(group, args, aux, is_train) if where else []

    def entries(node: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        """The (name, array) of each input ``node`` reads, once each (a hidden output has neither)."""
        for i, index, *_ in node["inputs"]:
            if nodes[i]["op"] == "null":
                yield nodes[i]["name"], given[nodes[i]["name"]]
            elif (i, index) in where:
                yield output_names[where[(i, index)]], outputs[where[(i, index)]]

    produced: dict[int, list[int]] = {}
    for (node_id, index), k in sorted(where.items()):
        if is_train or index == 0 or nodes[node_id]["op"] not in _BATCH_STATISTICS_OPS:
            produced.setdefault(node_id, []).append(k)
    for node_id, node in enumerate(nodes):
        if node["op"] == "null":
            continue
        sources = [nodes[i] for i, *_ in node["inputs"]]
        if any(source["op"] == "null" and source["name"] in nonfinite for source in sources):
            return NonFiniteInput(tuple(nonfinite))
        for k in produced.get(node_id, []):
            if _has_nonfinite(outputs[k]):
                inputs = tuple(_input_range(name, array) for name, array in dict(entries(node)).items())
                count = _input_range(output_names[k], outputs[k]).nonfinite
                return NanOrigin(node["name"], node["op"], output_names[k], count, outputs[k].size, inputs)
    return NonFiniteInput(tuple(nonfinite)) if nonfinite else None


# -- Gluon ----------------------------------------------------------------------------------------------


def _cached_graph(block: Any) -> Any:
    """The symbol a hybridized ``block`` traced at its first call (Gluon's ``_cached_graph``), or None."""
    graph = getattr(block, "_cached_graph", ()) if getattr(block, "_active", False) else ()
    return graph[1] if graph else None


def _traced(block: Any, names: list[str]) -> Any:
    """``block`` called on symbol variables named as Gluon's own tracing names them (``data``, or ``data0``,
    ``data1``...), or None when it cannot be called on symbols (a plain Block doing NDArray work)."""
    import mxnet as mx

    try:
        out = block(*[mx.sym.var(name) for name in names])
    except Exception:  # NDArray-only code: no symbol to be had
        return None
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if not outs or not all(isinstance(item, mx.sym.Symbol) for item in outs):
        return None
    return outs[0] if len(outs) == 1 else mx.sym.Group(outs)


def gluon_symbol(block: Any, *inputs: Any) -> tuple[Any, dict[str, Any], dict[str, Any]] | None:
    """The symbol of a Gluon block called on NDArray ``inputs`` (one batch), with the argument and aux arrays
    ``find_nan_origin`` needs: the batch as ``data`` (``data0``, ``data1``... for several inputs) and each
    parameter's data on the batch's device (not copies; ``find_nan_origin`` does not write them).

    A hybridized block gives the graph it runs (its cached graph, with the node names it runs under); any other
    block is called once on symbols (its forward hooks see symbols, as at Gluon's own hybridize tracing).
    None when that is impossible (a plain ``Block`` doing NDArray work, no inputs).

    Example::

        >>> symbol, args, aux = gluon_symbol(net, batch)                         # doctest: +SKIP
        >>> find_nan_origin(symbol, args, aux).node                              # doctest: +SKIP
        'lognet0_log0'
    """
    import mxnet as mx

    if not inputs or not all(isinstance(item, mx.nd.NDArray) for item in inputs):
        return None
    names = ["data"] if len(inputs) == 1 else [f"data{i}" for i in range(len(inputs))]
    symbol = _cached_graph(block)
    if symbol is None or not set(names) <= set(symbol.list_arguments()):
        symbol = _traced(block, names)
    if symbol is None:
        return None
    ctx, batch = inputs[0].context, dict(zip(names, inputs))
    params = {param.name: param for param in block.collect_params().values()}

    def data(name: str) -> Any:
        param = params[name]
        return param.data(ctx) if ctx in param.list_ctx() else param.data()

    args = {name: batch[name] if name in batch else data(name) for name in symbol.list_arguments()}
    return symbol, args, {name: data(name) for name in symbol.list_auxiliary_states()}


def origin_report(step: int, search: Callable[[], Any]) -> str:
    """One line on where the NaN/Inf of ``step`` came from: ``search()`` (``find_nan_origin`` of the batch, or
    ``None`` replays; a ``str`` says why it could not run). A failing search is said, never raised: it is a
    diagnosis aid and must not stop a training that logs."""
    try:
        found = search()
    except Exception as exc:
        return f"the search for the NaN's origin at step {step} failed: {exc!r}"
    if isinstance(found, str):
        return f"at step {step}: {found}"
    if found is None:
        return f"the NaN/Inf at step {step} is in the gradients only (the forward pass is finite)"
    return f"at step {step}, {found.describe()}"
