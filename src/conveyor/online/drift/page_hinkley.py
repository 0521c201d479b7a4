"""Page-Hinkley: the cumulative deviation of the values from their running mean, less a
``tolerance`` per value, compared with its running minimum (an increase) and maximum (a
decrease); a gap past ``threshold`` is a drift. On standardised input (see
:class:`~conveyor.online.drift.base.Standardised`) ``threshold`` and ``tolerance`` are in
standard deviations: 8 and 0.5 by default (a CUSUM-like choice: a shift of one
standard deviation is found in about 16 updates, noise rarely fires). (River's defaults, threshold 50 and delta 0.005
on raw values, depend on the input's scale: on raw prices they fire every 30 samples.)
"""

from __future__ import annotations

from conveyor.online.drift.base import DriftDetector


class PageHinkley(DriftDetector):
    name = "page_hinkley"

    def __init__(self, threshold: float = 8.0, tolerance: float = 0.5, min_updates: int = 30) -> None:
        self.threshold = threshold
        self.tolerance = tolerance
        self.min_updates = min_updates
        self.reset()

    def reset(self) -> None:
        self._n = 0
        self._mean = 0.0
        self._up = self._up_min = 0.0
        self._down = self._down_max = 0.0

    def update(self, x: float) -> bool:
        self._n += 1
        self._mean += (x - self._mean) / self._n
        self._up += x - self._mean - self.tolerance
        self._down += x - self._mean + self.tolerance
        self._up_min = min(self._up_min, self._up)
        self._down_max = max(self._down_max, self._down)
        if self._n < self.min_updates:
            return False
        if self._up - self._up_min > self.threshold or self._down_max - self._down > self.threshold:
            self.reset()
            return True
        return False
