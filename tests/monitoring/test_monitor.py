"""End to end on the trained example, with the real MLflow client."""

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from conveyor.app import Project
from conveyor.core.errors import MonitorDataError, NoCapturedTrafficError
from conveyor.monitoring.monitor import run_monitor


@pytest.fixture(scope="module")
def drifted(trained_project):
    return run_monitor(Project.load(trained_project).lifecycle, data=trained_project / "data/drifted.parquet",
                       report=trained_project / "out/drift.html")


def test_drifted_batch_is_detected_with_prediction_drift(drifted):
    assert drifted.drift_detected is True and drifted.drift.dataset_drift is True
    assert {"monthly_charges", "support_calls", "plan", "region"} <= set(drifted.drift.drifted_features)
    assert drifted.drift.prediction_drift is True
    region = next(f for f in drifted.drift.features if f.column == "region")
    assert region.new_categories == ["overseas"]
    assert drifted.performance is not None and drifted.performance.current is not None
    assert drifted.fairness is not None and "gender" in drifted.fairness.columns
    assert not any("is new" in m for m in drifted.messages)  # training columns are known


def test_fresh_batch_from_the_same_distribution_is_stable(trained_project):
    result = run_monitor(Project.load(trained_project).lifecycle, data=trained_project / "data/fresh.parquet")
    assert result.drift.dataset_drift is False and result.drift.drifted_features == []
    assert result.performance.degraded is False
    assert result.drift_detected is False


def test_monitoring_run_is_logged_with_metrics_stepped_by_window_time(trained_project, drifted):
    project = Project.load(trained_project)
    client = MlflowClient(project.stack.tracking_uri)
    experiment = client.get_experiment_by_name("churn-monitoring")
    assert experiment is not None
    run = client.get_run(drifted.run_id)
    assert run.data.tags["conveyor.monitor.version"] == "1" and run.data.tags["conveyor.drift"] == "true"
    assert run.data.metrics["drift.share"] == pytest.approx(drifted.drift.share)
    history = client.get_metric_history(drifted.run_id, "drift.monthly_charges.wasserstein")
    assert history[0].step > 1_700_000_000  # unix seconds of the window end
    artifacts = {a.path for a in client.list_artifacts(drifted.run_id, "monitoring")}
    assert {"monitoring/summary.json", "monitoring/report.html", "monitoring/profile.json"} <= artifacts


def test_report_is_self_contained_html_and_summary_is_json(drifted):
    page = Path(drifted.report).read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page
    for section in ("Data drift", "Performance", "Fairness", "monthly_charges"):
        assert section in page
    json.loads(json.dumps(drifted.to_dict()))


def test_baseline_profile_is_logged_at_training_time(trained_project):
    project = Project.load(trained_project)
    run_id = project.registry.version("churn", "1").run_id
    client = MlflowClient(project.stack.tracking_uri)
    assert "conveyor/baseline_profile.json" in {a.path for a in client.list_artifacts(run_id, "conveyor")}
    assert client.get_run(run_id).data.tags["conveyor.baseline"] == "conveyor/baseline_profile.json"


# --- bad input -------------------------------------------------------------------------------

def test_empty_window_still_reports(trained_project, tmp_path):
    empty = tmp_path / "empty.parquet"
    pd.read_parquet(trained_project / "data/fresh.parquet").head(0).to_parquet(empty)
    result = run_monitor(Project.load(trained_project).lifecycle, data=empty, report=tmp_path / "r.html")
    assert result.drift_detected is None and result.rows == 0
    assert any("window is empty" in m for m in result.messages)
    assert (tmp_path / "r.html").exists()


def test_too_few_rows(trained_project, tmp_path):
    few = tmp_path / "few.csv"
    pd.read_parquet(trained_project / "data/drifted.parquet").head(12).to_csv(few, index=False)
    result = run_monitor(Project.load(trained_project).lifecycle, data=few)
    assert result.drift.dataset_drift is None
    assert any("only 12 rows" in m for m in result.messages)


def test_missing_new_and_retyped_columns(trained_project, tmp_path):
    frame = pd.read_parquet(trained_project / "data/fresh.parquet")
    frame = frame.drop(columns=["plan"]).assign(coupon="x")
    frame["tenure_months"] = frame["tenure_months"].astype(str)
    frame.loc[:300, "tenure_months"] = "unknown"
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    result = run_monitor(Project.load(trained_project).lifecycle, data=path)
    text = " | ".join(result.messages)
    assert "'plan' is missing" in text and "'coupon' is new" in text
    assert "cannot score the data" in text
    tenure = next(f for f in result.drift.features if f.column == "tenure_months")
    assert tenure.drifted is True and any("type change" in m for m in tenure.messages)


