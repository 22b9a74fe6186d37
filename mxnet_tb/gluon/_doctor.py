"""``watch(doctor=...)``: the doctor's judge for a Gluon loop, its inputs, and the NaN-origin replay.

Example::

    >>> judge = judge_for(True, lambda: sw)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._training.stats import all_finite

__all__ = ["columns", "judge_for", "nan_origin"]


def judge_for(doctor: Any, writer: Callable[[], Any], every: int = 1) -> Any:
    """The doctor's judge writing to the watch's writer: None for ``doctor=None``/``False``."""
    if doctor is None or doctor is False:
        return None
    from .._doctor.judge import Judge
    from .._doctor.thresholds import Thresholds
    from ..doctor import Doctor

    if doctor is True:
        return Judge(Thresholds(), "log", writer, every)
    if isinstance(doctor, Doctor):
        return Judge(doctor.thresholds, doctor.on_alert, writer, every)
    raise TypeError(f"doctor must be True, False, None or a tb.Doctor; got {type(doctor).__name__}: {doctor!r:.80}")


def columns(summaries: dict[str, Any], stats: Sequence[str]) -> dict[str, np.ndarray]:
    """``{stat: one value per tensor}`` of the measured ``summaries``, for the doctor's rules."""
    return {
        stat: np.array([summary.stats.get(stat, np.nan) for summary in summaries.values()])
        for stat in stats
        if any(stat in summary.stats for summary in summaries.values())
    }


def nan_origin(net: Any, inputs: tuple[Any, ...], step: int, grads: dict[str, Any], captured: dict[str, Any]) -> Any:
    """None while the batch's gradients and captured outputs are finite; else where the NaN/Inf came from,
    found by replaying the batch's forward pass operator by operator (``_training/nan_origin.py``)."""
    bad = any(summary.stats.get("nonfinite") for summary in grads.values())
    if not bad and all_finite([array for outputs in captured.values() for array in outputs.arrays]):
        return None
    from .._training.nan_origin import find_nan_origin, gluon_symbol, origin_report

    def search() -> Any:
        traced = gluon_symbol(net, *inputs)
        if traced is None:
            return "the net is not a HybridBlock, so its operators cannot be replayed"
        return find_nan_origin(*traced, is_train=True)

    return origin_report(step, search)
