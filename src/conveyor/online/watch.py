"""The promoted checkpoint watched live: after a checkpoint takes the first stage, it and the
version it replaced score every labelled event the learner sees (a shadow prediction each,
no learning), over a sliding window. When the promoted one does worse than its predecessor
by more than ``tolerance`` — accuracy lower by more than that (classification), or a mean
absolute error higher by more than that share (regression) — once both have scored
``min_events``, the verdict is a rollback. Without a predecessor the yardstick is the
checkpoint's own metric on the gate's holdout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.online.validation import Ring

if TYPE_CHECKING:
    from conveyor.scoring import Scorer


@dataclass
class Watched:
    version: str
    scorer: Scorer
    errors: Ring


class LiveWatch:
    def __init__(self, task: str, tolerance: float, min_events: int, window: int) -> None:
        self.task = task
        self.tolerance = tolerance
        self.min_events = min_events
        self.window = max(window, min_events)
        self.promoted: Watched | None = None
        self.previous: Watched | None = None
        self.reference: float | None = None  # the promoted one's holdout metric (no predecessor)

    def start(self, version: str, scorer: Scorer, previous: tuple[str, Scorer] | None, reference: float | None) -> None:
        self.promoted = Watched(version, scorer, Ring(self.window))
        self.previous = None if previous is None else Watched(previous[0], previous[1], Ring(self.window))
        self.reference = reference

    def stop(self) -> None:
        self.promoted = self.previous = None

    def observe(self, X: dict[str, Any], truth: np.ndarray) -> None:
        for watched in (self.promoted, self.previous):
            if watched is not None:
                watched.errors.extend(self._errors(watched.scorer, X, truth))

    def _errors(self, scorer: Scorer, X: dict[str, Any], truth: np.ndarray) -> np.ndarray:
        columns = X if scorer.flavor == "online" else {k: list(v) for k, v in X.items()}
        predicted = scorer.predict(columns).labels
        errors: np.ndarray
        if self.task == "regression":
            errors = np.abs(np.asarray(predicted, dtype=np.float64) - truth)
        else:
            errors = (np.asarray(predicted) != truth).astype(np.float64)
        return errors

    def live_metric(self, watched: Watched) -> float:
        """Accuracy (classification) or mean absolute error (regression) over the window."""
        mean = float(watched.errors.values().mean())
        return 1.0 - mean if self.task == "classification" else mean

    def verdict(self) -> str | None:
        """Why the promoted checkpoint should be rolled back, or None."""
        promoted = self.promoted
        if promoted is None or promoted.errors.filled < self.min_events:
            return None
        ours = self.live_metric(promoted)
        if self.previous is not None:
            if self.previous.errors.filled < self.min_events:
                return None
            theirs, whose = self.live_metric(self.previous), f"v{self.previous.version}"
        elif self.reference is not None:
            theirs, whose = self.reference, "its own holdout metric"
        else:
            return None
        name = "accuracy" if self.task == "classification" else "mae"
        if self.task == "classification":
            worse = ours < theirs - self.tolerance
        else:
            worse = ours > theirs * (1.0 + self.tolerance)
        if not worse:
            return None
        return (f"live {name} of v{promoted.version} is {ours:.4f} over its last {promoted.errors.filled} labelled "
                f"events vs {theirs:.4f} for {whose}: beyond the tolerance {self.tolerance:g}")
