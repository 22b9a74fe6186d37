"""Network graphs for TensorBoard's GRAPHS tab, from MXNet Symbols, ``-symbol.json`` files and Gluon HybridBlocks.

``graph_def(net, shapes=None)`` turns the network into a TensorBoard ``GraphDef``:

- every MXNet node becomes one ``NodeDef``: operators keep their op type (``Convolution``) and every attribute,
  typed (``kernel=(3, 3)`` becomes a list of ints, ``no_bias='True'`` a bool, ``eps='1e-05'`` a float,
  anything else a string);
- parameters and auxiliary states go under their operator's name scope (``conv0_weight`` becomes
  ``conv0/weight``, op ``Parameter``; ``bn0_moving_mean`` becomes ``bn0/moving_mean``, op ``AuxiliaryState``);
  data and label variables stay at the top as op ``Input``. A variable counts as an input if it is a key of
  ``shapes``, its name ends in ``label``, or it is not named after an operator that consumes it. TensorBoard
  draws an operator that is also a scope inside it, as ``conv0/(conv0)`` next to ``conv0/weight``;
- edges from output ``k > 0`` of a multi-output operator read ``name:k``, as in TensorFlow;
- name prefixes shared by several operators fold into nested scopes, so Gluon's ``resnetv10_stage1_conv0_fwd``
  becomes ``resnetv10/stage1/conv0`` (Gluon's ``_fwd`` suffix is dropped);
- with ``shapes`` (``{input name: shape}``), every node carries ``_output_shapes``, one shape per visible
  output, from MXNet's shape inference; TensorBoard labels the edges with them. Operators also carry the model
  card's figures (``model_card.py``): ``macs_per_sample``, ``flops_per_sample``, ``parameters`` and
  ``output_bytes``, or ``cost`` saying that an unknown operator was counted as 0.

MXNet is imported only when a graph is built from a file; a Symbol or block implies it is already imported.

Example::

    >>> import mxnet as mx                                             # doctest: +SKIP
    >>> data = mx.sym.var("data")                                      # doctest: +SKIP
    >>> net = mx.sym.FullyConnected(data, num_hidden=10, name="fc")     # doctest: +SKIP
    >>> graph = graph_def(net, shapes={"data": (32, 100)})             # doctest: +SKIP
    >>> [(n.name, n.op, list(n.input)) for n in graph.node]            # doctest: +SKIP
    [('data', 'Input', []), ('fc/weight', 'Parameter', []), ('fc/bias', 'Parameter', []),
     ('fc', 'FullyConnected', ['data', 'fc/weight', 'fc/bias'])]
"""

from __future__ import annotations

import errno
import json
import numbers
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Union

from tensorboard.compat.proto import attr_value_pb2, graph_pb2, node_def_pb2

from ..errors import mxnet_reason

__all__ = [
    "AUX_STATE_OP",
    "INPUT_OP",
    "OUTPUT_SHAPES_ATTR",
    "PARAMETER_OP",
    "Shapes",
    "SymbolFileNotFoundError",
    "graph_def",
]

INPUT_OP = "Input"
PARAMETER_OP = "Parameter"
AUX_STATE_OP = "AuxiliaryState"
OUTPUT_SHAPES_ATTR = "_output_shapes"  # the attribute TensorBoard reads edge sizes from

# ``{name: shape}``, or ``(name, shape)`` pairs such as a Module's ``data_shapes`` or ``DataDesc`` objects.
Shapes = Union[Mapping[str, Sequence[int]], Iterable[tuple[str, Sequence[int]]]]

_GLUON_SUFFIX = "_fwd"  # HybridBlock names its operator <prefix>_fwd
_INT = re.compile(r"[+-]?\d+\Z")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|nan)\Z", re.IGNORECASE)
_BOOLS = {"True": True, "False": False, "true": True, "false": False}
_INT64 = (-(2**63), 2**63 - 1)
_ATTR_CACHE: dict[str, attr_value_pb2.AttrValue] = {}
_ATTR_CACHE_LIMIT = 100_000


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- input: what the network is -------------------------------------------------------------------------------