def test_data_file_not_found_and_no_source(trained_project):
    project = Project.load(trained_project)
    with pytest.raises(MonitorDataError, match="not found"):
        run_monitor(project.lifecycle, data="nope.parquet")
    with pytest.raises(MonitorDataError, match="--data PATH or --window"):
        run_monitor(project.lifecycle)


def test_window_without_captured_traffic(trained_project):
    with pytest.raises(NoCapturedTrafficError, match="no captured traffic"):
        run_monitor(Project.load(trained_project).lifecycle, window="24h")


def test_cli_json_and_fail_on_drift(trained_project, cli):
    ok = cli("monitor", "--project", trained_project, "--data", trained_project / "data/fresh.parquet", "--json")
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.stdout[ok.stdout.index("{"):])
    assert summary["drift_detected"] is False and summary["model"] == "churn"
    drift = cli("monitor", "churn", "--project", trained_project, "--data",
                trained_project / "data/drifted.parquet", "--fail-on-drift", "--method", "psi")
    assert drift.exit_code == 3, drift.output
    assert "drift: data, prediction" in drift.output
    assert "no drift" not in drift.output and "DRIFT DETECTED" not in drift.output
    missing = cli("monitor", "--project", trained_project, "--window", "24h")
    assert missing.exit_code == 1 and "no captured traffic" in missing.output
    unparsable = cli("monitor", "--project", trained_project, "--window", "1 year")
    assert unparsable.exit_code == 2 and "window '1 year' is not a duration" in unparsable.output


REPORT_BOUND = 1_000_000  # bytes: the report of the example's 9 columns, whatever the cells hold
PROFILE_BOUND = 200_000


@pytest.mark.parametrize("share", [0.002, 0.5])
def test_multi_megabyte_strings_keep_report_and_profile_bounded(trained_project, tmp_path, share):
    """Three distinct 4 MB strings in `plan` (on 0.2 % or half of the rows): each counts as
    one (new) category under a bounded name; the report, the profile and the terminal stay
    small; the verdict is what the same data with short names would get."""
    import io

    from rich.console import Console

    from conveyor.monitoring.terminal import print_result
    from conveyor.profiles.profile import MAX_NAME_CHARS, NAME_PREFIX

    frame = pd.read_parquet(trained_project / "data/fresh.parquet")
    giants = [letter * 4_000_000 for letter in "xyz"]
    rows = frame.sample(frac=share, random_state=1).index
    frame["plan"] = frame["plan"].astype(object)
    frame.loc[rows, "plan"] = [giants[i % 3] for i in range(len(rows))]
    frame.to_parquet(tmp_path / "giant.parquet")
    short = frame.assign(plan=frame["plan"].map(lambda v: f"long-{v[0]}" if len(v) > 1000 else v))
    short.to_parquet(tmp_path / "short.parquet")

    report = tmp_path / "report.html"
    result = run_monitor(Project.load(trained_project), data=tmp_path / "giant.parquet", report=report)
    same = run_monitor(Project.load(trained_project), data=tmp_path / "short.parquet")

    plan = next(f for f in result.drift.features if f.column == "plan")
    assert len(plan.new_categories) == 3
    assert all(len(name) <= NAME_PREFIX + 18 < MAX_NAME_CHARS for name in plan.new_categories)
    assert plan.drifted == next(f for f in same.drift.features if f.column == "plan").drifted
    assert result.drift.dataset_drift == same.drift.dataset_drift
    assert plan.drifted is (share > 0.1)
    assert report.stat().st_size < REPORT_BOUND
    client = MlflowClient(Project.load(trained_project).stack.tracking_uri)
    artifacts = Path(client.get_run(result.run_id).info.artifact_uri.removeprefix("file://"))
    assert (artifacts / "monitoring/profile.json").stat().st_size < PROFILE_BOUND
    assert (artifacts / "monitoring/report.html").stat().st_size < REPORT_BOUND
    assert (artifacts / "monitoring/summary.json").stat().st_size < PROFILE_BOUND
    terminal = io.StringIO()
    print_result(result, Console(file=terminal, width=120))
    assert len(terminal.getvalue()) < 50_000
