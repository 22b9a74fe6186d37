"""Arithmetic cost of one MXNet operator from its attributes and tensor shapes: the model card's formulas.

``op_cost(op, attrs, inputs, outputs)`` returns ``Cost(macs, flops, known)`` for the whole batch the shapes
describe. Conventions (what the numbers mean):

- **MACs** (multiply-accumulates) come only from the operators that multiply matrices: ``Convolution``
  (``output elements × C_in/groups × kernel size``; stride, padding and dilation act through the output shape),
  ``Deconvolution`` (``input elements × num_filter/groups × kernel size``), ``FullyConnected``
  (``output elements × input features``), ``RNN`` (every layer, direction and gate: ``T × N × gates × H ×
  (input size + H)``, plus the projection of an LSTMP), ``dot`` and ``batch_dot``. These counts are exact.
- **FLOPs** are ``2 × MACs`` plus one per output element for a bias, and for the other operators a
  per-element count of the forward pass: 1 per output element for elementwise arithmetic and activations,
  1 per input element for reductions, 2 per element for a normalization (scale and shift, its inference
  form), the window size per output element for pooling. Layout operators (reshape, concat,
  slice, dropout, ...) cost 0 and are known to.
- An operator not listed here costs 0 and comes back ``known=False``; the model card lists it by name, so a
  missing count is never mistaken for a free operator.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple, Optional

__all__ = ["Cost", "op_cost", "parse_attr"]

Shape = tuple[int, ...]
MaybeShape = Optional[Shape]


class Cost(NamedTuple):
    macs: int
    flops: int
    known: bool


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ZERO = Cost(0, 0, True)
UNKNOWN = Cost(0, 0, False)

# Operators that only move, copy, create or select data: no arithmetic.
_FREE = _words(
    """
    Flatten flatten Reshape reshape reshape_like transpose SwapAxis swapaxes Concat concat stack SliceChannel split
    _split_v2 slice slice_axis slice_like _slice_assign crop Crop expand_dims squeeze Dropout identity _copy copy
    _copyto BlockGrad stop_gradient Cast cast amp_cast amp_multicast tile repeat broadcast_to broadcast_like
    broadcast_axis broadcast_axes Pad pad _zeros _ones _full zeros_like ones_like _arange take Embedding pick
    one_hot gather_nd where shape_array size_array _rnn_param_concat SequenceReverse reverse flip Custom_noop
    UpSampling_nearest _contrib_identity depth_to_space space_to_depth
    """
)
# One FLOP per output element: elementwise arithmetic, comparisons and activations.
_PER_ELEMENT = _words(
    """
    elemwise_add elemwise_sub elemwise_mul elemwise_div _plus _Plus _minus _Minus _mul _Mul _div _Div _grad_add
    broadcast_add broadcast_plus broadcast_sub broadcast_minus broadcast_mul broadcast_div broadcast_mod
    broadcast_power broadcast_maximum broadcast_minimum broadcast_equal broadcast_greater broadcast_lesser
    _plus_scalar _minus_scalar _rminus_scalar _mul_scalar _div_scalar _rdiv_scalar _power_scalar _rpower_scalar
    _maximum_scalar _minimum_scalar _equal_scalar _greater_scalar _lesser_scalar _maximum _minimum _power _mod
    add_n ElementWiseSum negative abs sign square sqrt rsqrt cbrt exp log log1p expm1 log2 log10 sin cos tan
    tanh sigmoid relu softsign erf reciprocal clip round floor ceil fix trunc Activation LeakyReLU hard_sigmoid
    softmax log_softmax SoftmaxActivation SoftmaxOutput Softmax masked_softmax LinearRegressionOutput
    LogisticRegressionOutput MAERegressionOutput MakeLoss make_loss smooth_l1 L2Normalization SequenceMask
    """
)
# One FLOP per input element: reductions.
_REDUCTIONS = _words("sum mean max min prod norm sum_axis nansum argmax argmin softmax_cross_entropy")
_NORMALIZATION = frozenset({"BatchNorm", "BatchNorm_v1", "SyncBatchNorm", "LayerNorm", "InstanceNorm", "GroupNorm"})
_RNN_GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


def parse_attr(attrs: Mapping[str, str], key: str, default: object = None) -> object:
    """An attribute string as a Python value: ``'(3, 3)'`` -> ``(3, 3)``, ``'True'`` -> ``True``, ``'16'`` -> 16."""
    text = attrs.get(key)
    if text is None:
        return default
    if text in ("None", "none"):
        return None
    if text in ("true", "false"):
        return text == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _ints(value: object) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, (tuple, list)) and all(isinstance(v, int) for v in value):
        return tuple(value)
    return ()


def _size(shape: Sequence[int]) -> int:
    return math.prod(shape)


def _channels_last(attrs: Mapping[str, str]) -> bool:
    layout = parse_attr(attrs, "layout")
    return isinstance(layout, str) and layout.endswith("C")


def _convolution(attrs: Mapping[str, str], inputs: Sequence[MaybeShape], outputs: Sequence[Shape]) -> Cost:
    data, kernel = inputs[0], _ints(parse_attr(attrs, "kernel"))
    if data is None or not kernel or not outputs:
        return UNKNOWN
    groups = int(parse_attr(attrs, "num_group", 1) or 1)
    channels = data[-1] if _channels_last(attrs) else data[1]
    out = _size(outputs[0])
    macs = out * (channels // groups) * _size(kernel)
    bias = 0 if parse_attr(attrs, "no_bias", False) else out
    return Cost(macs, 2 * macs + bias, True)


def _deconvolution(attrs: Mapping[str, str], inputs: Sequence[MaybeShape], outputs: Sequence[Shape]) -> Cost:
    data, kernel = inputs[0], _ints(parse_attr(attrs, "kernel"))
    filters = parse_attr(attrs, "num_filter")
    if data is None or not kernel or not isinstance(filters, int) or not outputs:
        return UNKNOWN
    groups = int(parse_attr(attrs, "num_group", 1) or 1)
    macs = _size(data) * (filters // groups) * _size(kernel)
    bias = 0 if parse_attr(attrs, "no_bias", True) else _size(outputs[0])
    return Cost(macs, 2 * macs + bias, True)


def _fully_connected(attrs: Mapping[str, str], inputs: Sequence[MaybeShape], outputs: Sequence[Shape]) -> Cost:
    weight = inputs[1] if len(inputs) > 1 else None
    if weight is None or len(weight) != 2 or not outputs:
        return UNKNOWN
    out = _size(outputs[0])
    macs = out * weight[1]
    bias = 0 if parse_attr(attrs, "no_bias", False) else out
    return Cost(macs, 2 * macs + bias, True)


def _rnn(attrs: Mapping[str, str], inputs: Sequence[MaybeShape], outputs: Sequence[Shape]) -> Cost:
    data = inputs[0]
    gates = _RNN_GATES.get(str(parse_attr(attrs, "mode")))
    hidden = parse_attr(attrs, "state_size")
    if data is None or len(data) != 3 or gates is None or not isinstance(hidden, int):
        return UNKNOWN
    steps, batch, features = data  # MXNet's RNN operator is always TNC
    layers = int(parse_attr(attrs, "num_layers", 1) or 1)
    directions = 2 if parse_attr(attrs, "bidirectional", False) else 1
    projection = parse_attr(attrs, "projection_size")
    recurrent = projection if isinstance(projection, int) else hidden
    per_step = 0
    size_in = features
    for _ in range(layers):
        layer = gates * hidden * (size_in + recurrent)
        if isinstance(projection, int):
            layer += hidden * projection
        per_step += directions * layer
        size_in = directions * recurrent
    macs = steps * batch * per_step
    bias_adds = steps * batch * layers * directions * gates * hidden * 2  # MXNet's RNN has two biases per gate
    return Cost(macs, 2 * macs + bias_adds, True)


def _dot(op: str, attrs: Mapping[str, str], inputs: Sequence[MaybeShape], outputs: Sequence[Shape]) -> Cost:
    lhs = inputs[0]
    if lhs is None or not outputs or not lhs:
        return UNKNOWN
    transposed = bool(parse_attr(attrs, "transpose_a", False))
    if op == "batch_dot":
        if len(lhs) < 3:
            return UNKNOWN
        inner = lhs[-2] if transposed else lhs[-1]
    else:
        inner = lhs[0] if transposed else lhs[-1]
    macs = _size(outputs[0]) * inner
    return Cost(macs, 2 * macs, True)


def _pooling(attrs: Mapping[str, str], inputs: Sequence[MaybeShape], outputs: Sequence[Shape]) -> Cost:
    data = inputs[0]
    if data is None or not outputs:
        return UNKNOWN
    if parse_attr(attrs, "global_pool", False):
        window = _size(data[1:-1]) if _channels_last(attrs) else _size(data[2:])
    else:
        window = _size(_ints(parse_attr(attrs, "kernel")) or (1,))
    return Cost(0, _size(outputs[0]) * window, True)


def op_cost(op: str, attrs: Mapping[str, str], inputs: Sequence[MaybeShape], outputs: Sequence[Shape]) -> Cost:
    """The cost of one operator over the batch: ``inputs`` its input shapes (None where unknown), ``outputs`` its
    visible output shapes; ``known=False`` (and 0) for an operator this module has no formula for.

    Example::

        >>> op_cost("Convolution", {"kernel": "(3, 3)", "num_filter": "8"}, [(1, 3, 8, 8), (8, 3, 3, 3)],
        ...         [(1, 8, 6, 6)])
        Cost(macs=7776, flops=15840, known=True)
    """
    if op == "Convolution":
        return _convolution(attrs, inputs, outputs)
    if op == "Deconvolution":
        return _deconvolution(attrs, inputs, outputs)
    if op == "FullyConnected":
        return _fully_connected(attrs, inputs, outputs)
    if op == "RNN":
        return _rnn(attrs, inputs, outputs)
    if op in ("dot", "batch_dot"):
        return _dot(op, attrs, inputs, outputs)
    if op == "Pooling":
        return _pooling(attrs, inputs, outputs)
    if op in _FREE:
        return ZERO
    if not outputs:
        return UNKNOWN
    if op in _NORMALIZATION:
        return Cost(0, 2 * _size(outputs[0]), True)
    if op in _PER_ELEMENT:
        return Cost(0, _size(outputs[0]), True)
    if op in _REDUCTIONS and inputs and inputs[0] is not None:
        return Cost(0, _size(inputs[0]), True)
    return UNKNOWN
