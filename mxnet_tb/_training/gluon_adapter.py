"""Every use of Gluon's private state (``Trainer._params``, ``block._children``, cached ops, ...) in one room.

MXNet 1.9.1's Gluon has no public way to list a block's children, to find the Trainer of a parameter, to tell
whether a block runs as a cached graph, or to switch a cached graph's operator hook off. mxnet_tb needs each of
these; each is one small function here, named after what it answers, so a change in Gluon is fixed in one place.

Example::

    >>> trainer_params(trainer)[0].name   # doctest: +SKIP
    'dense0_weight'
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from typing import Any

from .activation_roles import activation_roles

__all__ = [
    "activation_type",
    "blocks_of",
    "cached_graph_outputs",
    "children_of",
    "drop_cached_op",
    "ensure_cached_op",
    "grads_already_summed",
    "is_hybridized",
    "set_cached_op_hook",
    "trainer_of",
    "trainer_params",
    "visible_output_name",
]


def trainer_params(trainer: Any) -> list[Any]:
    """The parameters ``trainer`` updates, in its own (index) order."""
    return list(trainer._params)


def trainer_of(block: Any) -> Any:
    """The Trainer holding ``block``'s parameters (Gluon records it on each Parameter), or None."""
    for param in block.collect_params().values():
        trainer = getattr(param, "_trainer", None)
        if trainer is not None:
            return trainer
    return None


def grads_already_summed(trainer: Any) -> bool:
    """Whether ``trainer.allreduce_grads()`` left the sum over devices (and workers) in every device's gradient.

    That is a kvstore that does not run the optimizer (``update_on_kvstore=False``): its ``pushpull`` writes
    the sum back into each gradient array. With no kvstore (one device) there is nothing to sum.
    """
    return trainer._kvstore is not None and not trainer._update_on_kvstore


def children_of(block: Any) -> list[Any]:
    """``block``'s direct child blocks, in registration order."""
    return list(block._children.values())


def blocks_of(block: Any) -> Iterator[Any]:
    """``block`` and all its descendants, each once, parents first."""
    seen: set[int] = set()
    todo = [block]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(children_of(current))


def is_hybridized(block: Any) -> bool:
    """Whether ``block`` runs as one cached graph (``hybridize()`` was called on it or an ancestor)."""
    return bool(getattr(block, "_active", False))


def activation_type(block: Any) -> str | None:
    """``'relu'``, ``'tanh'``... for an ``nn.Activation`` block, else None."""
    return getattr(block, "_act_type", None)


def ensure_cached_op(block: Any, args: tuple[Any, ...]) -> Any:
    """The cached op a hybridized ``block`` runs for ``args``, built now if its first call is about to build it."""
    if block._cached_op is None:
        block._build_cache(*args)
    return block._cached_op


def cached_graph_outputs(block: Any) -> tuple[set[str], dict[str, str]]:
    """Names of the visible operator outputs of ``block``'s cached graph (``conv0_fwd_output``; not BatchNorm's
    batch mean or Pooling's workspace), and the roles (relu, sigmoid, tanh) of those that have one."""
    graph = getattr(block, "_cached_graph", ())
    if not graph:
        return set(), {}
    symbol = graph[1]
    visible = set(symbol.get_internals().list_outputs()) - set(symbol.list_inputs())
    return visible, activation_roles(symbol)


def visible_output_name(reported: str, visible: set[str]) -> str | None:
    """The visible-output name of an output the operator hook reports, or None for a hidden one.

    The hook names an operator's outputs by their declared names (``_output``, ``_mean``) or, for operators
    declaring none, by index (``flatten0_0``); the symbol calls the latter ``flatten0_output``.
    """
    if reported in visible:
        return reported
    base, _, index = reported.rpartition("_")
    if index == "0" and f"{base}_output" in visible:
        return f"{base}_output"
    return None


_HOOK_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p)


def set_cached_op_hook(cached_op: Any, callback: Callable[[str, Any], None]) -> Any:
    """Call ``callback(output name, NDArray)`` for every operator output ``cached_op`` computes (forward and backward).

    MXNet's ``HybridBlock.register_op_hook`` re-registers its hook on every call, with a warning each time, and
    cannot be undone; this sets the hook on one cached op, and ``drop_cached_op`` takes it off. Returns the C
    callback, which the caller keeps alive while the cached op lives.
    """
    import mxnet as mx

    def relay(name: bytes, op_name: bytes, handle: Any, _: Any) -> None:
        array = mx.nd.NDArray(ctypes.cast(handle, mx.base.NDArrayHandle), writable=False)
        callback(mx.base.py_str(name), array)

    c_callback = _HOOK_TYPE(relay)
    mx.base.check_call(mx.base._LIB.MXCachedOpRegisterOpHook(cached_op.handle, c_callback, ctypes.c_int(0)))
    return c_callback


def drop_cached_op(block: Any) -> None:
    """Forget ``block``'s cached op (and so its hook); the next call rebuilds it from the traced graph it keeps.

    MXNet 1.9.1 refuses a null operator hook, so this is the only way to run hook-free again.
    """
    block._cached_op = None
