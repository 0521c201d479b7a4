"""Scoring with a scikit-learn estimator (or anything with its predict/predict_proba API).

For a Pipeline the feature transform runs once and feeds both ``predict_proba`` and, where
the rule needs it, ``predict`` of the final step: exactly what ``Pipeline.predict`` and
``Pipeline.predict_proba`` would compute separately.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.scoring._frames import as_frame
from conveyor.scoring._prediction import Prediction
from conveyor.scoring._rule import labels_of
from conveyor.scoring._scorer import UNREGISTERED, RegisteredVersion, Scorer

if TYPE_CHECKING:
    from conveyor.scoring._schema import Columns, InputSchema


class EstimatorScorer(Scorer):
    flavor = "sklearn"

    def __init__(
        self,
        estimator: Any,
        schema: InputSchema,
        source: RegisteredVersion = UNREGISTERED,
        example: Columns | None = None,
    ) -> None:
        super().__init__(schema, source, example)
        self._estimator = estimator
        classes = getattr(estimator, "classes_", None)
        self._classes = None if classes is None or not hasattr(estimator, "predict_proba") else np.asarray(classes)
        steps = getattr(estimator, "steps", None)
        self._transform: Any = estimator[:-1] if steps and len(steps) > 1 else None
        self._final: Any = estimator[-1] if self._transform is not None else estimator

    @property
    def classes(self) -> np.ndarray | None:
        return self._classes

    @property
    def estimator(self) -> Any:
        return self._estimator

    def predict(self, data: Any) -> Prediction:
        X = as_frame(data, self.schema)
        if self._classes is None:
            return Prediction(np.asarray(self._estimator.predict(X)))
        if self._transform is not None:
            X = self._transform.transform(X)
        proba = np.asarray(self._final.predict_proba(X))
        return Prediction(labels_of(self._final, X, proba), proba, self._classes)

    def describe(self) -> str:
        return f"estimator ({type(self._estimator).__name__})"
