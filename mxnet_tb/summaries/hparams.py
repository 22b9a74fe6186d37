"""Hyperparameter summaries for the hparams plugin: a session-start and a session-end value.

TensorBoard builds the HPARAMS table from every run's session-start info (one row per run; its session-end
value, written when the run ends, gives the status) and takes each
run's scalar tags as its metrics. No ``experiment`` summary is written: TensorBoard would take the first one it
finds as the whole table's definition and hide the hyperparameters of every other run.

Example::

    >>> hparams_values({"lr": 0.1, "optimizer": "sgd"}, start_time=0.0).tag
    '_hparams_/session_start_info'
    >>> session_end_value().tag
    '_hparams_/session_end_info'
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from google.protobuf import struct_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

from .._values.convert import to_float
from .._values.names import check_text

__all__ = ["check_hparams", "hparams_values", "session_end_value"]


def _hparam(name: str, value: Any) -> struct_pb2.Value:
    if isinstance(value, (bool, np.bool_)):
        return struct_pb2.Value(bool_value=bool(value))
    if isinstance(value, str):
        return struct_pb2.Value(string_value=check_text(value, f"hparam {name!r}"))
    if isinstance(value, (numbers.Real, np.generic)) or hasattr(value, "shape"):
        number = to_float(value, name=f"hparam {name!r}")
        if not math.isfinite(number):
            raise ValueError(f"hparam {name!r} must be finite; got {value!r}")
        return struct_pb2.Value(number_value=number)
    raise TypeError(f"hparam {name!r} must be a bool, a number or a str; got {type(value).__name__}: {value!r:.80}")


def check_hparams(hparam_dict: Any) -> dict[str, struct_pb2.Value]:
    """``hparam_dict`` as protobuf values; TypeError/ValueError naming the bad entry."""
    if not isinstance(hparam_dict, Mapping) or not hparam_dict:
        raise TypeError(f"hparam_dict must be a non-empty dict of name -> value; got {hparam_dict!r:.80}")
    out = {}
    for name, value in hparam_dict.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"hparam names must be non-empty str; got {name!r:.80}")
        out[check_text(name, "hparam name")] = _hparam(name, value)
    return out


def _value(tag: str, data: plugin_data_pb2.HParamsPluginData) -> summary_pb2.Summary.Value:
    return summary_pb2.Summary.Value(
        tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR
    )


def hparams_values(hparam_dict: Any, *, start_time: float, group_name: str = "") -> summary_pb2.Summary.Value:
    """The session-start value: the hyperparameters (the session's end is ``session_end_value``)."""
    hparams = check_hparams(hparam_dict)
    start = plugin_data_pb2.SessionStartInfo(group_name=group_name, start_time_secs=start_time)
    for name, value in hparams.items():
        start.hparams[name].CopyFrom(value)
    return _value(metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=start))


def session_end_value(status: int = api_pb2.STATUS_SUCCESS, end_time: float | None = None) -> summary_pb2.Summary.Value:
    """The session-end value: ``status`` (``api_pb2.STATUS_SUCCESS``, ``STATUS_FAILURE``) and the end time."""
    end = plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=time.time() if end_time is None else end_time)
    return _value(metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end))
