"""Regression fairness, target drift in the report, axes spanning both distributions, and the
statistics that decided each feature logged to MLflow (on scikit-learn's diabetes data)."""

import re

import numpy as np
import pytest
from mlflow import MlflowClient

from conveyor.app import Project
from conveyor.core.errors import ConfigError
from conveyor.monitoring.monitor import run_monitor

from .conftest import sklearn_frame


@pytest.fixture
def diabetes(sklearn_project):
    return sklearn_project("diabetes", gate='fairness: {mae_difference: "<= 1000"}', sensitive=["sex"])


def _group_gaps(frame, predictions):
    means = frame.assign(p=predictions).groupby("sex")["p"].mean()
    errors = frame.assign(e=np.abs(frame["target"] - predictions)).groupby("sex")["e"].mean()
    return float(means.max() - means.min()), float(errors.max() - errors.min())


def test_regression_fairness_is_measured_in_training_and_monitoring(diabetes, tmp_path):
    project = Project.load(diabetes)
    run = MlflowClient(project.stack.tracking_uri).get_run(project.registry.version("diabetes", "1").run_id)
    assert "fairness.sex.mae_difference" in run.data.metrics
    assert "fairness.sex.mean_prediction_difference" in run.data.metrics
    assert run.data.params["split.stratify"] == "True"

    frame = sklearn_frame("diabetes")
    frame.to_parquet(tmp_path / "window.parquet")
    result = run_monitor(project.lifecycle, data=tmp_path / "window.parquet")
    from conveyor.scoring import as_estimator, load_version

    model = as_estimator(load_version(project.client, "diabetes", "1", project.config.features.inputs))
    mean_gap, mae_gap = _group_gaps(frame, model.predict(frame[project.config.features.inputs]))
    sex = result.fairness.columns["sex"]
    assert sex["mean_prediction_difference"] == pytest.approx(mean_gap, abs=1e-9)
    assert sex["mae_difference"] == pytest.approx(mae_gap, abs=1e-9)
    assert result.fairness.violated is False


def test_a_classification_fairness_metric_on_a_regressor_is_a_config_error(sklearn_project):
    folder = sklearn_project("diabetes", gate='fairness: {demographic_parity_difference: "<= 0.1"}',
                             sensitive=["sex"], train=False)
    with pytest.raises(ConfigError, match="demographic_parity_difference is a classification metric; "
                                          "a regression model is checked with mean_prediction_difference"):
        Project.load(folder)


def test_the_report_shows_target_drift_and_how_far_the_current_data_went(diabetes, tmp_path):
    frame = sklearn_frame("diabetes")
    frame["bmi"] = frame["bmi"] + 10 * frame["bmi"].std()  # far beyond the baseline's range
    frame["target"] = frame["target"] * 2
    frame.to_parquet(tmp_path / "moved.parquet")
    report = tmp_path / "report.html"
    result = run_monitor(Project.load(diabetes).lifecycle, data=tmp_path / "moved.parquet", report=report)
    page = report.read_text()
    assert result.drift.target is not None and result.drift.target.drifted is True
    assert "target (target)" in page
    card = page[page.index("<h3>bmi"):]
    card = card[:card.index("</svg>")]
    labels = [float(t) for t in re.findall(r"font-size='9'[^>]*>([-0-9.e+]+)<", card)]
    assert max(labels) == pytest.approx(frame["bmi"].max(), rel=1e-3)  # the axis reaches it

    client = MlflowClient(Project.load(diabetes).stack.tracking_uri)
    metrics = client.get_run(result.run_id).data.metrics
    bmi = next(f for f in result.drift.features if f.column == "bmi")
    assert metrics[f"drift.bmi.decided_by.{bmi.test}"] == pytest.approx(bmi.score)
    assert bmi.test == "ks_exact_p"  # 442 rows: the exact test on the raw values decides
