"""The doctor's thresholds: every number and pattern its rules use, documented, validated, changeable by name.

Example::

    >>> Thresholds(vanishing_rms=1e-8).exploding_growth
    100.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .._values.convert import to_pattern

__all__ = ["Thresholds"]

_DEFAULT_LOSS_PATTERN = r"(train/)?([^/]*loss|([^/]*[_-])?(cross-entropy|ce|nll|mse|mae|rmse|perplexity))"


@dataclass(frozen=True)
class Thresholds:
    """Every threshold the rules use; pass changed ones to ``tb.Doctor(...)`` by name.

    - ``vanishing_rms``: a gradient whose root-mean-square value (``norm / sqrt(size)``, as ``GradMonitor``
      logs it: MXNet's sum over the batch) is below this, or below ``vanishing_ratio`` times the largest weight
      gradient RMS of the same step (the first layers' gradients orders of magnitude below the last ones'), and
      not exactly zero, vanishes.
    - ``exploding_growth``: a gradient or weight whose norm reaches this many times its first logged norm that
      is not zero (for a gradient: nor vanishing) explodes.
    - ``update_ratio_band``: ``||Δw|| / ||w||`` of one update outside ``(low, high)`` for ``update_ratio_patience``
      logged batches in a row is out of band (healthy training is near 1e-3). A ratio of exactly 0 (a frozen
      parameter, a learning rate of 0) is not judged.
    - ``weight_pattern``: the parameters these three rules judge (regular expression, ``re.match``): weights,
      not biases (zero at the start, so no growth or ratio means anything) nor BatchNorm's.
    - ``dead_fraction``: a ReLU output whose fraction of zeros is at least this is dead.
    - ``saturated_fraction``: a sigmoid (tanh) output with at least this fraction of values within 0.03 of 0
      or 1 (of -1 or 1) for ``saturation_patience`` judged steps in a row is saturated (``ActivationMonitor``'s
      ``sigmoid_saturation``, ``tanh_saturation``); the wait lets weights that exploded in the first updates
      (which saturate the units a step before their norms pass ``exploding_growth``) explain it.
    - ``loss_window``: the loss is not decreasing when its mean over the last ``loss_window`` steps is not below
      ``1 - loss_min_decrease`` times its mean over the ``loss_window`` steps before, while it is still above
      ``loss_converged`` times its first logged value (a loss that fell that far has converged, not stalled).
    - ``loss_pattern``: the logged scalar tags that are the training loss (``re.fullmatch``; by default
      ``tb.scalars()``'s ``train/cross-entropy``, ``train/loss``, ``loss``, ``train/softmaxcrossentropyloss``...).

    Example::

        >>> Thresholds(vanishing_rms=1e-8).exploding_growth
        100.0
    """

    vanishing_rms: float = 1e-7
    vanishing_ratio: float = 1e-4
    exploding_growth: float = 100.0
    update_ratio_band: tuple[float, float] = (1e-6, 0.5)
    update_ratio_patience: int = 3
    weight_pattern: str = r".*weight$"
    dead_fraction: float = 0.99
    saturated_fraction: float = 0.5
    saturation_patience: int = 2
    loss_window: int = 20
    loss_min_decrease: float = 0.01
    loss_converged: float = 0.1
    loss_pattern: str = _DEFAULT_LOSS_PATTERN

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name in ("weight_pattern", "loss_pattern"):
                to_pattern(value, name=spec.name)
            elif spec.name == "update_ratio_band":
                if not (isinstance(value, tuple) and len(value) == 2 and all(_positive(v) for v in value)):
                    raise TypeError(f"update_ratio_band must be a (low, high) tuple of positive numbers; got {value!r}")
                if value[0] >= value[1]:
                    raise ValueError(f"update_ratio_band must have low < high; got {value!r}")
            elif spec.name in ("update_ratio_patience", "saturation_patience", "loss_window"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(f"{spec.name} must be an int >= 1; got {value!r}")
            elif not _positive(value):
                raise ValueError(f"{spec.name} must be a positive finite number; got {value!r}")
        for name in ("vanishing_ratio", "dead_fraction", "saturated_fraction", "loss_min_decrease", "loss_converged"):
            if getattr(self, name) > 1:
                raise ValueError(f"{name} is a fraction and must be <= 1; got {getattr(self, name)!r}")


def _positive(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(float(value))
        and float(value) > 0
    )
