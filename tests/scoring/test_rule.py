"""The one label/probability rule."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from conveyor.scoring import labels_of, near_ties, predicts_most_probable, scores_of


def _data(classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] * 2 + rng.normal(size=300) > 0).astype(int)
    return X, (y + (X[:, 1] > 1)) if classes == 3 else y


def test_scores_are_class_one_for_binary_and_the_top_probability_otherwise() -> None:
    binary = np.array([[0.9, 0.1], [0.2, 0.8]])
    assert scores_of(binary).tolist() == [0.1, 0.8]
    multi = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    assert scores_of(multi).tolist() == [0.5, 0.6]


def test_logistic_regression_labels_come_from_the_probabilities_and_equal_predict() -> None:
    for classes in (2, 3):
        X, y = _data(classes)
        model = LogisticRegression().fit(X, y)
        assert predicts_most_probable(model)
        assert np.array_equal(labels_of(model, X, model.predict_proba(X)), model.predict(X))


def test_near_ties_fall_back_to_predict() -> None:
    X, y = _data()
    model = LogisticRegression().fit(X, y)
    tied = np.full((len(X), 2), 0.5)
    assert near_ties(tied).all()
    assert np.array_equal(labels_of(model, X, tied), model.predict(X))  # not argmax (always 0)


def test_other_classifiers_label_with_their_own_predict() -> None:
    X, y = _data()
    model = SVC(probability=True, random_state=0).fit(X, y)
    assert not predicts_most_probable(model)
    fake = np.tile([1.0, 0.0], (len(X), 1))  # probabilities that would say class 0 everywhere
    assert np.array_equal(labels_of(model, X, fake), model.predict(X))
    assert not predicts_most_probable(object())
