"""Which operator outputs are ReLU, sigmoid or tanh outputs, and the statistic that judges each kind.

A ReLU output is logged with its ``zero_fraction`` (dead units), a sigmoid or tanh output with its saturation
(``sigmoid_saturation``, ``tanh_saturation``): for the activation monitors and the doctor.

Example::

    >>> activation_roles(mx.sym.Activation(mx.sym.var("x"), act_type="tanh", name="t"))   # doctest: +SKIP
    {'t_output': 'tanh'}
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ROLES", "ROLE_STATS", "activation_roles", "role_of_act_type", "role_stats"]

ROLES = ("relu", "sigmoid", "tanh")
ROLE_STATS = {"relu": "zero_fraction", "sigmoid": "sigmoid_saturation", "tanh": "tanh_saturation"}


def role_of_act_type(act_type: Any) -> str | None:
    """``'relu'``, ``'sigmoid'`` or ``'tanh'`` for those activation types (a Gluon block's, an op's), else None."""
    return act_type if act_type in ROLES else None


def role_stats(role: str | None, logged: tuple[str, ...]) -> tuple[str, ...]:
    """The statistic ``role`` adds to an output's logged ``logged`` ones (none if it has no role, or logs it)."""
    stat = ROLE_STATS.get(role or "")
    return (stat,) if stat is not None and stat not in logged else ()


def activation_roles(symbol: Any) -> dict[str, str]:
    """``{output name: role}`` for the outputs of ``Activation(act_type=...)`` and the ``relu``/``sigmoid``/
    ``tanh`` operators of ``symbol``."""
    roles = {}
    for node in json.loads(symbol.tojson())["nodes"]:
        attrs = node.get("attrs", {})
        role = role_of_act_type(attrs.get("act_type") if node["op"] == "Activation" else node["op"])
        if role is not None:
            roles[f"{node['name']}_output"] = role
    return roles
