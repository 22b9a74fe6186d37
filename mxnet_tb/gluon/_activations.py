"""Outputs of a Gluon network's layers during training forward passes, for ``watch(activations=True)``.

Two ways in, chosen per block at each forward pass:

- a block that runs imperatively: a forward hook on every leaf block (one without children) copies its output;
  names are block names (``dense0_relu``);
- a hybridized block runs one cached graph, whose layers Python never sees: an operator hook on that cached op
  copies every operator output; names are operator names without Gluon's ``_fwd_output`` (``dense0_relu``,
  and ``dense0`` for the output before the activation).

Only forward passes under ``autograd.record()`` of logged batches are copied. The operator hook is set at
the first forward pass of a logged batch and taken off (the cached op is rebuilt from its kept graph at the
next call, about a millisecond) when the batch is collected, so batches in between run exactly as without it.

Example::

    >>> tap = ActivationTap(net, logged=lambda: True)   # doctest: +SKIP
    >>> outputs = tap.collect()                          # after the batch's forward passes   # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .._training import gluon_adapter as gluon_state
from .._training.activation_roles import role_of_act_type

__all__ = ["ActivationTap", "Captured"]

_SUFFIX = re.compile(r"(_fwd)?(_output)?$")


class Captured:
    """One layer's outputs of a batch, one array per forward pass (device), and its role: ``'relu'``,
    ``'sigmoid'``, ``'tanh'`` or None (see ``_training/activation_roles.py``)."""

    def __init__(self, role: str | None) -> None:
        self.arrays: list[Any] = []
        self.role = role


class ActivationTap:
    """Copies the outputs of ``net``'s layers during the forward passes for which ``logged()`` is true."""

    def __init__(self, net: Any, logged: Callable[[], bool], pattern: re.Pattern[str] | None = None) -> None:
        import mxnet as mx

        self._autograd = mx.autograd
        self._ndarray = mx.nd.NDArray
        self._logged = logged
        self._pattern = pattern
        self._handles: list[Any] = []
        self._hooked: dict[int, tuple[Any, Any, tuple[set[str], dict[str, str]]]] = {}  # id -> (block, hook, names)
        self._running: list[Any] = []  # hybridized blocks whose cached graph is running now
        self._captured: dict[str, Captured] = {}
        for block in gluon_state.blocks_of(net):
            self._handles.append(block.register_forward_pre_hook(self._before))
            self._handles.append(block.register_forward_hook(self._after))

    def _wanted(self) -> bool:
        return self._autograd.is_recording() and self._logged()

    def _arrays(self, args: tuple[Any, ...]) -> bool:
        return bool(args) and all(isinstance(a, self._ndarray) for a in args if a is not None)

    def _keep(self, name: str, array: Any, role: str | None) -> None:
        if self._pattern is not None and not self._pattern.match(name):
            return
        self._captured.setdefault(name, Captured(role)).arrays.append(array.copy())  # MXNet reuses its memory

    def _before(self, block: Any, args: tuple[Any, ...]) -> None:
        if not gluon_state.is_hybridized(block) or not self._wanted() or not self._arrays(args):
            return  # (Gluon also calls the children of a hybridized block on symbols, to trace its graph)
        if id(block) not in self._hooked:
            cached_op = gluon_state.ensure_cached_op(block, args)
            names = gluon_state.cached_graph_outputs(block)
            callback = gluon_state.set_cached_op_hook(cached_op, self._operator_output)
            self._hooked[id(block)] = (block, callback, names)
        self._running.append(block)

    def _operator_output(self, name: str, array: Any) -> None:
        if not self._running:  # the backward pass also reports its outputs: those are not activations
            return
        visible, roles = self._hooked[id(self._running[-1])][2]
        output = gluon_state.visible_output_name(name, visible)
        if output is not None:  # not BatchNorm's batch statistics or Pooling's workspace
            self._keep(_SUFFIX.sub("", output), array, roles.get(output))

    def _after(self, block: Any, args: tuple[Any, ...], output: Any) -> None:
        if self._running and self._running[-1] is block:
            self._running.pop()
            return
        if gluon_state.children_of(block) or gluon_state.is_hybridized(block) or not self._wanted():
            return
        outputs = output if isinstance(output, (list, tuple)) else [output]
        for index, array in enumerate(outputs):
            if isinstance(array, self._ndarray):
                name = block.name if len(outputs) == 1 else f"{block.name}_{index}"
                self._keep(name, array, role_of_act_type(gluon_state.activation_type(block)))

    def collect(self) -> dict[str, Captured]:
        """The outputs copied since the last call; takes operator hooks off until the next logged batch."""
        captured, self._captured = self._captured, {}
        self._unhook_cached_ops()
        return captured

    def _unhook_cached_ops(self) -> None:
        for block, _, _ in self._hooked.values():
            gluon_state.drop_cached_op(block)
        self._hooked.clear()
        self._running.clear()

    def remove(self) -> None:
        """Detach every hook; hybridized blocks run hook-free again."""
        for handle in self._handles:
            handle.detach()
        self._handles.clear()
        self._unhook_cached_ops()
        self._captured = {}