def _to_symbol(net: Any) -> Any:
    """``net`` as an MXNet Symbol: a Symbol as is, a file loaded, a HybridBlock called on ``data``."""
    if isinstance(net, (str, os.PathLike)):
        return _load_symbol_file(net)
    mx = sys.modules.get("mxnet")  # a Symbol or a block cannot exist without it
    if mx is not None:
        if isinstance(net, mx.sym.Symbol):
            return net
        if isinstance(net, mx.gluon.HybridBlock):
            return _trace_block(mx, net)
        if isinstance(net, mx.gluon.Block):
            return _trace_plain_block(mx, net)
        if isinstance(net, mx.mod.BaseModule):
            raise TypeError(f"net is a {type(net).__name__}; pass its symbol instead (module.symbol)")
    raise TypeError(
        "net must be an mxnet.sym.Symbol, the path of a '-symbol.json' file or a Gluon HybridBlock; "
        f"got {type(net).__name__}: {_describe(net)}"
    )


class SymbolFileNotFoundError(FileNotFoundError, ValueError):
    """``net`` names a file that does not exist: a missing file (OSError) and a bad argument (ValueError)."""


def _load_symbol_file(path: str | os.PathLike[str]) -> Any:
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"net as a path must be a str or os.PathLike[str]; got {type(path).__name__}: {path!r:.80}")
    if not os.path.isfile(path):
        raise SymbolFileNotFoundError(errno.ENOENT, "net is a path, but there is no MXNet symbol file there", path)
    import mxnet as mx

    try:
        return mx.sym.load(path)
    except mx.base.MXNetError as exc:
        raise ValueError(f"{path!r} is not an MXNet symbol JSON file: {_first_line(exc)}") from exc


def _trace_block(mx: Any, block: Any) -> Any:
    """The symbol of a HybridBlock called on one input ``data``; needs no initialized parameters."""
    try:
        out = block(mx.sym.var("data"))
    except TypeError as exc:
        raise TypeError(
            f"calling {type(block).__name__} on one input mx.sym.var('data') failed ({exc}); for a block with "
            "other inputs pass the symbol it returns, e.g. net(mx.sym.var('a'), mx.sym.var('b'))"
        ) from exc
    outputs = list(_flatten(out))
    if not outputs or not all(isinstance(o, mx.sym.Symbol) for o in outputs):
        raise TypeError(f"{type(block).__name__} called on a symbol returned {_describe(out)}, not symbols")
    return outputs[0] if len(outputs) == 1 else mx.sym.Group(outputs)


def _trace_plain_block(mx: Any, block: Any) -> Any:
    """The symbol of a Block that is not a HybridBlock, traced by calling it on a symbol.

    An ``nn.Sequential`` of HybridBlocks (or any ``forward`` that only calls hybridizable children and Symbol
    methods) traces like a HybridBlock; a ``forward`` that needs NDArrays cannot, and says so.
    """
    try:
        return _trace_block(mx, block)
    except (TypeError, ValueError, AttributeError, AssertionError, NotImplementedError, mx.base.MXNetError) as exc:
        raise TypeError(
            f"net is a Gluon {type(block).__name__}, not a HybridBlock, and calling it on "
            f"mx.sym.var('data') failed ({_first_line(exc)}): its forward needs NDArrays. Build it from "
            "HybridBlocks (e.g. nn.HybridSequential), or pass the symbol of the part that can be traced"
        ) from exc


def _flatten(value: Any) -> Iterable[Any]:
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def _first_line(exc: BaseException) -> str:
    return mxnet_reason(exc)  # MXNet's own reason, not the "Traceback (most recent call last):" it starts with


# -- input: shapes --------------------------------------------------------------------------------------------


