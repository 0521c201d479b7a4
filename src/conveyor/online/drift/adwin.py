"""ADWIN (Bifet & Gavaldà, 2007): an adaptive window that drops its older part when the means
of the two parts differ by more than the bound ``ε_cut`` allows at confidence ``delta``.

The window is a row of buckets, one per update — a mini-batch's count, sum and sum of squares
(River's ADWIN compresses its window into exponential buckets; here a bucket is what one
update brought) — holding the last ``max_window`` values. Every ``clock`` updates each split
between buckets is tested at once with cumulative sums, vectorised: the means of both parts
and the window's variance are exact, a cut falls on a batch boundary, and a check costs one
pass over the buckets (32 for the default 8,192 values in mini-batches of 256), not over
every value. Fed one value at a time it is ADWIN over every split point. Settings: ``delta``
0.002 (River's default), ``clock`` 1 mini-batch (River checks every 32 single events),
``max_window`` 8192 values.
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
        self.reset()

    def reset(self) -> None:
        self._counts = np.zeros(0)  # per bucket, oldest first
        self._sums = np.zeros(0)
        self._squares = np.zeros(0)
        self._ticks = 0

    @property
    def width(self) -> int:
        return int(self._counts.sum())

    def update(self, x: float) -> bool:
        return self.update_many(np.asarray([x], dtype=np.float64))

    def update_many(self, values: np.ndarray) -> bool:
        values = np.asarray(values, dtype=np.float64)
        if not len(values):
            return False
        self._counts = np.append(self._counts, float(len(values)))
        self._sums = np.append(self._sums, float(values.sum()))
        self._squares = np.append(self._squares, float(np.dot(values, values)))
        total = self._counts.sum()
        if total > self.max_window and len(self._counts) > 1:  # the oldest buckets go, the newest stays
            covered = np.cumsum(self._counts[::-1])[::-1]  # values from each bucket to the newest
            first_kept = int(np.searchsorted(-covered, -self.max_window, side="left"))
            self._drop(min(max(1, first_kept), len(self._counts) - 1))
        self._ticks += 1
        if self._ticks % self.clock or self._counts.sum() < 2 * self.min_side:
            return False
        cut = self._cut()
        if cut is None:
            return False
        self._drop(cut)
        return True

    def _drop(self, buckets: int) -> None:
        self._counts, self._sums, self._squares = self._counts[buckets:], self._sums[buckets:], self._squares[buckets:]

    def _cut(self) -> int | None:
        """How many of the oldest buckets to drop (None: the window is one concept)."""
        counts, sums = np.cumsum(self._counts), np.cumsum(self._sums)
        n, total = float(counts[-1]), float(sums[-1])
        n0, s0 = counts[:-1], sums[:-1]  # the older part ends after each bucket but the last
        n1 = n - n0
        keep = (n0 >= self.min_side) & (n1 >= self.min_side)
        if not keep.any():
            return None
        at = np.flatnonzero(keep)
        n0, n1, s0 = n0[at], n1[at], s0[at]
        mean0 = s0 / n0
        mean1 = (total - s0) / n1
        variance = max(0.0, float(self._squares.sum()) / n - (total / n) ** 2)
        m = 1.0 / (1.0 / n0 + 1.0 / n1)
        delta_prime = self.delta / math.log(n)
        log_term = math.log(2.0 / delta_prime)
        epsilon = np.sqrt(2.0 / m * variance * log_term) + 2.0 / (3.0 * m) * log_term
        differs = np.abs(mean0 - mean1) > epsilon
        if not differs.any():
            return None
        return int(at[np.flatnonzero(differs)[-1]]) + 1  # the latest split that differs: drop all before
