"""MXNet ``Monitor`` subclasses that log to TensorBoard: gradients, weights, activations.

Importing this package imports MXNet; ``mxnet_tb`` itself loads it only when a monitor is first used.
Their common base (``_base.TensorMonitor``) is internal: its hooks follow MXNet's executors, which is still
changing (reshape, SequentialModule, Gluon), so it is not offered for subclassing. Every monitor has
``uninstall()``.
"""

from .activation import ActivationMonitor
from .grad import GradMonitor
from .group import MonitorGroup
from .stock import Monitor
from .weight import WeightMonitor

__all__ = ["ActivationMonitor", "GradMonitor", "Monitor", "MonitorGroup", "WeightMonitor"]
