"""The one room where mxnet_tb reads MXNet's private state and walks the call stack.

MXNet 1.9.1's Module API does not tell callbacks and monitors what they need: which module ``fit`` is
training, which executors share a batch, the optimizer, the kvstore, the bound batch size. It is all there,
under private names (``_exec_group``, ``_optimizer``, ``_kvstore``, ``_symbol``, ``_curr_module``,
``_modules``, ``BatchEndParam.locals``) or in the calling frames. Each function here names one such quirk, so
a change in MXNet (or Gluon's own quirks, next) touches this module only. Nothing here imports MXNet: a
function finds it in ``sys.modules`` when it needs its classes.

Example::

    >>> optimizer_of(bucketing_module).rescale_grad   # its current bucket's optimizer   # doctest: +SKIP
    0.0625
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from .hooks import Hooks, RemovableHandle, attached, module_hooks_of

__all__ = [
    "ExecutorGroup",
    "argument_names",
    "auxiliary_names",
    "batch_of",
    "bound_batch_size",
    "calling_module",
    "drives",
    "executor_group_of",
    "follow_executor_replacement",
    "follow_new_buckets",
    "kvstore_of",
    "kvstore_updates_weights",
    "module_executor_group",
    "module_of",
    "multi_sum_sq_call",
    "ndarray_from_handle",
    "optimizer_of",
    "symbol_of",
    "train_data_of",
]


def _base_module_class() -> type | None:
    mx = sys.modules.get("mxnet")
    return mx.module.BaseModule if mx is not None else None


# -- which module, which batch ---------------------------------------------------------------------------


def calling_module(max_depth: int = 30) -> Any:
    """The outermost MXNet module whose method is on the call stack (``fit``, ``install_monitor``), or None.

    MXNet calls ``epoch_end_callback`` and ``Monitor.install`` without saying which module it is training;
    the module is the ``self`` of a calling frame. The outermost one wins, so a ``BucketingModule`` (or
    ``SequentialModule``) and its inner modules share one clock.
    """
    base = _base_module_class()
    if base is None:
        return None
    found = None
    frame = sys._getframe(1)
    for _ in range(max_depth):
        if frame is None:
            break
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, base):
            found = candidate
        frame = frame.f_back
    return found


def _inner_modules(module: Any) -> list[Any]:
    """The modules a ``SequentialModule`` (``_modules``) or ``BucketingModule`` (``_buckets``) drives."""
    inner = list(getattr(module, "_modules", None) or [])
    buckets = getattr(module, "_buckets", None)
    if isinstance(buckets, dict):
        inner.extend(buckets.values())
    return inner


def drives(outer: Any, module: Any) -> bool:
    """Whether a training forward of ``outer`` runs ``module`` (itself, a part, a bucket, at any depth)."""
    if outer is None or module is None:
        return False
    if module is outer:
        return True
    return any(drives(inner, module) for inner in _inner_modules(outer))


def module_of(param: Any) -> Any:
    """The module a ``BatchEndParam`` is about, or None.

    ``fit`` passes its own ``locals()``, whose ``self`` is the module. A hand-written loop passes the script's
    ``locals()``: then the one module found among them that no other module found there drives (the
    ``SequentialModule``, not its parts); None when there is none or several.
    """
    local = getattr(param, "locals", None) or {}
    base = _base_module_class()
    if base is None:
        return None
    own = local.get("self")
    if isinstance(own, base):
        return own
    found = {id(value): value for value in local.values() if isinstance(value, base)}
    driven = {id(inner) for value in found.values() for inner in _inner_modules(value)}
    outermost = [value for key, value in found.items() if key not in driven]
    return outermost[0] if len(outermost) == 1 else None


def batch_of(param: Any) -> Any:
    """The ``DataBatch`` of a ``BatchEndParam`` from ``fit`` (its ``data_batch`` local), or None."""
    return (getattr(param, "locals", None) or {}).get("data_batch")


def train_data_of(param: Any) -> Any:
    """The training iterator of a ``BatchEndParam`` from ``fit`` (its ``train_data`` local), or None."""
    return (getattr(param, "locals", None) or {}).get("train_data")


def fit_locals(max_depth: int = 40) -> dict[str, Any] | None:
    """The local variables of the innermost ``BaseModule.fit`` on the call stack (``epoch``, ``nbatch``,
    ``train_data``), or None. A monitor's hook learns there which epoch the batch belongs to."""
    mx = sys.modules.get("mxnet")
    if mx is None:
        return None
    code = mx.module.BaseModule.fit.__code__
    frame = sys._getframe(1)
    for _ in range(max_depth):
        if frame is None:
            return None
        if frame.f_code is code:
            return frame.f_locals
        frame = frame.f_back
    return None


