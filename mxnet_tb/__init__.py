"""mxnet_tb: TensorBoard for Apache MXNet.

Module API (legacy ``mx.mod.Module`` scripts)::

    >>> import mxnet_tb as tb
    >>> mod.install_monitor(tb.GradMonitor())                                        # doctest: +SKIP
    >>> mod.fit(train_iter, eval_data=val_iter, num_epoch=10, batch_end_callback=tb.scalars(),
    ...         eval_end_callback=tb.validation(), epoch_end_callback=tb.params())   # doctest: +SKIP

Anywhere (Gluon, NumPy)::

    >>> from mxnet_tb import SummaryWriter
    >>> with SummaryWriter(logdir="./logs") as sw:                                   # doctest: +SKIP
    ...     sw.add_scalar("loss", 0.5, global_step=0)

Alerts when training goes wrong (vanishing/exploding gradients, dead ReLUs, NaN and the op that made it)::

    >>> mod.fit(train_iter, num_epoch=10, eval_metric="ce", monitor=tb.Doctor(),
    ...         batch_end_callback=tb.scalars())                                 # doctest: +SKIP

No edits at all: ``tb.autolog()`` (or ``mxnet-tb run -- train.py ARGS``) adds all of the above to every ``fit``.

Gluon (``tb.gluon.watch(net, trainer)``, ``tb.gluon.EstimatorHandler()``)::

    >>> handle = tb.gluon.watch(net, trainer, every=100)                           # doctest: +SKIP

The monitors and ``tb.gluon`` import MXNet when first used; ``import mxnet_tb`` alone does not.
"""

from typing import Any

from ._training.default import default_writer, init
from ._version import __version__
from .autolog import autolog
from .callbacks import params, scalars, validation
from .errors import (
    DoctorAlert,
    EncodeError,
    EncodeWarning,
    EventWriteError,
    EventWriteWarning,
    NonFiniteError,
    ProfilerUnavailableError,
    RankUnknownError,
    StepOrderWarning,
    WriterClosedError,
)
from .model_cards import model_card
from .profiling import profile
from .summaries.image import make_image_grid
from .writer import SummaryWriter

_MONITORS = ("ActivationMonitor", "GradMonitor", "Monitor", "MonitorGroup", "WeightMonitor")

__all__ = [
    "ActivationMonitor",
    "Doctor",
    "DoctorAlert",
    "EncodeError",
    "EncodeWarning",
    "EventWriteError",
    "EventWriteWarning",
    "GradMonitor",
    "Monitor",
    "MonitorGroup",
    "NonFiniteError",
    "ProfilerUnavailableError",
    "RankUnknownError",
    "StepOrderWarning",
    "SummaryWriter",
    "WeightMonitor",
    "WriterClosedError",
    "__version__",
    "autolog",
    "default_writer",
    "gluon",
    "init",
    "make_image_grid",
    "model_card",
    "params",
    "profile",
    "scalars",
    "validation",
]


def __getattr__(name: str) -> Any:
    if name in _MONITORS:  # subclasses of mx.monitor.Monitor: importing them imports MXNet
        from . import monitors

        return getattr(monitors, name)
    if name == "Doctor":  # a monitor too: importing it imports MXNet
        from .doctor import Doctor

        return Doctor
    if name == "gluon":  # tb.gluon.watch / EstimatorHandler: importing it imports MXNet
        import importlib

        return importlib.import_module(".gluon", __name__)
    raise AttributeError(f"module 'mxnet_tb' has no attribute {name!r}")
