"""ADWIN (Bifet & Gavaldà, 2007): an adaptive window that drops its older part when the means
of the two parts differ by more than the bound ``ε_cut`` allows at confidence ``delta``.

Exact form over the window (no bucket compression): every ``clock`` updates each split point
is tested at once with cumulative sums, vectorised; the window holds the last ``max_window``
values. It reads a mini-batch value by value (every event's prequential error) and checks
once per batch: settings ``delta`` 0.002 (River's default), ``clock`` 1 mini-batch (River
checks every 32 single events), ``max_window`` 8192 values.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from conveyor.online.drift.base import DriftDetector


class ADWIN(DriftDetector):
    name = "adwin"
    per_value: ClassVar[bool] = True

    def __init__(self, delta: float = 0.002, clock: int = 1, max_window: int = 8192, min_side: int = 5) -> None:
        self.delta = delta
        self.clock = clock
        self.min_side = min_side
        self.max_window = max_window
        self._window = np.zeros(0)
        self._ticks = 0

    def reset(self) -> None:
        self._window = np.zeros(0)
        self._ticks = 0

    @property
    def width(self) -> int:
        return len(self._window)

    def update(self, x: float) -> bool:
        return self.update_many(np.asarray([x], dtype=np.float64))

    def update_many(self, values: np.ndarray) -> bool:
        self._window = np.concatenate([self._window, np.asarray(values, dtype=np.float64)])[-self.max_window:]
        self._ticks += 1
        if self._ticks % self.clock or len(self._window) < 2 * self.min_side:
            return False
        cut = self._cut()
        if cut is None:
            return False
        self._window = self._window[cut:]
        return True

    def _cut(self) -> int | None:
        """The size of the oldest part to drop (None: the window is one concept)."""
        values = self._window
        n = len(values)
        sums = np.cumsum(values)
        n0 = np.arange(1, n)
        n1 = n - n0
        keep = (n0 >= self.min_side) & (n1 >= self.min_side)
        n0, n1 = n0[keep], n1[keep]
        mean0 = sums[n0 - 1] / n0
        mean1 = (sums[-1] - sums[n0 - 1]) / n1
        variance = float(values.var())
        m = 1.0 / (1.0 / n0 + 1.0 / n1)
        delta_prime = self.delta / math.log(n)
        log_term = math.log(2.0 / delta_prime)
        epsilon = np.sqrt(2.0 / m * variance * log_term) + 2.0 / (3.0 * m) * log_term
        differs = np.abs(mean0 - mean1) > epsilon
        if not differs.any():
            return None
        return int(n0[np.flatnonzero(differs)[-1]])  # the latest split that differs: drop all before
