"""A synthetic labelled stream with a concept drift half-way, for online learning: the tests,
the benchmark and anyone trying `conveyor learn` on a file.

Four numeric features on different scales (a price, a count, two ratios) and two categorical
ones; the label is 1 where a linear score of them (plus a category effect) is positive, with
``noise`` of the labels flipped at random. At ``drift_at`` the concept changes: most weights
change sign and the category effects move, so a model frozen before the drift is mostly
wrong after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

NUMERIC = ["price", "visits", "ratio_a", "ratio_b"]
CATEGORICAL = ["plan", "region"]
TARGET = "label"
PLANS = ["basic", "standard", "premium"]
REGIONS = ["north", "south", "east", "west"]
_SCALES = np.array([120.0, 6.0, 0.2, 0.05])
_OFFSETS = np.array([500.0, 20.0, 0.5, 0.1])
_BEFORE = (np.array([1.6, -1.1, 0.9, 0.7]), np.array([-0.6, 0.1, 0.7]), np.array([0.4, -0.4, 0.2, -0.2]))
_AFTER = (np.array([-1.5, 1.2, -0.9, 0.6]), np.array([0.7, -0.2, -0.5]), np.array([-0.3, 0.4, -0.3, 0.2]))


@dataclass(frozen=True)
class DriftStream:
    """Columns of ``n`` events: ``X`` (numeric as float arrays, categorical as lists), ``y``."""

    X: dict[str, Any]
    y: np.ndarray
    drift_at: int

    def __len__(self) -> int:
        return len(self.y)

    def rows(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Events as JSON-ready dicts, each with its ``event_id`` and ``label``."""
        stop = len(self) if stop is None else stop
        names = [*NUMERIC, *CATEGORICAL]
        columns = [self.X[n][start:stop] for n in names]
        numeric = set(NUMERIC)
        out = []
        for offset, values in enumerate(zip(*columns, strict=True)):
            row: dict[str, Any] = {n: float(v) if n in numeric else v for n, v in zip(names, values, strict=True)}
            row["event_id"] = f"e{start + offset}"
            row[TARGET] = int(self.y[start + offset])
            out.append(row)
        return out


def drift_stream(n: int = 200_000, drift_at: int | None = None, noise: float = 0.05, seed: int = 0) -> DriftStream:
    rng = np.random.default_rng(seed)
    drift_at = n // 2 if drift_at is None else drift_at
    z = rng.standard_normal((n, len(NUMERIC)))
    plan = rng.integers(0, len(PLANS), n)
    region = rng.integers(0, len(REGIONS), n)
    score = np.empty(n)
    for (start, stop), (weights, plan_effect, region_effect) in (((0, drift_at), _BEFORE), ((drift_at, n), _AFTER)):
        part = slice(start, stop)
        score[part] = z[part] @ weights + plan_effect[plan[part]] + region_effect[region[part]]
    y = (score > 0).astype(np.int64)
    flip = rng.random(n) < noise
    y[flip] = 1 - y[flip]
    values = z * _SCALES + _OFFSETS
    X: dict[str, Any] = {name: values[:, j].copy() for j, name in enumerate(NUMERIC)}
    X["plan"] = [PLANS[i] for i in plan.tolist()]
    X["region"] = [REGIONS[i] for i in region.tolist()]
    return DriftStream(X, y, drift_at)
