"""Triggers end to end: retrain with lineage tags, baseline recompute, alert webhook."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from conveyor.app import Project
from conveyor.core import tags
from conveyor.monitoring import triggers
from conveyor.monitoring.monitor import run_monitor
from conveyor.scaffold import generate_example_data


def test_drift_triggers_a_retrain_linked_by_tags(fresh_trained_project, edit_config):
    folder = fresh_trained_project
    edit_config(folder, "stages: [dev, staging, prod]", "stages: [dev, staging, prod]\nmonitor: {retrain: {data: both}}")
    batch = generate_example_data(folder, rows=2000, seed=8, drift=1.0, out=Path("data/batch.parquet"))
    project = Project.load(folder)
    result = project.monitor(data=batch, on_drift=["alert", "retrain"])
    assert result.drift_detected is True
    outcome = next(t for t in result.triggers if t.action == "retrain")
    assert outcome.ok and outcome.version == "2" and outcome.alias == "dev" and outcome.promoted == []

    client = MlflowClient(project.stack.tracking_uri, registry_uri=project.stack.registry_uri)
    version = client.get_model_version("churn", "2")
    assert version.tags[tags.TRIGGER] == "drift"
    assert version.tags[tags.TRIGGER_RUN_ID] == result.run_id
    assert version.tags[tags.TRIGGER_REASON].startswith("drift: data")
    assert client.get_run(version.run_id).data.tags[tags.TRIGGER_RUN_ID] == result.run_id
    assert client.get_run(result.run_id).data.tags[tags.RETRAIN_VERSION] == "2"
    aliases = {k: str(v) for k, v in client.get_registered_model("churn").aliases.items()}
    assert aliases == {"dev": "2"}  # prod stays manual
    trained = client.get_run(version.run_id)
    assert int(trained.data.tags[tags.DATA_ROWS]) == len(pd.read_parquet(folder / "data/train.parquet")) + 2000


def test_a_retrain_on_the_same_data_registers_nothing_and_says_so(fresh_trained_project):
    folder = fresh_trained_project
    batch = generate_example_data(folder, rows=2000, seed=8, drift=1.0, out=Path("data/batch.parquet"))
    project = Project.load(folder)
    result = project.monitor(data=batch, on_drift=["retrain"])  # monitor.retrain.data: training
    outcome = next(t for t in result.triggers if t.action == "retrain")
    assert not outcome.ok and outcome.version is None
    assert outcome.detail.startswith("not retrained, no version registered: the data's fingerprint")
    assert "equals v1's" in outcome.detail
    assert [v.version for v in Project.load(folder).models()] == ["1"]


def test_a_retrain_on_the_champions_data_registers_nothing(fresh_trained_project):
    """The monitored version is a newer one; the data is what the champion (prod) was trained on."""
    folder = fresh_trained_project
    train = folder / "data/train.parquet"
    original = train.read_bytes()
    project = Project.load(folder)
    project.promote("staging")
    project.promote("prod")  # v1: the champion
    frame = pd.read_parquet(train)
    frame.iloc[: len(frame) // 2].to_parquet(train)
    assert project.train().version == "2"  # v2 on other data, at dev
    train.write_bytes(original)  # the configured training data is v1's again
    batch = generate_example_data(folder, rows=2000, seed=8, drift=1.0, out=Path("data/batch.parquet"))
    result = Project.load(folder).monitor("churn", version="2", data=batch, on_drift=["retrain"])
    outcome = next(t for t in result.triggers if t.action == "retrain")
    assert not outcome.ok and outcome.version is None, outcome.detail
    assert "equals the champion's (v1, prod), so it would give the same model" in outcome.detail
    assert [v.version for v in Project.load(folder).models()] == ["2", "1"]


def test_a_retrain_on_the_window_trains_on_its_labelled_rows_only(fresh_trained_project, edit_config):
    folder = fresh_trained_project
    edit_config(folder, "stages: [dev, staging, prod]",
                "stages: [dev, staging, prod]\nmonitor: {retrain: {data: window, max_rows: 1500}}")
    batch = generate_example_data(folder, rows=2000, seed=8, drift=1.0, out=Path("data/batch.parquet"))
    frame = pd.read_parquet(batch)
    frame.loc[:99, "churned"] = None  # unlabelled rows are not trained on
    frame.to_parquet(batch)
    project = Project.load(folder)
    result = project.monitor(data=batch, on_drift=["retrain"])
    outcome = next(t for t in result.triggers if t.action == "retrain")
    assert outcome.version == "2", outcome.detail
    client = MlflowClient(project.stack.tracking_uri, registry_uri=project.stack.registry_uri)
    run = client.get_run(client.get_model_version("churn", "2").run_id)
    assert run.data.tags[tags.DATA_ROWS] == "1500"  # the newest 1500 of 1900 labelled rows


def test_a_retrain_with_max_age_trains_on_the_recent_rows_only(fresh_trained_project, edit_config):
    folder = fresh_trained_project
    edit_config(folder, "stages: [dev, staging, prod]",
                "stages: [dev, staging, prod]\nmonitor: {retrain: {data: training, max_age: 90d, "
                "time_column: signed_up}}")
    train = folder / "data/train.parquet"
    frame = pd.read_parquet(train)
    now = pd.Timestamp.now(tz="UTC")
    ages = pd.to_timedelta([(10 if i % 4 else 400) for i in range(len(frame))], unit="D")
    frame["signed_up"] = now - ages  # one row in four is older than 90 days
    frame.to_parquet(train)  # not a feature: the model does not read it
    batch = generate_example_data(folder, rows=2000, seed=8, drift=1.0, out=Path("data/batch.parquet"))
    result = Project.load(folder).monitor(data=batch, on_drift=["retrain"])
    outcome = next(t for t in result.triggers if t.action == "retrain")
    assert outcome.version == "2", outcome.detail
    client = MlflowClient(Project.load(folder).stack.tracking_uri)
    run = client.get_run(client.get_model_version("churn", "2").run_id)
    assert run.data.tags[tags.DATA_ROWS] == str(sum(1 for i in range(len(frame)) if i % 4))


def test_auto_promote_moves_the_new_version_through_every_stage(fresh_trained_project, edit_config):
    edit_config(fresh_trained_project, "stages: [dev, staging, prod]",
                "stages: [dev, staging, prod]\nmonitor: {on_drift: [retrain], auto_promote: true, "
                "retrain: {data: both}}")
    batch = generate_example_data(fresh_trained_project, rows=2000, seed=8, drift=1.0,
                                  out=Path("data/batch.parquet"))
    result = Project.load(fresh_trained_project).monitor(data=batch)
    outcome = result.triggers[0]
    assert outcome.ok and outcome.promoted == ["staging", "prod"], outcome.detail


def test_old_version_without_baseline(fresh_trained_project):
    project = Project.load(fresh_trained_project)
    client = MlflowClient(project.stack.tracking_uri)
    run_id = project.registry.version("churn", "1").run_id
    artifact_dir = Path(client.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    baseline_file = artifact_dir / "conveyor" / "baseline_profile.json"
    data = fresh_trained_project / "data/train.parquet"

    baseline_file.unlink()  # as if trained before monitoring existed
    result = run_monitor(project.lifecycle, data=data)
    assert any("recomputed from the logged training data" in m for m in result.messages)
    assert result.drift.dataset_drift is False and baseline_file.exists()

    baseline_file.unlink()
    pd.read_parquet(data).head(100).to_parquet(data)  # the training data has changed since
    report = fresh_trained_project / "r.html"
    result = run_monitor(project.lifecycle, data=data, report=report)
    assert result.drift is None
    assert any("has no baseline profile and it cannot be recomputed" in m and "SHA-256" in m
               for m in result.messages)
    assert result.performance is not None and report.exists()  # still says what it can


def test_alert_posts_the_summary_to_the_webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    outcome = triggers.alert({"model": "churn", "version": "1"}, "because",
                             f"http://127.0.0.1:{server.server_port}/hook")
    thread.join(10)
    server.server_close()
    assert outcome.ok and received == [{"model": "churn", "version": "1"}]
    failed = triggers.alert({"model": "churn"}, "because", "http://127.0.0.1:9/nothing", timeout=2)
    assert not failed.ok and "failed" in failed.detail