def ends_an_epoch(param: Any) -> bool:
    """Whether a ``BatchEndParam`` from ``fit`` is its epoch's last batch (``fit``'s ``end_of_batch`` local)."""
    return bool((getattr(param, "locals", None) or {}).get("end_of_batch"))


# -- what a module trains with ---------------------------------------------------------------------------


def _current_inner_modules(module: Any) -> list[Any]:
    """``module`` itself, then what it delegates to: a BucketingModule's current module, a SequentialModule's parts."""
    current = getattr(module, "_curr_module", None)
    return [module, *([current] if current is not None else []), *(getattr(module, "_modules", None) or [])]


def optimizer_of(module: Any) -> Any:
    """The optimizer ``module`` trains with, or None before ``init_optimizer``.

    A ``Module`` keeps it as ``_optimizer``; a ``BucketingModule`` has none of its own (its current bucket's
    module has it); a ``SequentialModule`` gives each part its own, created from the same settings.
    """
    for candidate in _current_inner_modules(module):
        optimizer = getattr(candidate, "_optimizer", None)
        if optimizer is not None:
            return optimizer
    return None


def bound_batch_size(module: Any) -> int | None:
    """The batch size ``module``'s executors were bound for (its executor group's), or None."""
    for candidate in _current_inner_modules(module):
        size = getattr(getattr(candidate, "_exec_group", None), "batch_size", None)
        if size is not None:
            return size
    return None


def kvstore_of(source: Any) -> Any:
    """The kvstore itself, a module's (a BucketingModule's current module's), or a Gluon Trainer's."""
    if all(hasattr(source, name) for name in ("type", "rank", "num_workers")):
        return source
    kvstore = getattr(source, "_kvstore", None)
    if kvstore is None:
        kvstore = getattr(getattr(source, "_curr_module", None), "_kvstore", None)
    return kvstore


def kvstore_updates_weights(module: Any) -> bool:
    """Whether ``module``'s kvstore runs the optimizer (``update_on_kvstore``; MXNet's default is True)."""
    owner = module if hasattr(module, "_update_on_kvstore") else getattr(module, "_curr_module", None)
    return bool(getattr(owner, "_update_on_kvstore", True))


# -- executors ------------------------------------------------------------------------------------------


def symbol_of(exe: Any) -> Any:
    """The symbol an executor was bound from."""
    return exe._symbol


def argument_names(exe: Any) -> list[str]:
    """An executor's argument names in its symbol's order (data, parameters, labels)."""
    return symbol_of(exe).list_arguments()


def auxiliary_names(exe: Any) -> list[str]:
    """An executor's auxiliary state names in its symbol's order (``aux_arrays``' order)."""
    return symbol_of(exe).list_auxiliary_states()


def multi_sum_sq_call(arrays: list[Any]) -> Callable[[], Any] | None:
    """A call issuing ``mx.nd.multi_sum_sq(*arrays)`` through MXNet's C API with its arguments built once, or
    None where this MXNet build does not offer it (the caller then uses the Python wrapper).

    It calls the op through ``MXImperativeInvokeEx`` as MXNet's own wrapper does, minus building the handle
    arrays every call (a third of the wrapper's cost for 42 arrays). The call returns None if MXNet refuses.
    """
    import ctypes

    import mxnet as mx

    try:
        from mxnet.base import _LIB, NDArrayHandle, c_str, c_str_array

        op = ctypes.c_void_p()
        if _LIB.NNGetOpHandle(c_str("multi_sum_sq"), ctypes.byref(op)) != 0:
            return None
        inputs = (NDArrayHandle * len(arrays))(*[array.handle for array in arrays])
        keys, values = c_str_array(["num_arrays"]), c_str_array([str(len(arrays))])
    except Exception:  # another MXNet build
        return None

    def invoke() -> Any:
        outputs = ctypes.POINTER(NDArrayHandle)()
        count = ctypes.c_int(0)
        stypes = ctypes.POINTER(ctypes.c_int)()
        status = _LIB.MXImperativeInvokeEx(
            op, len(arrays), inputs, ctypes.byref(count), ctypes.byref(outputs), 1, keys, values,
            ctypes.byref(stypes),
        )  # fmt: skip
        if status != 0 or count.value != 1:
            return None
        return mx.nd.NDArray(ctypes.cast(outputs[0], NDArrayHandle))

    return invoke


def ndarray_from_handle(handle: Any) -> Any:
    """A read-only NDArray over the handle MXNet passes to an executor monitor callback."""
    import ctypes

    import mxnet as mx

    return mx.nd.NDArray(ctypes.cast(handle, mx.base.NDArrayHandle), writable=False)


