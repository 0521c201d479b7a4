"""Frame scorers turn a frame of model inputs into prediction columns.

``VersionScorer`` scores with the version's :class:`~conveyor.scoring.Scorer` (inference
plan, estimator or pyfunc); ``HookScorer`` calls the user's ``score(model, X)`` from
``batch.score``. The endpoint scorer lives in :mod:`conveyor.batch.endpoint`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.scoring import Scorer

PREDICTION = "prediction"
PROBABILITY = "probability"
PER_CLASS = "probability_"  # probability_<class>: one column per class of a classifier


def probability_column(label: object) -> str:
    """The output column holding P(``label``): ``probability_yes``, ``probability_0``."""
    return f"{PER_CLASS}{label}"


class FrameScorer(Protocol):
    def __call__(self, features: pd.DataFrame) -> pd.DataFrame: ...


class VersionScorer:
    """A registered version's :class:`~conveyor.scoring.Scorer`: ``prediction``; for
    classifiers ``probability`` (the one rule of :mod:`conveyor.scoring`: P(class 1) of a
    binary classifier, the predicted class's otherwise, as before per-class columns came)
    and ``probability_<class>`` for every class, in the classes' order (binary too)."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer

    def __call__(self, features: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        prediction = self.scorer.predict(features)
        out = pd.DataFrame({PREDICTION: prediction.labels}, index=features.index)
        if prediction.proba is not None:
            out[PROBABILITY] = prediction.scores
            classes = prediction.classes if prediction.classes is not None else range(prediction.proba.shape[1])
            for j, label in enumerate(classes):
                out[probability_column(label)] = prediction.proba[:, j]
        return out


class HookScorer:
    """The user's ``score(model, X)``; a Series or array becomes the prediction column."""

    def __init__(self, function: Callable[..., Any], model: Any) -> None:
        self.function = function
        self.model = model

    def __call__(self, features: pd.DataFrame) -> pd.DataFrame:
        return as_prediction_frame(self.function(self.model, features), features.index)


def as_prediction_frame(result: Any, index: pd.Index) -> pd.DataFrame:
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
