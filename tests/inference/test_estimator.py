"""PlanEstimator answers like the estimator, computes once per frame, and defers on failure."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from conveyor.inference import InferencePlan, PlanEstimator
from tests.inference.test_compile import churn_pipeline, frame, target


def test_predict_and_predict_proba_equal_the_estimator_and_share_one_plan_run(monkeypatch) -> None:
    train = frame()
    model = churn_pipeline().fit(train, target(train))
    wrapped = PlanEstimator.wrap(model)
    assert isinstance(wrapped, PlanEstimator)
    runs = []
    original = InferencePlan.run
    monkeypatch.setattr(InferencePlan, "run", lambda *a: runs.append(1) or original(*a))
    new = frame(seed=9, unseen=True)
    assert np.array_equal(wrapped.predict(new), model.predict(new))
    assert np.array_equal(wrapped.predict_proba(new), model.predict_proba(new))
    assert len(runs) == 1  # both answers from one pass
    assert list(wrapped.classes_) == list(model.classes_)  # everything else is the estimator's
    other = frame(seed=10)
    assert np.array_equal(wrapped.predict(other), model.predict(other)) and len(runs) == 2


def test_the_estimator_decides_when_the_plan_cannot_take_the_input() -> None:
    train = frame()
    model = churn_pipeline(handle_unknown="error").fit(train, target(train))
    wrapped = PlanEstimator.wrap(model)
    with pytest.raises(ValueError, match="unknown categor"):  # scikit-learn's own error
        wrapped.predict(frame(seed=11, unseen=True))


def test_models_without_a_plan_are_returned_unchanged() -> None:
    train = frame()
    numeric = train[["tenure", "calls"]]
    model = make_pipeline(FunctionTransformer(np.square), RandomForestClassifier(n_estimators=5)).fit(
        numeric, target(train)
    )
    assert PlanEstimator.wrap(model) is model
    assert PlanEstimator.wrap("not a model") == "not a model"


def test_predict_proba_exists_only_where_the_estimator_has_it() -> None:
    from sklearn.svm import SVC

    train = frame()
    wrapped = PlanEstimator.wrap(churn_pipeline(SVC()).fit(train, target(train)))
    assert isinstance(wrapped, PlanEstimator) and not hasattr(wrapped, "predict_proba")
    assert np.array_equal(wrapped.predict(frame(seed=12)), wrapped.estimator.predict(frame(seed=12)))
