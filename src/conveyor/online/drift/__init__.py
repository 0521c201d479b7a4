"""Drift on the stream: one detector (ADWIN or Page-Hinkley, each in its file) per watched
signal — the prequential error and chosen features — fed one value per mini-batch (the
batch's mean), standardised against a warm-up. A detection is a :class:`DriftEvent` handed to
every listener (the learner logs it to MLflow and the artifact store, a user hook acts on it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.online.drift.adwin import ADWIN
from conveyor.online.drift.base import DriftDetector, Standardised
from conveyor.online.drift.page_hinkley import PageHinkley

if TYPE_CHECKING:
    from conveyor.core.config.schema import DriftDetectorSpec

ERROR = "prequential_error"


@dataclass(frozen=True)
class DriftEvent:
    model: str
    signal: str  # prequential_error or a feature's name
    detector: str
    events: int  # events read when it fired
    value: float  # the mean of the batch that completed the detection
    at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Listener = Callable[[DriftEvent], None]


class DriftWatch:
    def __init__(self, model: str, spec: DriftDetectorSpec, listeners: list[Listener] | None = None) -> None:
        self.model = model
        self.spec = spec
        self.listeners = list(listeners or [])
        self.detectors: dict[str, DriftDetector] = {}
        self.detections: list[DriftEvent] = []
        if spec.detector is not None:
            for signal in (ERROR, *spec.features):
                self.detectors[signal] = Standardised(detector_of(spec), spec.min_updates, spec.min_updates)

    def update(self, values: dict[str, np.ndarray], events: int) -> list[DriftEvent]:
        """One mini-batch of each signal (its rows' values); the detections it completes."""
        fired = []
        for signal, batch in values.items():
            detector = self.detectors.get(signal)
            if detector is not None and detector.update_many(batch):
                event = DriftEvent(self.model, signal, detector.name, events, float(batch.mean()),
                                   datetime.now(UTC).isoformat())
                fired.append(event)
        for event in fired:
            self.detections.append(event)
            for listener in self.listeners:
                listener(event)
        return fired


def detector_of(spec: DriftDetectorSpec) -> DriftDetector:
    if spec.detector == "page_hinkley":
        return PageHinkley(spec.threshold, spec.tolerance, min_updates=5)  # warmed up by Standardised
    return ADWIN(spec.delta, spec.clock)


__all__ = ["ADWIN", "ERROR", "DriftDetector", "DriftEvent", "DriftWatch", "PageHinkley", "Standardised"]
