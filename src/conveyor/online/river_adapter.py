"""River models as learners: ``learn_one`` for every row of a mini-batch, in order (River's
``learn_many`` on frames is slower and adapts far worse after a drift, so it is not used).

River is an optional dependency (``pip install 'conveyor[online]'``); the default River
learner is River's own standard scaler + one-hot encoder + logistic (or linear) regression.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from conveyor.core.errors import LearnerError
from conveyor.online.learner import Columns, Learner, LearnerTask, rows_of


def import_river() -> Any:
    try:
        import river
    except ImportError:
        raise LearnerError(
            "online.learner 'river' needs the River package, which is not installed",
            hint="pip install 'conveyor[online]' (or river), or choose online.learner: sgd",
        ) from None
    return river


class RiverLearner(Learner):
    kind: ClassVar[str] = "river"
    drift_note = "as the River model adapts (its optimiser's learning rate)"

    def __init__(self, model: Any, task: LearnerTask, classes: list[Any] | None = None) -> None:
        super().__init__(task)
        self.model = model
        self.known_classes = None if classes is None else np.asarray(classes)

    @property
    def classes_(self) -> np.ndarray | None:
        if self.task != "classification" or not hasattr(self.model, "predict_proba_one"):
            return None
        return self.known_classes

    def learn(self, X: Columns, y: np.ndarray | None) -> None:
        names = list(X)
        columns = [X[name] for name in names]
        learn_one = self.model.learn_one
        if y is None:
            for values in zip(*columns, strict=True):
                learn_one(dict(zip(names, values, strict=True)))
        else:
            for values, label in zip(zip(*columns, strict=True), y.tolist(), strict=True):
                learn_one(dict(zip(names, values, strict=True)), label)
        self.n_seen_ += rows_of(X)

    def _rows(self, X: Columns) -> list[dict[str, Any]]:
        names = list(X)
        return [dict(zip(names, values, strict=True)) for values in zip(*(X[n] for n in names), strict=True)]

    def predict(self, X: Columns) -> np.ndarray:
        predict_one = self.model.predict_one
        out = [predict_one(row) for row in self._rows(X)]
        if self.task == "classification" and self.known_classes is not None:
            first = self.known_classes[0]
            out = [first if value is None else value for value in out]
        return np.asarray(out)

    def predict_proba(self, X: Columns) -> np.ndarray | None:
        classes = self.classes_
        if classes is None:
            return None
        proba_one = self.model.predict_proba_one
        known = classes.tolist()
        out = np.zeros((rows_of(X), len(known)))
        for i, row in enumerate(self._rows(X)):
            given = proba_one(row)
            for j, label in enumerate(known):
                out[i, j] = float(given.get(label, 0.0))
        total = out.sum(axis=1, keepdims=True)
        normalised: np.ndarray = np.divide(out, total, out=np.full_like(out, 1.0 / len(known)), where=total > 0)
        return normalised

    def describe(self) -> str:
        return f"river ({type(self.model).__name__}, {self.task})"


def default_river_model(task: LearnerTask, numeric: list[str], categorical: list[str], params: dict[str, Any]) -> Any:
    """River's standard scaler on the numeric columns + one-hot on the categorical ones +
    logistic regression (classification) or linear regression."""
    river = import_river()
    from river import compose, linear_model, preprocessing

    parts: list[Any] = []
    if numeric:
        parts.append(compose.Select(*numeric) | preprocessing.StandardScaler())
    if categorical:
        parts.append(compose.Select(*categorical) | preprocessing.OneHotEncoder())
    features = parts[0] if len(parts) == 1 else compose.TransformerUnion(*parts)
    head = linear_model.LogisticRegression(**params) if task == "classification" else linear_model.LinearRegression(**params)
    del river
    return features | head