class ExecutorGroup(NamedTuple):
    """Executors that share one batch (one per device), in the order MXNet runs them.

    ``execs`` is the ``DataParallelExecutorGroup``'s own list, which MXNet updates in place when it reshapes;
    ``owner`` that group and ``module`` the ``Module`` using it (None for an executor installed on its own).
    """

    execs: list[Any]
    owner: Any = None
    module: Any = None


def executor_group_of(exe: Any, max_depth: int = 8) -> ExecutorGroup:
    """The group ``exe`` runs in, found from the caller of ``Monitor.install``.

    ``DataParallelExecutorGroup.install_monitor`` installs a monitor on each of its executors in turn; the
    group is its ``self``, and the ``Module`` above it owns the group as ``_exec_group``. Installed any other
    way, an executor is a group of its own.
    """
    frame = sys._getframe(1)
    group = None
    for _ in range(max_depth):
        if frame is None:
            break
        owner = frame.f_locals.get("self")
        if group is None:
            execs = getattr(owner, "execs", None)
            if isinstance(execs, list) and any(e is exe for e in execs):
                group = owner
        elif getattr(owner, "_exec_group", None) is group:
            return ExecutorGroup(group.execs, group, owner)
        frame = frame.f_back
    return ExecutorGroup(group.execs, group) if group is not None else ExecutorGroup([exe])


def module_executor_group(module: Any) -> ExecutorGroup | None:
    """The executor group a bound ``Module`` runs its batches on, or None when it is not bound."""
    group = getattr(module, "_exec_group", None)
    return ExecutorGroup(group.execs, group, module) if group is not None else None


class _GroupHooks(Hooks):
    """Listeners after ``DataParallelExecutorGroup.bind_exec``: with ``reshape=True`` it replaces executors."""

    ATTRIBUTE = "_mxnet_tb_group_hooks"
    EVENTS = ("after_bind_exec",)

    def __init__(self, group: Any) -> None:
        super().__init__(group)
        listeners = self.listeners["after_bind_exec"]

        def make(bind_exec: Any) -> Any:
            def hooked_bind_exec(*args: Any, **kwargs: Any) -> Any:
                result = bind_exec(*args, **kwargs)
                for listener in list(listeners):
                    listener(group)
                return result

            return hooked_bind_exec

        self._wrap("bind_exec", make)


def follow_executor_replacement(group: ExecutorGroup, replaced: Any) -> list[RemovableHandle]:
    """Call ``replaced(new_group)`` whenever MXNet replaces the executors of ``group``; returns the handles.

    ``Module.reshape`` (also done by ``Module.forward`` for a batch of a new shape) makes the group rebind
    its executors (``bind_exec(reshape=True)``: new executor objects, same list); ``Module.bind(force_rebind=
    True)`` makes a new group. Neither tells an installed monitor, so stock monitors go quiet after either.
    """
    handles = []
    if group.owner is not None and callable(getattr(group.owner, "bind_exec", None)):
        hooks = attached(group.owner, _GroupHooks)
        handles.append(hooks.listen("after_bind_exec", lambda owner: replaced(group)))
    if group.module is not None:

        def rebound(module: Any) -> None:
            now = module_executor_group(module)
            if now is not None and now.owner is not group.owner:
                replaced(now)

        handles.append(module_hooks_of(group.module).listen("after_bind", rebound))
    return handles


class _BucketHooks(Hooks):
    """Listeners after ``BucketingModule.switch_bucket``, which binds a new module for a new bucket key."""

    ATTRIBUTE = "_mxnet_tb_bucket_hooks"
    EVENTS = ("after_switch_bucket",)

    def __init__(self, module: Any) -> None:
        super().__init__(module)
        listeners = self.listeners["after_switch_bucket"]

        def make(switch_bucket: Any) -> Any:
            def hooked_switch_bucket(*args: Any, **kwargs: Any) -> Any:
                result = switch_bucket(*args, **kwargs)
                for listener in list(listeners):
                    listener(module)
                return result

            return hooked_switch_bucket

        self._wrap("switch_bucket", make)


def follow_new_buckets(module: Any, bound: Any) -> list[RemovableHandle]:
    """Call ``bound(group)`` with the executor group of the bucket a ``BucketingModule`` switched to.

    A bucket's module is bound at its first batch, and MXNet installs on it only the last monitor given to
    ``install_monitor`` (``BucketingModule._monitor``): every other monitor would miss its batches.
    """
    if not callable(getattr(module, "switch_bucket", None)) or not isinstance(getattr(module, "_buckets", None), dict):
        return []

    def switched(bucketing: Any) -> None:
        group = module_executor_group(getattr(bucketing, "_curr_module", None))
        if group is not None:
            bound(group)

    return [attached(module, _BucketHooks).listen("after_switch_bucket", switched)]
