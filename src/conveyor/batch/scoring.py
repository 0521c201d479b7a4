"""Scorers turn a frame of model inputs into prediction columns.

``PlanScorer`` runs a compiled :class:`~conveyor.inference.InferencePlan` (the fast path for
supported scikit-learn pipelines); ``ModelScorer`` calls the estimator (``prediction``, plus
``probability`` for classifiers); ``HookScorer`` calls the user's ``score(model, X)`` from
``batch.score``. The endpoint scorer lives in :mod:`conveyor.batch.endpoint`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PREDICTION = "prediction"
PROBABILITY = "probability"


class Scorer(Protocol):
    def __call__(self, features: pd.DataFrame) -> pd.DataFrame: ...


class PlanScorer:
    """A compiled inference plan: the same columns as :class:`ModelScorer`, in plain numpy."""

    def __init__(self, plan: Any) -> None:
        self.plan = plan

    def __call__(self, features: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        result = self.plan.run(features, len(features))
        out = pd.DataFrame({PREDICTION: result.labels}, index=features.index)
        if result.proba is not None:
            out[PROBABILITY] = result.scores
        return out


class ModelScorer:
    """predict (and predict_proba for classifiers) of an in-memory model.

    For a scikit-learn Pipeline the feature transform runs once and feeds both calls,
    which is exactly what ``Pipeline.predict``/``predict_proba`` would do separately.
    Where predict is the most probable class (logistic regression), the class comes from
    the probabilities, and predict runs only on near-ties.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.classes_ = getattr(model, "classes_", None)
        self.with_probability = self.classes_ is not None and hasattr(model, "predict_proba")
        steps = getattr(model, "steps", None)
        self._transform: Any
        self._transform, self._final = (model[:-1], model[-1]) if steps and len(steps) > 1 else (None, model)
        self._argmax = self.with_probability and predicts_most_probable(self._final)

    def __call__(self, features: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        X = strings_as_objects(features)
        if self._transform is not None:
            X = self._transform.transform(X)
        out = pd.DataFrame(index=features.index)
        if self.with_probability:
            proba = self._final.predict_proba(X)
            out[PREDICTION] = self._labels(X, proba)
            out[PROBABILITY] = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
        else:
            out[PREDICTION] = self._final.predict(X)
        return out

    def _labels(self, X: Any, proba: np.ndarray) -> np.ndarray:
        import numpy as np

        if not self._argmax:
            return self._final.predict(X)
        labels = np.asarray(self.classes_)[proba.argmax(axis=1)]
        ties = np.flatnonzero(near_ties(proba))
        if len(ties):
            labels[ties] = self._final.predict(X.iloc[ties] if hasattr(X, "iloc") else X[ties])
        return labels


def predicts_most_probable(estimator: Any) -> bool:
    """Whether ``predict`` is the argmax of ``predict_proba`` (up to ties) for this estimator."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return False
    return isinstance(estimator, LogisticRegression)


def near_ties(proba: np.ndarray, margin: float = 1e-9) -> np.ndarray:
    """Rows whose two most probable classes are within ``margin``: rounding could flip them."""
    import numpy as np

    if proba.shape[1] < 2:
        return np.zeros(len(proba), dtype=bool)
    top2 = np.partition(proba, -2, axis=1)[:, -2:]
    return (top2[:, 1] - top2[:, 0]) <= margin


def strings_as_objects(features: pd.DataFrame) -> pd.DataFrame:
    """The frame with Arrow-backed string columns as object columns, which is what scikit-learn
    converts them to, built from a dictionary encoding (one Python string per distinct value,
    not per row)."""
    import pandas as pd

    names = [n for n, dtype in features.dtypes.items() if isinstance(dtype, pd.StringDtype)
             and dtype.storage == "pyarrow"]
    if not names:
        return features
    out = features.copy(deep=False)
    for name in names:
        out[name] = pd.Series(_object_values(features[name]), index=features.index, dtype=object)
    return out


def _object_values(column: pd.Series) -> np.ndarray:
    import pyarrow as pa

    from conveyor.inference.columns import encode_arrow

    encoded = encode_arrow(pa.chunked_array(pa.array(column.array)).combine_chunks(), column.dtype.na_value)
    return encoded.take(encoded.dictionary)


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
