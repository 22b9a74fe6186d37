"""Monitors' hooks come off cleanly (MXNet's own methods back, exactly) and follow executors MXNet replaces."""

import warnings

import mxnet as mx
import pytest

import mxnet_tb as tb
from mxnet_tb._training.hooks import ExecutorHooks, ModuleHooks, hooks_of

from . import mxnet_models as models
from .readback import accumulate, scalars, tensors

BATCHES = models.SAMPLES // models.BATCH
HOOK_ATTRIBUTES = (ExecutorHooks.ATTRIBUTE, ModuleHooks.ATTRIBUTE, "_mxnet_tb_group_hooks")


def _steps(logdir, tag):
    return [step for step, _ in scalars(logdir, tag)]


def _bound_module(contexts=1):
    mod = models.module(contexts=contexts)
    train, _ = models.iterators()
    mod.bind(train.provide_data, train.provide_label)
    return mod


def _fit_again(mod, train=None, **kwargs):
    """Another ``fit`` on a trained module, as a script that trains in stages does (MXNet warns, and goes on)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Parameters already initialized", UserWarning)
        if train is None:
            models.fit(mod, num_epoch=1, **kwargs)
        else:
            mod.fit(train, num_epoch=1, **kwargs)


def _own_attributes(obj):
    return {name: value for name, value in vars(obj).items() if name in ("forward", "backward", "update", "bind")}


def _no_hooks_left(mod):
    group = mod._exec_group
    for owner in (mod, group, *group.execs):
        assert not any(hasattr(owner, name) for name in HOOK_ATTRIBUTES), owner
    assert "bind_exec" not in vars(group)


def test_uninstall_restores_every_wrapped_method_exactly(logdir):
    mod = _bound_module(contexts=2)
    users_backward = mod._exec_group.execs[1].backward  # a wrapper of the user's own, set before ours

    def wrapped_backward(*args, **kwargs):
        return users_backward(*args, **kwargs)

    mod._exec_group.execs[1].backward = wrapped_backward
    before = [(obj, _own_attributes(obj)) for obj in (mod, mod._exec_group, *mod._exec_group.execs)]
    sw = tb.SummaryWriter(logdir)
    monitors = [tb.GradMonitor(interval=1, writer=sw), tb.ActivationMonitor(interval=1, writer=sw)]
    for monitor in monitors:
        mod.install_monitor(monitor)
    models.fit(mod, num_epoch=1)
    assert "forward" in vars(mod._exec_group.execs[0]) and "forward" in vars(mod)  # hooked while installed

    monitors[0].uninstall()
    assert "backward" in vars(mod._exec_group.execs[0])  # the activation monitor still listens there
    monitors[1].uninstall()
    for obj, attributes in before:
        assert _own_attributes(obj) == attributes, obj  # removed where MXNet's class method was used
    assert mod._exec_group.execs[1].backward is wrapped_backward  # the user's own wrapper, the same object
    assert mod._exec_group.execs[0].forward.__func__ is mx.executor.Executor.forward
    assert mod.update.__func__ is mx.mod.Module.update
    _no_hooks_left(mod)
    assert monitors[0].exes == monitors[1].exes == []

    sw.flush()
    logged = _steps(logdir, "grads/norm/fc1_weight")
    _fit_again(mod)  # uninstalled monitors log nothing more
    sw.close()
    assert _steps(logdir, "grads/norm/fc1_weight") == logged == list(range(BATCHES))


def test_a_monitor_installed_again_after_uninstall_logs_again(logdir):
    mod = _bound_module()
    sw = tb.SummaryWriter(logdir)
    monitor = tb.GradMonitor(interval=1, writer=sw)
    batch_end = tb.scalars(writer=sw)  # counts every batch, so the steps after reinstalling are the true ones
    mod.install_monitor(monitor)
    models.fit(mod, num_epoch=1, batch_end_callback=batch_end)
    monitor.uninstall()
    _fit_again(mod, batch_end_callback=batch_end)  # not logged
    mod.install_monitor(monitor)
    _fit_again(mod, batch_end_callback=batch_end)
    sw.close()
    batches = list(range(BATCHES))
    assert _steps(logdir, "grads/norm/fc1_weight") == batches + [s + 2 * BATCHES for s in batches]


def test_a_hook_handle_removes_its_listener_once():
    mod = _bound_module()
    (exe,) = mod._exec_group.execs
    heard = []
    first = hooks_of(exe).listen("after_backward", heard.append)
    second = hooks_of(exe).listen("after_backward", lambda e: heard.append("second"))
    first.remove()
    first.remove()  # twice is harmless, and leaves the other listener alone
    train, _ = models.iterators()
    mod.init_params()
    mod.forward_backward(next(iter(train)))
    assert heard == ["second"]
    second.remove()
    assert "backward" not in vars(exe) and not hasattr(exe, ExecutorHooks.ATTRIBUTE)


def _batches_of(size, count):
    images, labels = models.digits_like(size * count, seed=3)
    return mx.io.NDArrayIter(images, labels, batch_size=size)


@pytest.mark.parametrize("how", ["reshape", "forward_of_a_new_shape", "force_rebind"])
def test_monitors_keep_logging_when_mxnet_replaces_the_executors(logdir, how):
    mod = _bound_module()
    sw = tb.SummaryWriter(logdir)
    mod.install_monitor(tb.GradMonitor(interval=1, writer=sw))
    mod.install_monitor(tb.ActivationMonitor(interval=1, pattern="fc1_output", writer=sw))
    batch_end = tb.scalars(writer=sw)
    models.fit(mod, num_epoch=1, batch_end_callback=batch_end)  # steps 0-5, batches of 16
    old_exe = mod._exec_group.execs[0]
    small = _batches_of(8, 4)
    if how == "reshape":
        mod.reshape(small.provide_data, small.provide_label)
    elif how == "force_rebind":
        mod.bind(small.provide_data, small.provide_label, force_rebind=True)
    _fit_again(mod, small, batch_end_callback=batch_end)  # steps 6-9, batches of 8
    sw.close()
    assert mod._exec_group.execs[0] is not old_exe  # MXNet did replace the executor
    expected = list(range(BATCHES + 4))
    assert _steps(logdir, "grads/norm/fc1_weight") == _steps(logdir, "train/accuracy") == expected
    assert _steps(logdir, "activations/mean/fc1_output") == expected
    # the new executor's outputs, once each: 8 samples x 2 classes after the change, 16 x 2 before
    sizes = [int(buckets[:, 2].sum()) for _, buckets in tensors(logdir, "activations/hist/fc1_output")]
    assert sizes == [32] * BATCHES + [16] * 4
    assert "grads/norm/conv0_weight" in accumulate(logdir).Tags()["tensors"]
