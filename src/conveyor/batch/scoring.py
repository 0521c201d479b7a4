"""Scorers turn a frame of model inputs into prediction columns.

``ModelScorer`` calls the estimator (``prediction``, plus ``probability`` for classifiers);
``HookScorer`` calls the user's ``score(model, X)`` from ``batch.score``. The endpoint scorer
lives in :mod:`conveyor.batch.endpoint`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

PREDICTION = "prediction"
PROBABILITY = "probability"


class Scorer(Protocol):
    def __call__(self, features: "pd.DataFrame") -> "pd.DataFrame": ...


class ModelScorer:
    """predict (and predict_proba for classifiers) of an in-memory model.

    For a scikit-learn Pipeline the feature transform runs once and feeds both calls,
    which is exactly what ``Pipeline.predict``/``predict_proba`` would do separately.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.classes_ = getattr(model, "classes_", None)
        self.with_probability = self.classes_ is not None and hasattr(model, "predict_proba")
        steps = getattr(model, "steps", None)
        self._transform, self._final = (model[:-1], model[-1]) if steps and len(steps) > 1 else (None, model)

    def __call__(self, features: "pd.DataFrame") -> "pd.DataFrame":
        import pandas as pd

        X = self._transform.transform(features) if self._transform is not None else features
        out = pd.DataFrame(index=features.index)
        if self.with_probability:
            proba = self._final.predict_proba(X)
            labels = self._final.predict(X)
            out[PREDICTION] = labels
            out[PROBABILITY] = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
        else:
            out[PREDICTION] = self._final.predict(X)
        return out


class HookScorer:
    """The user's ``score(model, X)``; a Series or array becomes the prediction column."""

    def __init__(self, function: Callable[..., Any], model: Any) -> None:
        self.function = function
        self.model = model

    def __call__(self, features: "pd.DataFrame") -> "pd.DataFrame":
        return as_prediction_frame(self.function(self.model, features), features.index)


def as_prediction_frame(result: Any, index: "pd.Index") -> "pd.DataFrame":
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        out = result.copy()
        out.index = index
        return out
    if isinstance(result, pd.Series):
        return pd.DataFrame({PREDICTION: result.to_numpy()}, index=index)
    array = np.asarray(result)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or len(array) != len(index):
        raise ValueError(f"a score of shape {array.shape} does not give one value per row ({len(index)})")
    return pd.DataFrame({PREDICTION: array}, index=index)
