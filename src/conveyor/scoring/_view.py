"""A scorer seen through the scikit-learn estimator API, for code written against it
(monitoring's profiles and performance, the gate's metrics).

``predict`` and ``predict_proba`` of one input object come from one scoring call under the
one rule; ``predict_proba`` and ``classes_`` exist only for a classifier.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.scoring._prediction import Prediction
from conveyor.scoring._scorer import Scorer


class EstimatorView:
    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self._last: tuple[Any, Prediction] | None = None  # (X itself, its prediction)

    def predict(self, X: Any) -> np.ndarray:
        return self._score(X).labels

    def __getattr__(self, name: str) -> Any:
        """``predict_proba`` and ``classes_`` only where the scorer is a classifier."""
        if name in ("scorer", "_last"):  # not set yet (copy, unpickling)
            raise AttributeError(name)
        if self.scorer.classes is not None:
            if name == "predict_proba":
                return self._predict_proba
            if name == "classes_":
                return self.scorer.classes
        raise AttributeError(f"{type(self.scorer).__name__} of {self.scorer.name!r} has no {name!r}")

    def _predict_proba(self, X: Any) -> np.ndarray:
        proba = self._score(X).proba
        assert proba is not None  # a classifier's prediction carries its probabilities
        return proba

    def _score(self, X: Any) -> Prediction:
        if self._last is not None and self._last[0] is X:  # held, so never another object's id
            return self._last[1]
        prediction = self.scorer.predict(X)
        self._last = (X, prediction)
        return prediction


def as_estimator(scorer: Scorer) -> EstimatorView:
    return EstimatorView(scorer)
