"""The verdict: one status from named signals, and the same sentence everywhere it is shown."""

import html
import io
import json

import pandas as pd
import pytest
from mlflow import MlflowClient
from rich.console import Console

from conveyor.app import Project
from conveyor.core.errors import ConfigError, ExitCode
from conveyor.monitoring.monitor import NOTE_TAG, VERDICT_TAG, run_monitor
from conveyor.monitoring.terminal import print_result
from conveyor.monitoring.verdict import DRIFT, INSUFFICIENT, NO_DRIFT

from .conftest import sklearn_frame

WINE_GATE = 'metrics: {accuracy: ">= 0.85", f1: ">= 0.80"}'


def _collapsed_wine() -> pd.DataFrame:
    """Wine with two features shifted by three standard deviations: accuracy falls to about
    0.6 while roc_auc (one-vs-rest) stays near 1."""
    frame = sklearn_frame("wine")
    for column in ("alcohol", "color_intensity"):
        frame[column] = frame[column] + 3.0 * frame[column].std()
    return frame


@pytest.fixture
def wine(sklearn_project, tmp_path):
    folder = sklearn_project("wine", gate=WINE_GATE, extra="monitor: {on_drift: []}\n")
    _collapsed_wine().to_parquet(folder / "data" / "collapsed.parquet")
    sklearn_frame("wine").to_parquet(folder / "data" / "same.parquet")
    return folder


def test_a_collapse_of_quality_is_drift_decided_by_every_gate_metric(wine, tmp_path):
    report = tmp_path / "report.html"
    result = run_monitor(Project.load(wine).lifecycle, data=wine / "data/collapsed.parquet", report=report)
    verdict = result.verdict
    assert verdict.status == DRIFT and result.drift_detected is True
    assert "performance" in [s.name for s in verdict.deciding]
    assert "data" not in [s.name for s in verdict.deciding]  # 2 of 13 features: under the share
    perf = result.performance
    failed = {c.metric for c in perf.failed_checks if c.against == "gate"}
    assert failed == {"accuracy", "f1"}
    assert perf.metrics["roc_auc"] > 0.95  # the primary metric alone would have said "no drift"
    accuracy = perf.metrics["accuracy"]
    assert 0.55 < accuracy < 0.7
    assert f"accuracy {accuracy:.4g} below the gate's 0.85" in verdict.sentence
    assert f"; f1 {perf.metrics['f1']:.4g} below 0.8" in verdict.sentence
    assert verdict.sentence.startswith("drift: ")

    # the terminal leads with the sentence and never says otherwise
    out = io.StringIO()
    print_result(result, Console(file=out, width=400))
    lines = out.getvalue().splitlines()
    assert lines[0] == verdict.sentence
    assert "no drift" not in out.getvalue()
    # JSON, MLflow and the report lead with it too
    summary = result.to_dict()
    assert next(iter(summary)) == "verdict" and summary["verdict"]["sentence"] == verdict.sentence
    run = MlflowClient(Project.load(wine).stack.tracking_uri).get_run(result.run_id)
    assert run.data.tags[VERDICT_TAG] == DRIFT and run.data.tags[NOTE_TAG] == verdict.sentence
    page = report.read_text()
    assert page.index(html.escape(verdict.sentence, quote=True)) < page.index("Data drift")


def test_same_population_is_no_drift_and_says_what_was_checked(wine):
    result = run_monitor(Project.load(wine).lifecycle, data=wine / "data/same.parquet")
    assert result.verdict.status == NO_DRIFT, result.verdict.sentence
    assert result.verdict.sentence.startswith("no drift: data, prediction, performance — ")
    assert "0 of 13 features drifted" in result.verdict.sentence


def test_fail_on_chooses_the_signals_that_count(sklearn_project, tmp_path):
    folder = sklearn_project("wine", gate=WINE_GATE, extra="monitor: {fail_on: [data]}\n")
    _collapsed_wine().to_parquet(tmp_path / "collapsed.parquet")
    result = run_monitor(Project.load(folder).lifecycle, data=tmp_path / "collapsed.parquet")
    assert result.verdict.status == NO_DRIFT
    assert "(not counted: performance — accuracy" in result.verdict.sentence
    assert result.retrain is None and result.triggers == []


def test_cli_exit_codes_follow_the_verdict(wine, cli, tmp_path):
    drift = cli("monitor", "--project", wine, "--data", wine / "data/collapsed.parquet", "--fail-on-drift")
    assert drift.exit_code == ExitCode.DRIFT, drift.output
    assert "drift: " in drift.output and "no drift" not in drift.output
    empty = tmp_path / "empty.parquet"
    sklearn_frame("wine").head(0).to_parquet(empty)
    nothing = cli("monitor", "--project", wine, "--data", empty, "--fail-on-drift", "--json")
    assert nothing.exit_code == ExitCode.INSUFFICIENT_DATA == 7, nothing.output
    summary = json.loads(nothing.stdout[nothing.stdout.index("{"):])
    assert summary["verdict"]["status"] == INSUFFICIENT
    assert summary["verdict"]["sentence"] == "insufficient data — the window is empty (0 rows)"
    few = tmp_path / "few.csv"
    sklearn_frame("wine").head(12).to_csv(few, index=False)
    small = cli("monitor", "--project", wine, "--data", few, "--fail-on-drift")
    assert small.exit_code == ExitCode.INSUFFICIENT_DATA, small.output
    assert "insufficient data — only 12 rows; at least 30 are needed" in small.output
    same = cli("monitor", "--project", wine, "--data", wine / "data/same.parquet", "--fail-on-drift")
    assert same.exit_code == 0, same.output


def test_job_exit_code_follows_the_verdict(wine, tmp_path):
    from conveyor.jobs.monitoring import MonitorSpec

    empty = tmp_path / "empty.parquet"
    sklearn_frame("wine").head(0).to_parquet(empty)
    result = Project.load(wine).run_job(MonitorSpec(data=str(empty), fail_on_drift=True))
    assert result.exit_code == ExitCode.INSUFFICIENT_DATA
    assert result.result["verdict"]["status"] == INSUFFICIENT


def test_an_unknown_signal_is_a_config_error_with_its_line(sklearn_project):
    folder = sklearn_project("wine", extra="monitor:\n  fail_on: [data, accuracy]\n", train=False)
    with pytest.raises(ConfigError) as error:
        Project.load(folder)
    text = str(error.value)
    assert "conveyor.yaml:10 [monitor.fail_on.1]" in text and "'data', 'prediction'" in text
