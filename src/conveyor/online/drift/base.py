"""The drift detector contract (one detector per file, as River does): ``update(x)`` takes one
value and says whether a drift was detected at it. Detectors here watch standardised input
(:class:`Standardised`): their settings then mean the same on any scale."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod


class DriftDetector(ABC):
    name: str

    @abstractmethod
    def update(self, x: float) -> bool:
        """Take one value; True when it completes a detected drift."""

    @abstractmethod
    def reset(self) -> None:
        """Forget everything (after a detection the watcher starts afresh)."""


class Standardised(DriftDetector):
    """Feeds ``detector`` z-scores against the mean and standard deviation of the first
    ``warmup`` values (and again after each detection): a threshold in standard deviations."""

    def __init__(self, detector: DriftDetector, warmup: int = 30) -> None:
        self.detector = detector
        self.name = detector.name
        self.warmup = max(2, warmup)
        self.reset()

    def reset(self) -> None:
        self.detector.reset()
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._scale = 0.0

    def update(self, x: float) -> bool:
        if self._n < self.warmup:
            self._n += 1
            delta = x - self._mean
            self._mean += delta / self._n
            self._m2 += delta * (x - self._mean)
            if self._n == self.warmup:
                sd = math.sqrt(self._m2 / (self._n - 1))
                self._scale = sd if sd > 1e-12 else max(abs(self._mean), 1.0) * 1e-3
            return False
        if self.detector.update((x - self._mean) / self._scale):
            self.reset()
            return True
        return False
