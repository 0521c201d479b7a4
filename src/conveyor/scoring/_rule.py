"""The one label/probability rule every classifier is scored with (binary and multiclass).

Labels are the ones the estimator's own ``predict`` gives. Only where ``predict`` is provably
the most probable class (logistic regression: its probabilities are a monotone function of
its decision values) the label is read from the probabilities already computed, and
``predict`` runs on near-ties only, where rounding could flip the order. The score is the
probability of class 1 (``classes_[1]``) for a binary classifier, the top probability
otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TIE_MARGIN = 1e-9


def scores_of(proba: np.ndarray) -> np.ndarray:
    """P(class 1) of a binary classifier, else the probability of the most probable class."""
    return proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)


def labels_of(estimator: Any, X: Any, proba: np.ndarray) -> np.ndarray:
    """``estimator.predict(X)``, read from ``proba`` where that is provably the same."""
    if not predicts_most_probable(estimator):
        return np.asarray(estimator.predict(X))
    labels: np.ndarray = np.asarray(estimator.classes_)[proba.argmax(axis=1)]
    ties = np.flatnonzero(near_ties(proba))
    if len(ties):
        labels[ties] = estimator.predict(X.iloc[ties] if hasattr(X, "iloc") else X[ties])
    return labels


def predicts_most_probable(estimator: Any) -> bool:
    """Whether ``predict`` is the argmax of ``predict_proba`` (up to ties) for this estimator."""
    if not type(estimator).__module__.startswith("sklearn."):
        return False  # not imported here: a plan model's worker never loads scikit-learn
    from sklearn.linear_model import LogisticRegression

    return isinstance(estimator, LogisticRegression)


def near_ties(proba: np.ndarray, margin: float = TIE_MARGIN) -> np.ndarray:
    """Rows whose two most probable classes are within ``margin``: rounding could flip them."""
    if proba.shape[1] < 2:
        return np.zeros(len(proba), dtype=bool)
    top2 = np.partition(proba, -2, axis=1)[:, -2:]
    return (top2[:, 1] - top2[:, 0]) <= margin
