"""What the doctor tells the user: one line per alarm (the warning, the error) and the markdown report.

Example::

    >>> alarm = Alarm("exploding_tensors", 40, [("grads/fc1_weight", 2.1e6)], "norm grew >= 100x")
    >>> message(alarm).split(":")[0]
    'exploding_tensors at step 40'
"""

from __future__ import annotations

from collections.abc import Mapping

from .rules import RULES, Alarm

__all__ = ["FIXES", "message", "report_markdown"]

FIXES = {
    "vanishing_gradients": "gradients barely reach these layers: use ReLU-family activations in deep stacks, a "
    "variance-preserving initializer (mx.init.Xavier(magnitude=2), mx.init.MSRAPrelu()), BatchNorm or residual "
    "connections",
    "exploding_tensors": "lower the learning rate, clip gradients (optimizer_params={'clip_gradient': 5}) and "
    "check the initializer's scale",
    "update_ratio": "updates are far from ~1e-3 of the weights: raise the learning rate if they are too small, "
    "lower it if too large",
    "dead_relu": "these ReLUs output 0 for every sample: check the bias initialisation, lower the learning rate, "
    "or use LeakyReLU",
    "saturated_activation": "sigmoid/tanh inputs are too large: normalise the inputs, add BatchNorm, use a "
    "smaller initializer or ReLU",
    "nonfinite_tensors": "NaN/Inf values: lower the learning rate, clip gradients, guard the inputs of log, "
    "sqrt and divisions",
    "loss_not_decreasing": "check the learning rate (not 0, not too small), that labels match the outputs and "
    "that the optimizer updates the parameters",
    "nonfinite_loss": "the loss is NaN/Inf: lower the learning rate, clip gradients, guard log/sqrt/division "
    "inputs of the loss",
}


def _tensors(alarm: Alarm, limit: int = 3) -> str:
    shown = ", ".join(f"{name} = {value:.3g}" for name, value in alarm.tensors[:limit])
    more = len(alarm.tensors) - limit
    return shown + (f" (and {more} more)" if more > 0 else "")


def message(alarm: Alarm, origin: str | None = None) -> str:
    """The warning (and ``on_alert='raise'`` error) text of one alarm: rule, step, tensors and values, the fix."""
    detail = f" ({alarm.detail})" if alarm.detail else ""
    where = f"; {origin}" if origin else ""
    return f"{alarm.rule} at step {alarm.step}: {_tensors(alarm)}{detail}{where}. Likely fix: {FIXES[alarm.rule]}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report_markdown(fired: Mapping[str, Alarm], explained: Mapping[str, Alarm], origin: str | None = None) -> str:
    """The ``doctor`` TEXT report: one row per rule that fired (its first alarm) or that another rule explained,
    then the likely fix of each rule in alarm (and where the first NaN came from)."""
    rows, fixes = [], []
    for rule in RULES:
        first, other = fired.get(rule), explained.get(rule)
        if first is None and other is None:
            continue
        if first is not None:
            status, shown = "**alarm**", first
            fixes.append(f"- **{rule}**: {FIXES[rule]}")
        else:
            assert other is not None
            status, shown = f"explained by {other.explained_by}", other
        value = _tensors(shown) + (f" ({shown.detail})" if shown.detail else "")
        rows.append(f"| {rule} | {status} | {shown.step} | {_cell(value)} |")
    if not rows:
        return "No rule has fired: no vanishing or exploding tensor, dead or saturated unit, NaN, or stalled loss."
    header = "| rule | status | first step | tensors |\n|---|---|---|---|"
    text = header + "\n" + "\n".join(rows) + "\n\nLikely fixes:\n\n" + "\n".join(fixes)
    if origin and ("nonfinite_tensors" in fired or "nonfinite_loss" in fired):
        text += f"\n\nWhere the first NaN/Inf came from: {origin}"
    return text
