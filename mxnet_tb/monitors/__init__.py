"""MXNet ``Monitor`` subclasses that log to TensorBoard: gradients, weights, activations.

Importing this package imports MXNet; ``mxnet_tb`` itself loads it only when a monitor is first used.
"""

from ._base import TensorMonitor
from .activation import ActivationMonitor
from .grad import GradMonitor
from .group import MonitorGroup
from .stock import Monitor
from .weight import WeightMonitor

__all__ = ["ActivationMonitor", "GradMonitor", "Monitor", "MonitorGroup", "TensorMonitor", "WeightMonitor"]