def _check_shapes(shapes: Any, arguments: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """``shapes`` as ``{argument: tuple of positive ints}``; every name must be an argument of the network."""
    if isinstance(shapes, Mapping):
        items = list(shapes.items())
    elif isinstance(shapes, Iterable) and not isinstance(shapes, (str, bytes)):
        items = []
        for item in shapes:
            try:
                name, shape = item
            except (TypeError, ValueError):
                raise TypeError(
                    f"shapes must be a dict of input name -> shape or (name, shape) pairs; got item {_describe(item)}"
                ) from None
            items.append((name, shape))
    else:
        raise TypeError(
            f"shapes must be a dict of input name -> shape, e.g. {{'data': (1, 3, 224, 224)}}; "
            f"got {type(shapes).__name__}: {_describe(shapes)}"
        )
    if not items:
        raise ValueError("shapes is empty; pass None to leave shapes out, or {input name: shape}")
    known = set(arguments)
    checked: dict[str, tuple[int, ...]] = {}
    for name, shape in items:
        if not isinstance(name, str):
            raise TypeError(f"shapes keys must be input names (str); got {type(name).__name__}: {_describe(name)}")
        if name not in known:
            raise ValueError(f"shapes names {name!r}, which is not an input of the network; {_inputs_hint(arguments)}")
        if (
            not isinstance(shape, (tuple, list))
            or not shape
            or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in shape)
        ):
            raise ValueError(f"shape of {name!r} must be a non-empty tuple of positive ints; got {_describe(shape)}")
        checked[name] = tuple(int(d) for d in shape)
    return checked


def _inputs_hint(arguments: Sequence[str]) -> str:
    shown = ", ".join(repr(a) for a in arguments[:8])
    more = f" and {len(arguments) - 8} more" if len(arguments) > 8 else ""
    return f"its arguments are {shown}{more}"


