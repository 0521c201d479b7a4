"""The learner contract every online learner implements (scikit-learn ``partial_fit``
estimators behind a running encoder, River models, a user's own)::

    learn(X, y)          one mini-batch: X the feature columns ({name: values}), y the labels
                         (None for a learner that needs none: clustering)
    learn_rows(X, rows, y)  the rows ``rows`` of a batch it has just predicted (the loop's way:
                         a learner that keeps its encoding of that batch learns from it as is)
    predict(X)           one label, value or cluster per row
    predict_proba(X)     class probabilities (one column per ``classes_``), None if it gives none
    predict_with_proba   both in one call (the loop predicts every batch before it learns)
    classes_             the classes of a classifier, else None
    to_bytes()           the whole state; ``Learner.from_bytes(data)`` gives it back

``n_seen_`` counts the rows learned. Learners are plain objects: their state pickles, so a
checkpoint is ``to_bytes()`` and the scoring core unpickles it (:mod:`conveyor.scoring`'s
online scorer). ``tests/online/test_contract.py`` runs every learner through the same checks.
"""

from __future__ import annotations

import pickle
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from conveyor.core.errors import LearnerError

Columns = Mapping[str, Sequence[Any] | np.ndarray]  # {feature name: one value per row}
LearnerTask = Literal["classification", "regression", "clustering"]

#: what every learner must offer, checked on a user's at start (:func:`check_learner`)
CONTRACT = ("learn", "predict", "predict_proba", "to_bytes")


class Learner(ABC):
    """One model that learns from mini-batches; learned state has a trailing underscore."""

    kind: ClassVar[str]  # "sgd", "naive_bayes", "kmeans", "river", "custom"
    task: LearnerTask
    #: how the learner recovers from a concept drift, shown where users choose it
    drift_note: ClassVar[str] = ""

    def __init__(self, task: LearnerTask) -> None:
        self.task = task
        self.n_seen_ = 0

    @property
    def supervised(self) -> bool:
        return self.task != "clustering"

    @property
    @abstractmethod
    def classes_(self) -> np.ndarray | None:
        """The classes of a classifier that gives probabilities (learned or configured)."""

    @abstractmethod
    def learn(self, X: Columns, y: np.ndarray | None) -> None:
        """Update the model with one mini-batch (``y`` aligned with the rows of ``X``)."""

    def learn_rows(self, X: Columns, rows: np.ndarray | None, y: np.ndarray | None) -> None:
        """Learn the rows ``rows`` (positions; None: all) of ``X``, the batch just predicted."""
        self.learn(X if rows is None else take_rows(X, rows), y)

    @abstractmethod
    def predict(self, X: Columns) -> np.ndarray:
        """One prediction per row (a class, a value, a cluster id)."""

    def predict_proba(self, X: Columns) -> np.ndarray | None:
        """Class probabilities, one column per class of :attr:`classes_` (None: none given)."""
        return None

    def predict_with_proba(self, X: Columns) -> tuple[np.ndarray, np.ndarray | None]:
        """Both at once (a learner that can share the work overrides it)."""
        return self.predict(X), self.predict_proba(X)

    def to_bytes(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_bytes(data: bytes) -> Learner:
        learner = pickle.loads(data)
        check_learner(learner, "the checkpoint's state")
        return learner  # type: ignore[no-any-return]

    def describe(self) -> str:
        return f"{self.kind} ({self.task})"


def rows_of(X: Columns) -> int:
    """How many rows the columns hold (0 for none)."""
    for values in X.values():
        return len(values)
    return 0


def take_rows(X: Columns, index: np.ndarray) -> dict[str, Any]:
    """The rows ``index`` of every column."""
    positions = index.tolist()
    return {name: values[index] if isinstance(values, np.ndarray) else [values[i] for i in positions]
            for name, values in X.items()}


def check_learner(value: Any, where: str) -> None:
    """``value`` implements the contract, else one LearnerError naming what it lacks."""
    missing = [name for name in CONTRACT if not callable(getattr(value, name, None))]
    if isinstance(value, Learner) and not missing:
        return
    got = "None" if value is None else f"a {type(value).__module__}.{type(value).__qualname__}"
    if missing:
        lacks = f"lacks {', '.join(missing)}"
    else:
        lacks = "does not derive from conveyor.online.Learner"
    raise LearnerError(
        f"{where} returned {got}, which {lacks}",
        hint="return a conveyor.online.Learner, a scikit-learn estimator with partial_fit "
        "(SGDClassifier, SGDRegressor, MultinomialNB, MiniBatchKMeans) or a River model "
        "with learn_one; see docs/online.md",
    )


def as_float_matrix(X: Columns, names: Sequence[str]) -> np.ndarray:
    """The named numeric columns as one float matrix (rows × names)."""
    n = rows_of(X)
    out = np.empty((n, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        out[:, j] = np.asarray(X[name], dtype=np.float64)
    return out


def labels_array(y: Any) -> np.ndarray:
    return y if isinstance(y, np.ndarray) else np.asarray(y)


__all__ = ["CONTRACT", "Columns", "Learner", "LearnerTask", "check_learner", "rows_of", "take_rows"]
