"""The drift detector contract (one detector per file, as River does): ``update(x)`` takes one
value, ``update_many(values)`` one mini-batch, and each says whether a drift was detected.
A detector reads a batch value by value (``per_value``: ADWIN) or as its mean (Page-Hinkley).
Detectors here watch standardised input (:class:`Standardised`): their settings then mean the
same on any scale."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np


class DriftDetector(ABC):
    name: str
    #: whether a mini-batch is read value by value (else as one value: its mean)
    per_value: ClassVar[bool] = False

    @abstractmethod
    def update(self, x: float) -> bool:
        """Take one value; True when it completes a detected drift."""

    def update_many(self, values: np.ndarray) -> bool:
        """Take one mini-batch; True when it completes a detected drift."""
        if self.per_value:
            fired = False
            for value in values.tolist():  # every value is read, also after a detection
                fired = self.update(float(value)) or fired
            return fired
        return self.update(float(values.mean())) if len(values) else False

    @abstractmethod
    def reset(self) -> None:
        """Forget everything (after a detection the watcher starts afresh)."""


class Standardised(DriftDetector):
    """Feeds ``detector`` z-scores against the mean and standard deviation of what it reads
    in ``warmup`` updates, taken after the first ``settle`` (a learner's error falls while it
    starts to learn: that is no drift), and again after each detection: a threshold in
    standard deviations."""

    def __init__(self, detector: DriftDetector, warmup: int = 30, settle: int = 0) -> None:
        self.detector = detector
        self.name = detector.name
        self.warmup = max(2, warmup)
        self.settle = settle
        self.reset()

    def reset(self) -> None:
        self.detector.reset()
        self._skip = self.settle
        self._updates = 0
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._scale = 0.0

    def update(self, x: float) -> bool:
        return self.update_many(np.asarray([x], dtype=np.float64))

    def update_many(self, values: np.ndarray) -> bool:
        if not len(values):
            return False
        read = values if self.detector.per_value else np.asarray([values.mean()])
        if self._skip:
            self._skip -= 1
            return False
        if self._updates < self.warmup:
            self._learn(read)
            return False
        if self.detector.update_many((read - self._mean) / self._scale):
            self.reset()
            return True
        return False

    def _learn(self, read: np.ndarray) -> None:
        """Chan's merge of the batch's moments into the reference's."""
        n = len(read)
        mean = float(read.mean())
        m2 = float(((read - mean) ** 2).sum())
        total = self._n + n
        delta = mean - self._mean
        self._mean += delta * n / total
        self._m2 += m2 + delta * delta * self._n * n / total
        self._n = total
        self._updates += 1
        if self._updates == self.warmup:
            sd = math.sqrt(self._m2 / max(1, self._n - 1))
            self._scale = sd if sd > 1e-12 else max(abs(self._mean), 1.0) * 1e-3
