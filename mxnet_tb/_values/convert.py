"""The one place where user data becomes NumPy arrays and Python numbers.

Accepts MXNet NDArrays (any context and dtype, sparse included; ``mxnet.numpy`` arrays too), NumPy arrays
and scalars, Python numbers and nested lists. MXNet is never imported here: if the caller's program has not
imported it, the value cannot be an NDArray.

Example::

    >>> to_float(np.float16(0.5))
    0.5
    >>> to_numpy([[1, 2], [3, 4]]).shape
    (2, 2)
"""

from __future__ import annotations

import math
import numbers
import re
import sys
from typing import Any

import numpy as np

__all__ = ["to_count", "to_float", "to_labels", "to_numpy", "to_pattern", "to_step", "to_walltime"]

MAX_STEP = 2**63 - 1


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _ndarray_to_numpy(value: Any) -> np.ndarray | None:
    mx = sys.modules.get("mxnet")
    if mx is not None and isinstance(value, mx.nd.NDArray):
        return value.asnumpy()  # copies from any context (GPU included) to host memory
    return None


def to_numpy(value: Any, *, name: str = "values") -> np.ndarray:
    """``value`` as a NumPy array of a real numeric or bool dtype; TypeError for anything else."""
    array = _ndarray_to_numpy(value)
    if array is None:
        if isinstance(value, np.ndarray):
            array = value
        elif isinstance(value, (numbers.Number, np.generic, list, tuple)):
            try:
                array = np.asarray(value)
            except ValueError as exc:  # ragged nested lists
                raise TypeError(f"{name} must be array-like with a regular shape: {exc}") from None
        else:
            raise TypeError(
                f"{name} must be an MXNet NDArray, a NumPy array, a number or a list of numbers; "
                f"got {type(value).__name__}: {_describe(value)}"
            )
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers or bools; got dtype {array.dtype} (shape {array.shape})")
    return array


def to_labels(value: Any, *, name: str = "labels") -> list[Any]:
    """``value`` (a list or tuple, or an NDArray or NumPy array of any dtype) as a Python list (nested if 2-D)."""
    array = _ndarray_to_numpy(value)
    if array is not None:
        return array.tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [v.tolist() if isinstance(v, np.ndarray) else v for v in value]
    raise TypeError(
        f"{name} must be a list, an MXNet NDArray or a NumPy array; got {type(value).__name__}: {_describe(value)}"
    )


def to_float(value: Any, *, name: str = "value") -> float:
    """``value`` (a number, or an array or NDArray of exactly one element) as a Python float."""
    kind = type(value)
    if kind is float:
        return value
    if kind is int or kind is bool:
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"{name} is too large for a float: {_describe(value)}") from None
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return float(value)
    if isinstance(value, np.generic) or not isinstance(value, numbers.Number):
        array = to_numpy(value, name=name)
        if array.size != 1:
            raise ValueError(f"{name} must be a single number; got an array of shape {array.shape}")
        return float(array.reshape(-1)[0])
    if isinstance(value, numbers.Real):  # fractions, decimals, other registered reals
        return float(value)
    raise TypeError(f"{name} must be a real number; got {type(value).__name__}: {_describe(value)}")


def to_step(value: Any, *, name: str = "global_step") -> int:
    """A step: a whole number from 0 to 2**63 - 1 (integral floats such as 3.0 are accepted)."""
    if type(value) is int:
        step = value
    elif isinstance(value, bool) or value is None:
        raise TypeError(f"{name} must be an int; got {type(value).__name__}: {value!r}")
    elif isinstance(value, numbers.Integral):
        step = int(value)
    else:
        number = to_float(value, name=name)
        if not math.isfinite(number) or number != int(number):
            raise ValueError(f"{name} must be a whole number; got {_describe(value)}")
        step = int(number)
    if not 0 <= step <= MAX_STEP:
        raise ValueError(f"{name} must be between 0 and 2**63 - 1; got {step}")
    return step


def to_walltime(value: Any, *, name: str = "walltime") -> float:
    """A wall time in seconds since the epoch: a finite, non-negative number."""
    seconds = to_float(value, name=name)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number of seconds since the epoch; got {value!r}")
    return seconds


def to_count(value: Any, *, name: str) -> int:
    """A whole number >= 1 (an interval, a frequency); bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1; got {value!r}")
    return int(value)


def to_pattern(value: Any, *, name: str = "pattern") -> re.Pattern[str]:
    """``value`` compiled as a regular expression; TypeError for a non-str, ValueError naming a bad one."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a regular expression string; got {value!r:.80}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"{name} {value!r} is not a valid regular expression: {exc}") from None
