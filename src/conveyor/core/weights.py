"""Traffic weights are relative: the router draws in proportion to them. Weights that do not
sum to 100 are rescaled to shares; :func:`rescaled_notice` says so, in the words the config
loader and the admin route both use."""

from __future__ import annotations

import math
from collections.abc import Mapping

TOTAL = 100.0


def shares(weights: Mapping[str, float]) -> dict[str, float]:
    """Each deployment's share of the traffic, in percent."""
    total = sum(weights.values())
    return {name: (weight / total * TOTAL if total > 0 else 0.0) for name, weight in weights.items()}


def rescaled_notice(weights: Mapping[str, float], where: str = "traffic weights") -> str | None:
    """None when the weights sum to 100; otherwise the notice that they were rescaled."""
    total = sum(weights.values())
    if not weights or total <= 0 or math.isclose(total, TOTAL, rel_tol=0, abs_tol=1e-9):
        return None
    split = ", ".join(f"{name} {share:.4g}%" for name, share in shares(weights).items())
    return f"{where} sum to {total:g}, not 100: rescaled to {split}"
