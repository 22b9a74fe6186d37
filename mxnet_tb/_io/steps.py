"""The step policy: which step an event is logged at, per (run, tag), and the warning when steps go back.

Without ``global_step`` a tag's next step is its last plus one (0 first). A step not above the tag's last one
warns once per (run, tag) (``StepOrderWarning``): TensorBoard drops the earlier points at steps >= it. The
caller takes a step with ``take`` and records it with ``record`` only once its event is queued, so a failed
call uses no step. The writer's lock guards both.

Example::

    >>> steps = StepPolicy()
    >>> steps.take("", "loss", None)
    0
    >>> steps.record("", ("loss",), 0); steps.take("", "loss", None)
    1
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._values.convert import MAX_STEP, to_step
from ..errors import StepOrderWarning, warn_user

__all__ = ["StepPolicy"]


class StepPolicy:
    """Last steps per (run, tag). ``warn_backwards=False, keep_highest=True`` suits embeddings (re-logging replaces)."""

    def __init__(self, *, warn_backwards: bool = True, keep_highest: bool = False, first: int = 0) -> None:
        self.last: dict[tuple[str, str], int] = {}
        self._first = first  # a tag's first automatic step: a resumed run's purge_step continues there
        self._warned: set[tuple[str, str]] = set()
        self._warn_backwards = warn_backwards
        self._keep_highest = keep_highest

    def take(self, run: str, tag: str, global_step: Any) -> int:
        """The step to log ``tag`` at in ``run``; ValueError/TypeError for a bad ``global_step``."""
        key = (run, tag)
        last = self.last.get(key)
        if global_step is None:
            return self._first if last is None else min(last + 1, MAX_STEP)
        step = global_step if type(global_step) is int and 0 <= global_step <= MAX_STEP else to_step(global_step)
        if self._warn_backwards and last is not None and step <= last and key not in self._warned:
            self._warned.add(key)
            warn_user(
                f"tag {tag!r}{' in run ' + repr(run) if run else ''} logged at step {step} after step {last}; "
                f"TensorBoard drops earlier points at steps >= {step} when it reads this run",
                StepOrderWarning,
            )
        return step

    def record_keys(self, keys: tuple[tuple[str, str], ...], step: int) -> None:
        """``record`` for (run, tag) ``keys`` worked out once by the caller (a monitor's every logged batch)."""
        if self._keep_highest:
            for run, tag in keys:
                self.record(run, (tag,), step)
        else:
            self.last.update(dict.fromkeys(keys, step))

    def record(self, run: str, tags: Iterable[str], step: int) -> None:
        """``tags`` of ``run`` were queued at ``step``."""
        for tag in tags:
            key = (run, tag)
            if self._keep_highest:
                self.last[key] = max(step, self.last.get(key, -1))
            else:
                self.last[key] = step
