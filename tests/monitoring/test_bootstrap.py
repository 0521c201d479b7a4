"""The vectorised bootstrap metrics equal task_metrics (scikit-learn) on every resample."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.lifecycle.metrics import task_metrics
from conveyor.monitoring.bootstrap import resample_weights, weighted_metrics


def _outputs(dataset):
    X, y = dataset(return_X_y=True, as_frame=True)
    if dataset is load_diabetes:
        model = LinearRegression().fit(X[::2], y[::2])
        return y[1::2].to_numpy(), model.predict(X[1::2]), None, None, "regression"
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.05)).fit(X[::2], y[::2])
    scores = model.predict_proba(X[1::2])
    if scores.shape[1] == 2:
        scores = scores[:, 1]
    return y[1::2].to_numpy(), model.predict(X[1::2]), scores, list(model.classes_), "classification"


@pytest.mark.parametrize("dataset", [load_breast_cancer, load_wine, load_diabetes])
def test_each_resample_gives_the_metrics_of_its_rows(dataset):
    truth, predictions, scores, classes, task = _outputs(dataset)
    weights = resample_weights(len(truth), resamples=12, seed=3)
    fast = weighted_metrics(weights, truth, predictions, task, scores, classes)
    for i, row in enumerate(weights):
        picked = np.repeat(np.arange(len(truth)), row.astype(int))
        slow = task_metrics(pd.Series(truth[picked]), predictions[picked], task,
                            None if scores is None else scores[picked], classes)
        for name, value in slow.items():
            assert fast[name][i] == pytest.approx(value, abs=1e-12), (name, i)


def test_a_resample_of_two_of_three_classes_averages_over_them():
    truth, predictions, scores, classes, task = _outputs(load_wine)
    keep = truth != 2
    truth, predictions, scores = truth[keep], predictions[keep], scores[keep]
    weights = np.ones((1, len(truth)))
    fast = weighted_metrics(weights, truth, predictions, task, scores, classes)
    slow = task_metrics(pd.Series(truth), predictions, task, scores, classes)
    assert fast["f1"][0] == pytest.approx(slow["f1"], abs=1e-12)
    assert fast["roc_auc"][0] == pytest.approx(slow["roc_auc"], abs=1e-12)
