"""as_estimator(scorer) answers like the estimator, computes once per frame, and a compiled
plan defers to the estimator on failure (moved from tests/inference/test_estimator.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from conveyor.inference import InferencePlan
from conveyor.scoring import CompiledScorer, EstimatorScorer, as_estimator, from_estimator
from tests.inference.test_compile import churn_pipeline, frame, target


def test_predict_and_predict_proba_equal_the_estimator_and_share_one_plan_run(monkeypatch) -> None:
    train = frame()
    model = churn_pipeline().fit(train, target(train))
    scorer = from_estimator(model)
    assert isinstance(scorer, CompiledScorer)
    wrapped = as_estimator(scorer)
    runs = []
    original = InferencePlan.run
    monkeypatch.setattr(InferencePlan, "run", lambda *a: runs.append(1) or original(*a))
    new = frame(seed=9, unseen=True)
    assert np.array_equal(wrapped.predict(new), model.predict(new))
    assert np.array_equal(wrapped.predict_proba(new), model.predict_proba(new))
    assert len(runs) == 1  # both answers from one pass
    assert list(wrapped.classes_) == list(model.classes_)
    other = frame(seed=10)
    assert np.array_equal(wrapped.predict(other), model.predict(other)) and len(runs) == 2


def test_the_estimator_decides_when_the_plan_cannot_take_the_input() -> None:
    train = frame()
    model = churn_pipeline(handle_unknown="error").fit(train, target(train))
    wrapped = as_estimator(from_estimator(model))
    with pytest.raises(ValueError, match="unknown categor"):  # scikit-learn's own error
        wrapped.predict(frame(seed=11, unseen=True))


def test_models_without_a_plan_are_scored_by_the_estimator_itself() -> None:
    train = frame()
    numeric = train[["tenure", "calls"]]
    model = make_pipeline(FunctionTransformer(np.square), RandomForestClassifier(n_estimators=5)).fit(
        numeric, target(train)
    )
    scorer = from_estimator(model)
    assert isinstance(scorer, EstimatorScorer) and scorer.estimator is model
    new = frame(seed=4)[["tenure", "calls"]]
    assert np.array_equal(as_estimator(scorer).predict(new), model.predict(new))


def test_predict_proba_exists_only_where_the_estimator_has_it() -> None:
    from sklearn.svm import SVC

    train = frame()
    scorer = from_estimator(churn_pipeline(SVC()).fit(train, target(train)))
    wrapped = as_estimator(scorer)
    assert isinstance(scorer, CompiledScorer) and not hasattr(wrapped, "predict_proba")
    assert not hasattr(wrapped, "classes_")
    assert np.array_equal(wrapped.predict(frame(seed=12)), scorer.estimator.predict(frame(seed=12)))