def _infer_shapes(
    mx: Any, internals: Any, shapes: dict[str, tuple[int, ...]], heads: list[list[int]], names: list[str]
) -> dict[int, list[tuple[int, ...]]]:
    """``{node index: [shape of each visible output]}`` for every node; ValueError unless all are known."""
    try:
        _, out_shapes, _ = internals.infer_shape_partial(**shapes)
    except mx.base.MXNetError as exc:
        raise ValueError(f"shapes {shapes} do not fit the network: {_first_line(exc)}") from exc
    np_shape = mx.util.is_np_shape()
    by_node: dict[int, list[tuple[int, ...]]] = {}
    unknown: list[str] = []
    for (node, index, _), shape in zip(heads, out_shapes):
        if shape is None or any(d < 0 for d in shape) or (not np_shape and (not shape or 0 in shape)):
            unknown.append(names[node] if index == 0 else f"{names[node]}:{index}")
            continue
        outputs = by_node.setdefault(node, [])
        outputs.extend([()] * (index + 1 - len(outputs)))
        outputs[index] = tuple(shape)
    if unknown:
        listed = ", ".join(unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
        raise ValueError(f"shapes {shapes} do not determine the shapes of {listed}; add the missing inputs to shapes")
    return by_node


# -- output: names ------------------------------------------------------------------------------------------


def _layer(name: str) -> str:
    """The operator's layer name: Gluon's ``_fwd`` suffix dropped."""
    return name[: -len(_GLUON_SUFFIX)] if name.endswith(_GLUON_SUFFIX) and len(name) > len(_GLUON_SUFFIX) else name


def _cuts(name: str) -> list[int]:
    """Where ``name`` may split into scope and rest: an ``_`` after a non-``_``, not before a digit or the end.

    ``resnetv10_stage1__plus0`` cuts into ``resnetv10`` / ``stage1`` / ``_plus0``; ``conv_1`` does not cut.
    """
    return [i for i in range(1, len(name) - 1) if name[i] == "_" and name[i - 1] != "_" and not name[i + 1].isdigit()]


_HASH_MOD = (1 << 61) - 1


def _prefix_keys(layer: str, points: list[int]) -> list[tuple[int, int, int]]:
    """A key per cut point naming the prefix ``layer[:i]`` without building it: its length and two rolling
    hashes (a collision needs two 61-bit hashes to agree at once). Linear in ``layer``; slicing every prefix
    would be quadratic (a 150k-character name has ~75k cuts)."""
    keys, first, second, wanted = [], 0, 0, iter(points)
    cut = next(wanted, -1)
    for index, char in enumerate(layer):
        if index == cut:
            keys.append((index, first, second))
            cut = next(wanted, -1)
        code = ord(char)
        first = (first * 1_000_003 + code) % _HASH_MOD
        second = (second * 911_382_323 + code + 7) % _HASH_MOD
    return keys


def _fold(layers: Iterable[str]) -> dict[str, str]:
    """``{layer: name with scopes}``: a prefix shared by two or more layers becomes a scope (``_`` -> ``/``)."""
    distinct = set(layers)
    cuts = {layer: _cuts(layer) for layer in distinct}
    keys = {layer: _prefix_keys(layer, points) for layer, points in cuts.items()}
    count: dict[tuple[int, int, int], int] = {}
    for layer_keys in keys.values():
        for key in layer_keys:
            count[key] = count.get(key, 0) + 1
    folded = {}
    for layer, points in cuts.items():
        shared = [i for i, key in zip(points, keys[layer]) if count[key] >= 2]
        if not shared:
            folded[layer] = layer
            continue
        chars = list(layer)
        for i in shared:
            chars[i] = "/"
        folded[layer] = "".join(chars)
    return folded


def _clean(name: str) -> str:
    """A name TensorBoard parses as one node: no ``:`` (output index) and no leading ``^`` (control edge)."""
    name = name.replace(":", "_")
    return "_" + name[1:] if name.startswith("^") else name


def _node_names(nodes: list[dict[str, Any]], aux: set[str], inputs: set[str]) -> tuple[list[str], list[str]]:
    """TensorBoard node names and ops of the variables, index-aligned with ``nodes`` (ops '' for operators)."""
    layers = {i: _layer(n["name"]) for i, n in enumerate(nodes) if n["op"] != "null"}
    folded = _fold(layers.values())
    consumers: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        if node["op"] != "null":
            for source, *_ in node["inputs"]:
                consumers.setdefault(source, []).append(i)
    names: list[str] = []
    var_ops: list[str] = []
    for i, node in enumerate(nodes):
        name = node["name"]
        if node["op"] != "null":
            names.append(folded[layers[i]])
            var_ops.append("")
            continue
        is_aux = name in aux
        scope = None
        if name not in inputs and (is_aux or not name.endswith("label")):
            best = ""
            for op in consumers.get(i, ()):
                layer = layers[op]
                if len(layer) > len(best) and len(name) > len(layer) + 1 and name.startswith(layer + "_"):
                    best = layer
            if best:
                scope = folded[best] + "/" + name[len(best) + 1 :]
        names.append(scope if scope is not None else name)
        var_ops.append(AUX_STATE_OP if is_aux else PARAMETER_OP if scope is not None else INPUT_OP)
    used: set[str] = set()
    next_suffix: dict[str, int] = {}  # per repeated name, the suffix to try next: linear in the repeats
    for i, name in enumerate(names):
        name = _clean(name)
        if name in used:  # MXNet allows repeated names; TensorBoard needs them unique
            k = next_suffix.get(name, 1)
            while f"{name}_{k}" in used:
                k += 1
            next_suffix[name] = k + 1
            name = f"{name}_{k}"
        used.add(name)
        names[i] = name
    return names, var_ops


# -- output: attributes -------------------------------------------------------------------------------------


def _attr_value(text: str) -> attr_value_pb2.AttrValue:
    """An MXNet attribute string as a typed AttrValue; cached, since networks repeat the same few values."""
    value = _ATTR_CACHE.get(text)
    if value is None:
        value = _parse_attr(text)
        if len(_ATTR_CACHE) >= _ATTR_CACHE_LIMIT:
            _ATTR_CACHE.clear()
        _ATTR_CACHE[text] = value
    return value


def _parse_attr(text: str) -> attr_value_pb2.AttrValue:
    if text in _BOOLS:
        return attr_value_pb2.AttrValue(b=_BOOLS[text])
    if _INT.match(text):
        number = int(text)
        if _INT64[0] <= number <= _INT64[1]:
            return attr_value_pb2.AttrValue(i=number)
    elif _FLOAT.match(text):
        return attr_value_pb2.AttrValue(f=float(text))
    elif len(text) >= 2 and (text[0], text[-1]) in (("(", ")"), ("[", "]")):
        parts = [p.strip() for p in text[1:-1].split(",")]
        if parts and parts[-1] == "":  # "(1,)" and "()"
            parts.pop()
        if all(_INT.match(p) for p in parts) and all(_INT64[0] <= int(p) <= _INT64[1] for p in parts):
            value = attr_value_pb2.AttrValue()
            value.list.SetInParent()  # an empty tuple is still a list
            value.list.i.extend(int(p) for p in parts)
            return value
        if all(_INT.match(p) or _FLOAT.match(p) for p in parts):
            return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(f=[float(p) for p in parts]))
    return attr_value_pb2.AttrValue(s=text.encode("utf-8"))


