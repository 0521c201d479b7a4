"""The numpy SGD update equals scikit-learn's ``partial_fit`` on the same stream of batches."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier, SGDRegressor

from conveyor.online.sgd_update import rule_of, sgd_update

BATCHES, ROWS, FEATURES = 12, 64, 9


def _stream(task: str, classes: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    weights = rng.standard_normal((FEATURES, max(classes, 1)))
    out = []
    for _ in range(BATCHES):
        X = rng.standard_normal((ROWS, FEATURES))
        X[:, -3:] = rng.integers(0, 2, (ROWS, 3))  # one-hot-like columns, as the encoder gives
        score = X @ weights + 0.3 * rng.standard_normal((ROWS, weights.shape[1]))
        y = score[:, 0] * 3.0 + 1.0 if task == "regression" else (
            (score[:, 0] > 0).astype(np.int64) if classes == 2 else score.argmax(axis=1))
        out.append((X, y))
    return out


def _both(make: type, params: dict, stream: list[tuple[np.ndarray, np.ndarray]], classes: list[int] | None) -> tuple:
    reference, ours = make(shuffle=False, random_state=0, **params), make(shuffle=False, random_state=0, **params)
    extra = {} if classes is None else {"classes": classes}
    first_X, first_y = stream[0]
    reference.partial_fit(first_X, first_y, **extra)
    ours.partial_fit(first_X, first_y, **extra)
    rule = rule_of(ours)
    assert rule is not None
    for X, y in stream[1:]:
        reference.partial_fit(X, y)
        sgd_update(ours, rule, X, y)
    return reference, ours


CLASSIFIERS = [
    {"loss": "log_loss", "learning_rate": "constant", "eta0": 0.02},
    {"loss": "log_loss", "learning_rate": "optimal", "alpha": 1e-3},
    {"loss": "log_loss", "learning_rate": "invscaling", "eta0": 0.1, "penalty": None},
    {"loss": "hinge", "learning_rate": "optimal"},
    {"loss": "hinge", "learning_rate": "pa1", "eta0": 1.0, "penalty": None},
    {"loss": "hinge", "learning_rate": "pa2", "eta0": 0.5, "penalty": None},
    {"loss": "squared_hinge", "learning_rate": "constant", "eta0": 0.01},
    {"loss": "perceptron", "learning_rate": "constant", "eta0": 0.1, "penalty": None},
    {"loss": "modified_huber", "learning_rate": "constant", "eta0": 0.05},
]
REGRESSORS = [
    {"loss": "squared_error"},
    {"loss": "squared_error", "learning_rate": "constant", "eta0": 0.005, "penalty": None},
    {"loss": "huber", "epsilon": 0.5, "learning_rate": "constant", "eta0": 0.01},
    {"loss": "epsilon_insensitive", "learning_rate": "pa1", "eta0": 1.0, "penalty": None},
    {"loss": "epsilon_insensitive", "learning_rate": "pa2", "eta0": 0.2, "epsilon": 0.2},
    {"loss": "squared_epsilon_insensitive", "learning_rate": "invscaling", "eta0": 0.005},
]


@pytest.mark.parametrize("params", CLASSIFIERS, ids=lambda p: f"{p['loss']}-{p['learning_rate']}")
@pytest.mark.parametrize("classes", [2, 3])
def test_classifier_equals_partial_fit(params: dict, classes: int) -> None:
    reference, ours = _both(SGDClassifier, params, _stream("classification", classes), list(range(classes)))
    assert np.abs(reference.coef_).max() > 0.05  # it learned something to compare
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=1e-7, atol=1e-9)
    assert ours.t_ == reference.t_


@pytest.mark.parametrize("params", REGRESSORS, ids=lambda p: f"{p['loss']}-{p.get('learning_rate', 'invscaling')}")
def test_regressor_equals_partial_fit(params: dict) -> None:
    reference, ours = _both(SGDRegressor, params, _stream("regression"), None)
    assert np.abs(reference.coef_).max() > 0.05
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=1e-7, atol=1e-9)
    assert ours.t_ == reference.t_


@pytest.mark.parametrize("params", [{"penalty": "l1"}, {"penalty": "elasticnet"}, {"average": True},
                                    {"learning_rate": "adaptive", "eta0": 0.1}, {"class_weight": "balanced"}])
def test_what_it_does_not_cover_stays_with_partial_fit(params: dict) -> None:
    assert rule_of(SGDClassifier(**params)) is None


def test_a_subclass_stays_with_partial_fit() -> None:
    class Mine(SGDClassifier):
        pass

    assert rule_of(Mine()) is None
