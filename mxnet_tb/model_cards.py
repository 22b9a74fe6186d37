"""``tb.model_card``: what a network costs, per layer, in TensorBoard's TEXT and SCALARS tabs.

It writes, through the writer's public methods only:

- TEXT ``model_card``: a Markdown summary and one row per operator (op, output shape, parameters, MACs and
  FLOPs per sample, output bytes) with totals, listing any operator it has no formula for (counted as 0);
- SCALARS ``model/parameters`` (every array MXNet allocates besides the inputs: trainable parameters and
  auxiliary states), ``model/trainable_parameters`` and ``model/macs_per_sample``.

The figures come from MXNet's shape inference and each operator's attributes (see ``summaries/_op_costs.py``
for the formulas); no forward pass, no initialized weights. The graph written by ``add_graph`` with ``shapes``
carries the same figures on its nodes.
"""

from __future__ import annotations

from typing import Any

from ._training.default import default_writer, resolve_writer
from ._values.convert import to_step
from .summaries.graph import Shapes
from .summaries.model_card import ModelCard
from .summaries.model_card import model_card as build_card
from .writer import SummaryWriter

__all__ = ["CARD_TAG", "MACS_TAG", "PARAMETERS_TAG", "TRAINABLE_TAG", "model_card", "write_card"]

CARD_TAG = "model_card"
PARAMETERS_TAG = "model/parameters"
TRAINABLE_TAG = "model/trainable_parameters"
MACS_TAG = "model/macs_per_sample"


def model_card(
    net: Any,
    shapes: Shapes,
    writer: SummaryWriter | None = None,
    step: int = 0,
    batch_size: int | None = None,
) -> ModelCard:
    """Write the model card of ``net`` for the input ``shapes`` and return it.

    Args:
        net: an ``mx.sym.Symbol``, the path of a ``-symbol.json`` file, or a Gluon ``HybridBlock`` (called on
            ``mx.sym.var('data')``; its parameters need not be initialized).
        shapes: the input shapes, ``{'data': (1, 3, 224, 224)}`` or ``[('data', (1, 3, 224, 224))]``.
        writer: where to write; the default writer (``tb.init``) when None.
        step: the step of the text and scalars.
        batch_size: divides MACs and FLOPs into per-sample figures; by default the first dimension of the first
            input (pass it for time-major inputs such as ``(T, N, C)``).

    The card is computed before anything is written: bad ``net`` or ``shapes`` raise TypeError or ValueError
    and write nothing.

    Example::

        >>> net = mx.gluon.model_zoo.vision.resnet50_v1()                        # doctest: +SKIP
        >>> card = tb.model_card(net, {"data": (1, 3, 224, 224)}, writer=sw)      # doctest: +SKIP
        >>> card.all_parameters, round(card.macs_per_sample / 1e9, 2)             # doctest: +SKIP
        (25629032, 3.86)
    """
    writer = resolve_writer(writer)
    step = to_step(step, name="step")
    card = build_card(net, shapes, batch_size=batch_size)
    write_card(writer or default_writer(), card, step)
    return card


def write_card(writer: SummaryWriter, card: ModelCard, step: int) -> None:
    """Write a computed card: the TEXT table and the three scalars, at ``step``."""
    writer.add_text(CARD_TAG, card.markdown(), global_step=step)
    writer.add_scalar(PARAMETERS_TAG, card.all_parameters, global_step=step)
    writer.add_scalar(TRAINABLE_TAG, card.trainable_parameters, global_step=step)
    writer.add_scalar(MACS_TAG, card.macs_per_sample, global_step=step)
