"""The model card: per layer of an MXNet network, its op, output shape, parameters, MACs, FLOPs and output bytes.

``model_card(net, shapes)`` infers every tensor's shape and type with MXNet's ``infer_shape``/``infer_type``
and applies ``_op_costs.op_cost`` to every operator; ``ModelCard.markdown()`` is the TEXT table. Parameters
are counted from the shapes MXNet allocates, so the totals are exact: *trainable* is every argument that is
not an input (the keys of ``shapes`` and arguments named ``*label``), *all* adds the auxiliary states
(BatchNorm's running mean and variance). A parameter shows in the row of the first operator reading it.
MACs and FLOPs are per sample (the batch's count divided by ``batch_size``); shapes and output bytes are of
the batch ``shapes`` describe. Operators without a formula count 0 and are listed in ``unknown_ops``.

Example::

    >>> card = model_card(mx.gluon.model_zoo.vision.resnet18_v1(), {"data": (1, 3, 224, 224)})  # doctest: +SKIP
    >>> card.trainable_parameters, round(card.macs_per_sample / 1e9, 2)                          # doctest: +SKIP
    (11689512, 1.82)
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tensorboard.compat.proto import attr_value_pb2

from ._op_costs import op_cost
from .graph import Shapes, _check_shapes, _infer_shapes, _node_names, _to_symbol

__all__ = ["Layer", "ModelCard", "card_from_nodes", "graph_attrs", "model_card", "node_attrs", "node_itemsizes"]

DEFAULT_ITEMSIZE = 4  # float32, when MXNet cannot infer a type

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Layer:
    """One operator: ``macs``/``flops`` per sample, ``output_bytes`` of the batch, ``known`` False without a formula."""

    index: int  # the node's position in MXNet's JSON (and in the GraphDef)
    name: str  # the node's name in the GRAPHS tab
    op: str
    output_shapes: tuple[Shape, ...]
    parameters: int
    macs: float
    flops: float
    output_bytes: int
    known: bool


@dataclass(frozen=True)
class ModelCard:
    layers: tuple[Layer, ...]
    input_shapes: tuple[tuple[str, Shape], ...]
    batch_size: int
    trainable_parameters: int
    auxiliary_states: int
    macs_per_sample: float
    flops_per_sample: float

    @property
    def all_parameters(self) -> int:
        """Trainable parameters and auxiliary states: every array MXNet allocates besides the inputs."""
        return self.trainable_parameters + self.auxiliary_states

    @property
    def unknown_ops(self) -> dict[str, int]:
        """``{op: how many nodes}`` for the operators counted as 0 because there is no formula for them."""
        return dict(sorted(Counter(layer.op for layer in self.layers if not layer.known).items()))

    def markdown(self) -> str:
        """The card as Markdown: a summary and one table row per operator, with totals."""
        return _markdown(self)


# -- inference (needs MXNet) ---------------------------------------------------------------------------------


def model_card(net: Any, shapes: Shapes, batch_size: int | None = None) -> ModelCard:
    """The card of ``net`` (Symbol, ``-symbol.json`` path or HybridBlock) for the input ``shapes``.

    ``batch_size`` divides the batch's MACs and FLOPs into per-sample figures; by default the first dimension of
    the first input in ``shapes`` (pass it for time-major inputs such as an RNN's ``(T, N, C)``).

    Raises:
        TypeError, ValueError: as ``graph_def`` for ``net`` and ``shapes``; ValueError for a bad ``batch_size``.
    """
    if shapes is None:
        raise TypeError("shapes are required for a model card, e.g. {'data': (1, 3, 224, 224)}")
    symbol = _to_symbol(net)
    mx = sys.modules["mxnet"]
    internals = symbol.get_internals()
    document = json.loads(internals.tojson())
    nodes = document["nodes"]
    checked = _check_shapes(shapes, symbol.list_arguments())
    if batch_size is None:
        batch_size = next(iter(checked.values()))[0]
    elif isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    node_shapes = _infer_shapes(mx, internals, checked, document["heads"], [n["name"] for n in nodes])
    itemsizes = node_itemsizes(mx, internals, checked, document["heads"])
    aux = set(symbol.list_auxiliary_states())
    return card_from_nodes(nodes, node_shapes, itemsizes, aux, _inputs(symbol, checked), batch_size, checked)


def _inputs(symbol: Any, shapes: Mapping[str, Shape]) -> set[str]:
    """The arguments that are data, not parameters: the keys of ``shapes`` and any argument named ``*label``."""
    return set(shapes) | {a for a in symbol.list_arguments() if a.endswith("label")}


def node_itemsizes(mx: Any, internals: Any, shapes: Mapping[str, Shape], heads: list[list[int]]) -> dict[int, int]:
    """``{node index: bytes per element of its first visible output}``, from ``infer_type`` (float32 inputs)."""
    import numpy as np

    try:
        _, out_types, _ = internals.infer_type_partial(**{name: np.float32 for name in shapes})
    except mx.base.MXNetError:
        return {}
    sizes: dict[int, int] = {}
    for (node, index, _), dtype in zip(heads, out_types or ()):
        if index == 0 and dtype is not None:
            sizes[node] = int(np.dtype(dtype).itemsize)
    return sizes


# -- the pure part ------------------------------------------------------------------------------------------


def card_from_nodes(
    nodes: Sequence[Mapping[str, Any]],
    node_shapes: Mapping[int, list[Shape]],
    itemsizes: Mapping[int, int],
    aux_names: set[str],
    input_names: set[str],
    batch_size: int,
    input_shapes: Mapping[str, Shape] | None = None,
    names: Sequence[str] | None = None,
) -> ModelCard:
    """The card from MXNet's JSON ``nodes`` and every node's output shapes (no MXNet needed).

    ``names``: the GraphDef's node names, index-aligned with ``nodes``, when the caller has them already.
    """
    if names is None:
        names, _ = _node_names(list(nodes), aux_names, set(input_shapes or ()))
    counted: set[int] = set()
    layers = []
    trainable = auxiliary = 0
    macs_total = flops_total = 0
    for i, node in enumerate(nodes):
        if node["op"] == "null":
            continue
        sources = [(src, index) for src, index, *_ in node["inputs"]]
        params = 0
        for src, _ in sources:
            variable = nodes[src]
            if variable["op"] != "null" or src in counted or variable["name"] in input_names:
                continue
            counted.add(src)
            size = _elements(node_shapes.get(src, [()])[0])
            params += size
            if variable["name"] in aux_names:
                auxiliary += size
            else:
                trainable += size
        in_shapes = [_output(node_shapes, src, index) for src, index in sources]
        outputs = node_shapes.get(i, [])
        cost = op_cost(node["op"], node.get("attrs", {}), in_shapes, outputs)
        macs_total += cost.macs
        flops_total += cost.flops
        itemsize = itemsizes.get(i, DEFAULT_ITEMSIZE)
        layers.append(
            Layer(
                index=i,
                name=names[i],
                op=node["op"],
                output_shapes=tuple(outputs),
                parameters=params,
                macs=cost.macs / batch_size,
                flops=cost.flops / batch_size,
                output_bytes=sum(_elements(shape) for shape in outputs) * itemsize,
                known=cost.known,
            )
        )
    return ModelCard(
        layers=tuple(layers),
        input_shapes=tuple((input_shapes or {}).items()),
        batch_size=batch_size,
        trainable_parameters=trainable,
        auxiliary_states=auxiliary,
        macs_per_sample=macs_total / batch_size,
        flops_per_sample=flops_total / batch_size,
    )


def node_attrs(card: ModelCard) -> dict[int, dict[str, int | float | str]]:
    """``{node index: attributes}`` for the GraphDef: the card's figures on each operator node."""
    attrs: dict[int, dict[str, int | float | str]] = {}
    for layer in card.layers:
        entry: dict[str, int | float | str] = {"output_bytes": layer.output_bytes}
        if layer.parameters:
            entry["parameters"] = layer.parameters
        if layer.known:
            entry["macs_per_sample"] = _number(layer.macs)
            entry["flops_per_sample"] = _number(layer.flops)
        else:
            entry["cost"] = f"unknown: no formula for {layer.op}, counted as 0"
        attrs[layer.index] = entry
    return attrs


def graph_attrs(
    mx: Any,
    symbol: Any,
    internals: Any,
    document: Any,
    node_shapes: Mapping[int, list[Shape]],
    shapes: Any,
    names: Sequence[str] | None = None,
) -> dict[int, dict[str, attr_value_pb2.AttrValue]]:
    """``{node index: {name: AttrValue}}``: the card's figures for ``graph_def``'s operator nodes."""
    card = card_from_nodes(
        document["nodes"],
        node_shapes,
        node_itemsizes(mx, internals, shapes, document["heads"]),
        set(symbol.list_auxiliary_states()),
        _inputs(symbol, shapes),
        next(iter(shapes.values()))[0],
        shapes,
        names,
    )
    return {index: {k: _attr(v) for k, v in entry.items()} for index, entry in node_attrs(card).items()}


def _attr(value: int | float | str) -> attr_value_pb2.AttrValue:
    if isinstance(value, int):
        return attr_value_pb2.AttrValue(i=value)
    if isinstance(value, float):
        return attr_value_pb2.AttrValue(f=value)
    return attr_value_pb2.AttrValue(s=value.encode("utf-8"))


def _output(node_shapes: Mapping[int, list[Shape]], node: int, index: int) -> Shape | None:
    outputs = node_shapes.get(node, [])
    return outputs[index] if index < len(outputs) and outputs[index] else None


def _elements(shape: Sequence[int]) -> int:
    return math.prod(shape) if shape else 0


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


# -- Markdown -----------------------------------------------------------------------------------------------


def human(value: float) -> str:
    """``3_860_000_000`` as ``'3.86 G'``; small numbers as they are."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{value:.3g}" if not float(value).is_integer() else str(int(value))


def _bytes(count: int) -> str:
    text = human(count)  # '16' -> '16 B', '9.22 k' -> '9.22 kB'
    return text + ("B" if text[-1].isalpha() else " B")


def _shape_text(shapes: Sequence[Shape]) -> str:
    return ", ".join("×".join(map(str, shape)) for shape in shapes) or "?"


def _markdown(card: ModelCard) -> str:
    inputs = ", ".join(f"`{name}` {_shape_text([shape])}" for name, shape in card.input_shapes) or "?"
    activations = sum(layer.output_bytes for layer in card.layers)
    lines = [
        f"**Inputs** {inputs}; MACs and FLOPs per sample (batch of {card.batch_size}), output bytes of the batch.",
        "",
        f"**Parameters** {card.trainable_parameters:,} trainable, {card.all_parameters:,} in all "
        f"(with {card.auxiliary_states:,} auxiliary states such as BatchNorm running statistics)",
        "",
        f"**MACs per sample** {human(card.macs_per_sample)} ({card.macs_per_sample:,.0f}); "
        f"**FLOPs per sample** {human(card.flops_per_sample)}; **operator outputs** {_bytes(activations)}",
        "",
    ]
    unknown = card.unknown_ops
    if unknown:
        listed = ", ".join(f"`{op}` ×{count}" for op, count in unknown.items())
        lines += [f"**Counted as 0, no formula for:** {listed}", ""]
    lines += [
        "| # | layer | op | output shape | parameters | MACs | FLOPs | output bytes |",
        "|---:|---|---|---|---:|---:|---:|---:|",
    ]
    for n, layer in enumerate(card.layers):
        macs = human(layer.macs) if layer.known else "?"
        flops = human(layer.flops) if layer.known else "? (unknown op)"
        lines.append(
            f"| {n} | {layer.name} | {layer.op} | {_shape_text(layer.output_shapes)} | {layer.parameters:,} | "
            f"{macs} | {flops} | {_bytes(layer.output_bytes)} |"
        )
    lines.append(
        f"| | **total** | | | **{card.all_parameters:,}** | **{human(card.macs_per_sample)}** | "
        f"**{human(card.flops_per_sample)}** | **{_bytes(activations)}** |"
    )
    return "\n".join(lines)
