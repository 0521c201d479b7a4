"""Metrics from the model's classes, never the batch's; the same averaging as training."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.lifecycle.metrics import evaluate_model, task_metrics


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X[::2], y[::2])
    return model, X[1::2], y[1::2]


def test_a_test_set_with_every_class_gets_scikit_learns_numbers(wine):
    model, X, y = wine
    metrics = evaluate_model(model, X, y, "classification")
    assert metrics["accuracy"] == skm.accuracy_score(y, model.predict(X))
    assert metrics["f1"] == skm.f1_score(y, model.predict(X), average="macro")
    assert metrics["roc_auc"] == skm.roc_auc_score(y, model.predict_proba(X), multi_class="ovr")


def test_a_window_with_some_classes_keeps_the_models_macro_averages(wine):
    model, X, y = wine
    some = (y != 2).to_numpy()
    X, y = X[some], y[some]
    predictions, scores = model.predict(X), model.predict_proba(X)
    metrics = task_metrics(y, predictions, "classification", scores, list(model.classes_))
    # macro over the model's classes present among the labels, never a binary f1
    assert metrics["f1"] == skm.f1_score(y, predictions, average="macro", labels=[0, 1])
    assert metrics["f1"] != skm.f1_score(y, predictions, average="macro")  # the batch's view
    one_vs_rest = [skm.roc_auc_score(y == c, scores[:, c]) for c in (0, 1)]
    assert metrics["roc_auc"] == pytest.approx(np.mean(one_vs_rest), abs=1e-15)
    assert metrics["accuracy"] == skm.accuracy_score(y, predictions)


def test_a_window_of_one_class_has_no_roc_auc_and_no_error():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)
    one = (y == 0).to_numpy()
    scores = model.predict_proba(X[one])[:, 1]
    metrics = task_metrics(y[one], model.predict(X[one]), "classification", scores, list(model.classes_))
    assert "roc_auc" not in metrics
    assert metrics["f1"] == skm.f1_score(y[one], model.predict(X[one]), pos_label=1, zero_division=0.0)


def test_monitoring_judges_a_window_holding_two_of_three_classes(wine):
    from conveyor.monitoring.performance import evaluate_performance

    model, X, y = wine
    baseline = evaluate_model(model, X, y, "classification")
    some = (y != 2).to_numpy()
    result = evaluate_performance(model, X[some], pd.Series(y[some]), "classification", baseline,
                                  gate={})
    assert result.degraded is not None and result.current == result.metrics["roc_auc"]
    assert not any("cannot compute" in m for m in result.messages)