def _shapes_value(shapes: list[tuple[int, ...]]) -> attr_value_pb2.AttrValue:
    value = attr_value_pb2.AttrValue()
    listed = value.list.shape
    for shape in shapes:
        proto = listed.add()
        for size in shape:
            proto.dim.add(size=size)
    value.list.SetInParent()
    return value


# -- the builder --------------------------------------------------------------------------------------------


def graph_def(net: Any, shapes: Shapes | None = None) -> graph_pb2.GraphDef:
    """The TensorBoard ``GraphDef`` of ``net``, one ``NodeDef`` per MXNet node, in MXNet's topological order.

    Args:
        net: an ``mx.sym.Symbol`` (grouped outputs too), the path of a ``-symbol.json`` file (as written by
            ``save_checkpoint`` or ``HybridBlock.export``), or a Gluon ``HybridBlock``, which is called on
            ``mx.sym.var('data')`` (its parameters need not be initialized).
        shapes: optional input shapes, ``{'data': (1, 3, 224, 224)}`` or ``[('data', (1, 3, 224, 224))]``; then
            every node gets ``_output_shapes``. They must determine every shape in the network.

    Raises:
        TypeError: ``net`` or ``shapes`` is of the wrong type.
        ValueError: ``shapes`` names an unknown input, does not fit the network, or leaves shapes unknown; the
            file is not an MXNet symbol file.
        FileNotFoundError: ``net`` is a path with no file.
    """
    symbol = _to_symbol(net)
    mx = sys.modules["mxnet"]
    internals = symbol.get_internals()  # every node's visible outputs, in node order: the shape lookup
    document = json.loads(internals.tojson())
    nodes: list[dict[str, Any]] = document["nodes"]
    checked = None if shapes is None else _check_shapes(shapes, symbol.list_arguments())
    names, var_ops = _node_names(nodes, set(symbol.list_auxiliary_states()), set(checked or ()))
    node_shapes = (
        None
        if checked is None
        else _infer_shapes(mx, internals, checked, document["heads"], [n["name"] for n in nodes])
    )

    if node_shapes is not None:
        from .model_card import graph_attrs  # the model card's figures for every operator

        costs = graph_attrs(mx, symbol, internals, document, node_shapes, checked, names)

    graph = graph_pb2.GraphDef()
    add = graph.node.add
    for i, node in enumerate(nodes):
        op = node["op"]
        proto: node_def_pb2.NodeDef = add(name=names[i], op=var_ops[i] if op == "null" else op)
        proto.input.extend([names[src] if index == 0 else f"{names[src]}:{index}" for src, index, *_ in node["inputs"]])
        attr = proto.attr
        for key, text in node.get("attrs", {}).items():
            attr[key].CopyFrom(_attr_value(text))
        if node_shapes is not None:
            attr[OUTPUT_SHAPES_ATTR].CopyFrom(_shapes_value(node_shapes[i]))
            for key, value in costs.get(i, {}).items():
                if key not in attr:  # MXNet's own attributes win
                    attr[key].CopyFrom(value)
    return graph
