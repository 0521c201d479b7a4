"""What one scoring call returns, aligned with its input rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conveyor.scoring._rule import scores_of


@dataclass(frozen=True)
class Prediction:
    """Labels (or regression values); for classifiers the per-class probabilities and the
    classes they belong to (``proba[:, j]`` is the probability of ``classes[j]``)."""

    labels: np.ndarray
    proba: np.ndarray | None = None
    classes: np.ndarray | None = None

    @property
    def scores(self) -> np.ndarray | None:
        """One score per row: P(class 1) for binary, the top probability otherwise."""
        return None if self.proba is None else scores_of(self.proba)

    def __len__(self) -> int:
        return len(self.labels)
